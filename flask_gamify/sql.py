"""Small SQL helpers that differ between database dialects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Table, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .errors import GamifyError

#: PostgreSQL SQLSTATEs that mean "run the transaction again".
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[Column[Any]] = (),
) -> list[Any]:
    """Insert ``rows``, skipping those that collide on ``conflict_columns``.

    Returns the ``returning`` columns of the rows actually inserted: the caller that
    gets a row back is the one writer that won, even under concurrent transactions.
    """
    if not rows:
        return []
    name = dialect_name(session)
    if name == "postgresql":
        return _insert_from_arrays(session, table, rows, conflict_columns, returning)
    if name != "sqlite":
        raise GamifyError(
            f"Flask-Gamify supports PostgreSQL and SQLite; the {name!r} database is not"
            " supported yet. Point GAMIFY_BIND_KEY at a PostgreSQL or SQLite bind."
        )
    statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    # One statement executed for many rows: SQLAlchemy compiles it once (cached) and
    # sends the rows in multi-row batches within the databases' parameter limits.
    if returning:
        return list(session.execute(statement.returning(*returning), list(rows)))
    session.execute(statement, list(rows))
    return []


def _insert_from_arrays(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[Column[Any]],
) -> list[Any]:
    """PostgreSQL: ``INSERT ... SELECT FROM unnest(<one array per column>)``.

    A short statement with one parameter per column, however many rows: the driver
    neither builds nor parses a statement with thousands of placeholders.
    """
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    dialect = session.get_bind().dialect
    arrays = ", ".join(
        f"CAST(:{name} AS {column.type.compile(dialect=dialect)}[])"
        for name, column in zip(names, columns, strict=True)
    )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING"
    )
    if returning:
        sql += f" RETURNING {', '.join(column.name for column in returning)}"
    parameters = {
        name: [_array_value(column, row[name]) for row in rows]
        for name, column in zip(names, columns, strict=True)
    }
    if not returning:
        session.execute(text(sql), parameters)
        return []
    return list(session.execute(text(sql).columns(*returning), parameters))


def _array_value(column: Column[Any], value: Any) -> Any:
    """A value as the driver sends it inside an array (JSON as text, UTC times naive)."""
    if value is None:
        return None
    if isinstance(column.type, JSON):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def attempts_allowed(error: DBAPIError) -> int:
    """How many times a transaction that failed with ``error`` may be run in all.

    Deadlocks and serialisation failures (PostgreSQL) are worth several attempts; a
    busy SQLite database already waited for its busy timeout, so it gets one more; any
    other error, none.
    """
    original = error.orig
    if getattr(original, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return 5
    if "database is locked" in str(original):
        return 2
    return 1
