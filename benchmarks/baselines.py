"""Baselines measured in the same run: one redis-py round trip (PING), and RQ's own
no-op job rate with ``SimpleWorker`` and with ``GamifyWorker`` (a ``SimpleWorker`` that
also watches the streams between jobs).

The no-op rate: N jobs are enqueued with ``enqueue_many`` (one pipeline), then an
in-process worker runs them in burst mode; the rate is measured between the first and
the last job's execution (worker start-up excluded), the same way the worker throughput
excludes it.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from rq import Queue, SimpleWorker

from .harness import median

#: perf_counter() of every no-op job run in this process.
_RUNS: list[float] = []


def noop() -> None:
    """The no-op job."""
    _RUNS.append(time.perf_counter())


def ping_seconds(client: redis.Redis, count: int) -> float:
    """Median seconds of one ``PING`` on an open connection."""
    client.ping()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.ping()
        samples.append(time.perf_counter() - started)
    return median(samples)


def noop_rate(connection: redis.Redis, jobs: int, worker_factory: Any = None) -> float:
    """No-op jobs per second of one in-process worker (``SimpleWorker`` by default)."""
    queue = Queue("bench-noop", connection=connection)
    queue.empty()
    data = [Queue.prepare_data(noop, result_ttl=0) for _ in range(jobs)]
    for start in range(0, jobs, 1000):
        queue.enqueue_many(data[start : start + 1000])
    if worker_factory is None:
        worker = SimpleWorker([queue], connection=connection)
    else:
        worker = worker_factory([queue])
    _RUNS.clear()
    worker.work(burst=True, logging_level="WARNING")
    if len(_RUNS) != jobs:
        raise RuntimeError(f"{len(_RUNS)} no-op jobs ran, expected {jobs}")
    return (jobs - 1) / (_RUNS[-1] - _RUNS[0])
