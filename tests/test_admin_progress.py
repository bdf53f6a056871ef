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
    assert "1 × login" in onboarding
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
        ("goal", 0, 1, ("reader",), "Be a reader", "Needs the goal 'reader' completed first."),
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


def test_labels_and_a_checklist_of_values_in_the_tree(
    admin_client: FlaskClient, goals: Gamify
) -> None:
    goals.define_goal(
        "basics",
        name="Basics",
        criteria={
            "type": "all",
            "label": "Learn the basics",
            "of": [
                {
                    "type": "all_of",
                    "label": "Read the guides",
                    "event": "guide.read",
                    "field": "guide",
                    "values": ["intro", "privacy", "sharing"],
                    "labels": {"intro": "Welcome", "privacy": "Your data"},
                },
                {"type": "goal", "goal": "onboarding", "label": "Finish onboarding"},
            ],
        },
    )
    goals.track("guide.read", "ada", attributes={"guide": "intro"})
    login(admin_client, "staff")
    basics = goal_card(page(admin_client, "?entity=ada"), "basics")
    assert "Learn the basics" in basics and "Read the guides" in basics
    assert "Not seen yet: Your data, 'sharing'." in basics  # by label, else the value
    assert "Needs the goal 'onboarding' completed first." in basics  # its key, not its label
    checklist = re.findall(
        r'<li class="gamify-item( gamify-item-done)?">.*?gamify-item-label">([^<]*)<',
        basics,
        re.S,
    )
    assert checklist == [(" gamify-item-done", "Welcome"), ("", "Your data"), ("", "sharing")]
    assert 'data-state="in progress"' in basics
    # 0 of 2 parts complete, so 0 %, yet its parts progressed: in progress, not "not started"
    assert 'gamify-percent">0%' in basics


# -- points, adjustments and revocations ------------------------------------------------

ADJUST = PAGE + "adjust/"
REVOKE = PAGE + "revoke/"


def form_key(text: str) -> str:
    """The idempotency key the adjust form of a page carries."""
    found = re.search(r'name="idempotency_key" value="([^"]+)"', text)
    assert found is not None, "no adjust form on the page"
    return found.group(1)


def field_error(text: str, field: str) -> str:
    found = re.findall(rf'data-field="{field}">([^<]*)<', text)
    return " ".join(found)


def adjust(client: FlaskClient, status: int = 302, token: str | None = None, **fields: str) -> str:
    if token is None:
        from admin_support import csrf_token

        token = csrf_token(client, PAGE)
    data = {"csrf_token": token, "entity": "ada", "entity_type": "user", **fields}
    response = client.post(ADJUST, data=data)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    if status == 302:
        assert response.headers["Location"].endswith("?entity=ada&entity_type=user#points")
        return page(client, "?entity=ada")  # the flash message is on the next page
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


@pytest.fixture
def earned(goals: Gamify) -> Gamify:
    """Ada earned Bob's talker (20 points) and holds Alice's to-do goal (5 points)."""
    for _ in range(3):
        goals.track("login", "ada", occurred_at=None)
    goals.assign("todo", assignee="ada", assigned_by="alice")
    goals.track("guide.read", "ada")
    for day in (1, 2, 3):
        goals.track("login", "ada", occurred_at=f"2026-01-0{day}T10:00:00Z")
    assert {award.goal for award in goals.awards("ada")} == {"talker", "todo", "secret"}
    return goals


def test_staff_see_balance_level_and_ledger(admin_client: FlaskClient, earned: Gamify) -> None:
    earned.define_levels([{"name": "Rookie", "points": 0}, {"name": "Regular", "points": 40}])
    earned.adjust_points("ada", 3, reason="kind words", category="karma", changed_by="staff")
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    assert '<a href="#points"><strong class="gamify-balance-summary">25 points</strong></a>' in text
    assert "(level 1, Rookie)" in text
    points = text.split('id="points"', 1)[1].split('id="assignments"', 1)[0]
    assert 'id="gamify-balance">25<' in points
    assert 'data-category="karma"> <span class="gamify-balance-number">3<' in points
    assert "Level 1 · <strong>Rookie</strong>" in points
    assert "15 more for Regular (at 40)" in points
    ledger = points.split("gamify-ledger", 1)[1]
    assert ledger.count('data-kind="award"') == 2 and ledger.count('data-kind="adjustment"') == 1
    assert "+20" in ledger and "<code>talker</code> #1" in ledger and "kind words" in ledger
    assert "Rank on the leaderboard" in points
    assert f"{ADMIN}/gamify_leaderboards/?entity_type=user&find=ada" in points


def test_without_levels_no_level_is_shown(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    assert 'id="gamify-level"' not in text and "(level" not in text
    assert 'id="gamify-balance">25<' in text


def test_authors_see_no_points_and_cannot_adjust(admin_client: FlaskClient, earned: Gamify) -> None:
    from admin_support import csrf_token

    login(admin_client, "alice")
    text = page(admin_client, "?entity=ada")
    assert 'id="points"' not in text and "Adjust points" not in text
    assert "2 awards worth 5 points" in text  # secret (0 points) and todo are Alice's
    token = csrf_token(admin_client, PAGE)
    response = admin_client.post(
        ADJUST, data={"csrf_token": token, "entity": "ada", "amount": "5", "reason": "x"}
    )
    assert response.status_code == 403
    assert earned.points("ada") == 25


def test_staff_adjust_points_with_a_reason(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    text = adjust(admin_client, amount="+50", reason="Won the spring contest", idempotency_key="k1")
    assert "Recorded +50 points for user ada (ledger entry" in text
    assert earned.points("ada") == 75
    [entry] = earned.points_ledger("ada", limit=1)
    assert (entry.amount, entry.reason, entry.changed_by, entry.kind) == (
        50,
        "Won the spring contest",
        "staff",
        "adjustment",
    )
    assert 'id="gamify-balance">75<' in text
    # A fresh key for the next adjustment.
    assert form_key(text) != "k1"
    text = adjust(admin_client, amount="-5", reason="Typo", category="karma", idempotency_key="k2")
    assert "Recorded -5 karma" in text
    assert earned.points("ada", category="karma") == -5


def test_a_double_submit_counts_once(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    key = form_key(page(admin_client, "?entity=ada"))
    adjust(admin_client, amount="10", reason="Bonus", idempotency_key=key)
    text = adjust(admin_client, amount="10", reason="Bonus", idempotency_key=key)
    assert "This adjustment was already recorded" in text and "not applied twice" in text
    assert earned.points("ada") == 35
    assert [e.amount for e in earned.points_ledger("ada") if e.kind == "adjustment"] == [10]


def test_the_same_form_sent_with_another_amount_is_refused(
    admin_client: FlaskClient, earned: Gamify
) -> None:
    login(admin_client, "staff")
    adjust(admin_client, amount="10", reason="Bonus", idempotency_key="same")
    text = adjust(admin_client, 409, amount="100", reason="Bonus", idempotency_key="same")
    assert "already sent with another amount" in field_error(text, "amount")
    assert form_key(text) != "same"  # the renewed form may be sent
    assert 'value="100"' in text  # what was typed stays
    assert earned.points("ada") == 35


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "0", "reason": "x"}, "amount", "Must not be 0"),
        ({"amount": "", "reason": "x"}, "amount", "Enter the number of points"),
        ({"amount": "ten", "reason": "x"}, "amount", "Enter a whole number of points"),
        ({"amount": "1.5", "reason": "x"}, "amount", "Enter a whole number of points"),
        ({"amount": "1_000", "reason": "x"}, "amount", "Enter a whole number of points"),
        ({"amount": "%D9%A3", "reason": "x"}, "amount", "Enter a whole number"),
        ({"amount": "9" * 12, "reason": "x"}, "amount", "Must be from -2147483647 to"),
        ({"amount": "9" * 40, "reason": "x"}, "amount", "Enter a whole number of points"),
        ({"amount": "5", "reason": "   "}, "reason", "Say why the points change"),
        ({"amount": "5", "reason": "x" * 2001}, "reason", "at most 2000 characters"),
        ({"amount": "5", "reason": "x", "category": "c" * 65}, "category", "at most 64"),
    ],
)
def test_bad_adjustments_are_explained_at_the_field(
    admin_client: FlaskClient, earned: Gamify, fields: dict[str, str], field: str, message: str
) -> None:
    login(admin_client, "staff")
    if fields["amount"] == "%D9%A3":
        fields = {**fields, "amount": "\u0663"}
    text = adjust(admin_client, 400, idempotency_key="bad", **fields)
    assert message in field_error(text, field)
    assert "is-invalid" in text
    assert form_key(text) == "bad"  # nothing was written: the same form may be sent again
    assert earned.points("ada") == 25
    assert not [e for e in earned.points_ledger("ada") if e.kind == "adjustment"]


def test_a_tampered_idempotency_key_is_refused_and_renewed(
    admin_client: FlaskClient, earned: Gamify
) -> None:
    login(admin_client, "staff")
    text = adjust(admin_client, 400, amount="5", reason="x", idempotency_key="k" * 201)
    assert "at most 200 characters" in field_error(text, "idempotency_key")
    assert len(form_key(text)) == 32
    assert earned.points("ada") == 25


def test_adjusting_needs_the_csrf_token(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    text = adjust(admin_client, 400, token="forged", amount="5", reason="x", idempotency_key="k")
    assert "security token is missing or has expired" in text
    assert earned.points("ada") == 25


def test_an_unknown_entity_can_be_given_points(admin_client: FlaskClient, goals: Gamify) -> None:
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    assert "No events or progress for user “ada”." in text
    assert "Adjust points" in text and "No points yet" in text
    text = adjust(admin_client, amount="7", reason="Welcome gift", idempotency_key="w")
    assert "No events or progress" not in text
    assert 'id="gamify-balance">7<' in text and "Welcome gift" in text


def test_the_ledger_is_paged_newest_first(admin_client: FlaskClient, goals: Gamify) -> None:
    for number in range(1, 26):
        goals.adjust_points("ada", number, reason=f"entry {number}")
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    reasons = re.findall(r'gamify-reason">entry (\d+)<', text)
    assert reasons == [str(n) for n in range(25, 5, -1)]
    older = re.search(r'rel="next" href="([^"]+)"', text)
    assert older is not None and "ledger_before=" in older.group(1)
    query = older.group(1).split("?", 1)[1].split("#", 1)[0]
    text = page(admin_client, "?" + query)
    assert re.findall(r'gamify-reason">entry (\d+)<', text) == ["5", "4", "3", "2", "1"]
    assert "older page" in text
    assert re.search(r'class="page-item disabled"><a class="page-link" rel="next"', text)
    # A cursor that is not one is the first page.
    assert "entry 25" in page(admin_client, "?entity=ada&ledger_before=abc")


def revoke(client: FlaskClient, status: int = 302, token: str | None = None, **fields: str) -> str:
    if token is None:
        from admin_support import csrf_token

        token = csrf_token(client, PAGE)
    data = {"csrf_token": token, "entity": "ada", "entity_type": "user", **fields}
    response = client.post(REVOKE, data=data)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    if status == 302:
        assert response.headers["Location"].endswith("?entity=ada&entity_type=user#awards")
        return page(client, "?entity=ada")
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def test_staff_revoke_an_award_with_a_reason(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    text = page(admin_client, "?entity=ada")
    awards = text.split('id="awards"', 1)[1].split('id="points"', 1)[0]
    assert 'class="btn btn-outline-danger btn-sm gamify-revoke"' in awards
    assert 'data-goal="talker" data-goal-name="Talker"' in awards
    text = revoke(admin_client, goal="talker", occurrence="1", reason="Streak by script")
    assert "Revoked “Talker” (occurrence 1) from user ada; 20 points taken back." in text
    assert earned.points("ada") == 5
    assert "talker" not in {award.goal for award in earned.awards("ada")}
    [entry] = earned.points_ledger("ada", limit=1)
    assert (entry.kind, entry.amount, entry.reason, entry.changed_by) == (
        "revocation",
        -20,
        "Streak by script",
        "staff",
    )
    assert 'data-kind="revocation"' in text and "Streak by script" in text


def test_a_revocation_without_a_reason_opens_the_dialog_again(
    admin_client: FlaskClient, earned: Gamify
) -> None:
    login(admin_client, "staff")
    text = revoke(admin_client, 400, goal="talker", occurrence="1", reason=" ")
    assert 'id="revoke-modal"' in text and 'data-open="1"' in text
    assert "Say why" in field_error(text, "reason")
    assert '<input type="hidden" name="goal" value="talker">' in text
    assert earned.points("ada") == 25
    text = revoke(admin_client, 400, goal="talker", occurrence="first", reason="x")
    assert "Must be a whole number" in field_error(text, "occurrence")


def test_revoking_an_award_not_held_says_so(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    text = revoke(admin_client, goal="talker", occurrence="2", reason="x")
    assert "alert-danger" in text and "does not hold" in text and "nothing was revoked" in text
    assert earned.points("ada") == 25


def test_authors_revoke_awards_of_their_own_goals_only(
    admin_client: FlaskClient, earned: Gamify
) -> None:
    login(admin_client, "alice")
    awards = page(admin_client, "?entity=ada").split('id="awards"', 1)[1]
    assert 'data-goal="todo"' in awards and 'data-goal="talker"' not in awards
    revoke(admin_client, 404, goal="talker", occurrence="1", reason="not mine")
    revoke(admin_client, 404, goal="no-such-goal", occurrence="1", reason="x")
    assert earned.points("ada") == 25
    revoke(admin_client, goal="todo", occurrence="1", reason="Done by someone else")
    assert earned.points("ada") == 20
    [change] = earned.award_changes(goal="todo", limit=1)
    assert (change.action, change.changed_by) == ("revoked", "alice")


def test_revoking_needs_the_csrf_token(admin_client: FlaskClient, earned: Gamify) -> None:
    login(admin_client, "staff")
    revoke(admin_client, 400, token="", goal="talker", occurrence="1", reason="x")
    assert earned.points("ada") == 25
