"""Goal versions: every change of a definition, readable in Python, the CLI and REST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_support import PREFIX, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import ApiPrincipal, Gamify, GoalError, GoalNotFound, GoalVersion

LOGIN = {"type": "count", "event": "login", "target": 3}
LOGIN_5 = {"type": "count", "event": "login", "target": 5}


def test_the_first_version_records_the_whole_definition(app: Flask, gamify: Gamify) -> None:
    before = datetime.now(UTC)
    gamify.define_goal("login", criteria=LOGIN, name="Regular", points=10, changed_by="alice")
    (first,) = gamify.goal_versions("login")
    assert isinstance(first, GoalVersion)
    assert (first.goal, first.version, first.changed_by) == ("login", 1, "alice")
    assert before <= first.changed_at <= datetime.now(UTC)
    assert first.changes == {
        "name": {"before": None, "after": "Regular"},
        "description": {"before": None, "after": ""},
        "icon": {"before": None, "after": None},
        "criteria": {"before": None, "after": LOGIN},
        "points": {"before": None, "after": 10},
        "repeatable": {"before": None, "after": False},
        "max_awards": {"before": None, "after": None},
        "hidden": {"before": None, "after": False},
        "assigned_only": {"before": None, "after": False},
        "owner": {"before": None, "after": None},
        "starts_at": {"before": None, "after": None},
        "ends_at": {"before": None, "after": None},
        "entity_type": {"before": None, "after": "user"},
        "status": {"before": None, "after": "active"},
        "archived": {"before": None, "after": False},
    }


def test_each_change_is_a_version_with_before_and_after(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("login", criteria=LOGIN, points=10)
    gamify.define_goal("login", criteria=LOGIN_5, points=10, changed_by="bob")
    gamify.archive_goal("login", changed_by="carol")
    gamify.restore_goal("login", changed_by="dan")
    starts = datetime(2027, 1, 1, tzinfo=UTC)
    gamify.define_goal("login", criteria=LOGIN_5, points=20, starts_at=starts)

    versions = gamify.goal_versions("login")
    assert [(v.version, v.changed_by) for v in versions] == [
        (1, None),
        (2, "bob"),
        (3, "carol"),
        (4, "dan"),
        (5, None),
    ]
    assert versions[1].changes == {"criteria": {"before": LOGIN, "after": LOGIN_5}}
    assert versions[2].changes == {"archived": {"before": False, "after": True}}
    assert versions[3].changes == {"archived": {"before": True, "after": False}}
    assert versions[4].changes == {
        "points": {"before": 10, "after": 20},
        "starts_at": {"before": None, "after": "2027-01-01T00:00:00+00:00"},
    }
    assert [v.changed_at for v in versions] == sorted(v.changed_at for v in versions)
    assert versions[-1].changed_at == gamify.goal("login").updated_at


def test_a_definition_that_changes_nothing_records_nothing(app: Flask, gamify: Gamify) -> None:
    goal = gamify.define_goal("login", criteria=LOGIN, points=10)
    again = gamify.define_goal("login", criteria=dict(LOGIN), points=10, changed_by="bob")
    assert again.updated_at == goal.updated_at
    gamify.archive_goal("login")
    gamify.archive_goal("login", changed_by="bob")  # archived already: no change
    assert [v.version for v in gamify.goal_versions("login")] == [1, 2]


def test_define_goals_records_a_version_per_changed_goal(app: Flask, gamify: Gamify) -> None:
    gamify.define_goals(
        [{"key": "a", "criteria": LOGIN}, {"key": "b", "criteria": LOGIN}], changed_by="ops"
    )
    gamify.define_goals([{"key": "a", "criteria": LOGIN}, {"key": "b", "criteria": LOGIN_5}])
    assert [v.version for v in gamify.goal_versions("a")] == [1]
    assert [(v.version, v.changed_by) for v in gamify.goal_versions("b")] == [(1, "ops"), (2, None)]


def test_unknown_goal_and_bad_changed_by(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(GoalNotFound):
        gamify.goal_versions("nope")
    for bad in ("", " ", "x" * 256, "a\x00b", 42):
        with pytest.raises(GoalError) as caught:
            gamify.define_goal("login", criteria=LOGIN, changed_by=bad)  # type: ignore[arg-type]
        assert "changed_by" in caught.value.errors
    gamify.define_goal("login", criteria=LOGIN)
    with pytest.raises(GoalError):
        gamify.archive_goal("login", changed_by="")
    assert gamify.goal("login").archived is False


# -- CLI ----------------------------------------------------------------------------


def test_goals_history_prints_each_version(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("login", criteria=LOGIN, points=10, changed_by="alice")
    gamify.define_goal("login", criteria=LOGIN_5, points=10, changed_by="bob")
    gamify.archive_goal("login")
    result = app.test_cli_runner().invoke(args=["gamify", "goals", "history", "login"])
    assert result.exit_code == 0, result.output
    versions = gamify.goal_versions("login")
    lines = result.output.splitlines()
    assert lines[0] == f"version 1  {versions[0].changed_at.isoformat()} by alice"
    assert '  criteria: {"type": "count", "event": "login", "target": 3}' in lines
    assert "  points: 10" in lines
    second = lines.index(f"version 2  {versions[1].changed_at.isoformat()} by bob")
    assert lines[second + 1] == (
        '  criteria: {"type": "count", "event": "login", "target": 3}'
        ' -> {"type": "count", "event": "login", "target": 5}'
    )
    assert lines[-2:] == [
        f"version 3  {versions[2].changed_at.isoformat()}",
        "  archived: false -> true",
    ]


def test_goals_history_of_an_unknown_goal_fails_in_one_line(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["gamify", "goals", "history", "nope"])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith("Error: No goal with key 'nope' exists.")


# -- REST -----------------------------------------------------------------------------


def test_rest_changes_record_the_key_name(app: Flask, client: FlaskClient) -> None:
    writer = bearer(make_token("goals:read", "goals:write", name="deploy-bot"))
    goal = {"key": "login", "criteria": LOGIN}
    assert client.post(f"{PREFIX}/goals", json=goal, headers=writer).status_code == 201
    patched = client.patch(f"{PREFIX}/goals/login", json={"points": 5}, headers=writer)
    assert patched.status_code == 200
    same = client.patch(f"{PREFIX}/goals/login", json={"points": 5}, headers=writer)
    assert same.status_code == 200
    assert client.delete(f"{PREFIX}/goals/login", headers=writer).status_code == 200
    reader = bearer(make_token("goals:read", name="dashboard"))
    archived = client.get(f"{PREFIX}/goals/login/versions", headers=reader)
    assert archived.status_code == 404, "an archived goal answers reads below it with 404"
    restore = client.post(f"{PREFIX}/goals/login/restore", json={}, headers=writer)
    assert restore.status_code == 200

    response = client.get(f"{PREFIX}/goals/login/versions", headers=reader)
    assert response.status_code == 200
    body = response.get_json()
    assert body["next"] is None
    assert [(v["version"], v["changed_by"]) for v in body["items"]] == [
        (1, "deploy-bot"),
        (2, "deploy-bot"),
        (3, "deploy-bot"),
        (4, "deploy-bot"),
    ]
    assert body["items"][1]["changes"] == {"points": {"before": 0, "after": 5}}
    assert body["items"][1]["goal"] == "login"
    assert datetime.fromisoformat(body["items"][1]["changed_at"]).tzinfo is not None
    # Paginated like every list.
    page = client.get(f"{PREFIX}/goals/login/versions?limit=2", headers=reader).get_json()
    assert [v["version"] for v in page["items"]] == [1, 2] and page["next"]


def test_rest_versions_need_goals_read_and_a_visible_goal(
    app: Flask, client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal("secret", criteria=LOGIN, hidden=True)
    gamify.define_goal("theirs", criteria=LOGIN, owner="bob")
    no_scope = bearer(make_token("progress:read", name="progress-only"))
    assert client.get(f"{PREFIX}/goals/secret/versions", headers=no_scope).status_code == 403
    reader = bearer(make_token("goals:read", name="reader"))
    # Hidden goals' definitions (and so their history) are for their authors only.
    response = client.get(f"{PREFIX}/goals/secret/versions", headers=reader)
    assert response.status_code == 404
    assert "secret" in error_of(response)["message"]
    assert client.get(f"{PREFIX}/goals/nope/versions", headers=reader).status_code == 404
    assert client.get(f"{PREFIX}/goals/theirs/versions", headers=reader).status_code == 200


def test_rest_changes_record_the_authorizer_principal(
    app: Flask, client: FlaskClient, gamify: Gamify
) -> None:
    @gamify.api_authorizer
    def authorizer(action: str, goal: object) -> ApiPrincipal:
        return ApiPrincipal(owner="alice")

    response = client.post(
        f"{PREFIX}/goals", json={"key": "mine", "criteria": LOGIN}, content_type="application/json"
    )
    assert response.status_code == 201, response.get_json()
    assert [v.changed_by for v in gamify.goal_versions("mine")] == ["alice"]


def test_the_openapi_document_describes_the_versions_endpoint(client: FlaskClient) -> None:
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    operation = document["paths"]["/goals/{key}/versions"]["get"]
    assert operation["x-scope"] == "goals:read"
    assert {"200", "401", "403", "404"} <= set(operation["responses"])
    schema = document["components"]["schemas"]["GoalVersion"]
    assert set(schema["required"]) == {"goal", "version", "changed_at", "changed_by", "changes"}
