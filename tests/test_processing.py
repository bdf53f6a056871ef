"""Batch processing: idempotency, order and batching independence, concurrent workers."""

from __future__ import annotations

import logging
import multiprocessing
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import wait_for
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from workload import GOALS, as_arguments, make_events, process_in_batches, snapshot

from flask_gamify import Gamify
from flask_gamify.events import TrackedEvent, make_event
from flask_gamify.models import Award, Event, utcnow
from flask_gamify.processing import MAX_NEW_AWARDS, BatchResult


def reset(gamify: Gamify) -> None:
    gamify.drop_all()
    gamify.create_all()
    gamify.define_goals(GOALS)


def test_same_progress_whatever_the_batching_and_order(app: Flask, gamify: Gamify) -> None:
    events = make_events(400, entities=12, seed=1)
    entities = {event.entity_id for event in events}
    processor = gamify.state.processor

    reset(gamify)
    processor.process(events)
    expected = snapshot(gamify, entities)
    assert any(entity["awards"] for entity in expected.values())

    rng = random.Random(7)
    for _ in range(2):
        reset(gamify)
        shuffled = events[:]
        rng.shuffle(shuffled)
        start = 0
        while start < len(shuffled):
            size = rng.randint(1, 60)
            processor.process(shuffled[start : start + size])
            start += size
        assert snapshot(gamify, entities) == expected


def test_an_event_id_is_processed_once(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("logins", criteria={"type": "count", "event": "login", "target": 10})
    first = make_event("login", 1, event_id="same")
    again = make_event("login", 1, event_id="same")
    other = make_event("login", 1)
    processor = gamify.state.processor

    result = processor.process([first, again, other])
    assert [event.id for event in result.accepted] == ["same", other.id]
    assert result.duplicates == 1
    result = processor.process([again, other])
    assert result.accepted == [] and result.duplicates == 2

    assert gamify.progress(1, "logins").current == 2
    with gamify.state.transaction() as session:
        assert session.execute(select(func.count()).select_from(Event)).scalar_one() == 2


def test_a_batch_with_no_new_events_changes_nothing(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first", criteria={"type": "count", "event": "login", "target": 1})
    event = make_event("login", "u")
    assert gamify.state.processor.process([event]).awards
    replay = gamify.state.processor.process([event])
    assert replay.changes == [] and replay.awards == []
    assert [a.occurrence for a in gamify.awards("u")] == [1]


def _run_concurrently(database_url: str, parts: list[list[TrackedEvent]]) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(parts))
    workers = [
        context.Process(
            target=process_in_batches,
            args=(database_url, [as_arguments(e) for e in part], 25, seed, barrier),
        )
        for seed, part in enumerate(parts)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0, "a worker process failed; see its output above"


def test_concurrent_workers_award_once(
    app: Flask, gamify: Gamify, database_url: str, is_postgres: bool
) -> None:
    """Two processes with overlapping batches for the same entities (invariants 3 to 5)."""
    if not is_postgres:
        pytest.skip("concurrent writers need PostgreSQL (SQLite allows one writer)")
    events = make_events(600, entities=6, seed=3)
    entities = {event.entity_id for event in events}

    reset(gamify)
    gamify.state.processor.process(events)
    expected = snapshot(gamify, entities)

    reset(gamify)
    _run_concurrently(database_url, [events[:400], events[200:]])

    assert snapshot(gamify, entities) == expected
    with gamify.state.transaction() as session:
        awards = session.execute(select(Award.goal_id, Award.entity_id, Award.occurrence)).all()
        logged = session.execute(select(func.count()).select_from(Event)).scalar_one()
    assert len(awards) == len(set(awards)) > 0
    assert logged == len(events)


def test_one_event_worth_millions_of_awards_gives_a_bounded_number_per_batch(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal(
        "spender",
        name="Spender",
        repeatable=True,
        criteria={"type": "sum", "event": "spent", "field": "amount", "target": 0.001},
    )
    started = time.monotonic()
    gamify.track("spent", "whale", attributes={"amount": 2**53 - 1})
    assert time.monotonic() - started < 30, "no award row per occurrence of the whole sum"
    assert len(gamify.awards("whale")) == MAX_NEW_AWARDS
    assert gamify.progress("whale", "spender").completed
    gamify.track("spent", "whale", attributes={"amount": 1})
    assert len(gamify.awards("whale")) == 2 * MAX_NEW_AWARDS


def test_a_progress_row_created_meanwhile_by_another_writer_is_folded_into(
    app: Flask, gamify: Gamify, is_postgres: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch writes its new progress rows once, at the end: when another transaction
    created one of them meanwhile, the batch runs again and folds into that row."""
    if not is_postgres:
        pytest.skip("concurrent writers need PostgreSQL (SQLite allows one writer)")
    gamify.define_goal("logins", criteria={"type": "count", "event": "login", "target": 10})
    processor = gamify.state.processor
    created, release = threading.Event(), threading.Event()

    def other_writer(session: Session) -> BatchResult:
        result = processor._process(session, [make_event("login", "alice")], utcnow())
        created.set()  # alice's row exists, uncommitted, until the test releases it
        assert release.wait(30)
        return result

    def waiting_on_a_lock() -> bool:
        with gamify.state.transaction() as session:
            return bool(
                session.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()"
                    )
                ).scalar_one()
            )

    caplog.set_level(logging.INFO, logger="flask_gamify")
    with ThreadPoolExecutor(2) as pool:
        other = pool.submit(processor._transaction, other_writer)
        assert created.wait(30)
        batch = pool.submit(processor.process, [make_event("login", "alice")])
        wait_for(waiting_on_a_lock, timeout=30, message="the batch waits on the new row")
        release.set()
        other.result(timeout=30)
        batch.result(timeout=30)

    assert gamify.progress("alice", "logins").current == 2
    assert "were created meanwhile" in caplog.text
