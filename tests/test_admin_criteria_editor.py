"""The criteria editor's endpoints and form field: validation, vocabulary, schema, preview."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import ADMIN, csrf_token, login
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

GOALS = ADMIN + "/gamify_goals"
VALIDATE = GOALS + "/criteria/validate/"
VOCABULARY = GOALS + "/criteria/vocabulary/"
SCHEMA = GOALS + "/criteria/schema/"
PREVIEW = GOALS + "/preview/"
READER = {
    "type": "all_of",
    "event": "article.read",
    "field": "article_id",
    "values": ["A", "B", "C"],
}


def signed_in(client: FlaskClient, user: str) -> dict[str, str]:
    """Sign in; the headers of a JSON call with the user's CSRF token."""
    login(client, user)
    return {"X-CSRFToken": csrf_token(client, GOALS + "/")}


def validate(client: FlaskClient, headers: dict[str, str], criteria: Any, **goal: Any) -> Any:
    response = client.post(VALIDATE, json={"criteria": criteria, "goal": goal}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def readers(admin_app: Flask, gamify: Gamify) -> None:
    for user, articles in {"ann": "ABC", "bea": "CBA", "cy": "AB"}.items():
        for article in articles:
            gamify.track("article.read", user, attributes={"article_id": article, "minutes": 3})
    gamify.track("login", "ann")


# -- validation as you type --------------------------------------------------------------


def test_valid_criteria_are_ok(admin_client: FlaskClient) -> None:
    headers = signed_in(admin_client, "staff")
    assert validate(admin_client, headers, READER) == {"ok": True, "fields": {}}


@pytest.mark.parametrize(
    ("criteria", "path", "says"),
    [
        ({"type": "count", "event": "login", "target": 0}, "criteria.target", "positive integer"),
        ({"type": "count", "event": "login", "target": -1}, "criteria.target", "positive integer"),
        ({"type": "countt", "event": "login"}, "criteria.type", "Unknown criterion type"),
        (
            {"type": "count", "event": "quiz", "target": 1, "where": {"score": {"gt=": 80}}},
            "criteria.where.score",
            "Unknown operator",
        ),
        (
            {"type": "count", "event": "login", "target": 3, "window": "1 day"},
            "criteria.window",
            "duration",
        ),
        (
            {
                "type": "any",
                "of": [
                    {"type": "count", "event": "comment", "target": 5, "window": "24h"},
                    {"type": "streak", "event": "login", "target": 0},
                ],
            },
            "criteria.of[1].target",
            "positive integer",
        ),
        (
            {"type": "sequence", "steps": [{"event": "cart"}, {"event": ""}]},
            "criteria.steps[1].event",
            "non-empty string",
        ),
    ],
)
def test_bad_criteria_are_reported_at_the_path_of_the_field(
    admin_client: FlaskClient, criteria: dict[str, Any], path: str, says: str
) -> None:
    headers = signed_in(admin_client, "staff")
    answer = validate(admin_client, headers, criteria)
    assert answer["ok"] is False
    assert list(answer["fields"]) == [path]
    assert says in " ".join(answer["fields"][path])


def test_goal_options_are_checked_with_the_criteria(admin_client: FlaskClient) -> None:
    headers = signed_in(admin_client, "staff")
    answer = validate(admin_client, headers, READER, max_awards=3, repeatable=False, icon="trophy")
    assert answer == {
        "ok": False,
        "fields": {
            "max_awards": [
                "Only repeatable goals take max_awards; set repeatable=True or drop max_awards."
            ]
        },
    }


def test_goal_prerequisites_must_exist_and_authors_may_name_only_their_own(
    admin_app: Flask, admin_client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal(
        "alices", criteria={"type": "count", "event": "a", "target": 1}, owner="alice"
    )
    gamify.define_goal("bobs", criteria={"type": "count", "event": "b", "target": 1}, owner="bob")
    headers = signed_in(admin_client, "staff")
    missing = validate(admin_client, headers, {"type": "goal", "goal": "nope"})
    assert "does not exist" in missing["fields"]["criteria.goal"][0]
    assert validate(admin_client, headers, {"type": "goal", "goal": "bobs"})["ok"] is True
    headers = signed_in(admin_client, "alice")
    assert validate(admin_client, headers, {"type": "goal", "goal": "alices"})["ok"] is True
    criteria = {
        "type": "all",
        "of": [{"type": "goal", "goal": "alices"}, {"type": "goal", "goal": "bobs"}],
    }
    answer = validate(admin_client, headers, criteria)
    assert list(answer["fields"]) == ["criteria.of[1].goal"]
    assert "not one of your goals" in answer["fields"]["criteria.of[1].goal"][0]


def test_a_body_that_is_not_json_is_a_400_naming_the_shape(admin_client: FlaskClient) -> None:
    headers = signed_in(admin_client, "staff")
    response = admin_client.post(VALIDATE, data="criteria", headers=headers)
    assert response.status_code == 400
    assert '{"criteria"' in response.get_json()["message"]


# -- the form field ----------------------------------------------------------------------


def test_criteria_that_are_not_json_are_a_form_error_not_a_500(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    login(admin_client, "staff")
    page = GOALS + "/new/"
    token = csrf_token(admin_client, page)
    response = admin_client.post(
        page,
        data={"csrf_token": token, "key": "broken", "name": "Broken", "criteria": '{"type": '},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The criteria are not valid JSON (line 1, column 10)" in html
    assert "{&#34;type&#34;: </textarea>" in html or '{"type": </textarea>' in html
    assert gamify.goals() == []


def test_invalid_criteria_are_form_errors_with_paths_and_reach_the_builder(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    login(admin_client, "staff")
    page = GOALS + "/new/"
    token = csrf_token(admin_client, page)
    response = admin_client.post(
        page,
        data={
            "csrf_token": token,
            "key": "zero",
            "name": "Zero",
            "criteria": '{"type": "count", "event": "login", "target": 0}',
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "criteria.target: Must be a positive integer." in html
    assert 'data-errors="{&#34;criteria.target&#34;: [&#34;Must be a positive integer' in html
    assert gamify.goals() == []


def test_saving_from_the_form_defines_a_draft_owned_by_its_author(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    login(admin_client, "alice")
    page = GOALS + "/new/"
    token = csrf_token(admin_client, page)
    response = admin_client.post(
        page,
        data={
            "csrf_token": token,
            "key": "reader",
            "name": "Reader",
            "criteria": str(READER).replace("'", '"'),
            "points": "5",
        },
    )
    assert response.status_code == 302
    goal = gamify.goal("reader")
    assert (goal.criteria, goal.owner, goal.status, goal.points) == (READER, "alice", "draft", 5)


# -- vocabulary and schema ---------------------------------------------------------------


def test_vocabulary_lists_event_types_attributes_and_values(
    admin_client: FlaskClient, readers: None
) -> None:
    login(admin_client, "staff")
    data = admin_client.get(VOCABULARY).get_json()
    assert [event["type"] for event in data["events"]] == ["article.read", "login"]
    read = data["events"][0]
    assert read["count"] == 8
    assert sorted(read["attributes"]["article_id"]) == ["A", "B", "C"]
    assert read["attributes"]["article_id"][0] in ("A", "B")  # the most frequent first
    assert read["attributes"]["minutes"] == [3]
    assert data["events"][1]["attributes"] == {}
    assert data["events_scanned"] == 9


def test_vocabulary_is_empty_without_events(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    assert admin_client.get(VOCABULARY).get_json() == {
        "events": [],
        "goals": [],
        "events_scanned": 0,
    }


def test_vocabulary_goal_keys_are_scoped_to_the_author(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal(
        "alices", criteria={"type": "count", "event": "a", "target": 1}, owner="alice"
    )
    gamify.define_goal("bobs", criteria={"type": "count", "event": "b", "target": 1}, owner="bob")
    login(admin_client, "alice")
    assert [g["key"] for g in admin_client.get(VOCABULARY).get_json()["goals"]] == ["alices"]
    login(admin_client, "staff")
    assert [g["key"] for g in admin_client.get(VOCABULARY).get_json()["goals"]] == [
        "alices",
        "bobs",
    ]


def test_schema_is_the_criteria_json_schema(admin_client: FlaskClient) -> None:
    login(admin_client, "alice")
    schema = admin_client.get(SCHEMA).get_json()
    assert schema["title"] == "Flask-Gamify criteria"
    assert "all_of" in schema["$defs"]["Criterion"]["properties"]["type"]["enum"]
    assert sorted(schema["$defs"]["Operators"]["properties"]) == sorted(
        ["eq", "ne", "lt", "lte", "gt", "gte", "in"]
    )


# -- preview -----------------------------------------------------------------------------


def test_preview_counts_who_would_qualify(admin_client: FlaskClient, readers: None) -> None:
    headers = signed_in(admin_client, "alice")
    response = admin_client.post(
        PREVIEW,
        json={"criteria": READER, "options": {"entity_type": "user"}, "sample": 2},
        headers=headers,
    )
    assert response.status_code == 200
    data = response.get_json()
    assert (data["entities"], data["completed"], data["events_scanned"]) == (3, 2, 8)
    assert data["histogram"]["100"] == 2 and data["histogram"]["60-69"] == 1
    assert len(data["sample"]) == 2
    assert {item["entity"] for item in data["sample"]} == {"ann", "bea"}


def test_preview_options_narrow_what_counts(admin_client: FlaskClient, readers: None) -> None:
    headers = signed_in(admin_client, "staff")
    data = admin_client.post(
        PREVIEW,
        json={"criteria": READER, "options": {"starts_at": "2999-01-01T00:00:00Z"}},
        headers=headers,
    ).get_json()
    assert (data["entities"], data["events_scanned"]) == (0, 0)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"criteria": {"type": "count", "event": "login", "target": 0}}, "criteria.target"),
        ({"criteria": "reader"}, "criteria"),
        ({"criteria": READER, "options": {"repeatable": False, "max_awards": 2}}, "max_awards"),
        ({"criteria": READER, "options": {"points": 3}}, "points"),
        ({"criteria": READER, "sample": 500}, "sample"),
    ],
)
def test_preview_of_bad_input_is_a_422_with_fields(
    admin_client: FlaskClient, body: dict[str, Any], path: str
) -> None:
    headers = signed_in(admin_client, "staff")
    response = admin_client.post(PREVIEW, json=body, headers=headers)
    assert response.status_code == 422
    assert path in response.get_json()["fields"]


def test_authors_may_not_preview_with_other_owners_goals(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal("bobs", criteria={"type": "count", "event": "b", "target": 1}, owner="bob")
    headers = signed_in(admin_client, "alice")
    response = admin_client.post(
        PREVIEW, json={"criteria": {"type": "goal", "goal": "bobs"}}, headers=headers
    )
    assert response.status_code == 403
    assert list(response.get_json()["fields"]) == ["criteria.goal"]
    headers = signed_in(admin_client, "staff")
    response = admin_client.post(
        PREVIEW, json={"criteria": {"type": "goal", "goal": "bobs"}}, headers=headers
    )
    assert response.status_code == 200


# -- access and CSRF ---------------------------------------------------------------------


@pytest.mark.parametrize("user", [None, "visitor"])
@pytest.mark.parametrize(
    ("method", "url"), [("post", VALIDATE), ("get", VOCABULARY), ("get", SCHEMA), ("post", PREVIEW)]
)
def test_people_the_host_does_not_let_in_get_403(
    admin_client: FlaskClient, user: str | None, method: str, url: str
) -> None:
    login(admin_client, user)
    response = getattr(admin_client, method)(url, json={"criteria": READER})
    assert response.status_code == 403


@pytest.mark.parametrize("url", [VALIDATE, PREVIEW])
def test_posts_without_the_csrf_token_are_refused(admin_client: FlaskClient, url: str) -> None:
    login(admin_client, "staff")
    response = admin_client.post(url, json={"criteria": READER})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"
    response = admin_client.post(url, json={"criteria": READER}, headers={"X-CSRFToken": "bad"})
    assert response.status_code == 400


def test_the_edit_form_shows_the_saved_criteria_and_saves_changes(
    admin_app: Flask, admin_client: FlaskClient, gamify: Gamify
) -> None:
    from flask_gamify.models import Goal

    gamify.define_goal("reader", criteria=READER, owner="alice", status="draft")
    with admin_app.extensions["gamify"].transaction() as session:
        goal_id = session.query(Goal.id).filter(Goal.key == "reader").scalar()
    login(admin_client, "alice")
    page = f"{GOALS}/edit/?id={goal_id}"
    html = admin_client.get(page).get_data(as_text=True)
    assert 'data-role="gamify-criteria"' in html
    assert "&#34;article.read&#34;" in html
    assert 'data-role="gamify-preview"' in html
    token = csrf_token(admin_client, page)
    changed = {**READER, "values": ["A", "B"]}
    response = admin_client.post(
        page,
        data={
            "csrf_token": token,
            "key": "reader",
            "name": "Reader",
            "criteria": str(changed).replace("'", '"'),
        },
    )
    assert response.status_code == 302
    assert gamify.goal("reader").criteria == changed
    assert gamify.goal("reader").status == "draft"
