"""Sending events to Redis: one pipelined round trip, an outbox when Redis is down.

During a request, events are buffered and sent together when the request ends; outside
requests (CLI, shell, jobs) they are sent at once. If Redis cannot be reached within
``GAMIFY_REDIS_TIMEOUT``, the events are written to the ``gamify_outbox`` table through
gamify's own session, and workers relay them once Redis is back: nothing is lost, and
the host's request still gets its normal response.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

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


class RedisEmitter:
    """Appends events to the stream shards of one app."""

    def __init__(
        self, client: redis.Redis, keys: StreamKeys, *, breaker_seconds: float = 5.0
    ) -> None:
        self.client = client
        self.keys = keys
        self.breaker_seconds = breaker_seconds
        self._down_until = 0.0

    def submit(self, state: GamifyState, events: Sequence[TrackedEvent]) -> None:
        """Send now, or at the end of the current request."""
        if has_request_context():
            buffer: list[TrackedEvent] | None = g.get(_BUFFER)
            if buffer is None:
                buffer = []
                setattr(g, _BUFFER, buffer)
            buffer.extend(events)
        else:
            self.send(state, events)

    def flush_request(self, state: GamifyState) -> None:
        """Send the events buffered during the request (``teardown_request``)."""
        buffer: list[TrackedEvent] | None = g.pop(_BUFFER, None)
        if buffer:
            self.send(state, buffer)

    def send(self, state: GamifyState, events: Sequence[TrackedEvent]) -> None:
        """XADD every event to its shard in one round trip; the outbox if that fails."""
        if not events:
            return
        # The events were validated with this host's clock; workers judge their
        # occurred_at against this moment, never against their own clocks.
        received_at = utcnow()
        if time.monotonic() < self._down_until:
            self._keep(state, events, received_at, "Redis was unreachable moments ago")
            return
        try:
            if len(events) == 1:  # the usual request: no pipeline object needed
                self.client.xadd(
                    self.keys.stream_for(events[0].entity_type, events[0].entity_id),
                    {FIELD: encode_event(events[0], received_at=received_at)},
                )
            else:
                pipeline = self.client.pipeline(transaction=False)
                for event in events:
                    pipeline.xadd(
                        self.keys.stream_for(event.entity_type, event.entity_id),
                        {FIELD: encode_event(event, received_at=received_at)},
                    )
                pipeline.execute()
        except redis.RedisError as error:
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
