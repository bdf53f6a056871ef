"""``where`` filters on event attributes and ``window`` durations."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

#: The comparison operators allowed in ``where`` conditions.
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in")

_WINDOW_PATTERN = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")
_WINDOW_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


#: The longest duration: a hundred years (longer ones are mistakes, and some would not
#: even fit in a :class:`~datetime.timedelta`).
MAX_WINDOW = timedelta(days=36525)


def parse_window(text: str) -> timedelta:
    """Parse ``"30m"``, ``"24h"``, ``"7d"`` or ``"4w"``; raise :class:`ValueError` otherwise."""
    match = _WINDOW_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            "Must be a duration such as '30s', '30m', '24h', '7d' or '4w':"
            " a positive whole number and one of the units s, m, h, d, w."
        )
    unit = _WINDOW_UNITS[match.group(2)]
    # Compare before multiplying: 999999999w overflows timedelta.
    if int(match.group(1)) > MAX_WINDOW // unit:
        raise ValueError(f"Must be at most 100 years ({MAX_WINDOW.days}d); got {text!r}.")
    return int(match.group(1)) * unit


def _up_to(limit: int) -> str:
    """A regular expression for the whole numbers 1 to ``limit``, without leading zeros."""
    digits = str(limit)
    options = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for index, digit in enumerate(digits):
        low = 1 if index == 0 else 0
        if int(digit) > low:
            rest = len(digits) - index - 1
            options.append(
                f"{digits[:index]}[{low}-{int(digit) - 1}]" + f"[0-9]{{{rest}}}" * (rest > 0)
            )
    options.append(digits)
    return "(" + "|".join(options) + ")"


def window_pattern() -> str:
    """The durations :func:`parse_window` accepts, as one regular expression."""
    limit = 10**9 - 1  # at most nine digits
    return (
        "^("
        + "|".join(
            _up_to(min(limit, MAX_WINDOW // step)) + unit for unit, step in _WINDOW_UNITS.items()
        )
        + ")$"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: numbers by value, but booleans are not numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    return bool(left == right)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(value: Any, operand: Any) -> bool:
        comparable = (_is_number(value) and _is_number(operand)) or (
            isinstance(value, str) and isinstance(operand, str)
        )
        return comparable and compare(value, operand)

    return check


_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _json_equal,
    "ne": lambda value, operand: not _json_equal(value, operand),
    "lt": _ordered(lambda a, b: a < b),
    "lte": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "gte": _ordered(lambda a, b: a >= b),
    "in": lambda value, operand: any(_json_equal(value, item) for item in operand),
}


class Where:
    """A compiled ``where`` filter: every condition must hold."""

    __slots__ = ("conditions",)

    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        conditions: list[tuple[str, str, Any]] = []
        for attribute, condition in (spec or {}).items():
            if isinstance(condition, dict):
                conditions.extend((attribute, op, operand) for op, operand in condition.items())
            else:
                conditions.append((attribute, "eq", condition))
        self.conditions = tuple(conditions)

    def __call__(self, attributes: Mapping[str, Any]) -> bool:
        for attribute, operator, operand in self.conditions:
            if attribute not in attributes:
                return False
            if not _CHECKS[operator](attributes[attribute], operand):
                return False
        return True

    def __bool__(self) -> bool:
        return bool(self.conditions)
