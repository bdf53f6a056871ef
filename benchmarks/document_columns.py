"""What a progress row costs PostgreSQL to write with its documents as ``json`` or ``jsonb``.

``python -m benchmarks.document_columns [--events 4000] [--rounds 5] [--postgres URL]``

The 50-goal workload's first ``--events`` events are processed in this process (the
:class:`~flask_gamify.processing.BatchProcessor` the workers use, no Redis), which leaves
the progress rows a worker writes: real states and stored views. Those rows are then
written into two copies of ``gamify_progress`` (same columns, keys and indexes) that
differ only in the type of ``state`` and ``stored_view``: inserted in batches of 500 rows,
as a worker's batch inserts new rows, then updated with the same documents, as a batch
updates rows. Each batch travels as one document of that type
(``json_to_recordset``/``jsonb_to_recordset``), as the worker sends it. Rounds alternate
between the two tables; each reports the median cost per row, and ``json`` against
``jsonb`` as a ratio from the same run.

Revision 0010 made the columns ``json``: only Flask-Gamify reads them, always whole, and
``jsonb`` parses every document written into its binary form.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import sqlalchemy as sa

from flask_gamify.models import Progress

from .harness import (
    DEFAULT_POSTGRES,
    Database,
    Options,
    bench_app_context,
    environment,
    prepare_database,
)
from .workload import tracked_events

BATCH = 500
TYPES = ("jsonb", "json")
COLUMNS = "goal_id, entity_type, entity_id, state, criteria_hash, percent, stored_view"


def progress_rows(options: Options, database: Database, count: int) -> list[dict[str, Any]]:
    """The progress rows the workload's first ``count`` events leave (as written)."""
    events = tracked_events(count, entities=options.entities)
    database.reset()
    with bench_app_context(environment(database, None)) as app:
        prepare_database(app)
        gamify = app.extensions["gamify"]
        for start in range(0, len(events), BATCH):
            gamify.processor.process(events[start : start + BATCH])
        with gamify.transaction() as session:
            table = Progress.__table__
            rows = session.execute(
                sa.select(
                    table.c.goal_id,
                    table.c.entity_type,
                    table.c.entity_id,
                    table.c.state,
                    table.c.criteria_hash,
                    table.c.percent,
                    table.c.stored_view,
                )
            )
            return [dict(row._mapping) for row in rows]


def _create(connection: sa.Connection, kind: str) -> None:
    connection.execute(sa.text(f"DROP TABLE IF EXISTS bench_rows_{kind}"))
    connection.execute(
        sa.text(
            f"""
            CREATE TABLE bench_rows_{kind} (
                id serial PRIMARY KEY, goal_id integer NOT NULL,
                entity_type varchar(64) NOT NULL, entity_id varchar(255) NOT NULL,
                state {kind}, criteria_hash varchar(64) NOT NULL, percent integer NOT NULL,
                stored_view {kind}, updated_at timestamp NOT NULL,
                UNIQUE (goal_id, entity_type, entity_id))
            """
        )
    )
    connection.execute(
        sa.text(
            f"CREATE INDEX bench_rows_{kind}_entity ON bench_rows_{kind} (entity_type, entity_id)"
        )
    )


def _timed(connection: sa.Connection, sql: str, batches: list[str]) -> float:
    seconds = 0.0
    for document in batches:
        started = time.perf_counter()
        with connection.begin():
            connection.execute(sa.text(sql), {"rows": document})
        seconds += time.perf_counter() - started
    return seconds


def measure(
    engine: sa.Engine, rows: list[dict[str, Any]], rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Microseconds per row inserted and updated, per column type, every round."""
    batches = [
        json.dumps(rows[start : start + BATCH], separators=(",", ":"))
        for start in range(0, len(rows), BATCH)
    ]
    costs: dict[str, dict[str, list[float]]] = {
        kind: {"insert": [], "update": []} for kind in TYPES
    }
    record = (
        "goal_id integer, entity_type text, entity_id text, state {0},"
        " criteria_hash text, percent integer, stored_view {0}"
    )
    with engine.connect() as connection:
        connection.commit()
        for _ in range(rounds):
            for kind in TYPES:
                with connection.begin():
                    _create(connection, kind)
                inserted = _timed(
                    connection,
                    f"INSERT INTO bench_rows_{kind} ({COLUMNS}, updated_at)"
                    f" SELECT {COLUMNS}, now() FROM {kind}_to_recordset(CAST(:rows AS {kind}))"
                    f" AS r({record.format(kind)}) ON CONFLICT DO NOTHING",
                    batches,
                )
                updated = _timed(
                    connection,
                    f"UPDATE bench_rows_{kind} AS p SET state = r.state, percent = r.percent,"
                    f" stored_view = r.stored_view, updated_at = now()"
                    f" FROM {kind}_to_recordset(CAST(:rows AS {kind})) AS r({record.format(kind)})"
                    " WHERE p.goal_id = r.goal_id AND p.entity_type = r.entity_type"
                    " AND p.entity_id = r.entity_id",
                    batches,
                )
                costs[kind]["insert"].append(inserted / len(rows) * 1e6)
                costs[kind]["update"].append(updated / len(rows) * 1e6)
        with connection.begin():
            for kind in TYPES:
                connection.execute(sa.text(f"DROP TABLE bench_rows_{kind}"))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    options = Options(False, 42, args.entities, args.events, 0, 0, 0, 0, 0, 0, 0, args.postgres)
    database = Database("postgresql", options)
    try:
        rows = progress_rows(options, database, args.events)
        sizes = [
            len(json.dumps(row["state"])) + len(json.dumps(row["stored_view"])) for row in rows
        ]
        print(
            f"{len(rows):,} progress rows from {args.events:,} events,"
            f" documents {statistics.mean(sizes):.0f} bytes on average (max {max(sizes):,})"
        )
        engine = sa.create_engine(database.url)
        try:
            costs = measure(engine, rows, args.rounds)
        finally:
            engine.dispose()
    finally:
        database.drop()
    for step in ("insert", "update"):
        medians = {kind: statistics.median(costs[kind][step]) for kind in TYPES}
        print(
            f"{step}: jsonb {medians['jsonb']:.1f} µs/row, json {medians['json']:.1f} µs/row,"
            f" json / jsonb {medians['json'] / medians['jsonb']:.2f}x"
        )


if __name__ == "__main__":
    main()
