"""Assigning goals (to-do lists) to entities, and the notifications that follow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import AssignmentError, GoalNotFound
from .models import Assignment, Goal, Notification, utcnow
from .records import AssignmentView, NotificationView

__all__ = ["assign", "assignments", "mark_read", "notifications"]


def assign(
    session: Session,
    goal_key: str,
    *,
    entity_type: str,
    assignee: str,
    assigned_by: str | None,
    assigned_by_type: str,
    due_at: datetime | None,
) -> AssignmentView:
    """Assign an ``assigned_only`` goal; assigning it again returns the first assignment,
    unchanged (``due_at`` and ``assigned_by`` included)."""
    goal = session.execute(select(Goal).where(Goal.key == goal_key)).scalar_one_or_none()
    if goal is None:
        raise GoalNotFound(goal_key)
    if not goal.assigned_only:
        raise AssignmentError(
            f"The goal {goal_key!r} is open to every entity; only goals defined with"
            " assigned_only=True can be assigned."
        )
    if goal.archived_at is not None:
        raise AssignmentError(f"The goal {goal_key!r} is archived; define it again to assign it.")
    if goal.entity_type != entity_type:
        raise AssignmentError(
            f"The goal {goal_key!r} is for entities of type {goal.entity_type!r}, not"
            f" {entity_type!r}."
        )
    existing = _find(session, goal.id, entity_type, assignee)
    if existing is None:
        assignment = Assignment(
            goal_id=goal.id,
            entity_type=entity_type,
            entity_id=assignee,
            assigned_by=assigned_by,
            assigned_by_type=assigned_by_type,
            assigned_at=utcnow(),
            due_at=due_at,
        )
        try:
            with session.begin_nested():
                session.add(assignment)
        except IntegrityError:
            # Assigned concurrently by someone else: theirs is the assignment.
            existing = _find(session, goal.id, entity_type, assignee)
        else:
            existing = assignment
    assert existing is not None
    return AssignmentView.from_row(existing, goal.key)


def _find(session: Session, goal_id: int, entity_type: str, entity_id: str) -> Assignment | None:
    return session.execute(
        select(Assignment).where(
            Assignment.goal_id == goal_id,
            Assignment.entity_type == entity_type,
            Assignment.entity_id == entity_id,
        )
    ).scalar_one_or_none()


def assignments(
    session: Session,
    *,
    entity_type: str,
    assignee: str | None = None,
    assigned_by: str | None = None,
) -> list[AssignmentView]:
    """Assignments given to ``assignee``, or given by ``assigned_by``, oldest first."""
    query = select(Assignment, Goal.key).join(Goal, Goal.id == Assignment.goal_id)
    if assignee is not None:
        query = query.where(Assignment.entity_type == entity_type, Assignment.entity_id == assignee)
    if assigned_by is not None:
        query = query.where(
            Assignment.assigned_by_type == entity_type, Assignment.assigned_by == assigned_by
        )
    rows = session.execute(query.order_by(Assignment.assigned_at, Assignment.id))
    return [AssignmentView.from_row(assignment, key) for assignment, key in rows]


def notifications(
    session: Session, entity_type: str, entity_id: str, *, unread_only: bool, limit: int
) -> list[NotificationView]:
    """The entity's notifications, newest first."""
    query = select(Notification).where(
        Notification.entity_type == entity_type, Notification.entity_id == entity_id
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    rows = session.execute(query.order_by(Notification.id.desc()).limit(limit)).scalars()
    return [
        NotificationView(
            id=row.id,
            entity_type=row.entity_type,
            entity=row.entity_id,
            kind=row.kind,
            data=row.data,
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]


def mark_read(session: Session, entity_type: str, entity_id: str, ids: list[int] | None) -> int:
    """Mark the entity's notifications (``ids``, or all) read; return how many changed."""
    statement = (
        update(Notification)
        .where(
            Notification.entity_type == entity_type,
            Notification.entity_id == entity_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    return session.execute(statement).rowcount  # type: ignore[attr-defined, no-any-return]
