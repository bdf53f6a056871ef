"""Shared fixtures: an app with Flask-SQLAlchemy and Flask-Gamify on a real database.

The database is SQLite in a temporary file, or the one named by
``GAMIFY_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); CI runs the suite on both.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from pipeline_app import DATABASE, REDIS, create_app
from pipeline_support import Workers
from sqlalchemy import String, create_engine, make_url, text
from sqlalchemy.orm import Mapped, mapped_column
from workload import GOALS

from flask_gamify import Gamify

if TYPE_CHECKING:
    from flask_gamify.testing import RedisServer
#: The fixtures host apps get (``gamify_redis``), used here as a host uses them. (This
#: module must not import flask_gamify.testing itself: pytest could not load it as a
#: plugin after that.)
pytest_plugins = ["flask_gamify.testing"]

#: The host app's own Flask-SQLAlchemy instance, with a model of its own.
db = SQLAlchemy()


class Note(db.Model):  # type: ignore[name-defined, misc]
    """A host model, to check that gamify never touches the host's transaction."""

    __tablename__ = "host_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A database of this test session's own on the server of GAMIFY_TEST_DATABASE_URL.

    Sessions running at the same time (and worker subprocesses) never see each other's
    tables.
    """
    server_url = os.environ.get("GAMIFY_TEST_DATABASE_URL")
    if not server_url:
        yield None
        return
    url = make_url(server_url)
    name = f"gamify_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path, postgres_url: str | None) -> str:
    return postgres_url or f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def gamify() -> Gamify:
    """A fresh extension object (entity loaders and bridges live on it)."""
    return Gamify(db=db)


@pytest.fixture
def app(database_url: str, gamify: Gamify) -> Iterator[Flask]:
    """An app with gamify's and the host's tables created, inside an app context."""
    app = Flask("gamify_test_app")
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret",
        SQLALCHEMY_DATABASE_URI=database_url,
    )
    db.init_app(app)
    gamify.init_app(app)
    with app.app_context():
        gamify.drop_all()
        db.drop_all()
        db.create_all()
        gamify.create_all()
        yield app
        db.session.remove()
        gamify.drop_all()
        db.drop_all()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def redis_server(gamify_redis: RedisServer) -> RedisServer:
    """A private ``redis-server`` of the test (see :class:`flask_gamify.testing.RedisServer`)."""
    return gamify_redis


def wait_for(condition: Callable[[], Any], *, timeout: float, message: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting until {message}.")
        time.sleep(0.05)


# -- the Redis pipeline with worker subprocesses (helpers in pipeline_support.py) ----


@pytest.fixture
def pipeline_env(
    database_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {DATABASE: database_url, REDIS: redis_server.url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def papp(pipeline_env: dict[str, str]) -> Iterator[Flask]:
    app = create_app()
    gamify = app.extensions["gamify"].extension
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        gamify.define_goals(GOALS)
        yield app
        gamify.drop_all()
        for engine in app.extensions["sqlalchemy"].engines.values():
            engine.dispose()


@pytest.fixture
def workers(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    started = Workers(pipeline_env, tmp_path)
    yield started
    started.stop_all()


# -- the dashboard -----------------------------------------------------------------------


@pytest.fixture
def admin_app(app: Flask) -> Flask:
    """``app`` with GamifyAdmin of its own at /gamify/admin (see admin_support)."""
    from admin_support import install_admin

    install_admin(app)
    return app


@pytest.fixture
def admin_client(admin_app: Flask) -> FlaskClient:
    return admin_app.test_client()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium (never a downloaded browser)."""
    from browser_support import CHROMIUM_ARGS, chromium_path

    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package.")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


@pytest.fixture
def live_admin(admin_app: Flask) -> Iterator[str]:
    """The dashboard's app served on a free port; yields its base URL."""
    from browser_support import LiveServer

    with LiveServer(admin_app) as server:
        yield server.url


@pytest.fixture
def admin_page(page: Any, live_admin: str) -> Iterator[Any]:
    """A browser page signed in as ``staff``; fails on JS errors and CSP violations."""
    from browser_support import PageProblems

    problems = PageProblems(page)
    page.set_default_timeout(15_000)
    page.goto(f"{live_admin}/_test/login/staff")
    yield page
    problems.check()
