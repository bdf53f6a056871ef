"""Goal versions: every change of a goal's definition, recorded with what changed.

Every writer of goal definitions calls :func:`record_change` after changing a goal row in
its transaction: it records a new version when a field changed (nothing otherwise) and
increments the catalog version so that every process reloads its goals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .catalog import bump_catalog_version
from .errors import GoalError, GoalNotFound
from .models import ENTITY_LENGTH, Goal, GoalVersionRow
from .records import GoalVersion, GoalView

__all__ = ["check_changed_by", "definition_fields", "goal_versions", "record_change"]

#: Fields of :meth:`GoalView.to_dict` that are not part of a definition.
_NOT_VERSIONED = frozenset({"key", "created_at", "updated_at"})


def definition_fields(goal: GoalView) -> dict[str, Any]:
    """What a version compares: the goal's JSON form without its key and timestamps."""
    return {name: value for name, value in goal.to_dict().items() if name not in _NOT_VERSIONED}


def changed_fields(
    before: dict[str, Any] | None, after: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """``{field: {"before": ..., "after": ...}}`` for the fields that differ."""
    old = before or {}
    return {
        name: {"before": old.get(name), "after": value}
        for name, value in after.items()
        if before is None or old.get(name) != value
    }


def check_changed_by(changed_by: object) -> str | None:
    """Validate ``changed_by=``; raise :class:`GoalError` naming the fix."""
    if changed_by is None:
        return None
    if (
        not isinstance(changed_by, str)
        or not changed_by.strip()
        or len(changed_by) > ENTITY_LENGTH
        or "\x00" in changed_by
    ):
        raise GoalError(
            {
                "changed_by": [
                    f"Must be text of 1 to {ENTITY_LENGTH} characters without NUL (who made"
                    f" the change), or None; got {changed_by!r:.80}."
                ]
            }
        )
    return changed_by


def record_change(
    session: Session,
    goal: Goal,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    *,
    changed_at: datetime,
    changed_by: str | None,
) -> bool:
    """Record a version of ``goal`` if ``after`` differs from ``before``; say whether.

    :param before: :func:`definition_fields` before the change (``None``: a new goal).
    :param after: :func:`definition_fields` after it; ``goal`` must be flushed.
    """
    changes = changed_fields(before, after)
    if not changes:
        return False
    latest = session.execute(
        select(func.max(GoalVersionRow.version)).where(GoalVersionRow.goal_id == goal.id)
    ).scalar_one()
    session.add(
        GoalVersionRow(
            goal_id=goal.id,
            version=(latest or 0) + 1,
            changed_at=changed_at,
            changed_by=changed_by,
            changes=changes,
        )
    )
    bump_catalog_version(session)
    return True


def goal_versions(session: Session, key: str) -> list[GoalVersion]:
    """Every version of the goal ``key``, oldest first; :class:`GoalNotFound` if none."""
    goal_id = session.execute(select(Goal.id).where(Goal.key == key)).scalar_one_or_none()
    if goal_id is None:
        raise GoalNotFound(key)
    rows = session.execute(
        select(GoalVersionRow)
        .where(GoalVersionRow.goal_id == goal_id)
        .order_by(GoalVersionRow.version)
    ).scalars()
    return [
        GoalVersion(
            goal=key,
            version=row.version,
            changed_at=row.changed_at,
            changed_by=row.changed_by,
            changes=row.changes,
        )
        for row in rows
    ]
