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

import abc
import functools
import json
import math
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, MutableSequence, Sequence
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from typing import Any

from .base import (
    Criterion,
    Evaluation,
    EvaluationContext,
    EventData,
    Item,
    Measure,
    State,
    canonical_value,
    decode_exact,
    encode_exact,
    label_key,
    numeric_value,
    plain_number,
    shown_progress,
)
from .filters import Where
from .packing import pack_integers, unpack_integers


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
    monotone = True

    def settle(self, state: State, context: EvaluationContext) -> State:
        if not self.terminal_form or self.max_occurrences is None:
            return state
        if self.measure(state, context)[2] < 1:
            return state
        return {"occ": self.max_occurrences}

    #: The listed parts of a list-like leaf (``all_of`` values, ``sequence`` steps), in
    #: order: ``(value, label, missing)``, what :attr:`Evaluation.items` shows of each
    #: and what :attr:`Evaluation.missing` names while it is not done. Empty for others.
    parts: tuple[tuple[Any, str, Any], ...] = ()

    @abc.abstractmethod
    def measure(self, state: State, context: EvaluationContext) -> Measure:
        """What ``state`` amounts to, as numbers: :meth:`evaluate` and the stored views
        (:func:`~flask_gamify.stored_views.compact`) are both made of it.

        Without a state (``None``: no event yet) the numbers must be the same in every
        context: writers make that view once per leaf."""

    def shown_parts(
        self, done: tuple[bool, ...], completed: bool
    ) -> tuple[tuple[bool, ...], tuple[Any, ...]]:
        """Which listed parts progress shows as done (all of them once the criterion is
        complete), and what it names as missing."""
        if completed:
            return (True,) * len(self.parts), ()
        pairs = zip(self.parts, done, strict=True)
        return done, tuple(name for (_, _, name), flag in pairs if not flag)

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        current, target, occurrences, done = self.measure(state, context)
        completed = occurrences >= 1
        shown, reported_target, percent = shown_progress(current, target, completed)
        missing: tuple[Any, ...] = ()
        items: tuple[Item, ...] = ()
        if done is not None:
            done, missing = self.shown_parts(done, completed)
            pairs = zip(self.parts, done, strict=True)
            items = tuple(Item(value, label, flag) for (value, label, _), flag in pairs)
        return Evaluation(
            type=self.type,
            current=shown,
            target=reported_target,
            percent=percent,
            completed=completed,
            occurrences=self.cap(occurrences),
            label=self.label,
            missing=missing,
            items=items,
        )


#: How the automatic labels write the operators of ``where``.
_OPERATOR_WORDS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "in"}
#: How many listed values an automatic label names before "and N more".
_NAMED_VALUES = 5


def value_text(value: Any) -> str:
    """A listed value as a label shows it: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _listing(texts: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``, ``"a, b, c, d, e and 3 more"``."""
    if len(texts) > _NAMED_VALUES:
        return f"{', '.join(texts[:_NAMED_VALUES])} and {len(texts) - _NAMED_VALUES} more"
    if len(texts) == 1:
        return texts[0]
    return f"{', '.join(texts[:-1])} and {texts[-1]}"


def _where_label(where: Where) -> str:
    if not where:
        return ""
    parts = [
        f"{attribute} {_OPERATOR_WORDS.get(op, op)} {json.dumps(operand, ensure_ascii=False)}"
        for attribute, op, operand in where.conditions
    ]
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
    def default_label(self) -> str:
        return f"{self.target} × {self.event}{self.window_suffix()}{_where_label(self.where)}"

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
        timestamps = unpack_integers(state.get("ts"))
        counted.sort()
        if counted and timestamps and counted[0] < timestamps[-1]:
            timestamps = sorted([*timestamps, *counted])
        else:
            timestamps.extend(counted)  # in time order: the common case
        done = state.get("done", 0)
        if watermark is not None:
            # Greedy grouping decisions about timestamps at or before the horizon are
            # final (no event that still counts can join them): take those groups into
            # "done" and drop their timestamps, so the state stays the size of a window.
            # A decision is final once no event that still counts (at or after "limit")
            # can change it: the group's last timestamp is at or before the limit (an
            # event inserted later sorts after it), or the group's first timestamp is at
            # or before the horizon (no event that still counts can share its window).
            limit = watermark - context.allowance_ms
            horizon = self.horizon(watermark, context)
            index, window, size = 0, self.window_ms, len(timestamps)
            while index < size:
                last = index + self.target - 1
                if last < size and timestamps[last] <= limit:
                    if timestamps[last] - timestamps[index] < window:
                        done, index = done + 1, index + self.target
                    else:
                        index += 1
                elif timestamps[index] <= horizon:
                    index += 1
                else:
                    break
            del timestamps[:index]
        occurrences = self.cap(max(floor, done + self._groups(timestamps)))
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        new_state: dict[str, Any] = {
            "ts": pack_integers(timestamps, stored=context.stored),
            "done": done,
            "wm": watermark,
        }
        if floor:
            new_state["occ"] = floor
        return new_state

    def _groups(self, timestamps: Sequence[int]) -> int:
        """The most disjoint groups of ``target`` events that each fit in the window."""
        window, size = self.window_ms, self.target
        assert window is not None
        groups, index, last, reach = 0, 0, len(timestamps) - size, size - 1
        while index <= last:
            if timestamps[index + reach] - timestamps[index] < window:
                groups += 1
                index += size
            else:
                index += 1
        return groups

    def measure(self, state: State, context: EvaluationContext) -> Measure:
        state = state or {}
        if self.window_ms is None:
            count = state.get("n", 0)
            return count, self.target, count // self.target, None
        timestamps = unpack_integers(state.get("ts"))
        occurrences = max(state.get("occ", 0), state.get("done", 0) + self._groups(timestamps))
        end = self.shown_end(state, context)
        recent = bisect_right(timestamps, end) - bisect_right(timestamps, end - self.window_ms)
        return recent, self.target, occurrences, None


class Sum(_Windowed):
    type = "sum"
    # A negative amount (a refund) can take a total back below its target.
    monotone = False

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
        # Whole targets and amounts stay integers: the common case, exact and much faster.
        self.target: Fraction | int = (
            target_value.numerator if target_value.denominator == 1 else target_value
        )
        self.window_ms = window_ms

    @functools.cached_property
    def default_label(self) -> str:
        target = value_text(plain_number(self.target))
        return (
            f"{self.event}: {self.field} totalling {target}"
            f"{self.window_suffix()}{_where_label(self.where)}"
        )

    def _values(self, events: Iterable[EventData]) -> list[tuple[int, Fraction | int, EventData]]:
        values = []
        for event in self.matching(events):
            raw = event.attributes.get(self.field)
            value = raw if type(raw) is int else numeric_value(raw)
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
        if not values:
            return state
        watermark = _latest(watermark, [t for t, _, _ in values])
        assert watermark is not None
        occurrences = state.get("occ", 0)
        if occurrences:
            # A window's completion is remembered once final, and a windowed sum has
            # one occurrence at most: nothing can change the evaluation any more. The
            # watermark still moves, so that late events are still reported.
            return {"occ": occurrences, "wm": watermark}
        window = _SumWindow.read(state, self)
        previous = window.final
        # Values can be negative (refunds), so a window's sum is only final once no event
        # can enter it any more: windows ending before the watermark minus the allowance.
        # Only those completions are remembered; the others are kept as "hit", the
        # earliest window (by its end) that reaches the target, and checked again when
        # an event enters it.
        final = watermark - context.allowance_ms - 1
        if previous is not None and previous > final:
            final = previous
        low = window.add((t, v) for t, v, _ in values)
        if window.hit is None or window.hit >= low:
            # Windows ending before ``low`` kept their sums, and none reached the target.
            window.hit = window.first_hit(low)
        if window.hit is not None and window.hit <= final:
            occurrences = self.cap(1)
            if self.is_saturated(occurrences):
                return {"occ": occurrences}
            return {"occ": occurrences, "wm": watermark}
        window.prune(final - self.window_ms)
        return {
            "t": pack_integers(window.times, stored=context.stored),
            "v": pack_integers(window.values, stored=context.stored),
            "sum": _stored(window.kept_sum),
            "hit": window.hit,
            "final": final,
            "wm": watermark,
        }

    def measure(self, state: State, context: EvaluationContext) -> Measure:
        state = state or {}
        if self.window_ms is None:
            total = decode_exact(state.get("total", "0"))
            occurrences = int(total // self.target) if total > 0 else 0
            # A refund may take the total back below target; a settled state stays complete.
            occurrences = max(occurrences, state.get("occ", 0))
            return total, self.target, occurrences, None
        window = _SumWindow.read(state, self)
        occurrences = state.get("occ", 0)
        if occurrences == 0 and window.hit is not None:
            occurrences = 1
        end = self.shown_end(state, context)
        current = window.total(end - self.window_ms, end)
        return current, self.target, occurrences, None


def _exact(stored: int | str) -> Fraction | int:
    return stored if type(stored) is int else decode_exact(stored)  # type: ignore[arg-type]


def _stored(value: Fraction | int) -> int | str:
    """An exact amount as a stored state keeps it: an integer as a JSON integer (within
    64 bits, which every database's JSON reads exactly), anything else as text."""
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    if isinstance(value, int) and -(2**63) < value < 2**63:
        return value
    return encode_exact(Fraction(value))


def _exact_sum(stored: Sequence[int | str]) -> Fraction | int:
    try:
        return sum(stored)  # type: ignore[arg-type]  # integers only: the common, fast case
    except TypeError:
        return sum((_exact(item) for item in stored), Fraction(0))


class _SumWindow:
    """The amounts of a windowed sum, one per millisecond (amounts at the same moment
    always share their windows, so they are added up), as two sorted lists.

    ``hit``: the end of the earliest window (after ``final``) that reaches the target;
    ``final``: windows ending at or before it can no longer change; ``kept_sum``: the sum
    of all the amounts kept, so that the sum of a window ending near the newest amounts
    (where a batch's windows and the window shown end) costs the amounts outside it,
    not the amounts in it.
    """

    def __init__(
        self,
        criterion: Sum,
        times: MutableSequence[int],
        values: MutableSequence[int | str],
        hit: int | None,
        final: int | None,
        kept_sum: Fraction | int | None = None,
    ) -> None:
        self.criterion = criterion
        self.times = times
        self.values = values
        self.hit = hit
        self.final = final
        self._kept_sum = kept_sum

    @property
    def kept_sum(self) -> Fraction | int:
        if self._kept_sum is None:  # a state written before the sum was stored
            self._kept_sum = _exact_sum(self.values)
        return self._kept_sum

    @classmethod
    def read(cls, state: Mapping[str, Any], criterion: Sum) -> _SumWindow:
        if "items" not in state:
            return cls(
                criterion,
                unpack_integers(state.get("t")),
                unpack_integers(state.get("v")),
                state.get("hit"),
                state.get("final"),
                _exact(state["sum"]) if "sum" in state else None,
            )
        # A state written by earlier versions: [[t, "v"], ...] lists every amount.
        window = cls(criterion, [], [], None, state.get("final"), 0)
        if state["items"]:
            window.add((t, decode_exact(v)) for t, v in state["items"])
        first = 0 if window.final is None else bisect_right(window.times, window.final)
        if first < len(window.times):
            window.hit = window.first_hit(window.times[first])
        return window

    def add(self, entries: Iterable[tuple[int, Fraction | int]]) -> int:
        """Add amounts; return the earliest time added."""
        added: dict[int, Fraction | int] = {}
        for t, value in entries:
            added[t] = added.get(t, 0) + value
        low = min(added)
        if self._kept_sum is not None:
            self._kept_sum += sum(added.values())  # appended or merged: the same amounts
        times = self.times
        if not times or low > times[-1]:
            order = sorted(added)
            times.extend(order)
            self._extend_values([_stored(added[t]) for t in order])
            return low
        first = bisect_left(times, low)
        merged: dict[int, Fraction | int] = dict(
            zip(times[first:], map(_exact, self.values[first:]), strict=True)
        )
        for t, amount in added.items():
            merged[t] = merged.get(t, 0) + amount
        order = sorted(merged)
        del times[first:], self.values[first:]
        times.extend(order)
        self._extend_values([_stored(merged[t]) for t in order])
        return low

    def _extend_values(self, stored: list[int | str]) -> None:
        # Packed amounts unpack as a 64-bit integer array, which holds no amount as text.
        if isinstance(self.values, array) and not all(type(value) is int for value in stored):
            self.values = list(self.values)
        self.values.extend(stored)

    def first_hit(self, low: int) -> int | None:
        """The end of the earliest window ending at an amount at or after ``low`` whose
        sum reaches the target (a sliding window: one step per amount)."""
        times, values = self.times, self.values
        width = self.criterion.window_ms
        assert width is not None
        target = self.criterion.target
        index = bisect_left(times, low)
        if index == len(times):
            return None
        start = bisect_right(times, times[index] - width)
        total = self._sum_of(start, index + 1)
        while True:
            if total >= target:
                return times[index]
            index += 1
            if index == len(times):
                return None
            total += _exact(values[index])
            edge = times[index] - width
            while times[start] <= edge:
                total -= _exact(values[start])
                start += 1

    def total(self, after: int, up_to: int) -> Fraction | int:
        """The sum of the amounts with ``after < t <= up_to``."""
        low = bisect_right(self.times, after)
        high = bisect_right(self.times, up_to)
        return self._sum_of(low, high)

    def _sum_of(self, low: int, high: int) -> Fraction | int:
        """The sum of the amounts from index ``low`` up to ``high`` (excluded): those
        outside subtracted from the kept sum when they are fewer."""
        values = self.values
        if 2 * (high - low) <= len(values):
            return _exact_sum(values[low:high])
        return self.kept_sum - _exact_sum(values[:low]) - _exact_sum(values[high:])

    def prune(self, horizon: int) -> None:
        """Drop the amounts at or before ``horizon``."""
        cut = bisect_right(self.times, horizon)
        if cut:
            if self._kept_sum is not None:
                self._kept_sum -= _exact_sum(self.values[:cut])
            del self.times[:cut], self.values[:cut]


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
    def default_label(self) -> str:
        return f"{self.event}: {self.target} different {self.field}{_where_label(self.where)}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        stored = (state or {}).get("values", [])
        keys = set()
        for event in self.matching(events):
            key = canonical_value(event.attributes.get(self.field))
            if key is not None:
                keys.add(key)
        # The stored list is sorted: a batch costs a search per value it brings, and
        # one merge of two sorted runs (which sorted() does in one linear pass).
        new = []
        for key in keys:
            index = bisect_left(stored, key)
            if index == len(stored) or stored[index] != key:
                new.append(key)
        kept = sorted([*stored, *sorted(new)]) if new else list(stored)
        if self.max_occurrences is not None:
            # The smallest values are a merge-friendly choice of which ones to keep.
            del kept[self.target * self.max_occurrences :]
        return {"values": kept}

    def measure(self, state: State, context: EvaluationContext) -> Measure:
        count = len((state or {}).get("values", []))
        return count, self.target, count // self.target, None


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
        labels: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.field = field
        self.values = list(values)
        self.keys = [canonical_value(value) for value in values]
        labels = labels or {}
        #: The goal's label of each listed value, else the value itself, in order.
        self.value_labels = [labels.get(label_key(value), value_text(value)) for value in values]
        self.labelled = bool(labels)
        self.parts = tuple(zip(self.values, self.value_labels, self.values, strict=True))

    @functools.cached_property
    def default_label(self) -> str:
        if self.labelled:
            listed = _listing(self.value_labels)
        else:
            listed = f"{self.field} {_listing(self.value_labels)}"
        return f"{self.event}: {listed}{_where_label(self.where)}"

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

    def measure(self, state: State, context: EvaluationContext) -> Measure:
        counts = (state or {}).get("counts", {})
        done = tuple(bool(counts.get(key)) for key in self.keys)
        occurrences = min(counts.get(key, 0) for key in self.keys)
        return sum(done), len(self.keys), occurrences, done


class Streak(Leaf):
    type = "streak"

    def __init__(
        self, event: str, where: Where, max_occurrences: int | None, *, target: int, period: str
    ) -> None:
        super().__init__(event, where, max_occurrences)
        self.target = target
        self.period = period

    @functools.cached_property
    def default_label(self) -> str:
        period = self.period if self.target == 1 else f"{self.period}s"
        return f"{self.event}: {self.target} {period} in a row{_where_label(self.where)}"

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

    def measure(self, state: State, context: EvaluationContext) -> Measure:
        runs = (state or {}).get("runs", [])
        occurrences = max((state or {}).get("occ", 0), self._occurrences(runs))
        today = self.period_of(context.now, context)
        running = next(
            (last - first + 1 for first, last in runs if first <= today and last >= today - 1), 0
        )
        return running, self.target, occurrences, None


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

    def __init__(self, event: str, where: Where, label: str | None = None) -> None:
        self.event = event
        self.where = where
        #: The step in words: its ``label``, else its event and filter.
        self.label = label or f"{event}{_where_label(where)}"

    def matches(self, event: EventData) -> bool:
        return event.type == self.event and self.where(event.attributes)


def _packed(lists: Sequence[Sequence[int]], context: EvaluationContext) -> list[Any]:
    return [pack_integers(times, stored=context.stored) for times in lists]


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
        self.parts = tuple((index, step.label, step.event) for index, step in enumerate(steps))

    @functools.cached_property
    def event_types(self) -> frozenset[str]:
        return frozenset(step.event for step in self.steps)

    @functools.cached_property
    def default_label(self) -> str:
        arrows = " → ".join(step.label for step in self.steps)
        return f"{arrows}{self.window_suffix()}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        occurrences = (state or {}).get("occ", 0)
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        watermark = (state or {}).get("wm") if self.window_ms is not None else None
        limit = None if watermark is None else watermark - context.allowance_ms
        # Once complete, a sequence stays complete and has no further occurrence: only
        # the watermark still moves (late events are still reported).
        done = occurrences >= 1
        lists = [] if done else self._read_lists(state)
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
            if done:
                continue
            for index in matched:
                if not _contains(lists[index], t):
                    # Chains use distinct times only: one entry per millisecond is enough.
                    insort(lists[index], t)
        if not done and self._longest_chain(lists) == len(self.steps):
            occurrences = self.cap(max(occurrences, 1))
        if self.is_saturated(occurrences):
            return {"occ": occurrences}
        if occurrences >= 1:
            watermark = _latest(watermark, counted) if self.window_ms is not None else None
            return (
                {"occ": occurrences} if watermark is None else {"occ": occurrences, "wm": watermark}
            )
        if self.window_ms is None:
            return {"steps": _packed(self._drop_unreachable(lists), context), "occ": occurrences}
        watermark = _latest(watermark, counted)
        if watermark is None:
            return {"steps": _packed(lists, context), "occ": occurrences}
        horizon = self.horizon(watermark, context)
        for times in lists:
            del times[: bisect_right(times, horizon)]
        return {"steps": _packed(lists, context), "occ": occurrences, "wm": watermark}

    def _read_lists(self, state: State) -> list[MutableSequence[int]]:
        """The sorted times of each step, from a state in either stored form."""
        stored = (state or {}).get("steps")
        if stored is None:
            return [[] for _ in self.steps]
        return [unpack_integers(times) for times in stored]

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
        return max(self._chain_from(lists, start) for start in self._latest_starts(lists))

    @staticmethod
    def _latest_starts(lists: Sequence[Sequence[int]]) -> list[int]:
        """The starts worth following: of the starts that share their second step's time
        (the same chain after the first step), the latest, whose window ends last; and
        the latest start of all. As many as the second step has times, plus one."""
        starts = lists[0]
        if len(lists) < 2:
            return [starts[-1]]
        picks = {len(starts) - 1}
        for moment in lists[1]:
            index = bisect_left(starts, moment) - 1
            if index >= 0:
                picks.add(index)
        return [starts[index] for index in sorted(picks)]

    def _drop_unreachable(self, lists: list[MutableSequence[int]]) -> list[Sequence[int]]:
        """Keep only timestamps a windowless chain may still use.

        The earliest start is the best one; and once step ``i`` has a chain time, later
        times of that step can never be chosen, since chain times only move earlier.
        """
        kept: list[Sequence[int]] = [lists[0][:1]]
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

    def measure(self, state: State, context: EvaluationContext) -> Measure:
        state = state or {}
        lists: list[Sequence[int]] = list(self._read_lists(state))
        chain = self._longest_chain(lists)
        occurrences = max(state.get("occ", 0), 1 if chain == len(self.steps) else 0)
        if self.window_ms is not None and occurrences == 0:
            # Progress shows the best chain that starts within the window shown, like the
            # events a windowed count shows.
            start = self.shown_end(state, context) - self.window_ms
            lists = [lists[0][bisect_right(lists[0], start) :], *lists[1:]]
            chain = self._longest_chain(lists)
        done = tuple(index < chain for index in range(len(self.steps)))
        return chain, len(self.steps), occurrences, done


__all__ = [
    "AllOf",
    "Count",
    "Distinct",
    "Leaf",
    "SequenceCriterion",
    "Step",
    "Streak",
    "Sum",
    "value_text",
]
