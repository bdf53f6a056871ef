"""A goal's progress as a tree to show: each part, how far it is, and what is missing in words.

Pure functions over :class:`~flask_gamify.ProgressView` and
:class:`~flask_gamify.criteria.Evaluation`; the templates only lay the nodes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_gamify.criteria import Evaluation
from flask_gamify.records import ProgressView

from .display import format_number

__all__ = ["ProgressNode", "goal_tree", "missing_in_words"]

#: How many missing values are named before "and N more".
NAMED_MISSING = 10


@dataclass(frozen=True, slots=True)
class ProgressNode:
    """One criterion of a goal, ready to show."""

    #: The criterion type (``"count"``, ``"all"``, ...); ``"goal"`` for a prerequisite.
    type: str
    #: What the criterion asks for, in words.
    label: str
    current: str
    target: str
    percent: int
    completed: bool
    #: What is still missing, in words; ``""`` when complete.
    missing: str
    children: tuple[ProgressNode, ...] = ()

    @property
    def started(self) -> bool:
        return self.completed or self.percent > 0


def _values(values: tuple[Any, ...]) -> str:
    named = ", ".join(repr(value) if isinstance(value, str) else str(value) for value in values)
    if len(values) > NAMED_MISSING:
        shown = values[:NAMED_MISSING]
        named = ", ".join(repr(value) if isinstance(value, str) else str(value) for value in shown)
        named += f" and {len(values) - NAMED_MISSING} more"
    return named


def missing_in_words(
    kind: str,
    current: int | float,
    target: int | float,
    completed: bool,
    missing: tuple[Any, ...],
    children: tuple[Evaluation, ...],
    label: str = "",
) -> str:
    """What a criterion still needs, as a sentence; ``""`` when it is met."""
    if completed:
        return ""
    if kind == "all":
        left = len(children) - sum(1 for child in children if child.completed)
        verb = "is" if left == 1 else "are"
        return f"{left} of the {len(children)} parts {verb} still to do; every part is needed."
    if kind == "any":
        return f"None of the {len(children)} parts is done yet; any one of them is enough."
    if kind == "goal":
        prerequisite = label.removeprefix("goal ")
        return f"Needs the goal {prerequisite!r} completed first."
    if kind == "all_of":
        return f"Not seen yet: {_values(missing)}."
    if kind == "sequence":
        steps = " → ".join(str(step) for step in missing)
        return f"Steps not reached yet: {steps}."
    remaining = target - current
    if isinstance(remaining, float):
        remaining = round(remaining, 6)
    if kind == "streak":
        return f"{format_number(remaining)} more in a row needed."
    if kind == "sum":
        return f"{format_number(remaining)} more needed."
    if kind == "distinct":
        return f"{format_number(remaining)} more different values needed."
    return f"{format_number(remaining)} more needed."


def _node(evaluation: Evaluation, awarded: bool) -> ProgressNode:
    # Once awarded, a goal stands: its parts may have moved on (a rolling window), but
    # nothing is "missing" any more.
    return ProgressNode(
        type=evaluation.type,
        label=evaluation.label,
        current=format_number(evaluation.current),
        target=format_number(evaluation.target),
        percent=evaluation.percent,
        completed=evaluation.completed,
        missing=""
        if awarded
        else missing_in_words(
            evaluation.type,
            evaluation.current,
            evaluation.target,
            evaluation.completed,
            evaluation.missing,
            evaluation.children,
            evaluation.label,
        ),
        children=tuple(_node(child, awarded) for child in evaluation.children),
    )


def goal_tree(view: ProgressView, criterion_type: str) -> ProgressNode:
    """The root node of a goal's progress (its criteria's type is not on the view)."""
    if view.completed:
        missing = ""
    elif view.percent == 99 and view.current >= view.target:
        missing = "The criteria are met but no award was given (the goal may have ended)."
    else:
        missing = missing_in_words(
            criterion_type,
            view.current,
            view.target,
            False,
            view.missing,
            view.children,
            view.label,
        )
    return ProgressNode(
        type=criterion_type,
        label=view.label,
        current=format_number(view.current),
        target=format_number(view.target),
        percent=view.percent,
        completed=view.completed,
        missing=missing,
        children=tuple(_node(child, view.completed) for child in view.children),
    )
