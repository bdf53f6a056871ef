"""Reading progress and awards: the views stored with the states, evaluated again only
where the clock may have changed them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, exists, null, or_, select
from sqlalchemy.orm import Session

from .catalog import CATALOG_ROW, CatalogGoal
from .criteria import Evaluation, EvaluationContext
from .criteria.base import to_milliseconds
from .errors import GoalNotFound
from .models import Assignment, Award, CatalogVersion, Goal, Progress, utcnow
from .processing import BatchProcessor, held_awards
from .records import AwardView, ProgressPage, ProgressView
from .stored_views import stored_evaluation, view_key

__all__ = ["awards", "has_completed", "progress", "progress_page"]

_PROGRESS = cast(Table, Progress.__table__)
_VERSION = cast(Table, CatalogVersion.__table__)
_GOALS = cast(Table, Goal.__table__)
_AWARDS = cast(Table, Award.__table__)

#: The progress columns a read needs, without the state.
_ROW_COLUMNS = (
    _PROGRESS.c.id,
    _PROGRESS.c.goal_id,
    _PROGRESS.c.stored_view,
    _PROGRESS.c.criteria_hash,
    _PROGRESS.c.times_completed,
    _PROGRESS.c.completed_at,
    _PROGRESS.c.late_events,
    held_awards(_PROGRESS).label("held"),
)
#: The state of a row whose stored view the clock ended (``now_ms``, the reader's clock,
#: is past its ``until``), else ``NULL``: the commonest reason to evaluate a state at a
#: read costs no second round trip. The states of views that expired otherwise are
#: read afterwards.
_EXPIRED_STATE = case(
    (_PROGRESS.c.stored_view["until"].as_float() <= bindparam("now_ms"), _PROGRESS.c.state)
).label("expired_state")


def _rows_with_version(*conditions: Any, states: bool = True) -> Any:
    """An entity's progress rows (``conditions`` on them too) with the states of those
    whose view the clock ended (none unless ``states``) and the catalog version in the
    same round trip (no query of its own while the goals are unchanged): the version row
    outer joined with the rows, so that an entity without rows gets the version too."""
    expired_state = _EXPIRED_STATE if states else null().label("expired_state")
    return (
        select(_VERSION.c.version.label("catalog_version"), *_ROW_COLUMNS, expired_state)
        .select_from(
            _VERSION.outerjoin(
                _PROGRESS,
                and_(
                    _PROGRESS.c.entity_type == bindparam("entity_type"),
                    _PROGRESS.c.entity_id == bindparam("entity_id"),
                    *conditions,
                ),
            )
        )
        .where(_VERSION.c.id == CATALOG_ROW)
    )


#: Every progress row of an entity. Built once: building a statement costs more than
#: running this one.
_ROWS = _rows_with_version()
#: Every progress row of an entity, without states: a read of one goal needs the other
#: rows' awards (for ``goal`` criteria), not their states.
_ROWS_WITHOUT_STATES = _rows_with_version(states=False)
#: The rows of some goals only (``goal_ids``): those of a page and of the goals its
#: ``goal`` criteria name.
_SOME_ROWS = _rows_with_version(
    _PROGRESS.c.goal_id.in_(bindparam("goal_ids", expanding=True, literal_execute=True))
)

#: Whether the entity holds an award of the goal of the row joined (``_held`` above 0:
#: occurrences given, and an award left).
_DONE = and_(
    _PROGRESS.c.times_completed > 0,
    exists().where(
        _AWARDS.c.goal_id == _GOALS.c.id,
        _AWARDS.c.entity_type == bindparam("entity_type"),
        _AWARDS.c.entity_id == bindparam("entity_id"),
    ),
)


def _goal_ids(name: str) -> Any:
    # Rendered in the statement (they are integers): a catalog's worth of ids never
    # meets a database's limit on parameters.
    return _GOALS.c.id.in_(bindparam(name, expanding=True, literal_execute=True))


#: A page of a list where whether a goal is listed depends on whether the entity
#: completed it: the goals listed whatever the entity did (``always``), those listed
#: once completed (``if_done``) and those listed until then (``if_not_done``), by id,
#: from ``skip`` on, ``count`` of them; with their rows (outer joined: ``id`` is
#: ``NULL`` for a goal without one).
_PAGE = (
    select(_GOALS.c.id.label("listed_goal"), *_ROW_COLUMNS, _EXPIRED_STATE)
    .select_from(
        _GOALS.outerjoin(
            _PROGRESS,
            and_(
                _PROGRESS.c.goal_id == _GOALS.c.id,
                _PROGRESS.c.entity_type == bindparam("entity_type"),
                _PROGRESS.c.entity_id == bindparam("entity_id"),
            ),
        )
    )
    .where(
        or_(
            _goal_ids("always"),
            and_(_goal_ids("if_done"), _DONE),
            and_(_goal_ids("if_not_done"), or_(_PROGRESS.c.id.is_(None), ~_DONE)),
        )
    )
    .order_by(_GOALS.c.id)
    .limit(bindparam("count"))
    .offset(bindparam("skip"))
)


@dataclass(slots=True)
class ProgressEntry:
    """A goal shown to an entity and its progress row, before evaluation."""

    goal: CatalogGoal
    #: The progress row (without its state), ``None`` when the entity has none.
    row: Any
    #: Awards the entity holds for the goal.
    times: int

    @property
    def completed(self) -> bool:
        return self.times > 0


#: Whether a list shows a goal (by key) to its reader, by whether the entity completed it.
Shown = Callable[[str, bool], bool]


def progress(
    session: Session,
    processor: BatchProcessor,
    entity_type: str,
    entity_id: str,
    goal_key: str | None = None,
    *,
    include_hidden: bool = False,
    now: datetime | None = None,
) -> list[ProgressView]:
    """Progress on one goal (any, archived too), or on every goal visible to the entity.

    Visible goals: live (active, not archived), of the entity's type, not hidden unless
    completed, and, for ``assigned_only`` goals, assigned to the entity.

    Each row's stored view is served while it holds (see :mod:`flask_gamify.stored_views`);
    only rows without one, or whose view expired, have their state read and evaluated.

    :param now: the reader's clock (tests); by default the current time.
    """
    moment = now or utcnow()
    parameters = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "now_ms": to_milliseconds(moment),
    }
    statement = _ROWS if goal_key is None else _ROWS_WITHOUT_STATES
    found = session.execute(statement, parameters).all()
    rows = {row.goal_id: row for row in found if row.id is not None}
    if found:
        catalog = processor.catalog.goals(session, int(found[0].catalog_version))
    else:  # no catalog version row yet (tables created before it was seeded)
        catalog = processor.catalog.goals(session)
    if goal_key is not None:
        goals = [goal for goal in catalog if goal.key == goal_key]
        if not goals:
            raise GoalNotFound(goal_key)
    else:
        goals = [goal for goal in catalog if goal.live and goal.entity_type == entity_type]
    assigned: set[int] = set()
    if goal_key is None and any(goal.assigned_only for goal in goals):
        assigned = _assigned(session, entity_type, entity_id)
    keys = {goal.id: goal.key for goal in catalog}
    completed = {keys[row.goal_id]: _held(row) for row in rows.values() if _held(row)}
    entries = []
    for goal in goals:
        row = rows.get(goal.id)
        times = _held(row) if row else 0
        if goal_key is None:
            if goal.assigned_only and goal.id not in assigned:
                continue
            if goal.hidden and not include_hidden and not times:
                continue
        entries.append(ProgressEntry(goal, row, times))
    return _views(session, processor.context(moment, completed), entries)


def progress_page(
    session: Session,
    processor: BatchProcessor,
    entity_type: str,
    entity_id: str,
    *,
    offset: int,
    limit: int,
    include_hidden: bool = False,
    completed: bool | None = None,
    shown: Shown | None = None,
    now: datetime | None = None,
) -> ProgressPage:
    """Goals ``offset`` to ``offset + limit`` of the list :func:`progress` gives, in its
    order (by goal id), keeping only the goals (not) ``completed`` and those ``shown``
    to the reader when asked; only the page's rows are read and evaluated.

    The catalog tells which goals the list may hold. Where it alone decides, the page is
    cut from it here; where whether a goal is listed depends on whether the entity
    completed it (a hidden goal, ``completed``, ``shown``), the page is cut in SQL, by
    the goals' progress rows and awards. One more statement reads the rows of the page's
    goals and of the goals their ``goal`` criteria name, with the catalog version: the
    goals last loaded serve while that version is theirs (no query of its own for the
    catalog while the goals are unchanged), else the page is cut again from the goals
    of that version.

    :param shown: whether the reader may see a goal (by key), by whether the entity
        completed it; by default every goal listed.
    :param now: the reader's clock (tests); by default the current time.
    """
    moment = now or utcnow()
    catalog = processor.catalog
    loaded = catalog.loaded()
    if loaded is None:
        catalog.goals(session)
        loaded = catalog.loaded()
        assert loaded is not None
    version, goals = loaded
    parameters = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "now_ms": to_milliseconds(moment),
    }
    assigned: set[int] | None = None
    for attempt in range(2):
        listed = [goal for goal in goals if goal.live and goal.entity_type == entity_type]
        if assigned is None and any(goal.assigned_only for goal in listed):
            assigned = _assigned(session, entity_type, entity_id)
        always: list[int] = []
        if_done: list[int] = []
        if_not_done: list[int] = []
        for goal in listed:
            if goal.assigned_only and goal.id not in (assigned or ()):
                continue
            when_done = _listed(goal, True, include_hidden, completed, shown)
            when_not_done = _listed(goal, False, include_hidden, completed, shown)
            if when_done and when_not_done:
                always.append(goal.id)
            elif when_done:
                if_done.append(goal.id)
            elif when_not_done:
                if_not_done.append(goal.id)
        by_id = {goal.id: goal for goal in goals}
        rows: dict[int, Any] = {}
        if if_done or if_not_done:
            found = session.execute(
                _PAGE,
                {
                    **parameters,
                    "always": always,
                    "if_done": if_done,
                    "if_not_done": if_not_done,
                    "count": limit + 1,
                    "skip": offset,
                },
            ).all()
            chosen = [by_id[row.listed_goal] for row in found]
            rows = {row.listed_goal: row for row in found if row.id is not None}
            read = {goal.id for goal in chosen}
        else:
            chosen = [by_id[goal_id] for goal_id in always[offset : offset + limit + 1]]
            read = set()
        more = len(chosen) > limit
        chosen = chosen[:limit]
        ids = {goal.key: goal.id for goal in goals}
        wanted = {goal.id for goal in chosen} | {
            ids[key] for goal in chosen for key in goal.criterion.goal_refs if key in ids
        }
        unread = wanted - read
        if unread and len(unread) == sum(goal.entity_type == entity_type for goal in goals):
            # Every goal the entity may have a row of (a small catalog): its rows, without
            # a list of ids to write into the statement.
            found = session.execute(_ROWS, parameters).all()
        else:
            found = session.execute(_SOME_ROWS, {**parameters, "goal_ids": sorted(unread)}).all()
        rows.update((row.goal_id, row) for row in found if row.id is not None)
        # No version row: tables created before it was seeded (version 0, as
        # catalog_version reads it).
        current = int(found[0].catalog_version) if found else 0
        if current == version or attempt:
            break
        # The goals changed since they were loaded: cut the page from the new ones.
        goals, version = catalog.goals(session, current), current
    keys = {goal.id: goal.key for goal in goals}
    held = {keys[goal_id]: _held(row) for goal_id, row in rows.items() if goal_id in keys}
    entries = [ProgressEntry(goal, rows.get(goal.id), held.get(goal.key, 0)) for goal in chosen]
    context = processor.context(moment, {key: times for key, times in held.items() if times})
    return ProgressPage(_views(session, context, entries), more)


def _listed(
    goal: CatalogGoal,
    done: bool,
    include_hidden: bool,
    completed: bool | None,
    shown: Shown | None,
) -> bool:
    """Whether a list shows ``goal``, by whether the entity completed it (``done``)."""
    if goal.hidden and not include_hidden and not done:
        return False
    if completed is not None and done != completed:
        return False
    return shown is None or shown(goal.key, done)


def _assigned(session: Session, entity_type: str, entity_id: str) -> set[int]:
    """The goals assigned to the entity, by id."""
    return set(
        session.execute(
            select(Assignment.goal_id).where(
                Assignment.entity_type == entity_type, Assignment.entity_id == entity_id
            )
        ).scalars()
    )


def _views(
    session: Session, context: EvaluationContext, entries: Sequence[ProgressEntry]
) -> list[ProgressView]:
    """Evaluate ``entries``: stored views where they hold, else the states."""
    evaluations: list[Evaluation | None] = []
    expired: list[Any] = []
    for entry in entries:
        goal, row = entry.goal, entry.row
        evaluation = None
        if row is None or row.criteria_hash != goal.criteria_hash:
            evaluation = goal.criterion.evaluate(None, context)
        else:
            evaluation = stored_evaluation(
                row.stored_view, view_key(goal.view_key, context), goal.criterion, context
            )
            if evaluation is None:
                expired.append(row)
        evaluations.append(evaluation)
    # The rows' states came along where the clock ended their views; the others are read.
    states = {row.id: row.expired_state for row in expired if row.expired_state is not None}
    unread = [row.id for row in expired if row.id not in states]
    if unread:
        # Only the states needed: a long windowed state costs more to read than a view.
        for start in range(0, len(unread), 500):  # within every database's limits
            found = session.execute(
                select(_PROGRESS.c.id, _PROGRESS.c.state).where(
                    _PROGRESS.c.id.in_(unread[start : start + 500])
                )
            )
            states.update((row.id, row.state) for row in found)
    views = []
    for entry, evaluation in zip(entries, evaluations, strict=True):
        goal, row = entry.goal, entry.row
        if evaluation is None:
            evaluation = goal.criterion.evaluate(states.get(row.id), context)
        views.append(
            ProgressView.build(
                goal.key,
                goal.name,
                goal.points,
                evaluation,
                entry.times,
                row.completed_at if row and entry.times else None,
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
