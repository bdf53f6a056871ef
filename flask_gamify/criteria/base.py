"""The building blocks every criterion shares: events, contexts and evaluations.

A criterion turns events into a *state* (plain JSON: it is stored in the database) and
a state into an :class:`Evaluation`. States merge: applying a set of events gives the
same state whatever their order or batching, which is what lets workers process events
late, out of order and concurrently.
"""

from __future__ import annotations

import abc
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from json.encoder import encode_basestring_ascii
from typing import Any

#: A criterion's stored state: JSON-serialisable, ``None`` before the first event.
State = Any

#: The largest magnitude of a number in event attributes and criteria: ``2**53 - 1``,
#: the largest integer that every JSON parser reads exactly (JavaScript's
#: ``Number.MAX_SAFE_INTEGER``; RFC 7493, I-JSON). Bounded inputs keep every stored
#: state bounded: exact sums of such numbers stay far below any size limit.
MAX_NUMBER = 2**53 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class EventData:
    """An event as the criteria engine sees it."""

    #: Unique id (client-given or generated).
    id: str
    #: Event type, such as ``"article.read"``.
    type: str
    #: When the event happened (timezone-aware).
    occurred_at: datetime
    #: JSON attributes the criteria filter and aggregate on.
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def timestamp_ms(self) -> int:
        """``occurred_at`` as whole milliseconds since the Unix epoch."""
        return to_milliseconds(self.occurred_at)


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    """What an evaluation depends on besides the events.

    What counts is decided by event time alone: windows, sequences and streaks judge
    ``occurred_at``, and each windowed state keeps a *watermark* (the latest
    ``occurred_at`` it counted) from which it measures lateness and prunes. :attr:`now`
    only places the window that :attr:`Evaluation.current` shows.
    """

    #: The moment progress is shown for (the reader's clock): a rolling window shown
    #: ends at the later of this and the state's watermark. Never decides what counts.
    now: datetime
    #: Time zone of calendar periods (streaks).
    timezone: tzinfo = UTC
    #: How many times the entity completed each goal, for ``goal`` criteria.
    completed_goals: Mapping[str, int] = field(default_factory=dict)
    #: How far behind a windowed state's watermark an event may be and still count.
    late_event_allowance: timedelta = timedelta(days=7)
    #: Called with each event a windowed criterion refuses as too late (older than its
    #: watermark minus the allowance), so that no event is dropped silently.
    on_late: Callable[[EventData], None] | None = None

    @property
    def now_ms(self) -> int:
        return to_milliseconds(self.now)

    @property
    def allowance_ms(self) -> int:
        return self.late_event_allowance // _MILLISECOND


@dataclass(frozen=True, slots=True)
class Evaluation:
    """How far a state is from completing its criterion."""

    #: The criterion type (``"count"``, ``"all"``, ...).
    type: str
    #: Progress towards the first completion; never above :attr:`target`.
    current: int | float
    #: What :attr:`current` must reach.
    target: int | float
    #: Whole percent from 0 to 100; 100 when complete.
    percent: int
    #: Whether the criterion is met.
    completed: bool
    #: How many times the criterion is met (decides repeatable awards), capped.
    occurrences: int
    #: Evaluations of the children of ``all``/``any``.
    children: tuple[Evaluation, ...] = ()
    #: A short human description of the criterion.
    label: str = ""
    #: What is still missing, when a list says it best: the values an ``all_of`` has
    #: not seen, the events of the ``sequence`` steps not reached yet.
    missing: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by the REST API."""
        data: dict[str, Any] = {
            "type": self.type,
            "label": self.label,
            "current": self.current,
            "target": self.target,
            "percent": self.percent,
            "completed": self.completed,
        }
        if self.missing:
            data["missing"] = list(self.missing)
        if self.children:
            data["children"] = [child.to_dict() for child in self.children]
        return data


class Criterion(abc.ABC):
    """A compiled, validated criterion."""

    #: The criterion type name, as written in the criteria JSON.
    type: str
    #: Cap on occurrences (1 unless the goal is repeatable; ``None`` is unlimited).
    max_occurrences: int | None

    @property
    @abc.abstractmethod
    def event_types(self) -> frozenset[str]:
        """The event types this criterion listens to."""

    @property
    def goal_refs(self) -> frozenset[str]:
        """Keys of the goals this criterion depends on."""
        return frozenset()

    @property
    @abc.abstractmethod
    def label(self) -> str:
        """A short human description."""

    @abc.abstractmethod
    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        """Return the state after ``events``; never mutates ``state``."""

    @abc.abstractmethod
    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        """Evaluate ``state``; only the ``current`` of rolling windows and streaks depends
        on ``context.now`` (see :class:`EvaluationContext`)."""

    def settle(self, state: State, context: EvaluationContext) -> State:
        """The small state to keep once the goal can earn no more awards.

        Called when the goal's awards reached :attr:`max_occurrences`: awards stand, so
        what is complete can collapse to a terminal form that evaluates as complete and
        ignores later events (the event log, not the state, is the record of history).
        The default keeps ``state``: it is small already.
        """
        return state

    def cap(self, occurrences: int) -> int:
        """Limit ``occurrences`` to :attr:`max_occurrences`."""
        if self.max_occurrences is None:
            return occurrences
        return min(occurrences, self.max_occurrences)

    def is_saturated(self, occurrences: int) -> bool:
        """Whether no further event can change the (capped) occurrences."""
        return self.max_occurrences is not None and occurrences >= self.max_occurrences


def to_milliseconds(moment: datetime) -> int:
    """Whole milliseconds since the Unix epoch, exactly (no float rounding)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND


def canonical_value(value: Any) -> str | None:
    """A JSON value as a canonical string, so that ``1`` and ``1.0`` are one value.

    Returns ``None`` for ``null``, which criteria skip.
    """
    if value is None:
        return None
    # Fast paths that give exactly what json.dumps gives, for the common scalars.
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int:
        return str(value)
    return json.dumps(_normalise_number(value), sort_keys=True, separators=(",", ":"))


def _normalise_number(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normalise_number(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise_number(item) for item in value]
    return value


def numeric_value(value: Any) -> Fraction | None:
    """The exact value of a JSON number as written, or ``None`` for anything else.

    Floats are read by their shortest decimal form (``0.1`` is one tenth), and sums are
    exact fractions, so the order in which values are added never changes a total.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def number_problem(value: Any) -> str | None:
    """Why a JSON number is out of bounds, as a sentence; ``None`` when it is fine.

    Anything but an ``int`` or ``float`` (``bool`` included) is not a number here.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "Must be a finite number (not NaN or infinity)."
    if abs(value) > MAX_NUMBER:
        return (
            f"Must be a number between -{MAX_NUMBER} and {MAX_NUMBER} (2**53 - 1, the largest"
            " integer every JSON parser reads exactly); send larger values as strings."
        )
    return None


def parse_json_float(text: str) -> int | float:
    """``parse_float`` for :func:`json.loads`: ``2.0`` is the integer 2, as JSON Schema reads it.

    JSON has one kind of number; JSON Schema (and so the OpenAPI document) counts a number
    with a zero fraction as an integer. Reading such numbers as ``int`` makes the server
    accept what the document accepts. Beyond :data:`MAX_NUMBER` numbers stay floats (and
    are refused where numbers are bounded).
    """
    value = float(text)
    if value.is_integer() and abs(value) <= MAX_NUMBER:
        return int(value)
    return value


def encode_exact(value: Fraction) -> str:
    """An exact number as a string of a stored state: ``"7"``, ``"-1/10"``.

    Total: beyond Python's limit on decimal digits (4,300, a guard against slow
    conversions) the parts are written in hexadecimal (``"0x1f/0xa"``), which has no
    such limit, so no state a sum reaches can fail to be stored.
    """
    try:
        return str(value)
    except ValueError:
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value.numerator):#x}/{value.denominator:#x}"


def decode_exact(text: str) -> Fraction:
    """Read what :func:`encode_exact` wrote (both forms)."""
    if "x" not in text:
        return Fraction(text)
    sign = -1 if text.startswith("-") else 1
    numerator, _, denominator = text.lstrip("-").partition("/")
    return Fraction(sign * int(numerator, 16), int(denominator or "0x1", 16))


def plain_number(value: Fraction | int) -> int | float:
    """An exact number as ``int`` when it is whole, else as ``float``."""
    if isinstance(value, int):
        return value
    return value.numerator if value.denominator == 1 else float(value)


def percent_of(current: Fraction | int, target: Fraction | int, completed: bool) -> int:
    """``floor(100 * current / target)`` kept within 0..100; 100 when complete."""
    if completed:
        return 100
    if isinstance(current, int) and isinstance(target, int):
        return max(0, min(100, current * 100 // target))  # exact, and much faster
    ratio = Fraction(current) * 100 / Fraction(target)
    return max(0, min(100, math.floor(ratio)))
