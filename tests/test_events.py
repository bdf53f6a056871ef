"""Tracking events with ``gamify.track``: validation, ids, times and the event log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import db
from flask import Flask
from werkzeug.exceptions import UnprocessableEntity

from flask_gamify import EventError, Gamify, GamifyError
from flask_gamify.models import Event

pytestmark = pytest.mark.usefixtures("app")

LOGIN = {"type": "count", "event": "login", "target": 5}
EVENTS = Event.__table__


def logged_events(gamify: Gamify) -> list[sa.Row[Any]]:
    """The event log as an independent connection sees it."""
    with gamify.state.engine.connect() as connection:
        return list(connection.execute(sa.select(EVENTS).order_by(EVENTS.c.occurred_at)))


def reject(gamify: Gamify, *args: Any, **kwargs: Any) -> EventError:
    with pytest.raises(EventError) as info:
        gamify.track(*args, **kwargs)
    return info.value


def nested(depth: int) -> dict[str, Any]:
    """An object nesting ``depth`` objects (``{"a": 1}`` has depth 1)."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[no-any-return]


# -- validation ----------------------------------------------------------------------

#: (arguments of track, keyword arguments, the field the error must name)
INVALID: list[tuple[tuple[Any, ...], dict[str, Any], str]] = [
    (("", 1), {}, "type"),
    (("   ", 1), {}, "type"),
    (("t" * 201, 1), {}, "type"),
    ((42, 1), {}, "type"),
    ((None, 1), {}, "type"),
    (("login", None), {}, "entity"),
    (("login", True), {}, "entity"),
    (("login", {"id": 1}), {}, "entity"),
    (("login", 1.5), {}, "entity"),
    (("login", ""), {}, "entity"),
    (("login", "e" * 256), {}, "entity"),
    (("login", 1), {"entity_type": "   "}, "entity_type"),
    (("login", 1), {"entity_type": "t" * 65}, "entity_type"),
    (("login", 1), {"entity_type": 5}, "entity_type"),
    (("login", 1), {"attributes": [1, 2]}, "attributes"),
    (("login", 1), {"attributes": "article=7"}, "attributes"),
    (("login", 1), {"attributes": {1: "non-string key"}}, "attributes"),
    (("login", 1), {"attributes": {"tags": {"a", "b"}}}, "attributes"),
    (("login", 1), {"attributes": {"score": float("nan")}}, "attributes.score"),
    (("login", 1), {"attributes": {"score": float("inf")}}, "attributes.score"),
    (("login", 1), {"attributes": {"when": datetime(2025, 1, 1, tzinfo=UTC)}}, "attributes"),
    (("login", 1), {"attributes": {"blob": "x" * 8182}}, "attributes"),
    (("login", 1), {"attributes": nested(5)}, "attributes"),
    (("login", 1), {"attributes": {"a": [[[[1]]]]}}, "attributes"),
    (("login", 1), {"event_id": "has space"}, "id"),
    (("login", 1), {"event_id": "semi;colon"}, "id"),
    (("login", 1), {"event_id": "é"}, "id"),
    (("login", 1), {"event_id": ""}, "id"),
    (("login", 1), {"event_id": "i" * 129}, "id"),
    (("login", 1), {"event_id": 12345}, "id"),
    (("login", 1), {"occurred_at": "yesterday"}, "occurred_at"),
    (("login", 1), {"occurred_at": "2025-13-01T00:00:00Z"}, "occurred_at"),
    (("login", 1), {"occurred_at": 1735689600}, "occurred_at"),
]


def test_invalid_events_name_the_field_and_store_nothing(gamify: Gamify) -> None:
    gamify.define_goal("logins", criteria=LOGIN)
    # One test for every case: each app fixture setup costs a schema rebuild.
    for args, kwargs, field in INVALID:
        error = reject(gamify, *args, **kwargs)
        case = (args, kwargs)
        assert list(error.errors) == [field], (case, error.errors)
        assert f"{field}: " in str(error), case
        assert str(error).startswith("The event was rejected."), case
        assert isinstance(error, UnprocessableEntity) and isinstance(error, GamifyError)
        assert error.code == 422
    assert logged_events(gamify) == []
    assert gamify.progress(1, "logins").current == 0


def test_every_bad_field_is_reported_at_once(gamify: Gamify) -> None:
    error = reject(gamify, "", None, attributes=[], event_id="bad id", occurred_at="soon")
    assert set(error.errors) == {"type", "entity", "attributes", "id", "occurred_at"}
    for field in error.errors:
        assert f"{field}: " in error.description


def test_empty_entity_type_is_rejected(gamify: Gamify) -> None:
    error = reject(gamify, "login", 1, entity_type="")
    assert list(error.errors) == ["entity_type"]
    assert logged_events(gamify) == []


def test_limits_are_inclusive(gamify: Gamify) -> None:
    largest = {"blob": "x" * 8181}
    assert len(json.dumps(largest, separators=(",", ":"))) == 8192  # the default limit
    gamify.track("login", 1, attributes=largest, event_id="largest")
    gamify.track("login", 1, attributes=nested(4), event_id="deepest")
    gamify.track("login", 1, event_id="i" * 128)
    gamify.track("login", 1, event_id="ok-chars_.:09AZaz")
    assert {row.id for row in logged_events(gamify)} == {
        "largest",
        "deepest",
        "i" * 128,
        "ok-chars_.:09AZaz",
    }
    error = reject(gamify, "login", 1, attributes={"blob": "x" * 8182})
    assert "8192 bytes" in str(error)


def test_future_events_are_rejected_and_backdated_accepted(gamify: Gamify) -> None:
    gamify.define_goal("logins", criteria=LOGIN)
    now = datetime.now(UTC)
    error = reject(gamify, "login", 1, occurred_at=now + timedelta(hours=1))
    assert list(error.errors) == ["occurred_at"]
    assert "future" in str(error) and "clock" in str(error)
    error = reject(gamify, "login", 1, occurred_at=(now + timedelta(minutes=10)).isoformat())
    assert list(error.errors) == ["occurred_at"]
    assert logged_events(gamify) == []

    # Within GAMIFY_MAX_FUTURE (clock skew) and back-dated events are accepted.
    gamify.track("login", 1, occurred_at=now + timedelta(minutes=1))
    gamify.track("login", 1, occurred_at=now - timedelta(days=30))
    assert len(logged_events(gamify)) == 2
    assert gamify.progress(1, "logins").current == 2


@pytest.fixture
def strict_app(tmp_path: Path) -> Iterator[tuple[Flask, Gamify]]:
    """An app with small, host-configured event limits, on a SQLite file of its own."""
    app = Flask("strict_limits")
    app.config.update(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'strict.db'}",
        GAMIFY_MAX_ATTRIBUTES_BYTES=20,
        GAMIFY_MAX_ATTRIBUTES_DEPTH=1,
        GAMIFY_MAX_FUTURE="1h",
    )
    db.init_app(app)
    gamify = Gamify(app, db=db)
    with app.app_context():
        gamify.create_all()
        yield app, gamify
        gamify.drop_all()
        for engine in db.engines.values():
            engine.dispose()


def test_limits_come_from_configuration(strict_app: tuple[Flask, Gamify]) -> None:
    _, gamify = strict_app
    now = datetime.now(UTC)
    assert "20 bytes" in str(reject(gamify, "login", 1, attributes={"text": "x" * 20}))
    assert "1 deep" in str(reject(gamify, "login", 1, attributes={"a": {"b": 1}}))
    reject(gamify, "login", 1, occurred_at=now + timedelta(hours=2))
    gamify.track("login", 1, attributes={"text": "x" * 8}, event_id="small")
    gamify.track("login", 1, attributes={"a": 1, "b": None}, event_id="flat")
    gamify.track("login", 1, occurred_at=now + timedelta(minutes=30), event_id="skewed")
    assert {row.id for row in logged_events(gamify)} == {"small", "flat", "skewed"}


# -- ids -----------------------------------------------------------------------------


def test_track_returns_a_generated_or_given_id(gamify: Gamify) -> None:
    generated = gamify.track("login", 1)
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    other = gamify.track("login", 1)
    assert other != generated
    given = gamify.track("login", 1, event_id="client-42:retry.1")
    assert given == "client-42:retry.1"
    assert {row.id for row in logged_events(gamify)} == {generated, other, given}


def test_same_event_id_is_counted_once(gamify: Gamify) -> None:
    gamify.define_goal("logins", criteria=LOGIN)
    assert gamify.track("login", 1, event_id="evt-1") == "evt-1"
    assert gamify.track("login", 1, event_id="evt-1") == "evt-1"
    # Even with a different payload, the id decides: at-least-once, exactly-once effect.
    gamify.track("login", 1, event_id="evt-1", attributes={"again": True})
    assert gamify.progress(1, "logins").current == 1
    rows = logged_events(gamify)
    assert [row.id for row in rows] == ["evt-1"]
    assert rows[0].attributes == {}
    gamify.track("login", 1, event_id="evt-2")
    assert gamify.progress(1, "logins").current == 2


# -- times and the log ---------------------------------------------------------------------


def test_occurred_at_forms(gamify: Gamify) -> None:
    cases = {
        "naive": (datetime(2025, 1, 1, 12, 0), datetime(2025, 1, 1, 12, 0, tzinfo=UTC)),
        "aware": (
            datetime(2025, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            datetime(2025, 1, 2, 10, 0, tzinfo=UTC),
        ),
        "iso-z": ("2025-01-03T12:00:00Z", datetime(2025, 1, 3, 12, 0, tzinfo=UTC)),
        "iso-offset": ("2025-01-04T12:00:00-05:00", datetime(2025, 1, 4, 17, 0, tzinfo=UTC)),
        "iso-naive": ("2025-01-05T12:00:00", datetime(2025, 1, 5, 12, 0, tzinfo=UTC)),
        "iso-millis": (
            "2025-01-06T12:00:00.250Z",
            datetime(2025, 1, 6, 12, 0, 0, 250000, tzinfo=UTC),
        ),
    }
    for event_id, (given, _) in cases.items():
        gamify.track("login", 1, event_id=event_id, occurred_at=given)
    logged = {row.id: row.occurred_at for row in logged_events(gamify)}
    assert logged == {key: expected for key, (_, expected) in cases.items()}
    assert all(moment.utcoffset() == timedelta(0) for moment in logged.values())


def test_default_occurred_at_is_now(gamify: Gamify) -> None:
    before = datetime.now(UTC)
    gamify.track("login", 1)
    after = datetime.now(UTC)
    (row,) = logged_events(gamify)
    assert before - timedelta(seconds=1) <= row.occurred_at <= after + timedelta(seconds=1)


def test_events_are_logged(gamify: Gamify) -> None:
    attributes = {"article_id": 7, "tags": ["python", "flask"], "meta": {"score": 9.5}}
    gamify.track(
        "article.read",
        42,
        attributes=attributes,
        event_id="read-1",
        occurred_at="2025-03-01T08:00:00Z",
    )
    gamify.track("login", "team-7", entity_type="team", occurred_at="2025-03-02T08:00:00Z")
    first, second = logged_events(gamify)
    assert first.id == "read-1"
    assert first.type == "article.read"
    assert (first.entity_type, first.entity_id) == ("user", "42")
    assert first.attributes == attributes
    assert first.occurred_at == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert first.processed_at is not None
    assert second.type == "login"
    assert (second.entity_type, second.entity_id) == ("team", "team-7")
    assert second.attributes == {}


def test_int_and_str_entities_are_the_same(gamify: Gamify) -> None:
    gamify.define_goal("logins", criteria=LOGIN)
    gamify.track("login", 7)
    gamify.track("login", "7")
    assert gamify.progress(7, "logins").current == 2
    assert gamify.progress("7", "logins").current == 2


# -- edge cases of stored values ----------------------------------------------------------


def test_unrepresentable_occurred_at_is_an_event_error(gamify: Gamify) -> None:
    error = reject(gamify, "login", 1, occurred_at="0001-01-01T00:00:00+01:00")
    assert list(error.errors) == ["occurred_at"]


def test_nul_characters_are_an_event_error(gamify: Gamify) -> None:
    for args, kwargs, field in [
        (("log\x00in", 1), {}, "type"),
        (("login", "user\x00"), {}, "entity"),
        (("login", 1), {"attributes": {"title": "a\x00b"}}, "attributes.title"),
    ]:
        error = reject(gamify, *args, **kwargs)
        assert list(error.errors) == [field]
    assert logged_events(gamify) == []
