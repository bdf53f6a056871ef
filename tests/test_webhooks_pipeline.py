"""Webhooks with Redis: real RQ workers deliver the outbox, through crashes and outages.

Workers are ``flask gamify worker`` subprocesses (:mod:`pipeline_support`); the receiver
verifies every delivery with the ``standardwebhooks`` reference package.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from conftest import wait_for
from flask import Flask
from pipeline_support import Workers, emit, gamify_of
from webhook_receiver import Receiver

from flask_gamify.events import make_event
from flask_gamify.testing import RedisServer

FIRST_LOGIN = {"type": "count", "event": "login", "target": 1}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def subscribe(app: Flask, receiver: Receiver) -> int:
    gamify = gamify_of(app)
    gamify.define_goal("first-login", criteria=FIRST_LOGIN, points=1)
    endpoint = gamify.add_webhook(receiver.url, events=["award.created"])
    assert endpoint.secret is not None
    receiver.secrets.append(endpoint.secret)
    return endpoint.id


def first_logins(receiver: Receiver) -> list[str]:
    """The entities whose first-login award was accepted, one entry per acceptance."""
    return sorted(
        item.payload["data"]["entity"]
        for item in receiver.accepted()
        if item.payload["data"]["goal"] == "first-login"
    )


def test_awards_made_by_workers_are_delivered_once_each(
    papp: Flask, workers: Workers, receiver: Receiver
) -> None:
    subscribe(papp, receiver)
    receiver.fail_first = 3  # retried, each with the id of its first attempt
    users = [f"user-{number}" for number in range(20)]
    emit(papp, [make_event("login", user) for user in users])
    workers.start("w1")

    wait_for(
        lambda: first_logins(receiver) == sorted(users),
        timeout=60,
        message="every first-login award was delivered",
    )
    gamify = gamify_of(papp)

    def first_login_deliveries() -> list:
        return [
            d
            for d in gamify.webhook_deliveries(limit=1000)
            if d.payload["data"]["goal"] == "first-login"
        ]

    # The receiver answers before the worker records the delivery: await the record.
    wait_for(
        lambda: {d.status for d in first_login_deliveries()} == {"delivered"},
        timeout=30,
        message="every delivery is recorded as delivered",
    )
    deliveries = first_login_deliveries()
    assert len(deliveries) == 20
    ids = {delivery.event_id for delivery in deliveries}
    assert len(ids) == 20
    assert {item.event_id for item in receiver.received} <= {
        d.event_id for d in gamify.webhook_deliveries(limit=1000)
    }
    assert sum(delivery.attempts for delivery in deliveries) == 23
    assert all(item.verified_with for item in receiver.received)
    assert "Traceback" not in workers.log("w1"), workers.log("w1")


def test_a_worker_killed_mid_delivery_is_replaced_and_the_event_redelivered(
    pipeline_env: dict[str, str],
    papp: Flask,
    workers: Workers,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribe(papp, receiver)
    receiver.hang = True
    emit(papp, [make_event("login", "alice")])
    doomed = workers.start("doomed")
    wait_for(receiver.hung.is_set, timeout=60, message="the receiver got the first attempt")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    receiver.hang = False
    receiver.release()
    workers.start("heir")

    gamify = gamify_of(papp)

    def delivered() -> bool:
        (delivery,) = gamify.webhook_deliveries()
        return delivery.status == "delivered"

    # Redelivered once the dead worker's lease lapses (2 x GAMIFY_WEBHOOK_TIMEOUT + 5 s).
    wait_for(delivered, timeout=60, message="the heir delivered the event again")
    (delivery,) = gamify.webhook_deliveries()
    assert len(receiver.received) >= 2
    assert {item.event_id for item in receiver.received} == {delivery.event_id}
    assert all(item.verified_with for item in receiver.received)


def test_awards_made_while_redis_is_down_are_delivered_when_it_returns(
    papp: Flask, workers: Workers, receiver: Receiver, redis_server: RedisServer
) -> None:
    subscribe(papp, receiver)
    gamify = gamify_of(papp)
    worker = workers.start("w1")
    gamify.award("alice", "first-login", reason="welcome")
    wait_for(
        lambda: first_logins(receiver) == ["alice"],
        timeout=60,
        message="the worker delivers while Redis is up",
    )

    redis_server.stop()
    gamify.award("bob", "first-login", reason="welcome")  # no job can be queued now
    gamify.award("carol", "first-login", reason="welcome")
    assert {d.status for d in gamify.webhook_deliveries(status="pending")} == {"pending"}
    assert worker.poll() is None
    redis_server.start()

    wait_for(
        lambda: first_logins(receiver) == ["alice", "bob", "carol"],
        timeout=90,
        message="the deliveries kept in SQL were sent after Redis returned",
    )
    # The receiver answers before the worker records the delivery: await the record.
    wait_for(
        lambda: {d.status for d in gamify.webhook_deliveries()} == {"delivered"},
        timeout=30,
        message="every delivery is recorded as delivered",
    )
    assert worker.poll() is None, workers.log("w1")


def test_a_delivery_job_cut_off_by_a_redis_restart_does_not_stop_the_worker(
    papp: Flask, workers: Workers, receiver: Receiver, redis_server: RedisServer
) -> None:
    """Redis goes away while a delivery job runs and comes back empty: the job's RQ
    records are gone, and the worker carries on (it used to quit tidying them up)."""
    subscribe(papp, receiver)
    gamify = gamify_of(papp)
    worker = workers.start("w1")
    receiver.hang = True
    gamify.award("alice", "first-login", reason="welcome")
    wait_for(receiver.hung.is_set, timeout=60, message="the delivery job is sending")

    redis_server.stop()
    # Due while the job still runs: it claims them, then cannot renew its guard.
    gamify.award("bob", "first-login", reason="welcome")
    gamify.award("carol", "first-login", reason="welcome")
    receiver.hang = False
    receiver.release()
    wait_for(
        lambda: "Redis is unavailable" in workers.log("w1"),
        timeout=60,
        message="the worker noticed the outage",
    )
    redis_server.start()  # empty: no persistence

    try:
        wait_for(
            lambda: first_logins(receiver) == ["alice", "bob", "carol"],
            timeout=90,
            message="every award was delivered",
        )
    finally:
        print(workers.log("w1"))  # pytest shows it when the test fails
    assert worker.poll() is None, workers.log("w1")


def test_a_hanging_receiver_does_not_stop_event_processing(
    papp: Flask, workers: Workers, receiver: Receiver
) -> None:
    from pipeline_support import logged_events

    subscribe(papp, receiver)
    receiver.hang = True
    emit(papp, [make_event("login", "alice")])
    workers.start("events", "--no-webhooks")
    workers.start("hooks", "--webhooks-only")
    wait_for(receiver.hung.is_set, timeout=60, message="a delivery is hanging")
    more = [make_event("login", f"later-{number}") for number in range(50)]
    emit(papp, more)
    wait_for(
        lambda: logged_events(papp) == 51,
        timeout=30,
        message="events were processed while the receiver hung",
    )
    receiver.hang = False
    receiver.release()
    wait_for(
        lambda: len(set(first_logins(receiver))) == 51,
        timeout=60,
        message="every award was delivered once the receiver answered",
    )
