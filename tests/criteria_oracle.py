"""A brute-force reference evaluator for the criteria language.

Written from ``docs/criteria.rst`` alone, never from the engine, and as plainly as
possible: it sees every event at once, so there is no state, no merging and no
pruning. Where the engine would use a greedy pass, this module searches exhaustively
(subset search for disjoint window groups, chain search for sequences, one rolling
window per event). It is slow on purpose; keep the inputs small.

Event time (the "Time" section of ``docs/criteria.rst``): what counts depends only on
``occurred_at``. A windowed criterion's *watermark* is the latest ``occurred_at`` among
the events it counts; the window that ``current`` shows ends at the later of ``now``
and the watermark. :func:`oracle_evaluate` assumes no event arrived late (each was
processed while at most the late-event allowance behind the watermark of the batches
before it); :func:`late_events` says which events of a processing order were late, and
:func:`achieved_times` when, by event time, each occurrence was reached.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import typing as t
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from functools import cache
from itertools import combinations

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_MS = dt.timedelta(milliseconds=1)
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclasses.dataclass(frozen=True)
class OracleResult:
    type: str
    current: int | float
    target: int | float
    percent: int
    completed: bool
    occurrences: int
    children: tuple[OracleResult, ...] = ()


# -- JSON values -----------------------------------------------------------------


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: object, b: object) -> bool:
    """JSON equality: numbers by value, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return False


def comparable(a: object, b: object) -> bool:
    return (is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def operator_holds(op: str, actual: object, expected: t.Any) -> bool:
    if op == "eq":
        return json_equal(actual, expected)
    if op == "ne":
        return not json_equal(actual, expected)
    if op == "in":
        return any(json_equal(actual, item) for item in expected)
    if not comparable(actual, expected):
        return False
    a: t.Any = actual
    if op == "lt":
        return bool(a < expected)
    if op == "lte":
        return bool(a <= expected)
    if op == "gt":
        return bool(a > expected)
    if op == "gte":
        return bool(a >= expected)
    raise AssertionError(f"unknown operator {op!r}")


def condition_holds(attributes: t.Mapping[str, t.Any], name: str, condition: t.Any) -> bool:
    if name not in attributes:
        return False
    actual = attributes[name]
    if isinstance(condition, dict):
        return all(operator_holds(op, actual, value) for op, value in condition.items())
    return json_equal(actual, condition)


def step_matches(step: t.Mapping[str, t.Any], event: t.Any) -> bool:
    if event.type != step["event"]:
        return False
    where = step.get("where") or {}
    return all(condition_holds(event.attributes, name, cond) for name, cond in where.items())


# -- times -----------------------------------------------------------------------


def millis(moment: dt.datetime) -> int:
    return (moment - EPOCH) // ONE_MS


def window_ms(text: str) -> int:
    return int(text[:-1]) * UNIT_MS[text[-1]]


def exact(value: int | float) -> Fraction:
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(Decimal(repr(value)))


def report(value: Fraction) -> int | float:
    if value.denominator == 1:
        return int(value)
    return float(value)


# -- results ---------------------------------------------------------------------


def leaf(
    kind: str,
    current: Fraction,
    target: Fraction,
    completed: bool,
    occurrences: int,
    cap: int | None,
) -> OracleResult:
    """A leaf's result, by the rule of every criterion (``docs/progress.rst``): percent is
    ``floor(100 * current / target)`` of the numbers as reported, within 0..100, and 100
    exactly when complete (``current == target``); below the target otherwise."""
    if completed:
        current = target
    current = min(current, target)
    shown = report(current)
    percent = rule_percent(shown, report(target))
    if percent == 100 and not completed:
        # the window shown holds enough, but no window placed at an event did
        shown = report(target * Fraction(99, 100))
        percent = rule_percent(shown, report(target))
    return OracleResult(
        type=kind,
        current=shown,
        target=report(target),
        percent=percent,
        completed=completed,
        occurrences=capped(max(0, occurrences), cap),
    )


def rule_percent(current: int | float, target: int | float) -> int:
    """``floor(100 * current / target)`` within 0..100, reading floats as written."""
    return max(0, min(100, math.floor(100 * exact(current) / exact(target))))


def capped(occurrences: int, cap: int | None) -> int:
    return occurrences if cap is None else min(occurrences, cap)


# -- the criteria ------------------------------------------------------------------


def oracle_evaluate(
    criteria: t.Mapping[str, t.Any],
    events: t.Sequence[t.Any],
    now: dt.datetime,
    timezone: dt.tzinfo = dt.UTC,
    completed_goals: t.Mapping[str, int] | None = None,
    max_occurrences: int | None = 1,
) -> OracleResult:
    """Evaluate ``criteria`` over the full list of ``events`` from first principles."""
    goals = dict(completed_goals or {})
    return _evaluate(criteria, list(events), now, timezone, goals, max_occurrences)


def _evaluate(
    node: t.Mapping[str, t.Any],
    events: list[t.Any],
    now: dt.datetime,
    timezone: dt.tzinfo,
    goals: dict[str, int],
    cap: int | None,
) -> OracleResult:
    kind = node["type"]
    if kind in ("all", "any"):
        children = tuple(_evaluate(c, events, now, timezone, goals, cap) for c in node["of"])
        if kind == "all":
            # counts complete children; partial progress shows in the children
            done = sum(1 for c in children if c.completed)
            return OracleResult(
                type="all",
                current=done,
                target=len(children),
                percent=rule_percent(done, len(children)),
                completed=done == len(children),
                occurrences=capped(min(c.occurrences for c in children), cap),
                children=children,
            )
        # the child closest to completion: a complete one, else the highest percent,
        # the first one on ties
        complete = [c for c in children if c.completed]
        if complete:
            closest = complete[0]
        else:
            best = max(c.percent for c in children)
            closest = next(c for c in children if c.percent == best)
        return OracleResult(
            type="any",
            current=closest.target if complete else closest.current,
            target=closest.target,
            percent=closest.percent,
            completed=bool(complete),
            occurrences=capped(sum(c.occurrences for c in children), cap),
            children=children,
        )
    if kind == "goal":
        times = goals.get(node["goal"], 0)
        done = times > 0
        return leaf("goal", Fraction(int(done)), Fraction(1), done, times, cap)
    if kind == "sequence":
        return _sequence(node, events, now, cap)

    matching = [e for e in events if step_matches(node, e)]
    if kind == "count":
        return _count(node, matching, now, cap)
    if kind == "sum":
        return _sum(node, matching, now, cap)
    if kind == "distinct":
        return _distinct(node, matching, cap)
    if kind == "all_of":
        return _all_of(node, matching, cap)
    if kind == "streak":
        return _streak(node, matching, now, timezone, cap)
    raise AssertionError(f"unknown type {kind!r}")


def _count(
    node: t.Mapping[str, t.Any], matching: list[t.Any], now: dt.datetime, cap: int | None
) -> OracleResult:
    target = node["target"]
    if "window" not in node:
        n = len(matching)
        return leaf("count", Fraction(n), Fraction(target), n >= target, n // target, cap)
    width = window_ms(node["window"])
    times = sorted(millis(e.occurred_at) for e in matching)
    end = max([millis(now), *times])  # the later of now and the watermark
    in_window_now = sum(1 for x in times if end - width < x <= end)
    # complete: the window placed at some event holds enough
    completed = any(sum(1 for y in times if x - width < y <= x) >= target for x in times)
    groups = max_disjoint_groups(tuple(times), target, width)
    assert completed == (groups >= 1), (times, target, width)
    return leaf("count", Fraction(in_window_now), Fraction(target), completed, groups, cap)


def max_disjoint_groups(times: tuple[int, ...], size: int, width: int) -> int:
    """Largest number of disjoint groups of ``size`` timestamps, each spanning < width.

    Exhaustive search: the smallest remaining timestamp is either left out, or put in
    a group with every possible choice of ``size - 1`` others that fit after it.
    Timestamps are a multiset, so the search is memoised on (value, count) pairs.
    """

    @cache
    def best(remaining: tuple[tuple[int, int], ...]) -> int:
        if sum(c for _, c in remaining) < size:
            return 0
        (first, first_count), rest = remaining[0], remaining[1:]
        without_first = ((first, first_count - 1), *rest) if first_count > 1 else rest
        result = best(without_first)
        pool = [v for v, c in without_first for _ in range(c) if v - first < width]
        for others in set(combinations(pool, size - 1)):
            left = Counter(dict(without_first))
            left.subtract(others)
            result = max(result, 1 + best(tuple(sorted((v, c) for v, c in left.items() if c))))
        return result

    return best(tuple(sorted(Counter(times).items())))


def _sum(
    node: t.Mapping[str, t.Any], matching: list[t.Any], now: dt.datetime, cap: int | None
) -> OracleResult:
    target = exact(node["target"])
    field = node["field"]
    values = [
        (millis(e.occurred_at), exact(e.attributes[field]))
        for e in matching
        if field in e.attributes and is_number(e.attributes[field])
    ]
    if "window" not in node:
        total = sum((v for _, v in values), Fraction(0))
        return leaf("sum", total, target, total >= target, math.floor(total / target), cap)
    width = window_ms(node["window"])
    end = max([millis(now), *(x for x, _ in values)])  # the later of now and the watermark
    rolling_now = sum((v for x, v in values if end - width < x <= end), Fraction(0))
    completed = any(
        sum((v for y, v in values if x - width < y <= x), Fraction(0)) >= target for x, _ in values
    )
    return leaf("sum", rolling_now, target, completed, int(completed), cap)


def _value_key(value: object) -> object:
    """A hashable stand-in for a JSON value: equal keys for JSON-equal values."""
    if isinstance(value, bool):
        return ("bool", value)
    if is_number(value):
        return ("number", Fraction(t.cast(float, value)))
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("list", tuple(_value_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, _value_key(v)) for k, v in value.items()))
    raise AssertionError(f"not a JSON value: {value!r}")


def _distinct(node: t.Mapping[str, t.Any], matching: list[t.Any], cap: int | None) -> OracleResult:
    field = node["field"]
    target = node["target"]
    seen = {
        _value_key(e.attributes[field]) for e in matching if e.attributes.get(field) is not None
    }
    n = len(seen)
    return leaf("distinct", Fraction(n), Fraction(target), n >= target, n // target, cap)


def _all_of(node: t.Mapping[str, t.Any], matching: list[t.Any], cap: int | None) -> OracleResult:
    field = node["field"]
    wanted = node["values"]
    times_seen = [
        sum(1 for e in matching if field in e.attributes and json_equal(e.attributes[field], v))
        for v in wanted
    ]
    seen = sum(1 for n in times_seen if n > 0)
    return leaf(
        "all_of", Fraction(seen), Fraction(len(wanted)), seen == len(wanted), min(times_seen), cap
    )


def _period(moment: dt.datetime, timezone: dt.tzinfo, period: str) -> dt.date:
    day = moment.astimezone(timezone).date()
    if period == "week":
        return day - dt.timedelta(days=day.weekday())  # the Monday of its ISO week
    return day


def _streak(
    node: t.Mapping[str, t.Any],
    matching: list[t.Any],
    now: dt.datetime,
    timezone: dt.tzinfo,
    cap: int | None,
) -> OracleResult:
    target = node["target"]
    period = node.get("period", "day")
    step = dt.timedelta(days=7 if period == "week" else 1)
    active = {_period(e.occurred_at, timezone, period) for e in matching}
    # runs of consecutive active periods, found by walking each run from its start
    runs: list[tuple[dt.date, dt.date, int]] = []
    for start in sorted(active):
        if start - step in active:
            continue
        end, length = start, 1
        while end + step in active:
            end, length = end + step, length + 1
        runs.append((start, end, length))
    this_period = _period(now, timezone, period)
    running = 0
    for _start, end, length in runs:
        if end in (this_period, this_period - step):
            running = length
    completed = any(length >= target for _, _, length in runs)
    occurrences = sum(length // target for _, _, length in runs)
    return leaf("streak", Fraction(running), Fraction(target), completed, occurrences, cap)


def _sequence(
    node: t.Mapping[str, t.Any], events: list[t.Any], now: dt.datetime, cap: int | None
) -> OracleResult:
    steps = node["steps"]
    width = window_ms(node["window"]) if "window" in node else None
    # the distinct timestamps at which some event matches each step
    step_times = [
        sorted({millis(e.occurred_at) for e in events if step_matches(step, e)}) for step in steps
    ]

    @cache
    def longest_from(index: int, first: int, last: int) -> int:
        """Steps matched after ``index`` in a chain started at ``first``, now at ``last``."""
        best = 0
        if index < len(steps):
            for x in step_times[index]:
                if x > last and (width is None or x - first < width):
                    best = max(best, 1 + longest_from(index + 1, first, x))
        return best

    longest = max((1 + longest_from(1, x, x) for x in step_times[0]), default=0)
    target = len(steps)
    completed = longest == target
    if width is not None and not completed:
        # progress shows the best chain starting within the window shown
        end = max([millis(now), *(x for times in step_times for x in times)])
        longest = max(
            (1 + longest_from(1, x, x) for x in step_times[0] if x > end - width), default=0
        )
    return leaf("sequence", Fraction(longest), Fraction(target), completed, int(completed), cap)


# -- processing order ------------------------------------------------------------------


def _counted(node: t.Mapping[str, t.Any], event: t.Any) -> bool:
    """Whether a windowed leaf counts ``event`` (and moves its watermark with it)."""
    if node["type"] == "sequence":
        return any(step_matches(step, event) for step in node["steps"])
    if not step_matches(node, event):
        return False
    if node["type"] == "sum":
        return node["field"] in event.attributes and is_number(event.attributes[node["field"]])
    return True


def late_events(
    node: t.Mapping[str, t.Any],
    batches: t.Sequence[t.Sequence[t.Any]],
    allowance: dt.timedelta,
) -> list[t.Any]:
    """The events of ``batches`` (processed in turn) that a windowed leaf refuses as late.

    An event is late when it is older than the watermark of the batches before its
    own, minus the allowance. Criteria without a window never refuse an event.
    """
    if node["type"] not in ("count", "sum", "sequence") or "window" not in node:
        return []
    late: list[t.Any] = []
    watermark: int | None = None
    for batch in batches:
        counted = [e for e in batch if _counted(node, e)]
        limit = None if watermark is None else watermark - allowance // ONE_MS
        on_time = []
        for e in counted:
            if limit is not None and millis(e.occurred_at) < limit:
                late.append(e)
            else:
                on_time.append(e)
        watermark = max([millis(e.occurred_at) for e in on_time] + [watermark or -(2**63)])
    return late


def achieved_times(
    criteria: t.Mapping[str, t.Any],
    events: t.Sequence[t.Any],
    now: dt.datetime,
    timezone: dt.tzinfo = dt.UTC,
    completed_goals: t.Mapping[str, int] | None = None,
    max_occurrences: int | None = 1,
) -> list[dt.datetime | None]:
    """When each occurrence was reached, by event time.

    The k-th occurrence is reached at the smallest ``occurred_at`` T such that the
    events at or before T give at least k occurrences; ``None`` when no event is
    needed (``goal`` criteria).
    """

    def occurrences(seen: list[t.Any]) -> int:
        return oracle_evaluate(
            criteria, seen, now, timezone, completed_goals, max_occurrences
        ).occurrences

    times: list[dt.datetime | None] = [None] * occurrences([])
    total = occurrences(list(events))
    for moment in sorted({e.occurred_at for e in events}):
        reached = occurrences([e for e in events if e.occurred_at <= moment])
        while len(times) < min(reached, total):
            times.append(moment)
    return times
