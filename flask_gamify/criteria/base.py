"""The building blocks every criterion shares: events, contexts and evaluations.

A criterion turns events into a *state* (plain JSON: it is stored in the database) and
a state into an :class:`Evaluation`. States merge: applying a set of events gives the
same state whatever their order or batching, which is what lets workers process events
late, out of order and concurrently.
"""

from __future__ import annotations

import abc
import contextlib
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

#: What a leaf's state amounts to (:meth:`~.leaves.Leaf.measure`): ``(current, target,
#: occurrences, done)``, exact and uncapped; ``done`` says which listed parts are done
#: (``all_of`` values, ``sequence`` steps), ``None`` for leaves that list none.
Measure = tuple[Fraction | int, Fraction | int, int, tuple[bool, ...] | None]

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
    #: Whether the states :meth:`Criterion.apply` returns are stored. ``False`` for
    #: states only folded further and evaluated in memory (finding award times): their
    #: long lists are then left as they are, not packed (see :mod:`.packing`).
    stored: bool = True
    #: :attr:`now` in whole milliseconds since the Unix epoch.
    now_ms: int = field(init=False)
    #: :attr:`late_event_allowance` in whole milliseconds.
    allowance_ms: int = field(init=False)

    def __post_init__(self) -> None:
        # Computed once: a batch makes one context per (goal, entity) and reads these
        # many times in each.
        object.__setattr__(self, "now_ms", to_milliseconds(self.now))
        object.__setattr__(self, "allowance_ms", self.late_event_allowance // _MILLISECOND)


@dataclass(frozen=True, slots=True)
class Item:
    """One part of a list-like criterion: a listed value of an ``all_of``, a step of a
    ``sequence``. A checklist a page can show as it is."""

    #: The listed value (``all_of``), or the step's position from 0 (``sequence``).
    value: Any
    #: The part in words: the goal's own label for it, else the value or the step's event.
    label: str
    #: Whether this part is done.
    done: bool

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label, "done": self.done}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """How far a state is from completing its criterion.

    Every type tells one story: :attr:`percent` is ``floor(100 * current / target)``
    kept within 0..100, and it is 100 exactly when :attr:`completed`. What ``current``
    and ``target`` count depends on the type (``all``: complete children out of all;
    ``any``: the numbers of its child closest to completion; see ``docs/progress.rst``).
    """

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
    #: Each listed value of an ``all_of``, each step of a ``sequence``, in order, with
    #: its label and whether it is done: :attr:`missing` by label, and what is done too.
    items: tuple[Item, ...] = ()

    @property
    def started(self) -> bool:
        """Whether anything of the criterion is done: a percent above 0 here or in a child.

        An ``all`` shows 0 % until a child is complete, though its children progressed.
        """
        return self.completed or self.percent > 0 or any(c.started for c in self.children)

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
        if self.items:
            data["items"] = [item.to_dict() for item in self.items]
        if self.children:
            data["children"] = [child.to_dict() for child in self.children]
        return data


class Criterion(abc.ABC):
    """A compiled, validated criterion."""

    #: The criterion type name, as written in the criteria JSON.
    type: str
    #: Cap on occurrences (1 unless the goal is repeatable; ``None`` is unlimited).
    max_occurrences: int | None
    #: The criterion's own ``label`` from the criteria JSON, if it has one.
    custom_label: str | None = None
    #: Whether occurrences never fall as events are added (every built-in type but
    #: ``sum``, whose amounts can be negative): :func:`~.timeline.occurrence_times` then
    #: bisects a batch instead of folding its events one at a time.
    monotone: bool = False

    @property
    @abc.abstractmethod
    def event_types(self) -> frozenset[str]:
        """The event types this criterion listens to."""

    @property
    def goal_refs(self) -> frozenset[str]:
        """Keys of the goals this criterion depends on."""
        return frozenset()

    @property
    def label(self) -> str:
        """A short human description: the criterion's ``label``, else :attr:`default_label`."""
        return self.custom_label or self.default_label

    @property
    @abc.abstractmethod
    def default_label(self) -> str:
        """The description written from the criterion's fields."""

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


def label_key(value: Any) -> str:
    """The key of a listed ``all_of`` value in its ``labels`` object.

    JSON object keys are text: a text value is its own key; a number or a boolean is
    keyed by its JSON form, a whole number without fraction (``1`` and ``1.0`` are
    ``"1"``, ``2.5`` is ``"2.5"``, ``true`` is ``"true"``).
    """
    if isinstance(value, str):
        return value
    key = canonical_value(value)
    assert key is not None
    return key


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


def encode_exact(value: Fraction | int) -> str:
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


def decode_exact(text: str) -> Fraction | int:
    """Read what :func:`encode_exact` wrote (both forms); a whole number as an ``int``,
    which adds and compares exactly like its fraction, faster."""
    if "x" not in text:
        if "/" not in text:
            with contextlib.suppress(ValueError):
                return int(text)
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


def shown_progress(
    current: Fraction | int, target: Fraction | int, completed: bool
) -> tuple[int | float, int | float, int]:
    """``(current, target, percent)`` as progress reports them, telling one story.

    ``percent`` is ``floor(100 * current / target)`` of the numbers *as reported* (a
    float read by its shortest decimal form, as every parser reads the JSON), kept
    within 0..100, and it is 100 exactly when ``completed``: a complete criterion shows
    ``current == target``; an incomplete one shows less than its target, even when the
    rolling window shown holds more than the windows that decide completion (negative
    amounts, see ``docs/criteria.rst``) or a float rounds up to the target.
    """
    if isinstance(current, int) and isinstance(target, int):  # the common, exact case
        if completed:
            return target, target, 100
        if -MAX_NUMBER <= current < target:
            return current, target, max(0, current * 100 // target)
    reported_target = plain_number(target)
    if completed:
        return reported_target, reported_target, 100
    # Sums can fall without limit (refunds); reporting at most 2**53 - 1 below zero
    # keeps ``current`` a number every JSON parser reads and encodes.
    reported = plain_number(max(min(current, target), -MAX_NUMBER))
    percent = _reported_percent(reported, reported_target)
    if percent >= 100:
        reported = plain_number(Fraction(target) * 99 / 100)
        percent = _reported_percent(reported, reported_target)
    return reported, reported_target, percent


def _reported_percent(current: int | float, target: int | float) -> int:
    exact_current, exact_target = numeric_value(current), numeric_value(target)
    assert exact_current is not None and exact_target is not None
    return max(0, min(100, math.floor(exact_current * 100 / exact_target)))
