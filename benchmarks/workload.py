"""The benchmark workload: 50 goals and a seedable, skewed event stream.

* :data:`GOALS`: 50 goals mixing every criterion type: ``count`` (with and without a
  window, with ``where``), ``sum``, ``distinct``, ``all_of``, ``streak`` (day and week),
  ``sequence`` (with a window), nested ``all``/``any`` composites, ``goal``
  prerequisites and repeatable goals. None is hidden or assigned-only, so every entity
  sees all 50 in its progress.
* :func:`make_events`: events for ``entities`` users with a Zipf-like skew (user
  ``u0`` is the most active; a few users make a large share of the events), spread
  over the six days before now (inside the default seven-day late-event allowance),
  in time order, as the JSON payloads of the documented stream wire format.

``python -m benchmarks.workload --events 10 --seed 1`` prints a sample.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_gamify.events import TrackedEvent, make_event

#: Event types and their share of the stream.
EVENT_MIX: dict[str, float] = {
    "login": 0.24,
    "article.read": 0.26,
    "video.watched": 0.10,
    "comment.posted": 0.10,
    "quiz.completed": 0.07,
    "share": 0.05,
    "purchase": 0.05,
    "cart.add": 0.06,
    "checkout": 0.03,
    "review.posted": 0.02,
    "profile.updated": 0.02,
}
CATEGORIES = ["python", "rust", "go", "javascript", "data"]
NETWORKS = ["mastodon", "bluesky", "linkedin", "email"]
ARTICLES = 400
VIDEOS = 120


def _count(key: str, event: str, target: int, **extra: Any) -> dict[str, Any]:
    criteria = {"type": "count", "event": event, "target": target}
    criteria.update({k: v for k, v in extra.items() if k in ("where", "window")})
    options = {k: v for k, v in extra.items() if k not in ("where", "window")}
    return {"key": key, "name": key.replace("-", " ").title(), "criteria": criteria, **options}


def _goal(key: str, criteria: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"key": key, "name": key.replace("-", " ").title(), "criteria": criteria, **options}


GOALS: list[dict[str, Any]] = [
    # count, no window (7)
    _count("first-login", "login", 1, points=1),
    _count("login-10", "login", 10, points=5),
    _count("login-100", "login", 100, points=20),
    _count("commenter", "comment.posted", 5, points=5),
    _count("prolific-commenter", "comment.posted", 100, points=25),
    _count("sharer", "share", 3, points=5),
    _count("profile-complete", "profile.updated", 1, points=2),
    # count with where (4)
    _count("python-reader", "article.read", 10, where={"category": "python"}, points=5),
    _count("rust-reader", "article.read", 10, where={"category": "rust"}),
    _count("quiz-ace", "quiz.completed", 3, where={"score": {"gte": 90}}, points=10),
    _count("social-butterfly", "share", 5, where={"network": {"in": ["mastodon", "bluesky"]}}),
    # count with window (6)
    _count("busy-hour", "article.read", 5, window="1h"),
    _count("daily-regular", "login", 3, window="1d"),
    _count("binge-watcher", "video.watched", 10, window="24h", points=5),
    _count("weekly-commenter", "comment.posted", 20, window="7d"),
    _count("quiz-sprint", "quiz.completed", 3, window="30m"),
    _count("shopping-spree", "purchase", 3, window="2d", points=10),
    # repeatable (4)
    _count("login-5-repeat", "login", 5, repeatable=True, max_awards=20, points=1),
    _count("reader-25-repeat", "article.read", 25, repeatable=True, points=2),
    _goal(
        "spender-100",
        {"type": "sum", "event": "purchase", "field": "amount", "target": 100},
        repeatable=True,
        max_awards=10,
        points=10,
    ),
    _goal(
        "watcher-hours",
        {"type": "sum", "event": "video.watched", "field": "seconds", "target": 3600},
        repeatable=True,
    ),
    # sum (4)
    _goal("big-spender", {"type": "sum", "event": "purchase", "field": "amount", "target": 500}),
    _goal(
        "weekend-spender",
        {"type": "sum", "event": "purchase", "field": "amount", "target": 150, "window": "2d"},
    ),
    _goal(
        "long-writer",
        {"type": "sum", "event": "comment.posted", "field": "length", "target": 5000},
    ),
    _goal(
        "quiz-points",
        {"type": "sum", "event": "quiz.completed", "field": "score", "target": 1000},
    ),
    # distinct (5)
    _goal(
        "explorer",
        {"type": "distinct", "event": "article.read", "field": "article_id", "target": 10},
    ),
    _goal(
        "librarian",
        {"type": "distinct", "event": "article.read", "field": "article_id", "target": 100},
        points=50,
    ),
    _goal(
        "polyglot",
        {"type": "distinct", "event": "article.read", "field": "category", "target": 4},
    ),
    _goal(
        "cinephile",
        {"type": "distinct", "event": "video.watched", "field": "video_id", "target": 20},
    ),
    _goal(
        "networker",
        {"type": "distinct", "event": "share", "field": "network", "target": 3},
    ),
    # all_of (3)
    _goal(
        "python-basics",
        {"type": "all_of", "event": "article.read", "field": "article_id", "values": [1, 2, 3]},
        points=10,
    ),
    _goal(
        "rust-track",
        {
            "type": "all_of",
            "event": "article.read",
            "field": "article_id",
            "values": [5, 8, 13, 21],
            "where": {"category": "rust"},
        },
    ),
    _goal(
        "all-networks",
        {"type": "all_of", "event": "share", "field": "network", "values": NETWORKS},
    ),
    # streak (4)
    _goal("streak-3", {"type": "streak", "event": "login", "target": 3}, points=5),
    _goal("streak-5", {"type": "streak", "event": "login", "target": 5, "period": "day"}),
    _goal(
        "reading-streak",
        {"type": "streak", "event": "article.read", "target": 4, "period": "day"},
    ),
    _goal(
        "weekly-visitor",
        {"type": "streak", "event": "login", "target": 2, "period": "week"},
    ),
    # sequence (4)
    _goal(
        "funnel",
        {
            "type": "sequence",
            "steps": [{"event": "cart.add"}, {"event": "checkout"}, {"event": "review.posted"}],
            "window": "2d",
        },
        points=20,
    ),
    _goal(
        "quick-checkout",
        {
            "type": "sequence",
            "steps": [{"event": "cart.add"}, {"event": "checkout"}],
            "window": "1h",
        },
    ),
    _goal(
        "read-then-quiz",
        {
            "type": "sequence",
            "steps": [
                {"event": "article.read", "where": {"category": "data"}},
                {"event": "quiz.completed", "where": {"score": {"gte": 70}}},
            ],
            "window": "6h",
        },
    ),
    _goal(
        "watch-and-discuss",
        {
            "type": "sequence",
            "steps": [{"event": "video.watched"}, {"event": "comment.posted"}],
        },
    ),
    # composites, nested (5)
    _goal(
        "well-rounded",
        {
            "type": "all",
            "of": [
                {"type": "count", "event": "article.read", "target": 5},
                {"type": "count", "event": "video.watched", "target": 5},
                {"type": "count", "event": "comment.posted", "target": 5},
            ],
        },
        points=15,
    ),
    _goal(
        "contributor",
        {
            "type": "any",
            "of": [
                {"type": "count", "event": "comment.posted", "target": 50},
                {"type": "count", "event": "review.posted", "target": 5},
                {"type": "distinct", "event": "share", "field": "network", "target": 4},
            ],
        },
    ),
    _goal(
        "power-user",
        {
            "type": "all",
            "of": [
                {"type": "streak", "event": "login", "target": 3},
                {
                    "type": "any",
                    "of": [
                        {"type": "sum", "event": "purchase", "field": "amount", "target": 200},
                        {
                            "type": "all",
                            "of": [
                                {"type": "count", "event": "quiz.completed", "target": 5},
                                {
                                    "type": "distinct",
                                    "event": "article.read",
                                    "field": "category",
                                    "target": 3,
                                },
                            ],
                        },
                    ],
                },
            ],
        },
        points=50,
    ),
    _goal(
        "night-owl-or-binge",
        {
            "type": "any",
            "of": [
                {"type": "count", "event": "video.watched", "target": 8, "window": "3h"},
                {"type": "count", "event": "article.read", "target": 8, "window": "1h"},
            ],
        },
    ),
    _goal(
        "critic",
        {
            "type": "all",
            "of": [
                {"type": "count", "event": "review.posted", "target": 3},
                {"type": "count", "event": "review.posted", "target": 1, "where": {"stars": 1}},
            ],
        },
    ),
    # goal prerequisites (4)
    _goal(
        "veteran",
        {
            "type": "all",
            "of": [
                {"type": "goal", "goal": "login-100"},
                {"type": "goal", "goal": "explorer"},
            ],
        },
        points=100,
    ),
    _goal(
        "scholar",
        {
            "type": "all",
            "of": [
                {"type": "goal", "goal": "librarian"},
                {"type": "goal", "goal": "quiz-ace"},
                {"type": "count", "event": "quiz.completed", "target": 20},
            ],
        },
    ),
    _goal(
        "super-fan",
        {
            "type": "any",
            "of": [
                {"type": "goal", "goal": "veteran"},
                {
                    "type": "all",
                    "of": [
                        {"type": "goal", "goal": "cinephile"},
                        {"type": "goal", "goal": "commenter"},
                    ],
                },
            ],
        },
    ),
    _goal(
        "legend",
        {
            "type": "all",
            "of": [{"type": "goal", "goal": "super-fan"}, {"type": "goal", "goal": "power-user"}],
        },
        points=500,
    ),
]
assert len(GOALS) == 50, len(GOALS)
assert len({goal["key"] for goal in GOALS}) == 50


def _leaf_events(criteria: dict[str, Any]) -> set[str]:
    if criteria["type"] in ("all", "any"):
        return set().union(*(_leaf_events(child) for child in criteria["of"]))
    if criteria["type"] == "goal":
        return set()
    if criteria["type"] == "sequence":
        return {step["event"] for step in criteria["steps"]}
    return {criteria["event"]}


def goals_by_event_type() -> dict[str, list[str]]:
    """Goal keys whose criteria name each event type (for the naive baseline)."""
    index: dict[str, list[str]] = {}
    for goal in GOALS:
        for event_type in sorted(_leaf_events(goal["criteria"])):
            index.setdefault(event_type, []).append(goal["key"])
    return index


def _attributes(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "article.read":
        article = min(rng.randrange(1, ARTICLES + 1), rng.randrange(1, ARTICLES + 1))
        return {"article_id": article, "category": CATEGORIES[article % len(CATEGORIES)]}
    if kind == "video.watched":
        return {"video_id": rng.randrange(VIDEOS), "seconds": rng.randrange(30, 1800)}
    if kind == "comment.posted":
        return {"length": int(rng.expovariate(1 / 200)) + 1}
    if kind == "quiz.completed":
        return {"score": rng.randrange(40, 101)}
    if kind == "share":
        return {"network": rng.choice(NETWORKS)}
    if kind == "purchase":
        return {"amount": rng.choice([4.99, 9.99, 19.99, 49.0, 99.0])}
    if kind == "review.posted":
        return {"stars": rng.randrange(1, 6)}
    if kind == "cart.add":
        return {"sku": f"sku-{rng.randrange(200)}"}
    return {}


def entity_weights(entities: int, exponent: float = 1.0) -> list[float]:
    """Cumulative Zipf weights: entity rank ``r`` (from 1) has weight ``1 / r**exponent``."""
    return list(itertools.accumulate(1 / (rank**exponent) for rank in range(1, entities + 1)))


def make_events(
    count: int,
    *,
    entities: int = 10_000,
    seed: int = 42,
    days: float = 6.0,
    now: datetime | None = None,
    prefix: str = "b",
) -> list[dict[str, Any]]:
    """``count`` events as wire-format dicts (``type``, ``entity``, ``entity_type``,
    ``attributes``, ``id``, ``occurred_at``), oldest first."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    start = now - timedelta(days=days)
    span = (now - timedelta(minutes=1) - start).total_seconds()
    cumulative = entity_weights(entities)
    total = cumulative[-1]
    kinds = list(EVENT_MIX)
    kind_cumulative = list(itertools.accumulate(EVENT_MIX.values()))
    offsets = sorted(rng.random() * span for _ in range(count))
    events = []
    for index, offset in enumerate(offsets):
        entity = bisect.bisect_left(cumulative, rng.random() * total)
        kind = kinds[min(bisect.bisect_left(kind_cumulative, rng.random()), len(kinds) - 1)]
        events.append(
            {
                "type": kind,
                "entity": f"u{min(entity, entities - 1)}",
                "entity_type": "user",
                "attributes": _attributes(kind, rng),
                "id": f"{prefix}{seed}-{index}",
                "occurred_at": (start + timedelta(seconds=offset)).isoformat(),
            }
        )
    return events


def tracked_events(count: int, *, entities: int = 10_000) -> list[TrackedEvent]:
    """:func:`make_events` as the events a worker processes (for in-process probes)."""
    return as_tracked(make_events(count, entities=entities))


def as_tracked(events: list[dict[str, Any]]) -> list[TrackedEvent]:
    """The workload's events (as :func:`make_events` gives them) as the engine takes them."""
    return [
        make_event(
            event["type"],
            event["entity"],
            entity_type=event["entity_type"],
            attributes=event["attributes"],
            event_id=event["id"],
            occurred_at=event["occurred_at"],
        )
        for event in events
    ]


def encode(event: dict[str, Any]) -> str:
    """The JSON payload of the stream's ``event`` field."""
    return json.dumps(event, separators=(",", ":"))


def describe(events: list[dict[str, Any]]) -> str:
    """One line: events, entities seen, the share of the most active entities."""
    per_entity = Counter(event["entity"] for event in events)
    top = per_entity.most_common(10)
    top1 = 100 * top[0][1] / len(events) if top else 0
    top10 = 100 * sum(n for _, n in top) / len(events) if top else 0
    return (
        f"{len(events)} events, {len(per_entity)} entities active,"
        f" top entity {top1:.1f}% of events, top 10 {top10:.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    events = make_events(args.events, entities=args.entities, seed=args.seed)
    for event in events[:20]:
        print(encode(event))
    print(describe(events))


if __name__ == "__main__":
    main()
