"""The drain job: read a shard's events in batches, process, acknowledge after commit.

One drain job per shard at a time (a guard key, set when the job is queued and kept
alive while it runs). Entries are read with a consumer group, so an entry delivered to
a worker that dies stays pending and is claimed by the next drain once it has been idle
for ``GAMIFY_CLAIM_IDLE``: at-least-once delivery, with the event ledger turning it into
exactly-once effect. Entries are acknowledged and deleted only after the batch's
transaction commits.

Failures are sorted by :func:`flask_gamify.failures.is_transient`:

* an entry that cannot be decoded or validated is dead-lettered at once, alone;
* a transient failure (Redis or the database unavailable, read-only, busy) stops the
  job: its entries stay pending, and the worker retries them with backoff
  (:mod:`.outages`), reading this consumer's own pending entries first;
* any other failure may be poison: the batch is split in halves until the failing
  events are alone, so every other event is processed; a failing event is retried up
  to ``GAMIFY_MAX_ATTEMPTS`` times, then dead-lettered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from flask import current_app

from ..events import TrackedEvent
from ..failures import describe_error, is_transient
from ..models import utcnow
from . import outages
from .streams import FIELD, GROUP, decode_event

if TYPE_CHECKING:
    from ..state import GamifyState
    from .settings import Pipeline

__all__ = ["Drainer", "consumer_name", "drain_shard", "ensure_groups", "release_guard"]

logger = logging.getLogger("flask_gamify")

Entry = tuple[str, dict[bytes, bytes]]

#: Set by the worker when a warm shutdown was requested: finish the batch, then stop.
stop_requested = False


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_RELEASE_GUARD = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_guard(client: redis.Redis, guard: str, owner: str) -> None:
    """Delete a shard's guard if ``owner`` holds it (never another worker's)."""
    client.eval(_RELEASE_GUARD, 1, guard, owner)


def ensure_groups(client: redis.Redis, streams: Sequence[str]) -> None:
    """Create the consumer group of every stream (and the stream) if missing."""
    for stream in streams:
        try:
            client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise


def drain_shard(shard: int) -> dict[str, int]:
    """RQ job: drain one shard until it is empty or the time budget is used.

    Runs in ``flask gamify worker``, which provides the application context.
    """
    from ..state import get_state

    state = get_state()
    if state.pipeline is None:
        raise RuntimeError("GAMIFY_REDIS_URL is not set for this app; nothing to drain.")
    return Drainer(state, state.pipeline, shard).run()


@dataclass
class Drainer:
    """Drains one shard; see the module docstring."""

    state: GamifyState
    pipeline: Pipeline
    shard: int

    def __post_init__(self) -> None:
        self.client = self.pipeline.worker_client
        self.stream = self.pipeline.keys.stream(self.shard)
        self.guard = self.pipeline.keys.guard(self.shard)
        self.consumer = consumer_name()
        self.counts = {"processed": 0, "batches": 0, "dead_lettered": 0, "retried": 0, "outages": 0}

    def run(self) -> dict[str, int]:
        deadline = time.monotonic() + self.pipeline.drain_seconds
        holds_guard = True
        try:
            # The guard names the worker running the drain, which releases it.
            self.client.set(self.guard, self.consumer, ex=self.pipeline.guard_ttl)
            ensure_groups(self.client, [self.stream])
            # Entries this worker was given before and left pending (an outage, a retry)
            # come first, without waiting for GAMIFY_CLAIM_IDLE.
            entries = self._read_own_pending()
            while not stop_requested and time.monotonic() < deadline:
                self.client.expire(self.guard, self.pipeline.guard_ttl)
                entries = entries or self._claim_stale() or self._read_new()
                if not entries:
                    # Hand over: release the guard, then look once more, so that an event
                    # added in between is never stranded without a drain job.
                    release_guard(self.client, self.guard, self.consumer)
                    entries = self._read_new()
                    if not entries:
                        break
                    self.handle(entries)
                    holds_guard = bool(
                        self.client.set(
                            self.guard, self.consumer, nx=True, ex=self.pipeline.guard_ttl
                        )
                    )
                    if not holds_guard:
                        break  # another drain job took over the shard
                    entries = []
                    continue
                self.handle(entries)
                caught_up = len(entries) < self.pipeline.batch_size
                entries = []
                if caught_up:
                    # Caught up: hand the worker back, so that it serves the other shards
                    # in turn (it enqueues another drain job if this shard gets more).
                    break
        except Exception as error:
            if not is_transient(error):
                raise
            # Unavailable, not bad: the entries stay pending for this consumer, and the
            # worker drains this shard again once its backoff allows.
            outages.current.of(error).failed(error)
            outages.current.retry_shards.add(self.shard)
            self.counts["outages"] = 1
        else:
            outages.current.retry_shards.discard(self.shard)
        finally:
            if holds_guard:
                with contextlib.suppress(redis.RedisError):  # it expires within guard_ttl
                    release_guard(self.client, self.guard, self.consumer)
        return self.counts

    def _read_own_pending(self) -> list[Entry]:
        response = self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: "0"}, count=self.pipeline.batch_size
        )
        if not response:
            return []
        return [(_text(entry_id), fields) for entry_id, fields in response[0][1] if fields]

    def _claim_stale(self) -> list[Entry]:
        """Entries delivered to a consumer that died (idle for GAMIFY_CLAIM_IDLE)."""
        _next, entries, *_deleted = self.client.xautoclaim(
            self.stream,
            GROUP,
            self.consumer,
            min_idle_time=self.pipeline.claim_idle_ms,
            start_id="0-0",
            count=self.pipeline.batch_size,
        )
        return [(_text(entry_id), fields) for entry_id, fields in entries if fields]

    def _read_new(self) -> list[Entry]:
        response = self.client.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=self.pipeline.batch_size
        )
        if not response:
            return []
        return [(_text(entry_id), fields) for entry_id, fields in response[0][1]]

    def handle(self, entries: list[Entry]) -> None:
        """Process a batch; acknowledge what is done, dead-letter what cannot be."""
        self.counts["batches"] += 1
        events: list[tuple[str, TrackedEvent]] = []
        for entry_id, fields in entries:
            payload = fields.get(FIELD.encode(), b"")
            try:
                event = decode_event(payload, entry_id, self.shard, self.state.limits)
            except Exception as error:
                # Decoding depends on the entry alone (any failure: malformed JSON, JSON
                # nested too deep, an invalid event): no attempt fixes it.
                self.dead_letter(entry_id, payload, f"Malformed event: {describe_error(error)}", 1)
                continue
            events.append((entry_id, event))
        self._process_isolating(events)

    def _process_isolating(self, events: list[tuple[str, TrackedEvent]]) -> None:
        """Process ``events``; if that fails, split them to isolate the failing ones."""
        if not events:
            return
        try:
            result = self.state.processor.process([event for _, event in events])
        except Exception as error:
            if is_transient(error):
                raise
            if len(events) == 1:
                self._failed(*events[0], error)
                return
            logger.warning(
                "A batch of %d events of shard %d failed (%s); splitting it to isolate the"
                " failing event.",
                len(events),
                self.shard,
                describe_error(error),
            )
            middle = len(events) // 2
            self._process_isolating(events[:middle])
            self._process_isolating(events[middle:])
            return
        outages.current.database.recovered()
        self.acknowledge([entry_id for entry_id, _ in events])
        self.counts["processed"] += len(events)
        self._send_signals(result)

    def _send_signals(self, result: Any) -> None:
        from ..state import send_signals

        try:
            send_signals(current_app._get_current_object(), result)  # type: ignore[attr-defined]
        except Exception:
            # The batch is committed and acknowledged: a failing receiver must not make
            # the events look unprocessed.
            logger.exception("A signal receiver failed after a batch of shard %d.", self.shard)

    def _failed(self, entry_id: str, event: TrackedEvent, error: Exception) -> None:
        attempts = int(self.client.hincrby(self.pipeline.keys.attempts(self.shard), entry_id, 1))
        if attempts >= self.pipeline.max_attempts:
            payload = json.dumps(event.to_dict(), separators=(",", ":"))
            self.dead_letter(entry_id, payload, describe_error(error), attempts)
        else:
            # Left pending: retried by the next drain of this worker, or by another
            # worker once idle for GAMIFY_CLAIM_IDLE.
            logger.warning(
                "Event %s of shard %d failed (attempt %d of %d): %s",
                event.id,
                self.shard,
                attempts,
                self.pipeline.max_attempts,
                describe_error(error),
            )
            self.counts["retried"] += 1

    def acknowledge(self, entry_ids: list[str]) -> None:
        """XACK and XDEL (bounded memory), and forget failed attempts."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xack(self.stream, GROUP, *entry_ids)
        pipe.xdel(self.stream, *entry_ids)
        pipe.hdel(self.pipeline.keys.attempts(self.shard), *entry_ids)
        pipe.execute()

    def dead_letter(self, entry_id: str, payload: bytes | str, error: str, attempts: int) -> None:
        """Move an entry to the dead-letter stream, where operators can inspect it."""
        logger.error("Dead-lettered entry %s of shard %d: %s", entry_id, self.shard, error)
        record: dict[str, Any] = {
            "shard": self.shard,
            "entry": entry_id,
            "event": payload,
            "error": error[:2000],
            "attempts": attempts,
            "failed_at": utcnow().isoformat(),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.pipeline.keys.dead_letters, record)
        pipe.xack(self.stream, GROUP, entry_id)
        pipe.xdel(self.stream, entry_id)
        pipe.hdel(self.pipeline.keys.attempts(self.shard), entry_id)
        pipe.execute()
        self.counts["dead_lettered"] += 1


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
