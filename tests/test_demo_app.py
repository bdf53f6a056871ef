"""The demo app, walked through as a user would: badges, unlock rules, to-do lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from demo_app import create_app, init_database
from demo_app.extensions import db, gamify
from demo_app.models import Article, User
from flask_gamify.signals import assignment_completed


def _drop_everything() -> None:
    db.session.remove()
    gamify.drop_all()
    db.drop_all()


@pytest.fixture
def demo(database_url: str) -> Iterator[Flask]:
    """The demo app on the test database (conftest: SQLite, or PostgreSQL from the env)."""
    config = {"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": database_url}
    app = create_app(config)
    with app.app_context():
        # Start from nothing, whatever an earlier run left in a shared database.
        _drop_everything()
        init_database()
    yield app
    with app.app_context():
        _drop_everything()
        for engine in db.engines.values():
            engine.dispose()


def _client(app: Flask, username: str | None = None) -> FlaskClient:
    client = app.test_client()
    if username is not None:
        response = client.post("/login", data={"username": username})
        assert response.status_code == 302
    return client


def _article_id(app: Flask, slug: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Article.id).where(Article.slug == slug)).one()


def _text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.get_data(as_text=True)


def test_startup_is_idempotent(demo: Flask) -> None:
    with demo.app_context():
        goals = [goal.key for goal in gamify.goals()]
        init_database()
        assert [goal.key for goal in gamify.goals()] == goals
        assert db.session.scalar(select(func.count()).select_from(User)) == 4
    assert {"premium-unlock", "explorer", "regular", "engaged", "onboarding"} <= set(goals)
    home = _text(demo.test_client(), "/")
    assert "Article A: Flask in five minutes" in home
    assert "carol" in home


def test_login_is_a_tracked_event(demo: Flask) -> None:
    anonymous = demo.test_client()
    assert "Log in" in _text(anonymous, "/")
    assert _client(demo, "carol").get("/").status_code == 200
    page = _text(demo.test_client(), "/users/carol")
    assert "Log in 3 days in a row." in page
    assert "1/3" in page  # the running streak of the "regular" goal
    assert _text(anonymous, "/users/nobody", 404)
    assert anonymous.post("/login", data={"username": "mallory"}).status_code == 400


def test_custom_badge(demo: Flask) -> None:
    alice = _client(demo, "alice")
    form = {"name": "Commenter", "event": "comment.posted", "target": "3"}
    assert alice.post("/badges", data=form).status_code == 302
    badges = _text(alice, "/badges")
    assert "Commenter" in badges
    assert "Post a comment, 3 times." in badges
    assert "<td>alice</td>" in badges
    bad = alice.post("/badges", data={**form, "target": "0"})
    assert bad.status_code == 400
    assert "target" in bad.get_data(as_text=True)
    assert demo.test_client().post("/badges", data=form).status_code == 302  # to log in

    bob = _client(demo, "bob")
    url = f"/articles/{_article_id(demo, 'd')}/comments"
    assert bob.post(url, data={"body": ""}).status_code == 400  # not a comment, not tracked
    for number in range(2):
        assert bob.post(url, data={"body": f"Comment {number}"}).status_code == 302
    page = _text(bob, "/users/bob")
    assert "Commenter" in page
    assert "2/3" in page
    assert bob.post(url, data={"body": "And a third"}).status_code == 302
    toasts = [note["text"] for note in bob.get("/notifications/new").json["notifications"]]
    assert "Badge earned: Commenter (+10 points)" in toasts
    page = _text(bob, "/users/bob")
    assert "<strong>Commenter</strong> ✔" in page
    assert "First words" in page.split("<h2>Awards</h2>")[1]
    with demo.app_context():
        bob_id = db.session.scalars(select(User.id).where(User.username == "bob")).one()
        assert {award.name for award in gamify.awards(bob_id)} >= {"Commenter", "First words"}


def test_reading_a_b_and_c_unlocks_premium(demo: Flask) -> None:
    anonymous = demo.test_client()
    assert anonymous.get("/premium").location.startswith("/login")
    bob = _client(demo, "bob")
    response = bob.get("/premium")
    assert response.status_code == 302
    assert response.location == "/premium/locked"
    assert "0 of 3" in _text(bob, "/premium/locked")
    for slug in ("a", "b"):
        _text(bob, f"/articles/{_article_id(demo, slug)}")
    assert "2 of 3" in _text(bob, "/premium/locked")
    assert bob.get("/premium").status_code == 302
    _text(bob, f"/articles/{_article_id(demo, 'c')}")
    assert "Premium content" in _text(bob, "/premium")
    # Reading counts per user: carol has read nothing.
    assert _client(demo, "carol").get("/premium").status_code == 302


def test_todo_list_is_assigned_completed_and_notified(demo: Flask) -> None:
    completed: list[dict[str, Any]] = []

    def record(sender: Flask, **extra: Any) -> None:
        completed.append(extra)

    alice = _client(demo, "alice")
    a, d = _article_id(demo, "a"), _article_id(demo, "d")
    form = {"assignee": "bob", "goal": "", "title": "Basics", "articles": [str(a), str(d)]}
    assert alice.post("/todos", data=form).status_code == 302
    assert alice.post("/todos", data={**form, "articles": []}).status_code == 400
    assert alice.post("/todos", data={**form, "assignee": "alice"}).status_code == 400
    assert "<strong>Basics</strong> to bob" in _text(alice, "/todos")

    bob = _client(demo, "bob")
    todos = _text(bob, "/todos")
    assert "<strong>Basics</strong> from alice" in todos
    assert "0/2" in todos
    assert "Basics" in _text(bob, "/users/bob")
    assert "Basics" not in _text(bob, "/users/carol")  # assigned to bob only
    _text(bob, f"/articles/{a}")
    with assignment_completed.connected_to(record, demo):
        page = bob.get(f"/articles/{d}", follow_redirects=True)
        assert "To-do list complete! alice has been notified." in _text(bob, "/todos")
    assert page.status_code == 200
    with demo.app_context():
        alice_id = db.session.scalars(select(User.id).where(User.username == "alice")).one()
    assert [(event["goal"], event["assigned_by"]) for event in completed] == [
        (f"todo.{alice_id}.basics", str(alice_id))
    ]
    assert completed[0]["assignment"].completed

    notifications = _text(alice, "/notifications")
    assert 'Notifications (<span id="unread-count">1</span>)' in notifications
    assert "bob completed the to-do list &#39;Basics&#39; you assigned." in notifications
    assert "completed" in _text(alice, "/todos")
    assert alice.post("/notifications/read", data={}).status_code == 302
    notifications = _text(alice, "/notifications")
    assert 'Notifications (<span id="unread-count">0</span>)' in notifications
    assert "Mark read" not in notifications


def test_onboarding_sequence(demo: Flask) -> None:
    alice = _client(demo, "alice")
    form = {"assignee": "carol", "goal": "onboarding"}
    assert alice.post("/todos", data=form).status_code == 302
    carol = _client(demo, "carol")
    welcome = _article_id(demo, "welcome")
    # The steps must happen in order: a comment before reading does not count.
    assert carol.post(f"/articles/{welcome}/comments", data={"body": "Hi"}).status_code == 302
    _text(carol, f"/articles/{welcome}")
    assert "1/2" in _text(carol, "/todos")
    assert 'Notifications (<span id="unread-count">0</span>)' in _text(alice, "/")
    carol.post(f"/articles/{welcome}/comments", data={"body": "Hello again"})
    assert "Onboarding" in _text(alice, "/notifications")
    notes = _text(alice, "/notifications")
    assert "carol completed the to-do list &#39;Onboarding&#39; you assigned." in notes


def _unread_in_nav(client: FlaskClient) -> int:
    page = _text(client, "/")
    return int(page.split('<span id="unread-count">')[1].split("<")[0])


def _user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.username == username)).one()


def test_dashboard_opens_for_the_author_and_staff_only(demo: Flask) -> None:
    assert demo.test_client().get("/gamify/admin/").status_code == 403
    assert _client(demo, "bob").get("/gamify/admin/").status_code == 403
    assert "/gamify/admin/" not in _text(_client(demo, "bob"), "/")
    for username in ("alice", "admin"):
        client = _client(demo, username)
        assert 'href="/gamify/admin/">Dashboard</a>' in _text(client, "/")
        assert _text(client, "/gamify/admin/")


def test_alice_sees_only_her_goals_in_the_dashboard(demo: Flask) -> None:
    keys = {"premium-unlock", "onboarding", "explorer", "chatterbox"}

    def goal_keys(username: str) -> set[str]:
        page = _text(_client(demo, username), "/gamify/admin/gamify_goals/")
        return {key for key in keys if key in page}

    assert goal_keys("alice") == {"premium-unlock", "onboarding"}
    assert goal_keys("admin") == keys
    with demo.app_context():
        assert gamify.goal("premium-unlock").owner == str(_user_id(demo, "alice"))


def test_new_notifications_are_returned_once_and_marked_read(demo: Flask) -> None:
    assert demo.test_client().get("/notifications/new").status_code == 401
    bob = _client(demo, "bob")
    assert bob.get("/notifications/new").json == {"notifications": [], "unread": 0}
    for slug in ("a", "b", "c"):
        _text(bob, f"/articles/{_article_id(demo, slug)}")
    assert _unread_in_nav(bob) == 2
    new = bob.get("/notifications/new").json
    assert [note["text"] for note in new["notifications"]] == [
        "Badge earned: Explorer (+10 points)",
        "Badge earned: Premium access (+25 points)",
    ]
    assert new["unread"] == 0
    assert _unread_in_nav(bob) == 0
    assert bob.get("/notifications/new").json["notifications"] == []
    # ?after=<id> skips what the page has shown already.
    _text(bob, f"/articles/{_article_id(demo, 'welcome')}")  # nothing new to earn
    bob.post(f"/articles/{_article_id(demo, 'a')}/comments", data={"body": "Hi"})
    last = max(note["id"] for note in new["notifications"])
    newer = bob.get(f"/notifications/new?after={last}").json["notifications"]
    assert [note["text"] for note in newer] == ["Badge earned: First words (+5 points)"]
    assert all(note["id"] > last for note in newer)


def test_a_completed_todo_list_is_not_a_badge(demo: Flask) -> None:
    alice = _client(demo, "alice")
    d = _article_id(demo, "d")
    form = {"assignee": "bob", "goal": "", "title": "Testing", "articles": [str(d)]}
    assert alice.post("/todos", data=form).status_code == 302
    bob = _client(demo, "bob")
    _text(bob, f"/articles/{d}")
    texts = [note["text"] for note in bob.get("/notifications/new").json["notifications"]]
    assert texts == ["To-do list done: Testing (+5 points)"]
    assert "You completed the to-do list" in _text(bob, "/notifications")
    texts = [note["text"] for note in alice.get("/notifications/new").json["notifications"]]
    assert texts == ["Your to-do list 'Testing' was completed by bob"]


def test_pages_of_their_own(demo: Flask) -> None:
    page = _text(demo.test_client(), "/no/such/page", 404)
    assert "Page not found" in page
    assert '<a href="/">Back to the articles</a>' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "demo.js" not in page  # only signed-in users poll for notifications
    assert 'src="/static/demo.js"' in _text(_client(demo, "bob"), "/")
    assert "<script>" not in _text(_client(demo, "bob"), "/")  # no inline scripts


def test_a_database_of_an_older_demo_is_recreated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old-demo.db'}"
    with create_engine(url).begin() as connection:  # demo_users before the role column
        connection.execute(text("CREATE TABLE demo_users (id INTEGER PRIMARY KEY, username TEXT)"))
        connection.execute(text("INSERT INTO demo_users (username) VALUES ('zoe')"))
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        roles = dict(db.session.execute(select(User.username, User.role)).all())
        assert roles == {"alice": "author", "bob": "member", "carol": "member", "admin": "staff"}
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
