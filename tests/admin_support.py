"""The dashboard under test: who is signed in, and GamifyAdmin on the test app.

Tests sign in by visiting ``/_test/login/<name>`` (``None``: signed out). ``staff`` is a
superuser, ``alice`` and ``bob`` are authors who own goals, ``visitor`` is signed in but
may not open the dashboard. Pages are served with a Content-Security-Policy that allows
only our own scripts (and Flask-Admin's nonce), as a careful host would.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, g, session
from flask.testing import FlaskClient

from flask_gamify.admin import GamifyAdmin

#: name -> (may open the dashboard, superuser)
USERS = {
    "staff": (True, True),
    "alice": (True, False),
    "bob": (True, False),
    "visitor": (False, False),
}

#: Where an Admin of our own lives.
ADMIN = "/gamify/admin"


def current_user() -> str | None:
    return session.get("user")


def can_access() -> bool:
    return USERS.get(current_user() or "", (False, False))[0]


def is_superuser() -> bool:
    return USERS.get(current_user() or "", (False, False))[1]


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def install_admin(app: Flask, *, admin: Any = None, **options: Any) -> GamifyAdmin:
    """GamifyAdmin on ``app`` (or on the host's ``admin``), with test sign-in and a CSP."""

    @app.route("/_test/login/<name>")
    def test_login(name: str) -> str:
        session["user"] = name
        return f"signed in as {name}"

    @app.route("/_test/logout")
    def test_logout() -> str:
        session.pop("user", None)
        return "signed out"

    @app.after_request
    def content_security_policy(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = (
            f"script-src 'self' 'nonce-{csp_nonce()}'; object-src 'none'; base-uri 'self'"
        )
        return response

    options.setdefault("can_access", can_access)
    options.setdefault("current_author", current_user)
    options.setdefault("is_superuser", is_superuser)
    if admin is None:
        options.setdefault("csp_nonce_generator", csp_nonce)
    return GamifyAdmin(admin if admin is not None else app, **options)


def login(client: FlaskClient, name: str | None) -> None:
    """Sign ``client`` in as ``name`` (``None``: out)."""
    response = client.get(f"/_test/login/{name}" if name else "/_test/logout")
    assert response.status_code == 200


def csrf_token(client: FlaskClient, page: str = ADMIN + "/") -> str:
    """The CSRF token a page of the dashboard gives the signed-in user."""
    html = client.get(page).get_data(as_text=True)
    marker = 'name="gamify-csrf-token" content="'
    assert marker in html, f"{page} has no CSRF token"
    return html.split(marker, 1)[1].split('"', 1)[0]
