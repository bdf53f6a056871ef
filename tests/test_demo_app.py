"""The demo app, walked through as a user would: badges, unlock rules, to-do lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demo_support import article_id, client_of, demo, drop_everything, page_text, user_id
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from demo_app import create_app, init_database
from demo_app.extensions import db, gamify
from demo_app.models import User
from flask_gamify.signals import assignment_completed

__all__ = ["demo"]  # the fixture, imported for the tests below


def test_startup_is_idempotent(demo: Flask) -> None:
    with demo.app_context():
        goals = [goal.key for goal in gamify.goals()]
        init_database()
        assert [goal.key for goal in gamify.goals()] == goals
        assert db.session.scalar(select(func.count()).select_from(User)) == 4
    assert {"premium-unlock", "explorer", "regular", "engaged", "onboarding"} <= set(goals)
    home = page_text(demo.test_client(), "/")
    assert "Article A: Flask in five minutes" in home
    assert "carol" in home


def test_login_is_a_tracked_event(demo: Flask) -> None:
    anonymous = demo.test_client()
    assert "Log in" in page_text(anonymous, "/")
    assert client_of(demo, "carol").get("/").status_code == 200
    page = page_text(demo.test_client(), "/users/carol")
    assert "Log in 3 days in a row." in page
    assert "1/3" in page  # the running streak of the "regular" goal
    assert page_text(anonymous, "/users/nobody", 404)
    assert anonymous.post("/login", data={"username": "mallory"}).status_code == 400


def test_reading_a_b_and_c_unlocks_premium(demo: Flask) -> None:
    anonymous = demo.test_client()
    assert anonymous.get("/premium").location.startswith("/login")
    bob = client_of(demo, "bob")
    response = bob.get("/premium")
    assert response.status_code == 302
    assert response.location == "/premium/locked"
    assert "0 of 3" in page_text(bob, "/premium/locked")
    for slug in ("a", "b"):
        page_text(bob, f"/articles/{article_id(demo, slug)}")
    assert "2 of 3" in page_text(bob, "/premium/locked")
    assert bob.get("/premium").status_code == 302
    page_text(bob, f"/articles/{article_id(demo, 'c')}")
    assert "Premium content" in page_text(bob, "/premium")
    # Reading counts per user: carol has read nothing.
    assert client_of(demo, "carol").get("/premium").status_code == 302


def test_todo_list_is_assigned_completed_and_notified(demo: Flask) -> None:
    completed: list[dict[str, Any]] = []

    def record(sender: Flask, **extra: Any) -> None:
        completed.append(extra)

    alice = client_of(demo, "alice")
    a, d = article_id(demo, "a"), article_id(demo, "d")
    form = {"assignee": "bob", "goal": "", "title": "Basics", "articles": [str(a), str(d)]}
    assert alice.post("/todos", data=form).status_code == 302
    assert alice.post("/todos", data={**form, "articles": []}).status_code == 400
    assert alice.post("/todos", data={**form, "assignee": "alice"}).status_code == 400
    assert 'Basics <span class="muted">to bob</span>' in page_text(alice, "/todos")

    bob = client_of(demo, "bob")
    todos = page_text(bob, "/todos")
    assert 'Basics <span class="muted">from alice</span>' in todos
    assert "0 of 2 articles read" in todos
    assert "Basics" in page_text(bob, "/users/bob")
    assert "Basics" not in page_text(bob, "/users/carol")  # assigned to bob only
    page_text(bob, f"/articles/{a}")
    with assignment_completed.connected_to(record, demo):
        page = bob.get(f"/articles/{d}", follow_redirects=True)
        assert "To-do list complete! alice has been notified." in page_text(bob, "/todos")
    assert page.status_code == 200
    with demo.app_context():
        alice_id = db.session.scalars(select(User.id).where(User.username == "alice")).one()
    assert [(event["goal"], event["assigned_by"]) for event in completed] == [
        (f"todo.{alice_id}.basics", str(alice_id))
    ]
    assert completed[0]["assignment"].completed

    notifications = page_text(alice, "/notifications")
    assert 'Notifications (<span id="unread-count">1</span>)' in notifications
    assert "bob completed the to-do list &#39;Basics&#39; you assigned." in notifications
    assert "completed" in page_text(alice, "/todos")
    assert alice.post("/notifications/read", data={}).status_code == 302
    notifications = page_text(alice, "/notifications")
    assert 'Notifications (<span id="unread-count">0</span>)' in notifications
    assert "Mark read" not in notifications


def test_onboarding_sequence(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    form = {"assignee": "carol", "goal": "onboarding"}
    assert alice.post("/todos", data=form).status_code == 302
    carol = client_of(demo, "carol")
    welcome = article_id(demo, "welcome")
    # The steps must happen in order: a comment before reading does not count.
    assert carol.post(f"/articles/{welcome}/comments", data={"body": "Hi"}).status_code == 302
    page_text(carol, f"/articles/{welcome}")
    assert "1 of 2 steps done" in page_text(carol, "/todos")
    assert 'Notifications (<span id="unread-count">0</span>)' in page_text(alice, "/")
    carol.post(f"/articles/{welcome}/comments", data={"body": "Hello again"})
    assert "Onboarding" in page_text(alice, "/notifications")
    notes = page_text(alice, "/notifications")
    assert "carol completed the to-do list &#39;Onboarding&#39; you assigned." in notes


def _unread_in_nav(client: FlaskClient) -> int:
    page = page_text(client, "/")
    return int(page.split('<span id="unread-count">')[1].split("<")[0])


def test_dashboard_opens_for_the_author_and_staff_only(demo: Flask) -> None:
    assert demo.test_client().get("/gamify/admin/").status_code == 403
    assert client_of(demo, "bob").get("/gamify/admin/").status_code == 403
    assert "/gamify/admin/" not in page_text(client_of(demo, "bob"), "/")
    for username in ("alice", "admin"):
        client = client_of(demo, username)
        assert 'href="/gamify/admin/">Dashboard</a>' in page_text(client, "/")
        assert page_text(client, "/gamify/admin/")


def test_alice_sees_only_her_goals_in_the_dashboard(demo: Flask) -> None:
    keys = {"premium-unlock", "onboarding", "explorer", "chatterbox"}

    def goal_keys(username: str) -> set[str]:
        page = page_text(client_of(demo, username), "/gamify/admin/gamify_goals/")
        return {key for key in keys if key in page}

    assert goal_keys("alice") == {"premium-unlock", "onboarding"}
    assert goal_keys("admin") == keys
    with demo.app_context():
        assert gamify.goal("premium-unlock").owner == str(user_id(demo, "alice"))


def test_new_notifications_are_returned_once_and_marked_read(demo: Flask) -> None:
    assert demo.test_client().get("/notifications/new").status_code == 401
    bob = client_of(demo, "bob")
    assert bob.get("/notifications/new").json == {"notifications": [], "unread": 0}
    for slug in ("a", "b", "c"):
        page_text(bob, f"/articles/{article_id(demo, slug)}")
    assert _unread_in_nav(bob) == 2
    new = bob.get("/notifications/new").json
    assert [note["text"] for note in new["notifications"]] == [
        "Badge earned: Explorer (+10 points)",
        "Unlocked the premium page: Premium access (+25 points)",
    ]
    assert new["unread"] == 0
    assert _unread_in_nav(bob) == 0
    assert bob.get("/notifications/new").json["notifications"] == []
    # ?after=<id> skips what the page has shown already.
    page_text(bob, f"/articles/{article_id(demo, 'welcome')}")  # nothing new to earn
    bob.post(f"/articles/{article_id(demo, 'a')}/comments", data={"body": "Hi"})
    last = max(note["id"] for note in new["notifications"])
    newer = bob.get(f"/notifications/new?after={last}").json["notifications"]
    assert [note["text"] for note in newer] == ["Badge earned: First words (+5 points)"]
    assert all(note["id"] > last for note in newer)


def test_a_completed_todo_list_is_not_a_badge(demo: Flask) -> None:
    alice = client_of(demo, "alice")
    d = article_id(demo, "d")
    form = {"assignee": "bob", "goal": "", "title": "Testing", "articles": [str(d)]}
    assert alice.post("/todos", data=form).status_code == 302
    bob = client_of(demo, "bob")
    page_text(bob, f"/articles/{d}")
    texts = [note["text"] for note in bob.get("/notifications/new").json["notifications"]]
    assert texts == ["To-do list done: Testing (+5 points)"]
    assert "You completed the to-do list" in page_text(bob, "/notifications")
    texts = [note["text"] for note in alice.get("/notifications/new").json["notifications"]]
    assert texts == ["Your to-do list 'Testing' was completed by bob"]


def test_pages_of_their_own(demo: Flask) -> None:
    page = page_text(demo.test_client(), "/no/such/page", 404)
    assert "Page not found" in page
    assert '<a href="/">Back to the articles</a>' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "demo.js" not in page  # only signed-in users poll for notifications
    assert 'src="/static/demo.js"' in page_text(client_of(demo, "bob"), "/")
    assert "<script>" not in page_text(client_of(demo, "bob"), "/")  # no inline scripts


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


def test_a_like_counts_once(demo: Flask) -> None:
    bob = client_of(demo, "bob")
    d = article_id(demo, "d")
    assert "0 likes" in page_text(bob, f"/articles/{d}")
    for _ in range(2):
        assert bob.post(f"/articles/{d}/like").status_code == 302
    page = page_text(bob, f"/articles/{d}")
    assert "You like this" in page and "1 like<" in page
    assert "You already like this article." in page
    with demo.app_context():
        bob_id = db.session.scalars(select(User.id).where(User.username == "bob")).one()
        liked = gamify.preview({"type": "count", "event": "article.liked", "target": 1})
        assert (liked.events_scanned, liked.completed) == (1, 1)
        assert gamify.progress(bob_id, "explorer").current == 1  # the read, not the likes
    # Signed out: no button, and the POST asks to log in.
    visitor = demo.test_client()
    assert "Like</button>" not in page_text(visitor, f"/articles/{d}")
    assert visitor.post(f"/articles/{d}/like").status_code == 302


def test_a_first_start_has_a_history_to_preview(database_url: str) -> None:
    """Outside tests the demo starts with a few past reads and likes, so that a badge's
    preview finds someone: carol read two Python articles."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "GAMIFY_REDIS_URL": None,
        "DEMO_SEED_HISTORY": True,
    }
    app = create_app(config)
    with app.app_context():
        drop_everything()
        init_database()
        init_database()  # a restart adds nothing
        try:
            carol = db.session.scalars(select(User.id).where(User.username == "carol")).one()
            python_reader = gamify.preview(
                {
                    "type": "distinct",
                    "event": "article.read",
                    "field": "article_id",
                    "target": 2,
                    "where": {"category": "python"},
                }
            )
            assert [item.entity for item in python_reader.sample if item.progress.completed] == [
                str(carol)
            ]
            assert [award.goal for award in gamify.awards(carol)] == ["explorer"]
            assert python_reader.events_scanned == 4  # every past read, of any category
        finally:
            drop_everything()
            for engine in db.engines.values():
                engine.dispose()
