"""When, by event time, a criterion's occurrences were reached.

Awards record the moment their goal was met by event time: the ``occurred_at`` of the
event that completed it, not the moment a worker noticed. :func:`occurrence_times`
finds it by folding a batch's events one at a time, in ``occurred_at`` order, which
gives the same state as folding them at once (states merge in any order) while showing
after which event each occurrence appeared. It runs only when a batch completes
something, so the cost stays off the path of ordinary events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from .base import Criterion, EvaluationContext, EventData, State

__all__ = ["occurrence_times"]


def occurrence_times(
    criterion: Criterion,
    state: State,
    events: Iterable[EventData],
    context: EvaluationContext,
    *,
    after: int,
    count: int,
) -> list[datetime | None]:
    """The event times of occurrences ``after + 1`` to ``after + count``.

    The k-th occurrence is reached at the ``occurred_at`` of the first event (in event
    time) after which ``state`` plus the events folded so far show k occurrences.
    ``None`` stands for an occurrence shown before any of ``events`` (reached through
    ``goal`` criteria); occurrences the events never reach are left out.

    :param state: the state before ``events``.
    :param after: occurrences already recorded.
    :param count: how many occurrence times are wanted.
    """
    if count <= 0:
        return []
    # Late events were reported by the real fold; folding again must not repeat that.
    quiet = dataclasses.replace(context, on_late=None)
    reached = after
    times: list[datetime | None] = []
    shown = criterion.evaluate(state, quiet).occurrences
    if shown > reached:
        times.extend([None] * min(shown - reached, count))
        reached = shown
    for event in sorted(events, key=lambda event: (event.occurred_at, event.id)):
        if len(times) >= count:
            break
        state = criterion.apply(state, [event], quiet)
        shown = criterion.evaluate(state, quiet).occurrences
        if shown > reached:
            times.extend([event.occurred_at] * min(shown - reached, count - len(times)))
            reached = shown
    return times
