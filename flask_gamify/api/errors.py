"""JSON errors for the REST API, registered on its blueprint only.

Every error the API answers has the same shape::

    {"error": {"status": 422, "message": "...", "errors": {"events[3].type": ["..."]}}}

The handlers are attached to the blueprint, never to the app: the host's own error
pages (HTML 404s, Flask-Admin's 403s, ...) stay exactly as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.routing import Map, Rule

from ..errors import InvalidInputError

__all__ = ["ApiError", "register_error_handlers"]

logger = logging.getLogger("flask_gamify.api")

#: Headers an error keeps (the others, such as werkzeug's HTML Content-Type, are dropped).
_KEPT_HEADERS = frozenset({"allow", "www-authenticate", "retry-after"})


class ApiError(HTTPException):
    """An HTTP error with a message, optional per-field errors and extra headers."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description=message)
        self.code = code
        #: ``{"field.path": ["message", ...]}``
        self.errors = {path: list(messages) for path, messages in (errors or {}).items()}
        self.extra_headers = dict(headers or {})


def error_response(
    status: int,
    message: str,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if errors:
        body["errors"] = dict(errors)
    response = jsonify(error=body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {
        name: value
        for name, value in error.get_headers(request.environ)
        if name.lower() in _KEPT_HEADERS
    }
    errors: dict[str, list[str]] | None = None
    if isinstance(error, ApiError):
        headers.update(error.extra_headers)
        errors = error.errors
    elif isinstance(error, InvalidInputError):
        errors = error.errors
    message = error.description or (error.name if status != 500 else "Internal error.")
    if status >= 500:
        message = InternalServerError.description or "Internal error."
    return error_response(status, str(message), errors, headers)


def handle_unexpected(error: Exception) -> Response:
    logger.exception("Unexpected error in the Flask-Gamify REST API", exc_info=error)
    return error_response(
        500,
        "The server failed to complete the request; the error was logged. Retry later or"
        " report it to the administrators.",
    )


def allowed_methods(path: str) -> list[str]:
    """The methods the API's routes (not the catch-all) serve at ``path``."""
    from flask import current_app

    rules = [
        Rule(rule.rule, methods=rule.methods, endpoint=rule.endpoint)
        for rule in current_app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{request.blueprint}.")
        and rule.endpoint != f"{request.blueprint}.unmatched"
    ]
    adapter = Map(rules).bind("localhost")
    try:
        adapter.match(path, method="--")
    except MethodNotAllowed as error:
        return sorted(error.valid_methods or ())
    except HTTPException:
        pass
    return []


def unmatched(path: str = "") -> Response:
    """The answer for a URL under the API prefix that no route serves: JSON 404 or 405.

    A catch-all rule routes those here (blueprint error handlers never see routing
    errors); whether another rule takes the path with a different method decides
    between 404 and 405.
    """
    methods = allowed_methods(request.path)
    if methods:
        raise ApiError(
            405,
            f"{request.method} is not allowed on {request.path}; use {', '.join(methods)}.",
            headers={"Allow": ", ".join(methods)},
        )
    raise ApiError(
        404,
        f"No API endpoint at {request.path}. The OpenAPI document lists every endpoint.",
    )


def fix_options_response(response: Response) -> Response:
    """Keep the catch-all's methods out of the ``Allow`` header of OPTIONS answers."""
    if request.method != "OPTIONS":
        return response
    methods = allowed_methods(request.path)
    if not methods:
        return error_response(
            404, f"No API endpoint at {request.path}. The OpenAPI document lists every endpoint."
        )
    response.headers["Allow"] = ", ".join(methods)
    return response


def register_error_handlers(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    blueprint.register_error_handler(Exception, handle_unexpected)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"]
    blueprint.add_url_rule("/<path:path>", "unmatched", unmatched, methods=methods)
    blueprint.after_request(fix_options_response)
