"""Backfill: rebuild a goal's progress from the event log, beside live processing.

A new active goal, a goal whose criteria changed and a draft made active all count the
history they are introduced into. The backfill walks the entities that may have
progress on the goal (those with events of its types, with progress on it, with
prerequisites it refers to, or assigned to it) in ``(entity type, entity id)`` order,
a chunk at a time, and rebuilds each one with
:meth:`~flask_gamify.processing.BatchProcessor.recompute`, under the same row locks as
live processing: every event is counted once, whether it was processed before, during
or after the backfill. After each chunk the backfill records its checkpoint, so a
backfill whose worker died resumes where it stopped; rebuilding a chunk twice gives the
same result, so nothing is counted twice either.

Without Redis a backfill runs at once, in the calling process. With ``GAMIFY_REDIS_URL``
it is an RQ job on the workers' queue (``gamify: backfill goal ...``), which holds a
lease in Redis while it runs; workers enqueue a backfill again when its lease lapsed
(its worker died).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, case, func, literal, select, tuple_, union, update
from sqlalchemy.orm import Session

from .errors import GamifyError, GoalArchived, GoalIsDraft, GoalNotFound
from .models import Assignment, Backfill, Event, Goal, Progress, utcnow
from .processing import BatchResult, catalog_barrier

if TYPE_CHECKING:
    from flask import Flask

    from .catalog import CatalogGoal
    from .state import GamifyState

__all__ = ["BackfillView", "backfill_job", "resume_backfills", "run_backfill", "start_backfill"]

logger = logging.getLogger("flask_gamify")

_EVENTS = cast(Table, Event.__table__)
_PROGRESS = cast(Table, Progress.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_BACKFILLS = cast(Table, Backfill.__table__)

#: Entities rebuilt per transaction.
CHUNK = 200
#: The shortest lease of a running backfill (s); it lasts ``GAMIFY_CLAIM_IDLE`` otherwise,
#: the time after which another worker takes over the work of a worker that died.
MIN_LEASE_SECONDS = 5
#: Statuses of a backfill that is not over.
OPEN = ("queued", "running")


@dataclass(frozen=True, slots=True)
class BackfillView:
    """A backfill of one goal: what it is doing, or what it did."""

    id: int
    goal: str
    #: ``queued``, ``running``, ``done``, ``superseded`` (the goal changed again, and a
    #: newer backfill took over) or ``failed``.
    status: str
    #: Entities to rebuild, and how many are rebuilt.
    total: int
    done: int
    #: Awards given, and awards revoked (only when revocation was asked for).
    awarded: int
    revoked: int
    revoke: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: Whether the awards it gives notify their entities (``goal-completed``).
    notify: bool = True

    @property
    def finished(self) -> bool:
        return self.status not in OPEN

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "goal": self.goal,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "awarded": self.awarded,
            "revoked": self.revoked,
            "revoke": self.revoke,
            "notify": self.notify,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


def _view(row: Any, goal_key: str) -> BackfillView:
    return BackfillView(
        id=row.id,
        goal=goal_key,
        status=row.status,
        total=row.total,
        done=row.done,
        awarded=row.awarded,
        revoked=row.revoked,
        revoke=row.revoke,
        notify=row.notify,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _live_goal(state: GamifyState, session: Session, key: str) -> CatalogGoal:
    for goal in state.processor.catalog.goals(session):
        if goal.key == key:
            if goal.archived:
                raise GoalArchived(key)
            if not goal.live:
                raise GoalIsDraft(key)
            return goal
    raise GoalNotFound(key)


def _entities(state: GamifyState, goal: CatalogGoal) -> Any:
    """The entities that may have progress on ``goal``: a select of (type, id)."""
    selects = [
        select(_PROGRESS.c.entity_type, _PROGRESS.c.entity_id).where(_PROGRESS.c.goal_id == goal.id)
    ]
    if goal.criterion.event_types:
        selects.append(
            select(_EVENTS.c.entity_type, _EVENTS.c.entity_id).where(
                _EVENTS.c.type.in_(sorted(goal.criterion.event_types)),
                _EVENTS.c.entity_type == goal.entity_type,
            )
        )
    if goal.criterion.goal_refs:
        refs = select(Goal.id).where(Goal.key.in_(sorted(goal.criterion.goal_refs)))
        selects.append(
            select(_PROGRESS.c.entity_type, _PROGRESS.c.entity_id).where(
                _PROGRESS.c.goal_id.in_(refs),
                _PROGRESS.c.entity_type == goal.entity_type,
                _PROGRESS.c.times_completed > 0,
            )
        )
    if goal.assigned_only:
        selects.append(
            select(_ASSIGNMENTS.c.entity_type, _ASSIGNMENTS.c.entity_id).where(
                _ASSIGNMENTS.c.goal_id == goal.id
            )
        )
    return union(*selects).subquery()


def start_backfill(
    state: GamifyState, key: str, *, revoke: bool = False, notify: bool = True
) -> BackfillView:
    """Record a backfill of goal ``key`` (queued); older open ones are superseded.

    :param notify: whether the awards it gives notify their entities; stored with the
        backfill, so that the worker that runs it knows.
    """
    with state.transaction() as session:
        goal = _live_goal(state, session, key)
        entities = _entities(state, goal)
        total = session.execute(select(func.count()).select_from(entities)).scalar_one()
        session.execute(
            update(_BACKFILLS)
            .where(_BACKFILLS.c.goal_id == goal.id, _BACKFILLS.c.status.in_(OPEN))
            .values(status="superseded", finished_at=utcnow())
        )
        row = Backfill(
            goal_id=goal.id,
            criteria_hash=goal.criteria_hash,
            revoke=revoke,
            notify=notify,
            status="queued",
            total=total,
            done=0,
            awarded=0,
            revoked=0,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return _view(row, key)


def get_backfill(state: GamifyState, backfill_id: int) -> BackfillView:
    with state.transaction() as session:
        row = session.execute(
            select(_BACKFILLS, Goal.key.label("goal_key"))
            .join(Goal, Goal.id == _BACKFILLS.c.goal_id)
            .where(_BACKFILLS.c.id == backfill_id)
        ).first()
        if row is None:
            raise GamifyError(f"There is no backfill with id {backfill_id}.")
        return _view(row, row.goal_key)


def list_backfills(
    state: GamifyState, key: str | None = None, *, open_only: bool = False
) -> list[BackfillView]:
    """Backfills, newest first (of goal ``key`` only, when given)."""
    query = (
        select(_BACKFILLS, Goal.key.label("goal_key"))
        .join(Goal, Goal.id == _BACKFILLS.c.goal_id)
        .order_by(_BACKFILLS.c.id.desc())
    )
    if key is not None:
        query = query.where(Goal.key == key)
    if open_only:
        query = query.where(_BACKFILLS.c.status.in_(OPEN))
    with state.transaction() as session:
        return [_view(row, row.goal_key) for row in session.execute(query)]


def run_backfill(
    app: Flask,
    state: GamifyState,
    backfill_id: int,
    *,
    on_progress: Callable[[BackfillView], None] | None = None,
    keep_alive: Callable[[], bool] | None = None,
) -> BackfillView:
    """Run (or resume) a backfill to its end; return how it ended.

    :param on_progress: called after each chunk (progress bars, RQ job meta).
    :param keep_alive: called before each chunk; ``False`` stops the run (its lease
        was lost, or a shutdown was asked for), leaving the backfill to resume later.
    """
    from .state import send_signals

    view = get_backfill(state, backfill_id)
    if view.finished:
        return view
    with state.transaction() as session:
        # Batches that read the goals before the change this backfill follows are over
        # once this returns; later ones see the change.
        catalog_barrier(session, exclusive=True)
    with state.transaction() as session:
        session.execute(
            update(_BACKFILLS)
            .where(_BACKFILLS.c.id == backfill_id, _BACKFILLS.c.status.in_(OPEN))
            .values(
                status="running",
                # Typed as the column, so that the time is stored as naive UTC like all.
                started_at=func.coalesce(
                    _BACKFILLS.c.started_at, literal(utcnow(), _BACKFILLS.c.started_at.type)
                ),
            )
        )
    try:
        while True:
            if keep_alive is not None and not keep_alive():
                return get_backfill(state, backfill_id)
            chunk, goal_key = _next_chunk(state, backfill_id)
            if goal_key is None:
                break  # superseded or finished elsewhere
            if not chunk:
                _finish(state, backfill_id, "done")
                break
            result = state.processor.recompute(
                goal_key, chunk, revoke=view.revoke, notify=view.notify
            )
            _advance(state, backfill_id, chunk, result)
            send_signals(app, result, backfill=True)
            if on_progress is not None:
                on_progress(get_backfill(state, backfill_id))
    except Exception as error:
        from .failures import describe_error, is_transient

        if is_transient(error):
            raise  # left running: resumed from its checkpoint
        _finish(state, backfill_id, "failed", describe_error(error))
        raise
    final = get_backfill(state, backfill_id)
    if on_progress is not None:
        on_progress(final)
    return final


def _next_chunk(state: GamifyState, backfill_id: int) -> tuple[list[tuple[str, str]], str | None]:
    """The next entities to rebuild, and the goal's key (``None``: nothing to do)."""
    with state.transaction() as session:
        row = session.execute(select(_BACKFILLS).where(_BACKFILLS.c.id == backfill_id)).first()
        if row is None or row.status not in OPEN:
            return [], None
        goal = next(
            (goal for goal in state.processor.catalog.goals(session) if goal.id == row.goal_id),
            None,
        )
        if goal is None or not goal.live or goal.criteria_hash != row.criteria_hash:
            # The goal changed (or stopped) since: a newer backfill, if any, takes over.
            session.execute(
                update(_BACKFILLS)
                .where(_BACKFILLS.c.id == backfill_id)
                .values(status="superseded", finished_at=utcnow())
            )
            return [], None
        entities = _entities(state, goal)
        query = select(entities.c.entity_type, entities.c.entity_id)
        if row.last_entity_type is not None:
            query = query.where(
                tuple_(entities.c.entity_type, entities.c.entity_id)
                > tuple_(row.last_entity_type, row.last_entity_id)
            )
        query = query.order_by(entities.c.entity_type, entities.c.entity_id).limit(CHUNK)
        return [
            (entity_type, entity_id) for entity_type, entity_id in session.execute(query)
        ], goal.key


def _advance(
    state: GamifyState, backfill_id: int, chunk: list[tuple[str, str]], result: BatchResult
) -> None:
    last_type, last_id = chunk[-1]
    done = _BACKFILLS.c.done + len(chunk)
    with state.transaction() as session:
        session.execute(
            update(_BACKFILLS)
            .where(_BACKFILLS.c.id == backfill_id)
            .values(
                last_entity_type=last_type,
                last_entity_id=last_id,
                done=done,
                # Entities that got their first events meanwhile are rebuilt too.
                total=case(
                    (
                        _BACKFILLS.c.done + len(chunk) > _BACKFILLS.c.total,
                        _BACKFILLS.c.done + len(chunk),
                    ),
                    else_=_BACKFILLS.c.total,
                ),
                awarded=_BACKFILLS.c.awarded + len(result.awards),
                revoked=_BACKFILLS.c.revoked + len(result.revoked),
            )
        )


def _finish(state: GamifyState, backfill_id: int, status: str, error: str | None = None) -> None:
    with state.transaction() as session:
        session.execute(
            update(_BACKFILLS)
            .where(_BACKFILLS.c.id == backfill_id)
            .values(status=status, error=error, finished_at=utcnow())
        )


# -- with Redis: an RQ job, resumed by the workers when its worker died ----------------


def _lease_key(state: GamifyState, backfill_id: int) -> str:
    assert state.pipeline is not None
    return f"{state.pipeline.keys.prefix}:backfill:{backfill_id}"


def _lease_seconds(state: GamifyState) -> int:
    assert state.pipeline is not None
    return max(MIN_LEASE_SECONDS, state.pipeline.claim_idle_ms // 1000)


def enqueue_backfill(state: GamifyState, backfill_id: int, goal_key: str) -> str:
    """Queue the RQ job of a backfill; return the job id."""
    from rq import Queue

    pipeline = state.pipeline
    assert pipeline is not None
    queue = Queue(pipeline.queue_name, connection=pipeline.worker_client)
    job = queue.enqueue(
        backfill_job,
        backfill_id,
        result_ttl=0,  # the outcome is in gamify_backfills
        failure_ttl=7 * 24 * 3600,
        job_timeout=-1,  # a backfill takes as long as the history is long
        description=f"gamify: backfill goal {goal_key} (backfill {backfill_id})",
    )
    # The lease covers the time in the queue too; the job renews it while it runs.
    pipeline.worker_client.set(_lease_key(state, backfill_id), job.id, ex=_lease_seconds(state) * 5)
    return str(job.id)


def backfill_job(backfill_id: int) -> dict[str, Any]:
    """RQ job: run a backfill, holding its lease; runs in ``flask gamify worker``."""
    from flask import current_app
    from rq import get_current_job

    from .failures import describe_error, is_transient
    from .pipeline import drain, outages
    from .state import get_state

    state = get_state()
    assert state.pipeline is not None
    client = state.pipeline.worker_client
    job = get_current_job()
    me = job.id if job is not None else "inline"
    lease = _lease_key(state, backfill_id)
    holder = client.get(lease)
    if holder is not None and holder.decode() != me:
        return {"skipped": "another job holds the lease"}
    client.set(lease, me, ex=_lease_seconds(state))

    # A slice of GAMIFY_DRAIN_SECONDS, then the job queues its continuation: the drain
    # jobs queued meanwhile run in between, so live events wait one slice at most.
    slice_ends = time.monotonic() + state.pipeline.drain_seconds
    sliced = False

    def keep_alive() -> bool:
        nonlocal sliced
        if drain.stop_requested:
            return False  # warm shutdown: resumed by another worker
        if time.monotonic() >= slice_ends:
            sliced = True
            return False
        return bool(client.set(lease, me, ex=_lease_seconds(state), xx=True))

    def report(view: BackfillView) -> None:
        if job is not None:
            job.meta["progress"] = {"done": view.done, "total": view.total}
            job.save_meta()  # type: ignore[no-untyped-call]

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        view = run_backfill(app, state, backfill_id, on_progress=report, keep_alive=keep_alive)
        if sliced and not view.finished:
            enqueue_backfill(state, backfill_id, view.goal)  # takes the lease over
    except Exception as error:
        if not is_transient(error):
            raise
        # Unavailable, not failed: the worker backs off, then resumes it (its lease is
        # released below) from its checkpoint.
        outages.current.of(error).failed(error)
        return {"id": backfill_id, "outage": describe_error(error)}
    finally:
        if client.get(lease) == me.encode():
            client.delete(lease)
    return view.to_dict()


def resume_backfills(state: GamifyState) -> int:
    """Enqueue open backfills whose lease lapsed (their worker died); return how many."""
    assert state.pipeline is not None
    client = state.pipeline.worker_client
    resumed = 0
    for view in list_backfills(state, open_only=True):
        lease = _lease_key(state, view.id)
        if client.set(lease, "resuming", nx=True, ex=_lease_seconds(state)):
            logger.warning(
                "Resuming backfill %d of goal %r from its checkpoint.", view.id, view.goal
            )
            enqueue_backfill(state, view.id, view.goal)
            resumed += 1
    return resumed
