"""Sending events to Redis: one pipelined round trip, an outbox when Redis is down.

During a request, events are buffered and sent together; outside requests (CLI, shell,
jobs) they are sent at once. If Redis cannot be reached within ``GAMIFY_REDIS_TIMEOUT``,
the events are written to the ``gamify_outbox`` table through gamify's own session, and
workers relay them once Redis is back: nothing is lost, and the host's request still
gets its normal response.

A request's round trip is split in two: a ``@tracks`` view writes the commands as soon
as its response is made (:meth:`RedisEmitter.send_buffered`), and the replies are read
when the request ends (:meth:`RedisEmitter.flush_request`, from ``teardown_request``),
so that Redis works while Flask finishes the response. Every event is still confirmed
by Redis, or kept in the outbox, before the request's context is gone. Events tracked
without ``@tracks``, or after its write, are sent when the request ends.

The send path is lean, since every tracked request pays for it: the ``XADD`` commands
are packed here (a stream's part once), written with one ``sendall`` on a connection
this emitter keeps, and their replies read with redis-py's parser. The connections are
redis-py's own (the client's connection class and settings: TLS, password, database,
timeouts), without the client's per-command bookkeeping and the pool's readiness check,
which cost more than the round trip itself on loopback (see ``docs/performance.rst``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis
from flask import g, has_request_context
from sqlalchemy.exc import SQLAlchemyError

from ..events import TrackedEvent
from ..models import Outbox, utcnow
from .streams import FIELD, StreamKeys, encode_event

if TYPE_CHECKING:
    from ..state import GamifyState

__all__ = ["RedisEmitter"]

logger = logging.getLogger("flask_gamify")
_BUFFER = "_gamify_events"
_SENT = "_gamify_sent"


def _bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _read_ids(sock: socket.socket, replies: int) -> None:
    """Read ``replies`` replies to XADD (RESP2: entry ids, or errors) from ``sock``.

    redis-py's parser takes about 7 µs per reply in Python layers; an XADD answers with
    a bulk string or an error, which this reads in a fraction of that. Raises
    :class:`redis.ResponseError` for the first error reply (after reading them all),
    :class:`redis.TimeoutError` past the socket's timeout (``GAMIFY_REDIS_TIMEOUT``),
    and :class:`redis.ConnectionError` when the connection closes or answers anything
    else.
    """
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError as error:  # socket.timeout
            raise redis.TimeoutError("Timeout reading from socket") from error
        except OSError as error:
            raise redis.ConnectionError(f"Error while reading from socket: {error}") from error
        if not chunk:
            raise redis.ConnectionError("Connection closed by server.")
        data += chunk
        position, error_reply = 0, None
        for _ in range(replies):
            line_end = data.find(b"\r\n", position)
            if line_end < 0:
                break
            kind = data[position : position + 1]
            if kind == b"$":
                length = data[position + 1 : line_end]
                if not length.isdigit():  # $-1 (no entry) or garbage
                    raise redis.ConnectionError(f"Unexpected reply to XADD: {data!r:.80}")
                position = line_end + 2 + int(length) + 2
                if position > len(data):
                    break
            elif kind == b"-":
                error_reply = error_reply or data[position + 1 : line_end].decode(errors="replace")
                position = line_end + 2
            else:
                raise redis.ConnectionError(f"Unexpected reply to XADD: {data!r:.80}")
        else:
            if position != len(data):
                raise redis.ConnectionError("More replies than commands sent.")
            if error_reply is not None:
                raise redis.ResponseError(error_reply)
            return


@dataclass
class _Sent:
    """Commands written to Redis whose replies are not read yet."""

    events: Sequence[TrackedEvent]
    received_at: datetime
    packed: bytes
    connection: Any
    #: Whether the connection was an idle one (which the server may have closed).
    reused: bool


class RedisEmitter:
    """Appends events to the stream shards of one app."""

    def __init__(
        self, client: redis.Redis, keys: StreamKeys, *, breaker_seconds: float = 5.0
    ) -> None:
        self.client = client
        self.keys = keys
        self.breaker_seconds = breaker_seconds
        self._down_until = 0.0
        # Idle connections, last used first. list.pop() and list.append() are atomic, so
        # concurrent requests (threads) never share one; there are at most as many as
        # requests that ever sent at the same time.
        self._idle: list[Any] = []
        self._pid = os.getpid()
        #: ``XADD <stream> * event`` packed, by stream key: all of a command but the JSON.
        self._heads: dict[str, bytes] = {}

    def submit(self, state: GamifyState, events: Sequence[TrackedEvent]) -> None:
        """Send now, or buffer until the response is made (``@tracks``) or the request ends."""
        if has_request_context():
            buffer: list[TrackedEvent] | None = g.get(_BUFFER)
            if buffer is None:
                buffer = []
                setattr(g, _BUFFER, buffer)
            buffer.extend(events)
        else:
            self.send(state, events)

    def send_buffered(self, state: GamifyState) -> None:
        """Write the request's buffered events now; :meth:`flush_request` reads the replies.

        One write per request: events buffered after it wait for the end of the request.
        """
        if g.get(_SENT) is not None:
            return
        buffer: list[TrackedEvent] | None = g.pop(_BUFFER, None)
        if not buffer:
            return
        sent = self._start(state, buffer)
        if sent is not None:
            setattr(g, _SENT, sent)

    def flush_request(self, state: GamifyState) -> None:
        """Confirm what :meth:`send_buffered` wrote, and send the rest (``teardown_request``)."""
        sent: _Sent | None = g.pop(_SENT, None)
        if sent is not None:
            self._finish(state, sent)
        buffer: list[TrackedEvent] | None = g.pop(_BUFFER, None)
        if buffer:
            self.send(state, buffer)

    def send(self, state: GamifyState, events: Sequence[TrackedEvent]) -> None:
        """XADD every event to its shard in one round trip; the outbox if that fails."""
        sent = self._start(state, events)
        if sent is not None:
            self._finish(state, sent)

    def close(self) -> None:
        """Close the idle connections (those of requests in flight close after them)."""
        while self._idle:
            self._idle.pop().disconnect()

    def _start(self, state: GamifyState, events: Sequence[TrackedEvent]) -> _Sent | None:
        """Write the XADD commands of ``events``; ``None`` when they went to the outbox."""
        if not events:
            return None
        # The events were validated with this host's clock; workers judge their
        # occurred_at against this moment, never against their own clocks.
        received_at = utcnow()
        if time.monotonic() < self._down_until:
            self._keep(state, events, received_at, "Redis was unreachable moments ago")
            return None
        stamp = received_at.isoformat()
        packed = b"".join([self._command(event, stamp) for event in events])
        if self._pid != os.getpid():  # a forked child: its parent's sockets are not its
            self._idle = []
            self._pid = os.getpid()
        try:
            connection = self._idle.pop()
        except IndexError:
            pass
        else:
            try:
                connection.send_packed_command((packed,), check_health=False)
                return _Sent(events, received_at, packed, connection, reused=True)
            except redis.ConnectionError:
                pass  # closed by the server: a new connection below
        try:
            connection = self._connection()
            connection.send_packed_command((packed,), check_health=False)
        except redis.RedisError as error:
            self._failed(state, events, received_at, error)
            return None
        return _Sent(events, received_at, packed, connection, reused=False)

    def _finish(self, state: GamifyState, sent: _Sent) -> None:
        """Read the replies of ``sent``; keep its events in the outbox if any failed.

        An event that reached the stream and the outbox both is counted once.
        """
        try:
            try:
                self._read(sent.connection, len(sent.events))
            except redis.ConnectionError:
                if not sent.reused:
                    raise
                # The server had closed this idle connection (it restarted, or dropped
                # idle clients), which a write does not always reveal: once more on a
                # new connection, as redis-py's pool would have.
                connection = self._connection()
                connection.send_packed_command((sent.packed,), check_health=False)
                self._read(connection, len(sent.events))
        except redis.RedisError as error:
            self._failed(state, sent.events, sent.received_at, error)

    def _read(self, connection: Any, replies: int) -> None:
        try:
            sock = getattr(connection, "_sock", None)
            if sock is not None and getattr(connection, "protocol", 2) in (2, "2", None):
                _read_ids(sock, replies)
            else:  # RESP3 may interleave push messages: redis-py's parser knows them
                for _ in range(replies):
                    connection.read_response()
        except BaseException:
            # Unread replies would answer the next request's commands: never reuse it.
            connection.disconnect()
            raise
        self._idle.append(connection)

    def _connection(self) -> Any:
        pool = self.client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)

    def _command(self, event: TrackedEvent, received_at: str) -> bytes:
        stream = self.keys.stream_for(event.entity_type, event.entity_id)
        head = self._heads.get(stream)
        if head is None:
            head = b"*5\r\n" + b"".join(
                _bulk(part) for part in (b"XADD", stream.encode(), b"*", FIELD.encode())
            )
            self._heads[stream] = head
        return head + _bulk(encode_event(event, received_at=received_at).encode())

    def _failed(
        self,
        state: GamifyState,
        events: Sequence[TrackedEvent],
        received_at: datetime,
        error: redis.RedisError,
    ) -> None:
        self._down_until = time.monotonic() + self.breaker_seconds
        self._keep(state, events, received_at, str(error))

    def _keep(
        self,
        state: GamifyState,
        events: Sequence[TrackedEvent],
        received_at: datetime,
        reason: str,
    ) -> None:
        stamp = received_at.isoformat()
        try:
            with state.transaction() as session:
                session.add_all(
                    Outbox(event={**event.to_dict(), "received_at": stamp}, created_at=received_at)
                    for event in events
                )
        except SQLAlchemyError:
            logger.exception(
                "Flask-Gamify lost %d event(s): Redis is unreachable (%s) and the outbox"
                " table could not be written. Events: %r",
                len(events),
                reason,
                [event.to_dict() for event in events],
            )
            return
        logger.warning(
            "Flask-Gamify kept %d event(s) in the outbox: Redis is unreachable (%s).",
            len(events),
            reason,
        )
