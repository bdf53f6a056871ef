"""Reading progress, awards and points, and guarding views with ``@gamify.requires``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, redirect, request
from flask.testing import FlaskClient
from werkzeug.exceptions import NotFound

from flask_gamify import Gamify, GamifyError, GoalNotFound, ProgressView


def count(event: str, target: int, **extra: Any) -> dict[str, Any]:
    return {"type": "count", "event": event, "target": target, **extra}


def track_many(gamify: Gamify, event: str, entity: str | int, times: int, **kwargs: Any) -> None:
    for _ in range(times):
        gamify.track(event, entity, **kwargs)


def keys(views: list[ProgressView]) -> list[str]:
    return [view.goal for view in views]


# -- the list of visible goals -----------------------------------------------------------


def test_progress_lists_visible_goals_in_definition_order(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("b-second", criteria=count("login", 3))
    gamify.define_goal("a-first", criteria=count("comment", 2))

    views = gamify.progress("u1")

    assert keys(views) == ["b-second", "a-first"]
    assert all(isinstance(view, ProgressView) for view in views)
    assert [(v.current, v.target, v.percent, v.completed) for v in views] == [
        (0, 3, 0, False),
        (0, 2, 0, False),
    ]


def test_hidden_goals_appear_once_completed_or_on_request(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("open", criteria=count("login", 5))
    gamify.define_goal("secret", criteria=count("login", 2), hidden=True)

    gamify.track("login", "u1")
    assert keys(gamify.progress("u1")) == ["open"]
    hidden = gamify.progress("u1", include_hidden=True)
    assert keys(hidden) == ["open", "secret"]
    assert hidden[1].current == 1
    # Asking for the goal by key always works.
    assert gamify.progress("u1", "secret").current == 1

    gamify.track("login", "u1")
    assert keys(gamify.progress("u1")) == ["open", "secret"]
    assert keys(gamify.progress("u2")) == ["open"]


def test_archived_goals_leave_the_list_but_stay_readable(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("old", criteria=count("login", 1), points=5)
    gamify.define_goal("current", criteria=count("login", 10))
    gamify.track("login", "u1")
    gamify.archive_goal("old")

    assert keys(gamify.progress("u1")) == ["current"]
    old = gamify.progress("u1", "old")
    assert old.goal == "old"
    assert old.completed
    assert old.times_completed == 1
    assert gamify.has_completed("u1", "old")
    # An archived goal no longer progresses.
    gamify.track("login", "u2")
    assert gamify.progress("u2", "old").current == 0
    assert gamify.progress("u2", "current").current == 1


def test_assigned_only_goals_are_listed_for_assignees_only(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("open", criteria=count("login", 5))
    gamify.define_goal("todo", criteria=count("task.done", 2), assigned_only=True)
    gamify.assign("todo", assignee="bob", assigned_by="alice")

    assert keys(gamify.progress("bob")) == ["open", "todo"]
    assert keys(gamify.progress("carol")) == ["open"]
    assert keys(gamify.progress("carol", include_hidden=True)) == ["open"]


def test_goals_of_another_entity_type_are_excluded(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("user-goal", criteria=count("login", 5))
    gamify.define_goal("team-goal", criteria=count("login", 5), entity_type="team")
    gamify.track("login", "x", entity_type="team")

    assert keys(gamify.progress("x")) == ["user-goal"]
    team = gamify.progress("x", entity_type="team")
    assert keys(team) == ["team-goal"]
    assert team[0].current == 1
    assert gamify.progress("x", "user-goal").current == 0


# -- one goal ----------------------------------------------------------------------------


def test_progress_view_fields(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("regular", name="Regular visitor", criteria=count("login", 4), points=30)
    track_many(gamify, "login", "u1", 3)

    view = gamify.progress("u1", "regular")

    assert view.goal == "regular"
    assert view.name == "Regular visitor"
    assert (view.current, view.target, view.percent) == (3, 4, 75)
    assert not view.completed
    assert view.completed_at is None
    assert view.times_completed == 0
    assert view.points == 30
    assert isinstance(view.label, str) and view.label
    assert view.children == ()

    before = datetime.now(UTC)
    gamify.track("login", "u1")
    after = datetime.now(UTC)
    done = gamify.progress("u1", "regular")

    assert (done.current, done.target, done.percent) == (4, 4, 100)
    assert done.completed
    assert done.times_completed == 1
    assert done.completed_at is not None
    assert done.completed_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= done.completed_at <= after + timedelta(seconds=1)
    data = json.loads(json.dumps(done.to_dict()))
    assert data["goal"] == "regular"
    assert data["completed"] is True
    assert data["percent"] == 100
    assert data["completed_at"] == done.completed_at.isoformat()
    assert data["children"] == []


def test_composite_progress_tells_what_is_missing(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal(
        "member",
        criteria={
            "type": "all",
            "of": [
                count("login", 3),
                {
                    "type": "any",
                    "of": [
                        {
                            "type": "distinct",
                            "event": "article.read",
                            "field": "article_id",
                            "target": 2,
                        },
                        {"type": "sum", "event": "purchase", "field": "amount", "target": 50},
                    ],
                },
            ],
        },
    )
    gamify.track("login", "u1")
    gamify.track("article.read", "u1", attributes={"article_id": 1})
    gamify.track("article.read", "u1", attributes={"article_id": 1})
    gamify.track("purchase", "u1", attributes={"amount": 20})

    view = gamify.progress("u1", "member")

    assert (view.current, view.target, view.completed) == (0, 2, False)
    logins, either = view.children
    assert (logins.type, logins.current, logins.target, logins.completed) == ("count", 1, 3, False)
    # any: the numbers of the child closest to completion (articles, 50 %)
    assert (either.type, either.current, either.target, either.completed) == ("any", 1, 2, False)
    articles, spent = either.children
    assert (articles.type, articles.current, articles.target) == ("distinct", 1, 2)
    assert (spent.type, spent.current, spent.target) == ("sum", 20, 50)
    assert either.percent == 50
    # all: no part complete yet, so 0 / 2 and 0 %, while its parts show their progress
    assert view.percent == 0

    data = json.loads(json.dumps(view.to_dict()))
    assert [child["type"] for child in data["children"]] == ["count", "any"]
    assert [grandchild["current"] for grandchild in data["children"][1]["children"]] == [1, 20]

    gamify.track("purchase", "u1", attributes={"amount": 30})
    view = gamify.progress("u1", "member")
    either = view.children[1]
    assert (either.current, either.target, either.percent, either.completed) == (50, 50, 100, True)
    assert (view.current, view.target, view.percent) == (1, 2, 50)
    assert not gamify.has_completed("u1", "member")
    track_many(gamify, "login", "u1", 2)
    done = gamify.progress("u1", "member")
    assert done.completed
    assert all(child.completed for child in done.children)
    assert gamify.has_completed("u1", "member")


def test_unknown_goal_raises_goal_not_found(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(GoalNotFound) as caught:
        gamify.progress("u1", "nope")

    assert isinstance(caught.value, NotFound)
    assert isinstance(caught.value, GamifyError)
    assert caught.value.code == 404
    assert caught.value.key == "nope"
    assert "nope" in str(caught.value)


def test_int_and_str_ids_are_the_same_entity(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("twice", criteria=count("login", 2), points=7)
    gamify.track("login", 42)
    gamify.track("login", "42")

    assert gamify.progress(42, "twice").completed
    assert gamify.progress("42", "twice").completed
    assert gamify.has_completed(42, "twice")
    assert gamify.has_completed("42", "twice")
    assert [award.entity for award in gamify.awards(42)] == ["42"]
    assert gamify.points("42") == 7


# -- awards ------------------------------------------------------------------------------


def test_awards_and_points(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first-login", criteria=count("login", 1), points=10)
    gamify.define_goal("commenter", criteria=count("comment", 1), points=25)
    gamify.define_goal("never", criteria=count("never", 1), points=1000)

    assert gamify.awards("u1") == []
    assert gamify.points("u1") == 0
    assert not gamify.has_completed("u1", "first-login")

    gamify.track("comment", "u1")
    gamify.track("login", "u1")
    gamify.track("login", "u2")

    awards = gamify.awards("u1")
    assert [(a.goal, a.occurrence, a.points, a.entity) for a in awards] == [
        ("commenter", 1, 25, "u1"),
        ("first-login", 1, 10, "u1"),
    ]
    assert awards[0].awarded_at <= awards[1].awarded_at
    assert gamify.points("u1") == 35
    assert gamify.points("u2") == 10
    assert gamify.has_completed("u1", "commenter")
    assert not gamify.has_completed("u1", "never")
    json.dumps([award.to_dict() for award in awards])


def test_repeatable_goal_awards_up_to_max_awards(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("pair", criteria=count("login", 2), repeatable=True, max_awards=3, points=10)
    occurrences = []
    for _ in range(7):
        gamify.track("login", "u1")
        occurrences.append(len(gamify.awards("u1")))

    assert occurrences == [0, 1, 1, 2, 2, 3, 3]
    track_many(gamify, "login", "u1", 3)
    awards = gamify.awards("u1")
    assert [(a.goal, a.occurrence) for a in awards] == [("pair", 1), ("pair", 2), ("pair", 3)]
    assert gamify.points("u1") == 30
    view = gamify.progress("u1", "pair")
    assert view.times_completed == 3
    assert view.completed


def test_repeatable_goal_without_max_awards(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("pair", criteria=count("login", 2), repeatable=True)
    track_many(gamify, "login", "u1", 9)

    assert [a.occurrence for a in gamify.awards("u1")] == [1, 2, 3, 4]


def test_non_repeatable_goal_awards_once(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("pair", criteria=count("login", 2), points=10)
    track_many(gamify, "login", "u1", 7)

    assert [(a.goal, a.occurrence) for a in gamify.awards("u1")] == [("pair", 1)]
    assert gamify.points("u1") == 10
    assert gamify.progress("u1", "pair").times_completed == 1


def test_goal_period_filters_by_occurred_at(app: Flask, gamify: Gamify) -> None:
    now = datetime.now(UTC)
    gamify.define_goal(
        "campaign",
        criteria=count("login", 2),
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(days=1),
    )
    gamify.track("login", "u1", occurred_at=now - timedelta(days=4))  # before
    gamify.track("login", "u1", occurred_at=now)  # after
    gamify.track("login", "u1", occurred_at=now - timedelta(hours=20))  # after
    assert gamify.progress("u1", "campaign").current == 0

    gamify.track("login", "u1", occurred_at=now - timedelta(days=2))
    assert gamify.progress("u1", "campaign").current == 1
    gamify.track("login", "u1", occurred_at=(now - timedelta(days=2, hours=5)).isoformat())
    assert gamify.has_completed("u1", "campaign")


def test_goal_period_includes_its_start_and_excludes_its_end(app: Flask, gamify: Gamify) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    starts_at, ends_at = now - timedelta(days=3), now - timedelta(days=1)
    gamify.define_goal("campaign", criteria=count("login", 5), starts_at=starts_at, ends_at=ends_at)
    gamify.track("login", "u1", occurred_at=starts_at - timedelta(milliseconds=1))
    gamify.track("login", "u1", occurred_at=starts_at)
    gamify.track("login", "u1", occurred_at=ends_at - timedelta(milliseconds=1))
    gamify.track("login", "u1", occurred_at=ends_at)

    assert gamify.progress("u1", "campaign").current == 2


def test_goal_starting_later_ignores_earlier_events(app: Flask, gamify: Gamify) -> None:
    now = datetime.now(UTC)
    gamify.define_goal("fresh", criteria=count("login", 1), starts_at=now - timedelta(hours=1))
    gamify.track("login", "u1", occurred_at=now - timedelta(hours=2))
    assert not gamify.has_completed("u1", "fresh")
    gamify.track("login", "u1")
    assert gamify.has_completed("u1", "fresh")


def test_redefining_criteria_recomputes_progress_and_keeps_awards(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal("logins", criteria=count("login", 5))
    gamify.define_goal("starter", criteria=count("login", 1), points=3)
    track_many(gamify, "login", "u1", 3)
    assert gamify.progress("u1", "logins").current == 3

    # The same criteria again (a new name): progress is kept.
    gamify.define_goal("logins", name="Logins", criteria=count("login", 5))
    assert gamify.progress("u1", "logins").current == 3

    # New criteria: progress is rebuilt from the event log, not restarted at zero.
    gamify.define_goal("logins", criteria=count("login", 4))
    gamify.define_goal("starter", criteria=count("login", 5), points=3)

    rebuilt = gamify.progress("u1", "logins")
    assert (rebuilt.current, rebuilt.target, rebuilt.completed) == (3, 4, False)
    # The award stands (grandfathered), but progress shows what the entity has now.
    assert gamify.has_completed("u1", "starter")
    assert [a.goal for a in gamify.awards("u1")] == ["starter"]
    starter = gamify.progress("u1", "starter")
    assert (starter.current, starter.target, starter.completed) == (3, 5, False)


def test_requires_guards_a_view(app: Flask, client: FlaskClient, gamify: Gamify) -> None:
    gamify.define_goal("unlock", criteria=count("article.read", 2))
    gamify.entity_loader(lambda: request.headers.get("X-User"))
    calls: list[str] = []

    @app.get("/premium")
    @gamify.requires("unlock")
    def premium() -> str:
        calls.append("premium")
        return "premium content"

    @app.get("/soft")
    @gamify.requires("unlock", on_denied=lambda: redirect("/x"))
    def soft() -> str:
        return "soft content"

    assert client.get("/premium").status_code == 403  # no entity
    assert client.get("/premium", headers={"X-User": "u1"}).status_code == 403
    response = client.get("/soft", headers={"X-User": "u1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/x"
    assert client.get("/soft").status_code == 302
    assert calls == []

    track_many(gamify, "article.read", "u1", 2)

    response = client.get("/premium", headers={"X-User": "u1"})
    assert (response.status_code, response.data) == (200, b"premium content")
    response = client.get("/soft", headers={"X-User": "u1"})
    assert (response.status_code, response.data) == (200, b"soft content")
    assert client.get("/premium", headers={"X-User": "u2"}).status_code == 403
    assert calls == ["premium"]


def test_requires_works_before_init_app(database_url: str) -> None:
    from conftest import db

    gamify = Gamify(db=db)

    @gamify.requires("unlock")
    def premium() -> str:
        return "premium content"

    app = Flask("late")
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=database_url)
    db.init_app(app)
    gamify.init_app(app)
    gamify.entity_loader(lambda: "u1")
    app.add_url_rule("/premium", view_func=premium)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        try:
            gamify.define_goal("unlock", criteria=count("login", 1))
            client = app.test_client()
            assert client.get("/premium").status_code == 403
            gamify.track("login", "u1")
            assert client.get("/premium").data == b"premium content"
        finally:
            gamify.drop_all()
            for engine in db.engines.values():
                engine.dispose()


def test_progress_names_what_is_missing(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal(
        "unlock",
        criteria={"type": "all_of", "event": "read", "field": "article", "values": ["a", "b", "c"]},
    )
    gamify.define_goal(
        "funnel",
        criteria={
            "type": "sequence",
            "steps": [{"event": "view"}, {"event": "cart"}, {"event": "buy"}],
        },
    )
    gamify.track("read", 1, attributes={"article": "b"})
    gamify.track("view", 1)
    unlock = gamify.progress(1, "unlock")
    assert unlock.missing == ("a", "c")
    assert unlock.to_dict()["missing"] == ["a", "c"]
    assert gamify.progress(1, "funnel").missing == ("cart", "buy")
    for article in ("a", "c"):
        gamify.track("read", 1, attributes={"article": article})
    assert gamify.progress(1, "unlock").missing == ()


LABELLED = {
    "type": "all",
    "label": "Get started",
    "of": [
        {
            "type": "all_of",
            "label": "Read the basics",
            "event": "article.read",
            "field": "article_id",
            "values": [1, 2, 3],
            "labels": {"1": "Welcome", "3": "Privacy"},
        },
        {
            "type": "sequence",
            "steps": [{"event": "signup", "label": "Sign up"}, {"event": "profile.completed"}],
        },
    ],
}


def test_labels_name_the_parts_and_items_say_what_is_done(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("started", criteria=LABELLED)
    gamify.track("article.read", "u1", attributes={"article_id": 2})
    gamify.track("signup", "u1")

    view = gamify.progress("u1", "started")
    assert (view.label, view.current, view.target, view.percent) == ("Get started", 0, 2, 0)
    articles, steps = view.children
    assert articles.label == "Read the basics"
    assert [(i.value, i.label, i.done) for i in articles.items] == [
        (1, "Welcome", False),
        (2, "2", True),  # no label: the value itself
        (3, "Privacy", False),
    ]
    assert articles.missing == (1, 3)  # raw values, as before
    assert steps.label == "Sign up → profile.completed"  # written from the step labels
    assert [(i.value, i.label, i.done) for i in steps.items] == [
        (0, "Sign up", True),
        (1, "profile.completed", False),
    ]
    data = json.loads(json.dumps(view.to_dict()))
    assert data["items"] == []  # the root is an all: its parts have the items
    assert data["children"][0]["items"][0] == {"value": 1, "label": "Welcome", "done": False}

    gamify.define_goal("privacy", criteria=LABELLED["of"][0])
    gamify.track("article.read", "u1", attributes={"article_id": 1})
    gamify.track("article.read", "u1", attributes={"article_id": 3})
    done = gamify.progress("u1", "privacy")
    assert done.completed and done.missing == ()
    assert [item.done for item in done.items] == [True, True, True]
    assert done.to_dict()["items"][2] == {"value": 3, "label": "Privacy", "done": True}


def test_changing_only_labels_keeps_progress_and_asks_no_backfill(
    app: Flask, gamify: Gamify
) -> None:
    criteria = {"type": "count", "event": "login", "target": 3, "label": "Come back"}
    gamify.define_goal("regular", criteria=criteria)
    track_many(gamify, "login", "u1", 2)
    backfills = len(gamify.backfills("regular"))

    gamify.define_goal("regular", criteria=criteria | {"label": "Visit three times"})

    view = gamify.progress("u1", "regular")
    assert (view.label, view.current, view.target) == ("Visit three times", 2, 3)
    assert len(gamify.backfills("regular")) == backfills  # labels are presentation
    latest = gamify.goal_versions("regular")[-1]
    assert latest.changes["criteria"]["after"]["label"] == "Visit three times"

    unlabelled = {key: value for key, value in criteria.items() if key != "label"}
    gamify.define_goal("regular", criteria=unlabelled | {"target": 4})
    assert len(gamify.backfills("regular")) == backfills + 1  # a change of meaning
    assert gamify.progress("u1", "regular").label == "4 × login"  # the automatic one
