"""Goal authoring over HTTP: create, read, list (paginated, filtered), change, archive, assign."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import PREFIX, READER, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

GOALS = f"{PREFIX}/goals"
BADGE = {
    "key": "python-fan",
    "name": "Python fan",
    "criteria": {"type": "count", "event": "answer", "target": 3, "where": {"tag": "python"}},
    "points": 50,
    "owner": "alice",
}
TODO = {
    "key": "onboarding",
    "criteria": {
        "type": "all",
        "of": [
            {"type": "count", "event": "profile.completed", "target": 1},
            {"type": "count", "event": "post.created", "target": 1},
        ],
    },
    "assigned_only": True,
}


@pytest.fixture
def headers(app: Flask) -> dict[str, str]:
    return bearer(make_token("goals:read", "goals:write", "events:write", "progress:read"))


def create(client: FlaskClient, headers: dict[str, str], goal: dict[str, Any]) -> Any:
    response = client.post(GOALS, json=goal, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response


def test_create_and_read(client: FlaskClient, headers: dict[str, str]) -> None:
    response = create(client, headers, BADGE)
    assert response.headers["Location"] == f"{GOALS}/python-fan"
    goal = response.get_json()
    assert goal["key"] == "python-fan"
    assert goal["points"] == 50
    assert goal["archived"] is False
    assert goal["criteria"] == BADGE["criteria"]
    assert client.get(f"{GOALS}/python-fan", headers=headers).get_json() == goal


def test_create_existing_is_a_conflict(client: FlaskClient, headers: dict[str, str]) -> None:
    create(client, headers, BADGE)
    response = client.post(GOALS, json={**BADGE, "points": 1}, headers=headers)
    assert response.status_code == 409
    assert "PATCH /gamify/api/goals/python-fan" in error_of(response)["message"]
    assert client.get(f"{GOALS}/python-fan", headers=headers).get_json()["points"] == 50


def test_invalid_criteria_name_the_path(client: FlaskClient, headers: dict[str, str]) -> None:
    bad = {
        "key": "bad",
        "criteria": {"type": "all", "of": [READER, {"type": "count", "event": "x", "target": 0}]},
    }
    response = client.post(GOALS, json=bad, headers=headers)
    assert response.status_code == 422
    error = error_of(response)
    assert "criteria.of[1].target" in error["errors"]
    assert "criteria.of[1].target" in error["message"]
    assert client.get(f"{GOALS}/bad", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("goal", "field"),
    [
        ({"criteria": READER}, "key"),
        ({"key": "k"}, "criteria"),
        ({"key": "has space", "criteria": READER}, "key"),
        ({"key": "k" * 201, "criteria": READER}, "key"),
        ({"key": "k", "criteria": READER, "points": -1}, "points"),
        ({"key": "k", "criteria": READER, "colour": "red"}, "colour"),
        ({"key": "k", "criteria": READER, "max_awards": 2}, "max_awards"),
    ],
)
def test_invalid_goals(
    client: FlaskClient, headers: dict[str, str], goal: dict[str, Any], field: str
) -> None:
    response = client.post(GOALS, json=goal, headers=headers)
    assert response.status_code == 422
    assert field in error_of(response)["errors"]


def test_body_must_be_an_object(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.post(GOALS, json=[BADGE], headers=headers)
    assert response.status_code == 422
    error_of(response)


def test_unknown_goal_is_a_json_404(client: FlaskClient, headers: dict[str, str]) -> None:
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(f"{GOALS}/nope", json={}, headers=headers)
        assert response.status_code == 404
        assert "No goal with key 'nope'" in error_of(response)["message"]


def test_list_paginates_with_next_links(
    app: Flask, gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    gamify.define_goals(
        [
            {"key": f"goal-{n:02}", "criteria": {"type": "count", "event": "e", "target": 1}}
            for n in range(7)
        ]
    )
    keys, url, pages = [], f"{GOALS}?limit=3", 0
    while url:
        body = client.get(url, headers=headers).get_json()
        keys += [goal["key"] for goal in body["items"]]
        url, pages = body["next"], pages + 1
        if url:
            assert "limit=3" in url
    assert keys == [f"goal-{n:02}" for n in range(7)]
    assert pages == 3


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=x", "cursor=abc", "archived=maybe"]
)
def test_list_rejects_bad_query(client: FlaskClient, headers: dict[str, str], query: str) -> None:
    response = client.get(f"{GOALS}?{query}", headers=headers)
    assert response.status_code == 422
    assert query.split("=")[0] in error_of(response)["errors"]


def test_list_filters(gamify: Gamify, client: FlaskClient, headers: dict[str, str]) -> None:
    create(client, headers, BADGE)
    create(client, headers, {**TODO, "owner": "bob"})
    create(client, headers, {"key": "team", "criteria": READER, "entity_type": "team"})
    create(client, headers, {"key": "old", "criteria": READER, "owner": "alice"})
    client.delete(f"{GOALS}/old", headers=headers)

    def keys(query: str) -> list[str]:
        body = client.get(f"{GOALS}?{query}", headers=headers).get_json()
        return [goal["key"] for goal in body["items"]]

    assert keys("") == ["onboarding", "python-fan", "team"]
    assert keys("owner=alice") == ["python-fan"]
    assert keys("owner=alice&archived=true") == ["old"]
    assert keys("entity_type=team") == ["team"]
    assert keys("archived=true") == ["old"]


def test_patch_changes_given_fields(client: FlaskClient, headers: dict[str, str]) -> None:
    create(client, headers, BADGE)
    response = client.patch(
        f"{GOALS}/python-fan", json={"name": "Pythonista", "points": 60}, headers=headers
    )
    assert response.status_code == 200
    goal = response.get_json()
    assert (goal["name"], goal["points"], goal["owner"]) == ("Pythonista", 60, "alice")
    assert goal["criteria"] == BADGE["criteria"]


def test_patch_validates(client: FlaskClient, headers: dict[str, str]) -> None:
    create(client, headers, BADGE)
    url = f"{GOALS}/python-fan"
    response = client.patch(url, json={"criteria": {"type": "count"}}, headers=headers)
    assert response.status_code == 422
    assert any(path.startswith("criteria.") for path in error_of(response)["errors"])
    response = client.patch(url, json={"key": "renamed"}, headers=headers)
    assert response.status_code == 422
    assert "key" in error_of(response)["errors"]
    response = client.patch(url, json="name", headers=headers)
    assert response.status_code == 422
    assert client.get(url, headers=headers).get_json()["name"] == "Python fan"


def test_delete_archives_and_keeps_progress_readable(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    create(client, headers, {"key": "reader", "criteria": READER, "points": 5})
    gamify.track("article.read", "ann", attributes={"article_id": 1})
    gamify.track("article.read", "ann", attributes={"article_id": 2})
    response = client.delete(f"{GOALS}/reader", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["archived"] is True
    assert client.get(GOALS, headers=headers).get_json()["items"] == []
    progress = client.get(f"{PREFIX}/entities/user/ann/progress/reader", headers=headers)
    assert progress.get_json()["completed"] is True
    awards = client.get(f"{PREFIX}/entities/user/ann/awards", headers=headers).get_json()
    assert [award["goal"] for award in awards["items"]] == ["reader"]


def test_archived_goals_answer_404_to_reads_and_409_to_changes_until_restored(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    create(client, headers, {"key": "reader", "criteria": READER, "points": 5})
    assert client.delete(f"{GOALS}/reader", headers=headers).get_json()["archived"] is True
    # Archiving again is idempotent.
    again = client.delete(f"{GOALS}/reader", headers=headers)
    assert again.status_code == 200 and again.get_json()["archived"] is True

    read = client.get(f"{GOALS}/reader", headers=headers)
    assert read.status_code == 404
    assert "archived" in error_of(read)["message"]
    assert f"POST {GOALS}/reader/restore" in error_of(read)["message"]

    patched = client.patch(f"{GOALS}/reader", json={"points": 6}, headers=headers)
    assert patched.status_code == 409
    assert "restore" in error_of(patched)["message"]
    assert gamify.goal("reader").archived is True  # not silently restored
    assert gamify.goal("reader").points == 5

    taken = client.post(GOALS, json={"key": "reader", "criteria": READER}, headers=headers)
    assert taken.status_code == 409 and "archived" in error_of(taken)["message"]
    listed = client.get(f"{GOALS}?archived=true", headers=headers).get_json()["items"]
    assert [goal["key"] for goal in listed] == ["reader"]

    restored = client.post(f"{GOALS}/reader/restore", headers=headers)
    assert restored.status_code == 200 and restored.get_json()["archived"] is False
    assert client.get(f"{GOALS}/reader", headers=headers).status_code == 200
    patched = client.patch(f"{GOALS}/reader", json={"points": 6}, headers=headers)
    assert patched.status_code == 200 and patched.get_json()["points"] == 6
    assert client.post(f"{GOALS}/nope/restore", headers=headers).status_code == 404


def test_patch_answers_409_when_changes_do_not_fit_the_stored_goal(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    create(client, headers, {"key": "once", "criteria": READER})
    url = f"{GOALS}/once"
    # Wrong whatever is stored: 422.
    for body, field in (
        ({"max_awards": 2, "repeatable": False}, "max_awards"),
        ({"key": "once"}, "key"),
        ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ):
        response = client.patch(url, json=body, headers=headers)
        assert response.status_code == 422, body
        assert field in error_of(response)["errors"], body
    # Wrong only with the stored fields (the goal is not repeatable): 409.
    response = client.patch(url, json={"max_awards": 2}, headers=headers)
    assert response.status_code == 409
    assert "max_awards" in error_of(response)["errors"]
    fine = client.patch(url, json={"max_awards": 2, "repeatable": True}, headers=headers)
    assert fine.status_code == 200 and fine.get_json()["max_awards"] == 2
    # A goal criterion naming no goal conflicts with the catalog: 409, on POST too.
    missing = {"type": "goal", "goal": "nope"}
    assert client.patch(url, json={"criteria": missing}, headers=headers).status_code == 409
    response = client.post(GOALS, json={"key": "k", "criteria": missing}, headers=headers)
    assert response.status_code == 409
    assert "criteria.goal" in error_of(response)["errors"]


def test_assign_a_todo_goal(gamify: Gamify, client: FlaskClient, headers: dict[str, str]) -> None:
    create(client, headers, TODO)
    url = f"{GOALS}/onboarding/assignments"
    response = client.post(
        url,
        json={"assignee": 42, "assigned_by": "alice", "due_at": "2030-01-01T00:00:00Z"},
        headers=headers,
    )
    assert response.status_code == 201
    assignment = response.get_json()
    assert (assignment["goal"], assignment["entity"], assignment["assigned_by"]) == (
        "onboarding",
        "42",
        "alice",
    )
    assert assignment["due_at"].startswith("2030-01-01T00:00:00")
    assert assignment["completed"] is False
    again = client.post(url, json={"assignee": "42"}, headers=headers)
    assert again.get_json()["id"] == assignment["id"]
    assert gamify.assignments(assignee=42)[0].assigned_by == "alice"


def test_assign_errors(client: FlaskClient, headers: dict[str, str]) -> None:
    create(client, headers, BADGE)
    response = client.post(f"{GOALS}/python-fan/assignments", json={"assignee": 1}, headers=headers)
    assert response.status_code == 409
    assert "assigned_only" in error_of(response)["message"]
    response = client.post(f"{GOALS}/nope/assignments", json={"assignee": 1}, headers=headers)
    assert response.status_code == 404
    response = client.post(f"{GOALS}/python-fan/assignments", json={}, headers=headers)
    assert response.status_code == 422
    assert "assignee" in error_of(response)["errors"]
    response = client.post(
        f"{GOALS}/python-fan/assignments", json={"assignee": 1, "due_at": "soon"}, headers=headers
    )
    assert response.status_code == 422
    assert "due_at" in error_of(response)["errors"]
