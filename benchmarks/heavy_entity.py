"""One heavy entity: events/s and stored state size as its windowed goals fill up.

``python -m benchmarks.heavy_entity [--events 37000] [--batch 500] [--postgres URL]``

One entity receives ``--events`` events, one batch of ``--batch`` at a time, through the
same :class:`~flask_gamify.processing.BatchProcessor` the workers use (no Redis: the
measurement is the evaluation and the SQL, not the transport). Its goals are windowed
``sum`` and ``count`` goals, non-repeatable, that complete within the first few hundred
events (``--in-progress`` adds a windowed ``count`` that never completes). The events
span 20 days, within the window plus the late-event allowance, so nothing is pruned by
time. The rate is printed per slice of the run: it should not fall as the entity's
history grows.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

from flask_gamify import Gamify
from flask_gamify.events import make_event
from flask_gamify.models import Goal, Progress

COMPLETED_GOALS = {
    "spender": {"type": "sum", "event": "buy", "field": "amount", "target": 1000, "window": "30d"},
    "regular": {"type": "count", "event": "buy", "target": 50, "window": "30d"},
}
#: Never completes: every timestamp of its window plus the allowance may still matter.
IN_PROGRESS_GOALS = {
    "marathon": {"type": "count", "event": "buy", "target": 1_000_000, "window": "30d"},
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heavy_entity")
    parser.add_argument("--events", type=int, default=37_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--postgres", help="a PostgreSQL database URL (default: SQLite file)")
    parser.add_argument("--in-progress", action="store_true", help="add a goal in progress")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        url = options.postgres or f"sqlite:///{Path(directory) / 'heavy.db'}"
        app = Flask("heavy_entity")
        app.config["SQLALCHEMY_DATABASE_URI"] = url
        db = SQLAlchemy(app)
        gamify = Gamify(app, db=db)
        with app.app_context():
            gamify.drop_all()
            gamify.create_all()
            goals = {**COMPLETED_GOALS, **(IN_PROGRESS_GOALS if options.in_progress else {})}
            for key, criteria in goals.items():
                gamify.define_goal(key, criteria=criteria)
            run(app, options)
            gamify.drop_all()
            db.engine.dispose()


def run(app: Flask, options: argparse.Namespace) -> None:
    processor = app.extensions["gamify"].processor
    start = datetime.now(UTC) - timedelta(days=20)
    step = timedelta(days=20) / options.events
    events = [
        make_event(
            "buy",
            "heavy",
            attributes={"amount": 5},
            event_id=f"heavy-{index}",
            occurred_at=start + index * step,
        )
        for index in range(options.events)
    ]
    batches = [events[i : i + options.batch] for i in range(0, len(events), options.batch)]
    per_slice = max(1, len(batches) // options.slices)
    print(f"{options.events} events for one entity, batches of {options.batch}")
    for first in range(0, len(batches), per_slice):
        chunk = batches[first : first + per_slice]
        began = time.perf_counter()
        for batch in chunk:
            processor.process(batch)
        seconds = time.perf_counter() - began
        count = sum(len(batch) for batch in chunk)
        done = sum(len(batch) for batch in batches[: first + len(chunk)])
        print(f"  events {done - count:>6}-{done:<6} {count / seconds:8.0f} events/s")
    state = app.extensions["gamify"]
    with state.transaction() as session:
        rows = session.execute(
            select(Goal.key, Progress.state).join(Goal, Goal.id == Progress.goal_id)
        ).all()
    for key, stored in sorted(rows):
        print(f"  state of {key:<9} {len(json.dumps(stored, separators=(',', ':'))):>9} bytes")


if __name__ == "__main__":
    main()
