"""The Goals page: the list of goals and the goal editor (to be completed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from flask_gamify.models import Goal

from .base import GamifyModelView
from .criteria_editor import CriteriaEditorMixin

__all__ = ["GoalsView"]


class GoalsView(CriteriaEditorMixin, GamifyModelView):
    """Goals, scoped to the current author's own unless a superuser looks."""

    column_list = ("key", "name", "status", "owner", "entity_type", "points", "hidden")
    column_searchable_list = ("key", "name", "description")
    column_default_sort = "key"

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(Goal, session, **kwargs)

    def _scoped(self, query: Any) -> Any:
        scope = self.scope()
        if scope.everything:
            return query
        return query.filter(Goal.owner == scope.owner) if scope.owner else query.filter(False)

    def get_query(self) -> Any:
        return self._scoped(super().get_query())

    def get_count_query(self) -> Any:
        return self._scoped(super().get_count_query())

    def get_one(self, id: Any) -> Goal | None:
        goal: Goal | None = self.session.execute(
            select(Goal).where(Goal.id == int(id))
        ).scalar_one_or_none()
        if goal is None or not self.scope().allows(goal.owner):
            return None
        return goal
