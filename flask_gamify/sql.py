"""Small SQL helpers that differ between database dialects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .errors import GamifyError

#: PostgreSQL SQLSTATEs that mean "run the transaction again".
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_CHUNK_ROWS = 500


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[ColumnElement[Any]] = (),
) -> list[Any]:
    """Insert ``rows``, skipping those that collide on ``conflict_columns``.

    Returns the ``returning`` columns of the rows actually inserted: the caller that
    gets a row back is the one writer that won, even under concurrent transactions.
    """
    if not rows:
        return []
    name = dialect_name(session)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:
        raise GamifyError(
            f"Flask-Gamify supports PostgreSQL and SQLite; the {name!r} database is not"
            " supported yet. Point GAMIFY_BIND_KEY at a PostgreSQL or SQLite bind."
        )
    inserted: list[Any] = []
    # Chunks keep every statement under the databases' bound-parameter limits.
    for start in range(0, len(rows), _CHUNK_ROWS):
        statement = (
            insert(table)
            .values(list(rows[start : start + _CHUNK_ROWS]))
            .on_conflict_do_nothing(index_elements=list(conflict_columns))
        )
        if returning:
            inserted.extend(session.execute(statement.returning(*returning)))
        else:
            session.execute(statement)
    return inserted


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
