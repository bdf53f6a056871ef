"""Evaluations stored with progress rows, so that reading progress evaluates nothing.

Every writer of a progress state (a batch, an inline ``track()``, a backfill) evaluates
it anyway; it stores the evaluation next to the state, in the row's ``stored_view`` column::

    {"k": <view key>, "at": <ms>, "until": <ms>, "g": {<goal>: <n>}, "e": [...]}

* ``k``: the goal's :attr:`~flask_gamify.catalog.CatalogGoal.view_key`, the time zone
  of the evaluation and the format of the view: a view made under other criteria,
  labels, zone or format is stale;
* ``at`` .. ``until``: the moments (epoch milliseconds) between which the evaluation
  holds: from when it was made until the clock can first change it
  (:func:`~flask_gamify.criteria.expiry.valid_until`; left out: only new events can);
* ``g``: the awards held of each goal its ``goal`` criteria name, as the evaluation saw
  them: if they differ now, the view is stale (left out when it names none);
* ``e``: the evaluation, as what differs from the criterion's :func:`skeleton` (its
  evaluation of no state): ``[current, percent, completed, occurrences]``, then, only
  if needed, a dict of the other fields that differ (type, label, target, missing,
  items, children). Labels and targets, the same for every entity, are not repeated in
  every row: a view is about a fifth of the size it would be whole.

A reader serves the view when all of that still holds, else evaluates the state as
before. A ``NULL`` ``stored_view`` (rows written before the column existed, or by writers that do
not evaluate, such as an award given by hand) is evaluated as before too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, cast

from .criteria import Criterion, Evaluation, EvaluationContext, State
from .criteria.base import Item, shown_progress
from .criteria.composites import Composite, Summary
from .criteria.expiry import valid_until
from .criteria.leaves import Leaf

__all__ = [
    "compact",
    "evaluation_of",
    "holds",
    "skeleton",
    "stored_evaluation",
    "view_document",
    "view_key",
]

#: The format of ``e``, part of every view's key: views stored in another format are
#: stale (evaluated from their state when read, rewritten when next changed).
FORMAT = 2
#: The moment skeletons are evaluated at: fixed, so that every process makes the same.
_SKELETON_NOW = datetime(2000, 1, 1, tzinfo=UTC)
#: Skeletons by view key; cleared when it holds this many (goals x time zones in use).
_SKELETONS_KEPT = 4096
_skeletons: dict[str, Evaluation] = {}


def view_key(goal_view_key: str, context: EvaluationContext) -> str:
    """The ``k`` of a view: the goal's definition, the time zone of calendar periods and
    the format of the view."""
    return f"{goal_view_key}/{context.timezone}/{FORMAT}"


def skeleton(key: str, criterion: Criterion, timezone: tzinfo) -> Evaluation:
    """What every evaluation of ``criterion`` under the view key ``key`` shares: its
    evaluation of no state, with no award of other goals, at a fixed moment.

    A view stores only what differs from it; the key names the criterion, its labels
    and the time zone, so the skeleton of a key never changes.
    """
    found = _skeletons.get(key)
    if found is None:
        if len(_skeletons) >= _SKELETONS_KEPT:
            _skeletons.clear()
        context = EvaluationContext(now=_SKELETON_NOW, timezone=timezone)
        found = _skeletons[key] = criterion.evaluate(None, context)
    return found


def compact(
    criterion: Criterion, state: State, context: EvaluationContext, base: Evaluation
) -> list[Any]:
    """The evaluation of ``state`` in ``context`` as a view's ``e`` keeps it, against
    ``base``, the criterion's :func:`skeleton`.

    It is what dumping ``criterion.evaluate(state, context)`` against ``base`` gives, made
    without the tree of :class:`Evaluation` objects: a leaf's numbers come from its
    :meth:`~flask_gamify.criteria.leaves.Leaf.measure` and a composite's from its
    children's views (:meth:`~flask_gamify.criteria.composites.Composite.combine`).
    Other types are evaluated and dumped. Every writer of progress stores one per row
    it changes; a reader rebuilds the evaluation only when it needs it.
    """
    kind = _kinds.get(type(criterion)) or _kind(type(criterion))
    if kind is Leaf:
        leaf = cast(Leaf, criterion)
        if state is None:
            return _empty_leaf(leaf, context, base)
        return _leaf_view(leaf, state, context, base)
    if kind is Composite:
        composite = cast(Composite, criterion)
        states = composite._child_states(state)
        bases = base.children
        children = [
            compact(child, states[index], context, bases[index])
            for index, child in enumerate(composite.children)
        ]
        summary = composite.combine(
            [_summary(child, of) for child, of in zip(children, bases, strict=True)]
        )
        data: list[Any] = [summary.current, summary.percent, summary.completed, summary.occurrences]
        other: dict[str, Any] = {"n": summary.target} if summary.target != base.target else {}
        if children:
            other["ch"] = children
        if other:
            data.append(other)
        return data
    return _dump(criterion.evaluate(state, context), base)


#: The ``e`` of leaves without a state, by ``(id(leaf), id(base))``: the same in every
#: context (no event, so no window, day or part to show), and most of a composite's
#: children in a new row. Each entry keeps its leaf and base, so their ids stay theirs.
_EMPTY_KEPT = 4096
_empty: dict[tuple[int, int], tuple[Leaf, Evaluation, list[Any]]] = {}


def _empty_leaf(leaf: Leaf, context: EvaluationContext, base: Evaluation) -> list[Any]:
    """:func:`compact` of ``leaf`` without a state, made once per leaf and skeleton."""
    found = _empty.get((id(leaf), id(base)))
    if found is None:
        if len(_empty) >= _EMPTY_KEPT:
            _empty.clear()
        data = _leaf_view(leaf, None, context, base)
        found = _empty[(id(leaf), id(base))] = (leaf, base, data)
    return list(found[2])


def _leaf_view(leaf: Leaf, state: State, context: EvaluationContext, base: Evaluation) -> list[Any]:
    """:func:`compact` of a leaf, from its numbers
    (:meth:`~flask_gamify.criteria.leaves.Leaf.measure`)."""
    current, target, occurrences, done = leaf.measure(state, context)
    completed = occurrences >= 1
    shown, reported, percent = shown_progress(current, target, completed)
    data: list[Any] = [shown, percent, completed, leaf.cap(occurrences)]
    other: dict[str, Any] = {}
    if reported != base.target:
        other["n"] = reported
    if done is not None:
        done, missing = leaf.shown_parts(done, completed)
        if missing != base.missing:
            other["m"] = list(missing)
        if done != tuple(item.done for item in base.items):
            other["id"] = list(done)
    if other:
        data.append(other)
    return data


#: How :func:`compact` makes the view of each criterion class: as a leaf, as a
#: composite, else from its evaluation (``isinstance`` on these abstract classes is slow).
_kinds: dict[type[Criterion], type[Criterion]] = {}


def _kind(cls: type[Criterion]) -> type[Criterion]:
    found = _kinds[cls] = next(
        (kind for kind in (Leaf, Composite) if issubclass(cls, kind)), Criterion
    )
    return found


def _summary(data: list[Any], base: Evaluation) -> Summary:
    """The numbers of a child's ``e`` (its target from the skeleton, unless it differs)."""
    other = data[4] if len(data) > 4 else {}
    return Summary(data[0], other.get("n", base.target), data[1], data[2], data[3])


def view_document(
    key: str, criterion: Criterion, state: State, shown: list[Any], context: EvaluationContext
) -> dict[str, Any]:
    """The view to store with ``state``, whose evaluation in ``context`` is ``shown``
    (:func:`compact`)."""
    view: dict[str, Any] = {"k": key, "at": context.now_ms, "e": shown}
    until = valid_until(criterion, state, context)
    if until is not None:
        view["until"] = until
    if criterion.goal_refs:
        completed = context.completed_goals
        view["g"] = {ref: completed.get(ref, 0) for ref in sorted(criterion.goal_refs)}
    return view


def holds(
    view: Any, key: str, now_ms: int, completed: Mapping[str, int], refs: frozenset[str]
) -> bool:
    """Whether a stored view holds at ``now_ms`` (for the state it was stored with)."""
    if view is None or view.get("k") != key:
        return False
    if now_ms < view["at"]:
        return False  # made ahead of this clock: it may not hold yet
    until = view.get("until")
    if until is not None and now_ms >= until:
        return False
    if refs:
        seen = view.get("g", {})
        if any(seen.get(ref, 0) != completed.get(ref, 0) for ref in refs):
            return False
    return True


def stored_evaluation(
    view: Any, key: str, criterion: Criterion, context: EvaluationContext
) -> Evaluation | None:
    """The evaluation a stored view holds, if it holds in ``context``; else ``None``."""
    if not holds(view, key, context.now_ms, context.completed_goals, criterion.goal_refs):
        return None
    return evaluation_of(view["e"], skeleton(key, criterion, context.timezone))


def _dump(evaluation: Evaluation, base: Evaluation | None) -> list[Any]:
    """``evaluation`` as what differs from ``base`` (``None``: every field)."""
    data: list[Any] = [
        evaluation.current,
        evaluation.percent,
        evaluation.completed,
        evaluation.occurrences,
    ]
    other: dict[str, Any] = {}
    if base is None or evaluation.type != base.type:
        other["t"] = evaluation.type
    if base is None or evaluation.label != base.label:
        other["l"] = evaluation.label
    if base is None or evaluation.target != base.target:
        other["n"] = evaluation.target
    if base is None or evaluation.missing != base.missing:
        other["m"] = list(evaluation.missing)
    items = evaluation.items
    if base is None or items != base.items:
        if base is not None and [(i.value, i.label) for i in items] == [
            (i.value, i.label) for i in base.items
        ]:
            other["id"] = [item.done for item in items]  # the same list: what is done
        else:
            other["i"] = [[item.value, item.label, item.done] for item in items]
    children, bases = evaluation.children, base.children if base is not None else None
    if bases is not None and len(children) == len(bases):
        if children:
            other["ch"] = [_dump(child, of) for child, of in zip(children, bases, strict=True)]
    else:
        other["cf"] = [_dump(child, None) for child in children]
    if other:
        data.append(other)
    return data


def evaluation_of(data: list[Any], base: Evaluation | None) -> Evaluation:
    """The evaluation a view's ``e`` keeps (what :func:`_dump` or :func:`compact` made),
    against the same ``base``, the criterion's skeleton."""
    other: dict[str, Any] = data[4] if len(data) > 4 else {}
    if "ch" in other:
        assert base is not None
        children = tuple(
            evaluation_of(c, of) for c, of in zip(other["ch"], base.children, strict=True)
        )
    elif "cf" in other:
        children = tuple(evaluation_of(child, None) for child in other["cf"])
    else:
        children = base.children if base is not None else ()
    if "i" in other:
        items = tuple(Item(value, label, done) for value, label, done in other["i"])
    elif "id" in other:
        assert base is not None
        items = tuple(
            Item(item.value, item.label, done)
            for item, done in zip(base.items, other["id"], strict=True)
        )
    else:
        items = base.items if base is not None else ()
    return Evaluation(
        type=other["t"] if "t" in other else _base(base).type,
        current=data[0],
        target=other["n"] if "n" in other else _base(base).target,
        percent=data[1],
        completed=data[2],
        occurrences=data[3],
        children=children,
        label=other["l"] if "l" in other else _base(base).label,
        missing=tuple(other["m"]) if "m" in other else _base(base).missing,
        items=items,
    )


def _base(base: Evaluation | None) -> Evaluation:
    assert base is not None, "a view dumped without a skeleton names every field"
    return base
