"""Which failures are transient and which may be poison: decided here, and only here.

A *transient* failure says nothing about the events being processed: the database or
Redis is unavailable, read-only (a failover to a standby), out of connections, busy, or
two transactions collided. The same events will succeed later, so workers keep them
(pending in Redis), back off and retry, for as long as the outage lasts; nothing is
dead-lettered because of one.

Every other failure *may* be caused by the events themselves (poison). Workers isolate
the offending event by splitting the batch, retry it up to ``GAMIFY_MAX_ATTEMPTS`` times
and then move it to the dead letters, where an operator can inspect and replay it.
"""

from __future__ import annotations

import sqlite3

import redis
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

__all__ = ["RowsCreatedMeanwhile", "attempts_allowed", "describe_error", "is_transient"]

#: PostgreSQL SQLSTATE classes that describe the server, never the data:
#: 08 connection exception, 40 transaction rollback (serialisation failure, deadlock),
#: 53 insufficient resources (disk full, out of memory, too many connections),
#: 57 operator intervention (shutdown, query cancelled, cannot connect now),
#: 58 system error (I/O).
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
#: Single SQLSTATEs that are transient too: 25006 read-only transaction (a standby, or
#: ``default_transaction_read_only`` during a failover), 55P03 lock not available
#: (``lock_timeout``), 55006 object in use.
_TRANSIENT_SQLSTATES = frozenset({"25006", "55P03", "55006"})
#: Transaction collisions, worth an immediate retry inside the same job.
_COLLISION_SQLSTATES = frozenset({"40001", "40P01"})

#: SQLite primary result codes that describe the database file or the process, never
#: the data: BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, FULL, CANTOPEN, PROTOCOL.
_TRANSIENT_SQLITE_CODES = frozenset({5, 6, 7, 8, 9, 10, 13, 14, 15})

#: Redis error replies that mean "not now": out of memory under ``noeviction``, a replica
#: (read-only), loading its data set, and the replies redis-py has no class for (a
#: replica or a cluster in transition, a busy script).
_TRANSIENT_REDIS_ERRORS = (
    redis.ConnectionError,  # BusyLoadingError included
    redis.TimeoutError,
    redis.ReadOnlyError,
    redis.OutOfMemoryError,
)
_TRANSIENT_REDIS_REPLIES = ("MASTERDOWN", "TRYAGAIN", "BUSY ", "CLUSTERDOWN")


class RowsCreatedMeanwhile(Exception):
    """Rows a transaction meant to create were created by a concurrent one: a collision
    (transient), like a deadlock. The transaction runs again and finds them."""

    def __init__(self, table: str, count: int, first: object) -> None:
        super().__init__(f"{count} row(s) of {table} were created meanwhile, the first {first}")


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says "unavailable, try again later" rather than "bad input".

    :param error: an exception raised while reading, processing or acknowledging events.
    """
    if isinstance(error, PoolTimeoutError | DisconnectionError | RowsCreatedMeanwhile):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        return _is_transient_driver_error(error.orig)
    if isinstance(error, _TRANSIENT_REDIS_ERRORS):
        return True
    if isinstance(error, redis.ResponseError):
        return str(error).startswith(_TRANSIENT_REDIS_REPLIES)
    return isinstance(error, ConnectionError | TimeoutError)


def _is_transient_driver_error(original: BaseException | None) -> bool:
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _TRANSIENT_SQLITE_CODES
        return isinstance(original, sqlite3.OperationalError) and "locked" in str(original)
    # A PostgreSQL driver error without a SQLSTATE never reached the server: the
    # connection could not be made or was lost.
    module = type(original).__module__
    return module.startswith(("psycopg", "psycopg2")) and type(original).__name__ in {
        "OperationalError",
        "InterfaceError",
    }


def attempts_allowed(error: DBAPIError) -> int:
    """How many times a transaction that failed with ``error`` may run in a row, at once.

    Deadlocks and serialisation failures (PostgreSQL) are worth several immediate
    attempts; a lost connection and a busy SQLite database (which already waited for its
    busy timeout) one more; any other error, none (transient ones are retried later,
    with backoff).
    """
    if getattr(error.orig, "sqlstate", None) in _COLLISION_SQLSTATES:
        return 5
    if error.connection_invalidated:
        # A connection the pool held died (a database restart, a failover, a cut
        # session): a fresh one may well work at once.
        return 2
    if "database is locked" in str(error.orig):
        return 2
    return 1


def describe_error(error: BaseException, limit: int = 1000) -> str:
    """``Type: message`` on one line, bounded (a message may quote a huge input)."""
    text = " ".join(str(getattr(error, "orig", None) or error).split())
    return f"{type(error).__name__}: {text[:limit]}"
