"""The Goals page: the list of goals and the goal editor (to be completed)."""

from __future__ import annotations

from typing import Any

from flask import flash
from sqlalchemy import select

from flask_gamify.errors import GoalNotFound, InvalidInputError
from flask_gamify.models import Goal

from .base import GamifyModelView, asset_url
from .criteria_editor import CriteriaEditorMixin
from .fields import CriteriaField

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
        goal = self.session.execute(select(Goal).where(Goal.id == int(id))).scalar_one_or_none()
        if goal is None or not self.scope().allows(goal.owner):
            return None
        return goal

    # -- minimal editor wiring (admin-builder branch) ----------------------------------
    # Just enough of the goal editor to host the criteria builder and its preview; the
    # Goals view's own branch has the full editor (options, icon, drafts, versions).

    can_create = True
    can_edit = True
    create_template = "gamify_admin/goals/create.html"
    edit_template = "gamify_admin/goals/edit.html"
    form_columns = (
        "key",
        "name",
        "description",
        "criteria",
        "entity_type",
        "points",
        "repeatable",
        "max_awards",
    )
    form_overrides = {"criteria": CriteriaField}  # noqa: RUF012 (Flask-Admin's declaration)

    @property
    def extra_css(self) -> list[str]:
        return [*super().extra_css, asset_url("gamify_admin/criteria-builder.css")]

    @property
    def extra_js(self) -> list[str]:
        return [
            *super().extra_js,
            asset_url("gamify_admin/criteria-builder.js"),
            asset_url("gamify_admin/preview.js"),
        ]

    def _options(self, form: Any) -> dict[str, Any]:
        options = {
            field.name: field.data
            for field in form
            if field.name not in ("key", "criteria", "csrf_token")
        }
        options["name"] = options["name"] or form.key.data
        options["description"] = options["description"] or ""
        options["points"] = options["points"] or 0
        options["entity_type"] = options["entity_type"] or None
        return {name: value for name, value in options.items() if value is not None}

    def _refused(self, form: Any, error: InvalidInputError) -> bool:
        for path, messages in error.errors.items():
            name = path.split(".", 1)[0].split("[", 1)[0]
            field = form[name] if name in form else None  # noqa: SIM401 (a WTForms form)
            if isinstance(field, CriteriaField):
                field.path_errors = error.errors
                field.errors = [*field.errors, *(f"{path}: {m}" for m in messages)]
            elif field is not None:
                field.errors = [*field.errors, *messages]
        flash(f"The goal was not saved: {error.message}", "error")
        return False

    def create_model(self, form: Any) -> Any:
        key = form.key.data or ""
        try:
            self.gamify.goal(key)
        except GoalNotFound:
            pass
        else:
            form.key.errors = [*form.key.errors, "This key is taken; choose another key."]
            return False
        scope = self.scope()
        try:
            self.gamify.define_goal(
                key,
                criteria=form.criteria.data,
                status="draft",
                owner=None if scope.everything else scope.owner,
                changed_by=self.access.author(),
                **self._options(form),
            )
        except InvalidInputError as error:
            return self._refused(form, error)
        return self.session.execute(select(Goal).where(Goal.key == key)).scalar_one()

    def update_model(self, form: Any, model: Goal) -> bool:
        try:
            self.gamify.define_goal(
                model.key,
                criteria=form.criteria.data,
                status=model.status,
                owner=model.owner,
                changed_by=self.access.author(),
                **self._options(form),
            )
        except InvalidInputError as error:
            return self._refused(form, error)
        return True

    def on_form_prefill(self, form: Any, id: Any) -> None:
        form.key.render_kw = {"readonly": True}
