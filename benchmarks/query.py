"""Query latency: ``GET /progress/<entity>`` for an entity with progress on the 50
goals, against a bare JSON view of the same app (direct WSGI calls, alternating blocks
of 100, after a warm-up).

``/progress/<entity>`` is the benchmark app's own view returning
``[p.to_dict() for p in gamify.progress(entity)]``, not the REST API's endpoint (whose
API-key check would add to the figure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask

from .emit import _caller
from .harness import percentile

BLOCK = 100


@dataclass
class Query:
    entity: str
    goals: int
    p50: float
    p99: float
    bare_p50: float
    bare_p99: float


def run(app: Flask, entity: str, requests: int) -> Query:
    goals = len(app.extensions["gamify"].extension.progress(entity))
    progress, bare = _caller(app, f"/progress/{entity}"), _caller(app, "/bare")
    for _ in range(50):
        progress()
        bare()
    samples: dict[str, list[float]] = {"progress": [], "bare": []}
    for _block in range(max(1, requests // BLOCK)):
        for name, call in (("bare", bare), ("progress", progress)):
            for _ in range(BLOCK):
                started = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - started)
    return Query(
        entity=entity,
        goals=goals,
        p50=percentile(samples["progress"], 50),
        p99=percentile(samples["progress"], 99),
        bare_p50=percentile(samples["bare"], 50),
        bare_p99=percentile(samples["bare"], 99),
    )
