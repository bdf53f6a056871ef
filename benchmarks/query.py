"""Query latency: an entity's progress on the 50 goals, against the floor of the same app.

The floor is ``GET /floor/<entity>``: the entity's progress rows as stored (every
column), selected and returned as JSON, by the same app through the same transport
(direct WSGI calls). Measured against it, in alternating blocks of 100 after a warm-up:

* ``GET /progress/<entity>``: the benchmark app's own view returning
  ``[p.to_dict() for p in gamify.progress(entity)]`` (the Python API);
* ``GET /api/entities/user/<entity>/progress?limit=50``: the REST API's endpoint, with
  an API key (its check included).

For a light entity (the workload's ``u0``) and a heavy one: ``--query-heavy-events``
events (thousands) of the goals' event types over the last three days, processed by the
same :class:`~flask_gamify.processing.BatchProcessor` the workers use, so that its
windowed goals hold long states.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from flask_gamify.events import make_event
from flask_gamify.models import Progress

from .harness import percentile, wsgi_caller

BLOCK = 100
HEAVY = "heavy"
#: Event types of the workload's goals, with attributes their filters and sums read.
HEAVY_EVENTS = [
    ("purchase", {"amount": 7, "category": "books"}),
    ("article.read", {"topic": "python", "words": 900}),
    ("video.watched", {"seconds": 300}),
    ("comment.posted", {"length": 40}),
    ("login", {}),
    ("quiz.completed", {"score": 80}),
]


@dataclass
class Query:
    entity: str
    goals: int
    #: Bytes of the entity's stored criteria states (what a read evaluating them parses).
    state_bytes: int
    floor_p50: float
    floor_p99: float
    python_p50: float
    python_p99: float
    rest_p50: float
    rest_p99: float


def add_heavy_entity(app: Flask, events: int) -> None:
    """Process ``events`` events of one entity, spread over the last three days."""
    processor = app.extensions["gamify"].processor
    end = datetime.now(UTC)
    step = timedelta(days=3) / max(1, events)
    tracked = [
        make_event(
            HEAVY_EVENTS[index % len(HEAVY_EVENTS)][0],
            HEAVY,
            attributes=HEAVY_EVENTS[index % len(HEAVY_EVENTS)][1],
            event_id=f"query-heavy-{uuid.uuid4().hex}",
            occurred_at=end - (events - index) * step,
        )
        for index in range(events)
    ]
    for start in range(0, len(tracked), 500):
        processor.process(tracked[start : start + 500])


def run(app: Flask, entity: str, requests: int) -> Query:
    gamify = app.extensions["gamify"].extension
    goals = len(gamify.progress(entity))
    _, key = gamify.create_api_key(f"bench-query-{uuid.uuid4().hex[:8]}", scopes="progress:read")
    with app.extensions["gamify"].transaction() as session:
        states = session.execute(
            select(Progress.state).where(
                Progress.entity_type == "user", Progress.entity_id == entity
            )
        ).scalars()
        state_bytes = sum(len(json.dumps(state, separators=(",", ":"))) for state in states)
    calls = {
        "floor": wsgi_caller(app, f"/floor/{entity}"),
        "python": wsgi_caller(app, f"/progress/{entity}"),
        "rest": wsgi_caller(
            app,
            f"/api/entities/user/{entity}/progress?limit=50",
            {"Authorization": f"Bearer {key}"},
        ),
    }
    for _ in range(30):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _block in range(max(1, requests // BLOCK)):
        for name, call in calls.items():
            for _ in range(BLOCK):
                started = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - started)
    return Query(
        entity=entity,
        goals=goals,
        state_bytes=state_bytes,
        floor_p50=percentile(samples["floor"], 50),
        floor_p99=percentile(samples["floor"], 99),
        python_p50=percentile(samples["python"], 50),
        python_p99=percentile(samples["python"], 99),
        rest_p50=percentile(samples["rest"], 50),
        rest_p99=percentile(samples["rest"], 99),
    )
