"""The authorization model: owner-bound keys, hidden goals, principals, CSRF, headers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from api_support import PREFIX, READER, bearer, error_of, make_token
from flask import Flask, g, request, session
from flask.testing import FlaskClient
from flask_login import LoginManager, UserMixin

from flask_gamify import ApiPrincipal, Gamify, GamifyError, GoalView
from flask_gamify.api.keys import create_key

ANN = f"{PREFIX}/entities/user/ann"
BOB = f"{PREFIX}/entities/user/bob"
DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(autouse=True)
def goals(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("alice-badge", criteria=READER, owner="alice")
    gamify.define_goal("alice-secret", criteria=READER, owner="alice", hidden=True)
    gamify.define_goal("bob-badge", criteria=READER, owner="bob")
    gamify.define_goal("bob-secret", criteria=READER, owner="bob", hidden=True)
    gamify.define_goal(
        "bob-todo",
        criteria={"type": "count", "event": "login", "target": 1},
        owner="bob",
        assigned_only=True,
    )
    gamify.define_goal(
        "alice-todo",
        criteria={"type": "count", "event": "login", "target": 1},
        owner="alice",
        assigned_only=True,
    )
    gamify.assign("bob-todo", assignee="ann", assigned_by="bob")
    gamify.assign("alice-todo", assignee="ann", assigned_by="bob")
    for article in (1, 2):
        gamify.track("article.read", "ann", attributes={"article_id": article})


def owner_token(owner: str, *scopes: str) -> dict[str, str]:
    from flask import current_app

    with current_app.extensions["gamify"].transaction() as db_session:
        _, token = create_key(
            db_session,
            f"{owner}-{'-'.join(scopes) or 'all'}",
            list(scopes or ("goals:read", "goals:write", "progress:read", "events:write")),
            owner=owner,
        )
    return bearer(token)


def keys_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item.get("key") or item["goal"] for item in response.get_json()["items"]]


def same_answer(first: Any, second: Any, first_key: str, second_key: str) -> None:
    """Both answers are identical once the goal keys in them are put aside."""
    assert first.status_code == second.status_code
    headers = [{k: v for k, v in r.headers if k != "Content-Length"} for r in (first, second)]
    assert headers[0] == headers[1]
    one = first.get_data(as_text=True).replace(first_key, "KEY")
    other = second.get_data(as_text=True).replace(second_key, "KEY")
    assert one == other


# -- owner-bound API keys -------------------------------------------------------------


def test_cli_creates_owner_bound_keys_and_lists_the_owner(app: Flask, client: FlaskClient) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "gamify",
            "keys",
            "create",
            "alice-tool",
            "--scopes",
            "goals:read",
            "--owner",
            "alice",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "bound to the owner 'alice'" in result.output
    token = result.output.strip().splitlines()[-1]
    listed = client.get(f"{PREFIX}/goals", headers=bearer(token))
    assert keys_of(listed) == ["alice-badge", "alice-todo"]

    unbound = runner.invoke(args=["gamify", "keys", "create", "all", "--scopes", "goals:read"])
    assert unbound.exit_code == 0, unbound.output
    lines = runner.invoke(args=["gamify", "keys", "list"]).output.splitlines()
    assert lines[0].split("\t")[3] == "owner alice"
    assert lines[1].split("\t")[3] == "any owner"


@pytest.mark.parametrize("owner", ["", "   ", "x" * 256, "a\x00b"])
def test_key_owners_are_validated(app: Flask, owner: str) -> None:
    with (
        app.extensions["gamify"].transaction() as db_session,
        pytest.raises(GamifyError, match="owner"),
    ):
        create_key(db_session, "bad", ["goals:read"], owner=owner)
    result = app.test_cli_runner().invoke(
        args=["gamify", "keys", "create", "bad", "--scopes", "goals:read", "--owner", owner]
    )
    assert result.exit_code != 0
    assert "Error: " in result.output and "owner" in result.output
    assert "Traceback" not in result.output


def test_an_owner_bound_key_lists_only_its_goals(client: FlaskClient) -> None:
    alice = owner_token("alice")
    assert keys_of(client.get(f"{PREFIX}/goals", headers=alice)) == [
        "alice-badge",
        "alice-secret",
        "alice-todo",
    ]
    assert keys_of(client.get(f"{PREFIX}/goals?owner=bob", headers=alice)) == []
    assert keys_of(client.get(f"{PREFIX}/goals?owner=alice", headers=alice)) == [
        "alice-badge",
        "alice-secret",
        "alice-todo",
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/goals/{}", None),
        ("PATCH", "/goals/{}", {"points": 99}),
        ("DELETE", "/goals/{}", None),
        ("POST", "/goals/{}/assignments", {"assignee": "zed"}),
        ("GET", "/entities/user/ann/progress/{}", None),
    ],
)
def test_another_owners_goal_answers_like_an_unknown_goal(
    gamify: Gamify, client: FlaskClient, method: str, path: str, body: Any
) -> None:
    alice = owner_token("alice")
    theirs = client.open(PREFIX + path.format("bob-todo"), method=method, json=body, headers=alice)
    unknown = client.open(PREFIX + path.format("no-such"), method=method, json=body, headers=alice)
    assert theirs.status_code == 404
    error_of(theirs)
    same_answer(theirs, unknown, "bob-todo", "no-such")
    goal = gamify.goal("bob-todo")
    assert goal.points == 0 and not goal.archived
    assert [a.entity for a in gamify.assignments(assignee="zed")] == []

    mine = client.open(PREFIX + path.format("alice-todo"), method=method, json=body, headers=alice)
    assert mine.status_code < 300, mine.get_json()


def test_an_owner_bound_key_creates_goals_for_its_owner(
    gamify: Gamify, client: FlaskClient
) -> None:
    alice = owner_token("alice")
    url = f"{PREFIX}/goals"
    created = client.post(url, json={"key": "a1", "criteria": READER}, headers=alice)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["owner"] == "alice"
    same = client.post(url, json={"key": "a2", "criteria": READER, "owner": "alice"}, headers=alice)
    assert same.status_code == 201

    for other in ("bob", None, ""):
        body = {"key": "a3", "criteria": READER, "owner": other}
        refused = client.post(url, json=body, headers=alice)
        assert refused.status_code == 403
        assert "owner" in error_of(refused)["errors"]
        assert "'alice'" in error_of(refused)["errors"]["owner"][0]
    assert "a3" not in [goal.key for goal in gamify.goals()]

    taken = client.post(url, json={"key": "bob-secret", "criteria": READER}, headers=alice)
    assert taken.status_code == 409
    assert "archived" not in error_of(taken)["message"]
    assert "PATCH" not in error_of(taken)["message"]


def test_an_owner_bound_key_cannot_give_a_goal_away(gamify: Gamify, client: FlaskClient) -> None:
    alice = owner_token("alice")
    url = f"{PREFIX}/goals/alice-badge"
    refused = client.patch(url, json={"owner": "bob", "points": 7}, headers=alice)
    assert refused.status_code == 403
    assert "owner" in error_of(refused)["errors"]
    goal = gamify.goal("alice-badge")
    assert (goal.owner, goal.points) == ("alice", 0)
    kept = client.patch(url, json={"owner": "alice", "points": 7}, headers=alice)
    assert kept.status_code == 200
    assert kept.get_json()["points"] == 7


def test_an_owner_bound_key_reads_entities_through_its_goals_only(
    gamify: Gamify, client: FlaskClient
) -> None:
    gamify.track("login", "ann")  # completes both to-do lists
    alice = owner_token("alice")
    progress = keys_of(client.get(f"{ANN}/progress?include_hidden=true", headers=alice))
    assert progress == ["alice-badge", "alice-secret", "alice-todo"]
    awards = keys_of(client.get(f"{ANN}/awards", headers=alice))
    assert sorted(awards) == ["alice-badge", "alice-secret", "alice-todo"]
    assignments = keys_of(client.get(f"{ANN}/assignments", headers=alice))
    assert assignments == ["alice-todo"]
    assert keys_of(client.get(f"{BOB}/assignments?role=assigner", headers=alice)) == ["alice-todo"]
    # An inbox is the entity's own, not a goal's: owner-bound keys do not read it.
    for response in (
        client.get(f"{BOB}/notifications", headers=alice),
        client.post(f"{BOB}/notifications/read", headers=alice),
    ):
        assert response.status_code == 403
        assert "owner-bound" in error_of(response)["message"]
    assert len(gamify.notifications("bob", unread_only=True)) == 2


def test_unbound_keys_keep_full_rights(gamify: Gamify, client: FlaskClient) -> None:
    everything = bearer(make_token())
    assert len(keys_of(client.get(f"{PREFIX}/goals", headers=everything))) == 6
    response = client.patch(
        f"{PREFIX}/goals/bob-badge", json={"owner": "alice"}, headers=everything
    )
    assert response.status_code == 200
    assert gamify.goal("bob-badge").owner == "alice"
    hidden = keys_of(client.get(f"{ANN}/progress?include_hidden=true", headers=everything))
    assert {"alice-secret", "bob-secret"} <= set(hidden)


# -- hidden goals ---------------------------------------------------------------------


def test_hidden_goals_are_listed_only_to_callers_who_may_author_them(
    gamify: Gamify, client: FlaskClient
) -> None:
    gamify.define_goal("unseen", criteria=READER, hidden=True, owner="alice")
    reader = bearer(make_token("goals:read", name="reader"))
    assert "unseen" not in keys_of(client.get(f"{PREFIX}/goals", headers=reader))
    hidden = client.get(f"{PREFIX}/goals/unseen", headers=reader)
    same_answer(hidden, client.get(f"{PREFIX}/goals/nope", headers=reader), "unseen", "nope")
    assert "article.read" not in hidden.get_data(as_text=True)

    author = bearer(make_token("goals:read", "goals:write", name="author"))
    assert "unseen" in keys_of(client.get(f"{PREFIX}/goals", headers=author))
    assert client.get(f"{PREFIX}/goals/unseen", headers=author).status_code == 200

    alice_reader = owner_token("alice", "goals:read")
    assert keys_of(client.get(f"{PREFIX}/goals", headers=alice_reader)) == [
        "alice-badge",
        "alice-todo",
    ]
    bob_author = owner_token("bob", "goals:read", "goals:write")
    assert "bob-secret" in keys_of(client.get(f"{PREFIX}/goals", headers=bob_author))
    assert "unseen" not in keys_of(client.get(f"{PREFIX}/goals", headers=bob_author))


def test_an_owner_bound_key_without_goals_write_sees_no_hidden_progress(
    gamify: Gamify, client: FlaskClient
) -> None:
    gamify.define_goal("alice-later", criteria=READER | {"target": 9}, owner="alice", hidden=True)
    alice = owner_token("alice", "progress:read")
    listed = keys_of(client.get(f"{ANN}/progress?include_hidden=true", headers=alice))
    # alice-secret is completed, so shown like any completed goal; alice-later is not.
    assert listed == ["alice-badge", "alice-secret", "alice-todo"]
    one = client.get(f"{ANN}/progress/alice-later", headers=alice)
    same_answer(one, client.get(f"{ANN}/progress/nope", headers=alice), "alice-later", "nope")


@pytest.fixture
def session_authorizer(gamify: Gamify) -> None:
    """A host authorizer trusting the session cookie, reporting who the caller is."""

    @gamify.api_authorizer
    def from_session(action: str, goal: GoalView | None) -> bool | ApiPrincipal:
        user = session.get("user")
        if user is None:
            return False
        if user == "admin":
            return True
        if action.startswith("goals:"):
            return ApiPrincipal(owner=user)
        return ApiPrincipal(entity=user)


def login(client: FlaskClient, user: str) -> None:
    with client.session_transaction() as cookie_session:
        cookie_session["user"] = user


@pytest.mark.usefixtures("session_authorizer")
def test_include_hidden_shows_hidden_goals_to_the_entity_itself(
    gamify: Gamify, client: FlaskClient
) -> None:
    gamify.define_goal("later", criteria=READER | {"target": 9}, hidden=True)
    login(client, "ann")
    own = keys_of(client.get(f"{ANN}/progress?include_hidden=true"))
    assert "later" in own
    assert "later" not in keys_of(client.get(f"{ANN}/progress"))
    assert client.get(f"{ANN}/progress/later").status_code == 200

    for what in ("progress?include_hidden=true", "progress/later", "awards", "notifications"):
        response = client.get(f"{BOB}/{what}")
        assert response.status_code == 403, what
        assert "only its own" in error_of(response)["message"]

    login(client, "admin")
    assert "later" in keys_of(client.get(f"{ANN}/progress?include_hidden=true"))


def test_the_host_authorizer_decides_who_may_author_hidden_goals(
    gamify: Gamify, client: FlaskClient
) -> None:
    @gamify.api_authorizer
    def writers_only(action: str, goal: GoalView | None) -> bool:
        user = request.headers.get("X-User")
        if action == "goals:write":
            return user == "editor"
        return user is not None

    reader, editor = {"X-User": "reader"}, {"X-User": "editor"}
    assert "bob-secret" not in keys_of(client.get(f"{PREFIX}/goals", headers=reader))
    assert "bob-secret" in keys_of(client.get(f"{PREFIX}/goals", headers=editor))
    hidden = client.get(f"{PREFIX}/goals/bob-secret", headers=reader)
    same_answer(hidden, client.get(f"{PREFIX}/goals/nope", headers=reader), "bob-secret", "nope")
    # A refused write on a goal the caller may see says so; on one it may not see, it
    # answers like an unknown goal.
    visible = client.patch(f"{PREFIX}/goals/bob-badge", json={}, headers=reader)
    assert visible.status_code == 403
    assert "'bob-badge'" in error_of(visible)["message"]
    invisible = client.patch(f"{PREFIX}/goals/bob-secret", json={}, headers=reader)
    unknown = client.patch(f"{PREFIX}/goals/nope", json={}, headers=reader)
    same_answer(invisible, unknown, "bob-secret", "nope")


# -- unknown and forbidden goals answer alike -----------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/goals/{}", None),
        ("PATCH", "/goals/{}", {"points": 1}),
        ("DELETE", "/goals/{}", {}),
        ("POST", "/goals/{}/assignments", {"assignee": "zed"}),
        ("GET", "/entities/user/ann/progress/{}", None),
    ],
)
def test_a_refused_caller_cannot_tell_goals_exist(
    gamify: Gamify, client: FlaskClient, method: str, path: str, body: Any
) -> None:
    @gamify.api_authorizer
    def nobody(action: str, goal: GoalView | None) -> bool:
        return False

    existing = client.open(PREFIX + path.format("bob-todo"), method=method, json=body)
    unknown = client.open(PREFIX + path.format("no-such"), method=method, json=body)
    assert existing.status_code == 403
    same_answer(existing, unknown, "bob-todo", "no-such")


def test_principals_check_their_scopes(gamify: Gamify, client: FlaskClient) -> None:
    @gamify.api_authorizer
    def read_only(action: str, goal: GoalView | None) -> ApiPrincipal:
        return ApiPrincipal(scopes={"goals:read"})

    assert client.get(f"{PREFIX}/goals").status_code == 200
    response = client.patch(f"{PREFIX}/goals/bob-badge", json={"points": 1})
    assert response.status_code == 403
    assert "change goals" in error_of(response)["message"]
    with pytest.raises(GamifyError, match="goals:admin"):
        ApiPrincipal(scopes={"goals:admin"})


# -- cross-site requests --------------------------------------------------------------


@pytest.mark.usefixtures("session_authorizer")
def test_a_cross_site_form_post_cannot_mark_notifications_read(
    gamify: Gamify, client: FlaskClient
) -> None:
    gamify.track("login", "ann")  # bob gets two assignment-completed notifications
    login(client, "bob")
    url = f"{BOB}/notifications/read"
    for attempt in (
        {},  # an empty form post
        {"data": {"ids": "1"}},
        {"data": '{"ids": []}', "content_type": "text/plain"},
        {"data": "", "content_type": "multipart/form-data; boundary=x"},
        {"headers": {"Authorization": "Basic Ym9iOnNlY3JldA=="}},  # sent by browsers too
    ):
        response = client.post(url, **attempt)  # type: ignore[arg-type]
        assert response.status_code == 415, attempt
        assert "application/json" in error_of(response)["message"]
    assert len(gamify.notifications("bob", unread_only=True)) == 2

    response = client.post(url, json={})
    assert response.status_code == 200
    assert response.get_json() == {"marked": 2}


@pytest.mark.usefixtures("session_authorizer")
def test_every_state_changing_request_needs_json_or_a_bearer_key(
    gamify: Gamify, client: FlaskClient
) -> None:
    login(client, "admin")
    for method, url in (
        ("POST", f"{PREFIX}/events"),
        ("POST", f"{PREFIX}/goals"),
        ("PATCH", f"{PREFIX}/goals/bob-badge"),
        ("DELETE", f"{PREFIX}/goals/bob-badge"),
        ("POST", f"{PREFIX}/goals/bob-badge/restore"),
        ("POST", f"{PREFIX}/goals/bob-todo/assignments"),
    ):
        response = client.open(url, method=method, data={"a": "1"})
        assert response.status_code == 415, (method, url)
        error_of(response)
    assert not gamify.goal("bob-badge").archived
    # A method no route takes changes nothing: it keeps its 405.
    assert client.put(f"{PREFIX}/goals/bob-badge", data={"a": "1"}).status_code == 405
    deleted = client.delete(f"{PREFIX}/goals/bob-badge", json={})
    assert deleted.status_code == 200
    assert gamify.goal("bob-badge").archived
    restored = client.post(f"{PREFIX}/goals/bob-badge/restore", json={})
    assert restored.status_code == 200, restored.get_json()
    patched = client.patch(
        f"{PREFIX}/goals/bob-badge", data='{"points": 4}', content_type="application/merge+json"
    )
    assert patched.status_code == 200, patched.get_json()


def test_bearer_keys_keep_working_without_a_body(gamify: Gamify, client: FlaskClient) -> None:
    gamify.track("login", "ann")
    headers = bearer(make_token())
    response = client.post(f"{BOB}/notifications/read", headers=headers)
    assert response.get_json() == {"marked": 2}
    assert client.delete(f"{PREFIX}/goals/bob-badge", headers=headers).status_code == 200


# -- headers --------------------------------------------------------------------------


def test_the_docs_page_sends_a_tight_content_security_policy(client: FlaskClient) -> None:
    response = client.get(f"{PREFIX}/docs")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = {
        name: value
        for name, _, value in (
            part.strip().partition(" ")
            for part in response.headers["Content-Security-Policy"].split(";")
        )
    }
    assert policy == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    page = response.get_data(as_text=True)
    # No inline script or style: every script and stylesheet is a file of this server.
    assert re.findall(r"<script[^>]*>", page) == [
        f"<script src='{PREFIX}/static/vendor/swagger-ui-dist-5.35.0/swagger-ui-bundle.js'>",
        f"<script src='{PREFIX}/static/api-docs.js'>",
    ]
    assert "<style" not in page and "style=" not in page
    assert not re.search(r"\son\w+=", page)  # no event handler attributes


def test_every_api_response_sends_nosniff(client: FlaskClient) -> None:
    headers = bearer(make_token())
    for response in (
        client.get(f"{PREFIX}/goals", headers=headers),
        client.get(f"{PREFIX}/goals/nope", headers=headers),
        client.get(f"{PREFIX}/goals"),
        client.get(f"{PREFIX}/openapi.json"),
        client.get(f"{PREFIX}/no/such/endpoint"),
        client.put(f"{PREFIX}/events", headers=headers),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.status
    assert "X-Content-Type-Options" not in client.get("/nothing-of-ours").headers


# -- the documented authorizer --------------------------------------------------------


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id
        self.is_admin = user_id == "admin"


def documented_authorizer() -> str:
    text = (DOCS / "rest-api.rst").read_text()
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    (block,) = [block for block in blocks if "@gamify.api_authorizer" in block]
    return "\n".join(line[4:] for line in block.splitlines())


def test_the_documented_authorizer_keeps_users_to_their_own_entity(
    app: Flask, gamify: Gamify, client: FlaskClient
) -> None:
    login_manager = LoginManager(app)
    login_manager.user_loader(User)
    exec(documented_authorizer(), {"gamify": gamify})
    gamify.track("login", "ann")

    def as_user(user: str) -> None:
        with client.session_transaction() as cookie_session:
            cookie_session["_user_id"] = user
        # Requests reuse the fixture's app context, where Flask-Login caches the user.
        g.pop("_login_user", None)

    assert client.get(f"{BOB}/notifications").status_code == 403  # nobody logged in
    as_user("ann")
    assert client.get(f"{BOB}/notifications").status_code == 403
    assert client.post(f"{BOB}/notifications/read", json={}).status_code == 403
    own = client.get(f"{ANN}/notifications")
    assert own.status_code == 200, own.get_json()
    as_user("bob")
    notes = client.get(f"{BOB}/notifications").get_json()["items"]
    assert len(notes) == 2
    # Content owners author their own goals only.
    assert client.patch(f"{PREFIX}/goals/bob-badge", json={"points": 2}).status_code == 200
    assert client.patch(f"{PREFIX}/goals/alice-badge", json={"points": 2}).status_code == 404
    as_user("admin")
    assert client.get(f"{BOB}/notifications").status_code == 200
