"""Memory: worker RSS and Redis ``used_memory`` after a run against before.

One worker on a fresh database drains ``rounds`` rounds of events (each emitted with
pipelined XADDs, then drained completely). "Before" is taken after the first round
(caches and pools warm), "after" at the end; bounded means after/before stays near 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_gamify.pipeline.streams import FIELD, shard_for
from flask_gamify.testing import RedisServer

from .harness import (
    Database,
    Options,
    Worker,
    backlog,
    bench_app_context,
    environment,
    prepare_database,
    wait_for,
    wait_for_workers,
)
from .workload import encode


@dataclass
class Memory:
    events: int
    rss_before_kib: int
    rss_after_kib: int
    redis_before: int
    redis_after: int


def run(
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    *,
    rounds: int = 4,
) -> Memory:
    database.reset()
    server.client().flushall()
    env = environment(database, server.url)
    client = server.client()
    with bench_app_context(env) as app:
        prepare_database(app)
        keys = app.extensions["gamify"].pipeline.keys
    worker = Worker(env, options.workdir / "worker-memory.log")
    size = len(events) // rounds
    measured: list[tuple[int, int]] = []
    try:
        wait_for_workers(client, 1, [worker])
        for number in range(rounds):
            pipe = client.pipeline(transaction=False)
            for event in events[number * size : (number + 1) * size]:
                shard = shard_for("user", event["entity"], keys.shards)
                pipe.xadd(keys.stream(shard), {FIELD: encode(event)})
            pipe.execute()
            wait_for(lambda: backlog(client, keys) == 0, 600, f"round {number} to drain", 0.1)
            measured.append((worker.rss_kib(), int(client.info("memory")["used_memory"])))
    finally:
        worker.stop()
    return Memory(
        events=size * rounds,
        rss_before_kib=measured[0][0],
        rss_after_kib=measured[-1][0],
        redis_before=measured[0][1],
        redis_after=measured[-1][1],
    )
