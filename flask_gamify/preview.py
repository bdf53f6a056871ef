"""Preview: who would progress and complete under a goal definition, writing nothing.

A goal author sees, before saving or activating, what the retained event log gives: how
many entities would progress, how many would complete, how progress is spread, and a
sample of entities with their progress trees. Only events of the criteria's types are
read (the filter runs in SQL), one entity at a time in entity order, so memory stays
bounded by the busiest entity's events.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from .criteria import Criterion, EventData, compile_criteria
from .goals import validate_goal
from .models import Event, Goal, Progress, utcnow
from .processing import held_awards
from .records import ProgressView

if TYPE_CHECKING:
    from .state import GamifyState

__all__ = ["Preview", "PreviewEntity", "preview_goal"]

_EVENTS = cast(Table, Event.__table__)
_PROGRESS = cast(Table, Progress.__table__)

#: Rows fetched from the database at a time.
FETCH = 2000
#: Histogram buckets of whole percent: 0-9, 10-19, ..., 90-99, and 100 (complete).
BUCKETS = [*(f"{low}-{low + 9}" for low in range(0, 100, 10)), "100"]


@dataclass(frozen=True, slots=True)
class PreviewEntity:
    """One entity's progress under the previewed definition."""

    entity_type: str
    entity: str
    progress: ProgressView

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "entity": self.entity,
            "progress": self.progress.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Preview:
    """What a goal definition gives over the retained event log (nothing is written)."""

    #: Entities that progressed (above 0 %, or a part of the criteria above 0 %; see
    #: :attr:`~flask_gamify.criteria.Evaluation.started`), and those that would complete.
    entities: int
    completed: int
    #: Entities per bucket of percent (see :data:`BUCKETS`), progressed ones only.
    histogram: dict[str, int]
    #: The entities furthest along (completed first), with their progress trees.
    sample: list[PreviewEntity] = field(default_factory=list)
    #: Events read, and the oldest one (``None`` without events): history before it
    #: was pruned (``GAMIFY_EVENT_RETENTION``) and is not counted.
    events_scanned: int = 0
    since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "entities": self.entities,
            "completed": self.completed,
            "histogram": self.histogram,
            "sample": [entity.to_dict() for entity in self.sample],
            "events_scanned": self.events_scanned,
            "since": None if self.since is None else self.since.isoformat(),
        }


def _definition(
    state: GamifyState, criteria_or_key: str | Mapping[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    if isinstance(criteria_or_key, str):
        saved = state.extension.goal(criteria_or_key).definition()
        return validate_goal({**saved, **options, "key": saved["key"]})
    definition = {"key": options.pop("key", "preview"), "criteria": criteria_or_key, **options}
    definition.setdefault("entity_type", state.default_entity_type)
    return validate_goal(definition)


def preview_goal(
    state: GamifyState,
    criteria_or_key: str | Mapping[str, Any],
    *,
    sample: int = 10,
    **options: Any,
) -> Preview:
    """Evaluate a definition, saved (its key) or not (criteria), over the event log.

    :param options: goal options (``entity_type``, ``starts_at``, ``ends_at``,
        ``repeatable``, ``max_awards``, ...), overriding a saved goal's.
    :raises CriteriaError: invalid criteria; :class:`GoalError`: another bad option.
    """
    with state.transaction() as session:
        goal = _definition(state, criteria_or_key, dict(options))
        most = goal["max_awards"] if goal["repeatable"] else 1
        criterion = compile_criteria(goal["criteria"], max_occurrences=most)
        completed = _completed_goals(session, criterion, goal["entity_type"])
        scanned, since = 0, None
        progressed = finished = 0
        histogram = dict.fromkeys(BUCKETS, 0)
        best: list[tuple[int, int, str, PreviewEntity]] = []
        now = utcnow()
        # Entities with events, then those with only completed prerequisites.
        histories = itertools.chain(
            _histories(session, criterion, goal), _without_events(completed)
        )
        for entity, events in histories:
            scanned += len(events)
            if events and (since is None or events[0].occurred_at < since):
                since = events[0].occurred_at
            done = completed.pop(entity, {})
            context = state.processor.context(now, done)
            evaluation = criterion.evaluate(criterion.apply(None, events, context), context)
            # An ``all`` shows 0 % until a part is complete: its parts say it progressed.
            if not evaluation.started:
                continue
            progressed += 1
            finished += evaluation.completed
            histogram[_bucket(evaluation.percent)] += 1
            view = ProgressView.build(
                goal["key"],
                goal["name"],
                goal["points"],
                evaluation,
                evaluation.occurrences,
                None,
            )
            ranked = (evaluation.percent, -progressed, entity)
            heapq.heappush(best, (*ranked, PreviewEntity(goal["entity_type"], entity, view)))
            if len(best) > sample:
                heapq.heappop(best)
        ranked_sample = [item[-1] for item in sorted(best, reverse=True)]
        return Preview(progressed, finished, histogram, ranked_sample, scanned, since)


def _without_events(
    completed: dict[str, dict[str, int]],
) -> Iterator[tuple[str, list[EventData]]]:
    """Entities left in ``completed`` once those with events were seen (read lazily)."""
    for entity in sorted(completed):
        yield entity, []


def _bucket(percent: int) -> str:
    return "100" if percent >= 100 else BUCKETS[percent // 10]


def _completed_goals(
    session: Session, criterion: Criterion, entity_type: str
) -> dict[str, dict[str, int]]:
    """Completions of the goals that ``goal`` criteria refer to, by entity."""
    if not criterion.goal_refs:
        return {}
    rows = session.execute(
        select(
            Goal.key,
            _PROGRESS.c.entity_id,
            _PROGRESS.c.times_completed,
            held_awards(_PROGRESS),
        )
        .join(Goal, Goal.id == _PROGRESS.c.goal_id)
        .where(
            Goal.key.in_(sorted(criterion.goal_refs)),
            _PROGRESS.c.entity_type == entity_type,
            _PROGRESS.c.times_completed > 0,
        )
    )
    completed: dict[str, dict[str, int]] = {}
    for key, entity, times, held in rows:
        if min(times, held):  # zero when every award was revoked by hand
            completed.setdefault(entity, {})[key] = min(times, held)
    return completed


def history_query(event_types: Iterable[str], entity_type: str) -> Select[Any]:
    """The events of ``event_types``, entity by entity in time order: what a preview reads
    (``entity_id, id, type, occurred_at, attributes``)."""
    return (
        select(
            _EVENTS.c.entity_id,
            _EVENTS.c.id,
            _EVENTS.c.type,
            _EVENTS.c.occurred_at,
            _EVENTS.c.attributes,
        )
        .where(_EVENTS.c.type.in_(sorted(event_types)), _EVENTS.c.entity_type == entity_type)
        .order_by(_EVENTS.c.entity_id, _EVENTS.c.occurred_at, _EVENTS.c.id)
    )


def _histories(
    session: Session, criterion: Criterion, goal: Mapping[str, Any]
) -> Iterator[tuple[str, list[EventData]]]:
    """Each entity's events of the criteria's types, in time order, entity by entity."""
    if not criterion.event_types:
        return
    query = history_query(criterion.event_types, goal["entity_type"])
    if goal["starts_at"] is not None:
        query = query.where(_EVENTS.c.occurred_at >= goal["starts_at"])
    if goal["ends_at"] is not None:
        query = query.where(_EVENTS.c.occurred_at < goal["ends_at"])
    current: str | None = None
    events: list[EventData] = []
    result = session.execute(query, execution_options={"yield_per": FETCH})
    for entity, event_id, event_type, occurred_at, attributes in result:
        if entity != current:
            if current is not None:
                yield current, events
            current, events = entity, []
        events.append(EventData(event_id, event_type, occurred_at, attributes or {}))
    if current is not None:
        yield current, events
