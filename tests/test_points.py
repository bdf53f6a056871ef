"""The points ledger, adjustments, revocations through the ledger, and levels."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.exceptions import Conflict, NotFound

from flask_gamify import (
    ConfigurationError,
    Gamify,
    IdempotencyConflict,
    InvalidInputError,
    LedgerEntryView,
    LevelsNotDefined,
)
from flask_gamify.ledger import MAX_AMOUNT
from flask_gamify.models import PointsBalance, PointsEntry
from flask_gamify.signals import level_changed

LOGIN = {"type": "count", "event": "login", "target": 1}
COMMENTS = {"type": "count", "event": "comment", "target": 2}
LEVELS = [
    {"name": "Newcomer", "points": 0},
    {"name": "Regular", "points": 100},
    {"name": "Veteran", "points": 500},
]


@pytest.fixture
def level_changes(app: Flask) -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        assert sender is app
        seen.append(kwargs)

    level_changed.connect(receive)
    yield seen
    level_changed.disconnect(receive)


def ledger_sum(gamify: Gamify, entity: str, category: str = "points") -> int:
    with gamify.state.transaction() as session:
        return int(
            session.execute(
                select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
                    PointsEntry.entity_id == entity, PointsEntry.category == category
                )
            ).scalar_one()
        )


def test_awards_write_the_ledger_at_event_time(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first-login", name="First login", criteria=LOGIN, points=10)
    gamify.define_goal("badge-only", criteria=LOGIN)  # 0 points: no entry
    back_then = datetime(2026, 1, 5, 12, tzinfo=UTC)

    gamify.track("login", "ann", occurred_at=back_then)

    assert gamify.points("ann") == 10
    [entry] = gamify.points_ledger("ann")
    assert isinstance(entry, LedgerEntryView)
    assert (entry.kind, entry.amount, entry.goal, entry.occurrence, entry.category) == (
        "award",
        10,
        "first-login",
        1,
        "points",
    )
    assert entry.reason == "First login"
    assert entry.occurred_at == back_then  # the award's event time, for period boards
    assert entry.recorded_at > back_then
    assert entry.to_dict()["occurred_at"] == back_then.isoformat()
    # A replayed event changes nothing: the ledger is written with the award, once.
    gamify.track("login", "ann", occurred_at=back_then)
    assert gamify.points("ann") == 10 and len(gamify.points_ledger("ann")) == 1


def test_adjustments_are_idempotent_by_key(app: Flask, gamify: Gamify) -> None:
    entry = gamify.adjust_points(
        "ann", 50, reason="conference talk", idempotency_key="talk-42", changed_by="staff"
    )
    again = gamify.adjust_points("ann", 50, reason="retried", idempotency_key="talk-42")

    assert again == entry
    assert (entry.kind, entry.amount, entry.changed_by, entry.reason) == (
        "adjustment",
        50,
        "staff",
        "conference talk",
    )
    assert gamify.points("ann") == 50
    # The key is per entity: bob may use the same one.
    gamify.adjust_points("bob", 5, reason="thanks", idempotency_key="talk-42")
    assert gamify.points("bob") == 5
    with pytest.raises(IdempotencyConflict, match=r"already used .* by 50, not 'points' by 60"):
        gamify.adjust_points("ann", 60, reason="talk", idempotency_key="talk-42")
    assert isinstance(IdempotencyConflict("x"), Conflict)
    assert gamify.points("ann") == 50
    # Without a key, every call is a change of its own.
    gamify.adjust_points("ann", -20, reason="spam")
    gamify.adjust_points("ann", -20, reason="spam")
    assert gamify.points("ann") == 10 == ledger_sum(gamify, "ann")


def test_categories_keep_separate_balances(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first-login", criteria=LOGIN, points=10)
    gamify.track("login", "ann")
    gamify.adjust_points("ann", 7, reason="helpful answer", category="karma")

    assert gamify.points("ann") == 10
    assert gamify.points("ann", category="karma") == 7
    assert gamify.points("ann", category="xp") == 0
    assert [entry.category for entry in gamify.points_ledger("ann")] == ["karma", "points"]
    assert [entry.amount for entry in gamify.points_ledger("ann", category="karma")] == [7]


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"amount": 0}, "amount", "Must not be 0"),
        ({"amount": MAX_AMOUNT + 1}, "amount", "Must be from"),
        ({"amount": 1.5}, "amount", "whole number"),
        ({"amount": True}, "amount", "whole number"),
        ({"reason": "  "}, "reason", "cannot be empty"),
        ({"reason": "x" * 2001}, "reason", "at most 2000"),
        ({"reason": "a\x00b"}, "reason", "NUL"),
        ({"entity": ""}, "entity", "non-empty string"),
        ({"entity": "x" * 256}, "entity", "at most 255"),
        ({"category": ""}, "category", "non-empty string"),
        ({"idempotency_key": "k" * 201}, "idempotency_key", "at most 200"),
        ({"idempotency_key": 5}, "idempotency_key", "non-empty string"),
        ({"changed_by": "\ud800"}, "changed_by", "surrogates"),
        ({"entity_type": " "}, "entity_type", "non-empty string"),
    ],
)
def test_bad_adjustments_name_the_field(
    app: Flask, gamify: Gamify, arguments: dict[str, Any], field: str, message: str
) -> None:
    call: dict[str, Any] = {"entity": "ann", "amount": 5, "reason": "because", **arguments}
    entity, amount = call.pop("entity"), call.pop("amount")
    with pytest.raises(InvalidInputError) as raised:
        gamify.adjust_points(entity, amount, **call)
    assert field in raised.value.errors
    assert message in " ".join(raised.value.errors[field])
    assert gamify.points_ledger("ann") == []


def test_ledger_pages_newest_first(app: Flask, gamify: Gamify) -> None:
    for amount in range(1, 8):
        gamify.adjust_points("ann", amount, reason=f"step {amount}")

    first = gamify.points_ledger("ann", limit=3)
    second = gamify.points_ledger("ann", limit=3, before=first[-1].id)
    rest = gamify.points_ledger("ann", limit=3, before=second[-1].id)

    assert [e.amount for e in first + second + rest] == [7, 6, 5, 4, 3, 2, 1]
    for bad in ({"limit": 0}, {"limit": 1001}, {"before": 0}, {"before": "x"}):
        with pytest.raises(InvalidInputError) as raised:
            gamify.points_ledger("ann", **bad)
        assert set(raised.value.errors) == set(bad)


def test_revocation_takes_the_points_back_through_the_ledger(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, points=30, repeatable=True)
    when = datetime(2026, 2, 1, 9, tzinfo=UTC)
    for minute in range(4):
        gamify.track("comment", "ann", occurred_at=when + timedelta(minutes=minute))
    assert gamify.points("ann") == 60

    removed = gamify.revoke_award("ann", "talker", 1, reason="spam", changed_by="mod")

    assert gamify.points("ann") == 30 == ledger_sum(gamify, "ann")
    revocation = gamify.points_ledger("ann")[0]
    assert (revocation.kind, revocation.amount, revocation.goal, revocation.occurrence) == (
        "revocation",
        -30,
        "talker",
        1,
    )
    assert (revocation.reason, revocation.changed_by) == ("spam", "mod")
    # At the award's event time: the period it counted for loses it.
    assert revocation.occurred_at == removed.achieved_at
    # Given back by hand: the points come back.
    gamify.award("ann", "talker", reason="appeal upheld")
    assert gamify.points("ann") == 60 == ledger_sum(gamify, "ann")


def test_backfill_revocation_goes_through_the_ledger(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, points=30)
    gamify.track("comment", "ann")
    gamify.track("comment", "ann")
    assert gamify.points("ann") == 30
    changed = {**gamify.goal("talker").definition(), "criteria": {**COMMENTS, "target": 5}}
    gamify.define_goals([changed])

    gamify.backfill("talker", revoke=True)

    assert gamify.awards("ann") == []
    assert gamify.points("ann") == 0 == ledger_sum(gamify, "ann")
    assert [entry.kind for entry in gamify.points_ledger("ann")] == ["revocation", "award"]


def test_levels_from_config_and_define_levels(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(LevelsNotDefined, match=r"define_levels\(\[\.\.\.\], entity_type='user'"):
        gamify.level("ann")
    assert isinstance(LevelsNotDefined("x"), NotFound)
    gamify.define_levels(LEVELS)
    gamify.define_levels([(0, "Small"), (10, "Big")], entity_type="team")
    gamify.adjust_points("ann", 150, reason="welcome")

    level = gamify.level("ann")

    assert (level.number, level.name, level.points, level.floor) == (2, "Regular", 150, 100)
    assert (level.next_name, level.next_at, level.points_to_next) == ("Veteran", 500, 350)
    assert level.percent == 12  # 50 of the 400 points from Regular to Veteran
    assert level.to_dict()["next_name"] == "Veteran"
    assert level.to_dict()["next_at"] == 500 and "next_points" not in level.to_dict()
    gamify.adjust_points("ann", 1000, reason="legend")
    top = gamify.level("ann")
    assert (top.name, top.next_name, top.points_to_next, top.percent) == (
        "Veteran",
        None,
        None,
        100,
    )
    gamify.adjust_points("ann", -2000, reason="fraud")
    below = gamify.level("ann")
    assert (below.number, below.name, below.next_name, below.points_to_next) == (
        0,
        None,
        "Newcomer",
        850,
    )
    assert gamify.level("t1", entity_type="team").name == "Small"


def test_level_changes_signal_and_notify_up_and_down(
    app: Flask, gamify: Gamify, level_changes: list[dict[str, Any]]
) -> None:
    gamify.define_levels(LEVELS)
    gamify.define_goal("helper", criteria=LOGIN, points=120)
    gamify.adjust_points("ann", 50, reason="welcome")
    assert level_changes == []  # from 0 to 50: still a Newcomer
    gamify.track("login", "ann")

    [up] = level_changes
    assert (up["entity"], up["entity_type"], up["direction"]) == ("ann", "user", "up")
    assert (up["old"].name, up["new"].name, up["new"].points) == ("Newcomer", "Regular", 170)
    assert up["manual"] is False
    gamify.revoke_award("ann", "helper", reason="mistake")
    down = level_changes[-1]
    assert (down["direction"], down["old"].name, down["new"].name) == (
        "down",
        "Regular",
        "Newcomer",
    )
    assert down["manual"] is True
    kinds = [(n.kind, n.data.get("direction")) for n in gamify.notifications("ann")]
    assert kinds.count(("level-changed", "up")) == 1
    assert kinds.count(("level-changed", "down")) == 1
    [notice] = [n for n in gamify.notifications("ann") if n.data.get("direction") == "up"]
    assert notice.data == {
        "direction": "up",
        "old": "Newcomer",
        "old_number": 1,
        "new": "Regular",
        "number": 2,
        "points": 170,
    }


def test_level_notifications_can_be_switched_off(database_url: str) -> None:
    from conftest import db

    app = Flask("levels_quiet")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        GAMIFY_LEVELS={"user": [(0, "Newcomer"), (10, "Regular")]},
        GAMIFY_NOTIFY_LEVELS=False,
    )
    db.init_app(app)
    gamify = Gamify(app, db=db)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        seen: list[str] = []
        try:
            with level_changed.connected_to(lambda sender, **kw: seen.append(kw["direction"])):
                gamify.adjust_points("ann", 10, reason="welcome")
            assert gamify.level("ann").name == "Regular"
            assert gamify.notifications("ann") == []
            assert seen == ["up"]  # the signal is sent all the same
        finally:
            gamify.drop_all()
            for engine in db.engines.values():
                engine.dispose()


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ([], "non-empty list"),
        ("Bronze", "non-empty list"),
        ([{"name": "A", "points": 10}, {"name": "B", "points": 10}], "Thresholds must go up"),
        ([{"name": "A", "points": 0}, {"name": "a", "points": 10}], "already used by level 1"),
        ([{"name": "", "points": 0}], "non-empty string naming the level"),
        ([{"name": "A", "points": "10"}], "whole number"),
        ([{"name": "A", "points": 0, "colour": "red"}], "Unknown field(s) colour"),
        ([42], "a pair (points, name)"),
    ],
)
def test_bad_levels_are_refused(app: Flask, gamify: Gamify, levels: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        gamify.define_levels(levels)
    with pytest.raises(LevelsNotDefined):
        gamify.level("ann")


def test_bad_levels_setting_fails_init_app(database_url: str) -> None:
    from conftest import db

    app = Flask("levels_bad")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, GAMIFY_LEVELS=[(10, "A"), (5, "B")])
    db.init_app(app)
    with pytest.raises(ConfigurationError, match=r"GAMIFY_LEVELS is invalid: .*must go up"):
        Gamify(app, db=db)


def test_balances_are_one_row_per_entity_and_category(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first-login", criteria=LOGIN, points=10)
    gamify.track("login", "ann")
    gamify.adjust_points("ann", 5, reason="bonus")
    gamify.adjust_points("ann", 5, reason="bonus", category="xp")

    with gamify.state.transaction() as session:
        rows = session.execute(
            select(PointsBalance.category, PointsBalance.points, PointsBalance.version)
            .where(PointsBalance.entity_id == "ann")
            .order_by(PointsBalance.category)
        ).all()
    assert [tuple(row) for row in rows] == [("points", 15, 2), ("xp", 5, 1)]
