"""Stored criteria states: bounded whatever the history, and states of earlier versions load.

The results themselves are checked against the oracle in ``test_criteria_properties.py``;
here: what a heavy entity's state keeps, and that a state written before the windowed
sum kept one amount per millisecond still evaluates and folds exactly.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from flask_gamify import Gamify
from flask_gamify.criteria import (
    EvaluationContext,
    EventData,
    compile_criteria,
    occurrence_times,
    timeline,
)
from flask_gamify.criteria.base import to_milliseconds
from flask_gamify.criteria.packing import unpack_integers
from flask_gamify.events import make_event
from flask_gamify.models import Goal, Progress

START = datetime(2026, 3, 1, tzinfo=UTC)
ALLOWANCE = timedelta(days=7)


def events(count: int, span: timedelta, kind: str = "buy", first: int = 0) -> list[EventData]:
    step = span / count
    return [
        EventData(
            id=f"{kind}-{index}",
            type=kind,
            occurred_at=START + index * step,
            attributes={"amount": 1 + index % 7, "kind": "abc"[index % 3], "n": index},
        )
        for index in range(first, first + count)
    ]


def fold(criteria: dict, stream: list[EventData], cap: int | None, batch: int = 500) -> object:
    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(now=START, late_event_allowance=ALLOWANCE)
    state = None
    for first in range(0, len(stream), batch):
        state = json.loads(json.dumps(crit.apply(state, stream[first : first + batch], context)))
    return state


def size(state: object) -> int:
    return len(json.dumps(state, separators=(",", ":")))


@pytest.mark.parametrize(
    "criteria",
    [
        {"type": "sum", "event": "buy", "field": "amount", "target": 100, "window": "1d"},
        {"type": "sequence", "steps": [{"event": "buy"}, {"event": "buy"}], "window": "1h"},
        {"type": "sequence", "steps": [{"event": "buy"}, {"event": "buy"}]},
    ],
)
def test_a_repeatable_goal_with_one_occurrence_at_most_stops_growing(criteria: dict) -> None:
    """A windowed sum and a sequence have one occurrence at most: once it is final, the
    state is the occurrence and the watermark, whatever follows."""
    state = fold(criteria, events(20_000, timedelta(days=60)), cap=None)
    assert size(state) < 100, state


def test_a_windowed_count_keeps_the_allowance_not_the_window() -> None:
    """Greedy groups whose last event is older than the watermark minus the allowance
    are final: the state keeps fewer than ``target`` timestamps before that, and the
    events of the allowance (not of the window plus the allowance)."""
    target = 50
    criteria = {"type": "count", "event": "buy", "target": target, "window": "30d"}
    stream = events(30_000, timedelta(days=60))
    state = fold(criteria, stream, cap=None)
    assert isinstance(state, dict)
    limit = state["wm"] - ALLOWANCE // timedelta(milliseconds=1)
    in_allowance = sum(1 for e in stream if to_milliseconds(e.occurred_at) >= limit)
    kept = unpack_integers(state["ts"])
    assert len(kept) <= target - 1 + in_allowance
    assert len(kept) < len(stream) / 6


def test_a_distinct_state_keeps_each_value_once_and_up_to_its_target() -> None:
    criteria = {"type": "distinct", "event": "buy", "field": "kind", "target": 2}
    state = fold(criteria, events(3_000, timedelta(days=3)), cap=None)
    assert state == {"values": ['"a"', '"b"', '"c"']}
    criteria = {"type": "distinct", "event": "buy", "field": "amount", "target": 2}
    assert fold(criteria, events(3_000, timedelta(days=3)), cap=2) == {
        "values": ["1", "2", "3", "4"]
    }


WINDOWED_SUM = {"type": "sum", "event": "buy", "field": "amount", "target": 10, "window": "1h"}


def old_sum_state(amounts: list[tuple[int, str]], occurrences: int = 0) -> dict:
    """A windowed sum's state as earlier versions stored it: every amount, as text."""
    watermark = max(t for t, _ in amounts)
    return {
        "items": [[t, v] for t, v in amounts],
        "occ": occurrences,
        "final": watermark - ALLOWANCE // timedelta(milliseconds=1) - 1,
        "wm": watermark,
    }


def test_an_old_windowed_sum_state_evaluates_and_folds_as_before() -> None:
    crit = compile_criteria(WINDOWED_SUM, max_occurrences=None)
    t0 = to_milliseconds(START)
    now = START + timedelta(seconds=2)
    context = EvaluationContext(now=now, late_event_allowance=ALLOWANCE)
    old = old_sum_state([(t0, "3"), (t0 + 1000, "1/2"), (t0 + 1000, "2"), (t0 + 2000, "2")])

    evaluation = crit.evaluate(old, context)
    assert (evaluation.current, evaluation.completed) == (7.5, False)

    more = [EventData("e", "buy", START + timedelta(seconds=3), {"amount": 2.5})]
    state = crit.apply(old, more, context)
    assert "items" not in state  # written in the current form
    evaluation = crit.evaluate(state, dataclass_now(context, START + timedelta(seconds=3)))
    assert (evaluation.current, evaluation.completed) == (10, True)
    # the same as from scratch
    fresh = crit.apply(
        None,
        [
            EventData(f"f{i}", "buy", START + timedelta(seconds=s), {"amount": a})
            for i, (s, a) in enumerate([(0, 3), (1, 0.5), (1, 2), (2, 2), (3, 2.5)])
        ],
        context,
    )
    assert crit.evaluate(fresh, context) == crit.evaluate(state, context)
    # an old state whose amounts had all expired
    empty = {**old_sum_state([(t0, "3")]), "items": []}
    assert crit.evaluate(empty, context).current == 0
    assert crit.evaluate(crit.apply(empty, more, context), context).current == 2.5
    # a complete old state stays complete
    done = old_sum_state([(t0, "12")], occurrences=1)
    assert crit.evaluate(done, context).completed
    assert crit.evaluate(crit.apply(done, more, context), context).completed


def dataclass_now(context: EvaluationContext, now: datetime) -> EvaluationContext:
    import dataclasses

    return dataclasses.replace(context, now=now)


def test_a_stored_old_state_keeps_working_through_processing(app: Flask, gamify: Gamify) -> None:
    """A progress row written by an earlier version (the windowed sum's ``items``) is read,
    folded and rewritten in the current form by the processor."""
    gamify.define_goal("spender", criteria=WINDOWED_SUM)
    processor = gamify.state.processor
    moment = datetime.now(UTC) - timedelta(minutes=10)
    first = make_event("buy", "u1", attributes={"amount": 4}, occurred_at=moment)
    processor.process([first])
    t = to_milliseconds(moment)
    with gamify.state.transaction() as session:
        goal_id = session.query(Goal.id).filter(Goal.key == "spender").scalar()
        session.execute(
            update(Progress)
            .where(Progress.goal_id == goal_id, Progress.entity_id == "u1")
            # as an upgraded row holds it: the old state, no stored view (revision 0009)
            .values(state=old_sum_state([(t, "4"), (t + 1, "3/2")]), stored_view=None)
        )
    assert gamify.progress("u1", "spender").current == 5.5
    later = moment + timedelta(minutes=1)
    processor.process([make_event("buy", "u1", attributes={"amount": 5}, occurred_at=later)])
    assert gamify.progress("u1", "spender").completed
    with gamify.state.transaction() as session:
        stored = session.query(Progress.state).filter(Progress.goal_id == goal_id).scalar()
    assert "items" not in stored


@pytest.mark.parametrize("seed", range(10))
def test_bisected_occurrence_times_are_those_of_the_fold(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Occurrence times of a batch, bisected, equal those of the fold one event at a time."""
    rng = random.Random(seed)
    criteria = rng.choice(
        [
            {"type": "count", "event": "buy", "target": 3, "window": "8h"},
            {"type": "count", "event": "buy", "target": 4},
            {"type": "distinct", "event": "buy", "field": "n", "target": 5},
            {"type": "streak", "event": "buy", "target": 2},
            {
                "type": "all",
                "of": [
                    {"type": "count", "event": "buy", "target": 2},
                    {"type": "all_of", "event": "buy", "field": "kind", "values": ["a", "b"]},
                ],
            },
        ]
    )
    crit = compile_criteria(criteria, max_occurrences=None)
    context = EvaluationContext(now=START, late_event_allowance=ALLOWANCE)
    stream = events(200, timedelta(days=20))
    rng.shuffle(stream)
    state = crit.apply(None, stream[:10], context)
    batch = stream[10:]
    shown = crit.evaluate(crit.apply(state, batch, context), context).occurrences
    before = crit.evaluate(state, context).occurrences
    wanted = shown - before
    assert wanted > 0
    chosen = occurrence_times(crit, state, batch, context, after=before, count=wanted)
    ordered = sorted(batch, key=lambda event: (event.occurred_at, event.id))
    bisected: list[datetime | None] = []
    timeline._bisect(crit, state, ordered, context, before, shown, bisected, wanted)
    monkeypatch.setattr(timeline, "_BISECT_FROM", 10**9)
    folded = occurrence_times(crit, state, batch, context, after=before, count=wanted)
    assert bisected == folded == chosen
    assert len(bisected) == wanted
