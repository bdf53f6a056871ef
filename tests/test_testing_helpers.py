"""flask_gamify.testing, used as a host app's test suite uses it.

The host app below is written as a host developer writes one; its tests use only the
public helpers (the ``gamify_redis`` fixture comes from the plugin that conftest.py
enables with ``pytest_plugins = ["flask_gamify.testing"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import Gamify, GamifyError, tracks
from flask_gamify.testing import RedisServer, process_pending

# -- the host app --------------------------------------------------------------------


def create_app(config: dict[str, Any]) -> Flask:
    app = Flask("host_app")
    app.config.update(config)
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)

    @gamify.entity_loader
    def signed_in_user() -> str | None:
        return request.headers.get("X-User")

    @app.get("/articles/<int:article_id>")
    @tracks("article.read", attributes=lambda article_id: {"article_id": article_id})
    def article(article_id: int) -> str:
        return f"Article {article_id}"

    with app.app_context():
        gamify.create_all()
        gamify.define_goal(
            "first-read",
            name="First read",
            criteria={"type": "count", "event": "article.read", "target": 1},
            points=10,
        )
    return app


def gamify_of(app: Flask) -> Gamify:
    gamify: Gamify = app.extensions["gamify"].extension
    return gamify


@pytest.fixture
def app(tmp_path: Path, gamify_redis: RedisServer) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'host.db'}",
            "GAMIFY_REDIS_URL": gamify_redis.url,
        }
    )
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- the host's tests ----------------------------------------------------------------


def test_reading_an_article_earns_the_badge(app: Flask, client: FlaskClient) -> None:
    response = client.get("/articles/7", headers={"X-User": "alice"})
    assert response.status_code == 200
    gamify = gamify_of(app)
    with app.app_context():
        assert not gamify.has_completed("alice", "first-read")  # waiting in Redis

        assert process_pending(app) == 1

        assert gamify.has_completed("alice", "first-read")
        assert gamify.points("alice") == 10
        assert process_pending(app) == 0  # nothing left


def test_process_pending_uses_the_current_app(app: Flask, client: FlaskClient) -> None:
    client.get("/articles/1", headers={"X-User": "bob"})
    client.get("/articles/2", headers={"X-User": "carol"})
    with app.app_context():
        assert process_pending() == 2
        assert [award.goal for award in gamify_of(app).awards("carol")] == ["first-read"]


def test_events_kept_while_redis_was_down_are_relayed(
    app: Flask, client: FlaskClient, gamify_redis: RedisServer
) -> None:
    gamify_redis.stop()
    assert client.get("/articles/7", headers={"X-User": "alice"}).status_code == 200
    with pytest.raises(GamifyError, match="Redis is unavailable"):
        process_pending(app)

    gamify_redis.start()
    assert process_pending(app) == 1
    with app.app_context():
        assert gamify_of(app).has_completed("alice", "first-read")


def test_inline_mode_has_nothing_pending(tmp_path: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'inline.db'}"})
    client = app.test_client()
    client.get("/articles/7", headers={"X-User": "alice"})
    with app.app_context():
        assert gamify_of(app).has_completed("alice", "first-read")  # processed at once
        assert process_pending(app) == 0
        app.extensions["sqlalchemy"].engine.dispose()


# -- RedisServer -----------------------------------------------------------------------


def test_restart_keeps_the_url_and_forgets_without_durability(
    gamify_redis: RedisServer,
) -> None:
    url = gamify_redis.url
    with gamify_redis.client() as client:
        client.set("key", "value")
    gamify_redis.restart()
    assert gamify_redis.running
    assert gamify_redis.url == url
    with gamify_redis.client() as client:
        assert client.get("key") is None


def test_a_durable_server_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis", durable=True) as server:
        with server.client() as client:
            client.set("key", "value")
        server.stop()
        assert not server.running
        server.start()
        with server.client() as client:
            assert client.get("key") == b"value"
    assert not server.running
    assert server.directory.exists()  # the caller's directory is kept


def test_a_server_without_a_directory_cleans_up() -> None:
    with RedisServer() as server:
        assert server.running
        directory = server.directory
        with server.client() as client:
            assert client.ping()
    assert not server.running
    assert not directory.exists()
    server.stop()  # stopping twice is harmless
