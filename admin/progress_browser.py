"""The Progress page: look an entity up and see everything gamify knows about it.

``?entity=<id>&entity_type=<type>`` shows the entity's progress on every goal (hidden
ones too) with the tree of its criteria and what is missing, its awards, the
assignments given to it and by it, its notifications and its latest events. Other
pages link here with ``url_for("gamify_progress.index", entity=..., entity_type=...)``.

Authors (users who are not superusers) see only what concerns the goals they own:
progress, awards and assignments of those goals, notifications about them, and events
of the types their goals count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import request
from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import Session

from flask_gamify.criteria import compile_criteria
from flask_gamify.errors import GamifyError
from flask_gamify.models import Event, Goal
from flask_gamify.records import (
    AssignmentView,
    AwardView,
    GoalView,
    NotificationView,
    ProgressView,
)

from .access import Scope
from .base import GamifyView, asset_url
from .display import (
    check_entity,
    check_entity_type,
    compact_json,
    format_number,
    format_time,
    zone_name,
)
from .progress_tree import ProgressNode, goal_tree

__all__ = ["ProgressBrowserView"]

#: How many of the entity's events are shown, newest first.
RECENT_EVENTS = 50
#: How many notifications are shown, newest first.
NOTIFICATIONS = 50
#: How many recent events the suggestions (entity types, recently active) look at.
SUGGESTION_WINDOW = 1000
#: How many recently active entities the lookup page offers.
RECENT_ENTITIES = 12


@dataclass(frozen=True, slots=True)
class GoalProgress:
    """A goal's progress with the goal's definition beside it."""

    view: ProgressView
    goal: GoalView
    tree: ProgressNode

    @property
    def state(self) -> str:
        if self.view.completed:
            return "completed"
        return "in progress" if self.tree.started else "not started"


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event of the log, its attributes shortened for a table cell."""

    id: str
    type: str
    occurred_at: datetime
    processed_at: datetime
    late: bool
    attributes: dict[str, Any]
    summary: str
    cut: bool


@dataclass
class EntityReport:
    """Everything shown about one entity."""

    entity: str
    entity_type: str
    goals: list[GoalProgress] = field(default_factory=list)
    awards: list[AwardView] = field(default_factory=list)
    assigned_to: list[AssignmentView] = field(default_factory=list)
    assigned_by: list[AssignmentView] = field(default_factory=list)
    notifications: list[NotificationView] = field(default_factory=list)
    events: list[LoggedEvent] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Whether gamify holds anything about the entity (within the viewer's scope)."""
        return bool(
            any(goal.tree.started for goal in self.goals)
            or self.awards
            or self.assigned_to
            or self.assigned_by
            or self.notifications
            or self.events
        )

    @property
    def points(self) -> int:
        return sum(award.points for award in self.awards)

    def count(self, state: str) -> int:
        return sum(1 for goal in self.goals if goal.state == state)


class ProgressBrowserView(GamifyView):
    """Look up an entity: progress on every goal, awards, assignments, notifications, events."""

    @property
    def extra_css(self) -> list[str]:
        return [*super().extra_css, asset_url("gamify_admin/progress.css")]

    @expose("/")
    def index(self) -> Any:
        default_type = self.state.default_entity_type
        entity = request.args.get("entity", "").strip()
        entity_type = request.args.get("entity_type", "").strip() or default_type
        errors: dict[str, str] = {}
        if "entity" in request.args:
            problem = check_entity(entity)
            if problem:
                errors["entity"] = problem
        problem = check_entity_type(entity_type)
        if problem:
            errors["entity_type"] = problem
        scope = self.scope()
        with self.state.session_factory() as session:
            suggestions = self._entity_types(session, default_type)
            recent = [] if entity and not errors else self._recent_entities(session, scope)
        context = {
            "entity": entity,
            "entity_type": entity_type,
            "default_entity_type": default_type,
            "errors": errors,
            "entity_types": suggestions,
            "recent_entities": recent,
            "format_time": format_time,
            "format_number": format_number,
            "zone": zone_name(),
            "report": None,
        }
        if not entity or errors:
            status = 400 if errors else 200
            return self.render("gamify_admin/progress_lookup.html", **context), status
        context["report"] = self._report(entity, entity_type, scope)
        return self.render("gamify_admin/progress_entity.html", **context)

    # -- what the page shows ------------------------------------------------------------

    def _report(self, entity: str, entity_type: str, scope: Scope) -> EntityReport:
        gamify = self.gamify
        goals = {goal.key: goal for goal in gamify.goals(include_archived=True)}

        def allowed(key: str | None) -> bool:
            goal = goals.get(key or "")
            return goal is not None and scope.allows(goal.owner)

        report = EntityReport(entity=entity, entity_type=entity_type)
        for view in gamify.progress(entity, entity_type=entity_type, include_hidden=True):
            if allowed(view.goal):
                goal = goals[view.goal]
                tree = goal_tree(view, str(goal.criteria.get("type", "")))
                report.goals.append(GoalProgress(view=view, goal=goal, tree=tree))
        report.awards = [
            award
            for award in reversed(gamify.awards(entity, entity_type=entity_type))
            if allowed(award.goal)
        ]
        report.assigned_to = [
            assignment
            for assignment in gamify.assignments(assignee=entity, entity_type=entity_type)
            if allowed(assignment.goal)
        ]
        report.assigned_by = [
            assignment
            for assignment in gamify.assignments(assigned_by=entity, entity_type=entity_type)
            if allowed(assignment.goal)
        ]
        report.notifications = [
            notification
            for notification in gamify.notifications(
                entity, entity_type=entity_type, limit=NOTIFICATIONS
            )
            if scope.everything or allowed(notification.data.get("goal"))
        ]
        event_types = None if scope.everything else _event_types(goals.values(), scope)
        with self.state.session_factory() as session:
            report.events = _recent_events(session, entity_type, entity, event_types)
        return report

    def _entity_types(self, session: Session, default_type: str) -> list[str]:
        """Entity types of goals and of recent events, the default first."""
        recent = (
            select(Event.entity_type)
            .order_by(Event.processed_at.desc())
            .limit(SUGGESTION_WINDOW)
            .subquery()
        )
        seen = set(session.execute(select(recent.c.entity_type).distinct()).scalars())
        seen.update(session.execute(select(Goal.entity_type).distinct()).scalars())
        seen.discard(default_type)
        return [default_type, *sorted(seen)]

    def _recent_entities(self, session: Session, scope: Scope) -> list[tuple[str, str]]:
        """Entities of the latest events, as ``(entity_type, entity_id)``, newest first."""
        query = select(Event.entity_type, Event.entity_id).order_by(
            Event.processed_at.desc(), Event.id
        )
        if not scope.everything:
            goals = self.gamify.goals(owner=scope.owner) if scope.owner else []
            types = _event_types(goals, scope)
            if not types:
                return []
            query = query.where(Event.type.in_(sorted(types)))
        found: list[tuple[str, str]] = []
        for row in session.execute(query.limit(SUGGESTION_WINDOW)):
            key = (row.entity_type, row.entity_id)
            if key not in found:
                found.append(key)
                if len(found) == RECENT_ENTITIES:
                    break
        return found


def _event_types(goals: Any, scope: Scope) -> set[str]:
    """The event types the goals within ``scope`` count."""
    types: set[str] = set()
    for goal in goals:
        if not scope.allows(goal.owner):
            continue
        try:
            types.update(compile_criteria(goal.criteria).event_types)
        except GamifyError:  # a stored definition this version no longer accepts
            continue
    return types


def _recent_events(
    session: Session, entity_type: str, entity: str, event_types: set[str] | None
) -> list[LoggedEvent]:
    """The entity's latest events by event time (``event_types``: only those)."""
    query = select(
        Event.id,
        Event.type,
        Event.attributes,
        Event.occurred_at,
        Event.processed_at,
        Event.late,
    ).where(Event.entity_type == entity_type, Event.entity_id == entity)
    if event_types is not None:
        if not event_types:
            return []
        query = query.where(Event.type.in_(sorted(event_types)))
    rows = session.execute(
        query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(RECENT_EVENTS)
    )
    events = []
    for row in rows:
        attributes = row.attributes or {}
        summary, cut = compact_json(attributes)
        events.append(
            LoggedEvent(
                id=row.id,
                type=row.type,
                occurred_at=row.occurred_at,
                processed_at=row.processed_at,
                late=bool(row.late),
                attributes=attributes,
                summary=summary,
                cut=cut,
            )
        )
    return events
