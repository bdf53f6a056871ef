"""The request path of the Redis pipeline: how a tracked request's events reach Redis.

``@tracks`` writes the request's XADD commands as soon as its response is made, and the
replies are read when the request ends (``teardown_request``); events tracked after
that write are sent when the request ends. Every event is confirmed by Redis or kept
in the outbox before the request's context is gone. Real ``redis-server``, no workers.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import wait_for
from flask import Flask, Response, request, stream_with_context
from hypothesis import given
from hypothesis import strategies as st
from pipeline_support import gamify_of
from sqlalchemy import func, select

from flask_gamify import tracks
from flask_gamify.events import TrackedEvent, make_event, new_event_id
from flask_gamify.models import Outbox, utcnow
from flask_gamify.pipeline.emitter import _read_ids
from flask_gamify.pipeline.streams import FIELD, encode_event
from flask_gamify.testing import RedisServer


def stream_events(redis_server: RedisServer, app: Flask) -> list[dict[str, Any]]:
    """Every event in the app's streams, by shard, each shard oldest first."""
    client = redis_server.client()
    found = []
    for stream in app.extensions["gamify"].pipeline.keys.streams():
        for _entry_id, fields in client.xrange(stream):
            found.append(json.loads(fields[FIELD.encode()]))
    return found


def outbox_events(app: Flask) -> list[dict[str, Any]]:
    with gamify_of(app).state.transaction() as session:
        return [row.event for row in session.execute(select(Outbox)).scalars()]


def outbox_count(app: Flask) -> int:
    with gamify_of(app).state.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Outbox)).scalar_one())


def test_a_tracked_request_writes_when_its_response_is_made(
    papp: Flask, redis_server: RedisServer
) -> None:
    """The XADD is in Redis before the request ends, and confirmed when it ends."""
    seen_in_after_request: list[int] = []

    @papp.after_request
    def look(response: Response) -> Response:
        if request.path == "/login":
            # Written by @tracks before after_request runs; Redis may still be adding it.
            seen_in_after_request.append(
                wait_for(
                    lambda: len(stream_events(redis_server, papp)) >= 2,
                    timeout=5,
                    message="the request's XADDs reached Redis",
                )
            )
        return response

    response = papp.test_client().post("/login", headers={"X-User": "early"})
    assert response.status_code == 200 and response.text == "welcome"
    assert seen_in_after_request == [True]
    events = stream_events(redis_server, papp)
    assert sorted(event["type"] for event in events) == ["login", "visit"]
    assert outbox_count(papp) == 0
    emitter = papp.extensions["gamify"].pipeline.emitter
    assert len(emitter._idle) == 1, "the connection is back once its replies are read"


def test_an_event_tracked_after_the_write_is_sent_when_the_request_ends(
    papp: Flask, redis_server: RedisServer
) -> None:
    @papp.after_request
    def late(response: Response) -> Response:
        gamify_of(papp).track("late", request.headers["X-User"])
        return response

    response = papp.test_client().post("/login", headers={"X-User": "late-1"})
    assert response.status_code == 200 and response.text == "welcome"
    events = stream_events(redis_server, papp)  # one entity: one shard, in order
    assert [event["type"] for event in events] == ["visit", "login", "late"]
    assert outbox_count(papp) == 0


def test_redis_not_answering_after_the_write_keeps_the_events_in_the_outbox(
    papp: Flask, redis_server: RedisServer
) -> None:
    """Redis takes the XADD but does not answer within GAMIFY_REDIS_TIMEOUT: outbox."""
    admin = redis_server.client()

    @papp.before_request
    def pause() -> None:
        if request.headers.get("X-Pause"):
            admin.client_pause(1500, all=False)  # holds write commands for 1.5 s

    client = papp.test_client()
    response = client.post("/login", headers={"X-User": "paused", "X-Pause": "1"})
    assert response.status_code == 200 and response.text == "welcome"
    kept = outbox_events(papp)
    assert sorted(event["type"] for event in kept) == ["login", "visit"]
    assert all(event["entity"] == "paused" and event["received_at"] for event in kept)
    emitter = papp.extensions["gamify"].pipeline.emitter
    assert emitter._idle == [], "a connection with an unread reply is never reused"

    # Once the pause is over (a write of this client waits for it), the next requests
    # use a new connection, and the replies they read are their own. Redis dropped the
    # held commands of the connection that was closed; had it run them, the workers
    # would count those events once (same ids as in the outbox).
    admin.set("pause-is-over", 1)
    emitter._down_until = 0.0  # skip the 5 s during which events go straight to the outbox
    for _ in range(3):
        assert client.post("/login", headers={"X-User": "after"}).status_code == 200
    streamed = stream_events(redis_server, papp)
    assert len([event for event in streamed if event["entity"] == "after"]) == 6
    assert {event["id"] for event in streamed if event["entity"] == "paused"} <= {
        event["id"] for event in kept
    }
    assert outbox_count(papp) == 2


def test_redis_stopped_keeps_every_event_in_the_outbox(
    papp: Flask, redis_server: RedisServer
) -> None:
    client = papp.test_client()
    assert client.post("/login", headers={"X-User": "before"}).status_code == 200
    redis_server.stop()  # the kept connection now leads nowhere
    for index in range(3):
        response = client.post("/login", headers={"X-User": f"down-{index}"})
        assert response.status_code == 200 and response.text == "welcome"
    kept = outbox_events(papp)
    assert (
        sorted(event["entity"] for event in kept)
        == ["down-0"] * 2 + ["down-1"] * 2 + ["down-2"] * 2
    )


def test_a_restarted_redis_gets_the_next_events(papp: Flask, redis_server: RedisServer) -> None:
    """The kept connection died with the server: the next request opens a new one."""
    client = papp.test_client()
    assert client.post("/login", headers={"X-User": "first"}).status_code == 200
    redis_server.stop()
    redis_server.start()  # not durable: starts empty
    response = client.post("/login", headers={"X-User": "second"})
    assert response.status_code == 200 and response.text == "welcome"
    events = stream_events(redis_server, papp)
    assert sorted((event["entity"], event["type"]) for event in events) == [
        ("second", "login"),
        ("second", "visit"),
    ]
    assert outbox_count(papp) == 0


@pytest.mark.parametrize("with_context", [True, False])
def test_streamed_responses_are_tracked(
    papp: Flask, redis_server: RedisServer, with_context: bool
) -> None:
    @papp.get("/stream")
    @tracks("download", attributes=lambda: {"file": "report"})
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for index in range(3):
                # request.args needs the request context while streaming.
                yield f"{request.args['prefix'] if with_context else 'part'}-{index};"

        body = stream_with_context(chunks()) if with_context else chunks()
        return Response(body, mimetype="text/plain")

    expected = "part-0;part-1;part-2;"
    response = papp.test_client().get(
        "/stream?prefix=part", headers={"X-User": "streamer"}, buffered=False
    )
    assert response.status_code == 200
    assert b"".join(response.response).decode() == expected  # type: ignore[arg-type]
    response.close()
    events = stream_events(redis_server, papp)
    assert [(event["type"], event["attributes"]) for event in events] == [
        ("download", {"file": "report"})
    ]
    assert outbox_count(papp) == 0


def test_error_responses_write_nothing(papp: Flask, redis_server: RedisServer) -> None:
    @papp.get("/missing")
    @tracks("seen")
    def missing() -> tuple[str, int]:
        return "no", 404

    assert papp.test_client().get("/missing", headers={"X-User": "x"}).status_code == 404
    assert stream_events(redis_server, papp) == []
    assert outbox_count(papp) == 0


def test_concurrent_requests_never_share_a_connection(
    papp: Flask, redis_server: RedisServer
) -> None:
    threads, per_thread = 6, 40
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            client = papp.test_client()
            for number in range(per_thread):
                response = client.post("/login", headers={"X-User": f"t{index}-{number % 3}"})
                assert response.status_code == 200 and response.text == "welcome"
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    events = stream_events(redis_server, papp)
    assert len(events) == threads * per_thread * 2
    assert len({event["id"] for event in events}) == len(events)
    assert outbox_count(papp) == 0
    emitter = papp.extensions["gamify"].pipeline.emitter
    assert 1 <= len(emitter._idle) <= threads


def test_outside_requests_events_are_sent_at_once(papp: Flask, redis_server: RedisServer) -> None:
    gamify_of(papp).track("cli", "shell-user")
    events = stream_events(redis_server, papp)
    assert [(event["type"], event["entity"]) for event in events] == [("cli", "shell-user")]


# -- the wire format, without Redis -------------------------------------------------

names = st.text(min_size=1, max_size=40).filter(lambda text: text.strip() != "")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    event_type=names,
    entity=names,
    entity_type=names,
    attributes=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    stamped=st.booleans(),
)
def test_encode_event_is_json_dumps_of_to_dict(
    event_type: str, entity: str, entity_type: str, attributes: dict[str, Any], stamped: bool
) -> None:
    from flask_gamify.errors import EventError

    try:
        event = make_event(event_type, entity, entity_type=entity_type, attributes=attributes)
    except EventError:
        return  # not an event (NUL, lone surrogates, too deep): never encoded
    received_at = utcnow() if stamped else None
    expected = event.to_dict()
    if received_at is not None:
        expected["received_at"] = received_at.isoformat()
    encoded = encode_event(event, received_at=received_at)
    assert encoded == json.dumps(expected, separators=(",", ":"))
    assert encode_event(event, received_at=received_at and received_at.isoformat()) == encoded
    assert encode_event(event.to_dict(), received_at=received_at) == encoded


def test_encode_event_takes_any_mapping_of_attributes() -> None:
    from types import MappingProxyType

    event = make_event("login", "m", attributes={"a": 1})
    proxied = TrackedEvent(
        event.id,
        event.type,
        event.entity_type,
        event.entity_id,
        event.occurred_at,
        MappingProxyType({"a": 1}),
    )
    assert encode_event(proxied) == encode_event(event)


def test_new_event_ids_are_random_uuids() -> None:
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value and len(value) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_names_found_valid_are_remembered_and_bounded() -> None:
    from flask_gamify import events
    from flask_gamify.errors import EventError

    events._VALID_NAMES.clear()
    make_event("login", "remembered")
    assert ("remembered", events.ENTITY_LENGTH) in events._VALID_NAMES
    for index in range(events._VALID_NAMES_MAX + 10):
        make_event("login", f"e{index}")
    assert len(events._VALID_NAMES) <= events._VALID_NAMES_MAX
    # Remembering never lets a bad name through, whatever the limit.
    with pytest.raises(EventError) as raised:
        make_event("login", "x" * (events.ENTITY_LENGTH + 1))
    assert "entity" in raised.value.errors


def test_an_error_reply_keeps_the_events_in_the_outbox(
    papp: Flask, redis_server: RedisServer
) -> None:
    """XADD to a key of another type fails (WRONGTYPE): both of the request's events go
    to the outbox, and the connection is not reused."""
    pipeline = papp.extensions["gamify"].pipeline
    stream = pipeline.keys.stream_for("user", "wrong")
    redis_server.client().set(stream, "not a stream")
    response = papp.test_client().post("/login", headers={"X-User": "wrong"})
    assert response.status_code == 200 and response.text == "welcome"
    assert sorted(event["type"] for event in outbox_events(papp)) == ["login", "visit"]
    assert pipeline.emitter._idle == []


# -- reading XADD replies -------------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, server = socket.socketpair()
    ours.settimeout(0.2)
    yield ours, server
    ours.close()
    server.close()


@pytest.mark.parametrize("piece", [1, 3, 1000])
def test_replies_are_read_whatever_the_pieces(
    pair: tuple[socket.socket, socket.socket], piece: int
) -> None:
    ours, server = pair
    replies = b"$15\r\n1700000000000-0\r\n$15\r\n1700000000000-1\r\n"

    def answer() -> None:
        for start in range(0, len(replies), piece):
            server.sendall(replies[start : start + piece])

    sender = threading.Thread(target=answer)
    sender.start()
    _read_ids(ours, 2)
    sender.join()
    server.sendall(b"$3\r\n1-0\r\n")  # nothing of the first exchange was left unread
    _read_ids(ours, 1)


def test_an_error_reply_is_raised_after_every_reply_is_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, server = pair
    server.sendall(b"-WRONGTYPE Operation against a key\r\n$3\r\n1-0\r\n")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        _read_ids(ours, 2)


@pytest.mark.parametrize(
    "reply",
    [b"+OK\r\n", b"$-1\r\n", b"$x\r\n", b":1\r\n", b"$3\r\n1-0\r\n$3\r\n1-1\r\n"],
    ids=["status", "null", "garbage", "integer", "one-too-many"],
)
def test_an_unexpected_reply_is_a_connection_error(
    pair: tuple[socket.socket, socket.socket], reply: bytes
) -> None:
    ours, server = pair
    server.sendall(reply)
    with pytest.raises(redis.ConnectionError):
        _read_ids(ours, 1)


def test_a_closed_or_silent_connection_raises(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, server = pair
    with pytest.raises(redis.TimeoutError):
        _read_ids(ours, 1)
    server.sendall(b"$3\r\n1-")
    server.close()
    with pytest.raises(redis.ConnectionError, match="closed"):
        _read_ids(ours, 1)
