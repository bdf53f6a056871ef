"""The REST API's webhook endpoints: scope, bound callers, validation, the secret shown
once, rotation, the delivery log and its pages, and payloads as the document says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from api_support import PREFIX, bearer, error_of, make_token
from conftest import db
from flask import Flask, session
from flask.testing import FlaskClient
from webhook_receiver import Receiver

from flask_gamify import ApiPrincipal, Gamify, GoalView
from flask_gamify.api.keys import SCOPES

HOOKS = f"{PREFIX}/webhooks"
URL = "https://crm.example.com/hooks/gamify"
LOGIN = {"type": "count", "event": "login", "target": 1}

#: (method, path, body) of every webhook operation, on endpoint 1 and delivery 1.
OPERATIONS = [
    ("GET", "/webhooks", None),
    ("POST", "/webhooks", {"url": URL, "events": ["*"]}),
    ("GET", "/webhooks/1", None),
    ("PATCH", "/webhooks/1", {"description": "x"}),
    ("DELETE", "/webhooks/1", None),
    ("POST", "/webhooks/1/test", None),
    ("POST", "/webhooks/1/rotate-secret", {"grace": 0}),
    ("GET", "/webhooks/1/deliveries", None),
    ("POST", "/webhooks/deliveries/1/retry", None),
]


@pytest.fixture
def token() -> str:
    return make_token("webhooks:write", name="hooks")


def created(client: FlaskClient, token: str, **body: Any) -> dict[str, Any]:
    response = client.post(HOOKS, json={"url": URL, "events": ["*"], **body}, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


# -- who may ------------------------------------------------------------------------------


def test_the_scope_is_listed() -> None:
    assert "webhooks:write" in SCOPES


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_every_operation_needs_the_webhooks_scope(
    gamify: Gamify, client: FlaskClient, method: str, path: str, body: Any
) -> None:
    endpoint = gamify.add_webhook(URL, events=["*"])
    gamify.test_webhook(endpoint.id)
    others = [scope for scope in SCOPES if scope != "webhooks:write"]
    without = bearer(make_token(*others, name="everything-else"))
    response = client.open(PREFIX + path, method=method, json=body, headers=without)
    assert response.status_code == 403
    assert "'webhooks:write' scope" in error_of(response)["message"]
    anonymous = client.open(PREFIX + path, method=method, json=body)
    assert anonymous.status_code == 401
    assert gamify.webhook(endpoint.id).description == ""  # nothing changed
    assert [delivery.status for delivery in gamify.webhook_deliveries()] == ["pending"]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_owner_bound_keys_are_refused(
    gamify: Gamify, client: FlaskClient, method: str, path: str, body: Any
) -> None:
    gamify.add_webhook(URL, events=["*"])
    state = gamify.state
    with state.transaction() as db_session:
        from flask_gamify.api.keys import create_key

        _, bound = create_key(db_session, "alice-tool", list(SCOPES), owner="alice")
    response = client.open(PREFIX + path, method=method, json=body, headers=bearer(bound))
    assert response.status_code == 403
    message = error_of(response)["message"]
    assert "bound to the goal owner 'alice'" in message
    assert "created without --owner" in message
    assert len(gamify.webhooks()) == 1


def test_a_host_authorizer_binding_the_caller_is_refused(
    gamify: Gamify, client: FlaskClient
) -> None:
    @gamify.api_authorizer
    def from_session(action: str, goal: GoalView | None) -> bool | ApiPrincipal:
        user = session.get("user")
        if user == "admin":
            return True
        return ApiPrincipal(entity=user) if user else False

    with client.session_transaction() as cookie:
        cookie["user"] = "ann"
    refused = client.get(HOOKS)
    assert refused.status_code == 403
    assert "bound to the entity 'ann'" in error_of(refused)["message"]
    with client.session_transaction() as cookie:
        cookie["user"] = "admin"
    assert client.get(HOOKS).status_code == 200


# -- registering, the secret shown once ---------------------------------------------------


def test_the_secret_is_shown_once(gamify: Gamify, client: FlaskClient, token: str) -> None:
    response = client.post(
        HOOKS,
        json={"url": URL, "events": ["award.created"], "description": "CRM"},
        headers=bearer(token),
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["secret"].startswith("whsec_")
    assert response.headers["Location"] == f"{HOOKS}/{body['id']}"
    assert body["events"] == ["award.created"] and body["description"] == "CRM"
    read = client.get(response.headers["Location"], headers=bearer(token)).get_json()
    listed = client.get(HOOKS, headers=bearer(token)).get_json()
    assert "secret" not in read
    assert listed == {"items": [read], "next": None}
    assert body["secret"] not in str(listed)


def test_rotating_gives_a_new_secret_and_a_grace(
    gamify: Gamify, client: FlaskClient, token: str
) -> None:
    first = created(client, token)
    rotate = f"{HOOKS}/{first['id']}/rotate-secret"
    rotated = client.post(rotate, json={"grace": 3600}, headers=bearer(token))
    assert rotated.status_code == 200, rotated.get_json()
    assert rotated.headers["Cache-Control"] == "no-store"
    body = rotated.get_json()
    assert body["secret"].startswith("whsec_") and body["secret"] != first["secret"]
    assert body["previous_secret_until"] is not None
    # Without a body: a day of grace, the default.
    again = client.post(rotate, headers=bearer(token)).get_json()
    assert again["secret"] not in (first["secret"], body["secret"])
    assert again["previous_secret_until"] > body["previous_secret_until"]
    stopped = client.post(rotate, json={"grace": 0}, headers=bearer(token)).get_json()
    assert stopped["previous_secret_until"] is None


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url", "scheme must be http or https"),
        ({"url": "http://10.1.2.3/x", "events": ["*"]}, "url", "GAMIFY_WEBHOOK_ALLOW_PRIVATE"),
        ({"url": "http://127.0.0.1:8000/x", "events": ["*"]}, "url", "loopback"),
        ({"url": "https://a:b@example.com/", "events": ["*"]}, "url", "credentials"),
        ({"url": "https://example.com/#", "events": ["*"]}, "url", "fragment"),
        ({"url": URL, "events": ["award.won"]}, "events", "valid types: *, award.created"),
        ({"url": URL, "events": []}, "events", "at least one event type"),
        ({"url": URL, "events": "award.created"}, "events", "list of event types"),
        ({"url": URL}, "events", "Missing data"),
        ({"events": ["*"]}, "url", "Missing data"),
        ({"url": URL, "events": ["*"], "secret": "whsec_x"}, "secret", "Unknown field"),
        ({"url": URL, "events": ["*"], "description": "x" * 1001}, "description", "1000"),
        ({"url": 5, "events": ["*"]}, "url", "Not a valid string"),
    ],
)
def test_bad_registrations_name_the_field(
    gamify: Gamify, client: FlaskClient, token: str, body: Any, field: str, words: str
) -> None:
    response = client.post(HOOKS, json=body, headers=bearer(token))
    assert response.status_code == 422
    error = error_of(response)
    assert field in error["errors"], error
    assert words in " ".join(error["errors"][field])
    assert gamify.webhooks() == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"events": ["nope"]}, "events"),
        ("", {"enabled": "yes"}, "enabled"),
        ("", {"url": "https://other.example.com/"}, "url"),
        ("/rotate-secret", {"grace": -1}, "grace"),
        ("/rotate-secret", {"grace": "1h"}, "grace"),
        ("/rotate-secret", {"grace": 31 * 86400}, "grace"),
    ],
)
def test_bad_changes_name_the_field(
    gamify: Gamify, client: FlaskClient, token: str, path: str, body: Any, field: str
) -> None:
    endpoint = created(client, token)
    method = "PATCH" if not path else "POST"
    url = f"{HOOKS}/{endpoint['id']}{path}"
    response = client.open(url, method=method, json=body, headers=bearer(token))
    assert response.status_code == 422
    assert field in error_of(response)["errors"]
    stored = gamify.webhook(endpoint["id"])
    assert stored.events == ("*",) and stored.enabled
    assert stored.previous_secret_until is None


def test_a_bad_change_changes_nothing_at_all(
    gamify: Gamify, client: FlaskClient, token: str
) -> None:
    endpoint = created(client, token)
    response = client.patch(
        f"{HOOKS}/{endpoint['id']}",
        json={"enabled": False, "events": ["nope"]},
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert gamify.webhook(endpoint["id"]).enabled


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/99",
        "/webhooks/abc",
        "/webhooks/0",
        "/webhooks/99999999999",
        "/webhooks/99/deliveries",
        "/webhooks/99/test",
    ],
)
def test_unknown_endpoints_answer_404(client: FlaskClient, token: str, path: str) -> None:
    method = "POST" if path.endswith("/test") else "GET"
    response = client.open(PREFIX + path, method=method, headers=bearer(token))
    assert response.status_code == 404
    assert "There is no webhook with id" in error_of(response)["message"]


def test_retrying_an_unknown_delivery_answers_404(client: FlaskClient, token: str) -> None:
    for delivery in ("7", "x"):
        response = client.post(f"{HOOKS}/deliveries/{delivery}/retry", headers=bearer(token))
        assert response.status_code == 404
        assert "no delivery with id" in error_of(response)["message"]


# -- changing, removing ------------------------------------------------------------------


def test_change_disable_enable_and_remove(gamify: Gamify, client: FlaskClient, token: str) -> None:
    endpoint = created(client, token)
    url = f"{HOOKS}/{endpoint['id']}"
    changed = client.patch(
        url,
        json={"events": ["progress.changed", "*"], "description": "All of it"},
        headers=bearer(token),
    ).get_json()
    assert changed["events"] == ["*", "progress.changed"]
    assert changed["description"] == "All of it"
    disabled = client.patch(url, json={"enabled": False}, headers=bearer(token)).get_json()
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "Disabled through the REST API."
    enabled = client.patch(url, json={"enabled": True}, headers=bearer(token)).get_json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    removed = client.delete(url, headers=bearer(token))
    assert removed.status_code == 200 and removed.get_json()["id"] == endpoint["id"]
    assert client.get(url, headers=bearer(token)).status_code == 404
    assert gamify.webhooks() == []


# -- the delivery log ---------------------------------------------------------------------


def test_deliveries_come_in_pages_newest_first(
    gamify: Gamify, client: FlaskClient, token: str
) -> None:
    endpoint = created(client, token)
    other = created(client, token, url="https://other.example.com/")
    tests = f"{HOOKS}/{endpoint['id']}/test"
    sent = [client.post(tests, headers=bearer(token)) for _ in range(5)]
    assert {response.status_code for response in sent} == {202}
    client.post(f"{HOOKS}/{other['id']}/test", headers=bearer(token))
    ids = sorted((response.get_json()["id"] for response in sent), reverse=True)

    url: str | None = f"{HOOKS}/{endpoint['id']}/deliveries?limit=2&status=pending"
    pages = []
    while url is not None:
        body = client.get(url, headers=bearer(token)).get_json()
        pages.append([item["id"] for item in body["items"]])
        url = body["next"]
    assert pages == [ids[:2], ids[2:4], ids[4:]]
    item = client.get(f"{HOOKS}/{endpoint['id']}/deliveries", headers=bearer(token)).get_json()[
        "items"
    ][0]
    assert item["event_type"] == "webhook.test" and item["status"] == "pending"
    assert item["payload"]["data"]["webhook"] == endpoint["id"]
    none = client.get(
        f"{HOOKS}/{endpoint['id']}/deliveries?status=dead", headers=bearer(token)
    ).get_json()
    assert none == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("before=-1", "before"),
    ],
)
def test_bad_delivery_queries_name_the_field(
    client: FlaskClient, token: str, query: str, field: str
) -> None:
    endpoint = created(client, token)
    response = client.get(f"{HOOKS}/{endpoint['id']}/deliveries?{query}", headers=bearer(token))
    assert response.status_code == 422
    assert field in error_of(response)["errors"]


@pytest.fixture
def loopback(database_url: str) -> Iterator[tuple[Flask, Gamify]]:
    """An app that lets webhooks reach loopback receivers, in its app context."""
    app = Flask("webhooks_api_test")
    app.config.update(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_url,
        GAMIFY_WEBHOOK_ALLOW_PRIVATE=True,
        GAMIFY_WEBHOOK_RETRY_DELAYS=[0],
    )
    db.init_app(app)
    gamify = Gamify(app, db=db)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        yield app, gamify
        gamify.drop_all()
        for engine in db.engines.values():
            engine.dispose()


def test_deliveries_are_followed_and_retried_over_the_api(
    loopback: tuple[Flask, Gamify],
) -> None:
    app, gamify = loopback
    client = app.test_client()
    headers = bearer(make_token("webhooks:write", name="hooks"))
    receiver = Receiver(status=500).start()
    try:
        body = client.post(
            HOOKS, json={"url": receiver.url, "events": ["*"]}, headers=headers
        ).get_json()
        receiver.secrets.append(body["secret"])
        client.post(f"{HOOKS}/{body['id']}/test", headers=headers)
        assert gamify.deliver_webhooks()["dead"] == 1  # two attempts: failed, then dead
        deliveries = f"{HOOKS}/{body['id']}/deliveries?status=dead"
        (dead,) = client.get(deliveries, headers=headers).get_json()["items"]
        assert dead["attempts"] == 2 and dead["response_status"] == 500
        assert dead["response_body"].startswith("answer answer")
        assert len(dead["response_body"]) <= 1024
        assert "answered 500" in dead["error"]

        receiver.status = 200
        retried = client.post(f"{HOOKS}/deliveries/{dead['id']}/retry", headers=headers)
        assert retried.status_code == 200
        assert retried.get_json()["status"] == "pending"
        assert retried.get_json()["attempts"] == 0
        assert gamify.deliver_webhooks()["delivered"] == 1
        (done,) = client.get(
            f"{HOOKS}/{body['id']}/deliveries?status=delivered", headers=headers
        ).get_json()["items"]
        assert done["response_status"] == 200 and done["error"] is None
        ids = {item.event_id for item in receiver.received}
        assert ids == {dead["event_id"]}  # the same webhook-id on every attempt
        assert receiver.accepted()[0].verified_with == [body["secret"]]
    finally:
        receiver.stop()


def test_every_payload_is_as_the_document_says(loopback: tuple[Flask, Gamify]) -> None:
    """Each event type, delivered for real, validates against the document's webhooks."""
    app, gamify = loopback
    client = app.test_client()
    receiver = Receiver().start()
    try:
        endpoint = gamify.add_webhook(receiver.url, events=["*", "progress.changed"])
        receiver.secrets.append(endpoint.secret or "")
        gamify.define_goal("first-login", criteria=LOGIN, points=5)
        gamify.define_goal("todo", criteria=LOGIN, assigned_only=True)
        gamify.assign("todo", assignee="bob", assigned_by="alice")
        gamify.track("login", "bob")
        gamify.revoke_award("bob", "first-login", reason="a test")
        gamify.test_webhook(endpoint.id)
        assert gamify.deliver_webhooks()["failed"] == 0
    finally:
        receiver.stop()
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    seen = set()
    for received in receiver.accepted():
        payload = received.payload
        operation = document["webhooks"][payload["type"]]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        jsonschema.validate(
            payload,
            {**schema, "components": document["components"]},
            cls=jsonschema.Draft202012Validator,
        )
        seen.add(payload["type"])
        assert {parameter["name"] for parameter in operation["parameters"]} <= set(received.headers)
    assert seen == set(document["webhooks"])
    for operation in document["webhooks"].values():  # the examples are valid too
        content = operation["post"]["requestBody"]["content"]["application/json"]
        for example in content["examples"].values():
            jsonschema.validate(
                example["value"],
                {**content["schema"], "components": document["components"]},
                cls=jsonschema.Draft202012Validator,
            )
