"""Events as they enter gamify: validation, normalisation and their JSON form."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .criteria import EventData
from .criteria.base import MAX_NUMBER, number_problem
from .criteria.limits import is_visible, too_deep, unstorable_text
from .errors import EventError
from .models import ENTITY_LENGTH, ENTITY_TYPE_LENGTH, EVENT_ID_LENGTH, EVENT_TYPE_LENGTH, utcnow

__all__ = ["EVENT_FIELDS", "EventLimits", "TrackedEvent", "event_from_json", "make_event"]

#: Why an integer entity id is refused: ids beyond 2**53 - 1 lose digits in JSON parsers.
ENTITY_NUMBER_MESSAGE = (
    f"Must be an integer between -{MAX_NUMBER} and {MAX_NUMBER} (2**53 - 1, what every JSON"
    " parser reads exactly); send larger ids as strings."
)

#: Encodes attributes to measure them (one encoder for all: json.dumps makes one per call).
_COMPACT = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
#: The bits of a random (version 4, RFC 4122 variant) UUID that are not random.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (4 << 76) | (0x8000 << 48)

_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


@dataclass(frozen=True, slots=True)
class EventLimits:
    """Bounds on what one event may carry (from ``GAMIFY_MAX_*`` configuration)."""

    #: Largest JSON encoding of ``attributes``, in bytes.
    attributes_bytes: int = 8192
    #: Deepest nesting of objects and lists in ``attributes``.
    attributes_depth: int = 4
    #: How far ``occurred_at`` may lie in the future (clock skew).
    future: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """A validated event, ready to be processed or sent to a worker."""

    id: str
    type: str
    entity_type: str
    entity_id: str
    occurred_at: datetime
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_engine(self) -> EventData:
        """The form the criteria engine works with."""
        return EventData(self.id, self.type, self.occurred_at, self.attributes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (also the wire format to workers)."""
        return {
            "id": self.id,
            "type": self.type,
            "entity_type": self.entity_type,
            "entity": self.entity_id,
            "attributes": dict(self.attributes),
            "occurred_at": self.occurred_at.isoformat(),
        }


#: Names found valid, with their length limit: event and entity types repeat on every
#: request, and so do the ids of active entities. Bounded: emptied when full.
_VALID_NAMES: set[tuple[str, int]] = set()
_VALID_NAMES_MAX = 4096


def _check_name(errors: dict[str, list[str]], path: str, value: Any, limit: int, what: str) -> None:
    if type(value) is str and (value, limit) in _VALID_NAMES:
        return
    # is_visible: the OpenAPI document's pattern, so both say the same about blank text.
    if not isinstance(value, str) or not is_visible(value.replace("\x00", "")):
        errors[path] = [f"Must be a non-empty string naming the {what}."]
    elif len(value) > limit:
        errors[path] = [f"Must be at most {limit} characters long (got {len(value)})."]
    else:
        problem = unstorable_text(value, path)
        if problem is not None:
            errors[path] = [problem[1]]
        elif type(value) is str:
            if len(_VALID_NAMES) >= _VALID_NAMES_MAX:
                _VALID_NAMES.clear()
            _VALID_NAMES.add((value, limit))


def number_errors(value: Any, path: str) -> dict[str, list[str]]:
    """Out-of-bounds numbers in a JSON value, by path (see :data:`~.criteria.base.MAX_NUMBER`).

    Walks with an explicit stack, so that no nesting depth can exhaust the call stack.
    """
    errors: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{where}.{key}", child) for key, child in reversed(item.items()))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{i}]", child) for i, child in reversed(list(enumerate(item))))
        else:
            problem = number_problem(item)
            if problem is not None:
                errors[where] = [problem]
    return errors


def to_utc(moment: datetime) -> datetime | None:
    """``moment`` in UTC, or ``None`` when UTC cannot represent it (year 1 or 9999 edges)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def new_event_id() -> str:
    """A random UUID (version 4) as 32 hex digits, as ``uuid.uuid4().hex`` without the
    ``UUID`` object (every tracked request makes one)."""
    value = int.from_bytes(os.urandom(16), "big") & _UUID4_CLEAR | _UUID4_SET
    return f"{value:032x}"


def _check_attributes(
    errors: dict[str, list[str]], path: str, attributes: Any, limits: EventLimits
) -> None:
    if type(attributes) is dict and not attributes:
        return  # the usual case, and valid under any limits
    if not isinstance(attributes, Mapping) or not all(isinstance(k, str) for k in attributes):
        errors[path] = ["Must be an object with string keys."]
        return
    # Depth and text first, without recursion: json.dumps recurses, and cannot encode
    # lone surrogates as UTF-8.
    deep = too_deep(dict(attributes), limits.attributes_depth, path)
    if deep is not None:
        errors[path] = [
            f"Must nest objects and lists at most {limits.attributes_depth} deep ({deep} is"
            " deeper)."
        ]
        return
    unstorable = unstorable_text(dict(attributes), path)
    if unstorable is not None:
        errors[unstorable[0]] = [unstorable[1]]
        return
    # Before encoding: json.dumps itself fails on integers of more than 4,300 digits.
    numbers = number_errors(attributes, path)
    if numbers:
        errors.update(numbers)
        return
    try:
        encoded = _COMPACT.encode(attributes)
    except (TypeError, ValueError) as error:
        errors[path] = [f"Must contain only JSON values (strings, finite numbers, ...): {error}."]
        return
    if len(encoded.encode()) > limits.attributes_bytes:
        errors[path] = [
            f"Must be at most {limits.attributes_bytes} bytes as JSON (got {len(encoded)});"
            " send identifiers, not documents."
        ]


def make_event(
    event_type: Any,
    entity: Any,
    *,
    entity_type: Any = "user",
    attributes: Any = None,
    event_id: Any = None,
    occurred_at: Any = None,
    limits: EventLimits | None = None,
    path: str = "",
    now: datetime | None = None,
) -> TrackedEvent:
    """Validate and normalise one event.

    :param path: prefix of field paths in error messages, such as ``"events[3]."``.
    :raises EventError: naming every bad field and how to fix it.
    """
    limits = limits or EventLimits()
    errors: dict[str, list[str]] = {}
    _check_name(errors, f"{path}type", event_type, EVENT_TYPE_LENGTH, "event type")
    if isinstance(entity, bool) or not isinstance(entity, str | int):
        errors[f"{path}entity"] = ["Must be the entity's id, a string or an integer."]
    elif isinstance(entity, int) and abs(entity) > MAX_NUMBER:
        # Checked before str(), which refuses integers of more than 4300 digits.
        errors[f"{path}entity"] = [ENTITY_NUMBER_MESSAGE]
    else:
        _check_name(errors, f"{path}entity", str(entity), ENTITY_LENGTH, "entity")
    _check_name(errors, f"{path}entity_type", entity_type, ENTITY_TYPE_LENGTH, "entity type")
    attributes = {} if attributes is None else attributes
    _check_attributes(errors, f"{path}attributes", attributes, limits)
    if event_id is None:
        event_id = new_event_id()
    elif (
        not isinstance(event_id, str)
        or not 1 <= len(event_id) <= EVENT_ID_LENGTH
        or not set(event_id) <= _ID_CHARACTERS
    ):
        errors[f"{path}id"] = [
            f"Must be 1 to {EVENT_ID_LENGTH} characters of letters, digits and - _ . :"
            " (a UUID works well)."
        ]
    now = now or utcnow()
    moment = now if occurred_at is None else _parse_time(occurred_at)
    if moment is not None:
        moment = to_utc(moment)
    if moment is None:
        errors[f"{path}occurred_at"] = [
            "Must be an ISO 8601 date and time between the years 1 and 9999 in UTC, such as"
            " '2026-11-25T14:30:00Z'."
        ]
    elif moment > now + limits.future:
        errors[f"{path}occurred_at"] = [
            f"Lies more than {int(limits.future.total_seconds())} seconds in the future;"
            " check the sender's clock."
        ]
    if errors:
        raise EventError(errors, summary="The event was rejected.")
    assert moment is not None
    return TrackedEvent(
        id=event_id,
        type=event_type,
        entity_type=entity_type,
        entity_id=str(entity),
        occurred_at=moment,
        attributes=dict(attributes),
    )


#: The keys of an event's JSON form (the REST API, history files).
EVENT_FIELDS = frozenset({"type", "entity", "entity_type", "attributes", "id", "occurred_at"})


def event_from_json(
    item: Any,
    *,
    default_entity_type: str,
    limits: EventLimits | None = None,
    path: str = "",
    default_id: str | None = None,
) -> TrackedEvent:
    """One event from its JSON form (an object with the keys of :data:`EVENT_FIELDS`).

    :param default_id: the id of an event without one (generated when ``None``).
    :raises EventError: naming every bad field, unknown keys included.
    """
    if not isinstance(item, Mapping):
        raise EventError({path.rstrip(".") or "event": ["Must be an event object."]})
    errors = {
        f"{path}{name}": [f"Unknown field; an event has {', '.join(sorted(EVENT_FIELDS))}."]
        for name in sorted(set(item) - EVENT_FIELDS, key=ascii)
    }
    try:
        event = make_event(
            item.get("type"),
            item.get("entity"),
            entity_type=item.get("entity_type", default_entity_type),
            attributes=item.get("attributes"),
            event_id=item.get("id", default_id),
            occurred_at=item.get("occurred_at"),
            limits=limits,
            path=path,
        )
    except EventError as error:
        errors.update(error.errors)
    if errors:
        raise EventError(errors, summary="The event was rejected.")
    return event
