"""The packed form of long lists in criteria states (``flask_gamify.criteria.packing``).

Round trips of the form itself, and the states that use it: a state written packed
evaluates and folds as the same state written with plain JSON lists (the form every
earlier version wrote, still read), whatever the events and their batching.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import random
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_gamify.criteria import EvaluationContext, EventData, compile_criteria, packing
from flask_gamify.criteria.base import decode_exact
from flask_gamify.criteria.packing import PACK_FROM, SEGMENT, pack_integers, unpack_integers

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


#: 40 times packed by a version that compressed every varying plane (the ``"Q"`` form).
EARLIER_FORM = (
    "QKAAAAPjXmgEAAHgBAXgAh/8AL16NfKvayfgnFkV0o5LB8N8OPSxbinmo1wb1JFNCcaCPvu0cCzpphAiMEC+z"
    "N1baX34ChgoprTFQ1Vl4/ICfI6csSs9TcvZ6mR2hJkXJTTU2Njc3Nzg4ODk5Ojo7Ozs8PDw9PT0+Pj8/QEBAQUFB"
    "QkJDQ0REREUP6S1R"
)


def test_the_form_earlier_versions_wrote_is_still_read() -> None:
    packing._RECENT.clear()
    times = [1_764_547_200_000 + i * 25_920 + (i * 7_919) % 25_920 for i in range(40)]
    assert list(unpack_integers(EARLIER_FORM)) == times
    assert pack_integers(times)[:1] == "R"  # written in the current form when it changes


def planes_stored_as_they_are(packed: str) -> list[int]:
    _count, _repeated, as_is = struct.unpack_from("<IBB", base64.b64decode(packed[1:]))
    return [plane for plane in range(8) if as_is >> plane & 1]


def test_planes_close_to_random_are_stored_as_they_are() -> None:
    """zlib spends most of its time on the low planes of jittered times and cannot shrink
    them: they are kept as they are, and the planes it can shrink are compressed."""
    step, moments = 25_920, random.Random(3)  # 100,000 times in 30 days
    jittered = [1_764_547_200_000 + i * step + moments.randrange(step) for i in range(100_000)]
    packed = pack_integers(jittered)
    assert planes_stored_as_they_are(packed) == [0, 1]
    assert len(base64.b64decode(packed[1:])) < 2.5 * len(jittered)
    evenly = [1_764_547_200_000 + i * step for i in range(100_000)]
    assert planes_stored_as_they_are(pack_integers(evenly)) == []
    packing._RECENT.clear()
    assert list(unpack_integers(packed)) == jittered


@pytest.mark.parametrize(
    "damaged",
    [
        "x123",
        "Q!!!!",
        "QAAAAAA=",
        "Q" + "A" * 40,
        "R" + "A" * 40,
        # a plane both repeated and stored as it is
        "R" + base64.b64encode(struct.pack("<IBB", 2, 1, 1) + b"\0" * 40).decode(),
        # fewer bytes than the planes stored as they are need
        "R" + base64.b64encode(struct.pack("<IBB", 100, 0, 3) + b"\0" * 40).decode(),
    ],
)
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


@contextlib.contextmanager
def short_segments() -> Iterator[int]:
    packing.SEGMENT = 50
    packing._RECENT.clear()
    try:
        yield packing.SEGMENT
    finally:
        packing.SEGMENT = SEGMENT
        packing._RECENT.clear()


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(INT64, min_size=PACK_FROM, max_size=400),
    pruned=st.integers(0, 120),
    appended=st.lists(INT64, max_size=120),
    inserted=st.lists(st.tuples(st.integers(0, 400), INT64), max_size=3),
    forget=st.booleans(),
    copied=st.booleans(),
)
def test_a_changed_long_list_round_trips_whatever_segments_it_keeps(
    values: list[int],
    pruned: int,
    appended: list[int],
    inserted: list[tuple[int, int]],
    forget: bool,
    copied: bool,
) -> None:
    """A list packed, unpacked, changed at its ends or anywhere (as a state is between
    batches) and packed again reads back as the changed list, from the worker that
    packed it and from another one; segments the two share are kept as they were,
    whether the list packed is the one unpacked or a copy of it (found by content)."""
    with short_segments() as segment:
        first = pack_integers(values)
        if forget:
            packing._RECENT.clear()  # unpacked by another worker: segments from the text
        changed = unpack_integers(first)
        del changed[:pruned]
        changed.extend(appended)
        for at, value in inserted:
            changed.insert(at, value)
        if copied:
            changed = list(changed)
        again = pack_integers(changed)
        assert list(unpack_integers(again)) == list(changed)
        packing._RECENT.clear()
        assert list(unpack_integers(again)) == list(changed)
        if len(changed) >= PACK_FROM and not inserted:
            kept = set(first[1:].split(",")) & set(again[1:].split(","))
            # the whole segments after the first that pruning left untouched
            untouched = (len(values) - pruned) // segment - 1
            assert len(kept) >= min(untouched, len(values) // segment - 2)


def test_a_heavy_state_packs_what_a_batch_changed() -> None:
    """Times pruned from the front and appended at the end: the segments in between
    keep their packed form, and one list never seen before is cut from its start."""
    with short_segments():
        step = 25_920
        times = [1_764_547_200_000 + i * step + (i * 7_919) % step for i in range(1_000)]
        first = pack_integers(times)
        assert first[:1] == "S" and len(first[1:].split(",")) == 20
        packing._RECENT.clear()
        kept = unpack_integers(first)
        del kept[:130]
        kept.extend(times[-1] + step * i for i in range(1, 201))
        again = pack_integers(kept)
        segments = again[1:].split(",")
        assert segments[1:18] == first[1:].split(",")[3:20]  # 17 whole segments kept
        assert len(segments) == 22 and list(unpack_integers(again)) == list(kept)


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
    """``state`` with every packed list written as the JSON list earlier versions wrote,
    and a windowed sum's state without the sum of its amounts (which they did not keep)."""
    if isinstance(state, dict):
        kept_sum = "t" in state and "v" in state
        return {
            key: legacy(value) for key, value in state.items() if not (kept_sum and key == "sum")
        }
    if isinstance(state, list):
        return [legacy(value) for value in state]
    if isinstance(state, str) and state[:1] in ("Q", "R", "S") and len(state) > 8:
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
    sizes=st.sampled_from([(1, 3), (4, 16), (PACK_FROM, SEGMENT)]),
)
def test_a_packed_state_means_what_the_same_state_as_json_lists_means(
    criteria: dict[str, Any], batches: list[list[EventData]], sizes: tuple[int, int]
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
    # short lists packed and segmented too: hypothesis draws short ones
    packing.PACK_FROM, packing.SEGMENT = sizes
    try:
        for batch in batches:
            packed = stored(crit.apply(packed, batch, context))
            plain = legacy(stored(crit.apply(plain, batch, context)))
            unpacked = crit.apply(unpacked, batch, in_memory)
            # the same lists (a state is rewritten packed when it changes)
            assert legacy(packed) == plain
            if isinstance(packed, dict) and "v" in packed:  # a windowed sum keeps its sum
                amounts = [decode_exact(v) if isinstance(v, str) else v for v in plain["v"]]
                assert decode_exact(str(packed["sum"])) == sum(amounts)
            for moment in (context.now, START + timedelta(hours=12)):
                at = dataclasses.replace(context, now=moment)
                evaluation = crit.evaluate(packed, at)
                assert crit.evaluate(plain, at) == evaluation
                assert crit.evaluate(unpacked, at) == evaluation
    finally:
        packing.PACK_FROM, packing.SEGMENT = PACK_FROM, SEGMENT
