"""The criteria engine: pure Python, no Flask, SQL or Redis.

:func:`compile_criteria` validates a criteria ``dict`` and returns a
:class:`Criterion` that folds events into a JSON state and evaluates it. The same
function serves inline processing, the workers and the property tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    Criterion,
    Evaluation,
    EvaluationContext,
    EventData,
    Item,
    State,
    label_key,
    to_milliseconds,
)
from .composites import All, AnyOf, GoalReference
from .filters import OPERATORS, Where, parse_window
from .leaves import AllOf, Count, Distinct, SequenceCriterion, Step, Streak, Sum, value_text
from .schema import CRITERION_TYPES, validate_criteria, without_labels
from .timeline import occurrence_times

__all__ = [
    "CRITERION_TYPES",
    "OPERATORS",
    "Criterion",
    "Evaluation",
    "EvaluationContext",
    "EventData",
    "Item",
    "State",
    "compile_criteria",
    "label_key",
    "occurrence_times",
    "parse_window",
    "to_milliseconds",
    "validate_criteria",
    "value_text",
    "without_labels",
]


def compile_criteria(data: Any, *, max_occurrences: int | None = 1) -> Criterion:
    """Validate ``data`` and build its :class:`Criterion`.

    :param data: the criteria, as JSON-like ``dict``.
    :param max_occurrences: how many times the goal can be awarded (``None``: no limit).
    :raises CriteriaError: when ``data`` is invalid; the message names each bad field.
    """
    return build(validate_criteria(data), max_occurrences)


def _window_ms(data: Mapping[str, Any]) -> int | None:
    window = data.get("window")
    return None if window is None else int(parse_window(window).total_seconds() * 1000)


def build(data: Mapping[str, Any], max_occurrences: int | None) -> Criterion:
    """Build a criterion from already validated ``data``."""
    criterion = _build(data, max_occurrences)
    criterion.custom_label = data.get("label")
    return criterion


def _build(data: Mapping[str, Any], max_occurrences: int | None) -> Criterion:
    kind = data["type"]
    if kind in ("all", "any"):
        children = [build(child, max_occurrences) for child in data["of"]]
        return All(children, max_occurrences) if kind == "all" else AnyOf(children, max_occurrences)
    if kind == "goal":
        return GoalReference(data["goal"], max_occurrences)
    if kind == "sequence":
        steps = [
            Step(step["event"], Where(step.get("where")), step.get("label"))
            for step in data["steps"]
        ]
        return SequenceCriterion(steps, max_occurrences, window_ms=_window_ms(data))
    event, where = data["event"], Where(data.get("where"))
    if kind == "count":
        return Count(
            event, where, max_occurrences, target=data["target"], window_ms=_window_ms(data)
        )
    if kind == "sum":
        return Sum(
            event,
            where,
            max_occurrences,
            field=data["field"],
            target=data["target"],
            window_ms=_window_ms(data),
        )
    if kind == "distinct":
        return Distinct(event, where, max_occurrences, field=data["field"], target=data["target"])
    if kind == "all_of":
        return AllOf(
            event,
            where,
            max_occurrences,
            field=data["field"],
            values=data["values"],
            labels=data.get("labels"),
        )
    return Streak(
        event, where, max_occurrences, target=data["target"], period=data.get("period", "day")
    )
