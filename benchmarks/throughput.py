"""Worker throughput (and scale-out, memory): events/s drained and evaluated by worker
processes.

The events are XADDed to staging streams (with the consumer group) outside the timing;
the workers are started and left to register and go idle; then the staging streams are
renamed into place in one MULTI. The time runs from the first acknowledged batch until
every stream is empty (acknowledged entries are deleted after their batch commits), so
interpreter start-up and the idle wake-up are excluded, and the events of that first
batch are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from flask_gamify.models import Event
from flask_gamify.testing import RedisServer

from .harness import (
    Database,
    Options,
    Worker,
    backlog,
    bench_app_context,
    environment,
    pending,
    prepare_database,
    release,
    stage_events,
    time_drain,
    wait_for_workers,
)


@dataclass
class Throughput:
    database: str
    workers: int
    events: int
    seconds: float
    rate: float
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    redis_before: int = 0
    redis_after: int = 0


def run(
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    *,
    workers: int = 1,
    budget: float = 60.0,
    profile: Path | None = None,
    setup: Callable[[Flask], None] | None = None,
    worker_env: dict[str, str] | None = None,
) -> Throughput:
    """Drain ``events`` with ``workers`` worker processes on ``database``; stop after
    ``budget`` seconds of draining (or when the streams are empty).

    :param setup: called with the app once the goals are defined (to add webhooks).
    :param worker_env: more environment for the worker processes only (the floor).
    """
    database.reset()
    server.client().flushall()
    env = environment(database, server.url)
    with bench_app_context(env) as app:
        prepare_database(app)
        if setup is not None:
            setup(app)
        keys = app.extensions["gamify"].pipeline.keys
    client = server.client()
    redis_before = int(client.info("memory")["used_memory"])
    staging = stage_events(client, keys, events)
    prefix = None
    if profile is not None:
        import sys

        prefix = [sys.executable, "-m", "cProfile", "-o", str(profile)]
    started = [
        Worker(
            {**env, **(worker_env or {})},
            options.workdir / f"worker-{database.kind}-{workers}-{index}.log",
            *(["--burst"] if profile is not None else []),
            prefix=prefix,
        )
        for index in range(workers)
    ]
    try:
        if profile is None:
            wait_for_workers(client, workers, started)
            rss_before = sum(worker.rss_kib() for worker in started)
            release(client, keys, staging)
        else:
            release(client, keys, staging)
            rss_before = 0
        drained = time_drain(client, keys, len(events), started, budget=None if profile else budget)
        rss_after = sum(worker.rss_kib() for worker in started) if profile is None else 0
        redis_after = int(client.info("memory")["used_memory"])
        if profile is not None:
            started[0].process.wait(timeout=120)
    finally:
        for worker in started:
            worker.stop()
    with bench_app_context(env) as app, app.extensions["gamify"].transaction() as session:
        logged = session.execute(select(func.count()).select_from(Event)).scalar_one()
    left = backlog(client, keys)
    if logged + left != len(events) or pending(client, keys):
        raise RuntimeError(f"{logged} events logged + {left} left != {len(events)} staged")
    return Throughput(
        database=database.kind,
        workers=workers,
        events=drained.events,
        seconds=drained.seconds,
        rate=drained.rate,
        rss_before_kib=rss_before,
        rss_after_kib=rss_after,
        redis_before=redis_before,
        redis_after=redis_after,
    )


def interleaved(
    first: Callable[[], Throughput], second: Callable[[], Throughput], rounds: int
) -> tuple[list[Throughput], list[Throughput]]:
    """Every round of two variants run in turn (``first``, ``second``, ``first``, ...),
    ``rounds`` of each, so that a noisy neighbour costs both sides alike."""
    firsts: list[Throughput] = []
    seconds: list[Throughput] = []
    for _ in range(rounds):
        firsts.append(first())
        seconds.append(second())
    return firsts, seconds


def best(results: list[Throughput]) -> Throughput:
    """The round with the highest rate: the least disturbed one."""
    return max(results, key=lambda result: result.rate)


def main() -> None:  # pragma: no cover - a manual probe
    import argparse

    from .harness import DEFAULT_POSTGRES
    from .workload import make_events

    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--db", default="postgresql")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    options = Options(False, 42, 10000, args.events, 0, 0, 0, 0, 0, 0, 0, DEFAULT_POSTGRES)
    server = RedisServer(options.workdir)
    server.start()
    try:
        started = time.perf_counter()
        events = make_events(args.events)
        print(f"generated in {time.perf_counter() - started:.1f} s")
        result = run(
            options, server, Database(args.db, options), events, workers=args.workers, budget=30
        )
        for stream in ["gamify:events:0", "gamify:events:1", "gamify:events:2", "gamify:events:3"]:
            print(
                stream,
                [
                    (c["name"], c["pending"])
                    for c in server.client().xinfo_consumers(stream, "gamify")
                ],
            )
        print(result)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
