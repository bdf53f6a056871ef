"""The Assignments page: to-do goals given to entities, and the form to give them.

The list shows open and completed assignments (overdue ones highlighted) with who
assigned them, filtered by goal, status, assignee and assigner, a page at a time. The
"Assign" form gives an ``assigned_only`` goal to one or more pasted ids through
:meth:`Gamify.assign <flask_gamify.Gamify.assign>` and reports each id: assigned,
already assigned (the first assignment stands, due date included), already completed,
or refused.

Authors see and assign only their own goals, as themselves; superusers see everything
and may name who assigns. Due dates are entered and shown in ``GAMIFY_TIMEZONE``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask import request
from flask_admin import expose
from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from flask_gamify.errors import GamifyError, GoalNotFound
from flask_gamify.models import Assignment, Goal, utcnow
from flask_gamify.records import AssignmentView, GoalView

from .access import Scope
from .assign_form import AssignRequest, LineOutcome, goal_problem, read_form
from .base import GamifyView, asset_url
from .display import check_entity, format_number, format_time, site_timezone, zone_name

__all__ = ["AssignmentsView"]

#: Assignments per page of the list.
PAGE_SIZE = 25
#: The status filter's choices.
STATUSES = ("all", "open", "overdue", "completed")


@dataclass(frozen=True, slots=True)
class AssignmentRow(AssignmentView):
    """One assignment of the list: the public view, with its goal's name and whether
    it is overdue now."""

    goal_name: str = ""
    overdue: bool = False


class AssignmentsView(GamifyView):
    """Open and completed assignments of to-do goals; assigning them."""

    @property
    def extra_css(self) -> list[str]:
        return [*super().extra_css, asset_url("gamify_admin/progress.css")]

    # -- the list ---------------------------------------------------------------------

    @expose("/")
    def index(self) -> Any:
        scope = self.scope()
        args = request.args
        filters = {
            "goal": args.get("goal", "").strip(),
            "status": args.get("status", "all").strip() or "all",
            "assignee": args.get("assignee", "").strip(),
            "assigned_by": args.get("assigned_by", "").strip(),
        }
        errors: dict[str, str] = {}
        if filters["status"] not in STATUSES:
            errors["status"] = (
                f"Unknown status {filters['status']!r}; choose one of {', '.join(STATUSES)}."
            )
            filters["status"] = "all"
        for name, what in (("assignee", "assignee's id"), ("assigned_by", "assigner's id")):
            problem = check_entity(filters[name], name) if filters[name] else None
            if problem:
                errors[name] = problem.replace("entity id", what)
                filters[name] = ""
        page_text = args.get("page", "1").strip() or "1"
        page = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 0
        if page == 0:
            errors["page"] = f"The page must be a whole number from 1 (got {page_text!r})."
            page = 1
        goals = [goal for goal in self._scoped_goals(scope) if goal.assigned_only]
        now = utcnow()
        with self.state.session_factory() as session:
            base = self._filtered(scope, filters)
            counts = self._status_counts(session, base, now)
            query = _with_status(base, filters["status"], now)
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            pages = max(1, -(-total // PAGE_SIZE))
            page = min(page, pages)
            rows = [
                replace(
                    AssignmentRow.from_row(assignment, key),
                    goal_name=name,
                    overdue=assignment.completed_at is None
                    and assignment.due_at is not None
                    and assignment.due_at < now,
                )
                for assignment, key, name in session.execute(
                    query.order_by(Assignment.assigned_at.desc(), Assignment.id.desc())
                    .limit(PAGE_SIZE)
                    .offset((page - 1) * PAGE_SIZE)
                )
            ]
        filtered = any(filters[name] for name in ("goal", "assignee", "assigned_by")) or (
            filters["status"] != "all"
        )
        return self.render(
            "gamify_admin/assignments.html",
            rows=rows,
            filters=filters,
            filtered=filtered,
            errors=errors,
            goals=goals,
            counts=counts,
            total=total,
            page=page,
            pages=pages,
            statuses=STATUSES,
            default_entity_type=self.state.default_entity_type,
            format_time=format_time,
            format_number=format_number,
            zone=zone_name(),
        ), (400 if errors else 200)

    def _scoped_goals(self, scope: Scope) -> list[GoalView]:
        if scope.everything:
            return self.gamify.goals(include_archived=True)
        if scope.owner is None:
            return []
        return self.gamify.goals(include_archived=True, owner=scope.owner)

    def _filtered(self, scope: Scope, filters: dict[str, str]) -> Select[Any]:
        query: Select[Any] = select(Assignment, Goal.key, Goal.name).join(  # type: ignore[assignment]
            Goal, Goal.id == Assignment.goal_id
        )
        if not scope.everything:
            query = query.where(Goal.owner == scope.owner) if scope.owner else query.where(false())
        if filters["goal"]:
            query = query.where(Goal.key == filters["goal"])
        if filters["assignee"]:
            query = query.where(Assignment.entity_id == filters["assignee"])
        if filters["assigned_by"]:
            query = query.where(Assignment.assigned_by == filters["assigned_by"])
        return query

    @staticmethod
    def _status_counts(session: Session, base: Select[Any], now: datetime) -> dict[str, int]:
        return {
            status: session.execute(
                select(func.count()).select_from(_with_status(base, status, now).subquery())
            ).scalar_one()
            for status in STATUSES
        }

    # -- the form ---------------------------------------------------------------------

    @expose("/assign/", methods=("GET", "POST"))
    def assign(self) -> Any:
        scope = self.scope()
        choices = [
            goal
            for goal in self._scoped_goals(scope)
            if goal.assigned_only and not goal.archived and goal.status == "active"
        ]
        if request.method == "GET":
            form = AssignRequest(
                goal=request.args.get("goal", "").strip(),
                assignees_text=request.args.get("assignees", ""),
                assigned_by=scope.owner or "",
            )
            return self._render_form(form, choices, scope, outcomes=None)
        form = read_form(request.form, site_timezone(), utcnow())
        if not scope.everything:
            form.assigned_by = scope.owner or ""  # authors assign as themselves
        goal = self._goal(form.goal, scope)
        problem = goal_problem(goal, form.goal)
        if problem:
            form.errors["goal"] = problem
        if form.errors:
            return self._render_form(form, choices, scope, outcomes=None), 400
        assert goal is not None
        outcomes = self._assign_each(goal, form)
        if any(outcome.outcome == "assigned" for outcome in outcomes):
            form.assignees_text = ""
        return self._render_form(form, choices, scope, outcomes=outcomes)

    def _goal(self, key: str, scope: Scope) -> GoalView | None:
        """The goal ``key`` if the current user may assign it (others do not exist here)."""
        if not key:
            return None
        try:
            goal = self.gamify.goal(key)
        except GoalNotFound:
            return None
        return goal if scope.allows(goal.owner) else None

    def _assign_each(self, goal: GoalView, form: AssignRequest) -> list[LineOutcome]:
        assigned_by = form.assigned_by or None
        existing = self._existing(goal, form.assignees)
        outcomes: list[LineOutcome] = []
        seen: set[str] = set()
        for number, assignee in enumerate(form.assignees, start=1):
            if assignee in seen:
                outcomes.append(LineOutcome(number, assignee, "listed twice", "Assigned once."))
                continue
            seen.add(assignee)
            problem = check_entity(assignee, "assignees")
            if problem:
                outcomes.append(LineOutcome(number, assignee, "refused", problem))
                continue
            try:
                view = self.gamify.assign(
                    goal.key,
                    assignee=assignee,
                    assigned_by=assigned_by,
                    due_at=form.due_at,
                    entity_type=goal.entity_type,
                )
            except GamifyError as error:
                outcomes.append(LineOutcome(number, assignee, "refused", error.message))
                continue
            if view.id not in existing:
                due = (
                    f"Due {format_time(view.due_at)} {zone_name()}."
                    if view.due_at
                    else "No due date."
                )
                outcomes.append(LineOutcome(number, assignee, "assigned", due))
                continue
            by = f" by {view.assigned_by}" if view.assigned_by else ""
            when = f"{format_time(view.assigned_at)} {zone_name()}"
            if view.completed:
                detail = (
                    f"Assigned{by} on {when}, completed on"
                    f" {format_time(view.completed_at)} {zone_name()}; nothing changed."
                )
                outcomes.append(LineOutcome(number, assignee, "already completed", detail))
            else:
                detail = f"Assigned{by} on {when}; that assignment stands"
                detail += ", due date unchanged." if form.due_at else "."
                outcomes.append(LineOutcome(number, assignee, "already assigned", detail))
        return outcomes

    def _existing(self, goal: GoalView, assignees: list[str]) -> set[int]:
        """Ids of the goal's assignments to ``assignees`` made before this submission."""
        with self.state.session_factory() as session:
            return set(
                session.execute(
                    select(Assignment.id)
                    .join(Goal, Goal.id == Assignment.goal_id)
                    .where(
                        Goal.key == goal.key,
                        Assignment.entity_type == goal.entity_type,
                        Assignment.entity_id.in_(sorted(set(assignees))),
                    )
                ).scalars()
            )

    def _render_form(
        self,
        form: AssignRequest,
        choices: list[GoalView],
        scope: Scope,
        outcomes: list[LineOutcome] | None,
    ) -> str:
        default_type = self.state.default_entity_type
        goal_entity_type = next(
            (goal.entity_type for goal in choices if goal.key == form.goal), default_type
        )
        summary: dict[str, int] = {}
        for outcome in outcomes or []:
            summary[outcome.outcome] = summary.get(outcome.outcome, 0) + 1
        return self.render(
            "gamify_admin/assignments_form.html",
            form=form,
            choices=choices,
            superuser=scope.everything,
            outcomes=outcomes,
            summary=summary,
            zone=zone_name(),
            default_entity_type=default_type,
            goal_entity_type=goal_entity_type,
            format_time=format_time,
        )


def _with_status(query: Select[Any], status: str, now: datetime) -> Select[Any]:
    if status == "open":
        return query.where(Assignment.completed_at.is_(None))
    if status == "completed":
        return query.where(Assignment.completed_at.is_not(None))
    if status == "overdue":
        return query.where(
            Assignment.completed_at.is_(None),
            Assignment.due_at.is_not(None),
            Assignment.due_at < now,
        )
    return query
