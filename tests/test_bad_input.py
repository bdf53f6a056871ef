"""Bad input gets a clear error naming the field, never a 500, a hang or a traceback.

Deeply nested criteria and bodies, lone surrogates, dates at the edges of the calendar,
oversized criteria lists (see also test_config.py, test_cli.py and test_fuzz.py).
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_support import PREFIX, bearer, error_of, make_token
from conftest import db
from flask import Flask
from flask.testing import FlaskClient
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import (
    ConfigurationError,
    CriteriaError,
    EventError,
    Gamify,
    GoalError,
    InvalidInputError,
)
from flask_gamify.criteria import EvaluationContext, compile_criteria, validate_criteria
from flask_gamify.criteria.leaves import local_day
from flask_gamify.criteria.limits import MAX_CHILDREN, MAX_SIZE, MAX_STEPS, MAX_VALUES
from flask_gamify.events import EventLimits
from flask_gamify.extension import DEFAULTS
from flask_gamify.pipeline.streams import decode_event
from flask_gamify.testing import RedisServer

COUNT = {"type": "count", "event": "login", "target": 1}
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def nested_criteria(depth: int) -> dict[str, Any]:
    criteria: dict[str, Any] = COUNT
    for _ in range(depth):
        criteria = {"type": "all", "of": [criteria]}
    return criteria


def nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def nested_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.fixture
def headers(app: Flask) -> dict[str, str]:
    return bearer(make_token())


@pytest.fixture
def make_app(database_url: str) -> Iterator[Any]:
    """Build an app like the ``app`` fixture, with configuration of the test's own."""
    made: list[Flask] = []

    def build(**config: Any) -> tuple[Flask, Gamify]:
        app = Flask("bad_input_app")
        app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=database_url, **config)
        db.init_app(app)
        gamify = Gamify(app, db=db)
        with app.app_context():
            gamify.drop_all()
            gamify.create_all()
        made.append(app)
        return app, gamify

    yield build
    for app in made:
        with app.app_context():
            app.extensions["gamify"].extension.drop_all()
            for engine in db.engines.values():
                engine.dispose()


# -- 1. depth ---------------------------------------------------------------------------


def test_criteria_nested_200_deep_name_the_path_and_the_limit() -> None:
    with pytest.raises(CriteriaError) as info:
        validate_criteria(nested_criteria(200))
    [(path, [message])] = info.value.errors.items()
    assert path == "criteria" + ".of[0]" * 7 + ".of"
    assert "at most 8 levels deep" in message


def test_where_operands_nested_1000_deep_are_refused() -> None:
    criteria = {**COUNT, "where": {"meta": {"eq": nested_list(1000)}}}
    with pytest.raises(CriteriaError) as info:
        validate_criteria(criteria)
    [(path, [message])] = info.value.errors.items()
    assert path.startswith("criteria.where.meta.eq[0][0]")
    assert "more than 32 levels deep" in message


def test_define_goal_with_deep_criteria_is_a_criteria_error(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(CriteriaError, match="at most 8 levels deep"):
        gamify.define_goal("deep", criteria=nested_criteria(200))
    with pytest.raises(CriteriaError, match="32 levels deep"):
        gamify.define_goal("deep", criteria={**COUNT, "where": {"a": nested_list(5000)}})


def test_rest_goals_with_deep_criteria_get_a_4xx_naming_the_path(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    url = f"{PREFIX}/goals"
    response = client.post(
        url, json={"key": "deep", "criteria": nested_criteria(20)}, headers=headers
    )
    assert response.status_code == 422
    [message] = error_of(response)["errors"]["criteria" + ".of[0]" * 7 + ".of"]
    assert "at most 8 levels deep" in message
    # 200 criteria deep is 400 levels of JSON: refused before any criteria are read.
    response = client.post(
        url, json={"key": "deep", "criteria": nested_criteria(200)}, headers=headers
    )
    assert response.status_code == 400
    assert "64 levels deep" in error_of(response)["message"]
    gamify.define_goal("flat", criteria=COUNT)
    response = client.patch(f"{url}/flat", json={"criteria": nested_criteria(20)}, headers=headers)
    assert response.status_code == 422
    assert gamify.goal("flat").criteria == COUNT


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/events"),
        ("post", "/goals"),
        ("patch", "/goals/flat"),
        ("post", "/goals/flat/assignments"),
        ("post", "/entities/user/7/notifications/read"),
    ],
)
@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_request_bodies_nested_deep_get_400(
    client: FlaskClient,
    gamify: Gamify,
    headers: dict[str, str],
    method: str,
    path: str,
    depth: int,
) -> None:
    gamify.define_goal("flat", criteria=COUNT)
    response = getattr(client, method)(
        f"{PREFIX}{path}",
        data=nested_json(depth),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.data
    assert "more than 64 levels deep" in error_of(response)["message"]


def test_attributes_nested_deep_are_an_event_error_in_python(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(EventError) as info:
        gamify.track("login", 1, attributes={"a": nested_list(100_000)})
    assert "at most 4 deep" in info.value.errors["attributes"][0]


# -- 2. lone surrogates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("log\ud800in", 1), {}, "type"),
        (("login", "user\udfff"), {}, "entity"),
        (("login", 1), {"entity_type": "\ud800"}, "entity_type"),
        (("login", 1), {"attributes": {"k\ud800": "v"}}, "attributes.'k\\ud800'"),
        (("login", 1), {"attributes": {"title": "a\ud800b"}}, "attributes.title"),
        (("login", 1), {"attributes": {"tags": ["ok", "\udc00"]}}, "attributes.tags[1]"),
    ],
)
def test_lone_surrogates_in_tracked_events_name_the_field(
    app: Flask, gamify: Gamify, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(EventError) as info:
        gamify.track(*args, **kwargs)
    assert list(info.value.errors) == [field]
    assert "lone surrogate" in info.value.errors[field][0]
    str(info.value).encode()  # the message itself is printable


@pytest.mark.parametrize(
    ("goal", "error", "field"),
    [
        ({"name": "Bad \ud800"}, GoalError, "name"),
        ({"description": "\udbff"}, GoalError, "description"),
        ({"criteria": {**COUNT, "event": "log\ud800"}}, CriteriaError, "criteria.event"),
        (
            {"criteria": {**COUNT, "where": {"\ud800": 1}}},
            CriteriaError,
            "criteria.where.'\\ud800'",
        ),
        ({"key": "bad\ud800"}, GoalError, "key"),
    ],
)
def test_lone_surrogates_in_goals_name_the_field(
    app: Flask, gamify: Gamify, goal: dict[str, Any], error: type[Exception], field: str
) -> None:
    definition = {"key": "g", "criteria": COUNT, **goal}
    with pytest.raises(error) as info:
        gamify.define_goals([definition])
    assert field in info.value.errors  # type: ignore[attr-defined]
    assert gamify.goals() == []


@pytest.mark.parametrize(
    "event",
    [
        '{"type": "log\\ud800", "entity": 1}',
        '{"type": "login", "entity": "\\udfff"}',
        '{"type": "login", "entity": 1, "attributes": {"\\ud800": 1}}',
        '{"type": "login", "entity": 1, "attributes": {"a": "\\ud800"}}',
    ],
)
def test_lone_surrogates_in_rest_events_get_422(
    client: FlaskClient, headers: dict[str, str], event: str
) -> None:
    response = client.post(
        f"{PREFIX}/events",
        data=event,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.data
    assert "lone surrogate" in error_of(response)["message"]


def test_lone_surrogates_in_rest_goals_get_422(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    body = (
        '{"key": "g", "name": "\\ud800", "criteria": {"type": "count", "event": "a", "target": 1}}'
    )
    response = client.post(
        f"{PREFIX}/goals", data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert list(error_of(response)["errors"]) == ["name"]


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type": "log\\ud800", "entity": 1}',
        b'{"type": "login", "entity": "\\udfff"}',
        b'{"type": "login", "entity": 1, "attributes": {"\\ud800": 1}}',
        b'{"type": "login", "entity": 1, "\\ud800": 1}',
        b'{"type": "login", "entity": 1, "attributes": {"a": "\\ud800"}}',
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"type": "login", "entity": 1, "attributes": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
def test_decode_event_refuses_raw_entries_with_an_event_error(payload: bytes) -> None:
    with pytest.raises(EventError) as info:
        decode_event(payload, "1700000000000-0", 0, EventLimits())
    str(info.value).encode()  # printable, so it can be logged and dead-lettered


# -- 3. the edges of the calendar ------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "moment", "expected"),
    [
        ("America/New_York", datetime(1, 1, 1, tzinfo=UTC), 0),
        ("America/New_York", datetime(1, 1, 2, tzinfo=UTC), 1),
        ("Asia/Tokyo", datetime(9999, 12, 31, 23, tzinfo=UTC), 3652060),
        ("Asia/Tokyo", datetime(9999, 12, 31, 1, tzinfo=UTC), 3652059),
        ("Europe/Paris", datetime(2026, 3, 1, 23, 30, tzinfo=UTC), 739677),
    ],
)
def test_local_day_past_the_edges_of_the_calendar(
    zone: str, moment: datetime, expected: int
) -> None:
    assert local_day(moment, ZoneInfo(zone)) == expected


def test_streaks_count_year_one_west_of_utc(make_app: Any) -> None:
    app, gamify = make_app(GAMIFY_TIMEZONE="America/New_York")
    with app.app_context():
        gamify.define_goal("streak", criteria={"type": "streak", "event": "x", "target": 2})
        gamify.track("x", 1, occurred_at="0001-01-01T00:00:00Z")  # Dec 31, year 0 locally
        gamify.track("x", 1, occurred_at="0001-01-02T00:00:00Z")  # Jan 1, year 1 locally
        assert gamify.has_completed(1, "streak")
        client = app.test_client()
        token = make_token()
        response = client.post(
            f"{PREFIX}/events",
            json={"type": "x", "entity": 2, "occurred_at": "0001-01-01T00:00:00Z"},
            headers=bearer(token),
        )
        assert response.status_code == 202


def test_streak_evaluates_at_the_end_of_year_9999_east_of_utc() -> None:
    criterion = compile_criteria({"type": "streak", "event": "x", "target": 2, "period": "week"})
    context = EvaluationContext(
        now=datetime(9999, 12, 31, 23, tzinfo=UTC), timezone=ZoneInfo("Asia/Tokyo")
    )
    from flask_gamify.criteria import EventData

    events = [
        EventData("a", "x", datetime(9999, 12, 24, 23, tzinfo=UTC)),
        EventData("b", "x", context.now),
    ]
    state = criterion.apply(None, events, context)
    assert criterion.evaluate(state, context).completed


@pytest.mark.parametrize("window", ["999999999w", "999999999d", "5219w", "36526d"])
def test_windows_past_a_hundred_years_are_refused(window: str) -> None:
    with pytest.raises(CriteriaError) as info:
        validate_criteria({**COUNT, "window": window})
    assert "at most 100 years" in info.value.errors["criteria.window"][0]


def test_windows_of_a_hundred_years_work_at_the_edges_of_the_calendar() -> None:
    criterion = compile_criteria({**COUNT, "target": 2, "window": "36525d"})
    context = EvaluationContext(now=datetime(9999, 12, 31, tzinfo=UTC))
    from flask_gamify.criteria import EventData

    events = [
        EventData("a", "login", datetime(1, 1, 1, tzinfo=UTC)),
        EventData("b", "login", context.now),
    ]
    state = criterion.apply(None, events, context)
    assert criterion.evaluate(state, context).current == 1


# -- 4. list sizes ------------------------------------------------------------------


def test_an_all_of_of_100_000_values_is_refused() -> None:
    criteria = {"type": "all_of", "event": "read", "field": "id", "values": list(range(100_000))}
    with pytest.raises(CriteriaError, match=f"at most {MAX_SIZE} characters"):
        validate_criteria(criteria)


@pytest.mark.parametrize(
    ("criteria", "path", "words"),
    [
        (
            {"type": "all_of", "event": "r", "field": "id", "values": list(range(MAX_VALUES + 1))},
            "criteria.values",
            f"at most {MAX_VALUES}",
        ),
        (
            {**COUNT, "where": {"lang": {"in": list(range(MAX_VALUES + 1))}}},
            "criteria.where.lang",
            f"at most {MAX_VALUES}",
        ),
        (
            {"type": "sequence", "steps": [{"event": "s"}] * (MAX_STEPS + 1)},
            "criteria.steps",
            f"at most {MAX_STEPS}",
        ),
        (
            {"type": "any", "of": [COUNT] * (MAX_CHILDREN + 1)},
            "criteria.of",
            f"at most {MAX_CHILDREN}",
        ),
        ({**COUNT, "where": {"a": "x" * MAX_SIZE}}, "criteria", f"at most {MAX_SIZE} characters"),
    ],
)
def test_criteria_list_sizes_are_bounded(criteria: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(CriteriaError) as info:
        validate_criteria(criteria)
    assert words in info.value.errors[path][0]


def test_criteria_at_the_limits_are_accepted() -> None:
    validate_criteria(
        {"type": "all_of", "event": "r", "field": "id", "values": list(range(MAX_VALUES))}
    )
    validate_criteria({**COUNT, "where": {"lang": {"in": list(range(MAX_VALUES))}}})
    validate_criteria({"type": "sequence", "steps": [{"event": "s"}] * MAX_STEPS})
    validate_criteria({"type": "any", "of": [COUNT] * MAX_CHILDREN})
    validate_criteria(nested_criteria(7))


def test_rest_all_of_over_the_limit_gets_422_naming_the_field(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    criteria = {
        "type": "all_of",
        "event": "r",
        "field": "id",
        "values": list(range(MAX_VALUES + 1)),
    }
    response = client.post(
        f"{PREFIX}/goals", json={"key": "big", "criteria": criteria}, headers=headers
    )
    assert response.status_code == 422
    assert list(error_of(response)["errors"]) == ["criteria.values"]


# -- 5. goals files -------------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
goals:
  - key: bomb
    criteria: {type: count, event: x, target: 1, where: {a: {in: *i}}}
"""

BAD_GOAL_FILES: list[tuple[str, bytes, str]] = [
    ("bomb.yaml", BILLION_LAUGHS.encode(), "YAML aliases"),
    ("latin1.yaml", "goals:\n  - key: café\n".encode("latin-1"), "is not UTF-8 text"),
    ("latin1.json", '[{"key": "café"}]'.encode("latin-1"), "is not UTF-8 text"),
    ("utf16.json", '[{"key": "a"}]'.encode("utf-16"), "is not UTF-8 text"),
    ("deep.yaml", b"[" * 20_000 + b"]" * 20_000, "deep"),
    ("deep.json", b"[" * 20_000 + b"]" * 20_000, "deep"),
    ("deep2.yaml", b"goals: " + b"[" * 100 + b"]" * 100, "more than 64 levels deep"),
    ("huge.yaml", b"# " + b"x" * (3 * 1024 * 1024), "larger than"),
    ("broken.yaml", b"goals: [\n  - key: a\n  : :", "is not valid YAML"),
    ("month.yaml", b"- key: a\n  starts_at: 2026-13-01\n", "is not valid YAML"),
    ("key.yaml", b"- {key: a, 5: b}\n", "not text"),
]


@pytest.mark.parametrize(("name", "data", "words"), BAD_GOAL_FILES)
def test_bad_goal_files_get_one_clear_line_and_a_non_zero_exit(
    app: Flask, gamify: Gamify, tmp_path: Path, name: str, data: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    started = time.monotonic()
    result = app.test_cli_runner().invoke(args=["gamify", "goals", "load", str(path)])
    assert time.monotonic() - started < 10, "took too long"
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith(f"Error: {path}"), result.output
    assert words in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert gamify.goals() == []


def test_goal_files_may_still_use_aliases(app: Flask, gamify: Gamify, tmp_path: Path) -> None:
    path = tmp_path / "goals.yaml"
    path.write_text(
        "common: &common {type: count, event: login, target: 3}\n"
        "goals:\n  - {key: a, criteria: *common}\n  - {key: b, criteria: *common}\n"
    )
    result = app.test_cli_runner().invoke(args=["gamify", "goals", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert [goal.key for goal in gamify.goals()] == ["a", "b"]


# -- 6. configuration ------------------------------------------------------------------

REDIS = {"GAMIFY_REDIS_URL": "redis://127.0.0.1:1/0"}  # never connected to at init_app

#: ``(key, bad value, words of the message, extra settings)``: every GAMIFY_* key.
BAD_SETTINGS: list[tuple[str, Any, str, dict[str, Any]]] = [
    ("GAMIFY_BIND_KEY", "", "non-empty string", {}),
    ("GAMIFY_BIND_KEY", 3, "non-empty string", {}),
    ("GAMIFY_TIMEZONE", None, "IANA time zone", {}),
    ("GAMIFY_TIMEZONE", "", "IANA time zone", {}),
    ("GAMIFY_TIMEZONE", "Mars/Olympus_Mons", "not a known time zone", {}),
    ("GAMIFY_TIMEZONE", "../../etc/passwd", "not a known time zone", {}),
    ("GAMIFY_LATE_EVENT_ALLOWANCE", -1, "0 or more", {}),
    ("GAMIFY_LATE_EVENT_ALLOWANCE", timedelta(days=-1), "0 or more", {}),
    ("GAMIFY_LATE_EVENT_ALLOWANCE", "forever", "duration such as", {}),
    ("GAMIFY_EVENT_RETENTION", 0, "above zero", {}),
    ("GAMIFY_EVENT_RETENTION", timedelta(0), "above zero", {}),
    ("GAMIFY_EVENT_RETENTION", "999999999w", "at most 100 years", {}),
    ("GAMIFY_EVENT_RETENTION", float("nan"), "above zero", {}),
    ("GAMIFY_EVENT_RETENTION", 1e300, "above zero", {}),
    ("GAMIFY_MAX_ATTRIBUTES_BYTES", 0, "whole number", {}),
    ("GAMIFY_MAX_ATTRIBUTES_BYTES", 8192.5, "whole number", {}),
    ("GAMIFY_MAX_ATTRIBUTES_DEPTH", 0, "whole number", {}),
    ("GAMIFY_MAX_ATTRIBUTES_DEPTH", 10_000, "from 1 to 32", {}),
    ("GAMIFY_MAX_FUTURE", -300, "0 or more", {}),
    ("GAMIFY_NOTIFY_AWARDS", "false", "True or False", {}),
    ("GAMIFY_NOTIFY_LEVELS", "no", "True or False", {}),
    ("GAMIFY_LEVELS", [(0, "A"), (0, "B")], "Thresholds must go up", {}),
    ("GAMIFY_LEVELS", {"user": "Bronze"}, "non-empty list of levels", {}),
    ("GAMIFY_DEFAULT_ENTITY_TYPE", "", "non-empty string", {}),
    ("GAMIFY_DEFAULT_ENTITY_TYPE", None, "non-empty string", {}),
    ("GAMIFY_API_PREFIX", "api", "starting with '/'", {}),
    ("GAMIFY_MAX_BATCH", 0, "whole number", {}),
    ("GAMIFY_MAX_BATCH", -5, "whole number", {}),
    ("GAMIFY_MAX_CONTENT_LENGTH", -1, "whole number", {}),
    ("GAMIFY_API_KEY_CACHE", -1, "0 or more", {}),
    ("GAMIFY_API_KEY_CACHE", "a while", "duration such as", {}),
    ("GAMIFY_REDIS_URL", "http://:s3cret@localhost:6380/0", "'http'", {}),
    ("GAMIFY_REDIS_URL", "s3cret@localhost:6380", "redis://", {}),
    ("GAMIFY_REDIS_URL", 6380, "redis://", {}),
    ("GAMIFY_REDIS_TIMEOUT", 0, "above zero", REDIS),
    ("GAMIFY_REDIS_TIMEOUT", -0.5, "above zero", REDIS),
    ("GAMIFY_REDIS_TIMEOUT", float("inf"), "finite", REDIS),
    ("GAMIFY_SHARDS", 0, "whole number", REDIS),
    ("GAMIFY_SHARDS", 10**9, "from 1 to 1024", REDIS),
    ("GAMIFY_STREAM_PREFIX", "", "non-empty string", REDIS),
    ("GAMIFY_QUEUE", None, "non-empty string", REDIS),
    ("GAMIFY_BATCH_SIZE", 0, "whole number", REDIS),
    ("GAMIFY_MAX_ATTEMPTS", -1, "whole number", REDIS),
    ("GAMIFY_CLAIM_IDLE", 0, "above zero", REDIS),
    ("GAMIFY_CLAIM_IDLE", timedelta(seconds=-30), "above zero", REDIS),
    ("GAMIFY_DRAIN_SECONDS", 0, "above zero", REDIS),
    ("GAMIFY_DRAIN_SECONDS", -10, "above zero", REDIS),
    ("GAMIFY_DRAIN_SECONDS", "0s", "duration such as", REDIS),
    ("GAMIFY_WORKER_GC_THRESHOLD", -1, "from 0 to 10000000", REDIS),
    ("GAMIFY_WORKER_GC_THRESHOLD", "many", "whole number", REDIS),
    ("GAMIFY_WEBHOOK_ALLOW_PRIVATE", "yes", "True, False, or a list of networks", {}),
    ("GAMIFY_WEBHOOK_ALLOW_PRIVATE", ["10.0.0.0/33"], "is not a network", {}),
    ("GAMIFY_WEBHOOK_TIMEOUT", 0, "above zero", {}),
    ("GAMIFY_WEBHOOK_TIMEOUT", float("inf"), "finite", {}),
    ("GAMIFY_WEBHOOK_RETRY_DELAYS", "5, 300", "list of seconds", {}),
    ("GAMIFY_WEBHOOK_RETRY_DELAYS", [5, -1], "list of seconds", {}),
    ("GAMIFY_WEBHOOK_DISABLE_AFTER", "soon", "duration such as", {}),
    ("GAMIFY_WEBHOOK_CONCURRENCY", 0, "whole number", {}),
    ("GAMIFY_WEBHOOK_CONCURRENCY", 1000, "from 1 to 100", {}),
    ("GAMIFY_WEBHOOK_QUEUE", "", "non-empty string", {}),
]


def test_every_setting_is_in_the_table() -> None:
    assert {key for key, *_ in BAD_SETTINGS} == set(DEFAULTS)


@pytest.mark.parametrize(("key", "value", "words", "extra"), BAD_SETTINGS)
def test_invalid_settings_fail_at_init_app_naming_the_key(
    key: str, value: Any, words: str, extra: dict[str, Any]
) -> None:
    app = Flask("settings_app")
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", **extra)
    app.config[key] = value
    with pytest.raises(ConfigurationError) as info:
        Gamify(app, db=SQLAlchemy(app))
    assert key in str(info.value)
    assert words in str(info.value)
    assert isinstance(info.value, RuntimeError)  # what init_app raised before
    assert "gamify" not in app.extensions
    if key == "GAMIFY_REDIS_URL":
        assert "s3cret" not in str(info.value)  # URLs may carry passwords


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("GAMIFY_LATE_EVENT_ALLOWANCE", 0),
        ("GAMIFY_MAX_FUTURE", timedelta(0)),
        ("GAMIFY_MAX_FUTURE", "0s"),
        ("GAMIFY_EVENT_RETENTION", 3600.5),
        ("GAMIFY_API_PREFIX", None),
        ("GAMIFY_API_PREFIX", ""),
        ("GAMIFY_REDIS_URL", ""),
        ("GAMIFY_REDIS_URL", "unix:///tmp/redis.sock"),
        ("GAMIFY_SHARDS", "8"),
        ("GAMIFY_REDIS_TIMEOUT", "0.5"),
    ],
)
def test_valid_edge_settings_are_accepted(key: str, value: Any) -> None:
    app = Flask("settings_app")
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", **REDIS)
    app.config[key] = value
    Gamify(app, db=SQLAlchemy(app))
    assert "gamify" in app.extensions


# -- 7. pruning --------------------------------------------------------------------------


def test_prune_events_older_than_zero_means_zero(app: Flask, gamify: Gamify) -> None:
    gamify.track("login", 1)
    gamify.track("login", 2)
    assert gamify.prune_events(timedelta(days=1)) == 0
    assert gamify.prune_events(timedelta(0)) == 2
    assert gamify.prune_events(timedelta(0)) == 0


@pytest.mark.parametrize("older_than", [timedelta(seconds=-1), timedelta(days=-90), 30, "30d"])
def test_prune_events_refuses_negative_ages(app: Flask, gamify: Gamify, older_than: Any) -> None:
    gamify.track("login", 1)
    with pytest.raises(InvalidInputError) as info:
        gamify.prune_events(older_than)
    assert list(info.value.errors) == ["older_than"]
    assert gamify.prune_events(timedelta(days=1)) == 0  # nothing was deleted


def test_events_prune_command_takes_an_age(app: Flask, gamify: Gamify) -> None:
    gamify.track("login", 1)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["gamify", "events", "prune", "--older-than", "1d"])
    assert result.exit_code == 0 and "Deleted 0 event(s) older than 1d" in result.output
    for bad in ("-5d", "soon", "999999999w"):
        result = runner.invoke(args=["gamify", "events", "prune", "--older-than", bad])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: --older-than") and result.output.count("\n") == 1
    result = runner.invoke(args=["gamify", "events", "prune", "--older-than", "0"])
    assert result.exit_code == 0 and "Deleted 1 event(s)" in result.output


# -- 8. Redis down -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["status"], ["dead-letters", "list"], ["dead-letters", "replay", "--all"]]
)
def test_pipeline_commands_with_redis_down_print_one_line(
    make_app: Any, redis_server: RedisServer, command: list[str]
) -> None:
    url = f"redis://:s3cret@127.0.0.1:{redis_server.port}/0"
    app, _ = make_app(GAMIFY_REDIS_URL=url)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["gamify", "status"]).exit_code == 0  # up: it works
    redis_server.stop()
    result = runner.invoke(args=["gamify", *command])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Error: Cannot reach Redis at 127.0.0.1:{redis_server.port}")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "s3cret" not in result.output


def test_status_with_nothing_listening_exits_non_zero(make_app: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app, _ = make_app(GAMIFY_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    result = app.test_cli_runner().invoke(args=["gamify", "status"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: Cannot reach Redis") and result.output.count("\n") == 1


# -- 9. @tracks without any way to find the entity -------------------------------------


def _tracked_views(app: Flask, gamify: Gamify) -> None:
    @app.get("/first")
    @gamify.tracks("first")
    def first() -> str:
        return "first"

    @app.get("/second")
    @gamify.tracks("second")
    def second() -> str:
        return "second"


def _no_entity_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "flask_gamify" and "cannot tell who" in record.getMessage()
    ]


@pytest.mark.parametrize("flask_login_installed", [True, False])
def test_tracks_without_entity_source_warns_once_per_app(
    make_app: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    flask_login_installed: bool,
) -> None:
    if not flask_login_installed:
        monkeypatch.setitem(sys.modules, "flask_login", None)  # import raises ImportError
    caplog.set_level(logging.WARNING, logger="flask_gamify")
    for number in (1, 2):
        app, gamify = make_app()
        _tracked_views(app, gamify)
        client = app.test_client()
        for _ in range(3):
            assert client.get("/first").data == b"first"
            assert client.get("/second").data == b"second"
        warnings = _no_entity_warnings(caplog)
        assert len(warnings) == number  # one per app
        message = warnings[-1].getMessage()
        assert "test_bad_input" in message and "first" in message
        assert "@gamify.entity_loader" in message
        assert warnings[-1].levelno == logging.WARNING


def test_anonymous_visitors_and_loaders_returning_none_are_not_warned_about(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flask_gamify")
    app, gamify = make_app(SECRET_KEY="test")
    LoginManager(app).user_loader(lambda user_id: None)
    _tracked_views(app, gamify)
    assert app.test_client().get("/first").status_code == 200
    other, other_gamify = make_app()
    other_gamify.entity_loader(lambda: None)
    _tracked_views(other, other_gamify)
    assert other.test_client().get("/first").status_code == 200
    assert _no_entity_warnings(caplog) == []
