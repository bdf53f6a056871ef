"""Growth sweeps: whether costs stay flat as the catalog and the data grow.

Three sweeps, each in this process (``BatchProcessor.process`` on batches of
``GAMIFY_BATCH_SIZE`` events, the code a drain job runs, without Redis and the worker
around it, so that the figure is the processing alone):

* **Goals**: the same events drained into 10, 100 and 1,000 goals. The goals are copies
  of ten of the workload's goals (every criterion type, no prerequisites), so each size
  has the same mix; the figure is the time per (event, goal) evaluation, an event
  counting once for every goal whose criteria name its type.
* **Entities**: the progress table seeded in bulk (``COPY`` on PostgreSQL, a multi-row
  insert on SQLite) with one row per entity for 1,000 up to 1,000,000 other entities
  (then ``VACUUM ANALYZE`` and ``CHECKPOINT``), then the same events drained; the
  figure is the time per event, the median of ``--growth-rounds`` drains of each size
  (interleaved: every size once, then again).
* **Read page**: after each goal-count drain and an ``ANALYZE``, ``GET
  /entities/user/<entity>/progress?limit=10`` of the REST API for the most active entity
  (progress on every goal), p50 over alternating blocks: a page of 10 should cost the
  same whatever the number of goals.

Each figure is divided by the smallest size's: flat means about 1.0.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import insert

from flask_gamify.events import TrackedEvent
from flask_gamify.models import Progress

from .harness import Database, bench_app_context, environment, percentile, wsgi_caller
from .workload import GOALS, _leaf_events, as_tracked

#: Ten level-0 goals of the workload (every fourth without prerequisites): the unit the
#: goal sweep copies.
BASE_GOALS = [goal for goal in GOALS if "goal" not in json.dumps(goal["criteria"])][::4][:10]
API_KEY_SCOPES = ["progress:read"]
PAGE = 10


@dataclass
class Step:
    size: int
    seconds: float
    units: int
    #: p50 of the progress page read (s), for the goal sweep.
    read_p50: float | None = None

    @property
    def per_unit(self) -> float:
        return self.seconds / max(self.units, 1)


def copies(count: int) -> list[dict[str, Any]]:
    """``count`` goals: copies of :data:`BASE_GOALS` with numbered keys."""
    goals = []
    for index in range(count):
        base = BASE_GOALS[index % len(BASE_GOALS)]
        copy = index // len(BASE_GOALS)
        goals.append({**base, "key": f"{base['key']}-{copy}", "name": f"{base['name']} {copy}"})
    return goals


def evaluations(goals: list[dict[str, Any]], events: list[dict[str, Any]]) -> int:
    """(event, goal) pairs where the goal's criteria name the event's type."""
    per_type: dict[str, int] = {}
    for goal in goals:
        for event_type in _leaf_events(goal["criteria"]):
            per_type[event_type] = per_type.get(event_type, 0) + 1
    return sum(per_type.get(event["type"], 0) for event in events)


def drain(app: Flask, events: list[TrackedEvent], batch: int) -> float:
    """Process ``events`` in batches; the seconds after the first batch (which loads
    the goals and warms the pool), and the events counted from the second batch on."""
    processor = app.extensions["gamify"].processor
    processor.process(events[:batch])
    started = time.perf_counter()
    for start in range(batch, len(events), batch):
        processor.process(events[start : start + batch])
    return time.perf_counter() - started


def analyze(app: Flask) -> None:
    """Refresh the planner's statistics after a drain, as autovacuum does on a live
    database: without it (autovacuum off, or not yet run), PostgreSQL plans the read for
    tables as they were when empty, and picks the entity's index over the (goal, entity)
    one."""
    engine = app.extensions["gamify"].engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def _env(database: Database) -> dict[str, str]:
    env = environment(database, None)
    from .app import CONFIG

    env[CONFIG] = json.dumps({"GAMIFY_API_PREFIX": "/api"})
    return env


def goal_sweep(
    database: Database,
    events: list[dict[str, Any]],
    sizes: list[int],
    *,
    batch: int = 500,
    requests: int = 200,
) -> list[Step]:
    """Per (event, goal) evaluation cost and the progress page's read, per goal count."""
    batch = min(batch, max(1, len(events) // 4))
    steps = []
    engine_events = as_tracked(events)
    entity = max(
        {event["entity"] for event in events},
        key=lambda entity: sum(1 for e in events if e["entity"] == entity),
    )
    for size in sizes:
        goals = copies(size)
        database.reset()
        with bench_app_context(_env(database)) as app:
            gamify = app.extensions["gamify"].extension
            gamify.create_all()
            gamify.define_goals(goals)
            seconds = drain(app, engine_events, batch)
            analyze(app)
            _, secret = gamify.create_api_key("bench", scopes=API_KEY_SCOPES)
            read = read_p50(app, entity, secret, requests)
        steps.append(Step(size, seconds, evaluations(goals, events[batch:]), read))
    return steps


def read_p50(app: Flask, entity: str, secret: str, requests: int) -> float:
    """p50 of ``GET /api/entities/user/<entity>/progress?limit=10`` (direct WSGI)."""
    call = wsgi_caller(
        app,
        f"/api/entities/user/{entity}/progress",
        headers={"Authorization": f"Bearer {secret}"},
        query_string={"limit": PAGE},
    )
    bare = wsgi_caller(app, "/bare")
    for _ in range(10):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
        bare()
    return percentile(samples, 50)


def seed_progress(app: Flask, database: Database, entities: int, goal_ids: list[int]) -> None:
    """One progress row for each of ``entities`` other entities, spread over the goals."""
    now = datetime.now(UTC)
    rows = (
        (goal_ids[index % len(goal_ids)], "user", f"seed-{index}", "", 0, 0, 0, now)
        for index in range(entities)
    )
    columns = [
        "goal_id",
        "entity_type",
        "entity_id",
        "criteria_hash",
        "percent",
        "times_completed",
        "late_events",
        "updated_at",
    ]
    engine = app.extensions["gamify"].engine
    if database.kind == "postgresql":
        raw = engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()
            with cursor.copy(f"COPY gamify_progress ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.driver_connection.commit()
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE gamify_progress")
            # The bulk load's dirty pages are written now, not by a checkpoint that
            # would fall in the timed drain.
            raw.driver_connection.execute("CHECKPOINT")
            raw.driver_connection.autocommit = False
        finally:
            raw.close()
    else:
        with engine.begin() as connection:
            chunk: list[dict[str, Any]] = []
            for row in rows:
                chunk.append(dict(zip(columns, row, strict=True)))
                if len(chunk) == 10_000:
                    connection.execute(insert(Progress), chunk)
                    chunk = []
            if chunk:
                connection.execute(insert(Progress), chunk)
            connection.exec_driver_sql("ANALYZE")


def entity_sweep(
    database: Database,
    events: list[dict[str, Any]],
    sizes: list[int],
    *,
    batch: int = 500,
    rounds: int = 1,
) -> list[Step]:
    """Per-event cost as the progress table holds more entities: the median of
    ``rounds`` drains of each size, interleaved (every size once, then again), since a
    step of about a second moves by a sixth between runs on a shared machine."""
    batch = min(batch, max(1, len(events) // 4))
    engine_events = as_tracked(events)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            database.reset()
            with bench_app_context(_env(database)) as app:
                gamify = app.extensions["gamify"].extension
                gamify.create_all()
                gamify.define_goals(GOALS)
                with app.extensions["gamify"].transaction() as session:
                    processor = app.extensions["gamify"].processor
                    goal_ids = [goal.id for goal in processor.active_goals(session)[0]]
                seed_progress(app, database, size, goal_ids)
                times[size].append(drain(app, engine_events, batch))
    return [Step(size, statistics.median(times[size]), len(events) - batch) for size in sizes]
