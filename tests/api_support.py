"""Helpers shared by the REST API tests (tests/test_api_*.py)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from flask_gamify.api.keys import SCOPES, create_key

PREFIX = "/gamify/api"
ALL_SCOPES = tuple(SCOPES)

READER = {"type": "distinct", "event": "article.read", "field": "article_id", "target": 2}


def make_token(*scopes: str, name: str | None = None) -> str:
    """A new API key with ``scopes`` (all of them by default), inside an app context."""
    state = current_app.extensions["gamify"]
    with state.transaction() as session:
        _, token = create_key(
            session, name or f"key-{'-'.join(scopes) or 'all'}", list(scopes or ALL_SCOPES)
        )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of a JSON error response (asserting its shape)."""
    assert response.is_json, response.data
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == response.status_code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]
