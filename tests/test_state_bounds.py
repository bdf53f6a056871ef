"""Stored criteria states stay within the bounds docs/criteria.rst documents.

Before the bounds, a windowed ``sum`` kept every event of its window plus the late-event
allowance even after its non-repeatable goal was awarded (37,000 items for one heavy
user, and throughput fell with them).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from flask_gamify import Gamify
from flask_gamify.criteria.packing import unpack_integers
from flask_gamify.events import make_event
from flask_gamify.models import Goal, Progress

WINDOW = timedelta(days=30)
ALLOWANCE = timedelta(days=7)  # GAMIFY_LATE_EVENT_ALLOWANCE's default
EVENTS = 20_000
SPAN = timedelta(days=20)  # every event stays within window + allowance: nothing expires

#: Documented bound of a settled state: ``{"occ": n}``.
SETTLED_BYTES = 32
#: Documented bytes per kept timestamp (``1750000000000,``) and per sum entry of an
#: integer value of up to 16 digits (``[1750000000000,"-9007199254740991"],``).
TIMESTAMP_BYTES = 14
ENTRY_BYTES = 37
#: Room for the keys around the lists (``{"ts":[],"occ":0,"final":...}``).
OVERHEAD_BYTES = 64


def stored_states(app: Flask) -> dict[str, Any]:
    with app.extensions["gamify"].transaction() as session:
        rows = session.execute(
            select(Goal.key, Progress.state).join(Goal, Goal.id == Progress.goal_id)
        )
        return {key: state for key, state in rows}


def size(state: Any) -> int:
    return len(json.dumps(state, separators=(",", ":")))


def count_bound(target: int, max_awards: int) -> int:
    """docs/criteria.rst: fewer than ``max_awards`` disjoint groups of ``target`` kept,
    and fewer than ``target`` other timestamps per window in window + allowance."""
    windows = math.ceil((WINDOW + ALLOWANCE) / WINDOW) + 1  # + 1: the accepted clock skew
    return max_awards * target + (target - 1) * windows


def test_a_heavy_entity_keeps_states_within_the_documented_bounds(
    app: Flask, gamify: Gamify
) -> None:
    window = {"window": "30d"}
    goals = {
        # completed early, non-repeatable: settle to {"occ": 1}
        "spender": {"type": "sum", "event": "buy", "field": "amount", "target": 1000, **window},
        "regular": {"type": "count", "event": "buy", "target": 50, **window},
        # in progress: bounded by the target (count), by the events in the span (sum)
        "sparse": {
            "type": "count",
            "event": "buy",
            "target": 40,
            "where": {"amount": {"gte": 900}},
            **window,
        },
        "whale": {"type": "sum", "event": "buy", "field": "amount", "target": 10**15, **window},
        "streaky": {"type": "streak", "event": "buy", "target": 3},
        "funnel": {"type": "sequence", "steps": [{"event": "buy"}, {"event": "sell"}], **window},
    }
    for key, criteria in goals.items():
        gamify.define_goal(key, criteria=criteria)
    gamify.define_goal("thrice", criteria=goals["regular"], repeatable=True, max_awards=3)

    processor = app.extensions["gamify"].processor
    start = datetime.now(UTC) - SPAN
    step = SPAN / EVENTS
    events = [
        make_event(
            "buy",
            "heavy",
            # one event in 1,000 has an amount of 900 or more: "sparse" never completes
            attributes={"amount": 900 + i % 7 if i % 1000 == 0 else -3 + i % 7},
            event_id=f"heavy-{i}",
            occurred_at=start + i * step,
        )
        for i in range(EVENTS)
    ]
    for first in range(0, EVENTS, 500):
        processor.process(events[first : first + 500])

    states = stored_states(app)
    for key in ("spender", "regular", "thrice", "streaky"):
        assert gamify.has_completed("heavy", key), key
        assert size(states[key]) <= SETTLED_BYTES, (key, states[key])
    assert len(gamify.awards("heavy")) == 4 + 2  # thrice: three awards

    sparse = [e for e in events if e.attributes["amount"] >= 900]
    assert not gamify.has_completed("heavy", "sparse")
    assert len(unpack_integers(states["sparse"]["ts"])) == len(sparse) <= count_bound(40, 1)
    assert size(states["sparse"]) <= count_bound(40, 1) * TIMESTAMP_BYTES + OVERHEAD_BYTES

    # A windowed sum in progress keeps one entry per event within window + allowance.
    assert not gamify.has_completed("heavy", "whale")
    assert size(states["whale"]) <= EVENTS * ENTRY_BYTES + OVERHEAD_BYTES
    assert gamify.progress("heavy", "whale").current == sum(e.attributes["amount"] for e in events)

    # The funnel's second step never happens: one timestamp per distinct millisecond.
    assert size(states["funnel"]) <= OVERHEAD_BYTES + TIMESTAMP_BYTES * EVENTS

    # Later events leave the settled states settled and small.
    processor.process(
        [
            make_event("buy", "heavy", attributes={"amount": 5}, event_id=f"late-{i}")
            for i in range(200)
        ]
    )
    states = stored_states(app)
    for key in ("spender", "regular", "thrice", "streaky"):
        assert size(states[key]) <= SETTLED_BYTES, (key, states[key])
        view = gamify.progress("heavy", key)
        assert view.completed and view.percent == 100 and view.current == view.target


def test_a_completed_any_goal_settles_its_complete_children_only(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal(
        "either",
        criteria={
            "type": "any",
            "of": [
                {"type": "count", "event": "buy", "target": 3, "window": "1d"},
                {"type": "sum", "event": "buy", "field": "amount", "target": 10**9, "window": "1d"},
            ],
        },
    )
    for i in range(5):
        gamify.track("buy", "u1", attributes={"amount": 2}, event_id=f"b{i}")
    state = stored_states(app)["either"]
    assert state["of"][0] == {"occ": 1}
    # still in progress, still reported: the amounts, one per millisecond
    assert sum(state["of"][1]["v"]) == 10 and 1 <= len(state["of"][1]["t"]) <= 5
    view = gamify.progress("u1", "either")
    assert view.completed
    assert [child.completed for child in view.children] == [True, False]
    assert view.children[1].current == 10
