"""The compact stored form of long integer lists in criteria states.

Windowed criteria keep sorted lists of event times (milliseconds since the Unix epoch)
and a windowed ``sum`` one amount per millisecond. An entity with many events in a long
window keeps many of them, and as JSON numbers each costs about 14 bytes to store, to
encode and decode, and (in PostgreSQL) to check. A list of
:data:`PACK_FROM` integers or more is therefore stored as one JSON string:

``"R"`` followed by the base64 of a header (how many integers, as 32 bits; which byte
planes are one byte repeated, and which are stored as they are, as two bit masks), the
repeated bytes, the planes stored as they are, and the other *byte planes* compressed by
zlib. The integers are signed 64-bit little-endian numbers, and a byte plane holds one
byte of each: first the lowest byte of every integer, then the second byte of every
integer, and so on. Times within weeks of each other share their high bytes, which then
take one byte in all or compress to almost nothing; the lowest planes of times spread at
random over a window are close to random bytes, which zlib spends most of its time on
and cannot shrink, so a plane whose first 4,096 bytes do not compress by a tenth is
stored as it is. Sorted times take 2 to 6 characters each, where JSON takes 14. Every
step runs in C (``array``, bytes slicing, ``zlib``, ``base64``), so packing and
unpacking cost a few milliseconds for 100,000 integers.

A list longer than :data:`SEGMENT` integers is packed in segments of that many, each
packed as above on its own: ``"S"`` followed by the segments' base64, separated by
commas. A batch changes a long state at its ends: times older than the window are
pruned from the front, new ones appended (a late event lands among the last). The worker
keeps the segments of the last lists it packed or unpacked, and packing a list finds
those whole segments in it and keeps their packed form, so it packs what changed: the
part before them (what is left of a pruned segment) and the part after them (the last
segment and what was appended), not the whole list. Where the list is not found the
segments are cut from its start. Either way the form reads back as the same integers;
only which segments hold which integers can differ.

``"Q"`` is the form earlier versions wrote: the same without the second mask, every
varying plane compressed. It is still read, and written as ``"R"`` the next time the
state changes.

Shorter lists stay JSON lists, as every list was stored before this form existed:
:func:`unpack_integers` reads both, so states written by earlier versions load without
a migration and are written in the packed form the next time they change. The form is
exact for every integer in ``-2**63 < n < 2**63``; :func:`pack_integers` leaves a list
with anything else (an amount stored as text) as it is.
"""

from __future__ import annotations

import base64
import binascii
import struct
import sys
import threading
import zlib
from array import array
from collections.abc import Iterator, MutableSequence, Sequence
from typing import Any

__all__ = ["PACK_FROM", "SEGMENT", "pack_integers", "unpack_integers"]

#: Lists at least this long are packed; shorter ones stay JSON lists (packing would
#: save little and make small states harder to read).
PACK_FROM = 32
#: Lists longer than this are packed in segments of this many integers.
SEGMENT = 16384

#: The first character of a packed list: the form it is packed in.
_FORM = "R"
_SEGMENTED = "S"
_SEPARATOR = ","
#: The form earlier versions wrote, without planes stored as they are; still read.
_FORM_ALL_COMPRESSED = "Q"
_WIDTH = 8  # bytes per integer: array typecode "q"
_LITTLE_ENDIAN = sys.byteorder == "little"
#: The header: how many integers, which byte planes are one byte repeated, and which
#: are stored as they are.
_HEADER = struct.Struct("<IBB")
_HEADER_ALL_COMPRESSED = struct.Struct("<IB")
#: A plane is compressed when zlib shrinks this many of its first bytes by a tenth.
_SAMPLE = 4096
#: Where a list being packed may come from in an earlier one: its first integers looked
#: for in the earlier one, and the earlier one's first whole segments in it.
_HEAD = 8
_SEGMENTS_TRIED = 2

#: Where a segment lies in a list's bytes, and its packed form (base64).
_Segment = tuple[int, int, str]


class _Packed:
    """A list packed or unpacked lately: its bytes, and its segments if it has them."""

    __slots__ = ("raw", "segments")

    def __init__(self, raw: bytes, segments: list[_Segment] | None) -> None:
        self.raw = raw
        self.segments = segments


class _Unpacked(array):  # type: ignore[type-arg]
    """An unpacked segmented list, which knows the packed list it came from: packing
    it again after a batch changed it looks for that list's segments in it first."""

    __slots__ = ("origin",)
    origin: _Packed


#: Lists packed or unpacked lately, by their packed form: a worker folding one heavy
#: state several times over (finding award times bisects a batch) unpacks it once, and
#: packing a long list keeps the segments it shares with the one it was unpacked from.
_RECENT: dict[str, _Packed] = {}
_RECENT_SIZE = 8
_RECENT_LOCK = threading.Lock()


def pack_integers(values: Sequence[Any], *, stored: bool = True) -> Any:
    """The stored form of ``values``: packed when it is a long list of 64-bit integers,
    else a plain list (a copy).

    :param values: integers (sorted times pack best) or, for a windowed sum's amounts,
        integers and exact amounts as text.
    :param stored: ``False`` for a state that is only kept in memory: ``values`` is
        then returned as it is (see :attr:`.EvaluationContext.stored`).
    """
    if not stored:
        return values
    if len(values) < PACK_FROM:
        return list(values)
    if isinstance(values, array) and values.typecode == "q":
        numbers = values
    else:
        try:
            numbers = array("q", values)
        except (TypeError, OverflowError):
            return list(values)  # text amounts, or integers beyond 64 bits: kept as they are
    if not _LITTLE_ENDIAN:
        numbers = array("q", numbers)
        numbers.byteswap()
    raw = numbers.tobytes()
    if len(numbers) <= SEGMENT:
        packed, segments = _FORM + _packed_body(raw), None
    else:
        segments = _segments(raw, getattr(values, "origin", None))
        packed = _SEGMENTED + _SEPARATOR.join(body for _, _, body in segments)
    _remember(packed, _Packed(raw, segments))
    return packed


def unpack_integers(stored: Any) -> MutableSequence[Any]:
    """The list ``stored`` holds, in any stored form, as a new mutable sequence.

    A packed list comes back as an ``array("q")`` (indexing, slicing, ``bisect`` and
    ``extend`` work as on a list; the elements are integers); a JSON list as a list.

    :param stored: what :func:`pack_integers` returned, or a JSON list (``None``: empty).
    :raises ValueError: when ``stored`` is a string that is not a packed list.
    """
    if stored is None:
        return []
    if isinstance(stored, array):
        return array(stored.typecode, stored)  # a state kept in memory, unpacked
    if not isinstance(stored, str):
        return list(stored)
    known = _RECENT.get(stored)
    if known is None:
        known = _unpacked(stored)
        _remember(stored, known)
    if known.segments is None:
        numbers = array("q", known.raw)
    else:
        numbers = _Unpacked("q", known.raw)
        numbers.origin = known
    if not _LITTLE_ENDIAN:
        numbers.byteswap()
    return numbers


def _packed_body(raw: bytes, compresses: list[bool | None] | None = None) -> str:
    """The base64 of the header and byte planes of the integers in ``raw``.

    :param compresses: for each plane, whether zlib shrinks it, where known (the
        segments of one list share it: each check costs a call to zlib); filled in here.
    """
    count = len(raw) // _WIDTH
    if compresses is None:
        compresses = [None] * _WIDTH
    # A byte plane that is one byte repeated is stored as that byte, one close to random
    # bytes as it is, the others compressed.
    repeated, stored_as_is, constants, kept, compressible = 0, 0, bytearray(), [], []
    for plane in range(_WIDTH):
        data = raw[plane::_WIDTH]
        if data == data[:1] * count:  # compares bytes until the first difference
            repeated |= 1 << plane
            constants.append(data[0])
        elif compresses[plane] or (
            compresses[plane] is None and _compresses(data[:_SAMPLE], compresses, plane)
        ):
            compressible.append(data)
        else:
            stored_as_is |= 1 << plane
            kept.append(data)
    # Level 1: run-length matches only took half the time on times close to random, but
    # 20 times the room on evenly spaced ones, whose low planes repeat with a period.
    body = b"".join(
        (
            _HEADER.pack(count, repeated, stored_as_is),
            constants,
            *kept,
            zlib.compress(b"".join(compressible), 1),
        )
    )
    return base64.b64encode(body).decode("ascii")


def _compresses(sample: bytes, compresses: list[bool | None], plane: int) -> bool:
    """Whether zlib at level 1 shrinks ``sample`` by a tenth or more (noted in
    ``compresses``)."""
    compresses[plane] = shrinks = len(zlib.compress(sample, 1)) * 10 < len(sample) * 9
    return shrinks


def _segments(raw: bytes, origin: _Packed | None) -> list[_Segment]:
    """The segments of a long list: whole segments of the list it was unpacked from (or
    else of one packed or unpacked lately) kept as they were packed, the rest cut and
    packed anew."""
    start, end, kept = _earlier_segments(raw, origin)
    cut = [*_cut(0, start), *kept, *_cut(end, len(raw))]
    compresses: list[bool | None] = [None] * _WIDTH
    return [
        (low, high, body if body is not None else _packed_body(raw[low:high], compresses))
        for low, high, body in cut
    ]


def _cut(low: int, high: int) -> list[tuple[int, int, None]]:
    size = SEGMENT * _WIDTH
    return [(at, min(at + size, high), None) for at in range(low, high, size)]


def _earlier_segments(raw: bytes, origin: _Packed | None) -> tuple[int, int, list[_Segment]]:
    """Where in ``raw`` a run of whole segments of an earlier list lies, and the run."""
    size = SEGMENT * _WIDTH
    for known in [origin] if origin is not None else reversed(list(_RECENT.values())):
        if known.segments is None:
            continue
        old = known.raw
        whole = [segment for segment in known.segments if segment[1] - segment[0] == size]
        for shift in _shifts(raw, old, whole):
            run: list[_Segment] = []
            for low, high, body in whole:
                if low + shift < 0 or high + shift > len(raw):
                    continue
                if raw[low + shift : high + shift] == old[low:high]:
                    run.append((low + shift, high + shift, body))
                elif run:
                    break
            if run:
                return run[0][0], run[-1][1], run
    return 0, 0, []


def _shifts(raw: bytes, old: bytes, whole: list[_Segment]) -> Iterator[int]:
    """Where the integers of an earlier list may have moved to in ``raw``, most likely
    first: the list pruned at its start (it begins inside the earlier one), then the
    first whole segments of the earlier one found as they are."""
    at = old.find(raw[: _HEAD * _WIDTH])
    if at >= 0 and at % _WIDTH == 0:
        yield -at
    for low, high, _ in whole[:_SEGMENTS_TRIED]:
        at = raw.find(old[low:high])
        if at >= 0 and at % _WIDTH == 0:
            yield at - low


def _unpacked(stored: str) -> _Packed:
    """The integers of a packed list as 64-bit little-endian bytes, and its segments."""
    form = stored[:1]
    if form in (_FORM, _FORM_ALL_COMPRESSED):
        return _Packed(_body_bytes(stored[1:], form), None)
    if form != _SEGMENTED:
        raise ValueError(f"A criteria state holds {stored[:20]!r}, which is not a packed list.")
    pieces, segments, at = [], [], 0
    for body in stored[1:].split(_SEPARATOR):
        piece = _body_bytes(body, _FORM)
        pieces.append(piece)
        segments.append((at, at + len(piece), body))
        at += len(piece)
    return _Packed(b"".join(pieces), segments)


def _body_bytes(text: str, form: str) -> bytes:
    """The integers of one packed body (base64) as 64-bit little-endian bytes."""
    try:
        body = base64.b64decode(text, validate=True)
        if form == _FORM:
            count, repeated, stored_as_is = _HEADER.unpack_from(body)
            start = _HEADER.size
        else:
            count, repeated = _HEADER_ALL_COMPRESSED.unpack_from(body)
            stored_as_is, start = 0, _HEADER_ALL_COMPRESSED.size
        constants = body[start : start + repeated.bit_count()]
        start += len(constants)
        kept_end = start + count * stored_as_is.bit_count()
        kept = body[start:kept_end]
        compressed = zlib.decompress(body[kept_end:])
    except (binascii.Error, struct.error, zlib.error) as error:
        raise ValueError(f"A packed list in a criteria state is damaged: {error}.") from error
    if repeated & stored_as_is or len(constants) != repeated.bit_count():
        raise ValueError("A packed list in a criteria state is damaged: its header is wrong.")
    varying = _WIDTH - repeated.bit_count() - stored_as_is.bit_count()
    if len(kept) != kept_end - start or len(compressed) != count * varying:
        raise ValueError("A packed list in a criteria state is damaged: its length is wrong.")
    raw = bytearray(count * _WIDTH)
    repeated_at = kept_at = compressed_at = 0
    for plane in range(_WIDTH):
        if repeated >> plane & 1:
            raw[plane::_WIDTH] = constants[repeated_at : repeated_at + 1] * count
            repeated_at += 1
        elif stored_as_is >> plane & 1:
            raw[plane::_WIDTH] = kept[kept_at : kept_at + count]
            kept_at += count
        else:
            raw[plane::_WIDTH] = compressed[compressed_at : compressed_at + count]
            compressed_at += count
    return bytes(raw)


def _remember(packed: str, known: _Packed) -> None:
    with _RECENT_LOCK:  # inline processing folds states in the app's threads
        if len(_RECENT) >= _RECENT_SIZE:
            _RECENT.pop(next(iter(_RECENT)), None)
        _RECENT[packed] = known
