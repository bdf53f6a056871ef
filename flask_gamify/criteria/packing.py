"""The compact stored form of long integer lists in criteria states.

Windowed criteria keep sorted lists of event times (milliseconds since the Unix epoch)
and a windowed ``sum`` one amount per millisecond. An entity with many events in a long
window keeps many of them, and as JSON numbers each costs about 14 bytes to store, to
encode and decode, and (in PostgreSQL) to check. A list of
:data:`PACK_FROM` integers or more is therefore stored as one JSON string:

``"Q"`` followed by the base64 of a header (how many integers, as 32 bits; which byte
planes are one byte repeated, as a bit mask; those bytes) and the other *byte planes*
of the integers as signed 64-bit little-endian numbers, compressed by zlib: first the
lowest byte of every integer, then the second byte of every integer, and so on. Times
within weeks of each other share their high bytes, which then take one byte in all or
compress to almost nothing; sorted times take 2 to 6 characters each, where JSON takes
14. Every step runs in C (``array``, bytes slicing, ``zlib``, ``base64``), so packing
and unpacking cost a few milliseconds for 100,000 integers.

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
from collections.abc import MutableSequence, Sequence
from typing import Any

__all__ = ["PACK_FROM", "pack_integers", "unpack_integers"]

#: Lists at least this long are packed; shorter ones stay JSON lists (packing would
#: save little and make small states harder to read).
PACK_FROM = 32

#: The first character of a packed list: the form it is packed in.
_FORM = "Q"
_WIDTH = 8  # bytes per integer: array typecode "q"
_LITTLE_ENDIAN = sys.byteorder == "little"
#: The header: how many integers, and which byte planes are one byte repeated.
_HEADER = struct.Struct("<IB")
#: Lists packed or unpacked lately, by their packed form: a worker folding one heavy
#: state several times over (finding award times bisects a batch) unpacks it once.
_RECENT: dict[str, bytes] = {}
_RECENT_SIZE = 4
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
    count = len(numbers)
    # A byte plane that is one byte repeated is stored as that byte, the others compressed.
    repeated, constants, varying = 0, bytearray(), []
    for plane in range(_WIDTH):
        data = raw[plane::_WIDTH]
        if data.count(data[0]) == count:
            repeated |= 1 << plane
            constants.append(data[0])
        else:
            varying.append(data)
    # Level 1: run-length matches only took half the time on times close to random, but
    # 20 times the room on evenly spaced ones, whose low planes repeat with a period.
    body = _HEADER.pack(count, repeated) + constants + zlib.compress(b"".join(varying), 1)
    packed = _FORM + base64.b64encode(body).decode("ascii")
    _remember(packed, raw)
    return packed


def unpack_integers(stored: Any) -> MutableSequence[Any]:
    """The list ``stored`` holds, in either stored form, as a new mutable sequence.

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
    raw = _RECENT.get(stored)
    if raw is None:
        raw = _unpacked_bytes(stored)
        _remember(stored, raw)
    numbers = array("q", raw)
    if not _LITTLE_ENDIAN:
        numbers.byteswap()
    return numbers


def _unpacked_bytes(stored: str) -> bytes:
    """The integers of a packed list as 64-bit little-endian bytes."""
    if not stored.startswith(_FORM):
        raise ValueError(f"A criteria state holds {stored[:20]!r}, which is not a packed list.")
    try:
        body = base64.b64decode(stored[1:], validate=True)
        count, repeated = _HEADER.unpack_from(body)
        constants = [plane for plane in range(_WIDTH) if repeated >> plane & 1]
        start = _HEADER.size + len(constants)
        planes = zlib.decompress(body[start:])
    except (binascii.Error, struct.error, zlib.error) as error:
        raise ValueError(f"A packed list in a criteria state is damaged: {error}.") from error
    if len(planes) != count * (_WIDTH - len(constants)):
        raise ValueError("A packed list in a criteria state is damaged: its length is wrong.")
    raw = bytearray(count * _WIDTH)
    offset = 0
    for plane in range(_WIDTH):
        if repeated >> plane & 1:
            raw[plane::_WIDTH] = bytes((body[_HEADER.size + constants.index(plane)],)) * count
        else:
            raw[plane::_WIDTH] = planes[offset : offset + count]
            offset += count
    return bytes(raw)


def _remember(packed: str, raw: bytes) -> None:
    with _RECENT_LOCK:  # inline processing folds states in the app's threads
        if len(_RECENT) >= _RECENT_SIZE:
            _RECENT.pop(next(iter(_RECENT)), None)
        _RECENT[packed] = raw
