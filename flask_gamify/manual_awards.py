"""Awards given and revoked by a person, and the audit trail that records them.

:meth:`Gamify.award` gives a goal's next occurrence by hand; :meth:`Gamify.revoke_award`
takes an award back. Both lock the entity's progress row on the goal, as live
processing does, so they take turns with batches and with each other; the unique
constraint on awards decides the rest. Each change is a row of ``gamify_award_changes``
with who did it and why (:meth:`Gamify.award_changes` reads them).

What the progress row's ``times_completed`` means makes revocation stick: it counts the
occurrences given, by the criteria or by hand, revoked ones included, and the criteria
only ever give occurrences above it. So a revoked award does not come back from the
history that earned it (nor from a backfill, which starts its count at the highest
occurrence changed by hand), while a repeatable goal is earned again by new
completions. What the entity *holds* is what is in ``gamify_awards``: progress, points,
``has_completed`` and ``goal`` prerequisites read that. ``reset_progress=True`` restarts
the entity's progress on the goal instead: its criteria state is cleared and it earns
the goal again from new events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, select
from sqlalchemy.orm import Session

from .catalog import CatalogGoal
from .criteria.limits import is_visible, unstorable_text
from .errors import AlreadyAwarded, AwardError, AwardNotFound, GoalNotFound, InvalidInputError
from .ledger import AWARD, REVOCATION
from .models import ENTITY_LENGTH, ENTITY_TYPE_LENGTH, Award, AwardChange, Goal, Notification
from .processing import (
    PROGRESS_RESET,
    BatchProcessor,
    BatchResult,
    ProgressChange,
    assigner_notifications,
    catalog_barrier,
    complete_assignment,
    notification,
)
from .progress_rows import lock_progress, write_progress
from .records import AwardChangeView, AwardView
from .sql import insert_ignoring_conflicts

__all__ = [
    "AWARDED",
    "MAX_CHANGES",
    "MAX_REASON_LENGTH",
    "REVOKED",
    "AwardContended",
    "HandChange",
    "award_changes",
    "check_change",
    "check_listing",
    "entity_text",
    "give_award",
    "take_back_award",
]

_AWARDS = cast(Table, Award.__table__)
_CHANGES = cast(Table, AwardChange.__table__)
_NOTIFICATIONS = cast(Table, Notification.__table__)

#: Actions of the audit trail (and :data:`~flask_gamify.processing.PROGRESS_RESET`).
AWARDED = "awarded"
REVOKED = "revoked"
#: Longest reason accepted, in characters.
MAX_REASON_LENGTH = 2000
#: The most audit rows one call of :func:`award_changes` returns.
MAX_CHANGES = 1000


class AwardContended(Exception):
    """Another transaction gave the same occurrence first (SQLite reads without locks);
    the caller runs the change again, which then sees it."""


@dataclass(frozen=True, slots=True)
class HandChange:
    """What a change by hand did: the award concerned, and what to signal."""

    award: AwardView
    #: What the person did (signals with ``manual=True``).
    result: BatchResult
    #: What the criteria gave in consequence: goals that need this one completed.
    follow_up: BatchResult


def entity_text(entity: object) -> str:
    """An entity id as stored: integers as text; anything else but text as ``""``
    (which :func:`check_change` refuses, naming the field)."""
    if isinstance(entity, bool):
        return ""
    if isinstance(entity, int):
        return str(entity)
    return entity if isinstance(entity, str) else ""


def check_change(
    entity: Any,
    entity_type: Any,
    reason: Any,
    changed_by: Any,
    occurrence: Any = None,
) -> dict[str, list[str]]:
    """The problems of a change's input, by field (empty: fine)."""
    errors: dict[str, list[str]] = {}
    for field, value, limit, what in (
        ("entity", entity, ENTITY_LENGTH, "entity"),
        ("entity_type", entity_type, ENTITY_TYPE_LENGTH, "entity type"),
    ):
        if not isinstance(value, str) or not is_visible(value.replace("\x00", "")):
            errors[field] = [f"Must be a non-empty string naming the {what}."]
        elif len(value) > limit:
            errors[field] = [f"Must be at most {limit} characters long (got {len(value)})."]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = [
            "Say why the award is given or taken back: the reason is recorded in the"
            " awards' audit trail and cannot be empty."
        ]
    elif len(reason) > MAX_REASON_LENGTH:
        errors["reason"] = [
            f"Must be at most {MAX_REASON_LENGTH} characters long (got {len(reason)})."
        ]
    if changed_by is not None and (not isinstance(changed_by, str) or len(changed_by) > 255):
        errors["changed_by"] = ["Must be a string of at most 255 characters, or None."]
    if occurrence is not None and (
        isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 1
    ):
        errors["occurrence"] = ["Must be a positive integer (1 for the first award), or None."]
    for field, value in (("entity", entity), ("reason", reason), ("changed_by", changed_by)):
        if field not in errors and isinstance(value, str):
            problem = unstorable_text(value, field)
            if problem is not None:
                errors[field] = [problem[1]]
    return errors


def _catalog_goal(processor: BatchProcessor, session: Session, key: str) -> CatalogGoal:
    for goal in processor.catalog.goals(session):
        if goal.key == key:
            return goal
    raise GoalNotFound(key)


def _held(session: Session, goal_id: int, entity_type: str, entity_id: str) -> list[Row[Any]]:
    return list(
        session.execute(
            select(_AWARDS)
            .where(
                _AWARDS.c.goal_id == goal_id,
                _AWARDS.c.entity_type == entity_type,
                _AWARDS.c.entity_id == entity_id,
            )
            .order_by(_AWARDS.c.occurrence)
        )
    )


def _progress_change(
    processor: BatchProcessor,
    goal: CatalogGoal,
    entity_type: str,
    entity_id: str,
    progress: dict[str, Any],
    held: int,
    now: datetime,
) -> ProgressChange:
    """The progress as a reader now sees it, for ``progress_changed``."""
    state = progress["state"] if progress["criteria_hash"] == goal.criteria_hash else None
    evaluation = goal.criterion.evaluate(state, processor.context(now, {}))
    return ProgressChange(
        goal.key,
        goal.name,
        goal.points,
        entity_type,
        entity_id,
        evaluation,
        held,
        progress["completed_at"] if held else None,
    )


def _record(
    session: Session,
    goal: CatalogGoal,
    entity_type: str,
    entity_id: str,
    *,
    action: str,
    occurrence: int,
    points: int,
    reason: str,
    changed_by: str | None,
    now: datetime,
) -> None:
    session.execute(
        _CHANGES.insert().values(
            goal_id=goal.id,
            entity_type=entity_type,
            entity_id=entity_id,
            occurrence=occurrence,
            action=action,
            points=points,
            reason=reason,
            changed_by=changed_by,
            changed_at=now,
        )
    )


def _slot(row: Row[Any]) -> dict[str, Any]:
    """A locked progress row as :func:`write_progress` takes it."""
    return {
        "id": row.id,
        "state": row.state,
        "criteria_hash": row.criteria_hash,
        "percent": row.percent,
        "times_completed": row.times_completed,
        "completed_at": row.completed_at,
        "late_events": row.late_events,
    }


def give_award(
    session: Session,
    processor: BatchProcessor,
    goal_key: str,
    entity_type: str,
    entity_id: str,
    *,
    reason: str,
    changed_by: str | None,
    now: datetime,
) -> HandChange:
    """Give the goal's next occurrence to the entity, in the caller's transaction.

    The occurrence is the one after every occurrence given so far; when a goal with a
    limit has none left above them, the lowest one revoked earlier is given again.

    :raises GoalNotFound: no goal has this key.
    :raises AwardError: the goal is archived, a draft, or for another entity type, or
        the entity already holds every award the goal allows.
    :raises AwardContended: another transaction gave the same occurrence meanwhile.
    """
    catalog_barrier(session, exclusive=False)
    goal = _catalog_goal(processor, session, goal_key)
    if goal.archived:
        raise AwardError(
            f"The goal {goal.key!r} is archived and cannot be awarded; restore it first"
            f" (gamify.restore_goal({goal.key!r}))."
        )
    if goal.status != "active":
        raise AwardError(
            f"The goal {goal.key!r} is a draft and cannot be awarded yet; activate it first"
            f" (gamify.activate_goal({goal.key!r}))."
        )
    if goal.entity_type != entity_type:
        raise AwardError(
            f"The goal {goal.key!r} is for entities of type {goal.entity_type!r}, not"
            f" {entity_type!r}; pass entity_type={goal.entity_type!r}."
        )
    key = (goal.id, entity_type, entity_id)
    row = lock_progress(session, [key], {goal.id: goal.criteria_hash}, now)[key]
    held = [award.occurrence for award in _held(session, *key)]
    limit = goal.most_awards
    if limit is not None and len(held) >= limit:
        if not goal.repeatable:
            problem = "already holds it (the goal is not repeatable)"
        else:
            problem = f"already holds it {len(held)} times, the goal's max_awards"
        raise AlreadyAwarded(
            f"{entity_type} {entity_id!r} {problem}; nothing was awarded for {goal.key!r}."
        )
    occurrence = max([row.times_completed, *held]) + 1
    if limit is not None and occurrence > limit:
        occurrence = min(set(range(1, limit + 1)) - set(held))
    won = insert_ignoring_conflicts(
        session,
        _AWARDS,
        [
            {
                "goal_id": goal.id,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "occurrence": occurrence,
                "points": goal.points,
                "awarded_at": now,
                "achieved_at": now,
            }
        ],
        ["goal_id", "entity_type", "entity_id", "occurrence"],
        returning=[_AWARDS.c.id],
    )
    if not won:
        raise AwardContended()
    progress = _slot(row)
    progress["times_completed"] = max(row.times_completed, occurrence)
    if progress["completed_at"] is None:
        progress["completed_at"] = now
    write_progress(session, [progress], now)
    result = BatchResult()
    award = AwardView(
        goal.key, goal.name, entity_type, entity_id, occurrence, goal.points, now, now
    )
    result.awards.append(award)
    result.changes.append(
        _progress_change(processor, goal, entity_type, entity_id, progress, len(held) + 1, now)
    )
    notifications = []
    if processor.notify_awards:
        notifications.append(
            notification(
                entity_type,
                entity_id,
                "goal-completed",
                {"goal": goal.key, "occurrence": occurrence, "points": goal.points},
                now,
            )
        )
    if goal.assigned_only:
        # A to-do goal given by hand is done: its open assignment completes, as when
        # the criteria give it, and whoever assigned it is told.
        assignment = complete_assignment(session, goal.id, goal.key, entity_type, entity_id, now)
        if assignment is not None:
            result.assignments.append(assignment)
            notifications.extend(assigner_notifications(assignment, goal.key, now))
    if notifications:
        session.execute(_NOTIFICATIONS.insert(), notifications)
    _record(
        session,
        goal,
        entity_type,
        entity_id,
        action=AWARDED,
        occurrence=occurrence,
        points=goal.points,
        reason=reason,
        changed_by=changed_by,
        now=now,
    )
    processor.record_webhooks(session, result, now)
    follow_up = processor.evaluate_dependents(session, goal.key, (entity_type, entity_id), now)
    # Last: balances are locked after every progress row (the dependents' ones too).
    processor.record_points(
        session, result, [award], AWARD, now, reason=reason, changed_by=changed_by
    )
    return HandChange(award, result, follow_up)


def take_back_award(
    session: Session,
    processor: BatchProcessor,
    goal_key: str,
    entity_type: str,
    entity_id: str,
    occurrence: int | None,
    *,
    reason: str,
    changed_by: str | None,
    reset_progress: bool,
    now: datetime,
) -> HandChange:
    """Revoke an award of the goal (``occurrence``, or the latest), in the caller's
    transaction. Archived goals and drafts are allowed: what they gave can be taken back.

    :raises GoalNotFound: no goal has this key.
    :raises AwardNotFound: the entity does not hold that award.
    """
    catalog_barrier(session, exclusive=False)
    goal = _catalog_goal(processor, session, goal_key)
    key = (goal.id, entity_type, entity_id)
    row = lock_progress(session, [key], {goal.id: goal.criteria_hash}, now)[key]
    held = _held(session, *key)
    if occurrence is None:
        found = held[-1] if held else None
    else:
        found = next((award for award in held if award.occurrence == occurrence), None)
    if found is None:
        which = "any award" if occurrence is None else f"occurrence {occurrence}"
        raise AwardNotFound(
            f"{entity_type} {entity_id!r} does not hold {which} of the goal {goal.key!r};"
            f" nothing was revoked (gamify.awards({entity_id!r}) lists what it holds)."
        )
    deleted = session.execute(delete(_AWARDS).where(_AWARDS.c.id == found.id))
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise AwardContended()  # revoked meanwhile (SQLite reads without locks)
    award = AwardView(
        goal.key,
        goal.name,
        entity_type,
        entity_id,
        found.occurrence,
        found.points,
        found.awarded_at,
        found.achieved_at,
    )
    remaining = [other.occurrence for other in held if other.id != found.id]
    _record(
        session,
        goal,
        entity_type,
        entity_id,
        action=REVOKED,
        occurrence=found.occurrence,
        points=found.points,
        reason=reason,
        changed_by=changed_by,
        now=now,
    )
    progress = _slot(row)
    if reset_progress:
        # Start over: the criteria count new events only, above the occurrences the
        # entity still holds. Recorded, so that a backfill starts from here too.
        progress.update(
            state=None,
            criteria_hash=goal.criteria_hash,
            percent=0,
            times_completed=max(remaining, default=0),
        )
        if not remaining:
            progress["completed_at"] = None
        write_progress(session, [progress], now)
        _record(
            session,
            goal,
            entity_type,
            entity_id,
            action=PROGRESS_RESET,
            occurrence=progress["times_completed"],
            points=0,
            reason=reason,
            changed_by=changed_by,
            now=now,
        )
    result = BatchResult()
    result.revoked.append(award)
    result.changes.append(
        _progress_change(
            processor,
            goal,
            entity_type,
            entity_id,
            progress,
            min(progress["times_completed"], len(remaining)),
            now,
        )
    )
    processor.record_webhooks(session, result, now)
    follow_up = processor.evaluate_dependents(session, goal.key, (entity_type, entity_id), now)
    # The points leave through the ledger, at the award's event time: the period it
    # counted for loses them, as if it had never been given.
    processor.record_points(
        session, result, [award], REVOCATION, now, reason=reason, changed_by=changed_by
    )
    return HandChange(award, result, follow_up)


def award_changes(
    session: Session,
    *,
    goal_key: str | None,
    owner: str | None,
    entity: tuple[str, str] | None,
    limit: int,
    before_id: int | None,
) -> list[AwardChangeView]:
    """Rows of the audit trail, newest first; :class:`GoalNotFound` for an unknown goal."""
    query = (
        select(AwardChange, Goal.key, Goal.name)
        .join(Goal, Goal.id == AwardChange.goal_id)
        .order_by(AwardChange.id.desc())
        .limit(limit)
    )
    if goal_key is not None:
        if session.execute(select(Goal.id).where(Goal.key == goal_key)).first() is None:
            raise GoalNotFound(goal_key)
        query = query.where(Goal.key == goal_key)
    if owner is not None:
        query = query.where(Goal.owner == owner)
    if entity is not None:
        query = query.where(
            AwardChange.entity_type == entity[0], AwardChange.entity_id == entity[1]
        )
    if before_id is not None:
        query = query.where(AwardChange.id < before_id)
    return [
        AwardChangeView(
            id=change.id,
            goal=key,
            name=name,
            entity_type=change.entity_type,
            entity=change.entity_id,
            occurrence=change.occurrence,
            action=change.action,
            points=change.points,
            reason=change.reason,
            changed_by=change.changed_by,
            changed_at=change.changed_at,
        )
        for change, key, name in session.execute(query)
    ]


def check_listing(limit: Any, before_id: Any) -> None:
    """Refuse a bad ``limit`` or ``before_id`` of :func:`award_changes`."""
    errors: dict[str, Sequence[str]] = {}
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CHANGES:
        errors["limit"] = [f"Must be an integer from 1 to {MAX_CHANGES} (got {limit!r})."]
    if before_id is not None and (
        isinstance(before_id, bool) or not isinstance(before_id, int) or before_id < 1
    ):
        errors["before_id"] = ["Must be a positive integer (an id from a previous page), or None."]
    if errors:
        raise InvalidInputError(errors)
