"""The :class:`GamifyAdmin` object: hangs the dashboard's views on a Flask-Admin ``Admin``."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask
from flask_admin import Admin, BaseView

from flask_gamify.errors import ConfigurationError

from .access import Access
from .assignments import AssignmentsView
from .awards import AwardsView
from .base import ASSETS, GamifyModelView, ViewMixin
from .csrf import form_base_class, uses_flask_wtf
from .dashboard import DashboardView
from .goals import GoalsView
from .leaderboards import LeaderboardsView
from .operations import OperationsView
from .progress_browser import ProgressBrowserView
from .session import make_session
from .webhooks import WebhooksView

__all__ = ["GamifyAdmin"]

#: Where an Admin of our own lives when GamifyAdmin is given an app.
STANDALONE_URL = "/gamify/admin"

TOO_LATE = (
    "GamifyAdmin must be created before the app serves its first request (create it"
    " where the app is set up, next to Admin(app))."
)


class GamifyAdmin:
    """The Flask-Gamify dashboard: goals, awards, progress, leaderboards, assignments and
    operations.

    :param admin_or_app: the host's Flask-Admin ``Admin`` (our views join its menu under
        ``category``), or a Flask app: an ``Admin`` of our own is created at
        ``/gamify/admin``. Either way the app must already be known (``Admin(app)`` or
        ``admin.init_app(app)`` first) and Flask-Gamify registered on it.
    :param can_access: called on every request; the dashboard opens only when it returns
        true. Required: the dashboard is closed unless the host says who may open it.
    :param current_author: returns the current user's owner id. Users who are not
        superusers see and edit only goals with that ``owner``, and goals they create
        are theirs.
    :param is_superuser: returns whether the current user sees everything (every
        owner's goals, operations, API keys). Without it, everyone ``can_access`` lets in
        is a superuser, unless ``current_author`` is given.
    :param category: the menu category of our views on a host's ``Admin``.
    :param name: the title of an ``Admin`` of our own.
    :param csp_nonce_generator: for an ``Admin`` of our own: returns the nonce of the
        page's Content-Security-Policy (Flask-Admin adds it to every script and
        stylesheet tag; ours have no inline code).
    """

    def __init__(
        self,
        admin_or_app: Admin | Flask,
        *,
        can_access: Callable[[], object] | None = None,
        current_author: Callable[[], object] | None = None,
        is_superuser: Callable[[], object] | None = None,
        category: str = "Gamification",
        name: str = "Gamification",
        csp_nonce_generator: Callable[[], str] | None = None,
    ) -> None:
        if can_access is None:
            raise ConfigurationError(
                "GamifyAdmin is closed by default: pass can_access=, a function that"
                " returns True for who may open the dashboard, for example"
                " can_access=lambda: current_user.is_authenticated and current_user.is_staff"
                " (can_access=lambda: True opens it to everyone: local development only)."
            )
        self.access = Access(can_access, current_author, is_superuser)
        if isinstance(admin_or_app, Flask):
            app = admin_or_app
            self._check_app(app)
            # The index view serves Flask-Admin's own static files ("static" is resolved
            # inside flask_admin, as AdminIndexView does).
            index: BaseView = DashboardView(
                name="Dashboard",
                url=STANDALONE_URL,
                endpoint="gamify_admin",
                static_folder="static",
            )
            index.access = self.access
            self.admin = Admin(
                app,
                name=name,
                url=STANDALONE_URL,
                endpoint="gamify_admin",
                index_view=index,
                csp_nonce_generator=csp_nonce_generator,
            )
            category_name: str | None = None
        else:
            self.admin = admin_or_app
            app = self.admin.app
            if app is None:
                raise ConfigurationError(
                    "GamifyAdmin(admin) needs an Admin that knows its app: create it with"
                    " Admin(app) or call admin.init_app(app) first."
                )
            self._check_app(app)
            category_name = category
        self._register_assets(app)
        session = make_session(app)
        views: list[BaseView] = []
        if category_name is not None:
            views.append(
                DashboardView(name="Dashboard", category=category_name, endpoint="gamify_dashboard")
            )
        views += [
            GoalsView(session, name="Goals", category=category_name, endpoint="gamify_goals"),
            AwardsView(name="Awards", category=category_name, endpoint="gamify_awards"),
            ProgressBrowserView(
                name="Progress", category=category_name, endpoint="gamify_progress"
            ),
            LeaderboardsView(
                name="Leaderboards", category=category_name, endpoint="gamify_leaderboards"
            ),
            AssignmentsView(
                name="Assignments", category=category_name, endpoint="gamify_assignments"
            ),
            OperationsView(name="Operations", category=category_name, endpoint="gamify_operations"),
            WebhooksView(name="Webhooks", category=category_name, endpoint="gamify_webhooks"),
        ]
        base_class = form_base_class(app)
        for view in views:
            assert isinstance(view, ViewMixin)
            view.access = self.access
            if isinstance(view, GamifyModelView):
                view.form_base_class = base_class
                view._refresh_cache()  # rebuild its forms on the chosen base class
            try:
                self.admin.add_view(view)
            except AssertionError as error:  # Flask refuses blueprints after a request
                raise ConfigurationError(TOO_LATE) from error
        #: The views added, in menu order.
        self.views = views
        app.extensions["gamify_admin"] = self

    @staticmethod
    def _check_app(app: Flask) -> None:
        if "gamify" not in app.extensions:
            raise ConfigurationError(
                "GamifyAdmin needs Flask-Gamify on the app: call gamify.init_app(app) before"
                " creating GamifyAdmin."
            )
        if app._got_first_request:  # Flask refuses new blueprints from then on
            raise ConfigurationError(TOO_LATE)
        if "gamify_admin" in app.extensions:
            raise RuntimeError("GamifyAdmin is already set up on this app; create it once.")
        if not app.secret_key and not uses_flask_wtf(app):
            raise ConfigurationError(
                "GamifyAdmin protects its forms with CSRF tokens kept in Flask's session:"
                " set app.config['SECRET_KEY'] before creating it."
            )

    @staticmethod
    def _register_assets(app: Flask) -> None:
        assets = Blueprint(
            ASSETS,
            __name__,
            template_folder="templates",
            static_folder="static",
            static_url_path="/gamify/admin-static",
        )
        try:
            app.register_blueprint(assets)
        except AssertionError as error:
            raise ConfigurationError(TOO_LATE) from error
