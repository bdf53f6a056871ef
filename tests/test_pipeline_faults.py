"""Faults the pipeline must survive, against real redis-server, databases and workers.

Poison entries are isolated (alone, found by splitting the batch), transient failures
(a read-only or locked database, Redis restarting) are waited out with backoff and lose
nothing, and clock skew between hosts never dead-letters a valid event.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for
from flask import Flask
from pipeline_app import POISON
from pipeline_support import (
    Workers,
    emit,
    expected_snapshot,
    gamify_of,
    logged_events,
    stream_total,
)
from sqlalchemy import create_engine, make_url, text
from workload import make_events, snapshot

from flask_gamify.events import make_event
from flask_gamify.pipeline.streams import FIELD
from flask_gamify.testing import RedisServer

STREAM = "gamify:events:1"


def dead_letters(redis_server: RedisServer) -> list[dict[str, str]]:
    return [
        {key.decode(): value.decode() for key, value in fields.items()}
        for _, fields in redis_server.client().xrange("gamify:dead-letters")
    ]


def failed_rq_jobs(redis_server: RedisServer) -> int:
    client = redis_server.client()
    return sum(int(client.zcard(key)) for key in client.keys("rq:failed:*"))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_an_entry_nested_thousands_deep_is_dead_lettered_alone(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    client = redis_server.client()
    client.xadd(STREAM, {FIELD: json.dumps({"type": "login", "entity": "deep-1"})})
    poison = f'{{"type": "login", "entity": "deep-1", "attributes": {{"a": {nested(5000)}}}}}'
    client.xadd(STREAM, {FIELD: poison})
    deep_id = f'{{"type": "login", "entity": "deep-1", "id": {nested(9000)}}}'
    client.xadd(STREAM, {FIELD: deep_id})
    for _ in range(2):
        client.xadd(STREAM, {FIELD: json.dumps({"type": "login", "entity": "deep-1"})})
    workers.start("w1")
    gamify = gamify_of(papp)
    wait_for(
        lambda: gamify.has_completed("deep-1", "login-3"),
        timeout=30,
        message="the valid entries around the poison were processed",
    )
    letters = wait_for(
        lambda: len(dead_letters(redis_server)) == 2 and dead_letters(redis_server),
        timeout=10,
        message="both nested entries were dead-lettered",
    )
    assert all("too deep" in letter["error"] for letter in letters), letters
    assert [letter["attempts"] for letter in letters] == ["1", "1"]
    assert letters[0]["event"] == poison, "the entry is kept as it came, for replay"
    assert gamify.progress("deep-1", "login-3").current == 3
    assert client.xlen(STREAM) == 0


def test_a_failing_event_is_found_by_splitting_its_batch(
    pipeline_env: dict[str, str],
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(POISON, "explodes-in-sql")
    monkeypatch.setenv("GAMIFY_PIPELINE_TEST_BATCH", "40")
    from pipeline_app import create_app
    from workload import GOALS

    app = create_app()
    gamify = gamify_of(app)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        gamify.define_goals(GOALS)
        events = make_events(79, entities=4, seed=3)
        poison = make_event(
            "login", "victim", attributes={"note": "explodes-in-sql"}, event_id="poison-1"
        )
        emit(app, [*events[:30], poison, *events[30:]])
        started = Workers(pipeline_env, tmp_path)
        try:
            started.start("w1")
            wait_for(
                lambda: logged_events(app) == len(events),
                timeout=60,
                message="every other event was processed",
            )
            letters = wait_for(
                lambda: dead_letters(redis_server),
                timeout=30,
                message="the failing event was dead-lettered after its attempts",
            )
            log = started.log("w1")
        finally:
            started.stop_all()
        assert [json.loads(letter["event"])["id"] for letter in letters] == ["poison-1"]
        assert "ValueError" in letters[0]["error"] and letters[0]["attempts"] == "2"
        assert stream_total(redis_server, app) == 0
        entities = {event.entity_id for event in events}
        assert snapshot(gamify, entities) == expected_snapshot(events, tmp_path)
        # Split, not retried one by one: per attempt, one split per level of halving.
        splits = log.count("splitting it to isolate")
        assert 0 < splits <= 2 * math.ceil(math.log2(40)), log
        gamify.drop_all()
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def unavailable_database(database_url: str, is_postgres: bool) -> Iterator[tuple[str, object]]:
    """Make the test database refuse writes, as during a failover, until released.

    PostgreSQL: read-only for new sessions, existing sessions cut (a promoted standby).
    SQLite: an exclusive writer holds the lock, so writers time out ("database is locked").
    """
    if is_postgres:
        url = make_url(database_url)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        name = url.database

        def cut_sessions(connection: object) -> None:
            connection.execute(  # type: ignore[attr-defined]
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )

        refused = False

        def refuse() -> None:
            nonlocal refused
            refused = True
            with admin.connect() as connection:
                connection.execute(
                    text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
                )
                cut_sessions(connection)

        def release() -> None:
            nonlocal refused
            if not refused:
                return
            refused = False
            with admin.connect() as connection:
                connection.execute(
                    text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
                )
                cut_sessions(connection)

        yield "read-only", (refuse, release)
        release()
        admin.dispose()
    else:
        path = make_url(database_url).database
        holder = sqlite3.connect(path, timeout=30, isolation_level=None)

        def lock() -> None:
            holder.execute("BEGIN EXCLUSIVE")

        def unlock() -> None:
            if holder.in_transaction:
                holder.execute("COMMIT")

        yield "locked", (lock, unlock)
        unlock()
        holder.close()


def test_a_database_refusing_writes_loses_nothing_and_floods_nothing(
    papp: Flask,
    workers: Workers,
    redis_server: RedisServer,
    unavailable_database: tuple[str, object],
    tmp_path: Path,
) -> None:
    # Retries must not wait for another worker's claim of idle entries.
    workers.env["GAMIFY_PIPELINE_TEST_CLAIM_IDLE"] = "60s"
    kind, (refuse, release) = unavailable_database  # type: ignore[misc]
    refuse()
    gamify_of(papp).state.engine.dispose()  # this process's sessions were cut too
    events = make_events(200, entities=8, seed=21)
    emit(papp, events)
    worker = workers.start("w1")
    wait_for(
        lambda: "is unavailable" in workers.log("w1"),
        timeout=60,
        message=f"the worker noticed the {kind} database",
    )
    # Several backoff rounds while the database stays unavailable.
    time.sleep(4)
    assert worker.poll() is None, workers.log("w1")
    assert dead_letters(redis_server) == [], "an unavailable database is not poison"
    assert failed_rq_jobs(redis_server) == 0
    assert stream_total(redis_server, papp) == len(events), "the events stay in Redis"

    release()
    gamify_of(papp).state.engine.dispose()
    released = time.monotonic()
    wait_for(
        lambda: logged_events(papp) == len(events),
        timeout=30,
        message="every event was processed once the database was back",
    )
    assert time.monotonic() - released < 15, "processing resumes within seconds"
    assert dead_letters(redis_server) == [] and failed_rq_jobs(redis_server) == 0
    log = workers.log("w1")
    assert log.count("is unavailable") == 1, log
    assert log.count("is back after") == 1, log
    assert "Traceback" not in log, log
    entities = {event.entity_id for event in events}
    assert snapshot(gamify_of(papp), entities) == expected_snapshot(events, tmp_path)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", durable=True)
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()


def test_the_worker_outlives_a_redis_restart_in_the_middle_of_a_drain(
    database_url: str,
    durable_redis: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline_app import DATABASE, REDIS, create_app
    from workload import GOALS

    env = {DATABASE: database_url, REDIS: durable_redis.url, "GAMIFY_PIPELINE_TEST_BATCH": "10"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    gamify = gamify_of(app)
    started = Workers(env, tmp_path)
    try:
        with app.app_context():
            gamify.drop_all()
            gamify.create_all()
            gamify.define_goals(GOALS)
            events = make_events(1500, entities=10, seed=8)
            emit(app, events)
            worker = started.start("w1")
            wait_for(lambda: logged_events(app) > 100, timeout=60, message="the worker was busy")
            durable_redis.stop()
            wait_for(
                lambda: "Redis is unavailable" in started.log("w1"),
                timeout=30,
                message="the worker noticed Redis was gone",
            )
            assert worker.poll() is None, started.log("w1")
            durable_redis.start()
            wait_for(
                lambda: logged_events(app) == len(events),
                timeout=90,
                message="the worker finished the events after the restart",
            )
            assert worker.poll() is None, "the worker is still running"
            wait_for(
                lambda: durable_redis.client().smembers("rq:workers"),
                timeout=15,
                message="the worker is registered again",
            )
            client = durable_redis.client()
            wait_for(
                lambda: client.zcard("rq:wip:gamify") == 0,
                timeout=30,
                message="no drain job is left registered as started (abandoned later)",
            )
            assert failed_rq_jobs(durable_redis) == 0
            log = started.log("w1")
            assert "Traceback" not in log, log
            assert log.count("Redis is unavailable") == 1, log
            assert log.count("Redis is back after") == 1, log
            entities = {event.entity_id for event in events}
            assert snapshot(gamify, entities) == expected_snapshot(events, tmp_path)
            gamify.drop_all()
    finally:
        started.stop_all()
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()


def test_workers_with_a_clock_behind_keep_every_event(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    """An app host 10 minutes ahead of the workers (faketime moves the workers back)."""
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.fail("faketime is not installed; .ci/run installs it (apt-get install faketime).")
    events = [make_event("login", "skewed", event_id=f"skew-{index}") for index in range(3)]
    emit(papp, events)
    client = redis_server.client()
    future = {"type": "login", "entity": "raw-future", "occurred_at": "2999-01-01T00:00:00Z"}
    client.xadd(STREAM, {FIELD: json.dumps(future)})
    workers.env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    workers.start("w1", "--burst", prefix=[faketime, "-f", "-10m"]).wait(timeout=60)
    gamify = gamify_of(papp)
    assert gamify.has_completed("skewed", "login-3"), workers.log("w1")
    letters = dead_letters(redis_server)
    assert len(letters) == 1 and "raw-future" in letters[0]["event"], letters
    assert "in the future" in letters[0]["error"]


def test_a_worker_started_before_redis_waits_for_it(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    redis_server.stop()
    worker = workers.start("early")
    wait_for(
        lambda: "Redis is unavailable" in workers.log("early"),
        timeout=30,
        message="the worker said it waits for Redis",
    )
    assert worker.poll() is None, workers.log("early")
    redis_server.start()
    gamify_of(papp).track("login", "early-bird")
    wait_for(
        lambda: gamify_of(papp).progress("early-bird", "login-3").current == 1,
        timeout=30,
        message="the worker processed an event once Redis was up",
    )
    log = workers.log("early")
    assert "Traceback" not in log and log.count("Redis is back after") == 1, log
