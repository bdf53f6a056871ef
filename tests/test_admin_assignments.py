"""The Assignments page: the list with its filters, and the Assign form's per-line report."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from admin_support import ADMIN, csrf_token, login
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

LIST = ADMIN + "/gamify_assignments/"
FORM = LIST + "assign/"
GUIDE = {"type": "count", "event": "guide.read", "target": 1}


@pytest.fixture
def todos(admin_app: Flask, gamify: Gamify) -> Gamify:
    """Alice owns the to-do goal "guide", Bob "bobs-todo"; "open" is for everyone."""
    gamify.define_goal(
        "guide", name="Read the guide", criteria=GUIDE, owner="alice", assigned_only=True
    )
    gamify.define_goal(
        "bobs-todo", name="Bob's list", criteria=GUIDE, owner="bob", assigned_only=True
    )
    gamify.define_goal("open", name="Open goal", criteria=GUIDE, owner="alice")
    return gamify


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def get(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, text_of(response)[:3000]
    return text_of(response)


def post_form(client: FlaskClient, status: int = 200, **fields: str) -> str:
    data = {"csrf_token": csrf_token(client, FORM), **fields}
    response = client.post(FORM, data=data)
    assert response.status_code == status, text_of(response)[:3000]
    return text_of(response)


def outcomes(text: str) -> list[tuple[str, str]]:
    """``(assignee, outcome)`` of every line of the report."""
    return re.findall(r'<tr data-assignee="([^"]*)" data-outcome="([^"]*)">', text)


def listed(text: str) -> list[tuple[str, str, str]]:
    """``(goal, assignee, status)`` of every row of the list."""
    return [
        (goal, assignee, status)
        for assignee, goal, status in re.findall(
            r'data-assignee="([^"]*)" data-goal="([^"]*)" data-status="([^"]*)"', text
        )
    ]


# -- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [None, "visitor"])
def test_people_not_let_in_get_403(admin_app: Flask, user: str | None) -> None:
    client = admin_app.test_client()
    login(client, "staff")
    token = csrf_token(client, FORM)
    login(client, user)
    assert client.get(LIST).status_code == 403
    assert client.get(FORM).status_code == 403
    response = client.post(FORM, data={"csrf_token": token, "goal": "guide", "assignees": "x"})
    assert response.status_code == 403


def test_assigning_without_the_csrf_token_is_refused(
    admin_client: FlaskClient, todos: Gamify
) -> None:
    login(admin_client, "staff")
    response = admin_client.post(FORM, data={"goal": "guide", "assignees": "ada"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    response = admin_client.post(
        FORM, data={"goal": "guide", "assignees": "ada", "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert todos.assignments(assignee="ada") == []


# -- empty states ------------------------------------------------------------------------


def test_without_to_do_goals_the_pages_say_how_to_get_one(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    assert "No to-do goals yet" in get(admin_client, LIST)
    form = get(admin_client, FORM)
    assert "There is no active to-do goal to assign" in form
    assert "disabled>Assign</button>" in form


def test_with_to_do_goals_but_nothing_assigned(admin_client: FlaskClient, todos: Gamify) -> None:
    login(admin_client, "staff")
    assert "Nothing assigned yet." in get(admin_client, LIST)
    login(admin_client, "alice")
    form = get(admin_client, FORM)
    assert '<option value="guide"' in form
    assert '<option value="bobs-todo"' not in form and '<option value="open"' not in form


# -- the form ----------------------------------------------------------------------------


def test_assign_reports_every_line(admin_client: FlaskClient, todos: Gamify) -> None:
    login(admin_client, "staff")
    text = post_form(
        admin_client, goal="guide", assignees="ada\nbob, ada\n\n" + "z" * 300, assigned_by="staff"
    )
    assert outcomes(text) == [
        ("ada", "assigned"),
        ("bob", "assigned"),
        ("ada", "listed twice"),
        ("z" * 300, "refused"),
    ]
    assert "2 assigned" in text and "1 refused" in text
    assert "gamify stores at most 255" in text
    assert [a.entity for a in todos.assignments(assigned_by="staff")] == ["ada", "bob"]

    todos.track("guide.read", "ada")
    text = post_form(
        admin_client,
        goal="guide",
        assignees="ada\nbob\ncarl",
        due_at="2099-01-01T12:00",
        assigned_by="other",
    )
    assert outcomes(text) == [
        ("ada", "already completed"),
        ("bob", "already assigned"),
        ("carl", "assigned"),
    ]
    assert "Assigned by staff on" in text and "completed on" in text
    assert "that assignment stands, due date unchanged." in text
    [bob] = todos.assignments(assignee="bob")
    assert (bob.assigned_by, bob.due_at) == ("staff", None)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"goal": ""}, "goal", "Choose the to-do goal to assign."),
        ({"goal": "nope"}, "goal", "No goal with key 'nope' that you may assign exists"),
        ({"goal": "open"}, "goal", "is open to every entity, so it cannot be assigned"),
        ({"assignees": " \n , "}, "assignees", "Paste at least one assignee id"),
        ({"assignees": "\n".join(map(str, range(501)))}, "assignees", "assign at most 500"),
        ({"due_at": "next friday"}, "due_at", "Enter the due date as a date and time"),
        ({"due_at": "2001-01-01T10:00"}, "due_at", "has already passed"),
        ({"assigned_by": "b" * 256}, "assigned_by", "The assigner's id is 256 characters"),
    ],
)
def test_bad_input_is_refused_at_its_field(
    admin_client: FlaskClient, todos: Gamify, fields: dict[str, str], field: str, message: str
) -> None:
    login(admin_client, "staff")
    data = {"goal": "guide", "assignees": "ada", **fields}
    text = post_form(admin_client, status=400, **data)
    assert f'<div class="invalid-feedback d-block" id="{field}-error">' in text
    assert message in text.split(f'id="{field}-error">', 1)[1].split("</div>", 1)[0]
    assert "Nothing was assigned" in text
    assert todos.assignments(assignee="ada") == []


def test_draft_and_archived_goals_are_refused(admin_client: FlaskClient, todos: Gamify) -> None:
    todos.define_goal("later", criteria=GUIDE, assigned_only=True, status="draft")
    todos.define_goal("gone", criteria=GUIDE, assigned_only=True)
    todos.archive_goal("gone")
    login(admin_client, "staff")
    form = get(admin_client, FORM)
    assert '<option value="later"' not in form and '<option value="gone"' not in form
    text = post_form(admin_client, status=400, goal="later", assignees="ada")
    assert "is a draft: assignees could not progress on it. Make it active" in text
    text = post_form(admin_client, status=400, goal="gone", assignees="ada")
    assert "is archived; restore it on the Goals page" in text
    assert todos.assignments(assignee="ada") == []


def test_authors_assign_their_own_goals_as_themselves(
    admin_client: FlaskClient, todos: Gamify
) -> None:
    login(admin_client, "alice")
    form = get(admin_client, FORM)
    assert 'name="assigned_by"' not in form and "alice (you)" in form
    text = post_form(admin_client, goal="guide", assignees="ada", assigned_by="staff")
    assert outcomes(text) == [("ada", "assigned")]
    [assignment] = todos.assignments(assignee="ada")
    assert assignment.assigned_by == "alice"
    text = post_form(admin_client, status=400, goal="bobs-todo", assignees="ada")
    assert "No goal with key 'bobs-todo' that you may assign exists" in text
    assert [a.goal for a in todos.assignments(assignee="ada")] == ["guide"]


def test_superusers_may_assign_as_nobody(admin_client: FlaskClient, todos: Gamify) -> None:
    login(admin_client, "staff")
    assert 'name="assigned_by" value="staff"' in get(admin_client, FORM)
    post_form(admin_client, goal="guide", assignees="ada", assigned_by="")
    [assignment] = todos.assignments(assignee="ada")
    assert assignment.assigned_by is None


def test_due_dates_are_read_in_gamify_timezone(
    admin_app: Flask, admin_client: FlaskClient, todos: Gamify
) -> None:
    admin_app.extensions["gamify"].timezone = ZoneInfo("Europe/Paris")
    login(admin_client, "staff")
    form = get(admin_client, FORM)
    assert "(optional, Europe/Paris)" in form
    post_form(admin_client, goal="guide", assignees="ada", due_at="2099-06-01T12:00")
    post_form(admin_client, goal="guide", assignees="bob", due_at="2099-06-01")
    [ada] = todos.assignments(assignee="ada")
    [bob] = todos.assignments(assignee="bob")
    assert ada.due_at == datetime(2099, 6, 1, 10, 0, tzinfo=UTC)
    assert bob.due_at == datetime(2099, 6, 1, 21, 59, tzinfo=UTC)
    assert "2099-06-01 12:00" in get(admin_client, LIST)


def test_the_form_can_be_prefilled(admin_client: FlaskClient, todos: Gamify) -> None:
    login(admin_client, "staff")
    text = get(admin_client, FORM + "?goal=guide&assignees=ada")
    assert '<option value="guide" selected>' in text
    assert ">ada</textarea>" in text


# -- the list ----------------------------------------------------------------------------


def test_the_list_shows_open_overdue_and_completed(
    admin_client: FlaskClient, todos: Gamify
) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    todos.assign("guide", assignee="ada", assigned_by="alice")
    todos.assign("guide", assignee="bob", assigned_by="alice", due_at=past)
    todos.assign("bobs-todo", assignee="carl", assigned_by="bob")
    todos.track("guide.read", "ada")
    login(admin_client, "staff")
    text = get(admin_client, LIST)
    assert sorted(listed(text)) == [
        ("bobs-todo", "carl", "open"),
        ("guide", "ada", "completed"),
        ("guide", "bob", "overdue"),
    ]
    assert 'class="table-danger gamify-overdue"' in text and ">overdue</span>" in text
    assert "entity=alice&entity_type=user" in text  # who assigned, linked to Progress
    assert listed(get(admin_client, LIST + "?status=completed")) == [("guide", "ada", "completed")]
    assert sorted(listed(get(admin_client, LIST + "?status=open"))) == [
        ("bobs-todo", "carl", "open"),
        ("guide", "bob", "overdue"),
    ]
    assert listed(get(admin_client, LIST + "?status=overdue")) == [("guide", "bob", "overdue")]
    assert listed(get(admin_client, LIST + "?goal=bobs-todo")) == [("bobs-todo", "carl", "open")]
    assert listed(get(admin_client, LIST + "?assignee=ada")) == [("guide", "ada", "completed")]
    assert len(listed(get(admin_client, LIST + "?assigned_by=alice"))) == 2
    empty = get(admin_client, LIST + "?assignee=nobody")
    assert "No assignment matches these filters." in empty
    counts = re.findall(r'data-count="(\w+)">(\d+)<', text)
    assert dict(counts) == {"all": "3", "open": "2", "overdue": "1", "completed": "1"}


def test_authors_see_assignments_of_their_own_goals_only(
    admin_client: FlaskClient, todos: Gamify
) -> None:
    todos.assign("guide", assignee="ada", assigned_by="staff")
    todos.assign("bobs-todo", assignee="carl", assigned_by="bob")
    login(admin_client, "alice")
    text = get(admin_client, LIST)
    assert listed(text) == [("guide", "ada", "open")]
    assert '<option value="bobs-todo"' not in text
    assert listed(get(admin_client, LIST + "?goal=bobs-todo")) == []


def test_the_list_is_paginated(admin_client: FlaskClient, todos: Gamify) -> None:
    for number in range(30):
        todos.assign("guide", assignee=f"user-{number:02d}")
    login(admin_client, "staff")
    first = get(admin_client, LIST)
    assert len(listed(first)) == 25 and "page 1 of 2" in first
    second = get(admin_client, LIST + "?page=2")
    assert len(listed(second)) == 5
    assert {row[1] for row in listed(first)}.isdisjoint(row[1] for row in listed(second))
    assert len(listed(get(admin_client, LIST + "?page=9"))) == 5  # past the end: the last


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=lost", "Unknown status 'lost'; choose one of all, open, overdue, completed."),
        ("?page=0", "The page must be a whole number from 1 (got '0')."),
        ("?page=two", "The page must be a whole number from 1 (got 'two')."),
        ("?assignee=" + "a" * 256, "The assignee's id is 256 characters long"),
    ],
)
def test_bad_filters_are_explained(
    admin_client: FlaskClient, todos: Gamify, query: str, message: str
) -> None:
    login(admin_client, "staff")
    assert message in get(admin_client, LIST + query, status=400)
