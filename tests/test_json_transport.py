"""Rows a batch sends to PostgreSQL as one JSON document: orjson and json agree.

:func:`flask_gamify.sql.json_rows` encodes with orjson when it is installed and falls
back to :mod:`json` for what orjson refuses; the document must mean the same either way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from flask_gamify import Gamify, sql
from flask_gamify.models import Goal, Progress
from flask_gamify.progress_rows import insert_progress, parsed_view, select_locked, write_progress
from flask_gamify.sql import json_rows, stdlib_json_rows

orjson = pytest.importorskip("orjson")

MOMENT = datetime(2026, 3, 29, 0, 30, 0, 123456)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses them, json writes them
    | st.floats(allow_nan=False, allow_infinity=False)  # events refuse the others
    | st.text()
    | st.datetimes(timezones=st.none() | st.timezones())
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8), documents, max_size=6), max_size=4))
def test_orjson_writes_what_json_writes(rows: list[dict[str, Any]]) -> None:
    assert json.loads(json_rows(rows)) == json.loads(stdlib_json_rows(rows))


def test_times_are_written_as_naive_utc() -> None:
    paris = timezone(timedelta(hours=2))
    rows = [{"aware": MOMENT.replace(tzinfo=paris), "utc": MOMENT.replace(tzinfo=UTC)}]
    assert json.loads(json_rows(rows)) == [
        {"aware": "2026-03-28T22:30:00.123456", "utc": "2026-03-29T00:30:00.123456"}
    ]


def test_what_orjson_refuses_is_written_by_json() -> None:
    rows = [{"state": {"n": 2**70, "low": -(2**64)}, "text": "\ud800"}]
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(rows)
    assert json_rows(rows) == stdlib_json_rows(rows)


def test_without_orjson_json_writes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "orjson", None)
    rows = [{"state": {"n": 3, "at": MOMENT}, "view": None}]
    assert json_rows(rows) == stdlib_json_rows(rows)


def test_progress_rows_keep_every_value_on_both_databases(app: Flask, gamify: Gamify) -> None:
    """Through the database and back: integers beyond 64 bits, text beyond ASCII, times."""
    gamify.define_goal("goal", criteria={"type": "count", "event": "ping", "target": 3})
    with gamify.state.transaction() as session:
        goal_id = session.execute(select(Goal.id)).scalar_one()
    state = {"n": 2**70, "neg": -(2**65), "name": "Zoë ✓", "f": 0.1}
    view = {"k": "key/UTC/2", "at": 1, "e": [1, 33, False, 0]}
    key = (goal_id, "user", "u1")
    row = {
        "goal_id": goal_id,
        "entity_type": "user",
        "entity_id": "u1",
        "state": state,
        "criteria_hash": "h",
        "percent": 33,
        "times_completed": 0,
        "completed_at": None,
        "late_events": 0,
        "stored_view": view,
    }
    with gamify.state.transaction() as session:
        assert insert_progress(session, [row], datetime.now(UTC)) == []
    with gamify.state.transaction() as session:
        (locked,) = select_locked(session, [key]).values()
        assert locked.state == state
        assert isinstance(locked.stored_view, str)  # read as text, parsed when needed
        assert parsed_view(locked.stored_view) == view
        later = datetime.now(UTC)
        bigger = {**state, "n": 2**71}
        write_progress(
            session,
            [{**row, "id": locked.id, "state": bigger, "completed_at": later}],
            later,
        )
    with gamify.state.transaction() as session:
        stored = session.execute(select(Progress.state, Progress.completed_at)).one()
    assert stored.state == bigger
    assert stored.completed_at == later
