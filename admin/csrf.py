"""CSRF tokens for every form and AJAX call, with or without Flask-WTF.

When the host runs Flask-WTF's ``CSRFProtect`` (``"csrf"`` in ``app.extensions``), it
already checks every POST of the app, ours included, and its token is the one to send;
forms keep Flask-Admin's plain ``BaseForm`` (using ``SecureForm`` as well would make
two different tokens fight over the ``csrf_token`` field). Otherwise forms are
Flask-Admin's ``SecureForm`` (a token bound to the Flask session) and our own POST
endpoints check the same token, sent as the ``csrf_token`` form field or the
``X-CSRFToken`` header.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, jsonify, make_response, request
from flask_admin.form import BaseForm, SecureForm
from werkzeug.datastructures import MultiDict

__all__ = ["check_csrf", "csrf_token", "form_base_class", "uses_flask_wtf"]

#: The form field and the header a token travels in (Flask-WTF's names too).
FIELD = "csrf_token"
HEADER = "X-CSRFToken"


def uses_flask_wtf(app: Flask) -> bool:
    """Whether Flask-WTF's ``CSRFProtect`` guards the app."""
    return "csrf" in app.extensions


def form_base_class(app: Flask) -> type[BaseForm]:
    """The base class of our model forms on ``app``."""
    chosen: type[BaseForm] = BaseForm if uses_flask_wtf(app) else SecureForm
    return chosen


def csrf_token() -> str:
    """A token for the current user's session, to put in a form or an AJAX header."""
    if uses_flask_wtf(current_app):
        from flask_wtf.csrf import generate_csrf

        return str(generate_csrf())
    return str(SecureForm().csrf_token.current_token)


def check_csrf() -> None:
    """Refuse (400) an unsafe request whose token is missing or wrong."""
    if request.method in ("GET", "HEAD", "OPTIONS") or uses_flask_wtf(current_app):
        return  # safe, or Flask-WTF checked it before the view ran
    token = request.headers.get(HEADER) or request.form.get(FIELD, "")
    form = SecureForm(formdata=MultiDict({FIELD: token}))
    form.validate()
    if form.csrf_token.errors:
        message = (
            "The form's security token is missing or has expired; reload the page and try again."
        )
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            abort(make_response(jsonify(error="csrf", message=message), 400))
        abort(400, description=message)
