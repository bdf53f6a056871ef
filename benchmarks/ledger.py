"""The points ledger's cost on worker throughput.

The same events drained twice by one worker: with the workload's goals as they are
(every award with points writes a ledger entry and a balance in its batch's
transaction, and the committing worker brings the Redis leaderboards up to date), and
with every goal worth 0 points (an award worth nothing writes no entry, no balance and
no leaderboard). Interleaved (without, with, without, with, ...) on the same database and
Redis, and the best round of each kept, so that a noisy neighbour costs both sides
alike. The target: the ledger costs under 10 % of the throughput.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from flask_gamify.testing import RedisServer

from . import throughput
from .harness import Database, Options
from .workload import GOALS


@dataclass
class LedgerCost:
    without: throughput.Throughput
    with_ledger: throughput.Throughput
    rounds: int

    @property
    def ratio(self) -> float:
        """Throughput with the ledger over throughput without it (1.0: free)."""
        return self.with_ledger.rate / self.without.rate


def _worth_nothing(app: Flask) -> None:
    """Redefine every goal with 0 points: its awards then write nothing to the ledger."""
    app.extensions["gamify"].extension.define_goals([{**goal, "points": 0} for goal in GOALS])


def cost(
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    *,
    budget: float,
    rounds: int = 3,
) -> LedgerCost:
    """Worker throughput without and with the ledger, ``rounds`` of each, interleaved."""
    without, with_ledger = throughput.interleaved(
        lambda: throughput.run(
            options, server, database, events, budget=budget, setup=_worth_nothing
        ),
        lambda: throughput.run(options, server, database, events, budget=budget),
        rounds,
    )
    return LedgerCost(throughput.best(without), throughput.best(with_ledger), rounds)
