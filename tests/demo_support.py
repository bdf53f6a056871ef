"""The demo app under test: a fixture on the test database and helpers to walk it.

The demo's test files import the ``demo`` fixture and these helpers from here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo_app import create_app, init_database
from demo_app.extensions import db, gamify
from demo_app.models import Article, User


def drop_everything() -> None:
    """Drop the demo's and gamify's tables (inside an app context)."""
    db.session.remove()
    gamify.drop_all()
    db.drop_all()


@pytest.fixture
def demo(database_url: str) -> Iterator[Flask]:
    """The demo app on the test database (conftest: SQLite, or PostgreSQL from the env)."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Inline processing, whatever the environment says.
        "GAMIFY_REDIS_URL": None,
    }
    app = create_app(config)
    with app.app_context():
        # Start from nothing, whatever an earlier run left in a shared database.
        drop_everything()
        init_database()
    yield app
    with app.app_context():
        drop_everything()
        for engine in db.engines.values():
            engine.dispose()


def client_of(app: Flask, username: str | None = None) -> FlaskClient:
    """A test client, logged in as ``username`` when given."""
    client = app.test_client()
    if username is not None:
        response = client.post("/login", data={"username": username})
        assert response.status_code == 302
    return client


def article_id(app: Flask, slug: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Article.id).where(Article.slug == slug)).one()


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.username == username)).one()


def page_text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.get_data(as_text=True)


#: One item of the ``checklist_items`` macro (demo_app/templates/_macros.html).
CHECKLIST_ITEM = re.compile(
    r'<li class="(?P<state>done|missing)">\s*<span class="tick"[^>]*>[^<]*</span>\s*'
    r'(?:<a href="(?P<url>[^"]*)">)?(?P<label>[^<]*)(?:</a>)?\s*<span class="state">'
)


def checklist_of(page: str) -> list[tuple[str, str, str | None]]:
    """``(state, label, link)`` of each checklist item on ``page``, in order; ``state`` is
    ``"done"`` or ``"missing"``."""
    return [
        (match["state"], html.unescape(match["label"].strip()), match["url"])
        for match in CHECKLIST_ITEM.finditer(page)
    ]


def toasts(client: FlaskClient) -> list[dict[str, str]]:
    """The new notifications as ``demo.js`` receives them (and thereby marks read)."""
    response = client.get("/notifications/new")
    assert response.status_code == 200
    notes: list[dict[str, str]] = response.json["notifications"]  # type: ignore[index]
    return notes
