"""The storage floor: the worker with trivial criteria states.

``GAMIFY_BENCH_FLOOR=1`` in the benchmark app's environment (so in its worker
subprocesses) wraps every goal's compiled criterion in a :class:`Trivial` one when the
catalog loads. It listens to the same event types and names the same prerequisite goals,
so a batch locks and writes exactly the (goal, entity) progress rows the real worker does,
logs the same events and runs the same worker, drain, transaction and acknowledgement
path; but its state is an integer (the number of events folded in, so that every row
touched is written), its evaluation is a constant 0 % and it earns nothing: no award,
ledger entry, balance, notification or leaderboard update.

The drain rate with it is what the storage and the pipeline allow; the real worker's
rate over it is the share of the floor the criteria engine leaves (the target: >= 0.8).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from flask_gamify.catalog import CatalogGoal, GoalCatalog
from flask_gamify.criteria import Evaluation, EvaluationContext
from flask_gamify.criteria.base import Criterion
from flask_gamify.testing import RedisServer

from . import throughput
from .harness import Database, Options
from .throughput import Throughput

#: Environment variable that turns the floor on in the benchmark app.
FLOOR = "GAMIFY_BENCH_FLOOR"

_NOTHING = Evaluation(type="floor", current=0, target=1, percent=0, completed=False, occurrences=0)


class Trivial(Criterion):
    """A criterion that counts the events it is given and never completes."""

    type = "floor"

    def __init__(self, real: Criterion) -> None:
        self.max_occurrences = real.max_occurrences
        self._event_types = real.event_types
        self._goal_refs = real.goal_refs

    @property
    def event_types(self) -> frozenset[str]:
        return self._event_types

    @property
    def goal_refs(self) -> frozenset[str]:
        return self._goal_refs

    @property
    def default_label(self) -> str:
        return "floor"

    def apply(self, state: Any, events: Iterable[Any], context: EvaluationContext) -> Any:
        return (state if isinstance(state, int) else 0) + sum(1 for _ in events)

    def evaluate(self, state: Any, context: EvaluationContext) -> Evaluation:
        return _NOTHING


def install(app: Flask) -> None:
    """Make ``app``'s batch processor see every goal with a :class:`Trivial` criterion."""
    catalog: GoalCatalog = app.extensions["gamify"].processor.catalog
    load = catalog._load

    def trivial_load(session: Any) -> list[CatalogGoal]:
        return [
            dataclasses.replace(goal, criterion=Trivial(goal.criterion)) for goal in load(session)
        ]

    catalog._load = trivial_load  # type: ignore[method-assign]


def enabled() -> bool:
    return os.environ.get(FLOOR) == "1"


@dataclass
class Floor:
    """The real worker's and the floor's rates, best of interleaved rounds each."""

    real: Throughput
    floor: Throughput
    real_rates: list[float]
    floor_rates: list[float]

    @property
    def ratio(self) -> float:
        """The real worker's rate over the floor's (1.0: the criteria cost nothing)."""
        return self.real.rate / self.floor.rate

    @staticmethod
    def spread(rates: list[float]) -> float:
        """(best - worst) / best of one side's rounds: the noise."""
        return (max(rates) - min(rates)) / max(rates)


def measure(
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    *,
    budget: float,
    rounds: int = 3,
    worker_env: dict[str, str] | None = None,
) -> Floor:
    """Drain ``events`` with the real worker and with the floor, ``rounds`` of each,
    interleaved (floor, real, floor, real, ...); keep the best round of each."""
    trivial, real = throughput.interleaved(
        lambda: throughput.run(
            options,
            server,
            database,
            events,
            budget=budget,
            worker_env={**(worker_env or {}), FLOOR: "1"},
        ),
        lambda: throughput.run(
            options, server, database, events, budget=budget, worker_env=worker_env
        ),
        rounds,
    )
    return Floor(
        throughput.best(real),
        throughput.best(trivial),
        [result.rate for result in real],
        [result.rate for result in trivial],
    )
