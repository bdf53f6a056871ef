"""Emit overhead: a ``@tracks`` view against the same untracked view, with Redis on
loopback, in units of one redis-py round trip (PING) measured in the same run.

Requests are direct WSGI calls (``app.wsgi_app``, no HTTP server; the request context,
``teardown_request`` flush included), in alternating blocks of 100 so that both views
see the same machine noise; latencies are medians.

The unit, one PING, is timed where the tracked request's XADD happens: at the end of a
request. A third block of 100 runs the untracked view and then times one ``PING`` on
the pipeline's client. A PING timed in a tight loop instead finds Redis and both
processes hot (the server answering back-to-back commands, nothing else between them)
and answers faster than any command sent once per request; on the 2-core test machine
it measured 40-50 µs against 55-65 µs at the end of a request, which made the unit
smaller than the conditions the XADD meets. Both are reported (``ping_loop``).

Commands are counted by wrapping
redis-py's ``Connection.send_packed_command`` (one call per round trip; pipelines are
one call) and Redis' ``INFO commandstats``; SQL by a ``before_cursor_execute`` listener.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import event as sqlalchemy_event

from .baselines import ping_seconds
from .harness import median, wsgi_caller

BLOCK = 100


@dataclass
class Emit:
    tracked: float
    untracked: float
    ping: float
    ping_loop: float
    round_trips: float
    commands: float
    queries: float

    @property
    def added(self) -> float:
        return self.tracked - self.untracked


def _caller(app: Flask, path: str) -> Any:
    return wsgi_caller(app, path, headers={"X-User": "emitter"})


def run(app: Flask, requests: int) -> Emit:
    pipeline = app.extensions["gamify"].pipeline
    client = pipeline.client
    tracked, untracked = _caller(app, "/tracked"), _caller(app, "/untracked")
    for _ in range(200):  # warm-up: pooled connection, caches
        tracked()
        untracked()
    samples: dict[str, list[float]] = {"tracked": [], "untracked": [], "ping": [], "loop": []}
    for _block in range(max(1, requests // BLOCK)):
        for name, call in (("untracked", untracked), ("tracked", tracked)):
            bucket = samples[name]
            for _ in range(BLOCK):
                started = time.perf_counter()
                call()
                bucket.append(time.perf_counter() - started)
        bucket = samples["ping"]
        for _ in range(BLOCK):
            untracked()
            started = time.perf_counter()
            client.ping()
            bucket.append(time.perf_counter() - started)
        samples["loop"].append(ping_seconds(client, 10))
    counted = _count(app, tracked, 100)
    return Emit(
        tracked=median(samples["tracked"]),
        untracked=median(samples["untracked"]),
        ping=median(samples["ping"]),
        ping_loop=median(samples["loop"]),
        **counted,
    )


def _count(app: Flask, tracked: Any, requests: int) -> dict[str, float]:
    pipeline = app.extensions["gamify"].pipeline
    connection_class = pipeline.client.connection_pool.connection_class
    original = connection_class.send_packed_command
    sends: list[Any] = []

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sends.append(command)
        original(self, command, check_health)

    queries: list[str] = []

    def on_query(*args: Any) -> None:
        queries.append(args[2])

    engine = app.extensions["gamify"].engine
    before = _commandstats(pipeline.worker_client)
    sqlalchemy_event.listen(engine, "before_cursor_execute", on_query)
    connection_class.send_packed_command = counting
    try:
        for _ in range(requests):
            tracked()
    finally:
        connection_class.send_packed_command = original
        sqlalchemy_event.remove(engine, "before_cursor_execute", on_query)
    after = _commandstats(pipeline.worker_client)
    commands = sum(after.values()) - sum(before.values())
    return {
        "round_trips": len(sends) / requests,
        "commands": commands / requests,
        "queries": len(queries) / requests,
    }


def _commandstats(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {
        name: int(value["calls"]) for name, value in stats.items() if name not in ("cmdstat_info",)
    }
