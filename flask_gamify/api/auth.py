"""Who may call the REST API: bearer API keys with scopes, or the host's authorizer.

Every view calls :func:`authorize` first with its action (a scope name). Without an
authorizer registered with :meth:`Gamify.api_authorizer`, the request must carry
``Authorization: Bearer <key>`` for an unrevoked key holding that scope: no key or an
invalid one answers 401, a key without the scope 403. With an authorizer, it alone
decides, and receives the goal concerned when there is one, so that a host can let
content owners edit only their own goals.
"""

from __future__ import annotations

from flask import current_app, g, request

from ..extension import get_state
from ..records import GoalView
from .errors import ApiError
from .keys import ApiKeyView, authenticate

__all__ = ["authorize", "current_api_key"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="flask-gamify"'}


def current_api_key() -> ApiKeyView | None:
    """The API key of the current request, once :func:`authorize` accepted it."""
    key: ApiKeyView | None = g.get("_gamify_api_key")
    return key


def _bearer_key() -> ApiKeyView:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "This endpoint needs an API key: send 'Authorization: Bearer <key>'. Create a key"
            " with 'flask gamify keys create NAME --scopes ...'.",
            headers=_CHALLENGE,
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "The Authorization header must be 'Bearer <key>'.",
            headers=_CHALLENGE,
        )
    with get_state().transaction() as session:
        key = authenticate(session, token.strip())
    if key is None:
        raise ApiError(
            401,
            "The API key is unknown or was revoked; check it with 'flask gamify keys list'.",
            headers=_CHALLENGE,
        )
    return key


def authorize(action: str, goal_key: str | None = None) -> GoalView | None:
    """Allow the current request to do ``action`` (on the goal ``goal_key``), or abort.

    :return: the goal, when an authorizer needed it loaded (``None`` otherwise).
    :raises ApiError: 401 without valid credentials, 403 when they do not allow
        ``action``.
    :raises GoalNotFound: with an authorizer, when ``goal_key`` names no goal.
    """
    state = get_state()
    authorizer = state.extension._api_authorizer
    if authorizer is not None:
        goal = state.extension.goal(goal_key) if goal_key is not None else None
        if not current_app.ensure_sync(authorizer)(action, goal):
            raise ApiError(403, f"You are not allowed to {_describe(action, goal)}.")
        return goal
    key = _bearer_key()
    g._gamify_api_key = key
    if action not in key.scopes:
        raise ApiError(
            403,
            f"The API key {key.name!r} lacks the {action!r} scope needed to"
            f" {_describe(action, None)}; create a key with that scope.",
        )
    return None


def _describe(action: str, goal: GoalView | None) -> str:
    what = {
        "events:write": "send events",
        "goals:read": "read goals",
        "goals:write": "change goals",
        "progress:read": "read progress",
    }.get(action, action)
    return f"{what} ({goal.key!r})" if goal is not None else what
