"""Flask-Gamify demo: custom badges, unlock rules and to-do lists in a small article site.

Run it with ``make demo`` (``flask --app demo_app run``). On first start it creates a
SQLite database in the instance folder and seeds users, articles and goals; events are
processed inline (no Redis needed). ``make demo-workers`` runs it with Redis and a
``flask gamify worker`` instead (see :mod:`demo_app.run_with_workers`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, render_template
from flask_login import current_user

from flask_gamify.admin import GamifyAdmin
from flask_gamify.signals import assignment_completed, goal_completed

# The feature modules add their routes to views.bp as they are imported.
from . import badges, notifications, todos, unlock, views  # noqa: F401
from .extensions import db, gamify, login_manager
from .models import User
from .seed import init_database

__all__ = ["create_app", "init_database"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the demo app; ``test_config`` overrides the configuration."""
    # The instance folder (and its demo.db) sits next to this file: the demo keeps to itself.
    app = Flask(__name__, instance_path=os.path.join(os.path.dirname(__file__), "instance"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY="demo-only-not-secret",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.join(app.instance_path, 'demo.db')}",
    )
    # make demo-workers sets GAMIFY_REDIS_URL: events then go through Redis to a worker.
    if os.environ.get("GAMIFY_REDIS_URL"):
        app.config["GAMIFY_REDIS_URL"] = os.environ["GAMIFY_REDIS_URL"]
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)

    db.init_app(app)
    gamify.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "demo.login"
    login_manager.login_message_category = "info"

    app.register_blueprint(views.bp)
    app.register_error_handler(404, _not_found)
    # The dashboard at /gamify/admin: alice (an author) sees and edits her own goals,
    # staff see everything; everyone else gets 403.
    GamifyAdmin(
        app,
        can_access=lambda: current_user.is_authenticated and current_user.may_open_dashboard,
        current_author=lambda: current_user.get_id(),
        is_superuser=lambda: current_user.is_staff,
    )
    # Gamify sends its signals with the app as sender: listen to this app's only.
    goal_completed.connect(notifications.congratulate, app)
    assignment_completed.connect(notifications.report_done, app)
    with app.app_context():
        init_database()
    return app


def _not_found(error: Exception) -> tuple[str, int]:
    return render_template("404.html"), 404


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))
