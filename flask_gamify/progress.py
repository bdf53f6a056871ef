"""Reading progress and awards: stored states evaluated at the time of reading."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import GoalNotFound
from .models import Assignment, Award, Goal, Progress, utcnow
from .processing import BatchProcessor
from .records import AwardView, ProgressView

__all__ = ["awards", "has_completed", "points", "progress"]


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

    Visible goals: not archived, of the entity's type, not hidden unless completed, and,
    for ``assigned_only`` goals, assigned to the entity.
    """
    rows = {
        row.goal_id: row
        for row in session.execute(
            select(Progress).where(
                Progress.entity_type == entity_type, Progress.entity_id == entity_id
            )
        ).scalars()
    }
    goal_query = select(Goal).order_by(Goal.id)
    if goal_key is not None:
        goal_query = goal_query.where(Goal.key == goal_key)
    else:
        goal_query = goal_query.where(Goal.archived_at.is_(None), Goal.entity_type == entity_type)
    goals = session.execute(goal_query).scalars().all()
    if goal_key is not None and not goals:
        raise GoalNotFound(goal_key)
    assigned = set(
        session.execute(
            select(Assignment.goal_id).where(
                Assignment.entity_type == entity_type, Assignment.entity_id == entity_id
            )
        ).scalars()
    )
    done = {row.goal_id: row.times_completed for row in rows.values() if row.times_completed}
    keys: dict[int, str] = {}
    if done:
        keys = {
            row.id: row.key
            for row in session.execute(select(Goal.id, Goal.key).where(Goal.id.in_(done)))
        }
    completed = {keys[goal_id]: times for goal_id, times in done.items()}
    context = processor.context(utcnow(), completed)
    views = []
    for goal in goals:
        row = rows.get(goal.id)
        times = row.times_completed if row else 0
        if goal_key is None:
            if goal.assigned_only and goal.id not in assigned:
                continue
            if goal.hidden and not include_hidden and not times:
                continue
        state = row.state if row is not None and row.criteria_hash == goal.criteria_hash else None
        evaluation = processor.criterion_for(goal).evaluate(state, context)
        views.append(
            ProgressView.build(
                goal.key,
                goal.name,
                goal.points,
                evaluation,
                times,
                row.completed_at if row else None,
            )
        )
    return views


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
