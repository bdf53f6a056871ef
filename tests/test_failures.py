"""Transient or possibly poison: the classification of real errors from real servers.

Each error below is raised by the real database or Redis (PostgreSQL raises any SQLSTATE
on demand with ``RAISE ... USING ERRCODE``), then classified by
:func:`flask_gamify.failures.is_transient`.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from flask_gamify.errors import EventError
from flask_gamify.events import make_event
from flask_gamify.failures import RowsCreatedMeanwhile, attempts_allowed, is_transient
from flask_gamify.testing import RedisServer

#: SQLSTATE -> transient? (what the same statement would do if run again later)
POSTGRES_ERRORS = {
    "25006": True,  # read_only_sql_transaction: a standby during failover
    "40001": True,  # serialization_failure
    "40P01": True,  # deadlock_detected
    "55P03": True,  # lock_not_available: lock_timeout
    "57014": True,  # query_canceled: statement_timeout
    "57P01": True,  # admin_shutdown
    "57P03": True,  # cannot_connect_now: the server is starting
    "53300": True,  # too_many_connections
    "53100": True,  # disk_full
    "08006": True,  # connection_failure
    "58030": True,  # io_error
    "22003": False,  # numeric_value_out_of_range: the data
    "22P02": False,  # invalid_text_representation
    "23505": False,  # unique_violation
    "42P01": False,  # undefined_table
    "54000": False,  # program_limit_exceeded (an index row too large)
    "P0001": False,  # raise_exception
}


def raise_postgres(url: str, sqlstate: str) -> DBAPIError:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(
                text(
                    f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{sqlstate}'; END $$"
                )
            )
    except DBAPIError as error:
        return error
    finally:
        engine.dispose()
    pytest.fail(f"SQLSTATE {sqlstate} was not raised")


@pytest.mark.parametrize(("sqlstate", "transient"), sorted(POSTGRES_ERRORS.items()))
def test_postgresql_errors(postgres_url: str | None, sqlstate: str, transient: bool) -> None:
    if postgres_url is None:
        pytest.skip("needs GAMIFY_TEST_DATABASE_URL (PostgreSQL)")
    error = raise_postgres(postgres_url, sqlstate)
    assert getattr(error.orig, "sqlstate", None) == sqlstate
    assert is_transient(error) is transient


def test_a_real_read_only_postgresql_transaction_is_transient(postgres_url: str | None) -> None:
    if postgres_url is None:
        pytest.skip("needs GAMIFY_TEST_DATABASE_URL (PostgreSQL)")
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SET TRANSACTION READ ONLY"))
            with pytest.raises(DBAPIError) as raised:
                connection.execute(text("CREATE TABLE gamify_read_only_probe (id int)"))
    finally:
        engine.dispose()
    assert is_transient(raised.value)
    assert attempts_allowed(raised.value) == 1, "retried later with backoff, not at once"


def test_an_unreachable_postgresql_server_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
    with pytest.raises(DBAPIError) as raised:
        engine.connect()
    engine.dispose()
    assert is_transient(raised.value)


def sqlite_error(tmp_path: Path, setup: str, statement: str) -> DBAPIError:
    path = tmp_path / "probe.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    if setup:
        holder.execute(setup)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    except DBAPIError as error:
        return error
    finally:
        engine.dispose()
        holder.close()
    pytest.fail(f"{statement} did not fail")


def test_a_locked_sqlite_database_is_transient(tmp_path: Path) -> None:
    error = sqlite_error(tmp_path, "BEGIN EXCLUSIVE", "INSERT INTO t (v) VALUES ('x')")
    assert "locked" in str(error.orig)
    assert is_transient(error)


def test_a_read_only_sqlite_database_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    sqlite3.connect(path).close()
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER)"))
    engine.dispose()
    assert "readonly" in str(raised.value.orig)
    assert is_transient(raised.value)


def test_sqlite_constraint_errors_are_not_transient(tmp_path: Path) -> None:
    error = sqlite_error(tmp_path, "", "INSERT INTO t (v) VALUES (NULL)")
    assert "NOT NULL" in str(error.orig)
    assert not is_transient(error)


def test_redis_errors(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.config_set("maxmemory", "1")
    client.config_set("maxmemory-policy", "noeviction")
    with pytest.raises(redis.OutOfMemoryError) as full:
        client.xadd("gamify:events:0", {"event": "{}"})
    assert is_transient(full.value)
    client.config_set("maxmemory", "0")

    client.set("a-string", "x")
    with pytest.raises(redis.ResponseError) as wrong_type:
        client.xadd("a-string", {"event": "{}"})
    assert not is_transient(wrong_type.value), "WRONGTYPE is a mistake, not an outage"

    redis_server.stop()
    with pytest.raises(redis.ConnectionError) as down:
        client.ping()
    assert is_transient(down.value)


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: json.loads("[" * 100_000 + "]" * 100_000),
        lambda: make_event("", "x"),
        lambda: int("9" * 5000),
        lambda: {}["missing"],
    ],
    ids=["recursion", "invalid-event", "huge-int", "key-error"],
)
def test_errors_caused_by_data_are_not_transient(make_error: object) -> None:
    with pytest.raises((RecursionError, EventError, ValueError, KeyError)) as raised:
        make_error()  # type: ignore[operator]
    assert not is_transient(raised.value)


def test_rows_another_writer_kept_creating_are_a_collision_not_poison() -> None:
    error = RowsCreatedMeanwhile("gamify_progress", 2, (1, "user", "alice"))
    assert is_transient(error)
    assert (
        str(error)
        == "2 row(s) of gamify_progress were created meanwhile, the first (1, 'user', 'alice')"
    )
