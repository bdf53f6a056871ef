"""A goal's progress as a tree to show: each part, how far it is, and what is missing in words.

Pure functions over :class:`~flask_gamify.ProgressView` and
:class:`~flask_gamify.criteria.Evaluation`; the templates only lay the nodes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_gamify.criteria import Evaluation, Item, value_text
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
    #: The listed values of an ``all_of``, the steps of a ``sequence``: a checklist.
    items: tuple[Item, ...] = ()

    @property
    def started(self) -> bool:
        """Whether anything is done: an ``all`` shows 0 % until a part is complete."""
        return self.completed or self.percent > 0 or any(c.started for c in self.children)


def _value_name(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _item_name(item: Item) -> str:
    """An item by its goal's label; a value without one as :func:`_value_name` says it."""
    return _value_name(item.value) if item.label == value_text(item.value) else item.label


def _values(values: tuple[Any, ...], items: tuple[Item, ...] = ()) -> str:
    """Name what is missing (by label when the goal gives one), the first
    :data:`NAMED_MISSING` of them."""
    if items:
        names = [_item_name(item) for item in items if not item.done]
    else:
        names = [_value_name(value) for value in values]
    named = ", ".join(names[:NAMED_MISSING])
    if len(names) > NAMED_MISSING:
        named += f" and {len(names) - NAMED_MISSING} more"
    return named


def missing_in_words(
    kind: str,
    current: int | float,
    target: int | float,
    completed: bool,
    missing: tuple[Any, ...],
    children: tuple[Evaluation, ...],
    label: str = "",
    items: tuple[Item, ...] = (),
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
        # The prerequisite's key is what is missing (its label may be the goal's own).
        prerequisite = missing[0] if missing else label.removeprefix("goal ")
        return f"Needs the goal {prerequisite!r} completed first."
    if kind == "all_of":
        return f"Not seen yet: {_values(missing, items)}."
    if kind == "sequence":
        steps = " → ".join(
            [item.label for item in items if not item.done] or [str(step) for step in missing]
        )
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
            evaluation.items,
        ),
        children=tuple(_node(child, awarded) for child in evaluation.children),
        items=tuple(Item(i.value, i.label, True) for i in evaluation.items)
        if awarded
        else evaluation.items,
    )


def goal_tree(view: ProgressView, criterion_type: str) -> ProgressNode:
    """The root node of a goal's progress (its criteria's type is not on the view)."""
    if view.completed:
        missing = ""
    elif view.percent == 99 and view.current >= view.target:
        missing = (
            "The criteria are met but no award is held: it was revoked (see the audit"
            " trail), or the goal had ended."
        )
    else:
        missing = missing_in_words(
            criterion_type,
            view.current,
            view.target,
            False,
            view.missing,
            view.children,
            view.label,
            view.items,
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
        items=view.items,
    )
