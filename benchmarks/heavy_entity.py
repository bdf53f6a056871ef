"""One heavy entity against a light one: the cost per event of each criterion type.

``python -m benchmarks.heavy_entity [--quick] [--events 100000] [--batch 200]
[--rounds 5] [--only NAME] [--jitter] [--postgres URL]``

For each case (one goal of one criterion type, alone in a fresh database) the *heavy*
entity first receives ``--events`` events spread over the 30 days before the
measurement, in batches through the same :class:`~flask_gamify.processing.BatchProcessor`
the workers use (no Redis: the measurement is the evaluation and the SQL, not the
transport). Then rounds alternate: one batch of ``--batch`` new events for the heavy
entity, one batch of as many events, at the same moments, for a *light* entity (a
handful of events before the round). The cost per event is the median of the rounds;
the ratio heavy / light has a target of at most 2x for every type (the cost of a batch
follows the batch, not the history). The stored state of each is printed in bytes (its
JSON form).

Events are evenly spaced, which packed lists of times store in well under a byte a time;
``--jitter`` moves each event to a pseudo-random moment within its step (still in
order), as real times are, so that packed states take the size they take in practice.

Repeatable goals without a cap keep their state live forever (a non-repeatable goal
that completes settles to a few bytes), so most cases are repeatable; the
``in progress`` cases never complete.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

from flask_gamify import Gamify
from flask_gamify.events import TrackedEvent, make_event
from flask_gamify.models import Progress

REPEATABLE = {"repeatable": True}
KINDS = ("a", "b", "c")

#: name -> (criteria, goal options). One goal per case, alone in its database.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "count": ({"type": "count", "event": "buy", "target": 10}, REPEATABLE),
    "count, window": (
        {"type": "count", "event": "buy", "target": 50, "window": "30d"},
        REPEATABLE,
    ),
    "count, window, where": (
        {"type": "count", "event": "buy", "target": 50, "window": "30d", "where": {"kind": "a"}},
        REPEATABLE,
    ),
    "count, window, in progress": (
        {"type": "count", "event": "buy", "target": 1_000_000, "window": "30d"},
        {},
    ),
    "sum": ({"type": "sum", "event": "buy", "field": "amount", "target": 100}, REPEATABLE),
    "sum, window": (
        {"type": "sum", "event": "buy", "field": "amount", "target": 1000, "window": "30d"},
        REPEATABLE,
    ),
    "sum, window, in progress": (
        {"type": "sum", "event": "buy", "field": "amount", "target": 10**12, "window": "30d"},
        {},
    ),
    "distinct": (
        {"type": "distinct", "event": "buy", "field": "sku", "target": 10},
        REPEATABLE,
    ),
    "distinct, in progress": (
        {"type": "distinct", "event": "buy", "field": "sku", "target": 1_000_000},
        {},
    ),
    "all_of": (
        {"type": "all_of", "event": "buy", "field": "kind", "values": list(KINDS)},
        REPEATABLE,
    ),
    "streak": ({"type": "streak", "event": "buy", "target": 3}, REPEATABLE),
    "sequence": (
        {"type": "sequence", "steps": [{"event": "buy"}, {"event": "refund"}]},
        {},
    ),
    "sequence, window": (
        {
            "type": "sequence",
            "steps": [{"event": "buy", "where": {"kind": "a"}}, {"event": "buy"}],
            "window": "1h",
        },
        REPEATABLE,
    ),
    "sequence, window, in progress": (
        {"type": "sequence", "steps": [{"event": "buy"}, {"event": "refund"}], "window": "30d"},
        {},
    ),
}

#: Distinct sku values among the events: a catalogue, not one value per event.
SKUS = 1000
WINDOW = timedelta(days=30)
ZERO = timedelta(0)


@dataclass
class CaseResult:
    name: str
    heavy_seconds: float
    light_seconds: float
    batch: int
    heavy_bytes: int
    light_bytes: int

    @property
    def ratio(self) -> float:
        return self.heavy_seconds / self.light_seconds

    @property
    def heavy_us(self) -> float:
        return self.heavy_seconds / self.batch * 1e6

    @property
    def light_us(self) -> float:
        return self.light_seconds / self.batch * 1e6


#: Whether event times are moved within their step (``--jitter``).
JITTER = False


def _scatter(index: int) -> int:
    """A pseudo-random number that is the same for the same ``index``."""
    return int.from_bytes(hashlib.blake2b(index.to_bytes(8), digest_size=8).digest())


def make_events(entity: str, start: datetime, step: timedelta, first: int, count: int) -> list:
    step_us = step // timedelta(microseconds=1)
    return [
        make_event(
            "buy",
            entity,
            attributes={
                "amount": 1 + index % 7,
                "sku": f"s{(index * 7919) % SKUS}",
                "kind": KINDS[index % len(KINDS)],
            },
            event_id=f"{entity}-{index}",
            occurred_at=start
            + index * step
            + (timedelta(microseconds=_scatter(index) % step_us) if JITTER else ZERO),
        )
        for index in range(first, first + count)
    ]


def measure_case(
    app: Flask,
    name: str,
    *,
    events: int,
    batch: int,
    rounds: int,
    log: Callable[[str], None] = lambda _: None,
) -> CaseResult:
    """Load the heavy history, then time ``rounds`` heavy and light batches, interleaved."""
    gamify = app.extensions["gamify"].extension
    processor = app.extensions["gamify"].processor
    criteria, options = CASES[name]
    gamify.drop_all()
    gamify.create_all()
    gamify.define_goal("goal", criteria=criteria, **options)
    # The history ends where the rounds begin: the window holds ``events`` events.
    step = WINDOW / events
    start = datetime.now(UTC) - WINDOW - 2 * rounds * batch * step
    history = make_events("heavy", start, step, 0, events)
    began = time.perf_counter()
    # Batches of 2,000: no batch earns more awards than a batch may give (1,000), so
    # the heavy entity is not still catching up on awards when the rounds begin.
    for first in range(0, len(history), 2_000):
        processor.process(history[first : first + 2_000])
    # The light entity: a handful of events of its own before the rounds.
    processor.process(make_events("light", start, step, events - 10, 10))
    log(f"heavy entity {name!r}: {events:,} events loaded in {time.perf_counter() - began:.1f} s")
    heavy: list[float] = []
    light: list[float] = []
    for index in range(rounds):
        first = events + index * batch
        for entity, times in (("heavy", heavy), ("light", light)):
            chunk = make_events(entity, start, step, first, batch)
            times.append(_timed(processor.process, chunk))
    sizes = _state_bytes(app)
    return CaseResult(
        name,
        statistics.median(heavy),
        statistics.median(light),
        batch,
        sizes.get("heavy", 0),
        sizes.get("light", 0),
    )


def _timed(process: Callable[[Sequence[TrackedEvent]], Any], chunk: list) -> float:
    began = time.perf_counter()
    process(chunk)
    return time.perf_counter() - began


def _state_bytes(app: Flask) -> dict[str, int]:
    with app.extensions["gamify"].transaction() as session:
        rows = session.execute(select(Progress.entity_id, Progress.state)).all()
    return {entity: len(json.dumps(state, separators=(",", ":"))) for entity, state in rows}


def run(
    url: str,
    *,
    events: int,
    batch: int,
    rounds: int,
    only: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[CaseResult]:
    """Every case (or ``only``) on the database at ``url`` (its gamify tables are dropped)."""
    app = Flask("heavy_entity")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)
    results = []
    with app.app_context():
        try:
            for name in only or CASES:
                results.append(
                    measure_case(app, name, events=events, batch=batch, rounds=rounds, log=log)
                )
        finally:
            gamify.drop_all()
            db.engine.dispose()
    return results


def render(results: Sequence[CaseResult]) -> str:
    lines = [
        f"{'case':<32} {'heavy µs/event':>14} {'light µs/event':>14} {'ratio':>6}"
        f" {'heavy state B':>13} {'light state B':>13}"
    ]
    for r in results:
        lines.append(
            f"{r.name:<32} {r.heavy_us:>14.0f} {r.light_us:>14.0f} {r.ratio:>5.2f}x"
            f" {r.heavy_bytes:>13,} {r.light_bytes:>13,}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heavy_entity")
    parser.add_argument("--quick", action="store_true", help="5,000 events, 3 rounds")
    parser.add_argument("--events", type=int, help="events of the heavy entity (100,000)")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, help="rounds of each (5; quick 3)")
    parser.add_argument("--only", action="append", choices=sorted(CASES))
    parser.add_argument(
        "--jitter", action="store_true", help="event times at pseudo-random moments in their step"
    )
    parser.add_argument("--postgres", help="a PostgreSQL database URL (default: SQLite file)")
    options = parser.parse_args()
    events = options.events or (5_000 if options.quick else 100_000)
    rounds = options.rounds or (3 if options.quick else 5)
    global JITTER
    JITTER = options.jitter
    with tempfile.TemporaryDirectory() as directory:
        url = options.postgres or f"sqlite:///{Path(directory) / 'heavy.db'}"
        spacing = "jittered" if options.jitter else "evenly spaced"
        print(f"heavy entity: {events:,} events in 30 days ({spacing}); batches of {options.batch}")
        results = run(
            url,
            events=events,
            batch=options.batch,
            rounds=rounds,
            only=options.only,
            log=lambda message: print(f"  {message}", flush=True),
        )
    print(render(results))


if __name__ == "__main__":
    main()
