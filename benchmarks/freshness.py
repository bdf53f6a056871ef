"""Freshness: event-to-award-visible latency at a steady event rate.

One worker process runs on a fresh database. This process emits workload events at
``rate`` events/s (ticks of 10 ms, each one pipelined XADD of the tick's events, with
``occurred_at`` set to the time of sending). Ten times per second one of them is a
probe: ``profile.updated`` for a new entity, which completes the ``profile-complete``
goal (``count`` of 1). A thread polls the awards table every 20 ms; a probe's latency is
from its XADD to the first poll that sees its award. Probes not visible ``wait``
seconds after the emission stopped count as that long (the percentile is then shown as
a lower bound).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from flask_gamify.models import Award
from flask_gamify.pipeline.streams import FIELD, shard_for
from flask_gamify.testing import RedisServer

from .harness import (
    Database,
    Options,
    Worker,
    backlog,
    bench_app_context,
    environment,
    percentile,
    prepare_database,
    wait_for_workers,
)
from .workload import encode

TICK = 0.01
PROBES_PER_SECOND = 10


@dataclass
class Freshness:
    rate: float
    achieved_rate: float
    probes: int
    seen: int
    p50: float
    p95: float
    censored: bool
    #: Latency given to probes never seen (a percentile equal to it is a lower bound).
    cap: float
    backlog_at_end: int


def run(
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    *,
    rate: int,
    seconds: float,
    wait: float,
) -> Freshness:
    database.reset()
    server.client().flushall()
    env = environment(database, server.url)
    with bench_app_context(env) as app:
        prepare_database(app)
        keys = app.extensions["gamify"].pipeline.keys
        worker = Worker(env, options.workdir / "worker-freshness.log")
        try:
            client = server.client()
            wait_for_workers(client, 1, [worker])
            sent_at: dict[str, float] = {}
            seen_at: dict[str, float] = {}
            stop = threading.Event()
            poller = threading.Thread(
                target=_poll, args=(app, seen_at, stop), name="freshness-poller", daemon=True
            )
            poller.start()
            per_tick = max(1, round(rate * TICK))
            probe_every = max(1, round(1 / (PROBES_PER_SECOND * TICK)))
            source = iter(_cycle(events))
            started = time.perf_counter()
            ticks = int(seconds / TICK)
            emitted = 0
            for tick in range(ticks):
                due = started + tick * TICK
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                now = datetime.now(UTC).isoformat()
                pipe = client.pipeline(transaction=False)
                probe = None
                for index in range(per_tick):
                    event = dict(next(source))
                    if index == 0 and tick % probe_every == 0:
                        probe = f"probe-{tick}"
                        event.update(type="profile.updated", entity=probe, attributes={})
                    event["id"] = f"f{tick}-{index}"
                    event["occurred_at"] = now
                    shard = shard_for("user", event["entity"], keys.shards)
                    pipe.xadd(keys.stream(shard), {FIELD: encode(event)})
                pipe.execute()
                emitted += per_tick
                if probe is not None:
                    sent_at[probe] = time.perf_counter()
            elapsed = time.perf_counter() - started
            deadline = time.perf_counter() + wait
            while len(seen_at) < len(sent_at) and time.perf_counter() < deadline:
                time.sleep(0.05)
            stop.set()
            poller.join(timeout=5)
            left = backlog(client, keys)
        finally:
            worker.stop()
    latencies = [
        (seen_at[probe] - sent) if probe in seen_at else float("inf")
        for probe, sent in sent_at.items()
    ]
    censored = any(latency == float("inf") for latency in latencies)
    capped = [min(latency, wait + seconds) for latency in latencies]
    return Freshness(
        rate=rate,
        achieved_rate=emitted / elapsed,
        probes=len(sent_at),
        seen=len(seen_at),
        p50=percentile(capped, 50),
        p95=percentile(capped, 95),
        censored=censored,
        cap=wait + seconds,
        backlog_at_end=left,
    )


def _cycle(events: list[dict[str, Any]]) -> Any:
    while True:
        yield from events


def _poll(app: Any, seen_at: dict[str, float], stop: threading.Event) -> None:
    gamify = app.extensions["gamify"]
    with app.app_context():
        while not stop.is_set():
            with gamify.transaction() as session:
                rows = session.execute(
                    select(Award.entity_id).where(Award.entity_id.like("probe-%"))
                ).scalars()
                now = time.perf_counter()
                for entity in rows:
                    seen_at.setdefault(entity, now)
            time.sleep(0.02)
