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
    # Its states are never stored: their long lists need no packing.
    quiet = dataclasses.replace(context, on_late=None, stored=False)
    reached = after
    times: list[datetime | None] = []
    shown = criterion.evaluate(state, quiet).occurrences
    if shown > reached:
        times.extend([None] * min(shown - reached, count))
        reached = shown
    ordered = sorted(events, key=lambda event: (event.occurred_at, event.id))
    size = len(ordered)
    # Bisecting costs about log2(size) applies per occurrence: worth it unless nearly
    # every event of the batch brings an occurrence.
    if criterion.monotone and size > _BISECT_FROM and count * size.bit_length() < size:
        _bisect(criterion, state, ordered, quiet, reached, after + count, times, count)
        return times
    for event in ordered:
        if len(times) >= count:
            break
        state = criterion.apply(state, [event], quiet)
        shown = criterion.evaluate(state, quiet).occurrences
        if shown > reached:
            times.extend([event.occurred_at] * min(shown - reached, count - len(times)))
            reached = shown
    return times


#: Batches longer than this are bisected (when occurrences never fall).
_BISECT_FROM = 8


def _bisect(
    criterion: Criterion,
    state: State,
    ordered: list[EventData],
    context: EvaluationContext,
    reached: int,
    wanted: int,
    times: list[datetime | None],
    count: int,
) -> None:
    """What the fold one event at a time finds, in about ``log2(len(ordered))`` applies
    per occurrence: with occurrences that never fall as events are added, the k-th is
    reached at the first event whose prefix of ``ordered`` shows k. Prefixes are applied
    in chunks, which gives the same state (states merge in any batching)."""

    def shown(from_state: State, chunk: list[EventData]) -> tuple[State, int]:
        new_state = criterion.apply(from_state, chunk, context)
        occurrences = criterion.evaluate(new_state, context).occurrences
        return new_state, min(max(occurrences, reached), wanted)

    _, total = shown(state, ordered)
    # (prefix length, state after it, occurrences it shows), left to right.
    stack = [(0, state, reached, len(ordered), total)]
    while stack and len(times) < count:
        low, low_state, low_shown, high, high_shown = stack.pop()
        if high_shown <= low_shown:
            continue
        if high - low == 1:
            moment = ordered[low].occurred_at
            times.extend([moment] * min(high_shown - low_shown, count - len(times)))
            continue
        middle = (low + high) // 2
        middle_state, middle_shown = shown(low_state, ordered[low:middle])
        stack.append((middle, middle_state, middle_shown, high, high_shown))
        stack.append((low, low_state, low_shown, middle, middle_shown))
