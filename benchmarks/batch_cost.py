"""Where a batch's time goes: CPU per event in this process and in PostgreSQL.

``python -m benchmarks.batch_cost [--events 8000] [--rounds 3] [--entities 2000]
[--db postgresql|sqlite] [--postgres URL]``

The workload's first ``--events`` events are processed in this process, in batches of
the default ``GAMIFY_BATCH_SIZE``, by the :class:`~flask_gamify.processing.BatchProcessor`
the workers use (no Redis: the measurement is the evaluation and the SQL, not the
transport), into a fresh database each round; rounds alternate between the real criteria
and the storage floor (``benchmarks/floor.py``: trivial states, the same rows). Each
prints the wall time per event and the CPU time per event of this process (the criteria,
the bookkeeping, the driver) and of the PostgreSQL backends serving it (read from
``/proc``, Linux). The garbage collector is tuned as a worker tunes it
(``GAMIFY_WORKER_GC_THRESHOLD``).

On a shared machine wall times vary by tens of percent between rounds; CPU times vary
less, and say which side a change helped. To compare two versions of the code, run it
in a checkout of each, in turn.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

from flask_gamify.events import TrackedEvent
from flask_gamify.extension import DEFAULTS
from flask_gamify.pipeline.worker import tune_garbage_collector

from . import floor
from .harness import (
    DEFAULT_POSTGRES,
    Database,
    Options,
    bench_app_context,
    environment,
    prepare_database,
)
from .workload import tracked_events

#: Events per batch: as many as a worker takes at once by default.
BATCH = DEFAULTS["GAMIFY_BATCH_SIZE"]


def backend_seconds(database: Database) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to ``database``."""
    if database.kind != "postgresql":
        return 0.0
    name = database.name.encode()
    ticks = 0
    for process in Path("/proc").glob("[0-9]*"):
        try:
            if name not in (process / "cmdline").read_bytes():
                continue
            fields = (process / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def one_round(database: Database, events: list[TrackedEvent], trivial: bool) -> dict[str, float]:
    """Microseconds per event: wall, this process's CPU, PostgreSQL's CPU."""
    database.reset()
    collector = gc.get_threshold()
    env = {**environment(database, None), floor.FLOOR: "1" if trivial else "0"}
    try:
        with bench_app_context(env) as app:
            prepare_database(app)
            processor = app.extensions["gamify"].processor
            processor.process(events[:10])  # loads the catalog and connects
            # The garbage collector as a worker sets it (GAMIFY_WORKER_GC_THRESHOLD).
            tune_garbage_collector(app.config.get("GAMIFY_WORKER_GC_THRESHOLD", 0))
            timed = events[10:]
            cpu, backends, wall = (
                time.process_time(),
                backend_seconds(database),
                time.perf_counter(),
            )
            for start in range(0, len(timed), BATCH):
                processor.process(timed[start : start + BATCH])
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
            backends = backend_seconds(database) - backends
    finally:
        gc.unfreeze()
        gc.set_threshold(*collector)
    scale = 1e6 / len(timed)
    return {"wall": wall * scale, "python": cpu * scale, "database": backends * scale}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    options = Options(False, 42, args.entities, args.events, 0, 0, 0, 0, 0, 0, 0, args.postgres)
    database = Database(args.db, options)
    events = tracked_events(args.events, entities=args.entities)
    results: dict[str, list[dict[str, float]]] = {"real": [], "floor": []}
    try:
        for _ in range(args.rounds):
            for kind in results:
                results[kind].append(one_round(database, events, trivial=kind == "floor"))
    finally:
        database.drop()
    print(f"{args.events:,} events, {args.db}, median of {args.rounds} rounds, µs per event:")
    print(f"{'':8}{'wall':>8}{'python':>8}{'database':>10}  events/s")
    for kind, rounds in results.items():
        median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(
            f"{kind:8}{median['wall']:8.0f}{median['python']:8.0f}{median['database']:10.0f}"
            f"  {1e6 / median['wall']:,.0f}"
        )


if __name__ == "__main__":
    main()
