"""Criteria made of other criteria (``all``, ``any``) or of other goals (``goal``)."""

from __future__ import annotations

import abc
import functools
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from .base import Criterion, Evaluation, EvaluationContext, EventData, State


class Outcome(Protocol):
    """What a composite reads of each child: an :class:`Evaluation` has it, and so has
    the :class:`Summary` a stored view keeps (:func:`~flask_gamify.stored_views.compact`)."""

    @property
    def current(self) -> int | float: ...
    @property
    def target(self) -> int | float: ...
    @property
    def percent(self) -> int: ...
    @property
    def completed(self) -> bool: ...
    @property
    def occurrences(self) -> int: ...


class Summary(NamedTuple):
    """A composite's or a child's numbers, as :class:`Evaluation` reports them."""

    current: int | float
    target: int | float
    percent: int
    completed: bool
    occurrences: int


class Composite(Criterion):
    """Shared behaviour of ``all`` and ``any``: a state per child, by position."""

    def __init__(self, children: Sequence[Criterion], max_occurrences: int | None) -> None:
        self.children = list(children)
        self.max_occurrences = max_occurrences

    @functools.cached_property
    def event_types(self) -> frozenset[str]:
        return frozenset().union(*(child.event_types for child in self.children))

    @functools.cached_property
    def monotone(self) -> bool:  # type: ignore[override]
        return all(child.monotone for child in self.children)

    @functools.cached_property
    def goal_refs(self) -> frozenset[str]:
        return frozenset().union(*(child.goal_refs for child in self.children))

    def _child_states(self, state: State) -> list[State]:
        states = list((state or {}).get("of", []))
        return states + [None] * (len(self.children) - len(states))

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        events = list(events)
        states = self._child_states(state)
        for index, child in enumerate(self.children):
            relevant = [event for event in events if event.type in child.event_types]
            if relevant:
                states[index] = child.apply(states[index], relevant, context)
        return {"of": states}

    def settle(self, state: State, context: EvaluationContext) -> State:
        # Complete children collapse; the others still report their progress.
        if state is None:
            return None
        # Children after the stored ones have no state yet (zip stops there).
        states = zip(self.children, state.get("of", []), strict=False)
        return {"of": [child.settle(child_state, context) for child, child_state in states]}

    def _evaluate_children(self, state: State, context: EvaluationContext) -> list[Evaluation]:
        states = self._child_states(state)
        return [child.evaluate(states[i], context) for i, child in enumerate(self.children)]

    @abc.abstractmethod
    def combine(self, children: Sequence[Outcome]) -> Summary:
        """The composite's numbers, from its children's (in order)."""

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        children = self._evaluate_children(state, context)
        current, target, percent, completed, occurrences = self.combine(children)
        return Evaluation(
            type=self.type,
            current=current,
            target=target,
            percent=percent,
            completed=completed,
            occurrences=occurrences,
            children=tuple(children),
            label=self.label,
        )


def _parts(count: int) -> str:
    return "1 part" if count == 1 else f"{count} parts"


class All(Composite):
    """Complete when every child is: ``current`` counts the complete children.

    Partial progress lives in the children, which pages show as bars of their own;
    the parent's numbers say how many parts are done, and its percent follows them.
    """

    type = "all"

    @functools.cached_property
    def default_label(self) -> str:
        return f"all of {_parts(len(self.children))}"

    def combine(self, children: Sequence[Outcome]) -> Summary:
        done = sum(1 for child in children if child.completed)
        return Summary(
            current=done,
            target=len(children),
            percent=done * 100 // len(children),
            completed=done == len(children),
            occurrences=self.cap(min(child.occurrences for child in children)),
        )


class AnyOf(Composite):
    """Complete when a child is: its numbers are those of the child closest to completion.

    That is the first complete child, else the child with the highest percent (the
    first of those that tie), so ``current``, ``target`` and ``percent`` tell the
    story of one path to completion.
    """

    type = "any"

    @functools.cached_property
    def default_label(self) -> str:
        return f"one of {_parts(len(self.children))}"

    def combine(self, children: Sequence[Outcome]) -> Summary:
        completed = any(child.completed for child in children)
        # max() returns the first of equal keys: ties go to the earlier child.
        closest = max(children, key=lambda child: (child.completed, child.percent))
        # A complete child reports current == target already; keep it so regardless.
        return Summary(
            current=closest.target if completed else closest.current,
            target=closest.target,
            percent=closest.percent,
            completed=completed,
            occurrences=self.cap(sum(child.occurrences for child in children)),
        )


class GoalReference(Criterion):
    type = "goal"
    # Its occurrences come from the context, never from events.
    monotone = True

    def __init__(self, goal: str, max_occurrences: int | None) -> None:
        self.goal = goal
        self.max_occurrences = max_occurrences

    @functools.cached_property
    def event_types(self) -> frozenset[str]:
        return frozenset()

    @functools.cached_property
    def goal_refs(self) -> frozenset[str]:
        return frozenset((self.goal,))

    @functools.cached_property
    def default_label(self) -> str:
        return f"goal {self.goal}"

    def apply(self, state: State, events: Iterable[EventData], context: EvaluationContext) -> State:
        return None

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        occurrences = self.cap(context.completed_goals.get(self.goal, 0))
        completed = occurrences >= 1
        return Evaluation(
            type=self.type,
            current=1 if completed else 0,
            target=1,
            percent=100 if completed else 0,
            completed=completed,
            occurrences=occurrences,
            label=self.label,
            # The prerequisite's key, so that what is missing never needs the label read.
            missing=() if completed else (self.goal,),
        )
