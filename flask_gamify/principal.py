"""Who calls the REST API, as a host's authorizer reports it: :class:`ApiPrincipal`.

A function registered with :meth:`Gamify.api_authorizer` answers ``True`` (allowed,
without restriction), ``False`` (refused) or an :class:`ApiPrincipal`: allowed, as a
caller bound to an owner and/or an entity, and optionally limited to some scopes. The
REST API applies the same rules to a principal as to an API key bound to an owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import GamifyError

__all__ = ["ApiPrincipal"]


@dataclass(frozen=True, slots=True, init=False)
class ApiPrincipal:
    """The caller of a REST API request, with what it is bound to.

    :param scopes: the actions it may do (scope names such as ``"goals:read"``);
        ``None`` (the default) leaves every decision to the authorizer.
    :param owner: bind it to this goal owner: it reads and writes only goals whose
        ``owner`` is this one, creates goals for this owner, and cannot give a goal away.
    :param entity: the entity it is (its id): it reads and changes the progress,
        awards, assignments and notifications of this entity only, and sees this
        entity's hidden goals.
    :param entity_type: the type of ``entity`` (default: ``GAMIFY_DEFAULT_ENTITY_TYPE``).

    A principal with neither ``owner`` nor ``entity`` is *unrestricted*, like ``True``.
    """

    scopes: frozenset[str] | None = None
    owner: str | None = None
    entity: str | None = None
    entity_type: str | None = None

    def __init__(
        self,
        *,
        scopes: Iterable[str] | None = None,
        owner: str | None = None,
        entity: str | int | None = None,
        entity_type: str | None = None,
    ) -> None:
        # A typo in a scope name would silently refuse everything: say so instead.
        from .api.keys import SCOPES

        chosen = None if scopes is None else frozenset(scopes)
        unknown = sorted((chosen or frozenset()) - set(SCOPES))
        if unknown:
            raise GamifyError(
                f"Unknown scope(s) {', '.join(unknown)} in ApiPrincipal; choose among"
                f" {', '.join(SCOPES)}."
            )
        if owner is not None and not isinstance(owner, str):
            raise GamifyError("ApiPrincipal(owner=...) must be a string (a goal owner) or None.")
        object.__setattr__(self, "scopes", chosen)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "entity", None if entity is None else str(entity))
        object.__setattr__(self, "entity_type", entity_type)

    @property
    def unrestricted(self) -> bool:
        """Whether it is bound to neither an owner nor an entity."""
        return self.owner is None and self.entity is None
