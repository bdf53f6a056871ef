"""Leaderboard latency: the top 10 and one entity's rank through ``gamify.leaderboard``,
from Redis and from SQL, against bare redis-py ``ZREVRANGE``/``ZREVRANK`` on the same
data (a copy of the set with positive scores, as a host would keep it by hand).

Points are random (with ties) per entity, written as balances in SQL; ``gamify
.rebuild_leaderboards()`` (timed) fills Redis from them. At sizes where filling SQL
would dominate the run (``redis_only``), the sorted set is filled directly with the
same bulk path a rebuild uses, and only Redis is measured.

"Rank of an entity" through gamify is ``leaderboard(limit=1, around=entity)``: its
rank, its points and up to five neighbours on each side with their ranks; the bare
baseline is one ``ZREVRANK``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import insert

from flask_gamify.leaderboards import period_of
from flask_gamify.models import PointsBalance

from .harness import percentile

BLOCK = 100
#: Points are drawn from 0 to this: many ties at large sizes, as in real boards.
MAX_POINTS = 100_000


@dataclass
class Latency:
    p50: float
    p99: float
    bare_p50: float
    bare_p99: float


@dataclass
class Boards:
    entities: int
    #: Seconds to fill Redis (a rebuild from SQL, or the bulk fill alone).
    fill_seconds: float
    top: Latency
    rank: Latency
    #: The SQL path (no Redis), when measured: top 10 and rank.
    sql_top: Latency | None = None
    sql_rank: Latency | None = None


def _points(entities: int, seed: int) -> dict[str, int]:
    chance = random.Random(seed)
    return {f"u{number}": chance.randint(1, MAX_POINTS) for number in range(entities)}


def _sample(
    ours: Callable[[], Any], bare: Callable[[], Any], requests: int
) -> tuple[list[float], list[float]]:
    """Alternating blocks of calls, after a warm-up; seconds per call."""
    for _ in range(50):
        ours()
        bare()
    samples: tuple[list[float], list[float]] = ([], [])
    for _block in range(max(1, requests // BLOCK)):
        for index, call in ((1, bare), (0, ours)):
            for _ in range(BLOCK):
                started = time.perf_counter()
                call()
                samples[index].append(time.perf_counter() - started)
    return samples


def _latency(ours: list[float], bare: list[float]) -> Latency:
    return Latency(
        percentile(ours, 50), percentile(ours, 99), percentile(bare, 50), percentile(bare, 99)
    )


def fill_sql(app: Flask, points: dict[str, int]) -> None:
    """Write one balance per entity (what the ledger keeps), in chunks."""
    state = app.extensions["gamify"]
    now = datetime.now(UTC)
    rows = [
        {
            "entity_type": "user",
            "entity_id": entity,
            "category": "points",
            "points": value,
            "version": 1,
            "updated_at": now,
        }
        for entity, value in points.items()
    ]
    with state.transaction() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(insert(PointsBalance), rows[start : start + 10_000])


def run(app: Flask, *, entities: int, requests: int, seed: int, redis_only: bool) -> Boards:
    """Measure with the app's Redis (``GAMIFY_REDIS_URL`` must be set)."""
    state = app.extensions["gamify"]
    gamify = state.extension
    boards = state.boards
    assert boards is not None, "the leaderboard benchmark needs GAMIFY_REDIS_URL"
    client = state.pipeline.client
    points = _points(entities, seed)
    key = boards.key("user", "points", period_of("all", datetime.now(UTC), state.timezone))
    started = time.perf_counter()
    if redis_only:
        boards._replace(key, points, dict.fromkeys(points, 1), "")
        client.set(boards.marker, datetime.now(UTC).isoformat())
    else:
        fill_sql(app, points)
        started = time.perf_counter()
        gamify.rebuild_leaderboards(["all"])
    fill_seconds = time.perf_counter() - started
    # The bare baseline: the same data as a host would keep it, scores positive.
    bare_key = "bench:bare-leaderboard"
    names = list(points)
    for start in range(0, len(names), 10_000):
        client.zadd(bare_key, {name: points[name] for name in names[start : start + 10_000]})
    middle = sorted(points, key=lambda name: (-points[name], name))[entities // 2]
    assert gamify.leaderboard(limit=1, around=middle).around is not None

    top = _sample(
        lambda: gamify.leaderboard(limit=10),
        lambda: client.zrevrange(bare_key, 0, 9, withscores=True),
        requests,
    )
    rank = _sample(
        lambda: gamify.leaderboard(limit=1, around=middle),
        lambda: client.zrevrank(bare_key, middle),
        requests,
    )
    result = Boards(entities, fill_seconds, _latency(*top), _latency(*rank))
    if not redis_only:
        # The SQL path: the same calls with Redis out of the way (inline mode reads SQL).
        from_redis = gamify.leaderboard(limit=10, around=middle)
        saved, state.boards = state.boards, None
        try:
            assert gamify.leaderboard(limit=10, around=middle) == from_redis, "SQL != Redis"
            sql_top = _sample(
                lambda: gamify.leaderboard(limit=10),
                lambda: client.zrevrange(bare_key, 0, 9, withscores=True),
                requests,
            )
            sql_rank = _sample(
                lambda: gamify.leaderboard(limit=1, around=middle),
                lambda: client.zrevrank(bare_key, middle),
                requests,
            )
        finally:
            state.boards = saved
        result.sql_top, result.sql_rank = _latency(*sql_top), _latency(*sql_rank)
    client.unlink(bare_key, key, f"{key}:versions")  # freed in the background
    return result
