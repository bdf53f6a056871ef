"""Fuzzing the decoders of untrusted input: any input gives a value or a GamifyError.

Three decoders read what anyone can send: the REST API's request bodies, the raw stream
entries that any Redis client can XADD, and goals files. Hypothesis feeds them random
bytes and random JSON-like documents shaped like the real thing (with lone surrogates,
odd numbers and deep nesting), derandomized and with a fixed number of examples, so CI
runs them in a few seconds and always the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import PREFIX, bearer, make_token
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flask_gamify import GamifyError
from flask_gamify.events import EventLimits, TrackedEvent
from flask_gamify.goals import parse_goals, validate_goal
from flask_gamify.pipeline.streams import decode_event

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)

# Text with every code point, lone surrogates included (hypothesis leaves them out).
any_text = st.one_of(
    st.text(max_size=12),
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), min_size=1, max_size=4),
)
names = st.sampled_from(
    ["login", "type", "entity", "attributes", "id", "occurred_at", "events", "key", "a", ""]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
    names,
    st.sampled_from(
        ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2026-02-30T00:00:00", "7d"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(names, any_text), children, max_size=4),
    ),
    max_leaves=20,
)
events = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(names, json_values),
        "entity": st.one_of(st.integers(), any_text, json_values),
        "entity_type": st.one_of(st.just("user"), json_values),
        "attributes": json_values,
        "id": st.one_of(st.text(max_size=70), json_values),
        "occurred_at": st.one_of(scalars, json_values),
    },
)
criteria = st.deferred(
    lambda: st.fixed_dictionaries(
        {"type": st.sampled_from(["count", "sum", "all_of", "streak", "sequence", "all", "x"])},
        optional={
            "event": st.one_of(names, json_values),
            "target": st.one_of(st.integers(-2, 2**40), json_values),
            "field": names,
            "values": json_values,
            "where": json_values,
            "window": st.one_of(st.sampled_from(["7d", "0s", "999999999w", "1h"]), json_values),
            "of": st.lists(criteria, max_size=3),
            "steps": st.lists(st.fixed_dictionaries({"event": names}), max_size=3),
        },
    )
)
# Valid events with one field replaced: random input that gets past the first checks.
VALID_EVENT = {"type": "login", "entity": 7, "attributes": {"page": "home"}}
near_valid_events = st.tuples(
    st.sampled_from(["type", "entity", "entity_type", "id", "occurred_at", "attributes"]),
    st.one_of(
        any_text,
        scalars,
        json_values,
        st.dictionaries(any_text, json_values, min_size=1, max_size=2),
    ),
).map(lambda change: {**VALID_EVENT, change[0]: change[1]})
goals = st.fixed_dictionaries(
    {"key": st.one_of(st.just("fuzz"), any_text), "criteria": st.one_of(criteria, json_values)},
    optional={
        "name": st.one_of(any_text, json_values),
        "points": json_values,
        "repeatable": json_values,
        "starts_at": json_values,
        "owner": json_values,
    },
)


def _encode(document: Any) -> bytes:
    # ensure_ascii writes lone surrogates as \ud800 escapes, as other JSON writers do.
    return json.dumps(document).encode()


bodies = st.one_of(
    near_valid_events.map(_encode),
    st.binary(max_size=200),
    json_values.map(_encode),
    events.map(_encode),
    st.lists(events, max_size=3).map(lambda items: _encode({"events": items})),
)
goal_bodies = st.one_of(st.binary(max_size=200), json_values.map(_encode), goals.map(_encode))


def _assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.data
    assert response.is_json, response.data
    if response.status_code >= 400:
        assert response.get_json()["error"]["message"]


@pytest.fixture
def client_and_headers(app: Flask, client: FlaskClient) -> tuple[FlaskClient, dict[str, str]]:
    return client, {**bearer(make_token()), "Content-Type": "application/json"}


@FUZZ
@given(body=bodies)
@example(body=b'{"type": "log\\ud800", "entity": 7}')
@example(body=b'{"type": "login", "entity": 7, "attributes": ' + b"[" * 5000 + b"]" * 5000 + b"}")
def test_post_events_answers_any_body_without_a_500(
    client_and_headers: tuple[FlaskClient, dict[str, str]], body: bytes
) -> None:
    client, headers = client_and_headers
    _assert_answered(client.post(f"{PREFIX}/events", data=body, headers=headers))


@FUZZ
@given(body=goal_bodies)
@example(body=b'{"key": "k", "name": "\\udfff", "criteria": {"type": "count", "event": "a"}}')
def test_post_goals_answers_any_body_without_a_500(
    client_and_headers: tuple[FlaskClient, dict[str, str]], body: bytes
) -> None:
    client, headers = client_and_headers
    _assert_answered(client.post(f"{PREFIX}/goals", data=body, headers=headers))


entries = st.one_of(
    st.binary(max_size=300),
    json_values.map(_encode),
    events.map(_encode),
    events.map(
        lambda event: json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
)


@FUZZ
@given(payload=entries)
def test_decode_event_gives_an_event_or_an_event_error(payload: bytes) -> None:
    try:
        event = decode_event(payload, "1700000000000-0", 3, EventLimits())
    except GamifyError as error:
        str(error).encode()  # printable: it is logged and dead-lettered
    else:
        assert isinstance(event, TrackedEvent)
        json.dumps(event.to_dict()).encode()  # and it can be stored and sent on


def _yaml(document: Any) -> bytes:
    import yaml

    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass")


goal_files = st.tuples(
    st.one_of(
        st.binary(max_size=300),
        st.lists(goals, max_size=3).map(_encode),
        st.lists(goals, max_size=3).map(lambda items: _yaml({"goals": items})),
        json_values.map(_yaml),
    ),
    st.booleans(),
)


@FUZZ
@given(file=goal_files)
def test_goal_files_give_goals_or_a_gamify_error(file: tuple[bytes, bool]) -> None:
    data, json_format = file
    try:
        definitions = parse_goals(data, name="fuzz.yaml", json_format=json_format)
        for definition in definitions:
            validate_goal(definition)
    except GamifyError as error:
        str(error).encode()
