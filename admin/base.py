"""What every dashboard view shares: access control, CSRF, assets and JSON answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from flask import Response, abort, jsonify, make_response, url_for
from flask_admin import BaseView
from flask_admin.contrib.sqla import ModelView

from flask_gamify.errors import InvalidInputError
from flask_gamify.state import GamifyState, get_state

from .access import Access, Scope
from .csrf import check_csrf, csrf_token

if TYPE_CHECKING:
    from flask_gamify.extension import Gamify

__all__ = ["GamifyModelView", "GamifyView", "ViewMixin", "field_errors", "json_error"]

#: The blueprint serving our templates and static files.
ASSETS = "gamify_admin_assets"


def asset_url(filename: str) -> str:
    """The URL of one of our static files (``gamify_admin/...`` or ``vendor/...``)."""
    return url_for(f"{ASSETS}.static", filename=filename)


def json_error(
    message: str, status: int = 400, *, fields: dict[str, Any] | None = None
) -> NoReturn:
    """Abort with ``{"message": ..., "fields": {path: [messages]}}``."""
    abort(make_response(jsonify(message=message, fields=fields or {}), status))


def field_errors(error: InvalidInputError) -> dict[str, list[str]]:
    """An :class:`InvalidInputError`'s messages by field path (``"criteria.target"``)."""
    return {path: list(messages) for path, messages in error.errors.items()}


class ViewMixin:
    """Access control and the helpers our views use; mixed into every view."""

    #: Set by :class:`~flask_gamify.admin.GamifyAdmin` on each view.
    access: Access
    #: Only superusers reach the view (authors do not see it in the menu).
    superuser_only = False

    def is_accessible(self) -> bool:
        if self.superuser_only:
            return self.access.superuser()
        return self.access.allowed()

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        abort(403)

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        refused = super()._handle_view(name, **kwargs)  # type: ignore[misc]
        if refused is not None:
            return refused
        check_csrf()
        return None

    @property
    def gamify(self) -> Gamify:
        """The :class:`~flask_gamify.Gamify` object of the current app."""
        return get_state().extension

    @property
    def state(self) -> GamifyState:
        return get_state()

    def scope(self) -> Scope:
        """The goals the current user sees."""
        return self.access.scope()

    @property
    def extra_css(self) -> list[str]:
        return [asset_url("gamify_admin/admin.css")]

    @property
    def extra_js(self) -> list[str]:
        return [asset_url("gamify_admin/admin.js")]

    def render(self, template: str, **kwargs: Any) -> str:
        kwargs.setdefault("gamify_csrf_token", csrf_token)
        kwargs.setdefault("gamify_asset_url", asset_url)
        kwargs.setdefault("gamify_scope", self.scope())
        return super().render(template, **kwargs)  # type: ignore[misc,no-any-return]

    def json(self, payload: Any, status: int = 200) -> Response:
        response = jsonify(payload)
        response.status_code = status
        return response


class GamifyView(ViewMixin, BaseView):  # type: ignore[misc]
    """A page of our own (not a model list)."""


class GamifyModelView(ViewMixin, ModelView):  # type: ignore[misc]
    """A Flask-Admin model list over one of gamify's tables, read-only by default.

    Changes go through the public Python API (subclasses override ``create_model``,
    ``update_model`` and ``delete_model``), never through this session.
    """

    can_create = False
    can_edit = False
    can_delete = False
    list_template = "gamify_admin/model/list.html"
    create_template = "gamify_admin/model/create.html"
    edit_template = "gamify_admin/model/edit.html"
    details_template = "gamify_admin/model/details.html"
