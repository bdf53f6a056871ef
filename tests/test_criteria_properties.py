"""Property tests: the criteria engine agrees with the brute-force oracle.

Random criteria of every type, random small event sets, applied in one batch and
shuffled into random batches (state stored as JSON in between, like the database
does), must give exactly the progress tree that ``criteria_oracle`` computes from
scratch. The first tests keep timestamps within the late-event allowance, so nothing is
pruned; the event-time tests below spread histories over months (an import of
back-dated events), processed in time order or shuffled within the allowance, which
prunes, and check lateness and the event times of occurrences too.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import itertools
import json
import typing as t
from zoneinfo import ZoneInfo

import pytest
from criteria_oracle import (
    OracleResult,
    achieved_times,
    exact,
    json_equal,
    late_events,
    millis,
    oracle_evaluate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_gamify.criteria import (
    EvaluationContext,
    EventData,
    compile_criteria,
    occurrence_times,
)
from flask_gamify.stored_views import (
    _dump,
    compact,
    skeleton,
    stored_evaluation,
    view_document,
    view_key,
)

UTC = dt.UTC
EVENT_TYPES = ["a", "b", "c"]
GOAL_KEYS = ["g1", "g2", "g3"]
WINDOWS = ["1s", "1h", "2h", "1d", "2d", "1w"]
TIMEZONES = [UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
NOWS = [
    # a Tuesday just after both autumn DST changes (Paris 27 Oct, New York 3 Nov)
    dt.datetime(2024, 11, 5, 12, 0, tzinfo=UTC),
    # right after Paris springs forward (01:00 UTC on 31 Mar), a Sunday
    dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
    # New York falls back at 06:00 UTC on Sunday 3 Nov
    dt.datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    # a Monday, local midnight in Paris (winter)
    dt.datetime(2024, 1, 8, 23, 0, tzinfo=UTC),
    # just after new year: ISO week 53 of 2020 is followed by week 1 of 2021
    dt.datetime(2021, 1, 5, 12, 0, tzinfo=UTC),
]
ALLOWANCE = dt.timedelta(days=365)

# attribute values: few, so that filters match often; mixed types on purpose
K_VALUES: list[t.Any] = ["x", "y", 1, True, None, [1, 2], [1.0, 2], {"a": 1}]
N_VALUES: list[t.Any] = [1, 1.0, 2, -1, 0.5, 0.1, 0.2, 0.7, 2.5, -0.25, 0, True, "1", None]
SCALARS: list[t.Any] = ["x", "y", "1", 1, 1.0, 2, -1, 0, 0.5, 0.1, 2.5, True, False, None]
ORDERED = [0, 1, 1.5, 2, -1, 0.5, "x", "y", "1"]
OPERATORS = ["eq", "ne", "lt", "lte", "gt", "gte", "in"]

SETTINGS = settings(
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- strategies for criteria -------------------------------------------------------------


@st.composite
def operator_conditions(draw: st.DrawFn) -> dict[str, t.Any]:
    ops = draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=2, unique=True))
    condition: dict[str, t.Any] = {}
    for op in ops:
        if op in ("eq", "ne"):
            condition[op] = draw(st.sampled_from(SCALARS))
        elif op == "in":
            condition[op] = draw(st.lists(st.sampled_from(SCALARS), min_size=1, max_size=3))
        else:
            condition[op] = draw(st.sampled_from(ORDERED))
    return condition


wheres = st.dictionaries(
    st.sampled_from(["k", "n", "k", "n", "absent"]),
    st.one_of(st.sampled_from(SCALARS), operator_conditions()),
    min_size=1,
    max_size=2,
)
event_types = st.sampled_from(EVENT_TYPES)
small_targets = st.integers(1, 4)
fields = st.sampled_from(["n", "n", "n", "k"])


def with_optional(
    draw: st.DrawFn, node: dict[str, t.Any], **options: st.SearchStrategy[t.Any]
) -> dict[str, t.Any]:
    """Add each optional field half of the time (a filter only a third of the time,
    as it makes matches rarer)."""
    for name, strategy in options.items():
        if draw(st.integers(0, 5)) < (2 if name == "where" else 3):
            node[name] = draw(strategy)
    return node


@st.composite
def count_criteria(draw: st.DrawFn) -> dict[str, t.Any]:
    node = {"type": "count", "event": draw(event_types), "target": draw(small_targets)}
    return with_optional(draw, node, where=wheres, window=st.sampled_from(WINDOWS))


@st.composite
def sum_criteria(draw: st.DrawFn) -> dict[str, t.Any]:
    node = {
        "type": "sum",
        "event": draw(event_types),
        "field": draw(fields),
        "target": draw(st.sampled_from([1, 2, 3, 0.5, 0.8, 1.5, 2.5, 0.3, 1.0])),
    }
    return with_optional(draw, node, where=wheres, window=st.sampled_from(WINDOWS))


@st.composite
def distinct_criteria(draw: st.DrawFn) -> dict[str, t.Any]:
    node = {
        "type": "distinct",
        "event": draw(event_types),
        "field": draw(fields),
        "target": draw(small_targets),
    }
    return with_optional(draw, node, where=wheres)


def _value_identity(value: t.Any) -> tuple[str, t.Any]:
    """Two values are the same listed value when they are JSON-equal (1 and 1.0)."""
    if isinstance(value, (bool, str)):
        return (type(value).__name__, value)
    return ("number", float(value))


@st.composite
def all_of_criteria(draw: st.DrawFn) -> dict[str, t.Any]:
    candidates = ["x", "y", "1", 1, 1.0, 2, 0.5, True, False]
    values = draw(
        st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique_by=_value_identity)
    )
    assert all(not json_equal(a, b) for i, a in enumerate(values) for b in values[i + 1 :])
    node = {"type": "all_of", "event": draw(event_types), "field": draw(fields), "values": values}
    return with_optional(draw, node, where=wheres)


@st.composite
def streak_criteria(draw: st.DrawFn) -> dict[str, t.Any]:
    node = {"type": "streak", "event": draw(event_types), "target": draw(small_targets)}
    return with_optional(draw, node, where=wheres, period=st.sampled_from(["day", "week"]))


@st.composite
def steps(draw: st.DrawFn) -> dict[str, t.Any]:
    return with_optional(draw, {"event": draw(st.sampled_from(["a", "a", "b"]))}, where=wheres)


@st.composite
def sequence_criteria(draw: st.DrawFn) -> dict[str, t.Any]:
    node = {"type": "sequence", "steps": draw(st.lists(steps(), min_size=1, max_size=4))}
    return with_optional(draw, node, window=st.sampled_from(WINDOWS))


goal_criteria = st.builds(lambda key: {"type": "goal", "goal": key}, st.sampled_from(GOAL_KEYS))

LEAVES: dict[str, st.SearchStrategy[dict[str, t.Any]]] = {
    "count": count_criteria(),
    "sum": sum_criteria(),
    "distinct": distinct_criteria(),
    "all_of": all_of_criteria(),
    "streak": streak_criteria(),
    "sequence": sequence_criteria(),
    "goal": goal_criteria,
}
any_leaf = st.one_of(*LEAVES.values())


def composite_of(
    children: st.SearchStrategy[dict[str, t.Any]],
) -> st.SearchStrategy[dict[str, t.Any]]:
    return st.builds(
        lambda kind, of: {"type": kind, "of": of},
        st.sampled_from(["all", "any"]),
        st.lists(children, min_size=1, max_size=3),
    )


# at least two levels of all/any, up to three
nested_criteria = composite_of(
    st.one_of(any_leaf, composite_of(st.one_of(any_leaf, composite_of(any_leaf))))
)
CRITERIA = {**LEAVES, "nested": nested_criteria}


# -- strategies for events and contexts ------------------------------------------------------

SUB_OFFSETS = [
    dt.timedelta(0),
    dt.timedelta(milliseconds=1),
    dt.timedelta(microseconds=500),  # same millisecond as the 1 ms offset
    dt.timedelta(seconds=1),
    dt.timedelta(seconds=1, microseconds=400),
    dt.timedelta(minutes=30),
]


@st.composite
def timestamp_pools(draw: st.DrawFn, now: dt.datetime) -> list[dt.datetime]:
    """A few timestamps before ``now``: differences are often exactly a window."""
    max_days = draw(st.sampled_from([0, 1, 3, 9, 40]))
    offsets = st.builds(
        lambda days, hours, sub: dt.timedelta(days=days, hours=hours) + sub,
        st.integers(0, max_days),
        st.sampled_from([0, 0, 1, 2, 10, 11, 12, 13, 23]),
        st.sampled_from(SUB_OFFSETS),
    )
    return [now - offset for offset in draw(st.lists(offsets, min_size=1, max_size=10))]


@st.composite
def event_lists(draw: st.DrawFn, now: dt.datetime) -> list[EventData]:
    pool = draw(timestamp_pools(now))
    attributes = st.fixed_dictionaries(
        {},
        optional={"k": st.sampled_from(K_VALUES), "n": st.sampled_from([*N_VALUES, 1, 2, 0.5])},
    )
    one_event = st.tuples(
        st.sampled_from(["a", "a", "b", "b", "c"]), st.sampled_from(pool), attributes
    )
    # draw the length first: hypothesis' own list sizes favour very short lists
    specs = [draw(one_event) for _ in range(draw(st.integers(1, 25)))]
    return [
        EventData(id=f"e{i}", type=kind, occurred_at=moment, attributes=attrs)
        for i, (kind, moment, attrs) in enumerate(specs)
    ]


completed_goal_maps = st.dictionaries(st.sampled_from(GOAL_KEYS), st.integers(1, 4), max_size=3)
max_occurrences = st.sampled_from([1, 2, 3, None])


# -- comparison ------------------------------------------------------------------------------


def number(value: int | float) -> tuple[int | float, str]:
    assert not isinstance(value, bool)
    return (value, "int" if isinstance(value, int) else "float")


def tree(result: t.Any) -> dict[str, t.Any]:
    """An Evaluation or OracleResult as a plain dict, so assertion diffs are readable."""
    return {
        "type": result.type,
        "current": number(result.current),
        "target": number(result.target),
        "percent": result.percent,
        "completed": result.completed,
        "occurrences": result.occurrences,
        "children": [tree(child) for child in result.children],
    }


def assert_one_story(result: t.Any, path: str = "criteria") -> None:
    """The rule of every criterion type: ``percent == floor(100 * current / target)``
    (numbers read as the JSON writes them), within 0..100, and 100 exactly when complete,
    with ``current == target`` then and below it otherwise."""
    current, target = exact(result.current), exact(result.target)
    expected = max(0, min(100, (100 * current / target).__floor__()))
    assert result.percent == expected, (path, result)
    assert (result.percent == 100) == result.completed, (path, result)
    assert current == target if result.completed else current < target, (path, result)
    for index, child in enumerate(result.children):
        assert_one_story(child, f"{path}.of[{index}]")


def split_into_batches(events: list[EventData], cuts: list[int]) -> list[list[EventData]]:
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [events[a:b] for a, b in itertools.pairwise(bounds)]


def apply_checked(
    crit: t.Any, state: t.Any, batch: list[EventData], context: EvaluationContext
) -> t.Any:
    """Apply a batch, check the input state is left alone, store the result as JSON does."""
    before = copy.deepcopy(state)
    new_state = crit.apply(state, batch, context)
    assert state == before, "apply mutated its input state"
    return json.loads(json.dumps(new_state))


# -- the properties --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@SETTINGS
@given(data=st.data())
def test_batched_and_shuffled_application_matches_oracle(kind: str, data: st.DataObject) -> None:
    criteria = data.draw(CRITERIA[kind], label="criteria")
    now = data.draw(st.sampled_from(NOWS), label="now")
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    events = data.draw(event_lists(now), label="events")
    goals = data.draw(completed_goal_maps, label="completed_goals")
    cap = data.draw(max_occurrences, label="max_occurrences")

    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(
        now=now, timezone=timezone, completed_goals=goals, late_event_allowance=ALLOWANCE
    )

    def expected(seen: list[EventData]) -> dict[str, t.Any]:
        return tree(oracle_evaluate(criteria, seen, now, timezone, goals, cap))

    assert tree(crit.evaluate(None, context)) == expected([])

    # everything at once
    state = apply_checked(crit, None, events, context)
    evaluation = crit.evaluate(state, context)
    assert tree(evaluation) == expected(events)
    assert_one_story(evaluation)

    # shuffled, in random batches, checked after every batch
    shuffled = data.draw(st.permutations(events), label="order")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=5), label="cuts")
    state = None
    seen: list[EventData] = []
    for batch in split_into_batches(shuffled, cuts):
        state = apply_checked(crit, state, batch, context)
        seen += batch
        evaluation = crit.evaluate(state, context)
        assert tree(evaluation) == expected(seen)
        assert_one_story(evaluation)
    assert tree(crit.evaluate(state, context)) == expected(events)


PROCESSING_DELAYS = [
    dt.timedelta(0),
    dt.timedelta(milliseconds=1),
    dt.timedelta(hours=1),
    dt.timedelta(days=1),
]


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@settings(SETTINGS, max_examples=25)
@given(data=st.data())
def test_processing_at_later_moments_matches_oracle(kind: str, data: st.DataObject) -> None:
    """Batches processed at increasing ``now``, each after its own events happened."""
    criteria = data.draw(CRITERIA[kind], label="criteria")
    final_now = data.draw(st.sampled_from(NOWS), label="final_now")
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    events = data.draw(
        st.permutations(data.draw(event_lists(final_now), label="events")), label="order"
    )
    goals = data.draw(completed_goal_maps, label="completed_goals")
    cap = data.draw(max_occurrences, label="max_occurrences")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=5), label="cuts")
    crit = compile_criteria(criteria, max_occurrences=cap)

    state = None
    seen: list[EventData] = []
    now = min(event.occurred_at for event in events)
    for batch in split_into_batches(events, cuts):
        latest = max(event.occurred_at for event in batch)
        now = min(final_now, max(now, latest) + data.draw(st.sampled_from(PROCESSING_DELAYS)))
        context = EvaluationContext(
            now=now, timezone=timezone, completed_goals=goals, late_event_allowance=ALLOWANCE
        )
        state = apply_checked(crit, state, batch, context)
        seen += batch
        expected = oracle_evaluate(criteria, seen, now, timezone, goals, cap)
        evaluation = crit.evaluate(state, context)
        assert tree(evaluation) == tree(expected)
        assert_one_story(evaluation)

    # and evaluated later still, when the windows ending now have moved on
    context = EvaluationContext(
        now=final_now, timezone=timezone, completed_goals=goals, late_event_allowance=ALLOWANCE
    )
    expected = oracle_evaluate(criteria, events, final_now, timezone, goals, cap)
    assert tree(crit.evaluate(state, context)) == tree(expected)


def walk(node: dict[str, t.Any]) -> t.Iterator[dict[str, t.Any]]:
    yield node
    for child in node.get("of", ()):
        yield from walk(child)


@settings(deadline=None, max_examples=60)
@given(criteria=st.one_of(any_leaf, nested_criteria))
def test_event_types_and_goal_refs_list_what_the_tree_names(criteria: dict[str, t.Any]) -> None:
    crit = compile_criteria(criteria)
    names: set[str] = set()
    goals: set[str] = set()
    for node in walk(criteria):
        if node["type"] == "goal":
            goals.add(node["goal"])
        elif node["type"] == "sequence":
            names.update(step["event"] for step in node["steps"])
        elif "event" in node:
            names.add(node["event"])
    assert crit.event_types == frozenset(names)
    assert crit.goal_refs == frozenset(goals)


@SETTINGS
@given(data=st.data())
def test_apply_leaves_nested_input_state_untouched(data: st.DataObject) -> None:
    """Apply to a state that already holds data, several times over."""
    criteria = data.draw(nested_criteria, label="criteria")
    now = data.draw(st.sampled_from(NOWS), label="now")
    first = data.draw(event_lists(now), label="first")
    second = data.draw(event_lists(now), label="second")
    crit = compile_criteria(criteria, max_occurrences=None)
    context = EvaluationContext(now=now, late_event_allowance=ALLOWANCE)
    state = crit.apply(None, first, context)
    frozen = json.dumps(state, sort_keys=True)
    evaluation = crit.evaluate(state, context)
    crit.apply(state, [renamed(e, i) for i, e in enumerate(second)], context)
    assert json.dumps(state, sort_keys=True) == frozen
    assert crit.evaluate(state, context) == evaluation


def renamed(event: EventData, index: int) -> EventData:
    return EventData(
        id=f"second-{index}",
        type=event.type,
        occurred_at=event.occurred_at,
        attributes=event.attributes,
    )


def test_oracle_result_shape_matches_evaluation_fields() -> None:
    """Guard against comparing trees of different shapes without noticing."""
    crit = compile_criteria({"type": "all", "of": [{"type": "goal", "goal": "g1"}]})
    evaluation = crit.evaluate(None, EvaluationContext(now=NOWS[0]))
    oracle = oracle_evaluate({"type": "all", "of": [{"type": "goal", "goal": "g1"}]}, [], NOWS[0])
    assert isinstance(oracle, OracleResult)
    assert tree(evaluation) == tree(oracle)
    assert len(evaluation.children) == 1


def completed_flags(result: t.Any) -> list[t.Any]:
    """Which nodes of an evaluation tree are complete, depth first."""
    return [result.completed, [completed_flags(child) for child in result.children]]


def at_least_as_complete(after: list[t.Any], before: list[t.Any]) -> bool:
    return (after[0] or not before[0]) and all(
        at_least_as_complete(a, b) for a, b in zip(after[1], before[1], strict=True)
    )


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_settled_states_stay_complete_and_small(kind: str, data: st.DataObject) -> None:
    """Once the goal has all its awards, processing settles its state (issue 8, item 6).

    The settled state reports every node that was complete as complete, whatever
    events follow, in any batches; it is never larger than the state it replaces; and
    until the goal is saturated (the oracle says so) nothing is settled, so progress
    still matches the oracle exactly.
    """
    criteria = data.draw(CRITERIA[kind], label="criteria")
    now = data.draw(st.sampled_from(NOWS), label="now")
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    events = data.draw(event_lists(now), label="events")
    goals = data.draw(completed_goal_maps, label="completed_goals")
    cap = data.draw(st.sampled_from([1, 1, 2, 3]), label="max_occurrences")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=5), label="cuts")
    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(
        now=now, timezone=timezone, completed_goals=goals, late_event_allowance=ALLOWANCE
    )

    state: t.Any = None
    seen: list[EventData] = []
    settled: list[t.Any] | None = None  # completion flags when the state was settled
    for batch in split_into_batches(events, cuts):
        state = apply_checked(crit, state, batch, context)
        seen += batch
        evaluation = crit.evaluate(state, context)
        if settled is None:
            expected = oracle_evaluate(criteria, seen, now, timezone, goals, cap)
            assert tree(evaluation) == tree(expected)
            if expected.occurrences >= cap:  # the goal has all its awards
                settled = completed_flags(evaluation)
                small = json.loads(json.dumps(crit.settle(state, context)))
                assert len(json.dumps(small)) <= len(json.dumps(state))
                state = small
        if settled is not None:
            evaluation = crit.evaluate(state, context)
            assert evaluation.completed
            assert at_least_as_complete(completed_flags(evaluation), settled)


# -- event time: back-dated histories ------------------------------------------------------

#: The wall clock of the worker that imports the history: long after every event.
IMPORT_DATE = dt.datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
HISTORY_START = dt.datetime(2024, 1, 1, tzinfo=UTC)
ALLOWANCES = [
    dt.timedelta(seconds=1),
    dt.timedelta(hours=1),
    dt.timedelta(days=1),
    DAY7 := dt.timedelta(days=7),
]
BURST_OFFSETS = [
    dt.timedelta(0),
    dt.timedelta(milliseconds=1),
    dt.timedelta(seconds=1),
    dt.timedelta(minutes=20),
    dt.timedelta(minutes=59, seconds=59, milliseconds=999),
    dt.timedelta(hours=1),
    dt.timedelta(hours=5),
    dt.timedelta(days=1),
    dt.timedelta(days=2),
]


@st.composite
def histories(draw: st.DrawFn) -> list[EventData]:
    """Bursts of events scattered over a year and a half, like an imported history."""
    starts = draw(st.lists(st.integers(0, 500), min_size=1, max_size=5))
    pool = [
        HISTORY_START + dt.timedelta(days=day) + offset
        for day in starts
        for offset in draw(st.lists(st.sampled_from(BURST_OFFSETS), min_size=1, max_size=4))
    ]
    attributes = st.fixed_dictionaries(
        {},
        optional={"k": st.sampled_from(K_VALUES), "n": st.sampled_from([*N_VALUES, 1, 2, 0.5])},
    )
    one_event = st.tuples(
        st.sampled_from(["a", "a", "b", "b", "c"]), st.sampled_from(pool), attributes
    )
    specs = [draw(one_event) for _ in range(draw(st.integers(1, 20)))]
    return [
        EventData(id=f"h{i}", type=kind, occurred_at=moment, attributes=attrs)
        for i, (kind, moment, attrs) in enumerate(specs)
    ]


def fold(
    crit: t.Any, batches: list[list[EventData]], context: EvaluationContext
) -> tuple[t.Any, list[dt.datetime | None], list[str]]:
    """Process ``batches`` in turn like the workers: the final state, the event times of
    the occurrences as they appear, and the ids of the events reported late."""
    late: list[str] = []
    context = dataclasses.replace(context, on_late=lambda event: late.append(event.id))
    state: t.Any = None
    times: list[dt.datetime | None] = []
    recorded = 0  # occurrences awarded so far
    for batch in batches:
        new_state = apply_checked(crit, state, batch, context)
        shown = crit.evaluate(new_state, context).occurrences
        if shown > recorded:
            wanted = shown - recorded
            times += occurrence_times(crit, state, batch, context, after=recorded, count=wanted)
            recorded = shown
        state = new_state
    return state, times, late


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_history_imported_in_time_order_matches_oracle(kind: str, data: st.DataObject) -> None:
    """A back-dated history imported in time order, in any batches, by a worker whose
    clock is long past it: the progress and the event times of every award are those
    of the oracle (a live run), and no event is late."""
    criteria = data.draw(CRITERIA[kind], label="criteria")
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    events = sorted(data.draw(histories(), label="events"), key=lambda e: e.occurred_at)
    goals = data.draw(completed_goal_maps, label="completed_goals")
    cap = data.draw(max_occurrences, label="max_occurrences")
    allowance = data.draw(st.sampled_from(ALLOWANCES), label="allowance")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=6), label="cuts")
    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(
        now=IMPORT_DATE, timezone=timezone, completed_goals=goals, late_event_allowance=allowance
    )

    state, times, late = fold(crit, split_into_batches(events, cuts), context)

    assert late == []
    expected = oracle_evaluate(criteria, events, IMPORT_DATE, timezone, goals, cap)
    assert tree(crit.evaluate(state, context)) == tree(expected)
    if not _has_negative_numbers(events):
        # A negative amount can take a sum back below its target: an award given when a
        # batch ended above it stands, so when awards happen then depends on where the
        # batches end (docs/criteria.rst, "Time"); the final progress does not.
        assert times == achieved_times(criteria, events, IMPORT_DATE, timezone, goals, cap)


def _has_negative_numbers(events: list[EventData]) -> bool:
    return any(
        isinstance(value, int | float) and not isinstance(value, bool) and value < 0
        for event in events
        for value in event.attributes.values()
    )


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_history_shuffled_within_the_allowance_matches_oracle(
    kind: str, data: st.DataObject
) -> None:
    """Invariant 4 with event time: events arriving out of order, none more than the
    allowance behind what came before, in any batches, give exactly the oracle."""
    criteria = data.draw(CRITERIA[kind], label="criteria")
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    events = data.draw(histories(), label="events")
    goals = data.draw(completed_goal_maps, label="completed_goals")
    cap = data.draw(max_occurrences, label="max_occurrences")
    allowance = data.draw(st.sampled_from(ALLOWANCES), label="allowance")
    limit = allowance // dt.timedelta(milliseconds=1)
    # each event is delayed by at most the allowance: arrival order is by occurred_at
    # plus the delay, so nothing arrives more than an allowance behind an earlier event
    delays = [data.draw(st.integers(0, limit), label="delay") for _ in events]
    arrival = [
        e
        for _, _, e in sorted(
            zip(
                (millis(e.occurred_at) + d for e, d in zip(events, delays, strict=True)),
                range(len(events)),
                events,
                strict=True,
            )
        )
    ]
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=6), label="cuts")
    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(
        now=IMPORT_DATE, timezone=timezone, completed_goals=goals, late_event_allowance=allowance
    )

    state, _, late = fold(crit, split_into_batches(arrival, cuts), context)

    assert late == []
    expected = oracle_evaluate(criteria, events, IMPORT_DATE, timezone, goals, cap)
    assert tree(crit.evaluate(state, context)) == tree(expected)


WINDOWED_LEAVES = {
    "count": count_criteria().filter(lambda node: "window" in node),
    "sum": sum_criteria().filter(lambda node: "window" in node),
    "sequence": sequence_criteria().filter(lambda node: "window" in node),
}


@pytest.mark.parametrize("kind", sorted(WINDOWED_LEAVES))
@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_late_events_are_reported_and_left_out(kind: str, data: st.DataObject) -> None:
    """Any order at all: exactly the events the oracle calls late are reported (none is
    dropped silently), and the progress is the oracle's over the other events."""
    criteria = data.draw(WINDOWED_LEAVES[kind], label="criteria")
    events = data.draw(st.permutations(data.draw(histories(), label="events")), label="order")
    cap = data.draw(max_occurrences, label="max_occurrences")
    allowance = data.draw(st.sampled_from(ALLOWANCES), label="allowance")
    cuts = data.draw(st.lists(st.integers(0, 30), max_size=6), label="cuts")
    batches = split_into_batches(events, cuts)
    crit = compile_criteria(criteria, max_occurrences=cap)
    context = EvaluationContext(now=IMPORT_DATE, late_event_allowance=allowance)

    state, _, late = fold(crit, batches, context)

    saturated = cap is not None and crit.evaluate(state, context).occurrences >= cap
    expected_late = late_events(criteria, batches, allowance)
    if not saturated:  # a settled state ignores every later event, late or not
        assert late == [e.id for e in expected_late]
        on_time = [e for e in events if e not in expected_late]
        expected = oracle_evaluate(criteria, on_time, IMPORT_DATE, max_occurrences=cap)
        assert tree(crit.evaluate(state, context)) == tree(expected)
    else:
        assert set(late) <= {e.id for e in expected_late}


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_a_stored_view_gives_back_its_evaluation(kind: str, data: st.DataObject) -> None:
    """A view keeps only what differs from the criterion's skeleton; read back (through
    JSON, as the database stores it) it is the evaluation it was made of, number types
    included. Writers make it without the evaluation (:func:`compact`): it is what
    dumping the evaluation against the skeleton gives."""
    criteria = data.draw(CRITERIA[kind], label="criteria")
    now = data.draw(st.sampled_from(NOWS), label="now")
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    events = data.draw(event_lists(now), label="events")
    goals = data.draw(completed_goal_maps, label="completed_goals")
    crit = compile_criteria(criteria, max_occurrences=data.draw(max_occurrences))
    context = EvaluationContext(
        now=now, timezone=timezone, completed_goals=goals, late_event_allowance=ALLOWANCE
    )
    state = crit.apply(None, events, context) if data.draw(st.booleans()) else None
    if data.draw(st.booleans(), label="settled"):
        state = crit.settle(state, context)
    evaluation = crit.evaluate(state, context)
    # Like a goal's view key, one per criteria: it names the skeleton.
    key = view_key(json.dumps(criteria, sort_keys=True), context)
    shown = compact(crit, state, context, skeleton(key, crit, timezone))
    assert shown == _dump(evaluation, skeleton(key, crit, timezone))
    stored = json.loads(json.dumps(view_document(key, crit, state, shown, context)))
    loaded = stored_evaluation(stored, key, crit, context)
    assert loaded == evaluation
    assert loaded is not None and tree(loaded) == tree(evaluation)


@pytest.mark.parametrize("kind", sorted(CRITERIA))
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_the_view_of_no_state_made_once_holds_in_every_context(
    kind: str, data: st.DataObject
) -> None:
    """Writers make the view of a leaf without a state once per leaf and skeleton (most
    of a new row's composite children have none): made in one context, it is still what
    dumping the evaluation gives in any other."""
    criteria = data.draw(CRITERIA[kind], label="criteria")
    crit = compile_criteria(criteria, max_occurrences=data.draw(max_occurrences))
    timezone = data.draw(st.sampled_from(TIMEZONES), label="timezone")
    key = view_key(json.dumps(criteria, sort_keys=True), EvaluationContext(NOWS[0], timezone))
    base = skeleton(key, crit, timezone)
    for _ in range(2):
        now = data.draw(st.sampled_from(NOWS), label="now")
        goals = data.draw(completed_goal_maps, label="completed_goals")
        context = EvaluationContext(now=now, timezone=timezone, completed_goals=goals)
        assert compact(crit, None, context, base) == _dump(crit.evaluate(None, context), base)
