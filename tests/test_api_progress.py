"""Reading progress, awards, assignments and notifications over HTTP."""

from __future__ import annotations

import pytest
from api_support import PREFIX, READER, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify
from flask_gamify.api.examples import PROGRESS_EXAMPLE, PROGRESS_EXAMPLE_GOAL

ANN = f"{PREFIX}/entities/user/ann"
BOB = f"{PREFIX}/entities/user/bob"
TODO = {
    "type": "all",
    "of": [
        {"type": "count", "event": "profile.completed", "target": 1},
        {"type": "count", "event": "post.created", "target": 2},
    ],
}


@pytest.fixture
def headers(app: Flask, gamify: Gamify) -> dict[str, str]:
    gamify.define_goal("reader", criteria=READER, points=5)
    gamify.define_goal("login", criteria={"type": "count", "event": "login", "target": 1})
    gamify.define_goal("secret", criteria=READER, hidden=True)
    gamify.define_goal("todo", criteria=TODO, assigned_only=True)
    gamify.track("login", "ann")
    gamify.track("article.read", "ann", attributes={"article_id": 1})
    return bearer(make_token("progress:read"))


def items(client: FlaskClient, url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]  # type: ignore[no-any-return]


def test_progress_list_and_filters(client: FlaskClient, headers: dict[str, str]) -> None:
    progress = items(client, f"{ANN}/progress", headers)
    assert [(p["goal"], p["current"], p["percent"]) for p in progress] == [
        ("reader", 1, 50),
        ("login", 1, 100),
    ]
    done = items(client, f"{ANN}/progress?completed=true", headers)
    assert [p["goal"] for p in done] == ["login"]
    assert [p["goal"] for p in items(client, f"{ANN}/progress?completed=false", headers)] == [
        "reader"
    ]
    hidden = items(client, f"{ANN}/progress?include_hidden=true", headers)
    assert "secret" in [p["goal"] for p in hidden]


def test_progress_on_one_goal_has_the_child_tree(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    gamify.assign("todo", assignee="ann", assigned_by="bob")
    gamify.track("post.created", "ann")
    response = client.get(f"{ANN}/progress/todo", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["goal"], body["completed"]) == ("todo", False)
    assert [(c["current"], c["target"], c["completed"]) for c in body["children"]] == [
        (0, 1, False),
        (1, 2, False),
    ]
    response = client.get(f"{ANN}/progress/nope", headers=headers)
    assert response.status_code == 404
    error_of(response)


def test_awards(gamify: Gamify, client: FlaskClient, headers: dict[str, str]) -> None:
    gamify.track("article.read", "ann", attributes={"article_id": 2})
    awards = items(client, f"{ANN}/awards", headers)
    assert [(a["goal"], a["points"], a["occurrence"]) for a in awards] == [
        ("login", 0, 1),
        ("reader", 5, 1),
        ("secret", 0, 1),
    ]
    assert items(client, f"{BOB}/awards", headers) == []


def test_assignments_and_notifications(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    gamify.assign("todo", assignee="ann", assigned_by="bob")
    assigned = items(client, f"{ANN}/assignments", headers)
    assert [(a["goal"], a["assigned_by"], a["completed"]) for a in assigned] == [
        ("todo", "bob", False)
    ]
    given = items(client, f"{BOB}/assignments?role=assigner", headers)
    assert [a["entity"] for a in given] == ["ann"]
    assert items(client, f"{ANN}/assignments?completed=true", headers) == []

    gamify.track("profile.completed", "ann")
    gamify.track("post.created", "ann")
    gamify.track("post.created", "ann")
    assert items(client, f"{ANN}/assignments?completed=true", headers)[0]["completed"] is True
    notes = items(client, f"{BOB}/notifications", headers)
    assert [n["kind"] for n in notes] == ["assignment-completed"]
    assert notes[0]["read"] is False

    url = f"{BOB}/notifications/read"
    response = client.post(url, json={"ids": [notes[0]["id"]]}, headers=headers)
    assert response.get_json() == {"marked": 1}
    assert items(client, f"{BOB}/notifications?unread=true", headers) == []
    assert items(client, f"{BOB}/notifications", headers)[0]["read"] is True


def test_mark_all_read_without_a_body(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    gamify.track("article.read", "ann", attributes={"article_id": 2})
    unread = items(client, f"{ANN}/notifications?unread=true", headers)
    assert len(unread) == 3  # goal-completed for login, reader and secret
    response = client.post(f"{ANN}/notifications/read", headers=headers)
    assert response.get_json() == {"marked": 3}
    response = client.post(f"{ANN}/notifications/read", json={"ids": ["one"]}, headers=headers)
    assert response.status_code == 422
    assert "ids[0]" in error_of(response)["errors"]


def test_notifications_paginate(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    for n in range(5):
        gamify.define_goal(f"g{n}", criteria={"type": "count", "event": f"e{n}", "target": 1})
        gamify.track(f"e{n}", "bob")
    first = client.get(f"{BOB}/notifications?limit=2", headers=headers).get_json()
    assert len(first["items"]) == 2
    second = client.get(first["next"], headers=headers).get_json()
    third = client.get(second["next"], headers=headers).get_json()
    assert third["next"] is None
    ids = [n["id"] for page in (first, second, third) for n in page["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert ids == sorted(ids, reverse=True)


def test_entity_in_url_is_checked(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get(f"{PREFIX}/entities/user/{'x' * 256}/progress", headers=headers)
    assert response.status_code == 422
    assert "entity" in error_of(response)["errors"]
    response = client.get(f"{PREFIX}/entities/{'t' * 65}/ann/awards", headers=headers)
    assert response.status_code == 422
    assert "entity_type" in error_of(response)["errors"]
    response = client.get(f"{PREFIX}/entities/user/%20/awards", headers=headers)
    assert response.status_code == 422


def test_unknown_entities_have_empty_lists(client: FlaskClient, headers: dict[str, str]) -> None:
    for what in ("awards", "assignments", "notifications"):
        assert items(client, f"{PREFIX}/entities/team/nobody/{what}", headers) == []


def test_the_documented_progress_example_is_what_the_api_answers(
    gamify: Gamify, client: FlaskClient, headers: dict[str, str]
) -> None:
    goal = dict(PROGRESS_EXAMPLE_GOAL)
    gamify.define_goal(goal.pop("key"), **goal)
    for article in (1, 2):
        gamify.track("article.read", "ann", attributes={"article_id": article})
    gamify.track("comment.posted", "ann")

    response = client.get(f"{ANN}/progress/getting-started", headers=headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == PROGRESS_EXAMPLE
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    assert document["components"]["schemas"]["Progress"]["examples"] == [PROGRESS_EXAMPLE]
