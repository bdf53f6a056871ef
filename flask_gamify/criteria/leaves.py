"""Criteria over the events themselves: count, sum, distinct, all_of, streak, sequence.

Each state is a merge-friendly summary (a count, an exact sum, a set of values, runs of
active periods, sorted timestamp lists) so that the result never depends on the order
or batching of events. Windowed criteria judge event time: each keeps a *watermark*
(the latest ``occurred_at`` it counted), refuses events older than the watermark minus
the late-event allowance (reporting them through ``context.on_late``), keeps the
timestamps a later on-time event could still combine with, and remembers the
occurrences it can no longer lose. The worker's clock never decides what counts.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right, insort
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from typing import Any

from .base import (
    MAX_NUMBER,
    Criterion,
    Evaluation,
    EvaluationContext,
    EventData,
    State,
    canonical_value,
    decode_exact,
    encode_exact,
    numeric_value,
    percent_of,
    plain_number,
)
from .filters import Where


class Leaf(Criterion):
    """A criterion over one event type, filtered by ``where``."""

    def __init__(self, event: str, where: Where, max_occurrences: int | None) -> None:
        self.event = event
        self.where = where
        self.max_occurrences = max_occurrences

    @functools.cached_property
    def event_types(self) -> frozenset[str]:
        return frozenset((self.event,))

    def matching(self, events: Iterable[EventData]) -> list[EventData]:
        return [e for e in events if e.type == self.event and self.where(e.attributes)]

    #: Whether the state honours the terminal form ``{"occ": n}`` (see :meth:`settle`).
    terminal_form = True

    def settle(self, state: State, context: EvaluationContext) -> State:
        if not self.terminal_form or self.max_occurrences is None:
            return state
        if not self.evaluate(state, context).completed:
            return state
        return {"occ": self.max_occurrences}

    def _evaluation(
        self,
        current: Fraction | int,
        target: Fraction | int,
        occurrences: int,
        missing: tuple[Any, ...] = (),
    ) -> Evaluation:
        completed = occurrences >= 1
        # Sums can fall without limit (refunds); reporting at most 2**53 - 1 below zero
        # keeps ``current`` a number every JSON parser reads and encodes.
        shown = target if completed else max(min(current, target), -MAX_NUMBER)
        return Evaluation(
            type=self.type,
            current=plain_number(shown),
            target=plain_number(target),
            percent=percent_of(shown, target, completed),
            completed=completed,
            occurrences=self.cap(occurrences),
            label=self.label,
            missing=() if completed else missing,
        )


def _where_label(where: Where) -> str:
    if not where:
        return ""
    parts = [f"{attribute} {op} {operand!r}" for attribute, op, operand in where.conditions]
    return " where " + " and ".join(parts)


def _window_text(window_ms: int) -> str:
    """``"1 day"``, ``"36 hours"``, ``"2 weeks"``: the largest whole unit."""
    units = (("week", 604_800_000), ("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000))
    for unit, size in units:
        if window_ms % size == 0:
            count = window_ms // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    seconds = window_ms // 1000
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


class _Windowed(Leaf):
    """Shared behaviour of leaves that keep timestamps for a rolling window."""

    window_ms: int | None

    def on_time(
        self,
        stamped: Iterable[tuple[int, EventData]],
        watermark: int | None,
        context: EvaluationContext,
    ) -> list[int]:
        """Timestamps of the events that count; the others are reported as late.

        An event counts unless it is older than ``watermark - allowance``: every event
        it could combine with is then still kept (see :meth:`horizon`).
        """
        if watermark is None:
            return [t for t, _ in stamped]
        limit = watermark - context.allowance_ms
        counted = []
        for t, event in stamped:
            if t >= limit:
                counted.append(t)
            elif context.on_late is not None:
                context.on_late(event)
        return counted

    def horizon(self, watermark: int, context: EvaluationContext) -> int:
        """Timestamps at or before this can no longer matter and are dropped.

        Any event that still counts is at or after ``watermark - allowance``, so it
        shares no window with a timestamp at or before ``watermark - allowance - window``.
        """
        assert self.window_ms is not None
        return watermark - self.window_ms - context.allowance_ms

    def shown_end(self, state: Any, context: EvaluationContext) -> int:
        """Where the window that ``current`` shows ends: the later of the reader's
        clock and the watermark (events dated ahead of the clock still show)."""
        watermark = state.get("wm")
        now = context.now_ms
        return now if watermark is None or watermark < now else int(watermark)

    def window_suffix(self) -> str:
        return f" within {_window_text(self.window_ms)}" if self.window_ms else ""


def _latest(watermark: int | None, times: Sequence[int]) -> int | None:
    if not times:
        return watermark
    newest = max(times)
    return newest if watermark is None or newest > watermark else watermark


class Count(_Windowed):
    type = "count"

    def __init__(
        self,
        event: str,
        where: Where,
        max_occurrences: int | None,
        *,
        target: int,
        window_ms: int | None,
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.target = target
        self.window_ms = window_ms
        # Without a window the state is one number already.
        self.terminal_form = window_ms is not None

    @functools.cached_property
    def label(self) -> str:
        return f"{self.event} {_times(self.target)}{self.window_suffix()}{_where_label(self.where)}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        matched = self.matching(events)
        if self.window_ms is None:
            return {"n": (state or {}).get("n", 0) + len(matched)}
        state = state or {}
        # "occ": the settled form, or a floor kept from states of earlier versions.
        floor = state.get("occ", 0)
        if self.is_saturated(floor):
            return {"occ": floor}
        watermark = state.get("wm")
        counted = self.on_time(((e.timestamp_ms, e) for e in matched), watermark, context)
        watermark = _latest(watermark, counted)
        timestamps = sorted([*state.get("ts", []), *counted])
        done = state.get("done", 0)
        if watermark is not None:
            # Greedy grouping decisions about timestamps at or before the horizon are
            # final (no event that still counts can join them): take those groups into
            # "done" and drop their timestamps, so the state stays the size of a window.
            horizon = self.horizon(watermark, context)
            index, window = 0, self.window_ms
            while index < len(timestamps) and timestamps[index] <= horizon:
                last = index + self.target - 1
                if last < len(timestamps) and timestamps[last] - timestamps[index] < window:
                    done, index = done + 1, index + self.target
                else:
                    index += 1
            timestamps = timestamps[index:]
        occurrences = self.cap(max(floor, done + self._groups(timestamps)))
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        new_state: dict[str, Any] = {"ts": timestamps, "done": done, "wm": watermark}
        if floor:
            new_state["occ"] = floor
        return new_state

    def _groups(self, timestamps: Sequence[int]) -> int:
        """The most disjoint groups of ``target`` events that each fit in the window."""
        assert self.window_ms is not None
        groups, index = 0, 0
        while index + self.target <= len(timestamps):
            if timestamps[index + self.target - 1] - timestamps[index] < self.window_ms:
                groups += 1
                index += self.target
            else:
                index += 1
        return groups

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        state = state or {}
        if self.window_ms is None:
            count = state.get("n", 0)
            return self._evaluation(count, self.target, count // self.target)
        timestamps = state.get("ts", [])
        occurrences = max(state.get("occ", 0), state.get("done", 0) + self._groups(timestamps))
        end = self.shown_end(state, context)
        recent = bisect_right(timestamps, end) - bisect_right(timestamps, end - self.window_ms)
        return self._evaluation(recent, self.target, occurrences)


class Sum(_Windowed):
    type = "sum"

    def __init__(
        self,
        event: str,
        where: Where,
        max_occurrences: int | None,
        *,
        field: str,
        target: int | float,
        window_ms: int | None,
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.field = field
        target_value = numeric_value(target)
        assert target_value is not None
        self.target = target_value
        self.window_ms = window_ms

    @functools.cached_property
    def label(self) -> str:
        target = plain_number(self.target)
        return (
            f"sum of {self.event}.{self.field} reaches {target}"
            f"{self.window_suffix()}{_where_label(self.where)}"
        )

    def _values(self, events: Iterable[EventData]) -> list[tuple[int, Fraction, EventData]]:
        values = []
        for event in self.matching(events):
            value = numeric_value(event.attributes.get(self.field))
            if value is not None:
                values.append((event.timestamp_ms, value, event))
        return values

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        if self.is_saturated((state or {}).get("occ", 0)):
            return {"occ": state["occ"]}  # settled (see settle())
        values = self._values(events)
        if self.window_ms is None:
            total = decode_exact((state or {}).get("total", "0")) + sum(v for _, v, _ in values)
            return {"total": encode_exact(total)}
        state = state or {}
        watermark = state.get("wm")
        if watermark is not None:
            limit = watermark - context.allowance_ms
            for t, _, event in values:
                if t < limit and context.on_late is not None:
                    context.on_late(event)
            values = [item for item in values if item[0] >= limit]
        watermark = _latest(watermark, [t for t, _, _ in values])
        if watermark is None:
            return state
        # Values can be negative (refunds), so a window's sum is only final once no event
        # can enter it any more: windows ending before the watermark minus the allowance.
        # Only those completions are remembered; the others are recomputed from the
        # entries, which keeps the result independent of the order of events.
        occurrences = state.get("occ", 0)
        previous = state.get("final")
        final = watermark - context.allowance_ms - 1
        if previous is not None and previous > final:
            final = previous
        entries = sorted([*_read_entries(state), *((t, v) for t, v, _ in values)])
        if self._best_rolling_sum(entries, after=previous, up_to=final) >= self.target:
            occurrences = self.cap(max(occurrences, 1))
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        assert self.window_ms is not None
        kept = [[t, encode_exact(v)] for t, v in entries if t > final - self.window_ms]
        return {"items": kept, "occ": occurrences, "final": final, "wm": watermark}

    def _rolling_sum(self, entries: Sequence[tuple[int, Fraction]], end: int) -> Fraction:
        """The sum of values with ``end - window < t <= end`` (``entries`` sorted)."""
        assert self.window_ms is not None
        times = [t for t, _ in entries]
        low = bisect_right(times, end - self.window_ms)
        high = bisect_right(times, end)
        return sum((v for _, v in entries[low:high]), Fraction(0))

    def _best_rolling_sum(
        self,
        entries: Sequence[tuple[int, Fraction]],
        *,
        up_to: int | None = None,
        after: int | None = None,
    ) -> Fraction:
        """The largest rolling sum of windows ending at an entry (within the bounds).

        ``entries`` are sorted; prefix sums make each window's sum two look-ups.
        """
        assert self.window_ms is not None
        times = [t for t, _ in entries]
        prefix = [Fraction(0)]
        for _, value in entries:
            prefix.append(prefix[-1] + value)
        best = Fraction(0)
        for end in sorted(set(times)):
            if (up_to is not None and end > up_to) or (after is not None and end <= after):
                continue
            low = bisect_right(times, end - self.window_ms)
            high = bisect_right(times, end)
            best = max(best, prefix[high] - prefix[low])
        return best

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        state = state or {}
        if self.window_ms is None:
            total = decode_exact(state.get("total", "0"))
            occurrences = int(total // self.target) if total > 0 else 0
            # A refund may take the total back below target; a settled state stays complete.
            occurrences = max(occurrences, state.get("occ", 0))
            return self._evaluation(total, self.target, occurrences)
        entries = _read_entries(state)
        occurrences = state.get("occ", 0)
        # Windows ending at or before "final" may have lost pruned entries: their
        # completions are already in "occ".
        after = state.get("final")
        if occurrences == 0 and self._best_rolling_sum(entries, after=after) >= self.target:
            occurrences = 1
        return self._evaluation(
            self._rolling_sum(entries, self.shown_end(state, context)), self.target, occurrences
        )


def _read_entries(state: State) -> list[tuple[int, Fraction]]:
    return [(t, decode_exact(v)) for t, v in (state or {}).get("items", [])]


class Distinct(Leaf):
    type = "distinct"
    # At most target * max_occurrences values: small enough, and it keeps "current".
    terminal_form = False

    def __init__(
        self, event: str, where: Where, max_occurrences: int | None, *, field: str, target: int
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.field = field
        self.target = target

    @functools.cached_property
    def label(self) -> str:
        return f"{self.target} different {self.field} of {self.event}{_where_label(self.where)}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        values = set((state or {}).get("values", []))
        for event in self.matching(events):
            key = canonical_value(event.attributes.get(self.field))
            if key is not None:
                values.add(key)
        kept = sorted(values)
        if self.max_occurrences is not None:
            # The smallest values are a merge-friendly choice of which ones to keep.
            kept = kept[: self.target * self.max_occurrences]
        return {"values": kept}

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        count = len((state or {}).get("values", []))
        return self._evaluation(count, self.target, count // self.target)


class AllOf(Leaf):
    type = "all_of"
    # One counter per listed value, each capped at max_occurrences.
    terminal_form = False

    def __init__(
        self,
        event: str,
        where: Where,
        max_occurrences: int | None,
        *,
        field: str,
        values: Sequence[Any],
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.field = field
        self.values = list(values)
        self.keys = [canonical_value(value) for value in values]

    @functools.cached_property
    def label(self) -> str:
        listed = ", ".join(repr(value) for value in self.values)
        return f"{self.event} with every {self.field} of {listed}{_where_label(self.where)}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        counts = dict((state or {}).get("counts", {}))
        wanted = set(self.keys)
        for event in self.matching(events):
            key = canonical_value(event.attributes.get(self.field))
            if key in wanted:
                assert key is not None
                counts[key] = counts.get(key, 0) + 1
        if self.max_occurrences is not None:
            counts = {key: min(n, self.max_occurrences) for key, n in counts.items()}
        return {"counts": counts}

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        counts = (state or {}).get("counts", {})
        seen = sum(1 for key in self.keys if counts.get(key, 0) > 0)
        occurrences = min(counts.get(key, 0) for key in self.keys)
        missing = tuple(
            value for value, key in zip(self.values, self.keys, strict=True) if not counts.get(key)
        )
        return self._evaluation(seen, len(self.keys), occurrences, missing)


class Streak(Leaf):
    type = "streak"

    def __init__(
        self, event: str, where: Where, max_occurrences: int | None, *, target: int, period: str
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.target = target
        self.period = period

    @functools.cached_property
    def label(self) -> str:
        return f"{self.event} {self.target} {self.period}s in a row{_where_label(self.where)}"

    def period_of(self, event_time: Any, context: EvaluationContext) -> int:
        """The day (or Monday-based week) number of a moment in the context's time zone."""
        ordinal = local_day(event_time, context.timezone)
        # date(1, 1, 1) is a Monday, so weeks counted from it start on Mondays.
        return ordinal if self.period == "day" else (ordinal - 1) // 7

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        occurrences = (state or {}).get("occ", 0)
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        runs = [list(run) for run in (state or {}).get("runs", [])]
        for event in self.matching(events):
            _add_to_runs(runs, self.period_of(event.occurred_at, context))
        # Runs only grow and merge, so occurrences never fall: saturation is final.
        if self.is_saturated(self._occurrences(runs)):
            return {"occ": self.max_occurrences}
        return {"runs": runs}

    def _occurrences(self, runs: Sequence[Sequence[int]]) -> int:
        return sum((last - first + 1) // self.target for first, last in runs)

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        runs = (state or {}).get("runs", [])
        occurrences = max((state or {}).get("occ", 0), self._occurrences(runs))
        today = self.period_of(context.now, context)
        running = next(
            (last - first + 1 for first, last in runs if first <= today and last >= today - 1), 0
        )
        return self._evaluation(running, self.target, occurrences)


#: Days in 400 Gregorian years: calendars, weekdays and time zone rules repeat after it.
_CYCLE_DAYS = 146097


def local_day(moment: datetime, timezone: tzinfo) -> int:
    """The proleptic ordinal of ``moment``'s date in ``timezone``.

    The local date of a moment on the first day of year 1 west of UTC (or the last of
    year 9999 east of it) lies outside what :class:`~datetime.date` can hold; such
    moments are shifted by 400 years, where the calendar and the zone's rules are the
    same, and the ordinal shifted back (it may then be 0, or past 9999-12-31).
    """
    try:
        return moment.astimezone(timezone).date().toordinal()
    except OverflowError:
        shift = 1 if moment.year < 5000 else -1
        shifted = moment + timedelta(days=shift * _CYCLE_DAYS)
        return shifted.astimezone(timezone).date().toordinal() - shift * _CYCLE_DAYS


def _add_to_runs(runs: list[list[int]], period: int) -> None:
    """Add ``period`` to sorted, disjoint, non-adjacent ``[first, last]`` runs, in place."""
    index = bisect_right(runs, [period, math.inf])  # the first run starting after period
    before = runs[index - 1] if index > 0 else None
    after = runs[index] if index < len(runs) else None
    if before is not None and before[1] >= period:
        return
    joins_before = before is not None and before[1] == period - 1
    joins_after = after is not None and after[0] == period + 1
    if joins_before and joins_after:
        assert before is not None and after is not None
        before[1] = after[1]
        del runs[index]
    elif joins_before:
        assert before is not None
        before[1] = period
    elif joins_after:
        assert after is not None
        after[0] = period
    else:
        insort(runs, [period, period])


class Step:
    """One step of a sequence."""

    def __init__(self, event: str, where: Where) -> None:
        self.event = event
        self.where = where

    def matches(self, event: EventData) -> bool:
        return event.type == self.event and self.where(event.attributes)


def _contains(times: Sequence[int], t: int) -> bool:
    index = bisect_right(times, t)
    return index > 0 and times[index - 1] == t


class SequenceCriterion(_Windowed):
    type = "sequence"

    def __init__(
        self, steps: Sequence[Step], max_occurrences: int | None, *, window_ms: int | None
    ) -> None:
        super().__init__(steps[0].event, steps[0].where, max_occurrences)
        self.steps = list(steps)
        self.window_ms = window_ms

    @functools.cached_property
    def event_types(self) -> frozenset[str]:
        return frozenset(step.event for step in self.steps)

    @functools.cached_property
    def label(self) -> str:
        arrows = " → ".join(step.event + _where_label(step.where) for step in self.steps)
        return f"{arrows}{self.window_suffix()}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        occurrences = (state or {}).get("occ", 0)
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        watermark = (state or {}).get("wm") if self.window_ms is not None else None
        limit = None if watermark is None else watermark - context.allowance_ms
        lists = [list(times) for times in (state or {}).get("steps", [[] for _ in self.steps])]
        counted: list[int] = []
        for event in events:
            matched = [index for index, step in enumerate(self.steps) if step.matches(event)]
            if not matched:
                continue
            t = event.timestamp_ms
            if limit is not None and t < limit:
                if context.on_late is not None:
                    context.on_late(event)
                continue
            counted.append(t)
            for index in matched:
                if not _contains(lists[index], t):
                    # Chains use distinct times only: one entry per millisecond is enough.
                    insort(lists[index], t)
        if self._longest_chain(lists) == len(self.steps):
            occurrences = self.cap(max(occurrences, 1))
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        if self.window_ms is None:
            return {"steps": self._drop_unreachable(lists), "occ": occurrences}
        watermark = _latest(watermark, counted)
        if watermark is None:
            return {"steps": lists, "occ": occurrences}
        horizon = self.horizon(watermark, context)
        lists = [[t for t in times if t > horizon] for times in lists]
        return {"steps": lists, "occ": occurrences, "wm": watermark}

    def _chain_from(self, lists: Sequence[Sequence[int]], start: int) -> int:
        """Steps matched by the earliest chain that begins at ``start``, within the window."""
        previous, length = start, 1
        for times in lists[1:]:
            index = bisect_right(times, previous)
            if index == len(times):
                break
            following = times[index]
            if self.window_ms is not None and following - start >= self.window_ms:
                break
            previous, length = following, length + 1
        return length

    def _longest_chain(self, lists: Sequence[Sequence[int]]) -> int:
        if not lists[0]:
            return 0
        if self.window_ms is None:
            # Without a window, the earliest start gives the longest chain.
            return self._chain_from(lists, lists[0][0])
        return max(self._chain_from(lists, start) for start in lists[0])

    def _drop_unreachable(self, lists: list[list[int]]) -> list[list[int]]:
        """Keep only timestamps a windowless chain may still use.

        The earliest start is the best one; and once step ``i`` has a chain time, later
        times of that step can never be chosen, since chain times only move earlier.
        """
        kept = [lists[0][:1]]
        previous = lists[0][0] if lists[0] else None
        for times in lists[1:]:
            if previous is None:
                kept.append(times)
                continue
            index = bisect_right(times, previous)
            if index == len(times):
                kept.append(times)
                previous = None
            else:
                kept.append(times[: index + 1])
                previous = times[index]
        return kept

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        state = state or {}
        lists = state.get("steps", [[] for _ in self.steps])
        chain = self._longest_chain(lists)
        occurrences = max(state.get("occ", 0), 1 if chain == len(self.steps) else 0)
        if self.window_ms is not None and occurrences == 0:
            # Progress shows the best chain that starts within the window shown, like the
            # events a windowed count shows.
            start = self.shown_end(state, context) - self.window_ms
            lists = [[t for t in lists[0] if t > start], *lists[1:]]
            chain = self._longest_chain(lists)
        missing = tuple(step.event for step in self.steps[chain:])
        return self._evaluation(chain, len(self.steps), occurrences, missing)


__all__ = ["AllOf", "Count", "Distinct", "Leaf", "SequenceCriterion", "Step", "Streak", "Sum"]
