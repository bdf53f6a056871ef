"""Evaluations stored with progress rows, so that reading progress evaluates nothing.

Every writer of a progress state (a batch, an inline ``track()``, a backfill) evaluates
it anyway; it stores the evaluation next to the state, in the row's ``stored_view`` column::

    {"k": <view key>, "at": <ms>, "until": <ms or null>, "g": {<goal>: <n>}, "e": {...}}

* ``k``: the goal's :attr:`~flask_gamify.catalog.CatalogGoal.view_key` and the time zone
  of the evaluation: a view made under other criteria, labels or zone is stale;
* ``at`` .. ``until``: the moments (epoch milliseconds) between which the evaluation
  holds: from when it was made until the clock can first change it
  (:func:`~flask_gamify.criteria.expiry.valid_until`; ``null``: only new events can);
* ``g``: the awards held of each goal its ``goal`` criteria name, as the evaluation saw
  them: if they differ now, the view is stale;
* ``e``: the evaluation.

A reader serves the view when all of that still holds, else evaluates the state as
before. A ``NULL`` ``stored_view`` (rows written before the column existed, or by writers that do
not evaluate, such as an award given by hand) is evaluated as before too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .criteria import Criterion, Evaluation, EvaluationContext, State
from .criteria.base import Item
from .criteria.expiry import valid_until

__all__ = ["holds", "stored_evaluation", "view_document", "view_key"]


def view_key(goal_view_key: str, context: EvaluationContext) -> str:
    """The ``k`` of a view: the goal's definition and the time zone of calendar periods."""
    return f"{goal_view_key}/{context.timezone}"


def view_document(
    key: str, criterion: Criterion, state: State, evaluation: Evaluation, context: EvaluationContext
) -> dict[str, Any]:
    """The view to store with ``state``, whose ``evaluation`` was made in ``context``."""
    return {
        "k": key,
        "at": context.now_ms,
        "until": valid_until(criterion, state, context),
        "g": {ref: context.completed_goals.get(ref, 0) for ref in sorted(criterion.goal_refs)},
        "e": _dump(evaluation),
    }


def holds(
    view: Any, key: str, now_ms: int, completed: Mapping[str, int], refs: frozenset[str]
) -> bool:
    """Whether a stored view holds at ``now_ms`` (for the state it was stored with)."""
    if view is None or view.get("k") != key:
        return False
    if now_ms < view["at"]:
        return False  # made ahead of this clock: it may not hold yet
    until = view["until"]
    if until is not None and now_ms >= until:
        return False
    if refs:
        seen = view["g"]
        if any(seen.get(ref, 0) != completed.get(ref, 0) for ref in refs):
            return False
    return True


def stored_evaluation(
    view: Any, key: str, now_ms: int, completed: Mapping[str, int], refs: frozenset[str]
) -> Evaluation | None:
    """The evaluation a stored view holds, if it holds at ``now_ms``; else ``None``."""
    if not holds(view, key, now_ms, completed, refs):
        return None
    return _load(view["e"])


def _dump(evaluation: Evaluation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "t": evaluation.type,
        "l": evaluation.label,
        "c": evaluation.current,
        "n": evaluation.target,
        "p": evaluation.percent,
        "d": evaluation.completed,
        "o": evaluation.occurrences,
    }
    if evaluation.missing:
        data["m"] = list(evaluation.missing)
    if evaluation.items:
        data["i"] = [[item.value, item.label, item.done] for item in evaluation.items]
    if evaluation.children:
        data["ch"] = [_dump(child) for child in evaluation.children]
    return data


def _load(data: Mapping[str, Any]) -> Evaluation:
    return Evaluation(
        type=data["t"],
        current=data["c"],
        target=data["n"],
        percent=data["p"],
        completed=data["d"],
        occurrences=data["o"],
        children=tuple(_load(child) for child in data["ch"]) if "ch" in data else (),
        label=data["l"],
        missing=tuple(data["m"]) if "m" in data else (),
        items=tuple(Item(value, label, done) for value, label, done in data["i"])
        if "i" in data
        else (),
    )
