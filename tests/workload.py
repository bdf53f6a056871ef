"""A test workload: a goal set mixing criterion types, a skewed event generator, a
snapshot of observable progress, and the body of a concurrent worker process.

Kept out of the test modules so that processes started with ``spawn`` can import it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import Gamify
from flask_gamify.events import TrackedEvent, make_event

GOALS: list[dict[str, Any]] = [
    {
        "key": "login-3",
        "criteria": {"type": "count", "event": "login", "target": 3},
        "repeatable": True,
        "max_awards": 5,
        "points": 1,
    },
    {
        "key": "reader",
        "criteria": {"type": "distinct", "event": "read", "field": "article", "target": 4},
        "points": 10,
    },
    {
        "key": "abc",
        "criteria": {
            "type": "all_of",
            "event": "read",
            "field": "article",
            "values": ["a", "b", "c"],
        },
    },
    {
        "key": "busy-day",
        "criteria": {"type": "count", "event": "login", "target": 4, "window": "1d"},
    },
    {
        "key": "spender",
        "criteria": {"type": "sum", "event": "buy", "field": "amount", "target": 10},
        "repeatable": True,
    },
    {"key": "streak", "criteria": {"type": "streak", "event": "login", "target": 3}},
    {
        "key": "funnel",
        "criteria": {"type": "sequence", "steps": [{"event": "read"}, {"event": "buy"}]},
    },
    {
        "key": "veteran",
        "criteria": {
            "type": "all",
            "of": [
                {"type": "goal", "goal": "reader"},
                {
                    "type": "any",
                    "of": [
                        {"type": "goal", "goal": "spender"},
                        {"type": "count", "event": "login", "target": 6},
                    ],
                },
            ],
        },
        "points": 100,
    },
]


def make_events(count: int, entities: int, seed: int) -> list[TrackedEvent]:
    """Events over the last six days (inside the late-event allowance) for ``entities`` users,
    a few of them very active."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    events = []
    for index in range(count):
        entity = str(min(rng.randrange(entities), rng.randrange(entities)))  # skewed
        kind = rng.choice(["login", "login", "read", "buy"])
        attributes: dict[str, Any] = {}
        if kind == "read":
            attributes["article"] = rng.choice("abcdefg")
        if kind == "buy":
            attributes["amount"] = rng.choice([1, 2.5, 4])
        events.append(
            make_event(
                kind,
                entity,
                attributes=attributes,
                event_id=f"e{seed}-{index}",
                occurred_at=now - timedelta(minutes=rng.randrange(6 * 24 * 60)),
            )
        )
    return events


def make_app(database_url: str) -> tuple[Flask, Gamify]:
    app = Flask("gamify_concurrency")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db = SQLAlchemy(app)
    return app, Gamify(app, db=db)


def process_in_batches(
    database_url: str,
    events: list[dict[str, Any]],
    batch_size: int,
    seed: int,
    barrier: Any,
) -> None:
    """Body of a worker process: process ``events`` shuffled, in batches."""
    app, gamify = make_app(database_url)
    tracked = [make_event(e.pop("type"), e.pop("entity"), **e) for e in events]
    random.Random(seed).shuffle(tracked)
    with app.app_context():
        processor = gamify.state.processor
        barrier.wait(timeout=60)
        for start in range(0, len(tracked), batch_size):
            processor.process(tracked[start : start + batch_size])


def as_arguments(event: TrackedEvent) -> dict[str, Any]:
    """Keyword arguments of ``make_event`` that rebuild ``event`` (picklable)."""
    return {
        "type": event.type,
        "entity": event.entity_id,
        "entity_type": event.entity_type,
        "attributes": dict(event.attributes),
        "event_id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
    }


def snapshot(gamify: Gamify, entities: set[str]) -> dict[str, Any]:
    """Everything observable about the entities' progress, minus timestamps."""
    result = {}
    for entity in sorted(entities):
        views = gamify.progress(entity, include_hidden=True)
        result[entity] = {
            "progress": [
                {k: v for k, v in view.to_dict().items() if k != "completed_at"} for view in views
            ],
            "awards": sorted((a.goal, a.occurrence) for a in gamify.awards(entity)),
        }
    return result
