"""Who may call the REST API, and what each caller may see: the authorization model.

Every view calls :func:`authorize` first with its action (a scope name) and gets a
:class:`Caller`. Without an authorizer registered with :meth:`Gamify.api_authorizer`, the
request must carry ``Authorization: Bearer <key>`` for an unrevoked key holding that
scope: no key or an invalid one answers 401, a key without the scope 403. With an
authorizer, it alone decides: it answers ``True`` (an unrestricted caller), ``False``
(403) or an :class:`~flask_gamify.ApiPrincipal` (a caller bound to an owner and/or an
entity).

The rules that depend on a goal or an entity are the caller's methods:

* a caller bound to an owner (an owner-bound key, a principal with ``owner``) acts only
  on that owner's goals; any other goal answers exactly like an unknown goal (404);
* a hidden goal's definition is shown only to callers who may author it (``goals:write``
  on it); its progress, while not completed, only to the entity itself, unrestricted
  callers and callers who may author it;
* a caller bound to an entity reads and changes only that entity's data;
* a caller refused an action on a goal it may not see gets the answer it would get for
  an unknown goal, so goal keys cannot be discovered by probing.

State-changing requests without a bearer key must have a JSON content type
(:func:`refuse_cross_site_requests`): a host authorizer trusting the session cookie then
cannot be driven by a cross-site form.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from ..errors import GoalNotFound
from ..principal import ApiPrincipal
from ..records import GoalView
from ..state import get_state
from .errors import ApiError
from .keys import ApiKeyView, authenticate

if TYPE_CHECKING:
    from ..extension import ApiAuthorizer

__all__ = ["Caller", "authorize", "current_api_key", "refuse_cross_site_requests"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="flask-gamify"'}
#: Methods that change something; they need a bearer key or a JSON body.
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def current_api_key() -> ApiKeyView | None:
    """The API key of the current request, once :func:`authorize` accepted it."""
    key: ApiKeyView | None = g.get("_gamify_api_key")
    return key


def _has_bearer_key() -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def refuse_cross_site_requests() -> None:
    """Refuse state-changing requests that a cross-site page could send (CSRF).

    A browser sends a host's session cookie with any cross-site form post, but it sends
    neither a JSON content type nor an ``Authorization: Bearer`` header without asking
    the host first (a CORS preflight). So a state-changing request must have one of
    them. ``Basic`` credentials do not count: browsers replay those by themselves. With
    API keys only, a request without a bearer key is answered 401 by :func:`authorize`.
    """
    if request.method not in STATE_CHANGING_METHODS or _has_bearer_key():
        return
    if request.endpoint == f"{request.blueprint}.unmatched":
        return  # no route takes it: answered 404 or 405, and nothing changes
    if request.is_json or get_state().extension._api_authorizer is None:
        return
    raise ApiError(
        415,
        f"{request.method} requests without an 'Authorization: Bearer <key>' header must"
        " send 'Content-Type: application/json' (with a JSON body, such as {} where the"
        " endpoint needs none); this keeps cross-site forms from acting for a logged-in"
        " user.",
    )


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
    state = get_state()
    token = token.strip()

    def lookup() -> ApiKeyView | None:
        # A read (and, once a minute, one UPDATE of last_used_at): no transaction needed.
        with state.reading() as session:
            return authenticate(session, token)

    key = state.api_key_cache.authenticate(token, lookup)
    if key is None:
        raise ApiError(
            401,
            "The API key is unknown or was revoked; check it with 'flask gamify keys list'.",
            headers=_CHALLENGE,
        )
    return key


def _owns(principal: ApiPrincipal, goal: GoalView) -> bool:
    return principal.owner is None or goal.owner == principal.owner


class Caller:
    """The caller of the current request: what it is bound to, and what it may see."""

    def __init__(
        self,
        principal: ApiPrincipal,
        *,
        key: ApiKeyView | None = None,
        authorizer: ApiAuthorizer | None = None,
        default_entity_type: str = "user",
    ) -> None:
        #: Who the caller is; for an API key, its scopes and owner.
        self.principal = principal
        #: The API key, when the request was authorized by one.
        self.key = key
        #: The goal of the URL, once :func:`authorize` found that the caller may act on it.
        self.goal: GoalView | None = None
        self._authorizer = authorizer
        self._default_entity_type = default_entity_type
        self._answers: dict[tuple[str, str | None, str | None], ApiPrincipal | None] = {}

    @property
    def owner(self) -> str | None:
        """The goal owner the caller is bound to, or ``None``."""
        return self.principal.owner

    @property
    def name(self) -> str | None:
        """Who the caller is, for goal versions: the API key's name, else the principal's
        entity or owner; ``None`` for an unrestricted authorizer answer."""
        if self.key is not None:
            return self.key.name
        return self.principal.entity or self.principal.owner

    def ask(
        self, action: str, goal: GoalView | None, *, probe: bool = False
    ) -> ApiPrincipal | None:
        """The authorizer's answer for ``action`` (on ``goal``): a principal, or ``None``.

        :param probe: asked to decide what to show, not for the request itself: an
            exception (such as ``abort(401)``) then counts as a refusal.
        """
        assert self._authorizer is not None
        cache_key = (
            action,
            None if goal is None else goal.key,
            None if goal is None else goal.owner,
        )
        if cache_key not in self._answers:
            try:
                answer = current_app.ensure_sync(self._authorizer)(action, goal)
            except HTTPException:
                if not probe:
                    raise
                answer = False
            principal: ApiPrincipal | None
            if isinstance(answer, ApiPrincipal):
                allowed = answer.scopes is None or action in answer.scopes
                principal = answer if allowed else None
            else:
                principal = ApiPrincipal() if answer else None
            self._answers[cache_key] = principal
        return self._answers[cache_key]

    def require(self, action: str) -> ApiPrincipal:
        """The authorizer's principal for ``action`` in general, or a 403."""
        principal = self.ask(action, None)
        if principal is None:
            raise ApiError(403, f"You are not allowed to {_describe(action, None)}.")
        return principal

    def is_entity(self, entity_type: str, entity: str) -> bool:
        """Whether the caller is this entity (a principal with ``entity``)."""
        principal = self.principal
        if principal.entity is None:
            return False
        own_type = principal.entity_type or self._default_entity_type
        return (own_type, principal.entity) == (entity_type, entity)

    def owns(self, goal: GoalView) -> bool:
        """Whether the caller may act on ``goal`` at all (its owner, or unbound)."""
        return _owns(self.principal, goal)

    def may_author(self, goal: GoalView) -> bool:
        """Whether the caller may change ``goal`` (``goals:write`` on it)."""
        if not self.owns(goal):
            return False
        if self._authorizer is None:
            return "goals:write" in (self.principal.scopes or ())
        answer = self.ask("goals:write", goal, probe=True)
        return answer is not None and _owns(answer, goal)

    def may_read(self, goal: GoalView) -> bool:
        """Whether the caller may see ``goal``'s definition (hidden ones: its authors)."""
        return self.owns(goal) and (not goal.hidden or self.may_author(goal))

    def may_see_progress(
        self, goal: GoalView, entity_type: str, entity: str, *, completed: bool
    ) -> bool:
        """Whether the caller may see an entity's progress (award, assignment) on ``goal``.

        The entity sees all of its own. Others see goals they may act on; a hidden goal
        not completed yet only when they are unrestricted or may author it.
        """
        if self.is_entity(entity_type, entity):
            return True
        if not self.owns(goal):
            return False
        if not goal.hidden or completed:
            return True
        return self.principal.unrestricted or self.may_author(goal)

    def check_entity(self, entity_type: str, entity: str) -> None:
        """Refuse a caller bound to another entity (403)."""
        principal = self.principal
        if principal.entity is not None and not self.is_entity(entity_type, entity):
            raise ApiError(
                403,
                f"This caller is the entity {principal.entity!r}; it may read and change only"
                " its own progress, awards, assignments and notifications.",
            )

    def check_inbox(self, entity_type: str, entity: str) -> None:
        """Refuse an owner-bound caller an entity's notifications, unless it is the entity.

        Notifications are an entity's inbox, not a goal's data: an owner-bound key (a
        content owner's tool) has no business reading or clearing them.
        """
        if self.owner is not None and not self.is_entity(entity_type, entity):
            raise ApiError(
                403,
                f"This caller is owner-bound (owner {self.owner!r}): it acts on that owner's"
                " goals, not on an entity's notifications. Use a key without an owner.",
            )

    def refuse_owner_bound(self, entity: tuple[str, str] | None, what: str) -> None:
        """Refuse an owner-bound caller (403) points, levels and leaderboards, unless it
        is the entity itself.

        Points come from every owner's goals and from adjustments: a key bound to one
        owner (a content owner's tool) may neither read another entity's total nor
        change it.
        """
        if self.owner is not None and (entity is None or not self.is_entity(*entity)):
            raise ApiError(
                403,
                f"This caller is owner-bound (owner {self.owner!r}): it acts on that owner's"
                f" goals, and {what} span every goal. Use a key without an owner.",
            )

    def refuse_entity_bound(self) -> None:
        """Refuse a caller bound to an entity a change of points (403): not even its own."""
        if self.principal.entity is not None:
            raise ApiError(
                403,
                f"This caller is the entity {self.principal.entity!r}; an entity may not"
                " change points or awards, not even its own.",
            )


def authorize(
    action: str, goal_key: str | None = None, *, entity: tuple[str, str] | None = None
) -> Caller:
    """Allow the current request to do ``action`` (on the goal ``goal_key``), or abort.

    :param entity: ``(entity_type, entity_id)`` of the URL, for per-entity endpoints.
    :return: the caller, with :attr:`Caller.goal` set when ``goal_key`` was given.
    :raises ApiError: 401 without valid credentials, 403 when they do not allow
        ``action`` (or the entity).
    :raises GoalNotFound: when ``goal_key`` names no goal, or one the caller may not act
        on and may not see (the same answer).
    """
    state = get_state()
    authorizer = state.extension._api_authorizer
    if authorizer is None:
        key = _bearer_key()
        g._gamify_api_key = key
        if action not in key.scopes:
            raise ApiError(
                403,
                f"The API key {key.name!r} lacks the {action!r} scope needed to"
                f" {_describe(action, None)}; create a key with that scope.",
            )
        caller = Caller(
            ApiPrincipal(scopes=key.scopes, owner=key.owner),
            key=key,
            default_entity_type=state.default_entity_type,
        )
        if entity is not None:
            caller.check_entity(*entity)
        if goal_key is not None:
            goal = state.extension.goal(goal_key)
            if not caller.owns(goal):
                raise GoalNotFound(goal_key)
            caller.goal = goal
        return caller

    caller = Caller(
        ApiPrincipal(), authorizer=authorizer, default_entity_type=state.default_entity_type
    )
    if goal_key is None:
        caller.principal = caller.require(action)
        if entity is not None:
            caller.check_entity(*entity)
        return caller
    try:
        found: GoalView | None = state.extension.goal(goal_key)
    except GoalNotFound:
        found = None
    answer = caller.ask(action, found) if found is not None else None
    if found is not None and answer is not None and _owns(answer, found):
        caller.principal = answer
        if entity is not None:
            caller.check_entity(*entity)
        caller.goal = found
        return caller
    if found is not None and answer is None and _may_see(caller, found):
        raise ApiError(403, f"You are not allowed to {_describe(action, found)}.")
    # An unknown goal, or one the caller may not see: the same answer either way.
    caller.principal = caller.require(action)
    if entity is not None:
        caller.check_entity(*entity)
    raise GoalNotFound(goal_key)


def _may_see(caller: Caller, goal: GoalView) -> bool:
    """Whether a caller refused an action on ``goal`` may know that it exists."""
    reader = caller.ask("goals:read", goal, probe=True)
    return reader is not None and _owns(reader, goal) and caller.may_read(goal)


def _describe(action: str, goal: GoalView | None) -> str:
    what = {
        "events:write": "send events",
        "goals:read": "read goals",
        "goals:write": "change goals",
        "progress:read": "read progress",
        "webhooks:write": "manage webhooks",
        "points:write": "adjust points and revoke awards",
    }.get(action, action)
    return f"{what} ({goal.key!r})" if goal is not None else what


def with_owner(goal: GoalView, owner: str | None) -> GoalView:
    """``goal`` as it would be with another ``owner`` (to ask who may author that)."""
    return dataclasses.replace(goal, owner=owner)
