"""``flask gamify points``, ``levels`` and ``leaderboards``: what they print, and one clear
line with exit status 1 for bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import Result
from flask import Flask
from pipeline_support import gamify_of

from flask_gamify import Gamify
from flask_gamify.leaderboards import period_of
from flask_gamify.testing import RedisServer

LEVELS = [(0, "Newcomer"), (100, "Regular"), (500, "Veteran")]


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["gamify", *args])


def failed(result: Result) -> str:
    """The one-line error of a failed command."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


def test_points_adjust_show_and_ledger(app: Flask, gamify: Gamify) -> None:
    gamify.define_levels(LEVELS)
    result = invoke(
        app, "points", "adjust", "42", "150", "--reason", "welcome", "--changed-by", "mo"
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Gave 150 points (ledger entry ")
    assert result.output.endswith("; user 42 has 150 now.\n")
    # A negative amount is an amount, not an option.
    result = invoke(app, "points", "adjust", "42", "-30", "--reason", "duplicate answers")
    assert result.exit_code == 0, result.output
    assert "Took back 30 points" in result.output and "has 120 now." in result.output
    assert (
        invoke(app, "points", "adjust", "42", "5", "--reason", "r", "--category", "karma").exit_code
        == 0
    )
    assert gamify.points(42) == 120 and gamify.points(42, category="karma") == 5

    assert invoke(app, "points", "show", "42").output == "user 42: 120 points, level 2 (Regular).\n"
    assert (
        invoke(app, "points", "show", "42", "--category", "karma").output == "user 42: 5 karma.\n"
    )
    assert invoke(app, "points", "show", "nobody").output == (
        "user nobody: 0 points, level 1 (Newcomer).\n"
    )

    lines = invoke(app, "points", "ledger", "42").output.splitlines()
    assert len(lines) == 3
    assert "+5  karma  adjustment  -  r" in lines[0]
    assert "-30  points  adjustment  -  duplicate answers" in lines[1]
    assert lines[2].endswith("+150  points  adjustment  -  welcome by mo")
    first = invoke(app, "points", "ledger", "42", "--limit", "2").output.splitlines()
    assert first[:2] == lines[:2]
    oldest = lines[2].split()[0]
    assert first[2] == f"More with --before {first[1].split()[0]}."
    following = invoke(app, "points", "ledger", "42", "--before", first[1].split()[0])
    assert following.output.splitlines() == [lines[2]]
    assert invoke(app, "points", "ledger", "42", "--category", "karma").output.count("\n") == 1
    assert invoke(app, "points", "ledger", "42", "--before", oldest).output == (
        f"No entries before {oldest}.\n"
    )
    assert invoke(app, "points", "ledger", "nobody").output == "No entries.\n"


def test_points_adjust_is_idempotent_with_a_key(app: Flask, gamify: Gamify) -> None:
    for _ in range(2):
        result = invoke(
            app, "points", "adjust", "7", "25", "--reason", "talk", "--idempotency-key", "talk-7"
        )
        assert result.exit_code == 0, result.output
    assert gamify.points(7) == 25
    line = failed(
        invoke(
            app, "points", "adjust", "7", "30", "--reason", "talk", "--idempotency-key", "talk-7"
        )
    )
    assert "already used" in line and "nothing was changed" in line
    assert gamify.points(7) == 25


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["points", "adjust", "7", "0", "--reason", "r"], "amount: Must not be 0"),
        (["points", "adjust", "7", "3", "--reason", " "], "reason: Say why the points change"),
        (["points", "adjust", "7", str(2**31), "--reason", "r"], "amount: Must be from"),
        (
            ["points", "adjust", "7", "3", "--reason", "r", "--category", "x" * 65],
            "category: Must be at most 64",
        ),
        (
            ["points", "adjust", "7", "3", "--reason", "r", "--idempotency-key", "k" * 201],
            "--idempotency-key: Must be at most 200",
        ),
        (["points", "ledger", "7", "--limit", "0"], "limit: Must be an integer from 1 to 1000"),
        (["points", "ledger", "7", "--before", "-1"], "before: Must be a positive integer"),
        (["levels", "show", "7"], "No levels are defined for entity type 'user'"),
        (["leaderboards", "show", "--limit", "101"], "limit: Must be an integer from 1 to 100"),
        (
            ["leaderboards", "show", "--entity-type", " "],
            "--entity-type: Must be a non-empty string",
        ),
        (
            ["leaderboards", "rebuild"],
            "GAMIFY_REDIS_URL is not set: leaderboards are read from the SQL ledger",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_status_1(
    app: Flask, gamify: Gamify, args: list[str], expected: str
) -> None:
    line = failed(invoke(app, *args))
    assert expected in line, line
    assert gamify.points(7) == 0


def test_usage_errors_exit_with_status_2(app: Flask) -> None:
    for args in (
        ["points", "adjust", "7", "3"],  # no --reason
        ["points", "adjust", "7", "three", "--reason", "r"],
        ["leaderboards", "show", "--period", "year"],
        ["leaderboards", "rebuild", "--period", "year"],
    ):
        result = invoke(app, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "Error:" in result.output


def test_levels_show(app: Flask, gamify: Gamify) -> None:
    gamify.define_levels(LEVELS)
    gamify.define_levels([(0, "Small"), (10, "Big")], entity_type="team")
    gamify.adjust_points("ann", 150, reason="seed")
    gamify.adjust_points("t1", 20, reason="seed", entity_type="team")
    gamify.adjust_points("neg", -5, reason="seed")

    assert invoke(app, "levels", "show", "ann").output == (
        "ann: level 2 (Regular), 150 points; Veteran at 500 (350 to go, 12 % of the way).\n"
    )
    assert invoke(app, "levels", "show", "t1", "--entity-type", "team").output == (
        "t1: level 2 (Big), 20 points; the top level.\n"
    )
    assert invoke(app, "levels", "show", "neg").output.startswith(
        "neg: level 0 (no level yet), -5 points; Newcomer at 0 (5 to go"
    )


def test_leaderboards_show(app: Flask, gamify: Gamify) -> None:
    for entity, points in [("bob", 50), ("ann", 50), ("cy", 20), ("dan", 5)]:
        gamify.adjust_points(entity, points, reason="seed")
    gamify.adjust_points("t1", 9, reason="seed", entity_type="team", category="xp")

    lines = invoke(app, "leaderboards", "show", "--limit", "3").output.splitlines()
    assert lines == [
        "All time, user by points:",
        "  rank      points  entity",
        "     1          50  ann",
        "     1          50  bob",
        "     3          20  cy",
    ]
    around = invoke(app, "leaderboards", "show", "--limit", "1", "--around", "dan").output
    assert around.splitlines()[-5:] == [
        "Around dan:",
        "     1          50  ann",
        "     1          50  bob",
        "     3          20  cy",
        "     4           5  dan  <",
    ]
    week = invoke(app, "leaderboards", "show", "--period", "week").output.splitlines()
    period = period_of("week", datetime.now(UTC), gamify.state.timezone)
    assert week[0] == (
        f"Week from {period.starts_at:%Y-%m-%d %H:%M} to {period.ends_at:%Y-%m-%d %H:%M} UTC,"
        " user by points:"
    )
    assert len(week) == 6
    team = invoke(app, "leaderboards", "show", "--entity-type", "team", "--category", "xp")
    assert team.output.splitlines()[-1] == "     1           9  t1"
    empty = invoke(app, "leaderboards", "show", "--category", "karma").output
    assert empty.splitlines()[-1] == "  (nobody has points in this period)"


def test_leaderboards_rebuild_restores_redis(papp: Flask, redis_server: RedisServer) -> None:
    gamify = gamify_of(papp)
    state = papp.extensions["gamify"]
    client = state.pipeline.client
    for number in range(12):
        gamify.adjust_points(f"u{number}", number + 1, reason="seed")
    client.flushall()

    result = invoke(papp, "leaderboards", "rebuild")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Rebuilt ") and "with 48 member(s) in" in result.output
    key = state.boards.key("user", "points", period_of("all", datetime.now(UTC), state.timezone))
    assert client.zcard(key) == 12
    client.delete(key)
    result = invoke(papp, "leaderboards", "rebuild", "--period", "all")
    assert result.output.startswith("Rebuilt 1 leaderboard set(s) with 12 member(s)")
    assert client.zcard(key) == 12
    assert "u11" in invoke(papp, "leaderboards", "show", "--limit", "1").output

    redis_server.stop()
    try:
        line = failed(invoke(papp, "leaderboards", "rebuild"))
        assert "Redis did not answer" in line and "GAMIFY_REDIS_URL" in line
        # Reads fall back to SQL.
        assert "u11" in invoke(papp, "leaderboards", "show", "--limit", "1").output
    finally:
        redis_server.start()
