"""Locking, reading and writing progress rows in bulk, the way each database does it best.

A batch touches thousands of ``(goal, entity)`` rows. Their keys travel as one JSON
document instead of a long row-value ``IN`` list: PostgreSQL hash-joins it
(``json_to_recordset``, one round trip) where it would turn the list into an OR of index
probes, and SQLite looks each key up in the unique index (``json_each``) where it would
scan the table. New rows are inserted the same way (see
:func:`~flask_gamify.sql.insert_ignoring_conflicts`); changed rows with one ``UPDATE ...
FROM json_to_recordset(...)`` on PostgreSQL, and on SQLite, which runs in-process, by
the driver's ``executemany``. Values are encoded here as their columns' types would
encode them: SQLAlchemy's processors, value by value, cost more than the writing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, Text, column, text
from sqlalchemy.orm import Session

from .models import Progress, naive_utc
from .sql import dialect_name, dumps, insert_ignoring_conflicts, loads, sqlite_time

__all__ = [
    "WRITTEN_COLUMNS",
    "ProgressKey",
    "insert_progress",
    "lock_progress",
    "locked_positions",
    "parsed_view",
    "select_locked",
    "write_progress",
]

_PROGRESS = cast(Table, Progress.__table__)

#: (goal id, entity type, entity id)
ProgressKey = tuple[int, str, str]

#: The columns a batch reads from a locked row: all but ``updated_at``, the stored view
#: as its JSON text. A batch gives most rows it locks a new state, whose view replaces
#: the stored one unread: it parses a stored view only when it needs it.
_LOCKED = [column for column in _PROGRESS.c if column.name != "updated_at"]
_LOCKED_TYPES = [column(c.name, Text) if c.name == "stored_view" else c for c in _LOCKED]


def _selected(view: str) -> str:
    """The locked columns of ``p`` by name, never ``p.*`` (a table upgraded by migrations
    has its columns in another order than one created from the models, and text columns
    match by position); ``view`` reads the stored view as text."""
    return ", ".join(view if c.name == "stored_view" else f"p.{c.name}" for c in _LOCKED)


# The keys travel as one JSON document on both databases: PostgreSQL hash-joins it, and
# SQLite looks each key up in the unique index (a row-value IN list scans the table).
_SELECT_POSTGRESQL = text(
    f"""
    SELECT {_selected("p.stored_view::text AS stored_view")} FROM gamify_progress AS p
    JOIN json_to_recordset(CAST(:keys AS json))
         AS k(goal_id integer, entity_type text, entity_id text)
      ON p.goal_id = k.goal_id AND p.entity_type = k.entity_type
     AND p.entity_id = k.entity_id
    ORDER BY p.goal_id, p.entity_type, p.entity_id
    FOR UPDATE OF p
    """
).columns(*_LOCKED_TYPES)

_SELECT_SQLITE = text(
    f"""
    SELECT {_selected("p.stored_view AS stored_view")} FROM json_each(:keys) AS k
    JOIN gamify_progress AS p
      ON p.goal_id = json_extract(k.value, '$[0]')
     AND p.entity_type = json_extract(k.value, '$[1]')
     AND p.entity_id = json_extract(k.value, '$[2]')
    """
).columns(*_LOCKED_TYPES)

#: The columns a batch writes to a progress row it changes (besides ``updated_at``).
WRITTEN_COLUMNS = (
    "state",
    "criteria_hash",
    "percent",
    "times_completed",
    "completed_at",
    "late_events",
    "stored_view",
)

#: SQLite: rows updated by the driver itself, their documents and times encoded here as
#: SQLAlchemy's types would (a batch writes thousands; the types' processors, value by
#: value, cost more than the writing). Inserts go through
#: :func:`~flask_gamify.sql.insert_ignoring_conflicts`, which does the same.
_UPDATE_SQLITE = (
    f"UPDATE gamify_progress SET {', '.join(f'{name} = ?' for name in WRITTEN_COLUMNS)},"
    " updated_at = ? WHERE id = ?"
)

_UPDATE_POSTGRESQL = text(
    """
    UPDATE gamify_progress AS p
       SET state = v.state, criteria_hash = v.criteria_hash, percent = v.percent,
           times_completed = v.times_completed, completed_at = v.completed_at,
           late_events = v.late_events, stored_view = v.stored_view, updated_at = :updated_at
      FROM json_to_recordset(CAST(:rows AS json))
           AS v(id integer, state json, criteria_hash text, percent integer,
                times_completed integer, completed_at timestamp, late_events integer,
                stored_view json)
     WHERE p.id = v.id
    """
)


def lock_progress(
    session: Session, keys: Sequence[ProgressKey], hashes: Mapping[int, str], now: datetime
) -> dict[ProgressKey, Row[Any]]:
    """Load the progress rows of ``keys``, creating missing ones, locked (PostgreSQL).

    Row locks are taken in key order, so concurrent workers on the same rows wait for
    each other instead of deadlocking.

    :param hashes: the current criteria hash of each goal id, for new rows.
    """
    rows = select_locked(session, keys)
    missing = [key for key in keys if key not in rows]
    if missing:
        # Rows this transaction inserts are its own until it commits; only rows another
        # transaction inserted meanwhile (a conflict) must be selected and locked.
        inserted = insert_ignoring_conflicts(
            session,
            _PROGRESS,
            [
                {
                    "goal_id": goal_id,
                    "entity_type": entity_type,
                    "entity_id": entity_id,
                    "state": None,
                    "criteria_hash": hashes[goal_id],
                    "percent": 0,
                    "times_completed": 0,
                    "late_events": 0,
                    "updated_at": now,
                }
                for goal_id, entity_type, entity_id in sorted(missing)
            ],
            ["goal_id", "entity_type", "entity_id"],
            returning=_LOCKED,
        )
        rows.update((_key(row), row) for row in inserted)
        conflicts = [key for key in missing if key not in rows]
        if conflicts:
            rows.update(select_locked(session, conflicts))
    return rows


def locked_positions(*names: str) -> tuple[int, ...]:
    """Where the columns ``names`` are in a locked row: indexing a row costs a fraction
    of looking a column up by name (0.02 against 0.7 µs), and a batch reads thousands
    of rows."""
    columns = [c.name for c in _LOCKED]
    return tuple(columns.index(name) for name in names)


_KEY_POSITIONS = locked_positions("goal_id", "entity_type", "entity_id")


def _key(row: Row[Any]) -> ProgressKey:
    """The key of a locked row."""
    goal, kind, entity = _KEY_POSITIONS
    return (row[goal], row[kind], row[entity])


def select_locked(session: Session, keys: Sequence[ProgressKey]) -> dict[ProgressKey, Row[Any]]:
    """The existing progress rows of ``keys``, locked (PostgreSQL), creating none: a
    batch writes its missing ones once, with their first state (:func:`insert_progress`).

    Rows have every column but ``updated_at``; ``stored_view`` is its JSON text
    (:func:`parsed_view`).
    """
    if dialect_name(session) == "postgresql":
        keys_json = dumps(
            [{"goal_id": g, "entity_type": t, "entity_id": e} for g, t, e in sorted(keys)]
        )
        result = session.execute(_SELECT_POSTGRESQL, {"keys": keys_json})
    else:
        result = session.execute(_SELECT_SQLITE, {"keys": dumps(sorted(keys))})
    return {_key(row): row for row in result.all()}  # fetched at once, not row by row


def parsed_view(view: Any) -> Any:
    """A locked row's ``stored_view`` as a document (:func:`select_locked` reads its text)."""
    return loads(view) if isinstance(view, str) else view


def write_progress(session: Session, updates: Sequence[dict[str, Any]], now: datetime) -> None:
    """Write new states: dicts with ``id``, ``state``, ``criteria_hash``, ``percent``,
    ``times_completed``, ``completed_at``, ``late_events`` and optionally ``stored_view``.

    A row written without a ``stored_view`` (the evaluation of its new state) gets none: its
    readers evaluate the state (see :mod:`flask_gamify.stored_views`).
    """
    if not updates:
        return
    if dialect_name(session) == "postgresql":
        rows = [row if "stored_view" in row else {**row, "stored_view": None} for row in updates]
        session.execute(_UPDATE_POSTGRESQL, {"rows": dumps(rows), "updated_at": naive_utc(now)})
        return
    updated_at = sqlite_time(now)
    session.connection().exec_driver_sql(
        _UPDATE_SQLITE,
        [
            (
                dumps(row["state"]),
                row["criteria_hash"],
                row["percent"],
                row["times_completed"],
                sqlite_time(row["completed_at"]),
                row["late_events"],
                dumps(row.get("stored_view")),
                updated_at,
                row["id"],
            )
            for row in updates
        ],
    )


def insert_progress(
    session: Session, rows: Sequence[dict[str, Any]], now: datetime
) -> list[ProgressKey]:
    """Insert new progress rows with their first state; return the keys of those another
    transaction created meanwhile, which were not inserted.

    A row is written once this way, where creating it empty and updating it would write
    it twice. ``rows`` are dicts with ``goal_id``, ``entity_type``, ``entity_id`` and the
    columns :func:`write_progress` takes but ``id`` (they get ``updated_at``). The caller
    must not go on with a batch whose rows were created meanwhile: their states were
    folded from nothing.
    """
    if not rows:
        return []
    values = sorted(rows, key=_key_of)
    for row in values:
        row["updated_at"] = now
    inserted = insert_ignoring_conflicts(
        session,
        _PROGRESS,
        values,
        ["goal_id", "entity_type", "entity_id"],
        returning=[_PROGRESS.c.goal_id, _PROGRESS.c.entity_type, _PROGRESS.c.entity_id],
    )
    created = {(row[0], row[1], row[2]) for row in inserted}  # the key columns returned
    return [key for key in (_key_of(row) for row in values) if key not in created]


def _key_of(row: Mapping[str, Any]) -> ProgressKey:
    return (row["goal_id"], row["entity_type"], row["entity_id"])
