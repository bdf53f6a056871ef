"""Tracking from views (``@tracks``) and from blinker signals (``gamify.connect``)."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from blinker import Namespace
from conftest import db
from flask import Flask, abort, redirect
from flask.testing import FlaskClient
from flask_login import LoginManager, UserMixin, login_user

from flask_gamify import Gamify, tracks

COUNT_LOGIN = {"type": "count", "event": "login", "target": 100}


@tracks("login")
def module_level_login() -> str:
    """Decorated at import time, long before any ``init_app``."""
    return "welcome"


def _logins(gamify: Gamify, entity: str | int, *, entity_type: str = "user") -> int:
    return gamify.progress(entity, "logins", entity_type=entity_type).current


@pytest.fixture
def logins_goal(gamify: Gamify, app: Flask) -> None:
    gamify.define_goal("logins", criteria=COUNT_LOGIN)


@pytest.fixture
def events(app: Flask) -> Iterator[list[Any]]:
    """Every event tracked while the test runs, as received by ``event_tracked``."""
    from flask_gamify.signals import event_tracked

    received: list[Any] = []

    def receive(sender: Flask, *, event: Any, **extra: Any) -> None:
        received.append(event)

    event_tracked.connect(receive, app)
    yield received
    event_tracked.disconnect(receive, app)


# -- status codes ------------------------------------------------------------------------


def test_decorator_applied_before_init_app(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None, events: list[Any]
) -> None:
    gamify.entity_loader(lambda: 7)
    app.add_url_rule("/login", view_func=module_level_login)

    response = client.get("/login")

    assert response.status_code == 200
    assert response.data == b"welcome"
    assert [(e.type, e.entity_type, e.entity_id) for e in events] == [("login", "user", "7")]
    assert _logins(gamify, 7) == 1


def test_200_and_302_are_tracked(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None
) -> None:
    gamify.entity_loader(lambda: "u1")

    @app.get("/ok")
    @gamify.tracks("login")
    def ok() -> str:
        return "ok"

    @app.get("/redirect")
    @gamify.tracks("login")
    def moved() -> Any:
        return redirect("/ok")

    assert client.get("/ok").status_code == 200
    assert _logins(gamify, "u1") == 1
    response = client.get("/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ok"
    assert _logins(gamify, "u1") == 2


def test_error_responses_are_not_tracked(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None, events: list[Any]
) -> None:
    gamify.entity_loader(lambda: "u1")

    class Boom(Exception):
        pass

    @app.errorhandler(Boom)
    def handle_boom(error: Boom) -> tuple[str, int]:
        return "handled", 500

    @app.get("/missing")
    @gamify.tracks("login")
    def missing() -> str:
        abort(404)

    @app.get("/tuple-500")
    @gamify.tracks("login")
    def tuple_500() -> tuple[str, int]:
        return "broken", 500

    @app.get("/bad-request")
    @gamify.tracks("login")
    def bad_request() -> tuple[str, int]:
        return "no", 400

    @app.get("/handled")
    @gamify.tracks("login")
    def handled() -> str:
        raise Boom()

    @app.get("/raises")
    @gamify.tracks("login")
    def raises() -> str:
        raise RuntimeError("view bug")

    assert client.get("/missing").status_code == 404
    assert client.get("/tuple-500").status_code == 500
    assert client.get("/bad-request").status_code == 400
    response = client.get("/handled")
    assert (response.status_code, response.data) == (500, b"handled")
    with pytest.raises(RuntimeError, match="view bug"):
        client.get("/raises")  # TESTING propagates exceptions
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/raises").status_code == 500

    assert events == []
    assert _logins(gamify, "u1") == 0


# -- the entity --------------------------------------------------------------------------


def test_no_entity_no_event(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None, events: list[Any]
) -> None:
    gamify.entity_loader(lambda: None)

    @app.get("/login")
    @gamify.tracks("login")
    def login() -> str:
        return "hello"

    response = client.get("/login")

    assert (response.status_code, response.data) == (200, b"hello")
    assert events == []


def test_no_loader_and_no_flask_login_no_event(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None, events: list[Any]
) -> None:
    @app.get("/login")
    @gamify.tracks("login")
    def login() -> str:
        return "hello"

    assert client.get("/login").status_code == 200
    assert events == []


def test_entity_loader_tuple_gives_the_type(
    app: Flask, client: FlaskClient, gamify: Gamify, events: list[Any]
) -> None:
    gamify.define_goal("logins", criteria=COUNT_LOGIN, entity_type="team")
    gamify.entity_loader(lambda: ("team", 42))

    @app.get("/login")
    @gamify.tracks("login")
    def login() -> str:
        return "hello"

    assert client.get("/login").status_code == 200
    assert [(e.entity_type, e.entity_id) for e in events] == [("team", "42")]
    assert _logins(gamify, 42, entity_type="team") == 1
    assert _logins(gamify, 42) == 0  # a user 42 is another entity


def test_entity_type_argument_overrides_the_loaded_type(
    app: Flask, client: FlaskClient, gamify: Gamify, events: list[Any]
) -> None:
    gamify.entity_loader(lambda: 5)

    @app.get("/org")
    @gamify.tracks("login", entity_type="org")
    def org() -> str:
        return "org"

    assert client.get("/org").status_code == 200
    assert [(e.entity_type, e.entity_id) for e in events] == [("org", "5")]


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def test_flask_login_current_user_is_the_default_entity(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None, events: list[Any]
) -> None:
    login_manager = LoginManager(app)
    login_manager.user_loader(lambda user_id: User(user_id))

    @app.post("/login/<user_id>")
    @gamify.tracks("login")
    def login(user_id: str) -> str:
        login_user(User(user_id))
        return "in"

    @app.get("/page")
    @gamify.tracks("page.view")
    def page() -> str:
        return "page"

    assert client.get("/page").status_code == 200  # anonymous
    assert events == []

    assert client.post("/login/alice").status_code == 200
    assert client.get("/page").status_code == 200  # logged in, from the session cookie

    assert [(e.type, e.entity_type, e.entity_id) for e in events] == [
        ("login", "user", "alice"),
        ("page.view", "user", "alice"),
    ]
    assert _logins(gamify, "alice") == 1


def test_entity_loader_wins_over_flask_login(
    app: Flask, client: FlaskClient, gamify: Gamify, events: list[Any]
) -> None:
    login_manager = LoginManager(app)
    login_manager.user_loader(lambda user_id: User(user_id))
    gamify.entity_loader(lambda: ("team", "t1"))

    @app.post("/login")
    @gamify.tracks("login")
    def login() -> str:
        login_user(User("alice"))
        return "in"

    assert client.post("/login").status_code == 200
    assert [(e.entity_type, e.entity_id) for e in events] == [("team", "t1")]


def test_current_entity_outside_a_request_is_none(app: Flask, gamify: Gamify) -> None:
    LoginManager(app)

    assert gamify.current_entity() is None


def test_current_entity_in_a_request(app: Flask, gamify: Gamify) -> None:
    with app.test_request_context():
        assert gamify.current_entity() is None
        gamify.entity_loader(lambda: 3)
        assert gamify.current_entity() == ("user", "3")
        gamify.entity_loader(lambda: ("team", 4))
        assert gamify.current_entity() == ("team", "4")


# -- attributes --------------------------------------------------------------------------


def test_attributes_dict_and_callable(
    app: Flask, client: FlaskClient, gamify: Gamify, events: list[Any]
) -> None:
    gamify.define_goal(
        "python-reader",
        criteria={
            "type": "distinct",
            "event": "article.read",
            "field": "article_id",
            "target": 2,
            "where": {"section": "python"},
        },
    )
    gamify.entity_loader(lambda: "u1")
    received: list[dict[str, Any]] = []

    def attributes(article_id: int, section: str) -> dict[str, Any]:
        received.append({"article_id": article_id, "section": section})
        return {"article_id": article_id, "section": section}

    @app.get("/<section>/articles/<int:article_id>")
    @gamify.tracks("article.read", attributes=attributes)
    def article(section: str, article_id: int) -> str:
        return f"{section} {article_id}"

    @app.get("/home")
    @gamify.tracks("home.view", attributes={"source": "menu", "position": 3})
    def home() -> str:
        return "home"

    assert client.get("/python/articles/1").data == b"python 1"
    assert client.get("/rust/articles/2").status_code == 200
    assert client.get("/home").status_code == 200
    assert not gamify.has_completed("u1", "python-reader")
    assert client.get("/python/articles/3").status_code == 200

    assert received[0] == {"article_id": 1, "section": "python"}
    assert [dict(e.attributes) for e in events] == [
        {"article_id": 1, "section": "python"},
        {"article_id": 2, "section": "rust"},
        {"source": "menu", "position": 3},
        {"article_id": 3, "section": "python"},
    ]
    assert gamify.has_completed("u1", "python-reader")


# -- the host app never breaks -----------------------------------------------------------


def _views(app: Flask, gamify: Gamify, name: str, view: Any) -> None:
    """Register ``view`` twice: plain at /plain/<name>, tracked at /tracked/<name>."""
    app.add_url_rule(f"/plain/{name}", f"plain_{name}", view, methods=["GET", "POST"])
    tracked = gamify.tracks("thing")(view)
    app.add_url_rule(f"/tracked/{name}", f"tracked_{name}", tracked, methods=["GET", "POST"])


def test_tracked_response_is_identical_to_untracked(
    app: Flask, client: FlaskClient, gamify: Gamify, events: list[Any]
) -> None:
    gamify.entity_loader(lambda: "u1")

    def text() -> Any:
        return "plain text"

    def json_dict() -> Any:
        return {"a": 1, "b": [1, 2]}

    def created_with_headers() -> Any:
        return "made", 201, {"X-Custom": "yes", "Location": "/things/1"}

    def moved() -> Any:
        return redirect("/elsewhere", code=303)

    def teapot() -> Any:
        return {"error": "teapot"}, 418

    views = {
        "text": text,
        "json": json_dict,
        "created": created_with_headers,
        "moved": moved,
        "teapot": teapot,
    }
    for name, view in views.items():
        _views(app, gamify, name, view)

    for name in views:
        plain = client.get(f"/plain/{name}")
        tracked = client.get(f"/tracked/{name}")
        assert tracked.status_code == plain.status_code, name
        assert tracked.data == plain.data, name
        assert sorted(tracked.headers.items()) == sorted(plain.headers.items()), name
    # Everything below 400 was tracked, the teapot was not.
    assert len(events) == 4


def test_failing_attributes_still_returns_the_response(
    app: Flask, client: FlaskClient, gamify: Gamify, caplog: pytest.LogCaptureFixture
) -> None:
    gamify.entity_loader(lambda: "u1")

    def attributes(**view_args: Any) -> dict[str, Any]:
        raise ValueError("attributes are broken")

    @app.get("/page")
    @gamify.tracks("page.view", attributes=attributes)
    def page() -> tuple[str, int]:
        return "the page", 201

    with caplog.at_level(logging.ERROR, logger="flask_gamify"):
        response = client.get("/page")

    assert (response.status_code, response.data) == (201, b"the page")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "flask_gamify"]
    assert len(errors) == 1
    assert "page.view" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], ValueError)


def test_invalid_attributes_still_returns_the_response(
    app: Flask, client: FlaskClient, gamify: Gamify, caplog: pytest.LogCaptureFixture
) -> None:
    gamify.entity_loader(lambda: "u1")

    @app.get("/page")
    @gamify.tracks("page.view", attributes={"blob": "x" * 20000})
    def page() -> str:
        return "the page"

    with caplog.at_level(logging.ERROR, logger="flask_gamify"):
        response = client.get("/page")

    assert (response.status_code, response.data) == (200, b"the page")
    assert any(r.name == "flask_gamify" and r.levelno >= logging.ERROR for r in caplog.records)


def test_database_failure_still_returns_the_response(
    app: Flask, client: FlaskClient, gamify: Gamify, caplog: pytest.LogCaptureFixture
) -> None:
    gamify.entity_loader(lambda: "u1")

    @app.post("/login")
    @gamify.tracks("login")
    def login() -> Any:
        return {"status": "logged in"}, 200, {"X-Host": "1"}

    gamify.drop_all()
    with caplog.at_level(logging.ERROR, logger="flask_gamify"):
        response = client.post("/login")

    assert response.status_code == 200
    assert response.get_json() == {"status": "logged in"}
    assert response.headers["X-Host"] == "1"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "flask_gamify"]
    assert len(errors) == 1
    assert "login" in errors[0].getMessage()


def test_tracking_never_touches_the_host_session(
    app: Flask, client: FlaskClient, gamify: Gamify, logins_goal: None
) -> None:
    from conftest import Note, db

    gamify.entity_loader(lambda: "u1")

    @app.post("/note")
    @gamify.tracks("login")
    def note() -> str:
        db.session.add(Note(text="pending"))
        return "noted"

    assert client.post("/note").status_code == 200
    assert _logins(gamify, "u1") == 1
    # The host did not commit; gamify did not commit for it either.
    db.session.rollback()
    assert db.session.query(Note).count() == 0


# -- signals -----------------------------------------------------------------------------


def test_connect_tracks_signal_events(app: Flask, gamify: Gamify, events: list[Any]) -> None:
    gamify.define_goal(
        "commenter", criteria={"type": "count", "event": "comment.posted", "target": 2}
    )
    signals = Namespace()
    comment_posted = signals.signal("comment-posted")
    bridge = gamify.connect(
        comment_posted,
        "comment.posted",
        entity=lambda sender, author, **kw: author,
        attributes=lambda sender, author, length, **kw: {"length": length},
    )
    try:
        comment_posted.send(app, author=3, length=120)
        assert [(e.type, e.entity_id, dict(e.attributes)) for e in events] == [
            ("comment.posted", "3", {"length": 120})
        ]
        assert gamify.progress(3, "commenter").current == 1

        comment_posted.send(app, author=None, length=5)  # no entity: skipped
        assert len(events) == 1

        comment_posted.send(app, author="3", length=7)
        assert gamify.has_completed(3, "commenter")

        bridge.disconnect()
        comment_posted.send(app, author=3, length=9)
        assert len(events) == 2
    finally:
        bridge.disconnect()


def test_connect_with_entity_type(app: Flask, gamify: Gamify, events: list[Any]) -> None:
    signals = Namespace()
    team_created = signals.signal("team-created")
    bridge = gamify.connect(
        team_created, "team.created", entity=lambda sender, team, **kw: team, entity_type="team"
    )
    try:
        team_created.send(None, team=9)
        assert [(e.entity_type, e.entity_id) for e in events] == [("team", "9")]
    finally:
        bridge.disconnect()


def test_failing_signal_bridge_logs_and_does_not_raise(
    app: Flask, gamify: Gamify, events: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    signals = Namespace()
    thing = signals.signal("thing")

    def entity(sender: Any, **kwargs: Any) -> str:
        raise KeyError("no author")

    bridge = gamify.connect(thing, "thing.done", entity=entity)
    try:
        with caplog.at_level(logging.ERROR, logger="flask_gamify"):
            thing.send(app)
    finally:
        bridge.disconnect()
    assert events == []
    assert any(r.name == "flask_gamify" and "thing.done" in r.getMessage() for r in caplog.records)


def test_signal_outside_app_context_logs_and_does_not_raise(
    app: Flask, gamify: Gamify, events: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    signals = Namespace()
    thing = signals.signal("thing")
    calls: list[Any] = []

    def entity(sender: Any, **kwargs: Any) -> str:
        calls.append(sender)
        return "u1"

    bridge = gamify.connect(thing, "thing.done", entity=entity)
    try:
        with caplog.at_level(logging.ERROR, logger="flask_gamify"):
            # A fresh context has no application context pushed.
            contextvars.Context().run(thing.send, "outside")
    finally:
        bridge.disconnect()
    assert events == []
    errors = [r for r in caplog.records if r.name == "flask_gamify" and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "thing.done" in errors[0].getMessage()
    assert "application context" in errors[0].getMessage()


def test_connect_only_tracks_apps_of_its_own_gamify(
    app: Flask, gamify: Gamify, events: list[Any]
) -> None:
    signals = Namespace()
    liked = signals.signal("liked")
    other = Gamify(db=db)  # never registered on this app
    foreign = other.connect(liked, "like", entity=lambda sender, user, **kw: user)
    own = gamify.connect(liked, "like", entity=lambda sender, user, **kw: user, sender="shop")
    try:
        liked.send("blog", user=1)  # own bridge listens to "shop" only; foreign: other app
        assert events == []
        liked.send("shop", user=2)
        assert [(e.type, e.entity_id) for e in events] == [("like", "2")]
    finally:
        foreign.disconnect()
        own.disconnect()
