"""What the Dashboard shows, read with SQL aggregates that run on SQLite and PostgreSQL.

Every query is bounded: per-day counts by a date range (events also by ``processed_at``,
which is indexed, or by type and time for an author's event types: the
``(type, occurred_at)`` index), and per-goal numbers by a short list of goals (the unique
index on progress and awards starts with ``goal_id``). Days are ``GAMIFY_TIMEZONE`` days:
their UTC boundaries are computed here, so no database needs to know about time zones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, or_, select, union
from sqlalchemy.orm import Session

from flask_gamify.criteria import compile_criteria
from flask_gamify.errors import GamifyError
from flask_gamify.models import Award, Event, Goal, Progress

from .access import Scope

__all__ = [
    "DashboardNumbers",
    "GoalRow",
    "StuckEntity",
    "collect",
    "local_days",
]

#: Goals in "top goals", and in the funnel and the stuck-entity counts.
GOALS_SHOWN = 10
#: Stuck entities listed by name (the longest stuck first); all are counted.
STUCK_SHOWN = 20


@dataclass
class GoalRow:
    """One goal's numbers."""

    id: int
    key: str
    name: str
    #: Awards in the period.
    awards: int = 0
    #: Entities that made some progress on the goal, or were awarded it.
    started: int = 0
    #: Entities awarded the goal at least once.
    completed: int = 0
    #: Entities between 1 % and 99 %, not awarded, without an update for the stuck period.
    stuck: int = 0

    @property
    def completion_rate(self) -> int | None:
        """Completed as a percentage of started (``None`` when nobody started)."""
        return round(100 * self.completed / self.started) if self.started else None


@dataclass(frozen=True)
class StuckEntity:
    goal: str
    entity_type: str
    entity_id: str
    percent: int
    updated_at: datetime


@dataclass
class DashboardNumbers:
    """Everything the Dashboard shows, for one scope and period."""

    days: list[date]
    events_per_day: list[int]
    awards_per_day: list[int]
    #: Goals by awards in the period (at most :data:`GOALS_SHOWN`, some awards first).
    top_goals: list[GoalRow]
    #: The goals of the funnel and of the stuck counts.
    funnel: list[GoalRow]
    stuck: list[StuckEntity]
    #: Whether the event log holds any event at all.
    any_event: bool
    #: Goals in scope (not archived).
    goal_count: int
    #: For an author: the event types their goals count (``None``: every event).
    event_types: list[str] | None = None
    stuck_total: int = 0

    @property
    def events_total(self) -> int:
        return sum(self.events_per_day)

    @property
    def awards_total(self) -> int:
        return sum(self.awards_per_day)


def local_days(now: datetime, zone: tzinfo, count: int) -> tuple[list[date], list[datetime]]:
    """The last ``count`` days of ``zone`` up to today, and their ``count + 1`` UTC bounds."""
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=count - 1 - offset) for offset in range(count)]
    bounds = [
        datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        for day in [*days, today + timedelta(days=1)]
    ]
    return days, bounds


def per_day(
    session: Session, column: Any, bounds: Sequence[datetime], *conditions: Any
) -> list[int]:
    """How many rows fall on each day between consecutive ``bounds``."""
    count = len(bounds) - 1
    day = case(*[(column < bounds[index + 1], index) for index in range(count)], else_=count)
    # Grouped in an outer query: PostgreSQL refuses a GROUP BY on an expression whose
    # bound parameters differ from the select list's.
    rows = (
        select(day.label("day"))
        .where(column >= bounds[0], column < bounds[-1], *conditions)
        .subquery()
    )
    counts = [0] * count
    for index, number in session.execute(select(rows.c.day, func.count()).group_by(rows.c.day)):
        if index is not None and 0 <= int(index) < count:
            counts[int(index)] = int(number)
    return counts


def _goal_filter(scope: Scope) -> ColumnElement[bool] | None:
    """``None`` for everything; otherwise the current author's goals (none if unknown)."""
    if scope.everything:
        return None
    if scope.owner is None:
        return Goal.id.is_(None)  # matches no goal
    return Goal.owner == scope.owner


def _event_types(session: Session, goal_filter: ColumnElement[bool]) -> list[str]:
    types: set[str] = set()
    query = select(Goal.criteria).where(goal_filter, Goal.archived_at.is_(None))
    for (criteria,) in session.execute(query):
        try:
            types |= compile_criteria(criteria, max_occurrences=None).event_types
        except GamifyError:  # a stored definition no longer valid: it counts nothing
            continue
    return sorted(types)


def collect(
    session: Session,
    scope: Scope,
    *,
    now: datetime,
    zone: tzinfo,
    days: int,
    stuck_after: timedelta,
    max_future: timedelta,
) -> DashboardNumbers:
    """Read the Dashboard's numbers for ``scope`` over the last ``days`` days of ``zone``.

    :param stuck_after: how long without an update makes unfinished progress "stuck".
    :param max_future: ``GAMIFY_MAX_FUTURE``: no event was processed earlier than this
        before it occurred, which bounds the event scan by the indexed ``processed_at``.
    """
    day_list, bounds = local_days(now, zone, days)
    start, end = bounds[0], bounds[-1]
    goal_filter = _goal_filter(scope)
    in_scope = [] if goal_filter is None else [goal_filter]

    event_types: list[str] | None = None
    if goal_filter is None:
        events = per_day(
            session, Event.occurred_at, bounds, Event.processed_at >= start - max_future
        )
    else:
        event_types = _event_types(session, goal_filter)
        events = (
            per_day(session, Event.occurred_at, bounds, Event.type.in_(event_types))
            if event_types
            else [0] * days
        )
    scoped_goal_ids = select(Goal.id).where(*in_scope).scalar_subquery()
    award_scope = [] if goal_filter is None else [Award.goal_id.in_(scoped_goal_ids)]
    awards = per_day(session, Award.achieved_at, bounds, *award_scope)

    awards_count = func.count(Award.id)
    top = session.execute(
        select(Goal.id, Goal.key, Goal.name, awards_count)
        .join(Award, Award.goal_id == Goal.id)
        .where(Award.achieved_at >= start, Award.achieved_at < end, *in_scope)
        .group_by(Goal.id, Goal.key, Goal.name)
        .order_by(awards_count.desc(), Goal.key)
        .limit(GOALS_SHOWN)
    ).all()
    top_goals = [GoalRow(id=row[0], key=row[1], name=row[2], awards=int(row[3])) for row in top]

    # The funnel: the top goals, then other live goals (by key) up to GOALS_SHOWN.
    funnel = [GoalRow(id=row.id, key=row.key, name=row.name) for row in top_goals]
    if len(funnel) < GOALS_SHOWN:
        taken = [row.id for row in funnel]
        more = session.execute(
            select(Goal.id, Goal.key, Goal.name)
            .where(
                Goal.archived_at.is_(None),
                Goal.status == "active",
                Goal.id.not_in(taken) if taken else Goal.id.is_not(None),
                *in_scope,
            )
            .order_by(Goal.key)
            .limit(GOALS_SHOWN - len(funnel))
        ).all()
        funnel += [GoalRow(id=row[0], key=row[1], name=row[2]) for row in more]
    ids = [row.id for row in funnel]
    stuck: list[StuckEntity] = []
    stuck_total = 0
    if ids:
        by_id = {row.id: row for row in funnel}
        started = union(
            select(Progress.goal_id, Progress.entity_type, Progress.entity_id).where(
                Progress.goal_id.in_(ids),
                or_(Progress.percent > 0, Progress.times_completed > 0),
            ),
            select(Award.goal_id, Award.entity_type, Award.entity_id).where(Award.goal_id.in_(ids)),
        ).subquery()
        for goal_id, number in session.execute(
            select(started.c.goal_id, func.count()).group_by(started.c.goal_id)
        ):
            by_id[goal_id].started = int(number)
        awarded = (
            select(Award.goal_id, Award.entity_type, Award.entity_id)
            .where(Award.goal_id.in_(ids))
            .distinct()
            .subquery()
        )
        for goal_id, number in session.execute(
            select(awarded.c.goal_id, func.count()).group_by(awarded.c.goal_id)
        ):
            by_id[goal_id].completed = int(number)

        stuck_conditions = (
            Progress.goal_id.in_(ids),
            Progress.percent > 0,
            Progress.percent < 100,
            Progress.times_completed == 0,
            Progress.updated_at < now - stuck_after,
        )
        for goal_id, number in session.execute(
            select(Progress.goal_id, func.count(distinct(Progress.id)))
            .where(*stuck_conditions)
            .group_by(Progress.goal_id)
        ):
            by_id[goal_id].stuck = int(number)
            stuck_total += int(number)
        stuck = [
            StuckEntity(
                goal=by_id[row.goal_id].key,
                entity_type=row.entity_type,
                entity_id=row.entity_id,
                percent=row.percent,
                updated_at=row.updated_at,
            )
            for row in session.execute(
                select(
                    Progress.goal_id,
                    Progress.entity_type,
                    Progress.entity_id,
                    Progress.percent,
                    Progress.updated_at,
                )
                .where(*stuck_conditions)
                .order_by(Progress.updated_at, Progress.id)
                .limit(STUCK_SHOWN)
            )
        ]

    any_event = session.execute(select(Event.id).limit(1)).first() is not None
    goal_count = int(
        session.execute(
            select(func.count()).select_from(Goal).where(Goal.archived_at.is_(None), *in_scope)
        ).scalar_one()
    )
    return DashboardNumbers(
        days=day_list,
        events_per_day=events,
        awards_per_day=awards,
        top_goals=top_goals,
        funnel=funnel,
        stuck=stuck,
        any_event=any_event,
        goal_count=goal_count,
        event_types=event_types,
        stuck_total=stuck_total,
    )
