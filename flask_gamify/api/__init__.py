"""The REST API blueprint (``GAMIFY_API_PREFIX``, default ``/gamify/api``).

JSON in and out, bearer API keys with scopes (or the host's authorizer), errors as JSON
confined to this blueprint, and an OpenAPI document at ``/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from ..state import get_state
from .auth import refuse_cross_site_requests
from .docs_page import DOCS_PAGE_POLICY, STATIC_FOLDER, render_docs_page
from .errors import register_error_handlers
from .keys import ApiKey
from .openapi import build_spec
from .views import DEFAULT_MAX_CONTENT_LENGTH, ROUTES, check_request
from .webhook_views import WEBHOOK_ROUTES

__all__ = ["ApiKey", "create_blueprint"]


def _document() -> dict[str, Any]:
    config = current_app.config
    limits = get_state().limits
    return build_spec(
        request.script_root + url_for(".index"),
        int(config["GAMIFY_MAX_BATCH"]),
        int(config.get("GAMIFY_MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH)),
        attributes_depth=limits.attributes_depth,
        attributes_bytes=limits.attributes_bytes,
    )


def openapi_document() -> Response:
    """The OpenAPI document (no API key needed)."""
    return jsonify(_document())


def docs_page() -> Response:
    """Swagger UI showing the OpenAPI document, with try-it-out (a bearer key)."""
    page = render_docs_page(url_for(".openapi"), url_for(".static", filename=""))
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_PAGE_POLICY
    return response


def index() -> Response:
    """Links to the OpenAPI document and the docs page."""
    return jsonify(openapi=url_for(".openapi"), docs=url_for(".docs"))


#: Sent with every answer of the API: JSON is data, never a page to render or sniff.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def add_security_headers(response: Response) -> Response:
    """``nosniff`` on every answer, and a policy that lets nothing load or frame it.

    The docs page sets its own (narrow) policy; ``setdefault`` keeps it.
    """
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", API_POLICY)
    return response


def create_blueprint() -> Blueprint:
    """A new blueprint serving the REST API (registered by :meth:`Gamify.init_app`)."""
    # The static folder serves the docs page's viewer (see docs_page).
    blueprint = Blueprint(
        "gamify_api", __name__, static_folder=STATIC_FOLDER, static_url_path="/static"
    )
    blueprint.before_request(refuse_cross_site_requests)
    blueprint.before_request(check_request)
    blueprint.after_request(add_security_headers)
    for rule, endpoint, view_class in (*ROUTES, *WEBHOOK_ROUTES):
        blueprint.add_url_rule(rule, view_func=view_class.as_view(endpoint))
    blueprint.add_url_rule("/", "index", index)
    blueprint.add_url_rule("/openapi.json", "openapi", openapi_document)
    blueprint.add_url_rule("/docs", "docs", docs_page)
    register_error_handlers(blueprint)
    return blueprint
