"""Leaderboards: competition ranks, ties, periods in the app's time zone, back-dated
points, "my rank and five around me"; SQL and Redis agree, Redis can be rebuilt."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import wait_for
from flask import Flask
from pipeline_support import emit, gamify_of, logged_events
from workload import make_events

from flask_gamify import Gamify, InvalidInputError, LeaderboardView, Standing, leaderboards
from flask_gamify.leaderboards import PERIODS, period_of, sql_leaderboard
from flask_gamify.ledger import award_entry
from flask_gamify.testing import RedisServer


def board(view: LeaderboardView) -> list[tuple[int, str, int]]:
    return [(entry.rank, entry.entity, entry.points) for entry in view.entries]


def test_competition_ranks_and_ties_by_entity_id(app: Flask, gamify: Gamify) -> None:
    for entity, points in [("dan", 30), ("bob", 50), ("cy", 50), ("ann", 50), ("eve", 10)]:
        gamify.adjust_points(entity, points, reason="seed")
    gamify.adjust_points("zed", 5, reason="seed")
    gamify.adjust_points("zed", -5, reason="taken back")  # 0 points: not listed

    view = gamify.leaderboard()

    assert board(view) == [
        (1, "ann", 50),
        (1, "bob", 50),
        (1, "cy", 50),
        (4, "dan", 30),
        (5, "eve", 10),
    ]
    assert (view.period, view.starts_at, view.ends_at, view.around) == ("all", None, None, None)
    assert board(gamify.leaderboard(limit=2)) == [(1, "ann", 50), (1, "bob", 50)]
    assert view.to_dict()["entries"][3] == {"rank": 4, "entity": "dan", "points": 30}


def test_a_leaderboard_is_the_sequence_of_its_top_standings(app: Flask, gamify: Gamify) -> None:
    for entity, points in [("bob", 50), ("ann", 50), ("cy", 20)]:
        gamify.adjust_points(entity, points, reason="seed")

    view = gamify.leaderboard(limit=10, around="cy")

    assert isinstance(view, Sequence)
    assert [(s.rank, s.entity, s.points) for s in view] == board(view)
    assert (len(view), view[0].rank, view[0].entity, view[-1].entity) == (3, 1, "ann", "cy")
    assert view[1:] == view.entries[1:] and view[1].rank == 1
    assert Standing(3, "cy", 20) in view and view.index(Standing(3, "cy", 20)) == 2
    assert view.period == "all" and view.around is not None  # the metadata stays
    with pytest.raises(IndexError):
        view[3]
    assert len(gamify.leaderboard(category="karma")) == 0
    assert not gamify.leaderboard(category="karma")


def test_around_lists_five_on_each_side(app: Flask, gamify: Gamify) -> None:
    for number in range(20):
        gamify.adjust_points(f"u{number:02d}", 100 - number * 5, reason="seed")
    gamify.adjust_points("u11", 5, reason="tie with u10")  # u10 and u11 both at 50

    view = gamify.leaderboard(around="u11", limit=1)

    around = [(s.rank, s.entity, s.points) for s in view.around or []]
    assert around[3:7] == [(10, "u09", 55), (11, "u10", 50), (11, "u11", 50), (13, "u12", 40)]
    assert [s.entity for s in view.around or []] == [
        "u06",
        "u07",
        "u08",
        "u09",
        "u10",
        "u11",
        "u12",
        "u13",
        "u14",
        "u15",
        "u16",
    ]
    top = gamify.leaderboard(around="u00").around or []
    assert [s.entity for s in top] == ["u00", "u01", "u02", "u03", "u04", "u05"]
    # An entity without points: its rank after everyone who has some, nobody after it.
    nobody = gamify.leaderboard(around="newbie").around or []
    assert [(s.rank, s.entity, s.points) for s in nobody][-1] == (21, "newbie", 0)
    assert len(nobody) == 6


def test_periods_follow_event_time_and_the_time_zone(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal(
        "talker",
        criteria={"type": "count", "event": "comment", "target": 1},
        points=10,
        repeatable=True,
    )
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)  # ISO week 10
    gamify.track("comment", "ann", occurred_at=monday - timedelta(days=2))  # week 9, Feb
    gamify.track("comment", "ann", occurred_at=monday)
    gamify.track("comment", "bob", occurred_at=monday + timedelta(days=1))
    gamify.track("comment", "bob", occurred_at=monday + timedelta(days=2))

    week = gamify.leaderboard(period="week", at=monday)
    assert board(week) == [(1, "bob", 20), (2, "ann", 10)]
    assert week.starts_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert week.ends_at == datetime(2026, 3, 9, tzinfo=UTC)
    assert board(gamify.leaderboard(period="week", at=monday - timedelta(days=1))) == [
        (1, "ann", 10)
    ]
    assert board(gamify.leaderboard(period="day", at=monday)) == [(1, "ann", 10)]
    assert board(gamify.leaderboard(period="month", at=monday)) == [
        (1, "bob", 20),
        (2, "ann", 10),
    ]
    assert board(gamify.leaderboard(period="month", at=monday - timedelta(days=2))) == [
        (1, "ann", 10)
    ]
    assert board(gamify.leaderboard()) == [(1, "ann", 20), (1, "bob", 20)]
    # A revocation takes the points from the period the award counted for.
    gamify.revoke_award("bob", "talker", 2, reason="spam")
    assert board(gamify.leaderboard(period="week", at=monday)) == [
        (1, "ann", 10),
        (1, "bob", 10),
    ]


def test_periods_are_cut_in_the_time_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    late = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # already Monday the 30th in Paris
    day = period_of("day", late, paris)
    assert day.key == "day:2026-03-30"
    assert day.starts_at == datetime(2026, 3, 29, 22, tzinfo=UTC)  # summer time began
    week = period_of("week", late, paris)
    assert (week.key, week.starts_at) == ("week:2026-W14", datetime(2026, 3, 29, 22, tzinfo=UTC))
    month = period_of("month", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), paris)
    assert (month.key, month.starts_at, month.ends_at) == (
        "month:2027-01",
        datetime(2026, 12, 31, 23, tzinfo=UTC),
        datetime(2027, 1, 31, 23, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"period": "year"}, "period"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"category": ""}, "category"),
        ({"around": ""}, "around"),
        ({"at": datetime(2026, 1, 1)}, "at"),
    ],
)
def test_bad_leaderboard_arguments_name_the_field(
    app: Flask, gamify: Gamify, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        gamify.leaderboard(**arguments)
    assert field in raised.value.errors


# -- Redis -------------------------------------------------------------------------------


def sql_answer(gamify: Gamify, **arguments: Any) -> LeaderboardView:
    state = gamify.state
    period = period_of(arguments.pop("period"), arguments.pop("at"), state.timezone)
    with state.transaction() as session:
        return sql_leaderboard(
            session,
            entity_type="user",
            category="points",
            period=period,
            limit=arguments["limit"],
            around=arguments.get("around"),
        )


def random_points(gamify: Gamify, seed: int, now: datetime) -> list[str]:
    """Random awards, revocations and adjustments, back-dated up to 40 days, with many
    ties; written the way processing writes them, then synced to Redis."""
    rng = random.Random(seed)
    entities = [f"e{number}" for number in range(60)]
    rows = []
    for _ in range(400):
        moment = now - timedelta(hours=rng.randrange(0, 40 * 24))
        # Near midnight in the app's zone half the time: period edges.
        if rng.random() < 0.5:
            moment = moment.replace(minute=rng.choice([0, 59]), second=rng.choice([0, 59]))
        rows.append(
            award_entry(
                kind=rng.choice(["award", "revocation"]),
                entity_type="user",
                entity_id=rng.choice(entities),
                amount=rng.choice([5, 10, 10, -10, 20]),
                goal_key="g",
                occurrence=1,
                reason="random",
                changed_by=None,
                occurred_at=moment,
                now=now,
            )
        )
    state = gamify.state
    for start in range(0, len(rows), 50):  # several transactions, like batches
        with state.transaction() as session:
            changes, _ = state.ledger.write(session, rows[start : start + 50], now)
        assert state.boards is not None
        state.boards.sync(state.session_factory, changes)
    return entities


def compare_everything(gamify: Gamify, entities: list[str], now: datetime) -> int:
    compared = 0
    for period in PERIODS:
        for at in (now, now - timedelta(days=1), now - timedelta(days=7)):
            if period == "all" and at != now:
                continue
            for around in (None, *entities[:15], "nobody"):
                arguments = {"period": period, "at": at, "limit": 10, "around": around}
                expected = sql_answer(gamify, **arguments)
                got = gamify.leaderboard(**arguments)
                assert got == expected, arguments
                compared += 1
    return compared


def test_redis_and_sql_agree_and_redis_is_rebuilt_after_a_flush(
    papp: Flask, redis_server: RedisServer
) -> None:
    gamify = gamify_of(papp)
    state = papp.extensions["gamify"]
    boards = state.boards
    client = state.pipeline.client
    now = datetime.now(UTC)
    gamify.rebuild_leaderboards()  # nothing yet: Redis is trusted from now on
    entities = random_points(gamify, seed=3, now=now)
    assert client.zcard(boards.key("user", "points", period_of("all", now, state.timezone)))

    # Redis answered (checked: SQL alone would give the same, so break SQL's answer).
    assert compare_everything(gamify, entities, now) > 100
    key = boards.key("user", "points", period_of("all", now, state.timezone))
    client.zadd(key, {"intruder": -(10**6)})
    assert gamify.leaderboard().entries[0].entity == "intruder"

    # Redis loses everything: answers come from SQL until the rebuild, then from Redis.
    client.flushall()
    assert gamify.leaderboard().entries[0].entity != "intruder"
    written = gamify.rebuild_leaderboards()
    assert written[key] > 0
    assert client.zscore(key, "intruder") is None
    compare_everything(gamify, entities, now)
    # Rebuilding again, and syncing again, changes nothing (idempotent).
    sets = [k for k in client.keys("*leaderboard*") if client.type(k) == b"zset"]
    before = {k: client.zrange(k, 0, -1, withscores=True) for k in sets}
    gamify.rebuild_leaderboards()
    assert {k: client.zrange(k, 0, -1, withscores=True) for k in before} == before


def test_an_older_total_never_replaces_a_newer_one(papp: Flask, redis_server: RedisServer) -> None:
    gamify = gamify_of(papp)
    state = papp.extensions["gamify"]
    gamify.rebuild_leaderboards()
    gamify.adjust_points("ann", 10, reason="first")
    key = state.boards.key("user", "points", period_of("all", datetime.now(UTC), state.timezone))
    # A slow process writes the total it read before the second adjustment (version 1).
    gamify.adjust_points("ann", 15, reason="second")
    state.boards._apply({key: ("", [("ann", 1, 10)])})
    assert state.pipeline.client.zscore(key, "ann") == -25
    assert gamify.leaderboard().entries[0].points == 25


def test_redis_unreachable_reads_sql(papp: Flask, redis_server: RedisServer) -> None:
    gamify = gamify_of(papp)
    gamify.rebuild_leaderboards()
    gamify.adjust_points("ann", 10, reason="seed")
    redis_server.stop()
    try:
        assert board(gamify.leaderboard()) == [(1, "ann", 10)]
    finally:
        redis_server.start()


def test_workers_keep_redis_in_step_with_sql(
    papp: Flask, redis_server: RedisServer, workers: Any
) -> None:
    gamify = gamify_of(papp)
    gamify.rebuild_leaderboards()
    events = make_events(300, entities=12, seed=5)
    emit(papp, events)
    workers.start("w1")
    wait_for(lambda: logged_events(papp) == len(events), timeout=60, message="all events ran")
    entities = sorted({event.entity_id for event in events})
    assert any(gamify.points(entity) for entity in entities)
    moments = sorted({event.occurred_at for event in events})
    for period in PERIODS:
        for at in (moments[0], moments[len(moments) // 2], moments[-1]):
            for around in (None, *entities):
                arguments = {"period": period, "at": at, "limit": 5, "around": around}
                wait_for(
                    lambda arguments=arguments: (
                        gamify.leaderboard(**arguments) == sql_answer(gamify, **dict(arguments))
                    ),
                    timeout=10,
                    message=f"Redis agrees with SQL for {arguments}",
                )


def test_rebuild_fills_sets_in_bulk_and_swaps_them_in_whole(
    papp: Flask, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gamify = gamify_of(papp)
    state = papp.extensions["gamify"]
    client = state.pipeline.client
    for number in range(30):
        gamify.adjust_points(f"u{number:02d}", number + 1, reason="seed")
    key = state.boards.key("user", "points", period_of("all", datetime.now(UTC), state.timezone))
    client.zadd(key, {"stale": -(10**6)})  # a leftover the rebuild must not keep
    monkeypatch.setattr(leaderboards, "BULK_CHUNK", 7)  # several chunks
    replace = leaderboards.RedisBoards._replace
    seen_during_build: list[list[Any]] = []

    def replace_while_points_change(self: Any, target: str, *args: Any) -> None:
        if target == key and not seen_during_build:
            # Readers still see the old set while the new one is built ...
            seen_during_build.append(client.zrange(key, 0, 0))
            # ... and points committed meanwhile go to the old set, then are caught up.
            gamify.adjust_points("late", 1000, reason="during the rebuild")
        replace(self, target, *args)

    monkeypatch.setattr(leaderboards.RedisBoards, "_replace", replace_while_points_change)

    written = gamify.rebuild_leaderboards()

    assert seen_during_build == [[b"stale"]]
    assert written[key] == 30
    assert client.zscore(key, "stale") is None
    assert client.zscore(key, "late") == -1000  # written again after the swap
    assert client.hget(f"{key}:versions", "u05") == b"1"
    assert [(s.entity, s.points) for s in gamify.leaderboard(limit=2)] == [
        ("late", 1000),
        ("u29", 30),
    ]
    assert not [k for k in client.keys("*:rebuilding:*")]  # no temporary set left
    week = state.boards.key("user", "points", period_of("week", datetime.now(UTC), state.timezone))
    assert client.ttl(week) > 0 and client.ttl(f"{week}:versions") > 0 and client.ttl(key) == -1
    # A board whose points all went back to 0 is emptied.
    for number in range(30):
        gamify.adjust_points(f"u{number:02d}", -(number + 1), reason="reset")
    gamify.adjust_points("late", -1000, reason="reset")
    client.zadd(key, {"stale": -5})
    gamify.rebuild_leaderboards()
    assert client.exists(key) == 0 and len(gamify.leaderboard()) == 0


def test_redis_down_after_a_commit_is_a_warning_without_a_traceback(
    papp: Flask, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    gamify = gamify_of(papp)
    gamify.rebuild_leaderboards()
    redis_server.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="flask_gamify"):
            gamify.adjust_points("ann", 10, reason="during an outage")
    finally:
        redis_server.start()
    missed = [r for r in caplog.records if "missed a change of points" in r.getMessage()]
    assert missed, caplog.text
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in missed)
    assert gamify.points("ann") == 10  # the points are committed all the same
    gamify.rebuild_leaderboards()
    assert board(gamify.leaderboard()) == [(1, "ann", 10)]
