"""Processing a batch of events in one transaction.

Inline mode calls :meth:`BatchProcessor.process` from ``track()``; workers call it with
the batches they drain. The steps, all in one transaction of gamify's own session:

1. record the events in the event log; its primary key is the ledger, so an event seen
   before is skipped (at-least-once delivery, exactly-once effect);
2. find the goals each new event can progress and lock their progress rows (in a fixed
   order, so concurrent workers serialise instead of deadlocking);
3. fold the events into the criteria states, evaluate, and write progress;
4. insert awards with ``ON CONFLICT DO NOTHING``: the unique constraint, not Python,
   decides who awards; only the winner notifies;
5. evaluate goals that depend on goals completed in step 4, level by level.

Signals are sent by the caller after the commit, from the returned :class:`BatchResult`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .criteria import Criterion, EvaluationContext, EventData, compile_criteria
from .events import TrackedEvent
from .models import Assignment, Award, Event, Goal, Notification, Progress, utcnow
from .records import AssignmentView, AwardView, ProgressView
from .sql import attempts_allowed, dialect_name, insert_ignoring_conflicts

logger = logging.getLogger(__name__)

__all__ = ["BatchProcessor", "BatchResult", "ProgressChange", "criteria_hash"]

_EVENTS = cast(Table, Event.__table__)
_PROGRESS = cast(Table, Progress.__table__)
_AWARDS = cast(Table, Award.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_NOTIFICATIONS = cast(Table, Notification.__table__)

#: (goal id, entity type, entity id)
ProgressKey = tuple[int, str, str]
EntityKey = tuple[str, str]


def criteria_hash(criteria: Mapping[str, Any], max_occurrences: int | None) -> str:
    """Identifies what stored states mean; a new hash starts progress from scratch."""
    document = json.dumps(
        {"criteria": criteria, "max_occurrences": max_occurrences},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ActiveGoal:
    """A goal as the processor needs it: compiled, with its dependencies resolved."""

    id: int
    key: str
    name: str
    criterion: Criterion
    criteria_hash: str
    points: int
    #: Most awards an entity can get (``None``: unlimited).
    max_awards: int | None
    assigned_only: bool
    entity_type: str
    starts_at: datetime | None
    ends_at: datetime | None
    #: Ids of the goals referenced by ``goal`` criteria.
    ref_ids: frozenset[int]
    level: int

    def accepts(self, event: TrackedEvent) -> bool:
        if event.entity_type != self.entity_type:
            return False
        if self.starts_at is not None and event.occurred_at < self.starts_at:
            return False
        return self.ends_at is None or event.occurred_at < self.ends_at


@dataclass(frozen=True, slots=True)
class ProgressChange:
    """An entity's progress on a goal changed."""

    goal: str
    entity_type: str
    entity: str
    progress: ProgressView


@dataclass(slots=True)
class BatchResult:
    """What one batch did, for signals and callers."""

    #: Events processed for the first time.
    accepted: list[TrackedEvent] = field(default_factory=list)
    #: Events skipped because their id was processed before.
    duplicates: int = 0
    changes: list[ProgressChange] = field(default_factory=list)
    awards: list[AwardView] = field(default_factory=list)
    assignments: list[AssignmentView] = field(default_factory=list)


class BatchProcessor:
    """Processes batches of events for one app; safe to share between threads."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        timezone: tzinfo,
        late_event_allowance: timedelta,
        notify_awards: bool = True,
    ) -> None:
        self.session_factory = session_factory
        self.timezone = timezone
        self.late_event_allowance = late_event_allowance
        self.notify_awards = notify_awards
        self._compiled: dict[tuple[int, str], Criterion] = {}

    def process(
        self, events: Sequence[TrackedEvent], *, now: datetime | None = None
    ) -> BatchResult:
        """Process ``events`` in one transaction, retried on deadlocks; return what changed."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.session_factory() as session, session.begin():
                    return self._process(session, events, now or utcnow())
            except DBAPIError as error:
                if attempt >= attempts_allowed(error):
                    raise
                logger.warning("Retrying a batch of %d events after: %s", len(events), error.orig)

    # -- goals -----------------------------------------------------------------------

    def active_goals(self, session: Session) -> tuple[list[ActiveGoal], dict[str, int]]:
        """Unarchived goals in dependency order, and the id of every goal key."""
        rows = session.execute(select(Goal)).scalars().all()
        ids = {goal.key: goal.id for goal in rows}
        active = {goal.key: goal for goal in rows if goal.archived_at is None}
        levels: dict[str, int] = {}

        def level_of(key: str, seen: frozenset[str] = frozenset()) -> int:
            if key not in levels:
                goal = active.get(key)
                refs = self.criterion_for(goal).goal_refs if goal else frozenset()
                refs = refs - seen - {key}
                levels[key] = 1 + max((level_of(r, seen | {key}) for r in refs), default=-1)
            return levels[key]

        goals = []
        for goal in active.values():
            criterion = self.criterion_for(goal)
            goals.append(
                ActiveGoal(
                    id=goal.id,
                    key=goal.key,
                    name=goal.name,
                    criterion=criterion,
                    criteria_hash=goal.criteria_hash,
                    points=goal.points,
                    max_awards=(goal.max_awards if goal.repeatable else 1),
                    assigned_only=goal.assigned_only,
                    entity_type=goal.entity_type,
                    starts_at=goal.starts_at,
                    ends_at=goal.ends_at,
                    ref_ids=frozenset(ids[r] for r in criterion.goal_refs if r in ids),
                    level=level_of(goal.key),
                )
            )
        goals.sort(key=lambda goal: (goal.level, goal.id))
        return goals, ids

    def criterion_for(self, goal: Goal) -> Criterion:
        """The compiled criteria of ``goal`` (cached while the goal is unchanged)."""
        cache_key = (goal.id, goal.criteria_hash)
        criterion = self._compiled.get(cache_key)
        if criterion is None:
            max_occurrences = goal.max_awards if goal.repeatable else 1
            criterion = compile_criteria(goal.criteria, max_occurrences=max_occurrences)
            self._compiled[cache_key] = criterion
        return criterion

    def context(self, now: datetime, completed: Mapping[str, int]) -> EvaluationContext:
        return EvaluationContext(
            now=now,
            timezone=self.timezone,
            completed_goals=completed,
            late_event_allowance=self.late_event_allowance,
        )

    # -- the batch -------------------------------------------------------------------

    def _process(
        self, session: Session, events: Sequence[TrackedEvent], now: datetime
    ) -> BatchResult:
        result = BatchResult()
        unique = {event.id: event for event in reversed(events)}  # the first of an id wins
        inserted = insert_ignoring_conflicts(
            session,
            _EVENTS,
            [
                {
                    "id": event.id,
                    "type": event.type,
                    "entity_type": event.entity_type,
                    "entity_id": event.entity_id,
                    "attributes": dict(event.attributes),
                    "occurred_at": event.occurred_at,
                    "processed_at": now,
                }
                for event in sorted(unique.values(), key=lambda event: event.id)
            ],
            ["id"],
            returning=[_EVENTS.c.id],
        )
        new_ids = {row.id for row in inserted}
        result.accepted = [
            event for event in events if event.id in new_ids and unique[event.id] is event
        ]
        result.duplicates = len(events) - len(result.accepted)
        if not result.accepted:
            return result

        goals, goal_ids = self.active_goals(session)
        by_type: dict[str, list[ActiveGoal]] = defaultdict(list)
        for goal in goals:
            for event_type in goal.criterion.event_types:
                by_type[event_type].append(goal)
        pending: dict[ProgressKey, list[TrackedEvent]] = defaultdict(list)
        for event in result.accepted:
            for goal in by_type.get(event.type, ()):
                if goal.accepts(event):
                    pending[(goal.id, event.entity_type, event.entity_id)].append(event)

        goals_by_id = {goal.id: goal for goal in goals}
        keys_by_id = {goal_id: key for key, goal_id in goal_ids.items()}
        completed_now: dict[EntityKey, set[int]] = defaultdict(set)
        for level in sorted({goal.level for goal in goals}):
            level_goals = [goal for goal in goals if goal.level == level]
            keys = {key for key in pending if goals_by_id[key[0]].level == level}
            for goal in level_goals:
                for entity, goal_set in completed_now.items():
                    if goal.ref_ids & goal_set and goal.entity_type == entity[0]:
                        keys.add((goal.id, *entity))
            if keys:
                self._process_keys(
                    session,
                    sorted(keys),
                    pending,
                    goals_by_id,
                    keys_by_id,
                    completed_now,
                    result,
                    now,
                )
        return result

    def _process_keys(
        self,
        session: Session,
        keys: list[ProgressKey],
        pending: Mapping[ProgressKey, list[TrackedEvent]],
        goals_by_id: Mapping[int, ActiveGoal],
        keys_by_id: Mapping[int, str],
        completed_now: dict[EntityKey, set[int]],
        result: BatchResult,
        now: datetime,
    ) -> None:
        assigned = self._assignments(
            session, [key for key in keys if goals_by_id[key[0]].assigned_only]
        )
        work: dict[ProgressKey, list[EventData]] = {}
        for key in keys:
            tracked = pending.get(key, [])
            if goals_by_id[key[0]].assigned_only:
                assigned_at = assigned.get(key)
                if assigned_at is None:
                    continue
                tracked = [event for event in tracked if event.occurred_at >= assigned_at]
            work[key] = [event.to_engine() for event in tracked]
        if not work:
            return
        rows = self._lock_progress(session, list(work), goals_by_id, now)
        completed = self._completed_counts(session, work, goals_by_id, keys_by_id)

        updates, awards = [], []
        for key, events in work.items():
            goal, row = goals_by_id[key[0]], rows[key]
            old_state = row.state if row.criteria_hash == goal.criteria_hash else None
            context = self.context(now, completed.get((key[1], key[2]), {}))
            state = goal.criterion.apply(old_state, events, context) if events else old_state
            evaluation = goal.criterion.evaluate(state, context)
            earned = evaluation.occurrences
            if goal.max_awards is not None:
                earned = min(earned, goal.max_awards)
            times = max(row.times_completed, earned)
            changed = state != row.state or evaluation.percent != row.percent
            if changed or times != row.times_completed:
                completed_at = row.completed_at or (now if times else None)
                updates.append(
                    {
                        "row_id": row.id,
                        "new_state": state,
                        "new_hash": goal.criteria_hash,
                        "new_percent": evaluation.percent,
                        "new_times": times,
                        "new_completed_at": completed_at,
                        "new_updated_at": now,
                    }
                )
                view = ProgressView.build(
                    goal.key, goal.name, goal.points, evaluation, times, completed_at
                )
                result.changes.append(ProgressChange(goal.key, key[1], key[2], view))
            for occurrence in range(row.times_completed + 1, times + 1):
                awards.append(
                    {
                        "goal_id": goal.id,
                        "entity_type": key[1],
                        "entity_id": key[2],
                        "occurrence": occurrence,
                        "points": goal.points,
                        "awarded_at": now,
                    }
                )
        if updates:
            session.execute(
                update(_PROGRESS)
                .where(_PROGRESS.c.id == bindparam("row_id"))
                .values(
                    state=bindparam("new_state"),
                    criteria_hash=bindparam("new_hash"),
                    percent=bindparam("new_percent"),
                    times_completed=bindparam("new_times"),
                    completed_at=bindparam("new_completed_at"),
                    updated_at=bindparam("new_updated_at"),
                ),
                updates,
            )
        self._award(session, awards, goals_by_id, completed_now, result, now)

    def _assignments(
        self, session: Session, keys: Sequence[ProgressKey]
    ) -> dict[ProgressKey, datetime]:
        if not keys:
            return {}
        rows = session.execute(
            select(
                _ASSIGNMENTS.c.goal_id,
                _ASSIGNMENTS.c.entity_type,
                _ASSIGNMENTS.c.entity_id,
                _ASSIGNMENTS.c.assigned_at,
            ).where(
                tuple_(
                    _ASSIGNMENTS.c.goal_id, _ASSIGNMENTS.c.entity_type, _ASSIGNMENTS.c.entity_id
                ).in_(keys)
            )
        )
        return {(row.goal_id, row.entity_type, row.entity_id): row.assigned_at for row in rows}

    def _lock_progress(
        self,
        session: Session,
        keys: list[ProgressKey],
        goals_by_id: Mapping[int, ActiveGoal],
        now: datetime,
    ) -> dict[ProgressKey, Row[Any]]:
        """Load (creating where missing) and lock the progress rows of ``keys``."""
        rows = self._select_progress(session, keys)
        missing = [key for key in keys if key not in rows]
        if missing:
            insert_ignoring_conflicts(
                session,
                _PROGRESS,
                [
                    {
                        "goal_id": goal_id,
                        "entity_type": entity_type,
                        "entity_id": entity_id,
                        "state": None,
                        "criteria_hash": goals_by_id[goal_id].criteria_hash,
                        "percent": 0,
                        "times_completed": 0,
                        "updated_at": now,
                    }
                    for goal_id, entity_type, entity_id in missing
                ],
                ["goal_id", "entity_type", "entity_id"],
            )
            rows.update(self._select_progress(session, missing))
        return rows

    def _select_progress(
        self, session: Session, keys: Sequence[ProgressKey]
    ) -> dict[ProgressKey, Row[Any]]:
        columns = (_PROGRESS.c.goal_id, _PROGRESS.c.entity_type, _PROGRESS.c.entity_id)
        statement = select(_PROGRESS).where(tuple_(*columns).in_(sorted(keys))).order_by(*columns)
        if dialect_name(session) == "postgresql":
            # Row locks taken in key order serialise concurrent workers on the same rows.
            statement = statement.with_for_update()
        return {
            (row.goal_id, row.entity_type, row.entity_id): row for row in session.execute(statement)
        }

    def _completed_counts(
        self,
        session: Session,
        work: Iterable[ProgressKey],
        goals_by_id: Mapping[int, ActiveGoal],
        keys_by_id: Mapping[int, str],
    ) -> dict[EntityKey, dict[str, int]]:
        """Awards per referenced goal for the entities whose goals have ``goal`` criteria."""
        ref_ids: set[int] = set()
        entities: set[str] = set()
        for goal_id, _entity_type, entity_id in work:
            if goals_by_id[goal_id].ref_ids:
                ref_ids |= goals_by_id[goal_id].ref_ids
                entities.add(entity_id)
        if not ref_ids:
            return {}
        rows = session.execute(
            select(
                _PROGRESS.c.goal_id,
                _PROGRESS.c.entity_type,
                _PROGRESS.c.entity_id,
                _PROGRESS.c.times_completed,
            ).where(
                _PROGRESS.c.goal_id.in_(ref_ids),
                _PROGRESS.c.entity_id.in_(entities),
                _PROGRESS.c.times_completed > 0,
            )
        )
        completed: dict[EntityKey, dict[str, int]] = defaultdict(dict)
        for row in rows:
            completed[(row.entity_type, row.entity_id)][keys_by_id[row.goal_id]] = (
                row.times_completed
            )
        return completed

    def _award(
        self,
        session: Session,
        awards: list[dict[str, Any]],
        goals_by_id: Mapping[int, ActiveGoal],
        completed_now: dict[EntityKey, set[int]],
        result: BatchResult,
        now: datetime,
    ) -> None:
        won = insert_ignoring_conflicts(
            session,
            _AWARDS,
            awards,
            ["goal_id", "entity_type", "entity_id", "occurrence"],
            returning=[
                _AWARDS.c.goal_id,
                _AWARDS.c.entity_type,
                _AWARDS.c.entity_id,
                _AWARDS.c.occurrence,
            ],
        )
        notifications: list[dict[str, Any]] = []
        for row in sorted(won, key=lambda row: tuple(row)):
            goal = goals_by_id[row.goal_id]
            completed_now[(row.entity_type, row.entity_id)].add(goal.id)
            result.awards.append(
                AwardView(
                    goal.key,
                    goal.name,
                    row.entity_type,
                    row.entity_id,
                    row.occurrence,
                    goal.points,
                    now,
                )
            )
            if self.notify_awards:
                notifications.append(
                    _notification(
                        row.entity_type,
                        row.entity_id,
                        "goal-completed",
                        {"goal": goal.key, "occurrence": row.occurrence, "points": goal.points},
                        now,
                    )
                )
            if goal.assigned_only and row.occurrence == 1:
                assignment = self._complete_assignment(session, goal, row, now)
                if assignment is not None:
                    result.assignments.append(assignment)
                    if assignment.assigned_by is not None:
                        notifications.append(
                            _notification(
                                assignment.assigned_by_type,
                                assignment.assigned_by,
                                "assignment-completed",
                                {
                                    "goal": goal.key,
                                    "assignment": assignment.id,
                                    "assignee": row.entity_id,
                                    "assignee_type": row.entity_type,
                                },
                                now,
                            )
                        )
        if notifications:
            session.execute(_NOTIFICATIONS.insert(), notifications)

    def _complete_assignment(
        self, session: Session, goal: ActiveGoal, row: Row[Any], now: datetime
    ) -> AssignmentView | None:
        completed = session.execute(
            update(_ASSIGNMENTS)
            .where(
                _ASSIGNMENTS.c.goal_id == goal.id,
                _ASSIGNMENTS.c.entity_type == row.entity_type,
                _ASSIGNMENTS.c.entity_id == row.entity_id,
                _ASSIGNMENTS.c.completed_at.is_(None),
            )
            .values(completed_at=now)
            .returning(_ASSIGNMENTS)
        ).first()
        if completed is None:
            return None
        return AssignmentView(
            id=completed.id,
            goal=goal.key,
            entity_type=completed.entity_type,
            entity=completed.entity_id,
            assigned_by=completed.assigned_by,
            assigned_by_type=completed.assigned_by_type,
            assigned_at=completed.assigned_at,
            due_at=completed.due_at,
            completed_at=completed.completed_at,
        )


def _notification(
    entity_type: str, entity_id: str, kind: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "kind": kind,
        "data": data,
        "created_at": now,
        "read_at": None,
    }
