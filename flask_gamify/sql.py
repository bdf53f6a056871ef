"""Small SQL helpers that differ between database dialects."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

try:  # installed with Flask-Gamify; where it cannot be, json encodes the batches
    import orjson
except ImportError:  # pragma: no cover - the tests cover the fallback by setting None
    orjson = None  # type: ignore[assignment]

from sqlalchemy import JSON, Column, Dialect, Table, text
from sqlalchemy.orm import Session

from .errors import GamifyError
from .models import UTCDateTime, naive_utc


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

    One short statement and one JSON parameter, however many rows: neither the driver
    nor the database parses a statement with thousands of placeholders, and the rows
    are encoded at once (:func:`dumps`) rather than value by value by SQLAlchemy.
    """
    if not rows:
        return []
    names = list(rows[0])
    name = dialect_name(session)
    if name == "postgresql":
        source, document = _json_to_recordset(session, table, names, rows)
    elif name == "sqlite":
        source, document = _json_each(session, table, names, rows)
    else:
        raise GamifyError(
            f"Flask-Gamify supports PostgreSQL and SQLite; the {name!r} database is not"
            " supported yet. Point GAMIFY_BIND_KEY at a PostgreSQL or SQLite bind."
        )
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) {source}"
        f" ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING"
    )
    parameters = {"rows": document}
    if not returning:
        session.execute(text(sql), parameters)
        return []
    sql += f" RETURNING {', '.join(column.name for column in returning)}"
    return list(session.execute(text(sql).columns(*returning), parameters))


def _json_to_recordset(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]
) -> tuple[str, str]:
    """PostgreSQL: the rows as one ``json`` document of objects, and the ``SELECT`` that
    reads them. The document is ``json``, not ``jsonb``: each value is read from its
    text once, straight into its column's type, where ``jsonb`` would first convert the
    whole document."""
    dialect = session.get_bind().dialect
    record = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)
    select = f"SELECT {', '.join(names)} FROM json_to_recordset(CAST(:rows AS json)) AS r({record})"
    return select, dumps(rows)


def _json_each(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]
) -> tuple[str, str]:
    """SQLite: the rows as one JSON document of arrays, each value encoded as its
    column's type writes it to SQLite (documents as their JSON text, times in
    SQLAlchemy's format), and the ``SELECT`` that reads them."""
    dialect = session.get_bind().dialect
    encoders = [_sqlite_encoder(table.c[name], dialect) for name in names]
    document = dumps(
        [
            [
                value if encode is None else encode(value)
                for encode, value in zip(encoders, values, strict=True)
            ]
            for values in ([row[name] for name in names] for row in rows)
        ]
    )
    extracted = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(names)))
    # "WHERE true" tells SQLite's parser that the ON CONFLICT after it is not a join's ON.
    return f"SELECT {extracted} FROM json_each(:rows) WHERE true", document


def _sqlite_encoder(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a value of ``column`` is written to SQLite: documents and times by the fast
    functions below, anything else by its type's own processor (``None``: as it is)."""
    if isinstance(column.type, JSON):
        return dumps
    if isinstance(column.type, UTCDateTime):
        return sqlite_time
    processor: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(
        dialect
    )
    return processor


#: Times go through :func:`_json_time` (naive UTC, as :mod:`json` writes them); keys that
#: are not strings are written as :mod:`json` writes them.
_ORJSON_OPTIONS = 0 if orjson is None else orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """``value`` as JSON text, times as naive UTC: the rows a batch sends as one document
    (``json_to_recordset``, ``json_each``), and documents as a JSON column holds them on
    SQLite (``None`` is JSON's ``null``, as SQLAlchemy's ``JSON`` type writes it).

    Encoded by orjson when it is installed (about 6 times faster: a batch encodes every
    progress row it writes), else by :mod:`json`. Both give the same document, value for
    value (numbers are finite: events and criteria refuse the others); what orjson
    refuses (integers beyond 64 bits, strings that are not UTF-8) is encoded by
    :mod:`json`.
    """
    if orjson is not None:
        try:
            return orjson.dumps(value, default=_json_time, option=_ORJSON_OPTIONS).decode()
        except orjson.JSONEncodeError:
            pass
    return stdlib_dumps(value)


#: A run of digits orjson may not read as :mod:`json` does: it reads integers beyond 64
#: bits as floats (19 digits and more reach beyond them).
_LONG_DIGITS = re.compile(r"[0-9]{19}")


def loads(text: str) -> Any:
    """The document of JSON text, as :func:`json.loads` gives it.

    Decoded by orjson when it is installed (about 4 times faster: a batch parses the
    stored views of the rows it rewrites unchanged), else by :mod:`json`. Text with
    19 digits in a row (an integer orjson would read as a float) or what orjson refuses
    (``NaN``, numbers beyond a float, lone surrogates) is decoded by :mod:`json`.
    """
    if orjson is not None and _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def stdlib_dumps(value: Any) -> str:
    """:func:`dumps` by the standard library alone."""
    return json.dumps(value, default=_json_time, separators=(",", ":"))


def sqlite_time(moment: datetime | None) -> str | None:
    """A time as a ``DateTime`` column holds it on SQLite: naive UTC, SQLAlchemy's format
    (microseconds always written, so that the text sorts as the time does)."""
    if moment is None:
        return None
    value = naive_utc(moment)
    text = str(value)  # the fastest way; it leaves out microseconds of 0
    return text if value.microsecond else f"{text}.000000"


def _json_time(value: Any) -> str:
    if isinstance(value, datetime):
        return _time_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@functools.lru_cache(maxsize=256)
def _time_text(value: datetime) -> str:
    # A batch writes the same few moments (its ``now``) on thousands of rows.
    return naive_utc(value).isoformat()
