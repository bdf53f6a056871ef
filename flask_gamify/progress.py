"""Reading progress and awards: stored states evaluated at the time of reading."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from .errors import GoalNotFound
from .models import Assignment, Award, Goal, Progress, utcnow
from .processing import BatchProcessor, held_awards
from .records import AwardView, ProgressView

__all__ = ["awards", "has_completed", "points", "progress"]

_PROGRESS = cast(Table, Progress.__table__)


def progress(
    session: Session,
    processor: BatchProcessor,
    entity_type: str,
    entity_id: str,
    goal_key: str | None = None,
    *,
    include_hidden: bool = False,
) -> list[ProgressView]:
    """Progress on one goal (any, archived too), or on every goal visible to the entity.

    Visible goals: live (active, not archived), of the entity's type, not hidden unless
    completed, and, for ``assigned_only`` goals, assigned to the entity.
    """
    columns = (
        _PROGRESS.c.goal_id,
        _PROGRESS.c.state,
        _PROGRESS.c.criteria_hash,
        _PROGRESS.c.times_completed,
        _PROGRESS.c.completed_at,
        _PROGRESS.c.late_events,
        held_awards(_PROGRESS).label("held"),
    )
    rows = {
        row.goal_id: row
        for row in session.execute(
            select(*columns).where(
                _PROGRESS.c.entity_type == entity_type, _PROGRESS.c.entity_id == entity_id
            )
        )
    }
    catalog = processor.catalog.goals(session)
    if goal_key is not None:
        goals = [goal for goal in catalog if goal.key == goal_key]
        if not goals:
            raise GoalNotFound(goal_key)
    else:
        goals = [goal for goal in catalog if goal.live and goal.entity_type == entity_type]
    assigned: set[int] = set()
    if goal_key is None and any(goal.assigned_only for goal in goals):
        assigned = set(
            session.execute(
                select(Assignment.goal_id).where(
                    Assignment.entity_type == entity_type, Assignment.entity_id == entity_id
                )
            ).scalars()
        )
    keys = {goal.id: goal.key for goal in catalog}
    completed = {keys[row.goal_id]: _held(row) for row in rows.values() if _held(row)}
    context = processor.context(utcnow(), completed)
    views = []
    for goal in goals:
        row = rows.get(goal.id)
        times = _held(row) if row else 0
        if goal_key is None:
            if goal.assigned_only and goal.id not in assigned:
                continue
            if goal.hidden and not include_hidden and not times:
                continue
        state = row.state if row is not None and row.criteria_hash == goal.criteria_hash else None
        views.append(
            ProgressView.build(
                goal.key,
                goal.name,
                goal.points,
                goal.criterion.evaluate(state, context),
                times,
                row.completed_at if row and times else None,
                row.late_events if row else 0,
            )
        )
    return views


def _held(row: Any) -> int:
    """Occurrences the entity holds: those given, less those revoked by hand."""
    return min(int(row.times_completed), int(row.held))


def has_completed(session: Session, entity_type: str, entity_id: str, goal_key: str) -> bool:
    """Whether the entity was awarded the goal at least once; unknown goals raise."""
    if session.execute(select(Goal.id).where(Goal.key == goal_key)).first() is None:
        raise GoalNotFound(goal_key)
    found = session.execute(
        select(Award.id)
        .join(Goal, Goal.id == Award.goal_id)
        .where(Goal.key == goal_key, Award.entity_type == entity_type, Award.entity_id == entity_id)
        .limit(1)
    ).first()
    return found is not None


def awards(session: Session, entity_type: str, entity_id: str) -> list[AwardView]:
    """The entity's awards, oldest first."""
    rows = session.execute(
        select(Award, Goal.key, Goal.name)
        .join(Goal, Goal.id == Award.goal_id)
        .where(Award.entity_type == entity_type, Award.entity_id == entity_id)
        .order_by(Award.awarded_at, Award.id)
    )
    return [
        AwardView(
            goal=key,
            name=name,
            entity_type=award.entity_type,
            entity=award.entity_id,
            occurrence=award.occurrence,
            points=award.points,
            awarded_at=award.awarded_at,
            achieved_at=award.achieved_at,
        )
        for award, key, name in rows
    ]


def points(session: Session, entity_type: str, entity_id: str) -> int:
    """The total points of the entity's awards."""
    total = session.execute(
        select(func.coalesce(func.sum(Award.points), 0)).where(
            Award.entity_type == entity_type, Award.entity_id == entity_id
        )
    ).scalar_one()
    return int(total)
