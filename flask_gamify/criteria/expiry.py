"""How long an evaluation holds: the moment the reader's clock can first change it.

:meth:`Criterion.evaluate` depends on ``context.now`` only where a window or a streak
is shown: the events a rolling window shows leave it as the clock moves on, a streak
breaks when a period passes without an event. :func:`valid_until` says, for a state,
the first moment (whole milliseconds since the Unix epoch) from which an evaluation made
at ``context.now`` may differ; ``None`` when no clock can change it. Until then (and from
``context.now``) the evaluation is the same at every moment, so it can be stored and
served instead of evaluated again.

One function per criterion type, apart from the code that updates states: they read the
state the way the type's ``evaluate`` reads it. Each criterion's rule is made once: a
composite's looks only at the children the clock can change, and a criterion with none
(no window, no streak) costs one lookup. Being early is always correct (the
caller evaluates again); :func:`tests.test_progress_views` checks that no answer is late.
"""

from __future__ import annotations

import functools
import weakref
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from .base import Criterion, EvaluationContext, State, to_milliseconds
from .composites import Composite
from .leaves import Count, SequenceCriterion, Streak, Sum, _SumWindow
from .packing import unpack_integers

__all__ = ["valid_until"]

_MILLISECOND = timedelta(milliseconds=1)


#: When an evaluation of a state may first change, for one criterion.
Rule = Callable[[State, EvaluationContext], "int | None"]

#: Each criterion's rule, made once: ``None`` where no clock changes its evaluations.
_rules: weakref.WeakKeyDictionary[Criterion, Rule | None] = weakref.WeakKeyDictionary()


def valid_until(criterion: Criterion, state: State, context: EvaluationContext) -> int | None:
    """When an evaluation of ``state`` at ``context.now`` may first change (epoch ms).

    ``None``: never by the clock (only new events or goal changes change it). Types
    without a rule of their own do not depend on the clock.
    """
    try:
        rule = _rules[criterion]
    except KeyError:
        rule = _rules[criterion] = _rule(criterion)
    return None if rule is None else rule(state, context)


@functools.singledispatch
def _rule(criterion: Criterion) -> Rule | None:
    """The rule of ``criterion``; ``None`` if its evaluations never change by the clock
    (the default: types without a rule of their own)."""
    return None


def _earliest(moments: list[int | None]) -> int | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


@_rule.register
def _composite_rule(criterion: Composite) -> Rule | None:
    # Only the children whose evaluations the clock changes.
    rules = [
        (index, rule)
        for index, child in enumerate(criterion.children)
        if (rule := _rule(child)) is not None
    ]
    if not rules:
        return None

    def composite(state: State, context: EvaluationContext) -> int | None:
        states = criterion._child_states(state)
        return _earliest([rule(states[index], context) for index, rule in rules])

    return composite


def _window_exit(times: Sequence[int], end: int, window_ms: int) -> int | None:
    """When the oldest of sorted ``times`` shown in the window ending at ``end`` leaves.

    The window shown is ``(end - window, end]`` with ``end`` the later of the clock and
    the watermark; no time is after the watermark, so nothing enters it as the clock
    moves on, and what it shows changes first when its oldest time leaves.
    """
    first = bisect_right(times, end - window_ms)
    if first >= len(times) or times[first] > end:
        return None
    return times[first] + window_ms


@_rule.register
def _count_rule(criterion: Count) -> Rule | None:
    return None if criterion.window_ms is None else functools.partial(_count, criterion)


def _count(criterion: Count, state: State, context: EvaluationContext) -> int | None:
    assert criterion.window_ms is not None
    state = state or {}
    times = unpack_integers(state.get("ts"))
    return _window_exit(times, criterion.shown_end(state, context), criterion.window_ms)


@_rule.register
def _sum_rule(criterion: Sum) -> Rule | None:
    return None if criterion.window_ms is None else functools.partial(_sum, criterion)


def _sum(criterion: Sum, state: State, context: EvaluationContext) -> int | None:
    assert criterion.window_ms is not None
    state = state or {}
    times = _SumWindow.read(state, criterion).times  # sorted, whatever the state's age
    return _window_exit(times, criterion.shown_end(state, context), criterion.window_ms)


@_rule.register
def _sequence_rule(criterion: SequenceCriterion) -> Rule | None:
    return None if criterion.window_ms is None else functools.partial(_sequence, criterion)


def _sequence(criterion: SequenceCriterion, state: State, context: EvaluationContext) -> int | None:
    assert criterion.window_ms is not None
    state = state or {}
    if state.get("occ", 0):
        return None
    lists = state.get("steps")
    if not lists:
        return None
    # Progress shows chains that start within the window shown: starts leave it.
    starts = unpack_integers(lists[0])
    return _window_exit(starts, criterion.shown_end(state, context), criterion.window_ms)


@_rule.register
def _streak_rule(criterion: Streak) -> Rule:
    return functools.partial(_streak, criterion)


def _streak(criterion: Streak, state: State, context: EvaluationContext) -> int | None:
    runs = (state or {}).get("runs", [])
    today = criterion.period_of(context.now, context)
    changes = []
    for first, last in runs:
        if first <= today and last >= today - 1:
            changes.append(last + 2)  # the running streak breaks
        elif first > today:
            changes.append(first)  # a streak dated ahead of the clock starts showing
    if not changes:
        return None
    return _period_start(criterion, min(changes), context)


def _period_start(criterion: Streak, period: int, context: EvaluationContext) -> int:
    """A moment at or before the start of ``period`` (a day or week number), in ms."""
    ordinal = period if criterion.period == "day" else period * 7 + 1
    try:
        day = date.fromordinal(ordinal)
        moment = datetime(day.year, day.month, day.day, tzinfo=context.timezone)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return context.now_ms  # beyond the calendar: evaluate every time
    # Local midnight may not exist (a clock change at midnight): then step back until
    # the moment is before the period, which is early, never late.
    if criterion.period_of(moment, context) >= period:
        if criterion.period_of(moment - _MILLISECOND, context) < period:
            return to_milliseconds(moment)  # exactly where the period starts
        for _ in range(48):
            moment -= timedelta(hours=1)
            if criterion.period_of(moment, context) < period:
                break
        else:
            return context.now_ms
    return to_milliseconds(moment)
