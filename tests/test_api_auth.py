"""Who may call the API (keys, scopes, the host's authorizer, the CLI) and error confinement."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import ALL_SCOPES, PREFIX, READER, bearer, error_of, make_token
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import select

from flask_gamify import Gamify, GoalView
from flask_gamify.api.keys import ApiKey

ENTITY = f"{PREFIX}/entities/user/ann"
#: ``(method, url, scope, json body)`` of every endpoint that needs a key.
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("POST", f"{PREFIX}/events", "events:write", {"type": "login", "entity": 1}),
    ("GET", f"{PREFIX}/goals", "goals:read", None),
    ("POST", f"{PREFIX}/goals", "goals:write", {"key": "new", "criteria": READER}),
    ("GET", f"{PREFIX}/goals/todo", "goals:read", None),
    ("PATCH", f"{PREFIX}/goals/todo", "goals:write", {"points": 3}),
    ("DELETE", f"{PREFIX}/goals/todo", "goals:write", None),
    ("POST", f"{PREFIX}/goals/todo/assignments", "goals:write", {"assignee": "ann"}),
    ("GET", f"{ENTITY}/progress", "progress:read", None),
    ("GET", f"{ENTITY}/progress/todo", "progress:read", None),
    ("GET", f"{ENTITY}/awards", "progress:read", None),
    ("GET", f"{ENTITY}/assignments", "progress:read", None),
    ("GET", f"{ENTITY}/notifications", "progress:read", None),
    ("POST", f"{ENTITY}/notifications/read", "progress:read", {}),
]
IDS = [f"{method} {url.removeprefix(PREFIX)}" for method, url, _, _ in ENDPOINTS]


@pytest.fixture(autouse=True)
def goals(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("todo", criteria=READER, assigned_only=True, owner="alice")
    gamify.define_goal("open", criteria=READER, owner="bob")


def call(client: FlaskClient, method: str, url: str, body: Any, **headers: str) -> Any:
    return client.open(url, method=method, json=body, headers=headers)


# -- API keys -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "scope", "body"), ENDPOINTS, ids=IDS)
def test_scope_matrix(client: FlaskClient, method: str, url: str, scope: str, body: Any) -> None:
    response = call(client, method, url, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in error_of(response)["message"]

    for other in ALL_SCOPES:
        if other == scope:
            continue
        response = call(client, method, url, body, **bearer(make_token(other, name=other)))
        assert response.status_code == 403, other
        assert repr(scope) in error_of(response)["message"]

    token = make_token(scope, name="right")
    response = call(client, method, url, body, **bearer(token))
    assert response.status_code < 300, response.get_json()


@pytest.mark.parametrize(("method", "url", "scope", "body"), ENDPOINTS, ids=IDS)
def test_revoked_key(
    app: Flask, client: FlaskClient, method: str, url: str, scope: str, body: Any
) -> None:
    token = make_token(*ALL_SCOPES, name="to-revoke")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["gamify", "keys", "revoke", "to-revoke"])
    assert result.exit_code == 0, result.output
    response = call(client, method, url, body, **bearer(token))
    assert response.status_code == 401
    assert "revoked" in error_of(response)["message"]


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer gmf_nope", "Bearer gmf_aaaaaaaa_wrong", "token"],
)
def test_bad_authorization_headers(client: FlaskClient, header: str) -> None:
    make_token()
    response = client.get(f"{PREFIX}/goals", headers={"Authorization": header})
    assert response.status_code == 401
    error_of(response)


def test_a_tampered_key_is_refused(client: FlaskClient) -> None:
    token = make_token()
    assert client.get(f"{PREFIX}/goals", headers=bearer(token)).status_code == 200
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"{PREFIX}/goals", headers=bearer(tampered)).status_code == 401


def test_openapi_and_docs_need_no_key(client: FlaskClient) -> None:
    assert client.get(f"{PREFIX}/openapi.json").status_code == 200
    assert client.get(f"{PREFIX}/docs").status_code == 200


# -- the CLI --------------------------------------------------------------------------


def test_cli_creates_lists_and_revokes_keys(
    app: Flask, gamify: Gamify, client: FlaskClient
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["gamify", "keys", "create", "ci", "--scopes", "events:write,progress:read"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("gmf_")
    assert "events:write, progress:read" in result.output

    with gamify.state.transaction() as session:
        (key,) = session.execute(select(ApiKey)).scalars()
        stored = [str(value) for value in vars(key).values()]
    assert token not in stored
    assert token.startswith(key.prefix)
    assert len(key.key_hash) == 64

    headers = bearer(token)
    assert (
        client.post(
            f"{PREFIX}/events", json={"type": "x", "entity": 1}, headers=headers
        ).status_code
        == 202
    )
    assert client.get(f"{PREFIX}/goals", headers=headers).status_code == 403

    listing = runner.invoke(args=["gamify", "keys", "list"])
    assert listing.exit_code == 0
    assert key.prefix in listing.output
    assert "active" in listing.output
    assert token not in listing.output

    revoked = runner.invoke(args=["gamify", "keys", "revoke", key.prefix])
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(args=["gamify", "keys", "list"]).output
    assert client.get(f"{ENTITY}/awards", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "x", "--scopes", "admin"], "Unknown scope(s) admin"),
        (["create", "x", "--scopes", ","], "Unknown scope"),
        (["revoke", "nobody"], "No API key is named 'nobody'"),
    ],
)
def test_cli_errors(app: Flask, args: list[str], message: str) -> None:
    result = app.test_cli_runner().invoke(args=["gamify", "keys", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_cli_refuses_a_duplicate_name(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["gamify", "keys", "create", "ci", "--scopes", "goals:read"]).exit_code
        == 0
    )
    result = runner.invoke(args=["gamify", "keys", "create", "ci", "--scopes", "goals:read"])
    assert result.exit_code != 0
    assert "exists already" in result.output


def test_cli_list_without_keys(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["gamify", "keys", "list"])
    assert "No API keys" in result.output


# -- the host's authorizer ------------------------------------------------------------


def test_authorizer_lets_owners_edit_only_their_goals(gamify: Gamify, client: FlaskClient) -> None:
    calls: list[tuple[str, str | None]] = []

    @gamify.api_authorizer
    def owners_only(action: str, goal: GoalView | None) -> bool:
        calls.append((action, goal.key if goal else None))
        user = request.headers.get("X-User")
        if action == "goals:write" and goal is not None:
            return goal.owner == user
        return user is not None

    alice = {"X-User": "alice"}
    response = client.patch(f"{PREFIX}/goals/todo", json={"points": 9}, headers=alice)
    assert response.status_code == 200
    response = client.patch(f"{PREFIX}/goals/open", json={"points": 9}, headers=alice)
    assert response.status_code == 403
    assert "change goals ('open')" in error_of(response)["message"]
    assert client.delete(f"{PREFIX}/goals/open", json={}, headers=alice).status_code == 403
    assert (
        client.delete(f"{PREFIX}/goals/open", json={}, headers={"X-User": "bob"}).status_code == 200
    )
    assert client.get(f"{PREFIX}/goals", headers=alice).status_code == 200
    assert client.get(f"{PREFIX}/goals").status_code == 403
    assert client.get(f"{PREFIX}/goals/todo", headers=alice).status_code == 200
    assert client.patch(f"{PREFIX}/goals/nope", json={}, headers=alice).status_code == 404
    assert ("goals:write", "todo") in calls
    assert ("goals:read", None) in calls
    assert ("goals:read", "todo") in calls
    # API keys play no part any more.
    assert client.get(f"{PREFIX}/goals", headers=bearer(make_token())).status_code == 403


def test_authorizer_may_abort_with_401(gamify: Gamify, client: FlaskClient) -> None:
    from flask import abort

    @gamify.api_authorizer
    def session_only(action: str, goal: GoalView | None) -> bool:
        abort(401)

    response = client.get(f"{PREFIX}/goals")
    assert response.status_code == 401
    error_of(response)


# -- errors stay inside the blueprint -------------------------------------------------


@pytest.fixture
def host_routes(app: Flask) -> Flask:
    @app.get("/host/page")
    def page() -> str:
        return "<p>host</p>"

    @app.get("/host/boom")
    def boom() -> str:
        raise RuntimeError("host error")

    @app.errorhandler(418)
    def teapot(error: Exception) -> tuple[str, int]:
        return "<h1>host teapot</h1>", 418

    @app.get("/host/teapot")
    def make_tea() -> str:
        from flask import abort

        abort(418)

    return app


def test_host_errors_are_unchanged(host_routes: Flask, client: FlaskClient) -> None:
    missing = client.get("/host/missing")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"
    wrong_method = client.post("/host/page")
    assert wrong_method.status_code == 405
    assert wrong_method.mimetype == "text/html"
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.get("/host/teapot").get_data(as_text=True) == "<h1>host teapot</h1>"
    # The host's exceptions still propagate in testing, as Flask does without us.
    with pytest.raises(RuntimeError, match="host error"):
        client.get("/host/boom")
    assert client.get("/gamify/other").mimetype == "text/html"


def test_api_404_and_405_are_json(client: FlaskClient) -> None:
    missing = client.get(f"{PREFIX}/nothing/here")
    assert missing.status_code == 404
    assert "No API endpoint" in error_of(missing)["message"]
    wrong = client.put(f"{PREFIX}/events")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "OPTIONS, POST"
    assert "use OPTIONS, POST" in error_of(wrong)["message"]
    options = client.options(f"{PREFIX}/goals/x")
    assert set(options.headers["Allow"].split(", ")) == {
        "DELETE",
        "GET",
        "HEAD",
        "OPTIONS",
        "PATCH",
    }
    assert client.options(f"{PREFIX}/nothing").status_code == 404


def test_unexpected_errors_are_json_500s_without_internals(
    gamify: Gamify, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(**kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(gamify, "goals", fail)
    response = client.get(f"{PREFIX}/goals", headers=bearer(make_token()))
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "the error was logged" in error_of(response)["message"]
