"""The Progress page: look an entity up and see everything gamify knows about it.

``?entity=<id>&entity_type=<type>`` shows the entity's progress on every goal (hidden
ones too) with the tree of its criteria and what is missing, its awards, the
assignments given to it and by it, its notifications and its latest events. Other
pages link here with ``url_for("gamify_progress.index", entity=..., entity_type=...)``.

Superusers also see the entity's points: its balance per category, its level (when
levels are defined for its type) and its points ledger, paged newest first, and they
adjust points by hand (:meth:`Gamify.adjust_points`, with a reason and an idempotency
key made for each rendering of the form, so that a double submit counts once).

Authors (users who are not superusers) see only what concerns the goals they own:
progress, awards and assignments of those goals, notifications about them, and events
of the types their goals count. They revoke awards of their own goals here, as on the
Awards page; points are not theirs to see or adjust (a balance adds up every goal's
points and every adjustment).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import Session

from flask_gamify.criteria import compile_criteria
from flask_gamify.errors import (
    AwardNotFound,
    GamifyError,
    GoalNotFound,
    IdempotencyConflict,
    InvalidInputError,
    LevelsNotDefined,
)
from flask_gamify.ledger import DEFAULT_CATEGORY, LedgerEntryView
from flask_gamify.levels import LevelView
from flask_gamify.models import Event, Goal, utcnow
from flask_gamify.records import (
    AssignmentView,
    AwardView,
    GoalView,
    NotificationView,
    ProgressView,
)

from .access import Scope
from .base import GamifyView, asset_url, field_errors
from .display import (
    check_entity,
    check_entity_type,
    compact_json,
    format_number,
    format_time,
    zone_name,
)
from .leaderboards import known_boards
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
#: Ledger entries per page.
LEDGER_PAGE = 20
#: What an amount typed in the adjust form looks like: ASCII digits, an optional sign
#: (``int()`` alone would also take ``1_000`` and digits of other scripts).
AMOUNT = re.compile(r"[+-]?[0-9]{1,19}")


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
class PointsReport:
    """An entity's points, level and a page of its ledger (shown to superusers)."""

    balance: int
    #: Balances of other categories than the default one (non-zero ones).
    categories: dict[str, int]
    level: LevelView | None
    ledger: list[LedgerEntryView]
    #: The ``ledger_before`` of the next (older) page, ``None`` on the last one.
    older: int | None
    #: Whether this is the newest page.
    first_page: bool


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
    #: ``None`` for viewers who may not see points.
    points_report: PointsReport | None = None

    @property
    def known(self) -> bool:
        """Whether gamify holds anything about the entity (within the viewer's scope)."""
        return bool(
            any(goal.tree.started for goal in self.goals)
            or (self.points_report is not None and self.points_report.ledger)
            or self.awards
            or self.assigned_to
            or self.assigned_by
            or self.notifications
            or self.events
        )

    @property
    def points(self) -> int:
        """The points of the awards listed (the balance is in :attr:`points_report`)."""
        return sum(award.points for award in self.awards)

    def count(self, state: str) -> int:
        return sum(1 for goal in self.goals if goal.state == state)


class ProgressBrowserView(GamifyView):
    """Look up an entity: progress on every goal, awards, assignments, notifications,
    events, and (for superusers) points; adjust points and revoke awards."""

    @property
    def extra_css(self) -> list[str]:
        return [*super().extra_css, asset_url("gamify_admin/progress.css")]

    @property
    def extra_js(self) -> list[str]:
        # The revoke dialog is the Awards page's, script included.
        return [*super().extra_js, asset_url("gamify_admin/awards.js")]

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
        if not entity or errors:
            scope = self.scope()
            with self.state.session_factory() as session:
                suggestions = self._entity_types(session, default_type)
                recent = [] if errors else self._recent_entities(session, scope)
            context = self._context(entity, entity_type, suggestions, errors)
            context["recent_entities"] = recent
            status = 400 if errors else 200
            return self.render("gamify_admin/progress_lookup.html", **context), status
        return self._entity_page(entity, entity_type)

    def _context(
        self, entity: str, entity_type: str, entity_types: list[str], errors: dict[str, str]
    ) -> dict[str, Any]:
        return {
            "entity": entity,
            "entity_type": entity_type,
            "default_entity_type": self.state.default_entity_type,
            "errors": errors,
            "entity_types": entity_types,
            "recent_entities": [],
            "format_time": format_time,
            "format_number": format_number,
            "zone": zone_name(),
            "report": None,
        }

    def _entity_page(
        self,
        entity: str,
        entity_type: str,
        *,
        adjust_form: dict[str, str] | None = None,
        adjust_errors: dict[str, list[str]] | None = None,
        revoke_form: dict[str, Any] | None = None,
        revoke_errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> Any:
        """The entity's page; a refused form comes back with its values and errors."""
        scope = self.scope()
        with self.state.session_factory() as session:
            suggestions = self._entity_types(session, self.state.default_entity_type)
        context = self._context(entity, entity_type, suggestions, {})
        report = self._report(entity, entity_type, scope)
        if scope.everything:
            report.points_report = self._points(entity, entity_type)
        context.update(
            report=report,
            adjust_form=adjust_form
            or {"amount": "", "reason": "", "category": "", "key": uuid.uuid4().hex},
            adjust_errors=adjust_errors or {},
            revoke_form=revoke_form,
            revoke_errors=revoke_errors or {},
            default_category=DEFAULT_CATEGORY,
            ledger_categories=self._categories(entity_type),
        )
        html = self.render("gamify_admin/progress_entity.html", **context)
        return html if status == 200 else (html, status)

    def _entity_of_form(self) -> tuple[str, str]:
        """The entity a form posts about; 400 when it cannot be one (forms send ours)."""
        entity = (request.form.get("entity") or "").strip()
        entity_type = (request.form.get("entity_type") or "").strip()
        entity_type = entity_type or self.state.default_entity_type
        problem = check_entity(entity) or check_entity_type(entity_type)
        if problem:
            abort(400, description=problem)
        return entity, entity_type

    def _back(self, entity: str, entity_type: str, section: str) -> Any:
        return redirect(url_for(".index", entity=entity, entity_type=entity_type, _anchor=section))

    # -- points ---------------------------------------------------------------------------

    def _categories(self, entity_type: str) -> list[str]:
        """Categories in use for the entity type, the default first."""
        with self.state.session_factory() as session:
            found = {category for kind, category in known_boards(session) if kind == entity_type}
        found.discard(DEFAULT_CATEGORY)
        return [DEFAULT_CATEGORY, *sorted(found)]

    def _points(self, entity: str, entity_type: str) -> PointsReport:
        gamify = self.gamify
        before = _positive_int(request.args.get("ledger_before"))
        ledger = gamify.points_ledger(
            entity, entity_type=entity_type, before=before, limit=LEDGER_PAGE + 1
        )
        categories = {}
        for category in self._categories(entity_type)[1:]:
            amount = gamify.points(entity, entity_type=entity_type, category=category)
            if amount:
                categories[category] = amount
        try:
            level: LevelView | None = gamify.level(entity, entity_type=entity_type)
        except LevelsNotDefined:
            level = None
        return PointsReport(
            balance=gamify.points(entity, entity_type=entity_type),
            categories=categories,
            level=level,
            ledger=ledger[:LEDGER_PAGE],
            older=ledger[LEDGER_PAGE - 1].id if len(ledger) > LEDGER_PAGE else None,
            first_page=before is None,
        )

    @expose("/adjust/", methods=("POST",))
    def adjust(self) -> Any:
        if not self.access.superuser():
            abort(403, description="Only superusers adjust points: a balance spans every goal.")
        entity, entity_type = self._entity_of_form()
        form = {
            "amount": (request.form.get("amount") or "").strip(),
            "reason": (request.form.get("reason") or "").strip(),
            "category": (request.form.get("category") or "").strip(),
            "key": (request.form.get("idempotency_key") or "").strip() or uuid.uuid4().hex,
        }
        errors: dict[str, list[str]] = {}
        amount = 0
        if not AMOUNT.fullmatch(form["amount"]):
            errors["amount"] = [
                "Enter a whole number of points: positive to give points, negative (such as"
                " -20) to take them back."
                if form["amount"]
                else "Enter the number of points: positive to give, negative to take back."
            ]
        else:
            amount = int(form["amount"])
        started = utcnow()
        try:
            if errors:
                raise InvalidInputError(errors)
            entry = self.gamify.adjust_points(
                entity,
                amount,
                reason=form["reason"],
                idempotency_key=form["key"],
                changed_by=self.access.author(),
                category=form["category"] or None,
                entity_type=entity_type,
            )
        except InvalidInputError as error:
            errors = {**field_errors(error), **errors}
            if "idempotency_key" in errors:  # not one this page made: make a good one
                form["key"] = uuid.uuid4().hex
            return self._refused_adjustment(entity, entity_type, form, errors, 400)
        except IdempotencyConflict:
            # The same rendering of the form was sent before with other values (Back,
            # edit, send): that one counted; this one needs a fresh form.
            form["key"] = uuid.uuid4().hex
            errors = {
                "amount": [
                    "This form was already sent with another amount or category, and that"
                    " adjustment was recorded. Check the ledger below; to change the points"
                    " again, send this renewed form."
                ]
            }
            return self._refused_adjustment(entity, entity_type, form, errors, 409)
        recorded = entry.recorded_at
        if recorded.tzinfo is None:
            recorded = recorded.replace(tzinfo=UTC)
        sign = "+" if entry.amount > 0 else ""
        if recorded < started:
            flash(
                f"This adjustment was already recorded (ledger entry {entry.id}: {sign}"
                f"{entry.amount} {entry.category}); it was not applied twice.",
                "info",
            )
        else:
            flash(
                f"Recorded {sign}{entry.amount} {entry.category} for {entity_type} {entity}"
                f" (ledger entry {entry.id}).",
                "success",
            )
        return self._back(entity, entity_type, "points")

    def _refused_adjustment(
        self,
        entity: str,
        entity_type: str,
        form: dict[str, str],
        errors: dict[str, list[str]],
        status: int,
    ) -> Any:
        return self._entity_page(
            entity, entity_type, adjust_form=form, adjust_errors=errors, status=status
        )

    # -- revoking an award ------------------------------------------------------------------

    @expose("/revoke/", methods=("POST",))
    def revoke(self) -> Any:
        entity, entity_type = self._entity_of_form()
        form: dict[str, Any] = {
            "goal": (request.form.get("goal") or "").strip(),
            "entity": entity,
            "entity_type": entity_type,
            "occurrence": (request.form.get("occurrence") or "").strip(),
            "reason": (request.form.get("reason") or "").strip(),
            "reset_progress": request.form.get("reset_progress") == "1",
        }
        try:
            goal = self.gamify.goal(form["goal"]) if form["goal"] else None
        except GoalNotFound:
            goal = None
        # A goal out of the viewer's scope answers as if it did not exist.
        if goal is None or not self.scope().allows(goal.owner):
            abort(404, description=f"There is no goal {form['goal']!r} you can see.")
        form["goal_name"] = goal.name
        try:
            if not form["occurrence"].isascii() or not form["occurrence"].isdigit():
                raise InvalidInputError({"occurrence": ["Must be a whole number, such as 1."]})
            removed = self.gamify.revoke_award(
                entity,
                goal.key,
                int(form["occurrence"]),
                reason=form["reason"],
                changed_by=self.access.author(),
                entity_type=entity_type,
                reset_progress=bool(form["reset_progress"]),
            )
        except InvalidInputError as error:
            return self._entity_page(
                entity,
                entity_type,
                revoke_form=form,
                revoke_errors=field_errors(error),
                status=400,
            )
        except AwardNotFound as error:
            flash(error.message, "error")
            return self._back(entity, entity_type, "awards")
        flash(
            f"Revoked “{goal.name}” (occurrence {removed.occurrence}) from"
            f" {removed.entity_type} {removed.entity}"
            + (f"; {removed.points} points taken back." if removed.points else "."),
            "success",
        )
        return self._back(entity, entity_type, "awards")

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


def _positive_int(value: str | None) -> int | None:
    """A page cursor from the query string; anything else is the first page."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value) or None


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
