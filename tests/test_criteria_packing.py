"""The packed form of long lists in criteria states (``flask_gamify.criteria.packing``).

Round trips of the form itself, and the states that use it: a state written packed
evaluates and folds as the same state written with plain JSON lists (the form every
earlier version wrote, still read), whatever the events and their batching.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_gamify.criteria import EvaluationContext, EventData, compile_criteria, packing
from flask_gamify.criteria.packing import PACK_FROM, pack_integers, unpack_integers

#: Times as the criteria keep them: milliseconds, from before the epoch to 2**53.
TIMES = st.integers(min_value=-(2**53), max_value=2**53)
INT64 = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)


def stored(value: Any) -> Any:
    """What a database's JSON column gives back."""
    return json.loads(json.dumps(value))


@st.composite
def sorted_times(draw: st.DrawFn) -> list[int]:
    """Sorted times with duplicates, dense runs and big gaps, near 0 and near 2**53."""
    base = draw(st.sampled_from([0, 2**53 - 10**7, -(2**53), 1_764_547_200_000]))
    size = draw(st.integers(min_value=0, max_value=3 * PACK_FROM))
    gaps = draw(
        st.lists(
            st.one_of(st.just(0), st.integers(0, 50), st.integers(0, 2**40)),
            min_size=size,
            max_size=size,
        )
    )
    times, moment = [], base
    for gap in gaps:
        moment = min(moment + gap, 2**53)
        times.append(moment)
    return times


@settings(max_examples=300, deadline=None)
@given(sorted_times())
def test_sorted_times_round_trip(times: list[int]) -> None:
    packed = stored(pack_integers(times))
    if len(times) >= PACK_FROM:
        assert isinstance(packed, str)
    else:
        assert packed == times  # short lists stay plain JSON lists
    packing._RECENT.clear()  # read it as another process would
    assert list(unpack_integers(packed)) == times


@settings(max_examples=200, deadline=None)
@given(st.lists(INT64, min_size=PACK_FROM, max_size=200))
def test_any_64_bit_integers_round_trip_in_any_order(values: list[int]) -> None:
    packed = pack_integers(values)
    assert isinstance(packed, str)
    assert list(unpack_integers(packed)) == values
    packing._RECENT.clear()
    assert list(unpack_integers(stored(packed))) == values


def test_repeated_values_and_runs_pack_small() -> None:
    same = [1_764_547_200_000] * 10_000
    assert len(pack_integers(same)) < 100
    dense = list(range(1_764_547_200_000, 1_764_547_200_000 + 100_000))
    packed = pack_integers(dense)
    assert len(packed) < len(dense) // 10  # JSON: 14 bytes a time
    packing._RECENT.clear()
    assert list(unpack_integers(packed)) == dense


def test_lists_it_cannot_pack_are_kept_as_they_are() -> None:
    amounts: list[int | str] = [3] * PACK_FROM + ["1/2"]
    assert pack_integers(amounts) == amounts
    beyond = [2**63] * PACK_FROM
    assert pack_integers(beyond) == beyond
    assert unpack_integers(None) == []
    assert unpack_integers([5, 7]) == [5, 7]


@pytest.mark.parametrize("damaged", ["x123", "Q!!!!", "QAAAAAA=", "Q" + "A" * 40])
def test_a_damaged_packed_list_is_an_error_that_says_so(damaged: str) -> None:
    with pytest.raises(ValueError, match="packed list"):
        unpack_integers(damaged)


def test_unpacked_lists_are_new_each_time() -> None:
    times = list(range(PACK_FROM * 2))
    packed = pack_integers(times)
    first = unpack_integers(packed)
    first.append(-1)
    del first[:5]
    assert list(unpack_integers(packed)) == times


START = datetime(2026, 3, 1, tzinfo=UTC)
ALLOWANCE = timedelta(hours=6)

#: Windowed criteria, the ones whose states keep lists of times.
WINDOWED = [
    {"type": "count", "event": "buy", "target": 3, "window": "2h"},
    {"type": "count", "event": "buy", "target": 10**6, "window": "2h"},
    {"type": "sum", "event": "buy", "field": "amount", "target": 40, "window": "1h"},
    {"type": "sum", "event": "buy", "field": "amount", "target": 10**9, "window": "3h"},
    {"type": "sequence", "steps": [{"event": "buy"}, {"event": "sell"}], "window": "1h"},
    {"type": "sequence", "steps": [{"event": "sell"}, {"event": "buy"}, {"event": "sell"}]},
    {
        "type": "any",
        "of": [
            {"type": "count", "event": "sell", "target": 4, "window": "30m"},
            {"type": "sum", "event": "sell", "field": "amount", "target": 10**6, "window": "1d"},
        ],
    },
]


def legacy(state: Any) -> Any:
    """``state`` with every packed list written as the JSON list earlier versions wrote."""
    if isinstance(state, dict):
        return {key: legacy(value) for key, value in state.items()}
    if isinstance(state, list):
        return [legacy(value) for value in state]
    if isinstance(state, str) and state.startswith("Q") and len(state) > 8:
        return list(unpack_integers(state))
    return state


@st.composite
def event_batches(draw: st.DrawFn) -> list[list[EventData]]:
    size = draw(st.integers(min_value=1, max_value=120))
    stream = []
    for index in range(size):
        # minutes apart, some at the same millisecond, some late (out of order)
        minute = draw(st.integers(min_value=0, max_value=600))
        stream.append(
            EventData(
                id=f"e{index}",
                type=draw(st.sampled_from(["buy", "buy", "sell"])),
                occurred_at=START + timedelta(minutes=minute),
                attributes={"amount": draw(st.sampled_from([1, 2, 5, -3, 0.5]))},
            )
        )
    cuts = sorted(draw(st.lists(st.integers(0, size), max_size=4)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, size], strict=True) if b > a]


@settings(max_examples=60, deadline=None)
@given(
    criteria=st.sampled_from(WINDOWED),
    batches=event_batches(),
    pack_from=st.sampled_from([1, 4, PACK_FROM]),
)
def test_a_packed_state_means_what_the_same_state_as_json_lists_means(
    criteria: dict[str, Any], batches: list[list[EventData]], pack_from: int
) -> None:
    """Fold each batch three ways: from the packed state as stored, from the same state
    with plain JSON lists (as earlier versions stored it), and in memory without packing.
    Every evaluation is the same, and the packed state holds the same lists."""
    crit = compile_criteria(criteria, max_occurrences=None)
    context = EvaluationContext(now=START + timedelta(hours=5), late_event_allowance=ALLOWANCE)
    in_memory = dataclasses.replace(context, stored=False)
    packed: Any = None
    plain: Any = None
    unpacked: Any = None
    packing.PACK_FROM = pack_from  # short lists packed too: hypothesis draws short ones
    try:
        for batch in batches:
            packed = stored(crit.apply(packed, batch, context))
            plain = legacy(stored(crit.apply(plain, batch, context)))
            unpacked = crit.apply(unpacked, batch, in_memory)
            # the same lists (a state is rewritten packed when it changes)
            assert legacy(packed) == plain
            for moment in (context.now, START + timedelta(hours=12)):
                at = dataclasses.replace(context, now=moment)
                evaluation = crit.evaluate(packed, at)
                assert crit.evaluate(plain, at) == evaluation
                assert crit.evaluate(unpacked, at) == evaluation
    finally:
        packing.PACK_FROM = PACK_FROM
