"""Shared fixtures: an app with Flask-SQLAlchemy and Flask-Gamify on a real database.

The database is SQLite in a temporary file, or the one named by
``GAMIFY_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); CI runs the suite on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from flask_gamify import Gamify

#: The host app's own Flask-SQLAlchemy instance, with a model of its own.
db = SQLAlchemy()


class Note(db.Model):  # type: ignore[name-defined, misc]
    """A host model, to check that gamify never touches the host's transaction."""

    __tablename__ = "host_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return os.environ.get("GAMIFY_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'app.db'}"


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
