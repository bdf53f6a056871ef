"""Property: after any sequence of awards (earned from tracked events or given by hand),
adjustments and revocations, every entity's ledger sum, balance, ``points()`` and level
agree, and equal what it holds (its awards' points plus its adjustments)."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from flask_gamify import AlreadyAwarded, AwardNotFound, Gamify
from flask_gamify.levels import level_view
from flask_gamify.models import PointsBalance, PointsEntry

LEVELS = [(0, "Newcomer"), (15, "Regular"), (40, "Veteran")]
ENTITIES = ("ann", "bob", "cy")
GOALS = {"first-login": 10, "talker": 7}

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("track"), st.sampled_from(ENTITIES), st.sampled_from(["login", "comment"])
        ),
        st.tuples(
            st.just("adjust"),
            st.sampled_from(ENTITIES),
            st.integers(-30, 30).filter(bool),
            st.sampled_from([None, "k1", "k2"]),
        ),
        st.tuples(st.just("revoke"), st.sampled_from(ENTITIES), st.sampled_from(sorted(GOALS))),
        st.tuples(st.just("award"), st.sampled_from(ENTITIES), st.sampled_from(sorted(GOALS))),
    ),
    max_size=25,
)
_runs = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_ledger_balance_points_and_level_agree(
    app: Flask, gamify: Gamify, steps: list[tuple[Any, ...]]
) -> None:
    if not gamify.goals():
        gamify.define_goal(
            "first-login", criteria={"type": "count", "event": "login", "target": 1}, points=10
        )
        gamify.define_goal(
            "talker",
            criteria={"type": "count", "event": "comment", "target": 2},
            points=7,
            repeatable=True,
        )
        gamify.define_levels(LEVELS)
    run = next(_runs)  # fresh entities for every example: no cleanup between them
    adjusted: dict[str, int] = {}
    amounts_by_key: dict[tuple[str, str], int] = {}
    for step in steps:
        entity = f"{step[1]}-{run}"
        if step[0] == "track":
            gamify.track(step[2], entity)
        elif step[0] == "adjust":
            amount, key = step[2], step[3]
            if key is not None and (entity, key) in amounts_by_key:
                if amounts_by_key[(entity, key)] != amount:
                    continue  # a conflict: tested elsewhere
                gamify.adjust_points(entity, amount, reason="again", idempotency_key=key)
                continue  # the first entry stands; nothing changes
            gamify.adjust_points(entity, amount, reason="by hand", idempotency_key=key)
            adjusted[entity] = adjusted.get(entity, 0) + amount
            if key is not None:
                amounts_by_key[(entity, key)] = amount
        elif step[0] == "revoke":
            with contextlib.suppress(AwardNotFound):
                gamify.revoke_award(entity, step[2], reason="test")
        else:
            with contextlib.suppress(AlreadyAwarded):
                gamify.award(entity, step[2], reason="test")

    levels = gamify.state.ledger.levels["user"]
    for name in ENTITIES:
        entity = f"{name}-{run}"
        held = sum(award.points for award in gamify.awards(entity))
        with gamify.state.transaction() as session:
            ledger_sum = session.execute(
                select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
                    PointsEntry.entity_id == entity
                )
            ).scalar_one()
            balance = session.execute(
                select(func.coalesce(func.sum(PointsBalance.points), 0)).where(
                    PointsBalance.entity_id == entity
                )
            ).scalar_one()
        points = gamify.points(entity)
        assert ledger_sum == balance == points == held + adjusted.get(entity, 0)
        assert gamify.level(entity) == level_view(levels, points)
        assert sum(entry.amount for entry in gamify.points_ledger(entity, limit=1000)) == points
