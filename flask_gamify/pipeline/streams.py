"""The Redis wire format: stream keys, shards and the JSON encoding of events.

Any client can emit events with plain Redis commands::

    XADD gamify:events:3 * event '{"type": "login", "entity": "42"}'

Each shard is a stream ``<prefix>:events:<shard>`` (``GAMIFY_STREAM_PREFIX``, default
``gamify``) with one field, ``event``, holding a JSON object with the keys ``type``,
``entity`` (required), ``entity_type``, ``attributes``, ``id``, ``occurred_at`` and
``received_at`` (optional). Any shard works; :func:`shard_for` spreads entities evenly
and keeps one entity's events together.

Whether ``occurred_at`` lies too far in the future is decided once, against the moment
the event was accepted: ``received_at`` when the sender gives it (Flask-Gamify's own
emitter does, after validating the event with its own clock), otherwise the time Redis
added the entry. Workers never judge it by their own clocks, so clock skew between
hosts never turns a valid event into a dead letter.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from ..errors import EventError
from ..events import EventLimits, TrackedEvent, make_event

__all__ = ["StreamKeys", "decode_event", "encode_event", "shard_for"]

#: The consumer group every worker reads with.
GROUP = "gamify"
#: The stream field that carries the event JSON.
FIELD = "event"


class StreamKeys:
    """The Redis keys of one app's pipeline."""

    def __init__(self, prefix: str, shards: int) -> None:
        self.prefix = prefix
        self.shards = shards

    def stream(self, shard: int) -> str:
        return f"{self.prefix}:events:{shard}"

    def stream_for(self, entity_type: str, entity_id: str) -> str:
        """The stream of the shard an entity's events go to."""
        return self.stream(shard_for(entity_type, entity_id, self.shards))

    def streams(self) -> list[str]:
        return [self.stream(shard) for shard in range(self.shards)]

    def guard(self, shard: int) -> str:
        """Set while a drain job for the shard is queued or running."""
        return f"{self.prefix}:drain:{shard}"

    def attempts(self, shard: int) -> str:
        """Hash of failed processing attempts per stream entry."""
        return f"{self.prefix}:attempts:{shard}"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dead-letters"


def shard_for(entity_type: str, entity_id: str, shards: int) -> int:
    """``crc32("<entity_type>:<entity_id>") % shards``, the same in every language."""
    return zlib.crc32(f"{entity_type}:{entity_id}".encode()) % shards


_FIELDS = frozenset(
    {"type", "entity", "entity_type", "attributes", "id", "occurred_at", "received_at"}
)


def encode_event(
    event: TrackedEvent | dict[str, Any], *, received_at: datetime | str | None = None
) -> str:
    """The ``event`` field of a stream entry, from an event or its :meth:`to_dict` form.

    :param received_at: when the event was accepted (validated), or its ISO 8601 form;
        see the module docs.
    """
    if isinstance(event, TrackedEvent):
        # TrackedEvent.to_dict() with received_at, written directly: every tracked
        # request encodes one, and json.dumps of the dict costs several times more. The
        # same JSON: the names are escaped exactly as json.dumps does (ASCII only), and
        # ISO 8601 times hold no character that needs escaping.
        attributes = event.attributes
        stamp = (
            ""
            if received_at is None
            else ',"received_at":"'
            + (received_at if isinstance(received_at, str) else received_at.isoformat())
            + '"'
        )
        return (
            f'{{"id":{_quote(event.id)},"type":{_quote(event.type)},'
            f'"entity_type":{_quote(event.entity_type)},"entity":{_quote(event.entity_id)},'
            f'"attributes":{_COMPACT.encode(dict(attributes)) if attributes else "{}"},'
            f'"occurred_at":"{event.occurred_at.isoformat()}"{stamp}}}'
        )
    data = event
    if received_at is not None:
        stamp = received_at if isinstance(received_at, str) else received_at.isoformat()
        data = {**data, "received_at": stamp}
    return _COMPACT.encode(data)


#: One encoder for every event (json.dumps with options makes one per call).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def decode_event(
    payload: bytes | str, entry_id: str, shard: int, limits: EventLimits
) -> TrackedEvent:
    """Validate a stream entry's event; raise :class:`~flask_gamify.EventError` otherwise.

    Whatever the bytes (not UTF-8, not JSON, nested thousands of levels deep, lone
    surrogates), the answer is a :class:`TrackedEvent` or an :class:`EventError`, which
    the drain job dead-letters at once: nothing else can escape from here.

    Entries without an ``id`` get one derived from the shard and entry id, and entries
    without ``occurred_at`` take the time Redis added them. ``occurred_at`` may lie at
    most ``GAMIFY_MAX_FUTURE`` after ``received_at`` (or the time Redis added the entry).
    """
    try:
        data: Any = json.loads(payload)
    except RecursionError as error:
        raise _malformed("Nests objects and lists too deep to be an event.") from error
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError included
        raise _malformed(f"Is not valid UTF-8 JSON: {error}.") from error
    if not isinstance(data, dict):
        raise _malformed("Must be a JSON object with 'type' and 'entity'.")
    unknown = set(data) - _FIELDS
    if unknown:
        # ascii(): a field name may itself carry characters that cannot be printed.
        names = ", ".join(sorted(ascii(name) for name in unknown))
        raise _malformed(f"Has unknown field(s): {names}.")
    try:
        added = datetime.fromtimestamp(int(entry_id.split("-")[0]) / 1000, UTC)
        received_at = added
        if data.get("received_at") is not None:
            received_at = _parse_received_at(data["received_at"])
        occurred_at = data.get("occurred_at")
        if occurred_at is None:
            occurred_at = added
        return make_event(
            data.get("type"),
            data.get("entity"),
            entity_type=data.get("entity_type", "user"),
            attributes=data.get("attributes"),
            event_id=data.get("id") or f"redis-{shard}-{entry_id}",
            occurred_at=occurred_at,
            limits=limits,
            now=received_at,
        )
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        # make_event answers EventError for all it knows of; this net keeps the promise
        # for what it does not.
        raise _malformed(f"Could not be read: {type(error).__name__}: {error}.") from error


def _parse_received_at(value: Any) -> datetime:
    moment = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    )
    if moment is None or moment.tzinfo is None:
        raise EventError(
            {
                "received_at": [
                    "Must be an ISO 8601 date and time with a UTC offset, such as"
                    " '2026-11-25T14:30:00Z'."
                ]
            },
            summary="The stream entry is malformed.",
        )
    return moment


def _malformed(message: str) -> EventError:
    return EventError({"event": [message]}, summary="The stream entry is malformed.")
