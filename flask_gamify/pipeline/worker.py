"""``GamifyWorker``: an RQ worker that also watches the event streams.

Between jobs it checks every shard in one round trip and enqueues a drain job for each
shard with undelivered entries, or with entries left pending by a dead worker, unless a
drain job for it is already queued (the shard's guard key). When there is nothing to
do, it blocks on the streams themselves, so an event added with a plain ``XADD`` is
picked up at once, without anyone enqueueing a job. It also relays events kept in the
outbox table while Redis was unreachable, and sweeps the webhook outbox: when deliveries
are due and no delivery job is queued (one was lost with Redis, or their retry time came),
it queues one on ``GAMIFY_WEBHOOK_QUEUE``, which it also listens on (after its drain
queue, so events come first).

It is a :class:`~rq.SimpleWorker`: jobs run in the worker process, which keeps the
database connection pool and the app context of ``flask gamify worker`` (a drain job
handles hundreds of events, so forking per job would buy little isolation for its
cost).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from sqlalchemy import delete, select

from ..backfill import resume_backfills
from ..failures import is_transient
from ..models import Outbox
from ..webhook_delivery import due_count, wake_delivery
from . import drain, outages
from .streams import FIELD, GROUP, encode_event

if TYPE_CHECKING:
    from ..state import GamifyState
    from .settings import Pipeline

__all__ = ["GamifyWorker", "enqueue_drains", "tune_garbage_collector"]

logger = logging.getLogger("flask_gamify")

#: How long an idle worker blocks on the streams before looking around again (ms).
IDLE_BLOCK_MS = 1000
#: How often the outbox table is checked (s).
OUTBOX_INTERVAL = 2.0
OUTBOX_BATCH = 500
#: How often backfills whose worker died are looked for (s).
BACKFILL_INTERVAL = 5.0
#: How often the webhook outbox is checked for due deliveries without a job (s).
WEBHOOK_SWEEP_INTERVAL = 1.0


def _id_tuple(entry_id: bytes | str | None) -> tuple[int, int]:
    if not entry_id:
        return (0, 0)
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def tune_garbage_collector(threshold: int) -> None:
    """Tune the worker process's garbage collector (``GAMIFY_WORKER_GC_THRESHOLD``).

    A batch allocates hundreds of thousands of short-lived containers (events, states,
    rows), most of them freed by reference counting. With Python's default threshold
    (700 allocations), the youngest generation is collected every few hundred of them
    and older generations, which hold every imported module, class and function, are
    scanned again and again. So: collect once, then :func:`gc.freeze` what start-up
    created (moved to a permanent generation that collections skip), and collect the
    youngest generation every ``threshold`` allocations. ``0`` leaves the collector as
    Python set it. Cycles are still collected, less often: memory stays bounded
    (``python -m benchmarks --only memory``).
    """
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)


def shard_backlog(client: redis.Redis, pipeline: Pipeline) -> list[dict[str, Any]]:
    """For each shard: undelivered work, stale pending entries, guard, last entry id."""
    keys = pipeline.keys
    pipe = client.pipeline(transaction=False)
    for shard in range(keys.shards):
        stream = keys.stream(shard)
        pipe.xinfo_groups(stream)
        pipe.xrevrange(stream, count=1)
        pipe.xpending_range(stream, GROUP, min="-", max="+", count=1, idle=pipeline.claim_idle_ms)
        pipe.exists(keys.guard(shard))
    replies = pipe.execute(raise_on_error=False)
    shards = []
    for shard in range(keys.shards):
        groups, last, stale, guarded = replies[4 * shard : 4 * shard + 4]
        delivered = b"0-0"
        if isinstance(groups, list):
            for group in groups:
                if group.get("name") in (GROUP, GROUP.encode()):
                    delivered = group.get("last-delivered-id") or b"0-0"
        last_id = last[0][0] if isinstance(last, list) and last else b"0-0"
        shards.append(
            {
                "shard": shard,
                "undelivered": _id_tuple(last_id) > _id_tuple(delivered),
                "stale": isinstance(stale, list) and bool(stale),
                "guarded": bool(guarded) if not isinstance(guarded, Exception) else False,
                "last_id": last_id,
            }
        )
    return shards


def enqueue_drains(
    client: redis.Redis, pipeline: Pipeline, queue: Queue, retry: Collection[int] = ()
) -> list[dict[str, Any]]:
    """Enqueue a drain job for every shard that needs one; return the shard backlog.

    :param retry: shards whose last drain stopped at an outage, with entries left
        pending for this worker: they are drained again even though nothing is new.
    """
    backlog = shard_backlog(client, pipeline)
    for shard in backlog:
        needed = shard["undelivered"] or shard["stale"] or shard["shard"] in retry
        if shard["guarded"] or not needed:
            continue
        guard = pipeline.keys.guard(shard["shard"])
        if client.set(guard, drain.consumer_name(), nx=True, ex=pipeline.guard_ttl):
            queue.enqueue(
                drain.drain_shard,
                shard["shard"],
                result_ttl=0,
                failure_ttl=7 * 24 * 3600,
                job_timeout=int(pipeline.drain_seconds) + 120,
                description=f"gamify: drain shard {shard['shard']}",
            )
            shard["guarded"] = True
    return backlog


def relay_outbox(state: GamifyState, client: redis.Redis) -> int:
    """Send events kept in the outbox to Redis; return how many were relayed."""
    pipeline = state.pipeline
    assert pipeline is not None
    with state.transaction() as session:
        query = select(Outbox).order_by(Outbox.id).limit(OUTBOX_BATCH)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).scalars().all()
        if not rows:
            return 0
        pipe = client.pipeline(transaction=False)
        for row in rows:
            stream = pipeline.keys.stream_for(row.event["entity_type"], row.event["entity"])
            pipe.xadd(stream, {FIELD: encode_event(row.event)})
        pipe.execute()
        # Deleted only after Redis has them: a crash in between re-sends, and the event
        # ledger drops the duplicates.
        session.execute(delete(Outbox).where(Outbox.id.in_([row.id for row in rows])))
    logger.info("Relayed %d event(s) from the outbox to Redis.", len(rows))
    return len(rows)


class GamifyWorker(SimpleWorker):
    """An RQ worker for Flask-Gamify; create it through ``flask gamify worker``.

    It outlives outages: when Redis or the database becomes unavailable, it logs one
    line, backs off (:mod:`.outages`) and carries on when they are back, instead of
    exiting or failing a job per attempt.
    """

    def __init__(
        self,
        *args: Any,
        gamify_state: GamifyState,
        drains: bool = True,
        webhooks: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.gamify_state = gamify_state
        pipeline = gamify_state.pipeline
        assert pipeline is not None
        self.pipeline = pipeline
        #: Whether it drains the event streams (``False``: ``--webhooks-only``).
        self.drains = drains
        #: Whether it sweeps the webhook outbox (``False``: ``--no-webhooks``).
        self.webhooks = webhooks
        # Drain jobs go to the first queue this worker listens on (--queue), so it runs
        # them.
        self.gamify_queue: Queue = self.queues[0]
        self._webhooks_checked = 0.0
        self.outages = outages.current
        self._outbox_checked = 0.0
        self._backfills_checked = 0.0
        #: Jobs whose bookkeeping Redis lost: removed once it is back, so that RQ's
        #: maintenance does not report them as abandoned (failed) jobs later.
        self._interrupted_jobs: list[Any] = []

    def request_stop(self, signum: Any, frame: Any) -> None:
        # Drain jobs check this between batches: finish the batch in hand, then stop.
        drain.stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        idle_since = time.monotonic()
        while True:
            if not self._wait_out_outages():
                return None  # a warm shutdown was requested while waiting
            if self.drains:
                self._relay_outbox()
                self._resume_backfills()
            if self.webhooks:
                self._sweep_webhooks()
            try:
                self._redis_recovered()
                backlog = (
                    enqueue_drains(
                        self.connection,
                        self.pipeline,
                        self.gamify_queue,
                        retry=self.outages.retry_shards,
                    )
                    if self.drains
                    else []
                )
                result = super().dequeue_job_and_maintain_ttl(None)
            except redis.RedisError as error:
                self.outages.redis.failed(error)
                continue
            if result is not None or timeout is None:
                return result
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None
            self._wait_for_events(backlog)

    def _wait_out_outages(self) -> bool:
        """Sleep through the backoff of an ongoing outage; ``False`` if asked to stop."""
        while (wait := self.outages.wait_seconds()) > 0:
            if drain.stop_requested:
                return False
            time.sleep(min(wait, 0.25))
        return not drain.stop_requested

    def _redis_recovered(self) -> None:
        """After a Redis outage, tidy up what it interrupted (raises while still down)."""
        if self.outages.redis.down:
            # A Redis restarted without persistence forgot this worker: register again,
            # so that `rq info` and `flask gamify status` see it.
            if not self.connection.exists(self.key):
                self.register_birth()  # type: ignore[no-untyped-call]
            for job in self._interrupted_jobs:
                # A Redis restarted empty forgot the job: nothing to tidy up.
                with contextlib.suppress(InvalidJobOperation, NoSuchJobError):
                    job.delete(remove_from_queue=False)
            self._interrupted_jobs.clear()
            # Guards this worker could not release while Redis was away.
            for shard in self.outages.retry_shards:
                drain.release_guard(
                    self.connection, self.pipeline.keys.guard(shard), drain.consumer_name()
                )
            self.outages.redis.recovered()

    # RQ's work loop exits on any Redis error outside dequeueing (its bookkeeping of a
    # job, heartbeats, suspension checks, maintenance). A drain job's entries are safe
    # in Redis until acknowledged, so the worker notes the outage and carries on.

    def execute_job(self, job: Any, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except redis.RedisError as error:
            self.outages.redis.failed(error)
            self._interrupted_jobs.append(job)

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().heartbeat(*args, **kwargs)
        except redis.RedisError as error:
            self.outages.redis.failed(error)

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except redis.RedisError as error:
            self.outages.redis.failed(error)

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except redis.RedisError as error:
            self.outages.redis.failed(error)

    def teardown(self) -> None:
        try:
            super().teardown()  # type: ignore[no-untyped-call]
        except redis.RedisError as error:
            logger.warning("Flask-Gamify worker: could not unregister from Redis: %s", error)

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        # RQ's command channel retries every 2 s and logs each attempt; the main loop
        # already reports the outage once.
        if isinstance(exc, redis.ConnectionError):
            time.sleep(2.0)
        else:
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def _wait_for_events(self, backlog: list[dict[str, Any]]) -> None:
        """Block until an event arrives on a shard nobody drains, or a short timeout."""
        watched = {
            self.pipeline.keys.stream(shard["shard"]): shard["last_id"]
            for shard in backlog
            if not shard["guarded"]
        }
        try:
            if watched:
                self.pipeline.worker_client.xread(watched, count=1, block=IDLE_BLOCK_MS)
            else:
                time.sleep(IDLE_BLOCK_MS / 1000)
        except redis.RedisError as error:
            self.outages.redis.failed(error)

    def _resume_backfills(self) -> None:
        """Take over backfills whose worker died (their lease lapsed)."""
        if time.monotonic() - self._backfills_checked < BACKFILL_INTERVAL:
            return
        self._backfills_checked = time.monotonic()
        try:
            resume_backfills(self.gamify_state)
        except Exception as error:
            if not is_transient(error):
                logger.exception("Could not check the backfills.")
            else:
                self.outages.of(error).failed(error)

    def _sweep_webhooks(self) -> None:
        """Queue a delivery job when deliveries are due (one indexed query a second)."""
        if time.monotonic() - self._webhooks_checked < WEBHOOK_SWEEP_INTERVAL:
            return
        self._webhooks_checked = time.monotonic()
        try:
            with self.gamify_state.transaction() as session:
                due = due_count(session)
            if due:
                wake_delivery(self.gamify_state)
        except Exception as error:
            if not is_transient(error):
                logger.exception("Could not check the webhook outbox.")
            else:
                self.outages.of(error).failed(error)

    def _relay_outbox(self) -> None:
        if time.monotonic() - self._outbox_checked < OUTBOX_INTERVAL:
            return
        self._outbox_checked = time.monotonic()
        try:
            while relay_outbox(self.gamify_state, self.connection) == OUTBOX_BATCH:
                pass
        except Exception as error:
            if not is_transient(error):
                logger.exception("Could not relay the outbox.")
            else:
                self.outages.of(error).failed(error)
