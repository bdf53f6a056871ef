"""The Redis pipeline against a real redis-server and real worker processes.

Each test starts its own ``redis-server`` (``redis_server`` fixture) and runs
``flask --app pipeline_app gamify worker`` subprocesses on the test's database.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

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
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select
from workload import make_events, snapshot

from flask_gamify.events import make_event
from flask_gamify.models import Award, Event, Outbox
from flask_gamify.pipeline.streams import FIELD, encode_event, shard_for
from flask_gamify.testing import RedisServer


def test_events_flow_through_redis_to_progress(
    papp: Flask, workers: Workers, redis_server: RedisServer, tmp_path: Path
) -> None:
    events = make_events(300, entities=8, seed=11)
    emit(papp, events)
    assert logged_events(papp) == 0, "with Redis configured, track() must not process inline"
    assert stream_total(redis_server, papp) == len(events)

    workers.start("w1")
    wait_for(lambda: logged_events(papp) == len(events), timeout=60, message="all events ran")
    wait_for(
        lambda: stream_total(redis_server, papp) == 0,
        timeout=10,
        message="acknowledged entries are deleted",
    )
    entities = {event.entity_id for event in events}
    assert snapshot(gamify_of(papp), entities) == expected_snapshot(events, tmp_path)


def test_a_tracked_request_costs_one_round_trip_and_no_sql(
    papp: Flask, redis_server: RedisServer
) -> None:
    pipeline = papp.extensions["gamify"].pipeline
    sent: list[Any] = []
    connection_class = type(pipeline.client.connection_pool.get_connection())
    original = connection_class.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        original(self, command, check_health)

    queries: list[str] = []

    def on_query(*args: Any) -> None:
        queries.append(args[2])

    # A first request opens the pooled connection (its handshake is not per request).
    assert papp.test_client().post("/login", headers={"X-User": "ada"}).status_code == 200
    engine = gamify_of(papp).state.engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", on_query)
    connection_class.send_packed_command = counting  # type: ignore[method-assign]
    try:
        response = papp.test_client().post("/login", headers={"X-User": "ada"})
    finally:
        connection_class.send_packed_command = original  # type: ignore[method-assign]
        sqlalchemy_event.remove(engine, "before_cursor_execute", on_query)
    assert response.status_code == 200 and response.text == "welcome"
    assert len(sent) == 1, f"one pipelined round trip per request, not {sent}"
    assert queries == []
    shard = shard_for("user", "ada", pipeline.keys.shards)
    entries = redis_server.client().xrange(pipeline.keys.stream(shard))
    types = sorted(json.loads(fields[FIELD.encode()])["type"] for _, fields in entries)
    assert types == ["login", "login", "visit", "visit"]


def test_raw_xadd_is_processed_within_two_seconds(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    workers.start("w1")
    client = redis_server.client()
    wait_for(lambda: client.smembers("rq:workers"), timeout=20, message="the worker started")
    gamify = gamify_of(papp)
    for index in range(3):
        client.xadd("gamify:events:1", {"event": json.dumps({"type": "login", "entity": "raw"})})
        expected = index + 1
        wait_for(
            lambda n=expected: gamify.progress("raw", "login-3").current == n,  # type: ignore[misc]
            timeout=2,
            message=f"raw event {expected} was processed",
        )
    assert gamify.has_completed("raw", "login-3")


def test_redelivered_events_count_once(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    event = make_event("login", "twice", event_id="client-retry-1")
    client = redis_server.client()
    for shard in range(2):  # delivered twice, even through different shards
        client.xadd(f"gamify:events:{shard}", {FIELD: encode_event(event)})
    emit(papp, [event, make_event("login", "twice", event_id="client-retry-2")])
    workers.start("w1", "--burst")
    workers.processes[-1].wait(timeout=60)
    assert gamify_of(papp).progress("twice", "login-3").current == 2
    assert logged_events(papp) == 2


def test_poison_events_are_dead_lettered_without_blocking(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    client = redis_server.client()
    stream = "gamify:events:2"
    client.xadd(stream, {FIELD: "{not json"})
    client.xadd(stream, {FIELD: json.dumps({"type": "login"})})  # valid JSON, no entity
    # A valid event whose processing raises (the test app's database hook fails on it,
    # as a bug triggered by one event would).
    workers.env[POISON] = "poisoned-value"
    poison = {"type": "login", "entity": "corrupt", "attributes": {"note": "poisoned-value"}}
    client.xadd(stream, {FIELD: json.dumps(poison)})
    for _ in range(3):
        client.xadd(stream, {FIELD: json.dumps({"type": "login", "entity": "p"})})
    workers.start("w1")
    gamify = gamify_of(papp)
    wait_for(
        lambda: gamify.has_completed("p", "login-3"),
        timeout=20,
        message="events behind the poison were processed",
    )
    wait_for(
        lambda: client.xlen("gamify:dead-letters") == 3,
        timeout=30,
        message="the three poison events were dead-lettered",
    )
    assert client.xlen(stream) == 0

    runner = papp.test_cli_runner()
    listed = runner.invoke(args=["gamify", "dead-letters", "list"])
    assert listed.exit_code == 0
    assert "Malformed event" in listed.output and "ValueError" in listed.output
    assert "entity: Must be the entity's id" in listed.output
    status = runner.invoke(args=["gamify", "status"])
    assert "dead letters: 3" in status.output

    first_id = client.xrange("gamify:dead-letters", count=1)[0][0].decode()
    dropped = runner.invoke(args=["gamify", "dead-letters", "drop", first_id])
    assert dropped.exit_code == 0 and "Dropped 1" in dropped.output
    replayed = runner.invoke(args=["gamify", "dead-letters", "replay", "--all"])
    assert replayed.exit_code == 0 and "Replayed 2" in replayed.output
    wait_for(
        lambda: client.xlen("gamify:dead-letters") == 2,
        timeout=30,
        message="the replayed poison events failed again and came back",
    )
    missing = runner.invoke(args=["gamify", "dead-letters", "replay", "0-1"])
    assert missing.exit_code != 0 and "No dead letter" in missing.output


def test_a_killed_worker_loses_nothing(
    papp: Flask,
    workers: Workers,
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMIFY_PIPELINE_TEST_BATCH", "5")
    events = make_events(1500, entities=10, seed=5)
    emit(papp, events)
    victim = workers.start("victim")
    wait_for(lambda: logged_events(papp) > 100, timeout=60, message="the victim was busy")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert logged_events(papp) < len(events), "the victim must die in the middle of the work"

    started = time.monotonic()
    workers.start("rescuer")
    wait_for(
        lambda: logged_events(papp) == len(events),
        timeout=60,
        message="the rescuer processed the victim's events",
    )
    assert time.monotonic() - started < 60
    entities = {event.entity_id for event in events}
    assert snapshot(gamify_of(papp), entities) == expected_snapshot(events, tmp_path)


def test_sigterm_finishes_the_batch_and_exits(
    papp: Flask,
    workers: Workers,
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMIFY_PIPELINE_TEST_BATCH", "20")
    events = make_events(2000, entities=10, seed=6)
    emit(papp, events)
    worker = workers.start("w1")
    wait_for(lambda: logged_events(papp) > 100, timeout=60, message="the worker was busy")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    done = logged_events(papp)
    pending = sum(
        int(redis_server.client().xpending(stream, "gamify")["pending"])
        for stream in papp.extensions["gamify"].pipeline.keys.streams()
    )
    assert pending == 0, "a warm shutdown leaves no delivered entry unacknowledged"
    assert done + stream_total(redis_server, papp) == len(events)

    workers.start("w2", "--burst").wait(timeout=120)
    entities = {event.entity_id for event in events}
    assert snapshot(gamify_of(papp), entities) == expected_snapshot(events, tmp_path)


def test_redis_down_keeps_events_in_the_outbox(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    redis_server.stop()
    client = papp.test_client()
    for index in range(5):
        started = time.monotonic()
        response = client.post("/login", headers={"X-User": f"offline-{index % 2}"})
        assert response.status_code == 200 and response.text == "welcome"
        assert time.monotonic() - started < 2, "Redis timeouts bound the request"
    with gamify_of(papp).state.transaction() as session:
        assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 10

    redis_server.start()
    workers.start("w1")
    gamify = gamify_of(papp)
    wait_for(lambda: logged_events(papp) == 10, timeout=30, message="the outbox was relayed")
    assert gamify.progress("offline-0", "login-3").current == 3
    assert gamify.progress("offline-1", "login-3").current == 2
    with gamify.state.transaction() as session:
        assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 0


def test_redis_memory_stays_bounded(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    client = redis_server.client()
    workers.start("w1")
    usage = []
    for round_number in range(6):
        events = make_events(400, entities=20, seed=100 + round_number)
        emit(papp, events)
        target = 400 * (round_number + 1)
        wait_for(
            lambda t=target: logged_events(papp) == t,
            timeout=60,  # type: ignore[misc]
            message=f"round {round_number} was drained",
        )
        wait_for(
            lambda: stream_total(redis_server, papp) == 0,
            timeout=10,
            message="entries were deleted",
        )
        # Compare quiet moments: no drain job queued, running or holding a shard's guard
        # (a finishing job's hash and registries are RQ's transient bookkeeping).
        wait_for(
            lambda: (
                not client.keys("gamify:drain:*")
                and client.llen("rq:queue:gamify") == 0
                and not client.keys("rq:job:*")
                and not client.keys("rq:wip:*")
            ),
            timeout=20,
            message="the drain jobs finished",
        )
        usage.append((int(client.info("memory")["used_memory"]), int(client.dbsize())))
    first_memory, first_keys = usage[1]
    last_memory, last_keys = usage[-1]
    assert last_keys <= first_keys + 2, usage
    assert last_memory < first_memory * 1.25, usage


def test_several_workers_on_postgresql_award_once(
    papp: Flask,
    workers: Workers,
    redis_server: RedisServer,
    tmp_path: Path,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not is_postgres:
        pytest.skip("several workers share one database on PostgreSQL (SQLite: one writer)")
    monkeypatch.setenv("GAMIFY_PIPELINE_TEST_BATCH", "25")
    events = make_events(1500, entities=6, seed=9)
    emit(papp, events)
    # The same events again, through other shards: overlapping deliveries.
    client = redis_server.client()
    for event in events[:500]:
        client.xadd("gamify:events:0", {FIELD: encode_event(event)})
    for name in ("a", "b", "c"):
        workers.start(name)
    wait_for(
        lambda: stream_total(redis_server, papp) == 0 and logged_events(papp) == len(events),
        timeout=90,
        message="three workers drained everything",
    )
    entities = {event.entity_id for event in events}
    assert snapshot(gamify_of(papp), entities) == expected_snapshot(events, tmp_path)
    with gamify_of(papp).state.transaction() as session:
        awards = session.execute(select(Award.goal_id, Award.entity_id, Award.occurrence)).all()
    assert len(awards) == len(set(awards)) > 0


def test_track_outside_a_request_sends_at_once(
    papp: Flask, workers: Workers, redis_server: RedisServer
) -> None:
    gamify = gamify_of(papp)
    event_id = gamify.track("login", "solo")
    assert stream_total(redis_server, papp) == 1
    assert gamify.progress("solo", "login-3").current == 0, "processed by workers, not inline"
    workers.start("w1", "--burst").wait(timeout=60)
    assert gamify.progress("solo", "login-3").current == 1
    with gamify.state.transaction() as session:
        assert session.get(Event, event_id) is not None
