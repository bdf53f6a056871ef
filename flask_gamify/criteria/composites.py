"""Criteria made of other criteria (``all``, ``any``) or of other goals (``goal``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

from .base import Criterion, Evaluation, EvaluationContext, EventData, State


class Composite(Criterion):
    """Shared behaviour of ``all`` and ``any``: a state per child, by position."""

    def __init__(self, children: Sequence[Criterion], max_occurrences: int | None) -> None:
        self.children = list(children)
        self.max_occurrences = max_occurrences

    @functools.cached_property
    def event_types(self) -> frozenset[str]:
        return frozenset().union(*(child.event_types for child in self.children))

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


class All(Composite):
    type = "all"

    @functools.cached_property
    def label(self) -> str:
        return f"all of {len(self.children)}"

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        children = self._evaluate_children(state, context)
        done = sum(1 for child in children if child.completed)
        completed = done == len(children)
        mean = math.floor(sum(child.percent for child in children) / len(children))
        return Evaluation(
            type=self.type,
            current=done,
            target=len(children),
            percent=100 if completed else mean,
            completed=completed,
            occurrences=self.cap(min(child.occurrences for child in children)),
            children=tuple(children),
            label=self.label,
        )


class AnyOf(Composite):
    type = "any"

    @functools.cached_property
    def label(self) -> str:
        return f"any of {len(self.children)}"

    def evaluate(self, state: State, context: EvaluationContext) -> Evaluation:
        children = self._evaluate_children(state, context)
        completed = any(child.completed for child in children)
        return Evaluation(
            type=self.type,
            current=1 if completed else 0,
            target=1,
            percent=100 if completed else max(child.percent for child in children),
            completed=completed,
            occurrences=self.cap(sum(child.occurrences for child in children)),
            children=tuple(children),
            label=self.label,
        )


class GoalReference(Criterion):
    type = "goal"

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
    def label(self) -> str:
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
        )
