"""Who may open the dashboard (:class:`Access`), and whose goals they see (:class:`Scope`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Access", "Scope"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which goals the current user of the dashboard sees and edits.

    ``everything`` for superusers; otherwise only goals whose ``owner`` is ``owner``
    (and none at all when ``owner`` is ``None``: an author whose id is unknown).
    """

    everything: bool
    owner: str | None = None

    def allows(self, goal_owner: str | None) -> bool:
        """Whether a goal owned by ``goal_owner`` is within this scope."""
        return self.everything or (self.owner is not None and goal_owner == self.owner)


class Access:
    """The host's three answers, asked on every request of every view.

    :param can_access: whether the current user may open the dashboard at all.
    :param current_author: the current user's owner id: without superuser rights they
        see and edit only goals they own, and the goals they create are theirs.
    :param is_superuser: whether the current user sees everything (goals of every
        owner, operations, API keys). When it is not given, everyone who may open the
        dashboard is a superuser unless ``current_author`` is given.
    """

    def __init__(
        self,
        can_access: Callable[[], object],
        current_author: Callable[[], object] | None = None,
        is_superuser: Callable[[], object] | None = None,
    ) -> None:
        self._can_access = can_access
        self._current_author = current_author
        self._is_superuser = is_superuser

    def allowed(self) -> bool:
        """Whether the current user may open the dashboard."""
        return bool(self._can_access())

    def superuser(self) -> bool:
        """Whether the current user sees and changes everything."""
        if not self.allowed():
            return False
        if self._is_superuser is not None:
            return bool(self._is_superuser())
        return self._current_author is None

    def author(self) -> str | None:
        """The current user's owner id (``None``: unknown, or no ``current_author``)."""
        if self._current_author is None:
            return None
        author = self._current_author()
        return None if author is None or author == "" else str(author)

    def scope(self) -> Scope:
        """The goals the current user sees."""
        if self.superuser():
            return Scope(everything=True, owner=self.author())
        return Scope(everything=False, owner=self.author())
