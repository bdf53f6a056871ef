"""POST /events: single events, batches, idempotency, limits and all-or-nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from api_support import PREFIX, READER, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

URL = f"{PREFIX}/events"
LOGINS = {"type": "count", "event": "login", "target": 10}


@pytest.fixture
def headers(app: Flask, gamify: Gamify) -> dict[str, str]:
    gamify.define_goal("logins", criteria=LOGINS)
    gamify.define_goal("reader", criteria=READER)
    gamify.define_goal("team-logins", criteria=LOGINS, entity_type="team")
    return bearer(make_token("events:write"))


def logins(gamify: Gamify, entity: str = "7") -> int | float:
    return gamify.progress(entity, "logins").current  # type: ignore[no-any-return]


def test_one_event(client: FlaskClient, gamify: Gamify, headers: dict[str, str]) -> None:
    response = client.post(URL, json={"type": "login", "entity": 7}, headers=headers)
    assert response.status_code == 202
    (event_id,) = response.get_json()["accepted"]
    assert len(event_id) >= 16
    assert logins(gamify) == 1


def test_batch_with_attributes_and_entity_type(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    events = [
        {"type": "article.read", "entity": "ann", "attributes": {"article_id": n}, "id": f"r{n}"}
        for n in (1, 2)
    ]
    events.append({"type": "login", "entity": "t1", "entity_type": "team", "id": "t"})
    response = client.post(URL, json={"events": events}, headers=headers)
    assert response.status_code == 202
    assert response.get_json() == {"accepted": ["r1", "r2", "t"]}
    assert gamify.has_completed("ann", "reader")
    assert gamify.progress("t1", "team-logins", entity_type="team").current == 1
    assert logins(gamify, "t1") == 0


def test_resending_an_id_counts_once(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    event = {"type": "login", "entity": 7, "id": "login-42"}
    for _ in range(3):
        response = client.post(URL, json=event, headers=headers)
        assert response.status_code == 202
        assert response.get_json() == {"accepted": ["login-42"]}
    both = client.post(URL, json={"events": [event, event]}, headers=headers)
    assert both.status_code == 202
    assert logins(gamify) == 1


def test_back_dated_events_are_accepted(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = client.post(
        URL, json={"type": "login", "entity": 7, "occurred_at": yesterday}, headers=headers
    )
    assert response.status_code == 202
    assert logins(gamify) == 1


def test_future_events_are_rejected(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = client.post(
        URL, json={"type": "login", "entity": 7, "occurred_at": tomorrow}, headers=headers
    )
    assert response.status_code == 422
    error = error_of(response)
    assert list(error["errors"]) == ["occurred_at"]
    assert "future" in error["errors"]["occurred_at"][0]
    assert logins(gamify) == 0


def test_invalid_batch_names_every_bad_event_and_records_nothing(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    events = [
        {"type": "login", "entity": 7, "id": "good"},
        {"entity": 7},
        {"type": "login", "entity": 7, "occurred_at": "yesterday"},
        "not an object",
        {"type": "login", "entity": 7, "colour": "red"},
        {"type": "login", "entity": None, "attributes": []},
    ]
    response = client.post(URL, json={"events": events}, headers=headers)
    assert response.status_code == 422
    error = error_of(response)
    assert set(error["errors"]) == {
        "events[1].type",
        "events[2].occurred_at",
        "events[3]",
        "events[4].colour",
        "events[5].entity",
        "events[5].attributes",
    }
    assert error["message"].startswith("5 of 6 event(s) were rejected and nothing was recorded")
    assert "events[2].occurred_at: Must be an ISO 8601" in error["message"]
    assert logins(gamify) == 0
    # The good event was not recorded either: sending it again now counts.
    assert client.post(URL, json=events[0], headers=headers).status_code == 202
    assert logins(gamify) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({"events": {"type": "login"}}, "events"),
        ({"events": [], "type": "login"}, "type"),
        ([{"type": "login", "entity": 7}], ""),
        ({"type": "x" * 201, "entity": 7}, "type"),
        ({"type": "login", "entity": "e" * 256}, "entity"),
        ({"type": "login", "entity": 7, "entity_type": "t" * 65}, "entity_type"),
        ({"type": "login", "entity": 7, "id": "has spaces"}, "id"),
        ({"type": "login", "entity": 7, "id": "i" * 129}, "id"),
        ({"type": "login", "entity": True}, "entity"),
    ],
)
def test_invalid_shapes_and_lengths(
    client: FlaskClient, headers: dict[str, str], body: object, field: str
) -> None:
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 422
    assert field in error_of(response)["errors"]


def test_attribute_size_and_depth_limits(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    big = {"type": "login", "entity": 7, "attributes": {"text": "x" * 9000}}
    response = client.post(URL, json=big, headers=headers)
    assert response.status_code == 422
    assert "at most 8192 bytes" in error_of(response)["errors"]["attributes"][0]
    deep = {"type": "login", "entity": 7, "attributes": {"a": {"b": {"c": {"d": {"e": 1}}}}}}
    response = client.post(URL, json=deep, headers=headers)
    assert response.status_code == 422
    assert "at most 4 deep" in error_of(response)["errors"]["attributes"][0]


def test_batch_size_limit(app: Flask, client: FlaskClient, headers: dict[str, str]) -> None:
    app.config["GAMIFY_MAX_BATCH"] = 3
    events = [{"type": "login", "entity": n} for n in range(4)]
    response = client.post(URL, json={"events": events}, headers=headers)
    assert response.status_code == 422
    assert "at most 3 events" in error_of(response)["errors"]["events"][0]
    assert client.post(URL, json={"events": events[:3]}, headers=headers).status_code == 202


def test_body_size_limit(
    app: Flask, client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    app.config["GAMIFY_MAX_CONTENT_LENGTH"] = 200
    events = [{"type": "login", "entity": 7, "id": f"event-{n}"} for n in range(10)]
    response = client.post(URL, json={"events": events}, headers=headers)
    assert response.status_code == 413
    assert "at most 200 are accepted" in error_of(response)["message"]
    assert logins(gamify) == 0


def test_body_size_limit_without_content_length(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    app.config["GAMIFY_MAX_CONTENT_LENGTH"] = 100
    body = b'{"type": "login", "entity": 7, "attributes": {"x": "' + b"y" * 500 + b'"}}'
    response = client.post(
        URL,
        input_stream=io.BytesIO(body),
        headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # What a WSGI server sets for a chunked body it has de-chunked.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    error_of(response)


def test_not_json(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.post(URL, data="type=login", headers=headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in error_of(response)["message"]
    response = client.post(
        URL, data="{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in error_of(response)["message"]


def test_nul_characters_are_rejected(
    client: FlaskClient, gamify: Gamify, headers: dict[str, str]
) -> None:
    event = {"type": "login", "entity": "a\x00b", "attributes": {"k\x00": "v"}}
    response = client.post(URL, json={"events": [event]}, headers=headers)
    assert response.status_code == 422
    assert set(error_of(response)["errors"]) == {
        "events[0].entity",
        "events[0].attributes.k\x00",
    }
    response = client.get(f"{PREFIX}/entities/user/a%00b/awards", headers=headers)
    assert response.status_code == 422
    assert "NUL" in error_of(response)["message"]
