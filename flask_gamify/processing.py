"""Processing a batch of events in one transaction.

Inline mode calls :meth:`BatchProcessor.process` from ``track()``; workers call it with
the batches they drain. The steps, all in one transaction of gamify's own session:

1. record the events in the event log; its primary key is the ledger, so an event seen
   before is skipped (at-least-once delivery, exactly-once effect);
2. find the goals each new event can progress and lock their progress rows (in a fixed
   order, so concurrent workers serialise instead of deadlocking);
3. fold the events into the criteria states, evaluate, and write progress; events a
   windowed criterion refuses as too late are counted on the progress row and flagged
   in the event log;
4. insert awards with ``ON CONFLICT DO NOTHING``: the unique constraint, not Python,
   decides who awards; only the winner notifies. Each award records when it was
   recorded (``awarded_at``) and when the goal was met by event time (``achieved_at``);
5. evaluate goals that depend on goals completed in step 4, level by level.

Signals are sent by the caller after the commit, from the returned :class:`BatchResult`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .catalog import CatalogGoal, GoalCatalog, catalog_version
from .criteria import Evaluation, EvaluationContext, EventData, occurrence_times, without_labels
from .events import TrackedEvent
from .failures import RowsCreatedMeanwhile, attempts_allowed
from .ledger import AWARD, REVOCATION, PointsChange, PointsLedger, award_entry
from .levels import LevelChange
from .models import Assignment, Award, AwardChange, Event, Notification, Progress, utcnow
from .progress_rows import (
    WRITTEN_COLUMNS,
    ProgressKey,
    insert_progress,
    locked_positions,
    parsed_view,
    select_locked,
    write_progress,
)
from .records import AssignmentView, AwardView, ProgressView
from .sql import insert_ignoring_conflicts
from .stored_views import compact, evaluation_of, holds, skeleton, view_document, view_key
from .webhooks import WebhookSubscriptions

logger = logging.getLogger(__name__)

__all__ = [
    "PROGRESS_RESET",
    "BatchProcessor",
    "BatchResult",
    "ProgressChange",
    "catalog_barrier",
    "complete_assignment",
    "criteria_hash",
    "hand_changes",
    "held_awards",
    "notification",
]

_EVENTS = cast(Table, Event.__table__)
_PROGRESS = cast(Table, Progress.__table__)
_AWARDS = cast(Table, Award.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_NOTIFICATIONS = cast(Table, Notification.__table__)
_AWARD_CHANGES = cast(Table, AwardChange.__table__)

#: The action of an award change that restarted an entity's progress on a goal.
PROGRESS_RESET = "progress-reset"

EntityKey = tuple[str, str]

#: The most awards one batch gives for one goal and entity (repeatable goals).
MAX_NEW_AWARDS = 1000


#: The PostgreSQL advisory lock that orders goal changes and batches (see below).
_CATALOG_LOCK = 0x67616D6966790001


def catalog_barrier(session: Session, *, exclusive: bool) -> None:
    """Order batches and backfills on PostgreSQL.

    Every batch holds this lock shared for its transaction. A backfill, once the goal
    change it follows is committed, takes it exclusively (and lets go at once): it waits
    for the batches that may have read the catalog before the change, so that each of
    their events is either in the event log when the backfill reads it, or folded by a
    batch that sees the new definition. SQLite needs nothing: writers take turns, and a
    batch reads the catalog after it holds the write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {function}(:key)"), {"key": _CATALOG_LOCK})


def criteria_hash(criteria: Mapping[str, Any], max_occurrences: int | None) -> str:
    """Identifies what stored states mean; a new hash starts progress from scratch.

    Labels are left out: they change what progress says, not what it counts.
    """
    document = json.dumps(
        {"criteria": without_labels(criteria), "max_occurrences": max_occurrences},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ProgressChange:
    """An entity's progress on a goal changed."""

    goal: str
    name: str
    points: int
    entity_type: str
    entity: str
    #: The evaluation, or how the stored view keeps it: its ``e`` and the skeleton it is
    #: relative to (see :mod:`.stored_views`). Read it as :attr:`evaluation`.
    shown: Evaluation | tuple[list[Any], Evaluation]
    times_completed: int
    completed_at: datetime | None

    @property
    def evaluation(self) -> Evaluation:
        """The evaluation (built on demand from the view a batch stored)."""
        if isinstance(self.shown, Evaluation):
            return self.shown
        return evaluation_of(*self.shown)

    @property
    def progress(self) -> ProgressView:
        """The progress view (built on demand: most batches have no receivers)."""
        return ProgressView.build(
            self.goal,
            self.name,
            self.points,
            self.evaluation,
            self.times_completed,
            self.completed_at,
        )


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
    #: Awards a backfill revoked (entities that no longer qualify, when asked).
    revoked: list[AwardView] = field(default_factory=list)
    #: Events too late to count for a windowed criterion, per goal key (an event late
    #: for two goals counts for each).
    late_events: dict[str, int] = field(default_factory=dict)
    #: Webhook deliveries put in the outbox by the batch's transaction.
    webhook_deliveries: int = 0
    #: Points written to the ledger (awards, revocations, adjustments).
    points: list[PointsChange] = field(default_factory=list)
    #: Entities whose points crossed a level threshold.
    level_changes: list[LevelChange] = field(default_factory=list)


#: The fields of a :class:`_Slot` from a locked row, in their order.
_slot_fields = itemgetter(*locked_positions("id", *WRITTEN_COLUMNS))

#: Runs in a row of a transaction whose new progress rows another one kept creating.
_CREATED_MEANWHILE_ATTEMPTS = 5


@dataclass(slots=True)
class _Slot:
    """A locked progress row, as the batch changes it in memory."""

    #: ``None``: a row to create (written once, with its first state).
    id: int | None
    state: Any
    criteria_hash: str
    percent: int
    times_completed: int
    completed_at: datetime | None
    late_events: int
    #: The evaluation of ``state``, as stored (see :mod:`flask_gamify.stored_views`): its
    #: JSON text as read, until :meth:`view` parses it.
    stored_view: Any = None
    dirty: bool = False

    @classmethod
    def from_row(cls, row: Row[Any]) -> _Slot:
        """The slot of a row :func:`select_locked` read."""
        return cls(*_slot_fields(row))

    @classmethod
    def new(cls, criteria_hash: str) -> _Slot:
        """The slot of a row that does not exist yet."""
        return cls(None, None, criteria_hash, 0, 0, None, 0)

    @classmethod
    def locked(
        cls,
        session: Session,
        keys: Sequence[ProgressKey],
        hashes: Mapping[int, str],
    ) -> dict[ProgressKey, _Slot]:
        """The slots of ``keys``: their rows locked, new slots where there is none."""
        rows = select_locked(session, keys)
        return {
            key: cls.from_row(rows[key]) if key in rows else cls.new(hashes[key[0]]) for key in keys
        }

    @staticmethod
    def write(session: Session, slots: Mapping[ProgressKey, _Slot], now: datetime) -> None:
        """Update the changed rows and insert the new ones.

        :raises RowsCreatedMeanwhile: another transaction created one of the new rows
            since this one looked for it (the batch runs again and folds into that row).
        """
        write_progress(
            session, [slot.as_update() for slot in slots.values() if slot.id and slot.dirty], now
        )
        created = insert_progress(
            session,
            [slot.as_insert(key) for key, slot in slots.items() if slot.id is None],
            now,
        )
        if created:
            raise RowsCreatedMeanwhile("gamify_progress", len(created), created[0])

    def view(self) -> Any:
        """The stored view, parsed."""
        self.stored_view = parsed_view(self.stored_view)
        return self.stored_view

    def update(
        self, state: Any, criteria_hash: str, percent: int, times: int, achieved: datetime | None
    ) -> None:
        self.state, self.criteria_hash, self.percent = state, criteria_hash, percent
        self.times_completed = times
        if times and self.completed_at is None:
            self.completed_at = achieved
        self.dirty = True

    def reset(self) -> None:
        """Forget the state: it is rebuilt from the whole history (always written)."""
        self.state, self.criteria_hash, self.percent = None, "", 0
        self.times_completed, self.completed_at, self.late_events = 0, None, 0
        self.stored_view = None
        self.dirty = True

    def as_insert(self, key: ProgressKey) -> dict[str, Any]:
        return {"goal_id": key[0], "entity_type": key[1], "entity_id": key[2], **self._written()}

    def as_update(self) -> dict[str, Any]:
        return {"id": self.id, **self._written()}

    def _written(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "criteria_hash": self.criteria_hash,
            "percent": self.percent,
            "times_completed": self.times_completed,
            "completed_at": self.completed_at,
            "late_events": self.late_events,
            "stored_view": self.view(),
        }


class BatchProcessor:
    """Processes batches of events for one app; safe to share between threads."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        timezone: tzinfo,
        late_event_allowance: timedelta,
        notify_awards: bool = True,
        ledger: PointsLedger | None = None,
    ) -> None:
        self.session_factory = session_factory
        #: Writes points of awards and revocations, in the same transaction.
        self.ledger = ledger if ledger is not None else PointsLedger()
        self.timezone = timezone
        self.late_event_allowance = late_event_allowance
        self.notify_awards = notify_awards
        #: Every goal with its compiled criteria, cached while goals do not change.
        self.catalog = GoalCatalog()
        #: The webhook endpoints and what they subscribe to, cached the same way.
        self.webhooks = WebhookSubscriptions()

    def process(
        self, events: Sequence[TrackedEvent], *, now: datetime | None = None
    ) -> BatchResult:
        """Process ``events`` in one transaction, retried on deadlocks; return what changed."""
        moment = now or utcnow()

        def process(session: Session) -> BatchResult:
            catalog_barrier(session, exclusive=False)
            result = self._process(session, events, moment)
            self.record_webhooks(session, result, moment)
            return result

        return self._transaction(process)

    def recompute(
        self,
        goal_key: str,
        entities: Sequence[EntityKey],
        *,
        revoke: bool = False,
        notify: bool = True,
        now: datetime | None = None,
    ) -> BatchResult:
        """Rebuild the progress of ``goal_key`` for ``entities`` from the event log.

        One transaction, under the same row locks as live processing: an event processed
        live at the same time is counted once, either in the history read here or folded
        afterwards into the rebuilt state. New occurrences are awarded; awards already
        given stay, unless ``revoke`` removes those beyond what the entity now has.
        Draft and archived goals are left alone.

        :param notify: whether the awards given notify their entities (``goal-completed``
            notifications, when ``GAMIFY_NOTIFY_AWARDS`` is on); ``False`` keeps a
            backfill from flooding inboxes with old achievements.
        """
        moment = now or utcnow()

        def recompute(session: Session) -> BatchResult:
            result = self._recompute(session, goal_key, entities, revoke, notify, moment)
            self.record_webhooks(session, result, moment, notify=notify)
            return result

        return self._transaction(recompute)

    def record_webhooks(
        self, session: Session, result: BatchResult, now: datetime, *, notify: bool = True
    ) -> None:
        """Put ``result``'s events in the webhook outbox, in ``session``'s transaction
        (the one that recorded them): none is lost between the commit and the sending.

        :param notify: ``False`` leaves out ``award.created`` and ``progress.changed``
            (a quiet backfill).
        """
        if not (result.awards or result.revoked or result.assignments or result.changes):
            return
        version = self.catalog.version
        if version is None:
            version = catalog_version(session)
        result.webhook_deliveries += self.webhooks.record(
            session, version, result, now, notify=notify
        )

    def evaluate_dependents(
        self, session: Session, goal_key: str, entity: EntityKey, now: datetime
    ) -> BatchResult:
        """Evaluate, for ``entity``, the live goals whose criteria name ``goal_key``.

        For awards given or revoked by hand (in ``session``'s transaction): a goal that
        needs ``goal_key`` completed is awarded as if a batch had given it.
        """
        result = BatchResult()
        goals, goal_ids = self.active_goals(session)
        goals_by_id = {goal.id: goal for goal in goals}
        pending: dict[ProgressKey, list[TrackedEvent]] = {
            (goal.id, *entity): []
            for goal in goals
            if goal_key in goal.criterion.goal_refs and goal.entity_type == entity[0]
        }
        if pending:
            work = self._assigned_work(session, pending, goals_by_id)
            self._apply(session, goals, goal_ids, work, result, now)
        self.record_webhooks(session, result, now)
        return result

    def _transaction(self, work: Callable[[Session], BatchResult]) -> BatchResult:
        """Run ``work`` in one transaction of its own, retried on deadlocks."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.session_factory() as session, session.begin():
                    return work(session)
            except RowsCreatedMeanwhile as created:
                if attempt >= _CREATED_MEANWHILE_ATTEMPTS:
                    raise
                logger.info("Running a batch again: %s", created)
            except DBAPIError as error:
                if attempt >= attempts_allowed(error):
                    raise
                logger.warning("Retrying a transaction after: %s", error.orig)

    # -- goals -----------------------------------------------------------------------

    def active_goals(self, session: Session) -> tuple[list[CatalogGoal], dict[str, int]]:
        """Live goals (active, unarchived) in dependency order, and every goal key's id."""
        catalog = self.catalog.goals(session)
        goals = sorted(
            (goal for goal in catalog if goal.live), key=lambda goal: (goal.level, goal.id)
        )
        return goals, {goal.key: goal.id for goal in catalog}

    def context(
        self,
        now: datetime,
        completed: Mapping[str, int],
        on_late: Callable[[EventData], None] | None = None,
    ) -> EvaluationContext:
        """The context of an evaluation; ``now`` only places the windows progress shows."""
        return EvaluationContext(
            now=now,
            timezone=self.timezone,
            completed_goals=completed,
            late_event_allowance=self.late_event_allowance,
            on_late=on_late,
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
        goals_by_id = {goal.id: goal for goal in goals}
        pending = self._pending(goals, result.accepted)
        work = self._assigned_work(session, pending, goals_by_id)
        self._apply(session, goals, goal_ids, work, result, now)
        return result

    def _apply(
        self,
        session: Session,
        goals: Sequence[CatalogGoal],
        goal_ids: Mapping[str, int],
        work: dict[ProgressKey, list[EventData]],
        result: BatchResult,
        now: datetime,
        *,
        from_scratch: bool = False,
        floors: Mapping[ProgressKey, int] | None = None,
        notify: bool = True,
    ) -> None:
        """Fold ``work`` into the locked progress rows, award, notify, write.

        :param from_scratch: ``work`` holds the whole history of its keys (a backfill):
            their states are rebuilt from it instead of folded into.
        :param floors: with ``from_scratch``, occurrences a person gave or revoked by hand,
            per key: the rebuilt count starts there, so that they are never given again.
        :param notify: whether awards notify their entities (with ``GAMIFY_NOTIFY_AWARDS``).
        """
        if not work:
            return
        first_award = len(result.awards)
        goals_by_id = {goal.id: goal for goal in goals}
        hashes = {goal.id: goal.criteria_hash for goal in goals}
        rows = _Slot.locked(session, list(work), hashes)
        if from_scratch:
            for key in work:
                slot = rows[key]
                completed_at = slot.completed_at
                slot.reset()
                floor = (floors or {}).get(key, 0)
                if floor:
                    slot.times_completed, slot.completed_at = floor, completed_at
        keys_by_id = {goal_id: key for key, goal_id in goal_ids.items()}
        completed, reached = self._completed_counts(session, work, goals, keys_by_id)
        late_ids: set[str] = set()
        notifications: list[dict[str, Any]] = []
        for level in sorted({goal.level for goal in goals}):
            level_keys = [key for key in work if goals_by_id[key[0]].level == level]
            triggered = self._triggered(goals, level, result.awards, work)
            if triggered:
                # Goals that depend on goals completed in this batch (rare: a round trip).
                extra = self._assigned_work(session, {key: [] for key in triggered}, goals_by_id)
                rows.update(_Slot.locked(session, list(extra), hashes))
                work.update(extra)
                level_keys.extend(extra)
            # One context per entity and level: awards change what it holds only between
            # levels. Its list gathers the events refused as late, goal after goal.
            contexts: dict[EntityKey, tuple[EvaluationContext, list[EventData]]] = {}
            awards: list[dict[str, Any]] = []
            for key in sorted(level_keys):
                entity = (key[1], key[2])
                shared = contexts.get(entity)
                if shared is None:
                    late: list[EventData] = []
                    context = self.context(now, completed.get(entity, {}), late.append)
                    shared = contexts[entity] = (context, late)
                awards.extend(
                    self._evaluate(
                        goals_by_id[key[0]],
                        key,
                        rows[key],
                        work[key],
                        shared,
                        reached,
                        result,
                        late_ids,
                        now,
                    )
                )
            self._award(
                session,
                awards,
                goals_by_id,
                (completed, reached),
                result,
                notifications,
                now,
                notify=notify,
            )
        _Slot.write(session, rows, now)
        if late_ids:
            _flag_late(session, late_ids)
        if notifications:
            session.execute(_NOTIFICATIONS.insert(), notifications)
        # Last: balances are locked after every progress row, in every transaction.
        self.record_points(session, result, result.awards[first_award:], AWARD, now, notify=notify)

    def record_points(
        self,
        session: Session,
        result: BatchResult,
        awards: Sequence[AwardView],
        kind: str,
        now: datetime,
        *,
        reason: str | None = None,
        changed_by: str | None = None,
        notify: bool = True,
    ) -> None:
        """Write the points of ``awards`` given (``kind="award"``) or revoked to the ledger.

        :param reason: recorded with the entries; by default the goal's name.
        """
        sign = -1 if kind == REVOCATION else 1
        changes, level_changes = self.ledger.write(
            session,
            [
                award_entry(
                    kind=kind,
                    entity_type=award.entity_type,
                    entity_id=award.entity,
                    amount=sign * award.points,
                    goal_key=award.goal,
                    occurrence=award.occurrence,
                    reason=award.name if reason is None else reason,
                    changed_by=changed_by,
                    occurred_at=award.achieved_at,
                    now=now,
                )
                for award in awards
            ],
            now,
            notify=notify,
        )
        result.points.extend(changes)
        result.level_changes.extend(level_changes)

    def _recompute(
        self,
        session: Session,
        goal_key: str,
        entities: Sequence[EntityKey],
        revoke: bool,
        notify: bool,
        now: datetime,
    ) -> BatchResult:
        result = BatchResult()
        goals, goal_ids = self.active_goals(session)
        goal = next((goal for goal in goals if goal.key == goal_key), None)
        if goal is None:
            return result
        wanted = sorted({entity for entity in entities if entity[0] == goal.entity_type})
        if not wanted:
            return result
        pending: dict[ProgressKey, list[TrackedEvent]] = {
            (goal.id, *entity): [] for entity in wanted
        }
        floors, restarts = hand_changes(session, goal.id, wanted)
        if goal.criterion.event_types:
            rows = session.execute(
                select(_EVENTS)
                .where(
                    _EVENTS.c.type.in_(sorted(goal.criterion.event_types)),
                    _EVENTS.c.entity_type == goal.entity_type,
                    _EVENTS.c.entity_id.in_([entity_id for _, entity_id in wanted]),
                )
                .order_by(_EVENTS.c.occurred_at, _EVENTS.c.id)
            )
            for row in rows:
                restart = restarts.get((row.entity_type, row.entity_id))
                if restart is not None and row.processed_at <= restart:
                    continue  # counted before a person reset the entity's progress
                event = TrackedEvent(
                    id=row.id,
                    type=row.type,
                    entity_type=row.entity_type,
                    entity_id=row.entity_id,
                    occurred_at=row.occurred_at,
                    attributes=row.attributes or {},
                )
                if goal.accepts(event):
                    pending[(goal.id, row.entity_type, row.entity_id)].append(event)
        work = self._assigned_work(session, pending, {goal.id: goal})
        self._apply(
            session,
            goals,
            goal_ids,
            work,
            result,
            now,
            from_scratch=True,
            floors={(goal.id, *entity): floor for entity, floor in floors.items()},
            notify=notify,
        )
        if revoke and work:
            result.revoked = self._revoke_beyond(session, goal, list(work))
            self.record_points(
                session,
                result,
                result.revoked,
                REVOCATION,
                now,
                reason="The entity no longer qualifies (backfill).",
                notify=notify,
            )
        return result

    @staticmethod
    def _revoke_beyond(
        session: Session, goal: CatalogGoal, keys: Sequence[ProgressKey]
    ) -> list[AwardView]:
        """Delete the awards of ``keys`` beyond the occurrences their progress now has."""
        progress = (
            select(_PROGRESS.c.times_completed)
            .where(
                _PROGRESS.c.goal_id == _AWARDS.c.goal_id,
                _PROGRESS.c.entity_type == _AWARDS.c.entity_type,
                _PROGRESS.c.entity_id == _AWARDS.c.entity_id,
            )
            .scalar_subquery()
        )
        rows = session.execute(
            delete(_AWARDS)
            .where(
                tuple_(_AWARDS.c.goal_id, _AWARDS.c.entity_type, _AWARDS.c.entity_id).in_(keys),
                _AWARDS.c.occurrence > progress,
            )
            .returning(
                _AWARDS.c.entity_type,
                _AWARDS.c.entity_id,
                _AWARDS.c.occurrence,
                _AWARDS.c.points,
                _AWARDS.c.awarded_at,
                _AWARDS.c.achieved_at,
            )
        )
        return [
            AwardView(
                goal.key,
                goal.name,
                row.entity_type,
                row.entity_id,
                row.occurrence,
                row.points,
                row.awarded_at,
                row.achieved_at,
            )
            for row in rows
        ]

    @staticmethod
    def _pending(
        goals: Sequence[CatalogGoal], events: Sequence[TrackedEvent]
    ) -> dict[ProgressKey, list[TrackedEvent]]:
        """The new events of each (goal, entity) they can progress."""
        by_type: dict[str, list[CatalogGoal]] = defaultdict(list)
        for goal in goals:
            for event_type in goal.criterion.event_types:
                by_type[event_type].append(goal)
        pending: dict[ProgressKey, list[TrackedEvent]] = defaultdict(list)
        for event in events:
            for goal in by_type.get(event.type, ()):
                if goal.accepts(event):
                    pending[(goal.id, event.entity_type, event.entity_id)].append(event)
        return pending

    def _assigned_work(
        self,
        session: Session,
        pending: Mapping[ProgressKey, list[TrackedEvent]],
        goals_by_id: Mapping[int, CatalogGoal],
    ) -> dict[ProgressKey, list[EventData]]:
        """Engine events per key, without assigned-only goals the entity was not assigned,
        nor events from before the assignment."""
        assigned = self._assignments(
            session, [key for key in pending if goals_by_id[key[0]].assigned_only]
        )
        work: dict[ProgressKey, list[EventData]] = {}
        # One engine event per event, shared by every goal it progresses (it is frozen).
        engine: dict[int, EventData] = {}
        for key, tracked in pending.items():
            if goals_by_id[key[0]].assigned_only:
                assigned_at = assigned.get(key)
                if assigned_at is None:
                    continue
                tracked = [event for event in tracked if event.occurred_at >= assigned_at]
            converted = []
            for event in tracked:
                data = engine.get(id(event))
                if data is None:
                    data = engine[id(event)] = event.to_engine()
                converted.append(data)
            work[key] = converted
        return work

    @staticmethod
    def _triggered(
        goals: Sequence[CatalogGoal],
        level: int,
        awards: Sequence[AwardView],
        work: Mapping[ProgressKey, Any],
    ) -> set[ProgressKey]:
        """Keys of this level's goals whose prerequisites were awarded in this batch."""
        awarded: dict[EntityKey, set[str]] = defaultdict(set)
        for award in awards:
            awarded[(award.entity_type, award.entity)].add(award.goal)
        triggered = set()
        for goal in goals:
            if goal.level != level or not goal.criterion.goal_refs:
                continue
            for entity, keys in awarded.items():
                key = (goal.id, *entity)
                if (
                    goal.criterion.goal_refs & keys
                    and goal.entity_type == entity[0]
                    and key not in work
                ):
                    triggered.add(key)
        return triggered

    def _evaluate(
        self,
        goal: CatalogGoal,
        key: ProgressKey,
        slot: _Slot,
        events: list[EventData],
        shared: tuple[EvaluationContext, list[EventData]],
        reached: Mapping[EntityKey, Mapping[str, datetime]],
        result: BatchResult,
        late_ids: set[str],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Fold ``events`` into the slot's state and return the awards it now earns.

        :param shared: the entity's context and the list its ``on_late`` appends to.
        """
        context, refused = shared
        criterion = goal.criterion
        old_state = slot.state if slot.criteria_hash == goal.criteria_hash else None
        seen = len(refused)
        state = criterion.apply(old_state, events, context) if events else old_state
        # The evaluation as the stored view keeps it: no tree of Evaluation objects.
        key_of_view = view_key(goal.view_key, context)
        base = skeleton(key_of_view, criterion, context.timezone)
        shown = compact(criterion, state, context, base)
        percent, earned = shown[1], shown[3]
        evaluated = state
        if goal.most_awards is not None:
            earned = min(earned, goal.most_awards)
        before = slot.times_completed
        # One event can be worth millions of occurrences (a repeatable sum with a small
        # target): award a bounded number per batch; the rest follow with later batches.
        times = max(before, min(earned, before + MAX_NEW_AWARDS))
        if goal.most_awards is not None and times >= goal.most_awards:
            # No award left to earn: keep only what progress reports, so the state of a
            # completed goal stops growing with the entity's events.
            state = criterion.settle(state, context)
        late = refused[seen:]
        if late:
            # Never dropped silently: counted per goal and entity, flagged in the log.
            slot.late_events += len(late)
            result.late_events[goal.key] = result.late_events.get(goal.key, 0) + len(late)
            late_ids.update(event.id for event in late)
            slot.dirty = True
        # The view of the state stored, unless settling changed the state.
        stored = shown
        if state is not evaluated and state != evaluated:
            stored = compact(criterion, state, context, base)
        if state == slot.state and percent == slot.percent and times == before:
            # The state is the one stored: so is its view, unless it no longer holds (a
            # prerequisite changed, the window moved on, the labels changed).
            refs = criterion.goal_refs
            now_ms, held = context.now_ms, context.completed_goals
            if not holds(slot.view(), key_of_view, now_ms, held, refs):
                slot.stored_view = view_document(key_of_view, criterion, state, stored, context)
                slot.dirty = True
            return []
        achieved = self._achieved(
            goal, key, old_state, events, context, before, times, reached, now
        )
        slot.update(state, goal.criteria_hash, percent, times, achieved[0] if achieved else None)
        slot.stored_view = view_document(key_of_view, criterion, state, stored, context)
        result.changes.append(
            ProgressChange(
                goal.key,
                goal.name,
                goal.points,
                key[1],
                key[2],
                (shown, base),
                times,
                slot.completed_at,
            )
        )
        return [
            {
                "goal_id": goal.id,
                "entity_type": key[1],
                "entity_id": key[2],
                "occurrence": occurrence,
                "points": goal.points,
                "awarded_at": now,
                "achieved_at": moment,
            }
            for occurrence, moment in zip(range(before + 1, times + 1), achieved, strict=True)
        ]

    def _achieved(
        self,
        goal: CatalogGoal,
        key: ProgressKey,
        old_state: Any,
        events: Sequence[EventData],
        context: EvaluationContext,
        before: int,
        times: int,
        reached: Mapping[EntityKey, Mapping[str, datetime]],
        now: datetime,
    ) -> list[datetime]:
        """When, by event time, occurrences ``before + 1`` to ``times`` were reached.

        The ``occurred_at`` of the completing event; for a goal with ``goal`` criteria,
        no earlier than the prerequisites it names were met. Runs only when something
        was completed.
        """
        if times <= before:
            return []
        found = occurrence_times(
            goal.criterion, old_state, events, context, after=before, count=times - before
        )
        prerequisites = [
            moment
            for ref, moment in reached.get((key[1], key[2]), {}).items()
            if ref in goal.criterion.goal_refs
        ]
        floor = max(prerequisites, default=None)
        # Unexplained by the events (prerequisites, or awards held back by the limit per
        # batch): the prerequisites' time, else the latest event time known.
        fallback = floor or max((event.occurred_at for event in events), default=now)
        moments = []
        for index in range(times - before):
            moment = found[index] if index < len(found) else None
            moment = fallback if moment is None else moment
            if floor is not None and moment < floor:
                moment = floor
            moments.append(moment)
        return moments

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

    def _completed_counts(
        self,
        session: Session,
        work: Iterable[ProgressKey],
        goals: Sequence[CatalogGoal],
        keys_by_id: Mapping[int, str],
    ) -> tuple[dict[EntityKey, dict[str, int]], dict[EntityKey, dict[str, datetime]]]:
        """Awards per referenced goal for the batch's entities, and when (by event time)
        each was first met, if any goal has ``goal`` criteria; kept up to date in memory
        as the batch awards more."""
        completed: dict[EntityKey, dict[str, int]] = defaultdict(dict)
        reached: dict[EntityKey, dict[str, datetime]] = defaultdict(dict)
        ids = {key: goal_id for goal_id, key in keys_by_id.items()}
        ref_ids = {ids[ref] for goal in goals for ref in goal.criterion.goal_refs if ref in ids}
        if not ref_ids:
            return completed, reached
        rows = session.execute(completed_prerequisites(ref_ids, work))
        for row in rows:
            times = min(row.times_completed, row.held)
            if not times:
                continue  # every award of the prerequisite was revoked
            entity = (row.entity_type, row.entity_id)
            completed[entity][keys_by_id[row.goal_id]] = times
            if row.completed_at is not None:
                reached[entity][keys_by_id[row.goal_id]] = row.completed_at
        return completed, reached

    def _award(
        self,
        session: Session,
        awards: list[dict[str, Any]],
        goals_by_id: Mapping[int, CatalogGoal],
        known: tuple[dict[EntityKey, dict[str, int]], dict[EntityKey, dict[str, datetime]]],
        result: BatchResult,
        notifications: list[dict[str, Any]],
        now: datetime,
        *,
        notify: bool = True,
    ) -> None:
        """Insert awards; for each one this transaction wins, record and notify.

        :param notify: whether awards notify their entities (``goal-completed``);
            assigners are told of completed assignments either way.
        """
        completed, reached = known
        achieved = {
            (award["goal_id"], award["entity_type"], award["entity_id"], award["occurrence"]): (
                award["achieved_at"]
            )
            for award in awards
        }
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
        for row in sorted(won, key=lambda row: tuple(row)):
            goal = goals_by_id[row.goal_id]
            entity = (row.entity_type, row.entity_id)
            # Awards held, not the occurrence: an occurrence revoked by hand leaves a gap.
            completed[entity][goal.key] = completed[entity].get(goal.key, 0) + 1
            moment = achieved[(row.goal_id, row.entity_type, row.entity_id, row.occurrence)]
            if row.occurrence == 1 or goal.key not in reached[entity]:
                reached[entity][goal.key] = moment
            result.awards.append(
                AwardView(
                    goal.key,
                    goal.name,
                    row.entity_type,
                    row.entity_id,
                    row.occurrence,
                    goal.points,
                    now,
                    moment,
                )
            )
            if self.notify_awards and notify:
                notifications.append(
                    notification(
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
                    notifications.extend(assigner_notifications(assignment, goal.key, now))

    def _complete_assignment(
        self, session: Session, goal: CatalogGoal, row: Row[Any], now: datetime
    ) -> AssignmentView | None:
        return complete_assignment(session, goal.id, goal.key, row.entity_type, row.entity_id, now)


def complete_assignment(
    session: Session, goal_id: int, goal_key: str, entity_type: str, entity_id: str, now: datetime
) -> AssignmentView | None:
    """Mark the entity's open assignment of the goal completed; return it (``None``: none)."""
    completed = session.execute(
        update(_ASSIGNMENTS)
        .where(
            _ASSIGNMENTS.c.goal_id == goal_id,
            _ASSIGNMENTS.c.entity_type == entity_type,
            _ASSIGNMENTS.c.entity_id == entity_id,
            _ASSIGNMENTS.c.completed_at.is_(None),
        )
        .values(completed_at=now)
        .returning(_ASSIGNMENTS)
    ).first()
    return None if completed is None else AssignmentView.from_row(completed, goal_key)


def hand_changes(
    session: Session, goal_id: int, entities: Sequence[EntityKey]
) -> tuple[dict[EntityKey, int], dict[EntityKey, datetime]]:
    """What people changed by hand on the goal for ``entities`` (the awards' audit trail).

    Returns the highest occurrence given or revoked by hand per entity (since its
    progress was last reset), and when its progress was last reset by hand: a rebuild
    counts only events processed after that, and never gives an occurrence below the
    floor again.
    """
    if not entities:
        return {}, {}
    floors: dict[EntityKey, int] = {}
    restarts: dict[EntityKey, datetime] = {}
    wanted = set(entities)
    rows = session.execute(
        select(
            _AWARD_CHANGES.c.entity_type,
            _AWARD_CHANGES.c.entity_id,
            _AWARD_CHANGES.c.action,
            _AWARD_CHANGES.c.occurrence,
            _AWARD_CHANGES.c.changed_at,
        )
        .where(
            _AWARD_CHANGES.c.goal_id == goal_id,
            _AWARD_CHANGES.c.entity_id.in_(sorted({entity_id for _, entity_id in wanted})),
        )
        .order_by(_AWARD_CHANGES.c.id)
    )
    for row in rows:
        entity = (row.entity_type, row.entity_id)
        if entity not in wanted:
            continue
        if row.action == PROGRESS_RESET:
            # The occurrences held then stay counted; what came before no longer binds.
            floors[entity] = row.occurrence
            restarts[entity] = row.changed_at
        else:
            floors[entity] = max(floors.get(entity, 0), row.occurrence)
    return floors, restarts


def completed_prerequisites(goal_ids: Iterable[int], keys: Iterable[ProgressKey]) -> Any:
    """The progress rows of goals ``goal_ids`` with an award given, for the entities of
    ``keys``, with the awards held (``held``).

    Every column of the unique key is constrained: with only the entity ids, PostgreSQL
    read every row of those goals in the index (a batch waited 70 ms for it with
    1,000,000 entities on one of them, 5 ms with 100,000).
    """
    keys = list(keys)
    return select(
        _PROGRESS.c.goal_id,
        _PROGRESS.c.entity_type,
        _PROGRESS.c.entity_id,
        _PROGRESS.c.times_completed,
        _PROGRESS.c.completed_at,
        held_awards(_PROGRESS).label("held"),
    ).where(
        _PROGRESS.c.goal_id.in_(sorted(set(goal_ids))),
        _PROGRESS.c.entity_type.in_(sorted({key[1] for key in keys})),
        _PROGRESS.c.entity_id.in_(sorted({key[2] for key in keys})),
        _PROGRESS.c.times_completed > 0,
    )


def held_awards(progress: Table) -> Any:
    """The number of awards held for a progress row's goal and entity (a scalar subquery).

    ``times_completed`` counts the occurrences given, revoked ones included (see
    :mod:`flask_gamify.manual_awards`); what an entity holds is the smaller of the two.
    """
    return (
        select(func.count(_AWARDS.c.id))
        .where(
            _AWARDS.c.goal_id == progress.c.goal_id,
            _AWARDS.c.entity_type == progress.c.entity_type,
            _AWARDS.c.entity_id == progress.c.entity_id,
        )
        .scalar_subquery()
    )


def _flag_late(session: Session, ids: set[str]) -> None:
    """Mark events of the log that were too late to count for some windowed goal."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):  # within every database's parameter limit
        session.execute(
            update(_EVENTS).where(_EVENTS.c.id.in_(ordered[start : start + 500])).values(late=True)
        )


def assigner_notifications(
    assignment: AssignmentView, goal_key: str, now: datetime
) -> list[dict[str, Any]]:
    """The ``assignment-completed`` notification of a completed assignment's assigner
    (none when nobody assigned it)."""
    if assignment.assigned_by is None:
        return []
    return [
        notification(
            assignment.assigned_by_type,
            assignment.assigned_by,
            "assignment-completed",
            {
                "goal": goal_key,
                "assignment": assignment.id,
                "assignee": assignment.entity,
                "assignee_type": assignment.entity_type,
            },
            now,
        )
    ]


def notification(
    entity_type: str, entity_id: str, kind: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A ``gamify_notifications`` row, to insert."""
    return {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "kind": kind,
        "data": data,
        "created_at": now,
        "read_at": None,
    }
