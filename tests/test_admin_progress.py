"""The Progress page of the dashboard: looking an entity up, scoped to the viewer's goals."""

from __future__ import annotations

import html
import re

import pytest
from admin_support import ADMIN, login
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

PAGE = ADMIN + "/gamify_progress/"

ONBOARDING = {
    "type": "all",
    "of": [
        {"type": "count", "event": "login", "target": 1},
        {
            "type": "all_of",
            "event": "article.read",
            "field": "article_id",
            "values": ["A", "B", "C"],
        },
    ],
}
TALKER = {
    "type": "any",
    "of": [
        {"type": "count", "event": "comment.posted", "target": 5, "window": "24h"},
        {"type": "streak", "event": "login", "target": 3},
    ],
}


@pytest.fixture
def goals(admin_app: Flask, gamify: Gamify) -> Gamify:
    """Alice owns onboarding (all), secret (hidden) and a to-do goal; Bob owns talker (any)."""
    gamify.define_goal("onboarding", name="Onboarding", criteria=ONBOARDING, owner="alice")
    gamify.define_goal("talker", name="Talker", criteria=TALKER, owner="bob", points=20)
    gamify.define_goal(
        "secret",
        name="Secret",
        criteria={"type": "count", "event": "login", "target": 2},
        owner="alice",
        hidden=True,
    )
    gamify.define_goal(
        "todo",
        name="Read the guide",
        criteria={"type": "count", "event": "guide.read", "target": 1},
        owner="alice",
        assigned_only=True,
        points=5,
    )
    return gamify


def page(client: FlaskClient, query: str = "", status: int = 200) -> str:
    response = client.get(PAGE + query)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def goal_card(text: str, key: str) -> str:
    """The HTML of one goal's card."""
    goals = text.split('id="awards"', 1)[0]
    for card in goals.split('<div class="card gamify-goal')[1:]:
        if f'data-goal="{key}"' in card.split(">", 1)[0]:
            return card
    raise AssertionError(f"no card for the goal {key!r}")


@pytest.mark.parametrize("user", [None, "visitor"])
def test_people_not_let_in_get_403(admin_client: FlaskClient, user: str | None) -> None:
    login(admin_client, user)
    assert admin_client.get(PAGE).status_code == 403
    assert admin_client.get(PAGE + "?entity=ada").status_code == 403


def test_the_lookup_page_offers_entity_types_and_recent_entities(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.define_goal(
        "team-goal", criteria={"type": "count", "event": "win", "target": 1}, entity_type="team"
    )
    goals.track("login", "ada")
    goals.track("win", "red", entity_type="team")
    login(admin_client, "staff")
    text = page(admin_client)
    assert 'name="entity"' in text and 'name="entity_type" value="user"' in text
    assert '<option value="user"><option value="team">' in text
    assert "entity=ada&entity_type=user" in text
    assert "entity=red&entity_type=team" in text


def test_the_lookup_page_without_events_says_what_to_do(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    assert "No events yet" in page(admin_client)


def test_staff_see_every_goal_with_its_tree_and_what_is_missing(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.track("login", "ada")
    goals.track("article.read", "ada", attributes={"article_id": "A"})
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    onboarding = goal_card(text, "onboarding")
    assert 'data-state="in progress"' in onboarding
    assert 'gamify-current">1</span> / 2' in onboarding  # one of two parts
    assert "1 of the 2 parts is still to do; every part is needed." in onboarding
    assert "Not seen yet: 'B', 'C'." in onboarding
    assert "login once" in onboarding
    talker = goal_card(text, "talker")
    assert "None of the 2 parts is done yet; any one of them is enough." in talker
    assert "2 more in a row needed." in talker
    assert "5 more needed." in talker
    # Hidden goals are listed for staff; to-do goals only when assigned.
    assert 'data-goal="secret"' in text and ">hidden<" in text
    assert 'data-goal="todo"' not in text
    assert "3 goals: 0 completed, 3 in progress, 0 not started" in text


def test_a_completed_goal_shows_its_award_and_nothing_missing(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.track("login", "ada")
    for article in "ABC":
        goals.track("article.read", "ada", attributes={"article_id": article})
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    onboarding = goal_card(text, "onboarding")
    assert 'data-state="completed"' in onboarding
    assert "Missing" not in onboarding and "Not seen yet" not in onboarding
    awards = text.split('id="awards"', 1)[1].split('id="assignments"', 1)[0]
    assert "Onboarding" in awards and "#1" in awards
    assert f"{ADMIN}/gamify_awards/?entity=ada&entity_type=user" in awards


def test_events_newest_first_with_long_attributes_cut(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.track("login", "ada", occurred_at="2026-01-01T10:00:00Z")
    goals.track(
        "article.read",
        "ada",
        attributes={"article_id": "A", "body": "x" * 400},
        occurred_at="2026-01-02T10:00:00Z",
    )
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    events = text.split('id="events"', 1)[1]
    assert events.index("article.read") < events.index(">login<")
    assert "2026-01-02 10:00" in events
    assert "…" in events and "<details>" in events  # the full JSON is one click away
    assert "x" * 400 in events


def test_assignments_and_notifications_of_both_sides(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.assign("todo", assignee="ada", assigned_by="alice")
    goals.track("guide.read", "ada")
    login(admin_client, "staff")
    ada = page(admin_client, "?entity=ada")
    given_to = ada.split("Given to ada", 1)[1].split("Given by ada", 1)[0]
    assert "todo" in given_to and "completed" in given_to and "entity=alice" in given_to
    alice = page(admin_client, "?entity=alice")
    given_by = alice.split("Given by alice", 1)[1].split('id="notifications"', 1)[0]
    assert "entity=ada" in given_by and "completed" in given_by
    notifications = alice.split('id="notifications"', 1)[1].split('id="events"', 1)[0]
    assert "assignment-completed" in notifications and ">unread<" in notifications
    goals.mark_notifications_read("alice")
    notifications = page(admin_client, "?entity=alice").split('id="notifications"', 1)[1]
    assert ">unread<" not in notifications.split('id="events"', 1)[0]
    assert "read <time" in notifications


def test_authors_see_only_what_concerns_their_goals(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.track("login", "ada")
    goals.track("comment.posted", "ada", attributes={"post": 1})
    login(admin_client, "alice")
    text = page(admin_client, "?entity=ada")
    assert 'data-goal="onboarding"' in text and 'data-goal="secret"' in text
    assert 'data-goal="talker"' not in text
    events = text.split('id="events"', 1)[1]
    assert ">login<" in events and "comment.posted" not in events
    login(admin_client, "bob")
    text = page(admin_client, "?entity=ada")
    assert 'data-goal="talker"' in text and 'data-goal="onboarding"' not in text
    assert "comment.posted" in text.split('id="events"', 1)[1]
    # Recently active entities: only those with events the author's goals count.
    goals.track("comment.posted", "carl")
    login(admin_client, "alice")
    assert "entity=carl" not in page(admin_client)


def test_an_entity_known_only_to_others_goals_is_unknown_to_an_author(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.track("comment.posted", "ada")  # counted by Bob's goal only
    login(admin_client, "alice")
    text = page(admin_client, "?entity=ada")
    assert "No events or progress for user “ada” on your goals." in text


def test_an_unknown_entity_gets_a_friendly_answer(admin_client: FlaskClient, goals: Gamify) -> None:
    login(admin_client, "staff")
    text = page(admin_client, "?entity=nobody&entity_type=user")
    assert "No events or progress for user “nobody”." in text
    assert 'id="goals"' not in text


def test_other_entity_types(admin_client: FlaskClient, goals: Gamify) -> None:
    goals.define_goal(
        "team-win", criteria={"type": "count", "event": "win", "target": 2}, entity_type="team"
    )
    goals.track("win", "red", entity_type="team")
    login(admin_client, "staff")
    text = page(admin_client, "?entity=red&entity_type=team")
    assert 'data-goal="team-win"' in text and 'data-goal="onboarding"' not in text
    assert "1 more needed." in text
    assert "No events or progress" in page(admin_client, "?entity=red")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?entity=" + "x" * 256, "The entity id is 256 characters long; gamify stores at most 255"),
        ("?entity=+++", "Enter the entity id."),
        ("?entity=", "Enter the entity id."),
        ("?entity=ada&entity_type=" + "t" * 65, "The entity type is 65 characters long"),
        ("?entity=a%00b", "NUL characters"),
    ],
)
def test_bad_input_is_explained_at_the_field(
    admin_client: FlaskClient, goals: Gamify, query: str, message: str
) -> None:
    login(admin_client, "staff")
    text = page(admin_client, query, status=400)
    assert message in text
    assert "is-invalid" in text


@pytest.mark.parametrize(
    ("kind", "current", "target", "missing", "label", "words"),
    [
        ("count", 2, 5, (), "", "3 more needed."),
        ("sum", 2.5, 10.0, (), "", "7.5 more needed."),
        ("distinct", 1, 3, (), "", "2 more different values needed."),
        ("streak", 1, 7, (), "", "6 more in a row needed."),
        ("all_of", 1, 3, ("B", 7), "", "Not seen yet: 'B', 7."),
        ("all_of", 0, 12, tuple(range(12)), "", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more."),
        ("sequence", 1, 3, ("cart", "paid"), "", "Steps not reached yet: cart → paid."),
        ("goal", 0, 1, (), "goal reader", "Needs the goal 'reader' completed first."),
    ],
)
def test_what_is_missing_in_words(
    kind: str,
    current: float,
    target: float,
    missing: tuple[object, ...],
    label: str,
    words: str,
) -> None:
    from flask_gamify.admin.progress_tree import missing_in_words

    assert missing_in_words(kind, current, target, False, missing, (), label).endswith(words)
    assert missing_in_words(kind, current, target, True, missing, (), label) == ""


def test_a_sequence_and_a_prerequisite_in_the_tree(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.define_goal(
        "buyer",
        name="Buyer",
        criteria={
            "type": "all",
            "of": [
                {"type": "goal", "goal": "onboarding"},
                {"type": "sequence", "steps": [{"event": "view"}, {"event": "cart"}]},
            ],
        },
    )
    goals.track("view", "ada")
    login(admin_client, "staff")
    buyer = goal_card(page(admin_client, "?entity=ada"), "buyer")
    assert "Needs the goal 'onboarding' completed first." in buyer
    assert "Steps not reached yet: cart." in buyer
