"""The SQLAlchemy session Flask-Admin's model views read gamify's tables with."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, scoped_session

from flask_gamify.state import get_state

__all__ = ["GamifyScopedSession", "make_session"]


class GamifyScopedSession(scoped_session[Session]):
    """A scoped session Flask-Admin accepts as is (it looks for ``.session``)."""

    @property
    def session(self) -> GamifyScopedSession:
        return self


def make_session(app: Flask) -> GamifyScopedSession:
    """A session on gamify's own engine, per app context, removed at its end.

    Views only read through it: every change goes through the public Python API.
    """
    scoped = GamifyScopedSession(lambda: get_state().session_factory())

    @app.teardown_appcontext
    def remove_session(error: BaseException | None = None) -> None:
        scoped.remove()

    # A request inside an app context that is already pushed (tests, CLI commands that
    # call the app) does not end that context: end the session with the request too, or
    # its open transaction holds locks (PostgreSQL's DROP TABLE waits on it forever).
    app.teardown_request(remove_session)

    return scoped
