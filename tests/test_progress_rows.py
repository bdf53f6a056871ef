"""Progress rows read and written in bulk (:mod:`flask_gamify.progress_rows`).

Batches send their rows as one JSON document, encoded by orjson when it is installed
and by :mod:`json` for what orjson refuses (the document must mean the same either way);
on SQLite the driver writes them, with documents and times encoded as SQLAlchemy's types
would encode them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, select, text
from sqlalchemy.dialects import sqlite

from flask_gamify import Gamify, sql
from flask_gamify.models import Goal, Progress, naive_utc
from flask_gamify.processing import completed_prerequisites
from flask_gamify.progress_rows import (
    _SELECT_POSTGRESQL,
    _SELECT_SQLITE,
    insert_progress,
    parsed_view,
    select_locked,
    write_progress,
)
from flask_gamify.sql import dumps, sqlite_time, stdlib_dumps

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
    assert json.loads(dumps(rows)) == json.loads(stdlib_dumps(rows))


def test_times_are_written_as_naive_utc() -> None:
    paris = timezone(timedelta(hours=2))
    rows = [{"aware": MOMENT.replace(tzinfo=paris), "utc": MOMENT.replace(tzinfo=UTC)}]
    assert json.loads(dumps(rows)) == [
        {"aware": "2026-03-28T22:30:00.123456", "utc": "2026-03-29T00:30:00.123456"}
    ]


def test_what_orjson_refuses_is_written_by_json() -> None:
    rows = [{"state": {"n": 2**70, "low": -(2**64)}, "text": "\ud800"}]
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(rows)
    assert dumps(rows) == stdlib_dumps(rows)


def test_without_orjson_json_writes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "orjson", None)
    rows = [{"state": {"n": 3, "at": MOMENT}, "view": None}]
    assert dumps(rows) == stdlib_dumps(rows)


def typed(document: Any) -> Any:
    """``document`` with each value's type beside it (``1 == 1.0 == True`` in Python)."""
    if isinstance(document, list):
        return [typed(item) for item in document]
    if isinstance(document, dict):
        return {key: typed(value) for key, value in document.items()}
    return (type(document).__name__, document)


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_documents, st.booleans())
def test_orjson_reads_what_json_reads(document: Any, ascii_only: bool) -> None:
    """Stored views are parsed by :func:`~flask_gamify.sql.loads`: integers beyond 64
    bits, NaN, infinities and lone surrogates included, it gives what :mod:`json` gives."""
    text_ = json.dumps(document, ensure_ascii=ascii_only)
    assert repr(typed(sql.loads(text_))) == repr(typed(json.loads(text_)))


@pytest.mark.parametrize(
    "text_",
    [
        '{"n": 123456789012345678901234567890}',  # orjson alone reads a float
        "[-9223372036854775809, 18446744073709551616]",  # just beyond 64 bits
        "[NaN, Infinity, 1e400]",  # orjson refuses them
        '"\\ud800"',  # a lone surrogate: orjson refuses it
    ],
)
def test_what_orjson_reads_otherwise_is_read_by_json(text_: str) -> None:
    assert repr(typed(sql.loads(text_))) == repr(typed(json.loads(text_)))


def test_without_orjson_json_reads_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "orjson", None)
    assert sql.loads('{"k": "v/Europe/Paris/2", "e": [3, 60, false, 0]}') == {
        "k": "v/Europe/Paris/2",
        "e": [3, 60, False, 0],
    }


@pytest.mark.parametrize(
    "moment",
    [
        MOMENT,
        MOMENT.replace(microsecond=0),
        MOMENT.replace(tzinfo=timezone(timedelta(hours=-5))),
        MOMENT.replace(microsecond=0, tzinfo=timezone(timedelta(microseconds=-123456))),
        datetime(1, 1, 1),
    ],
)
def test_sqlite_times_are_written_as_sqlalchemy_writes_them(moment: datetime) -> None:
    dialect = sqlite.dialect()
    process = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert sqlite_time(moment) == process(naive_utc(moment))
    assert sqlite_time(None) is None


def progress_row(goal_id: int, entity: str, state: Any) -> dict[str, Any]:
    return {
        "goal_id": goal_id,
        "entity_type": "user",
        "entity_id": entity,
        "state": state,
        "criteria_hash": "h",
        "percent": 33,
        "times_completed": 0,
        "completed_at": None,
        "late_events": 0,
        "stored_view": None,
    }


@pytest.fixture
def goal_id(app: Flask, gamify: Gamify) -> int:
    gamify.define_goal("goal", criteria={"type": "count", "event": "ping", "target": 3})
    with gamify.state.transaction() as session:
        return int(session.execute(select(Goal.id)).scalar_one())


def test_rows_that_exist_already_are_reported_not_written(gamify: Gamify, goal_id: int) -> None:
    """What another writer created meanwhile comes back to the batch, which runs again."""
    now = datetime.now(UTC)
    with gamify.state.transaction() as session:
        assert insert_progress(session, [progress_row(goal_id, "taken", {"n": 1})], now) == []
    rows = [progress_row(goal_id, entity, {"n": 2}) for entity in ("new", "taken", "42")]
    with gamify.state.transaction() as session:
        assert insert_progress(session, rows, now) == [(goal_id, "user", "taken")]
    with gamify.state.transaction() as session:
        states = dict(session.execute(select(Progress.entity_id, Progress.state)).all())
    assert states == {"taken": {"n": 1}, "new": {"n": 2}, "42": {"n": 2}}


def test_rows_are_found_by_their_keys(gamify: Gamify, goal_id: int, is_postgres: bool) -> None:
    """Entity ids that read as numbers stay text; keys not stored are simply missing."""
    now = datetime.now(UTC)
    entities = ["1", "01", "1.0", "Zoë", "a'b"]
    with gamify.state.transaction() as session:
        insert_progress(session, [progress_row(goal_id, e, {"n": 1}) for e in entities], now)
    keys = [(goal_id, "user", e) for e in [*entities, "absent"]] + [(goal_id + 1, "user", "1")]
    with gamify.state.transaction() as session:
        found = select_locked(session, keys)
        assert sorted(found) == sorted((goal_id, "user", e) for e in entities)
        if not is_postgres:
            # Each key is looked up in the unique index; the table is never scanned.
            plan = session.execute(text(f"EXPLAIN QUERY PLAN {_SELECT_SQLITE}"), {"keys": "[]"})
            details = [row[-1] for row in plan]
            assert any("USING INDEX" in detail for detail in details), details
            assert not any(detail.startswith("SCAN p") for detail in details), details


def test_a_batch_finds_its_rows_without_reading_the_entitys_others(
    app: Flask, gamify: Gamify, is_postgres: bool
) -> None:
    """Without statistics (a new table, not analyzed yet) PostgreSQL may look a batch's
    keys up through the entity index; that index ends with the goal, so each lookup
    reads the one row, not every row of the entity (4.2 s instead of 0.2 s for a batch
    with 1,000 goals)."""
    if not is_postgres:
        pytest.skip("SQLite looks the keys up in the unique index (see above)")
    goals = [
        {"key": f"g{n}", "name": f"G{n}", "criteria": {"type": "count", "event": "e", "target": 2}}
        for n in range(60)
    ]
    gamify.define_goals(goals)
    now = datetime.now(UTC)
    with gamify.state.transaction() as session:
        ids = [int(i) for i in session.execute(select(Goal.id).order_by(Goal.id)).scalars()]
        rows = [progress_row(goal, entity, {"n": 1}) for goal in ids for entity in ("a", "b")]
        insert_progress(session, rows, now)
    keys = dumps([{"goal_id": g, "entity_type": "user", "entity_id": "a"} for g in ids[:5]])
    with gamify.state.transaction() as session:
        # The entity index alone, as the planner picks it without statistics (rolled back).
        session.execute(
            text("ALTER TABLE gamify_progress DROP CONSTRAINT uq_gamify_progress_goal_id")
        )
        for plan_kind in ("seqscan", "hashjoin", "mergejoin"):  # a lookup per key
            session.execute(text(f"SET LOCAL enable_{plan_kind} = off"))
        plan = session.execute(
            text(f"EXPLAIN (ANALYZE, FORMAT JSON) {_SELECT_POSTGRESQL.element.text}"),
            {"keys": keys},
        ).scalar_one()
        session.rollback()
    assert "ix_gamify_progress_entity" in json.dumps(plan)
    nodes, removed = [plan[0]["Plan"]], 0
    while nodes:
        node = nodes.pop()
        removed += node.get("Rows Removed by Filter", 0)
        removed += node.get("Rows Removed by Join Filter", 0)
        nodes.extend(node.get("Plans", []))
    assert removed == 0, json.dumps(plan, indent=1)


def test_prerequisites_are_looked_up_by_their_whole_key(
    gamify: Gamify, goal_id: int, is_postgres: bool
) -> None:
    """A batch reads the awards of the goals its goals depend on for its entities by
    every column of the unique key: by the entity ids alone, the index gave only the
    goal, and PostgreSQL read every row of it (70 ms a batch at 1,000,000 entities)."""
    now = datetime.now(UTC)
    with gamify.state.transaction() as session:
        insert_progress(
            session,
            [{**progress_row(goal_id, e, {"n": 1}), "times_completed": 1} for e in "abc"],
            now,
        )
    keys = [(goal_id + 1, "user", "a"), (goal_id + 1, "user", "c"), (goal_id + 1, "team", "x")]
    statement = completed_prerequisites([goal_id], keys)
    with gamify.state.transaction() as session:
        rows = session.execute(statement).all()
        assert sorted((row.entity_id, row.times_completed, row.held) for row in rows) == [
            ("a", 1, 0),
            ("c", 1, 0),
        ]
        if not is_postgres:
            sql_text = statement.compile(
                dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
            )
            plan = session.execute(text(f"EXPLAIN QUERY PLAN {sql_text}"))
            details = [row[-1] for row in plan if "gamify_progress" in row[-1]]
            assert details, "no step of the plan reads gamify_progress"
            assert all(
                "goal_id=? AND entity_type=? AND entity_id=?" in detail for detail in details
            ), details


def test_rows_keep_every_value_through_the_database(gamify: Gamify, goal_id: int) -> None:
    """Integers beyond 64 bits, text beyond ASCII, floats, times, ``None`` states."""
    state = {"n": 2**70, "neg": -(2**65), "name": 'Zoë ✓ \\ "q"', "f": 0.1, "list": [1.5]}
    view = {"k": "key/UTC/2", "at": 1, "e": [1, 33, False, 0]}
    row = {**progress_row(goal_id, "u1", state), "stored_view": view}
    empty = progress_row(goal_id, "u2", None)
    with gamify.state.transaction() as session:
        assert insert_progress(session, [row, empty], datetime.now(UTC)) == []
    with gamify.state.transaction() as session:
        locked = select_locked(session, [(goal_id, "user", "u1"), (goal_id, "user", "u2")])
        first = locked[(goal_id, "user", "u1")]
        assert first.state == state
        assert isinstance(first.stored_view, str)  # read as text, parsed when needed
        assert parsed_view(first.stored_view) == view
        assert locked[(goal_id, "user", "u2")].state is None
        later = datetime.now(UTC)
        bigger = {**state, "n": 2**71}
        write_progress(
            session,
            [{**row, "id": first.id, "state": bigger, "completed_at": later, "percent": 40}],
            later,
        )
    with gamify.state.transaction() as session:
        stored = session.execute(
            select(
                Progress.state, Progress.completed_at, Progress.percent, Progress.updated_at
            ).where(Progress.entity_id == "u1")
        ).one()
    assert stored.state == bigger
    assert stored.completed_at == later
    assert stored.updated_at == later
    assert stored.percent == 40
