"""``python -m benchmarks``: run the measurements and print one table.

Targets are reported, not asserted: the exit status is 0 whether they are met or not
(non-zero only when the suite itself fails). ``--quick`` runs tiny sizes in seconds
(CI checks that the suite runs; its timings mean nothing).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from flask_gamify.testing import RedisServer

from . import (
    baselines,
    emit,
    floor,
    freshness,
    growth,
    heavy_entity,
    leaderboard,
    ledger,
    memory,
    naive,
    query,
    throughput,
    webhooks,
)
from . import preview as preview_bench
from .harness import (
    DEFAULT_POSTGRES,
    Database,
    Options,
    Row,
    bench_app_context,
    environment,
    prepare_database,
)
from .table import render, render_rst
from .workload import GOALS, as_tracked, describe, make_events

MEASUREMENTS = [
    "emit",
    "throughput",
    "scale",
    "naive",
    "query",
    "freshness",
    "memory",
    "preview",
    "webhooks",
    "leaderboard",
    "ledger",
    "floor",
    "growth",
    "heavy",
]
HERE = Path(__file__).resolve().parent

FULL = {
    "entities": 10_000,
    "events": 200_000,
    "sqlite_events": 20_000,
    "naive_events": 1_000,
    "noop_jobs": 2_000,
    "requests": 5_000,
    "query_requests": 1_000,
    "query_heavy_events": 6_000,
    "budget": 60.0,
    "sqlite_budget": 40.0,
    "freshness_rate": 1_000,
    "freshness_seconds": 15.0,
    "freshness_wait": 20.0,
    "memory_events": 4_000,
    "preview_events": 1_000_000,
    "webhook_deliveries": 5_000,
    "webhook_events": 20_000,
    "board_entities": 10_000,
    "board_large": 1_000_000,
    "board_requests": 2_000,
    "ledger_events": 20_000,
    "floor_events": 20_000,
    "floor_rounds": 3,
    "growth_events": 2_000,
    "growth_goals": 1_000,
    "growth_entities": 1_000_000,
    "growth_rounds": 3,
    "heavy_events": 100_000,
    "heavy_batch": 200,
}
QUICK = {
    "entities": 500,
    "events": 3_000,
    "sqlite_events": 600,
    "naive_events": 100,
    "noop_jobs": 200,
    "requests": 400,
    "query_requests": 100,
    "query_heavy_events": 600,
    "budget": 3.0,
    "sqlite_budget": 3.0,
    "freshness_rate": 200,
    "freshness_seconds": 2.0,
    "freshness_wait": 5.0,
    "memory_events": 400,
    "preview_events": 5_000,
    "webhook_deliveries": 300,
    "webhook_events": 600,
    "board_entities": 1_000,
    "board_large": 0,
    "board_requests": 200,
    "ledger_events": 600,
    "floor_events": 600,
    "floor_rounds": 1,
    "growth_events": 300,
    "growth_goals": 30,
    "growth_entities": 10_000,
    "growth_rounds": 1,
    "heavy_events": 1_000,
    "heavy_batch": 50,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes; checks the suite runs")
    parser.add_argument(
        "--only",
        action="append",
        choices=[*MEASUREMENTS, "profile"],
        help="run only this measurement (repeatable); 'profile' writes benchmarks/PROFILE.md",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("GAMIFY_BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="PostgreSQL server URL; the suite creates and drops its own gamify_bench database",
    )
    for key, value in FULL.items():
        parser.add_argument(
            f"--{key.replace('_', '-')}",
            type=type(value),
            default=None,
            help=f"(default {value:,}; quick {QUICK[key]:,})",
        )
    parser.add_argument("--rst", action="store_true", help="also print the table as RST")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def postgres_available(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPU(s) {cpu}; Python {platform.python_version()};"
        f" {platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    selected = args.only or MEASUREMENTS
    has_pg = postgres_available(args.postgres)
    options = Options(
        quick=args.quick,
        seed=args.seed,
        entities=args.entities,
        events=args.events,
        sqlite_events=args.sqlite_events,
        naive_events=args.naive_events,
        scale_events=args.events,
        noop_jobs=args.noop_jobs,
        requests=args.requests,
        freshness_rate=args.freshness_rate,
        freshness_seconds=args.freshness_seconds,
        postgres=args.postgres if has_pg else None,
    )
    print(f"Flask-Gamify benchmarks{' (quick mode: timings mean nothing)' if args.quick else ''}")
    print(f"machine: {machine()}")
    print(f"seed {args.seed}; work dir {options.workdir}", flush=True)
    server = RedisServer(options.workdir)
    server.start()
    info = server.client().info("server")
    print(f"redis {info['redis_version']}; PostgreSQL: {'yes' if has_pg else 'no (skipped)'}")
    rows: list[Row] = []
    try:
        run(args, options, server, selected, has_pg, rows)
    finally:
        server.stop()
        if has_pg:
            Database("postgresql", options).drop()
        shutil.rmtree(options.workdir, ignore_errors=True)
    print()
    print(render(rows))
    if args.rst:
        print()
        print(render_rst(rows))
    print(f"\ntotal run time: {time.perf_counter() - started:.0f} s")
    return 0


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(
    args: argparse.Namespace,
    options: Options,
    server: RedisServer,
    selected: list[str],
    has_pg: bool,
    rows: list[Row],
) -> None:
    pg = Database("postgresql", options) if has_pg else None
    sqlite = Database("sqlite", options)
    main_db = pg or sqlite
    events = make_events(args.events, entities=args.entities, seed=args.seed)
    log(f"workload: {len(GOALS)} goals; {describe(events)}")
    subset = events[:: max(1, len(events) // args.sqlite_events)][: args.sqlite_events]

    if "profile" in selected:
        profile(args, options, server, main_db, subset)
        return

    log("baselines: PING, RQ no-op jobs (SimpleWorker, GamifyWorker)")
    ping = baselines.ping_seconds(server.client(), 2000)
    simple_rate = baselines.noop_rate(server.client(), args.noop_jobs)
    sqlite.reset()
    with bench_app_context(environment(sqlite, server.url)) as app:
        prepare_database(app)
        from flask_gamify.pipeline.worker import GamifyWorker

        state = app.extensions["gamify"]

        def gamify_worker(queues: list[Any]) -> GamifyWorker:
            return GamifyWorker(queues, connection=state.pipeline.worker_client, gamify_state=state)

        gamify_rate = baselines.noop_rate(
            state.pipeline.worker_client, args.noop_jobs, gamify_worker
        )
    rows.append(Row("redis-py round trip (PING), median", ping, "µs"))
    rows.append(
        Row(
            "RQ no-op jobs, SimpleWorker, 1 process",
            simple_rate,
            "jobs/s",
            note=f"{args.noop_jobs} jobs",
        )
    )
    rows.append(
        Row(
            "RQ no-op jobs, GamifyWorker class, 1 process",
            gamify_rate,
            "jobs/s",
            note=f"{args.noop_jobs} jobs",
        )
    )

    if "emit" in selected:
        log(f"emit overhead: {args.requests} requests per view")
        sqlite.reset()
        with bench_app_context(environment(sqlite, server.url)) as app:
            prepare_database(app)
            result = emit.run(app, args.requests)
        ratio = result.added / result.ping
        rows.append(
            Row(
                "emit: tracked - untracked view latency, median",
                result.added,
                "µs",
                result.ping,
                "µs",
                ratio,
                "<= 1.5 PING",
                ratio <= 1.5,
                note=(
                    f"{result.tracked * 1e6:.0f} vs {result.untracked * 1e6:.0f} µs; PING at"
                    f" a request's end, {result.ping_loop * 1e6:.0f} µs in a loop"
                ),
            )
        )
        rows.append(
            Row(
                "emit: Redis round trips per tracked request",
                result.round_trips,
                "",
                target="== 1",
                passed=result.round_trips == 1,
            )
        )
        rows.append(
            Row(
                "emit: Redis commands per tracked request",
                result.commands,
                "",
                note="INFO commandstats",
            )
        )
        rows.append(
            Row(
                "emit: SQL queries per tracked request",
                result.queries,
                "",
                target="== 0",
                passed=result.queries == 0,
            )
        )

    naive_rate = None
    if "throughput" in selected or "scale" in selected:
        if "throughput" in selected:
            log(f"worker throughput, SQLite: {len(subset)} events, <= {args.sqlite_budget:.0f} s")
            result = throughput.run(options, server, sqlite, subset, budget=args.sqlite_budget)
            rows.extend(throughput_rows("SQLite", result, gamify_rate, None, len(subset)))
        if pg is not None:
            log(
                f"worker throughput, PostgreSQL, 1 worker: {len(events)} staged,"
                f" <= {args.budget:.0f} s"
            )
            one = throughput.run(options, server, pg, events, budget=args.budget)
            if "naive" in selected:
                naive_rate = run_naive(args, server, pg, events)
                rows.append(
                    Row(
                        "naive baseline: 1 RQ job per event, ORM, PostgreSQL",
                        naive_rate,
                        "events/s",
                        note=f"{args.naive_events} events",
                    )
                )
            rows.extend(throughput_rows("PostgreSQL", one, gamify_rate, naive_rate, len(events)))
            if "scale" in selected:
                log(
                    f"scale-out, PostgreSQL, 2 workers: {len(events)} staged,"
                    f" <= {args.budget:.0f} s"
                )
                two = throughput.run(options, server, pg, events, workers=2, budget=args.budget)
                ratio = two.rate / one.rate
                rows.append(
                    Row(
                        "scale-out: 2 workers vs 1, PostgreSQL",
                        two.rate,
                        "events/s",
                        one.rate,
                        "events/s",
                        ratio,
                        ">= 1.7x",
                        ratio >= 1.7,
                        note=f"{two.events} events in {two.seconds:.0f} s",
                    )
                )
        else:
            rows.append(
                Row(
                    "worker throughput / scale-out, PostgreSQL",
                    None,
                    "",
                    note="skipped: no PostgreSQL",
                )
            )
    if "naive" in selected and naive_rate is None and pg is None:
        naive_rate = run_naive(args, server, sqlite, events)
        rows.append(
            Row(
                "naive baseline: 1 RQ job per event, ORM, SQLite",
                naive_rate,
                "events/s",
                note=f"{args.naive_events} events",
            )
        )
    if "query" in selected:
        rows.extend(run_query(args, server, pg or sqlite, subset))

    if "preview" in selected:
        rows.extend(run_preview(args, pg or sqlite))

    if "leaderboard" in selected:
        rows.extend(run_leaderboard(args, server, main_db))

    if "freshness" in selected:
        log(
            f"freshness: {args.freshness_rate} events/s for {args.freshness_seconds:.0f} s,"
            f" {main_db.kind}, 1 worker"
        )
        result = freshness.run(
            options,
            server,
            main_db,
            events,
            rate=args.freshness_rate,
            seconds=args.freshness_seconds,
            wait=args.freshness_wait,
        )
        note = (
            f"{main_db.kind}, {result.achieved_rate:.0f} ev/s sent, {result.seen}/"
            f"{result.probes} probes seen, backlog {result.backlog_at_end}"
        )
        p50_bound = ">" if result.p50 >= result.cap else ""
        p95_bound = ">" if result.p95 >= result.cap else ""
        rows.append(
            Row(f"freshness: event to award visible, p50{p50_bound}", result.p50, "s", note=note)
        )
        rows.append(
            Row(
                f"freshness: event to award visible, p95{p95_bound}",
                result.p95,
                "s",
                target="< 1 s",
                passed=result.p95 < 1 and not result.censored,
            )
        )

    if "memory" in selected:
        log(f"memory: {args.memory_events} events in 4 rounds, SQLite, 1 worker")
        result = memory.run(options, server, sqlite, subset[: args.memory_events] or events)
        rss = result.rss_after_kib / max(result.rss_before_kib, 1)
        rows.append(
            Row(
                "memory: worker RSS, end vs after round 1",
                result.rss_after_kib * 1024,
                "MiB",
                result.rss_before_kib * 1024,
                "MiB",
                rss,
                "<= 1.5x",
                rss <= 1.5,
                note=f"{result.events} events",
            )
        )
        red = result.redis_after / max(result.redis_before, 1)
        rows.append(
            Row(
                "memory: Redis used_memory, end vs after round 1",
                result.redis_after,
                "MiB",
                result.redis_before,
                "MiB",
                red,
                "<= 1.25x",
                red <= 1.25,
            )
        )

    if "floor" in selected:
        # Quick mode checks that it runs: on one database.
        for database in [main_db] if args.quick else [db for db in (pg, sqlite) if db]:
            rows.extend(run_floor(args, options, server, database, events, gamify_rate))

    if "growth" in selected:
        rows.extend(run_growth(args, main_db, events))

    if "webhooks" in selected:
        rows.extend(run_webhooks(args, options, server, main_db, simple_rate, events))

    if "ledger" in selected:
        subset = events[: args.ledger_events]
        log(f"ledger: {len(subset)} events, goals worth 0 points vs as defined, {main_db.kind}")
        result = ledger.cost(options, server, main_db, subset, budget=args.budget)
        rows.append(
            Row(
                f"ledger: worker throughput with the points ledger vs without, {main_db.kind}",
                result.with_ledger.rate,
                "events/s",
                result.without.rate,
                "events/s",
                result.ratio,
                ">= 0.9x",
                result.ratio >= 0.9,
                note=(
                    f"{result.with_ledger.events} events;"
                    f" best of {result.rounds} interleaved rounds each"
                ),
            )
        )

    if "heavy" in selected:
        rows.extend(run_heavy(args, main_db))


def run_heavy(args: argparse.Namespace, database: Database) -> list[Row]:
    log(
        f"heavy entity: {args.heavy_events:,} events in 30 days vs a light entity,"
        f" {len(heavy_entity.CASES)} criterion types, {database.kind}"
    )
    database.reset()
    results = heavy_entity.run(
        database.url,
        events=args.heavy_events,
        batch=args.heavy_batch,
        rounds=3 if args.quick else 5,
        log=log,
    )
    return [
        Row(
            f"heavy entity: {result.name}, cost per event vs a light entity",
            result.heavy_us,
            "µs/event",
            result.light_us,
            "µs/event",
            result.ratio,
            "<= 2x",
            result.ratio <= 2,
            note=(
                f"state {result.heavy_bytes:,} B (light {result.light_bytes:,} B);"
                f" batches of {result.batch}; {database.kind}"
            ),
        )
        for result in results
    ]


def run_floor(
    args: argparse.Namespace,
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    noop_rate: float,
) -> list[Row]:
    if database.kind == "sqlite":
        step = max(1, len(events) // args.floor_events)
        subset, budget = events[::step][: args.floor_events], args.sqlite_budget
    else:
        subset, budget = events[: args.floor_events], args.budget
    log(
        f"floor: {len(subset)} events, trivial states vs the real worker, {database.kind},"
        f" {args.floor_rounds} interleaved round(s) each"
    )
    result = floor.measure(
        options, server, database, subset, budget=budget, rounds=args.floor_rounds
    )
    noise = (
        f"best of {args.floor_rounds}; spread {floor.Floor.spread(result.real_rates):.0%}"
        f" real, {floor.Floor.spread(result.floor_rates):.0%} floor"
    )
    return [
        Row(
            f"floor: storage floor (trivial states) vs RQ no-op (GamifyWorker), {database.kind}",
            result.floor.rate,
            "events/s",
            noop_rate,
            "jobs/s",
            result.floor.rate / noop_rate,
            note=f"{result.floor.events} events",
        ),
        Row(
            f"floor: worker throughput vs RQ no-op (GamifyWorker), {database.kind}",
            result.real.rate,
            "events/s",
            noop_rate,
            "jobs/s",
            result.real.rate / noop_rate,
            ">= 40x",
            result.real.rate / noop_rate >= 40,
            note=f"{result.real.events} events",
        ),
        Row(
            f"floor: worker throughput vs the storage floor, {database.kind}",
            result.real.rate,
            "events/s",
            result.floor.rate,
            "events/s",
            result.ratio,
            ">= 0.8x",
            result.ratio >= 0.8,
            note=noise,
        ),
    ]


def _sizes(start: int, largest: int) -> list[int]:
    """``start``, ten times that, ... up to ``largest`` (always included)."""
    sizes = [start]
    while sizes[-1] * 10 < largest:
        sizes.append(sizes[-1] * 10)
    return [*sizes, largest] if largest > start else sizes


def _flat_rows(
    steps: list[growth.Step],
    name: Callable[[growth.Step, growth.Step], str],
    value: Callable[[growth.Step], float],
    unit: str,
    note: Callable[[growth.Step], str],
) -> list[Row]:
    """A growth sweep's rows: each step against the first (smallest) one, target flat.

    :param name: the measurement's name, from the step and the first step.
    """
    first = steps[0]
    return [
        Row(
            name(step, first),
            value(step),
            unit,
            value(first),
            unit,
            value(step) / value(first),
            "flat",
            note=note(step),
        )
        for step in steps
    ]


def _read_p50(step: growth.Step) -> float:
    assert step.read_p50 is not None
    return step.read_p50


def run_growth(
    args: argparse.Namespace, database: Database, events: list[dict[str, Any]]
) -> list[Row]:
    subset = events[: args.growth_events]
    goal_sizes = _sizes(10, args.growth_goals)
    log(f"growth: {len(subset)} events into {goal_sizes} goals, {database.kind}")
    steps = growth.goal_sweep(database, subset, goal_sizes)
    rows = _flat_rows(
        steps,
        lambda step, first: (
            f"growth: time per (event, goal) evaluation, {step.size:,} goals vs"
            f" {first.size}, {database.kind}"
        ),
        lambda step: step.per_unit,
        "µs",
        lambda step: f"{step.units:,} evaluations in {step.seconds:.1f} s",
    )
    rows += _flat_rows(
        steps,
        lambda step, first: (
            f"growth: GET .../progress?limit={growth.PAGE} p50, {step.size:,}"
            f" goals vs {first.size}, {database.kind}"
        ),
        _read_p50,
        "ms",
        lambda step: "REST API, most active entity",
    )
    entity_sizes = _sizes(1_000, args.growth_entities)
    log(
        f"growth: {len(subset)} events with {entity_sizes} entities' progress, {database.kind},"
        f" {args.growth_rounds} interleaved round(s)"
    )
    steps = growth.entity_sweep(database, subset, entity_sizes, rounds=args.growth_rounds)
    rows += _flat_rows(
        steps,
        lambda step, first: (
            f"growth: time per event, {step.size:,} entities with progress vs"
            f" {first.size:,}, {database.kind}"
        ),
        lambda step: step.per_unit,
        "µs",
        lambda step: (
            f"{step.units:,} events in {step.seconds:.1f} s, median of {args.growth_rounds};"
            " 50 goals"
        ),
    )
    return rows


def run_webhooks(
    args: argparse.Namespace,
    options: Options,
    server: RedisServer,
    database: Database,
    noop_rate: float,
    events: list[dict[str, Any]],
) -> list[Row]:
    log(f"webhooks: {args.webhook_deliveries} deliveries to a local receiver, {database.kind}")
    sent = webhooks.delivery_rate(database, args.webhook_deliveries, budget=args.budget)
    subset = events[: args.webhook_events]
    log(f"webhooks: {len(subset)} events without webhooks, then with a hanging receiver")
    hanging = webhooks.hanging_ratio(options, server, database, subset, budget=args.budget)
    return [
        Row(
            f"webhooks: deliveries/s, 1 process, {database.kind}",
            sent.rate,
            "deliveries/s",
            noop_rate,
            "jobs/s",
            sent.rate / noop_rate,
            note=f"{sent.delivered} to a receiver answering 200 at once; vs RQ no-op jobs",
        ),
        Row(
            f"webhooks: worker throughput, a receiver hanging vs none, {database.kind}",
            hanging.hanging.rate,
            "events/s",
            hanging.without.rate,
            "events/s",
            hanging.ratio,
            ">= 0.8x",
            hanging.ratio >= 0.8,
            note=f"{hanging.hanging.events} events; 1 worker, drains and deliveries",
        ),
    ]


def throughput_rows(
    name: str, result: throughput.Throughput, noop: float, naive_rate: float | None, staged: int
) -> list[Row]:
    note = f"{result.events} of {staged} events in {result.seconds:.0f} s"
    rows = [
        Row(
            f"worker throughput, {name}, 1 worker vs RQ no-op (GamifyWorker)",
            result.rate,
            "events/s",
            noop,
            "jobs/s",
            result.rate / noop,
            ">= 40x",
            result.rate / noop >= 40,
            note=note,
        )
    ]
    if naive_rate:
        ratio = result.rate / naive_rate
        rows.append(
            Row(
                f"worker throughput, {name}, 1 worker vs naive baseline",
                result.rate,
                "events/s",
                naive_rate,
                "events/s",
                ratio,
                ">= 20x",
                ratio >= 20,
            )
        )
    return rows


def run_naive(
    args: argparse.Namespace, server: RedisServer, database: Database, events: list[dict[str, Any]]
) -> float:
    log(f"naive baseline: {args.naive_events} events, one RQ job each, {database.kind}")
    database.reset()
    return naive.run(database.url, server.client(), events[: args.naive_events])


def run_preview(args: argparse.Namespace, database: Database) -> list[Row]:
    log(f"preview: {args.preview_events} comments (and as many logins), {database.kind}")
    database.reset()
    found = []
    with bench_app_context(environment(database, None)) as app:
        app.extensions["gamify"].extension.create_all()
        preview_bench.load(app, args.preview_events, entities=args.entities, seed=args.seed)
        for kind in ("count", "distinct"):
            result = preview_bench.run(app, kind)
            ratio = result.preview_rate / result.bare_rate
            found.append(
                Row(
                    f"preview of a {kind} goal vs bare SELECT of the rows, {database.kind}",
                    result.preview_rate,
                    "events/s",
                    result.bare_rate,
                    "rows/s",
                    ratio,
                    ">= 0.3x",
                    ratio >= 0.3,
                    note=f"{result.events} events, {result.entities} entities progressed",
                )
            )
    return found


def _board_rows(result: leaderboard.Boards, where: str) -> list[Row]:
    rows = []
    size = f"{result.entities:,} entities"
    for what, latency, bare in (
        ("top 10", result.top, "ZREVRANGE 0 9"),
        ("rank of an entity (+5 around)", result.rank, "ZREVRANK"),
    ):
        rows.append(
            Row(
                f"leaderboard {what}, Redis, {size}, p50 vs bare {bare}",
                latency.p50,
                "µs",
                latency.bare_p50,
                "µs",
                latency.p50 / latency.bare_p50,
                note=where,
            )
        )
        rows.append(
            Row(
                f"leaderboard {what}, Redis, {size}, p99 vs bare {bare}",
                latency.p99,
                "µs",
                latency.bare_p99,
                "µs",
                latency.p99 / latency.bare_p99,
                "< 5 ms",
                latency.p99 < 0.005,
            )
        )
    for what, sql, redis_latency in (
        ("top 10", result.sql_top, result.top),
        ("rank of an entity (+5 around)", result.sql_rank, result.rank),
    ):
        if sql is not None:
            rows.append(
                Row(
                    f"leaderboard {what}, SQL, {size}, p50 vs the Redis path",
                    sql.p50,
                    "ms",
                    redis_latency.p50,
                    "µs",
                    sql.p50 / redis_latency.p50,
                    note=f"{where}; p99 {sql.p99 * 1e3:.1f} ms",
                )
            )
    return rows


def run_leaderboard(args: argparse.Namespace, server: RedisServer, database: Database) -> list[Row]:
    rows: list[Row] = []
    database.reset()
    with bench_app_context(environment(database, server.url)) as app:
        app.extensions["gamify"].extension.create_all()
        log(f"leaderboard: {args.board_entities:,} entities, {database.kind} and Redis")
        result = leaderboard.run(
            app,
            entities=args.board_entities,
            requests=args.board_requests,
            seed=args.seed,
            redis_only=False,
        )
        rows.append(
            Row(
                f"leaderboards rebuild from SQL, {result.entities:,} entities (all time)",
                result.fill_seconds,
                "s",
                note=database.kind,
            )
        )
        rows.extend(_board_rows(result, database.kind))
        if args.board_large:
            log(f"leaderboard: {args.board_large:,} entities, Redis only")
            large = leaderboard.run(
                app,
                entities=args.board_large,
                requests=args.board_requests,
                seed=args.seed,
                redis_only=True,
            )
            rows.append(
                Row(
                    f"leaderboard bulk fill of Redis, {large.entities:,} members",
                    large.fill_seconds,
                    "s",
                    note="ZADD+HSET in chunks of 10,000, RENAME",
                )
            )
            rows.extend(_board_rows(large, "Redis only"))
    return rows


def run_query(
    args: argparse.Namespace,
    server: RedisServer,
    database: Database,
    populate: list[dict[str, Any]],
) -> list[Row]:
    """Read latencies on a database of its own: the same ``populate`` events (the SQLite
    throughput run's subset) on either database, so that the light entity's history does
    not depend on how much of the backlog a throughput run drained."""
    log(
        f"query latency: {len(populate)} events, then {args.query_requests} requests per"
        f" view, light and heavy entity ({args.query_heavy_events} events), {database.kind}"
    )
    database.reset()
    with bench_app_context(environment(database, None)) as app:
        prepare_database(app)
        tracked = as_tracked(populate)
        for start in range(0, len(tracked), 500):
            app.extensions["gamify"].processor.process(tracked[start : start + 500])
        query.add_heavy_entity(app, args.query_heavy_events)
        results = [
            ("light", query.run(app, "u0", args.query_requests)),
            ("heavy", query.run(app, query.HEAVY, args.query_requests)),
        ]
    rows = []
    for kind, result in results:
        note = (
            f"{database.kind}, {kind} entity, {result.goals} goals,"
            f" {result.state_bytes / 1024:,.0f} KiB of states"
        )
        for name, p50, p99 in (
            ("gamify.progress() view", result.python_p50, result.python_p99),
            ("REST /entities/.../progress", result.rest_p50, result.rest_p99),
        ):
            ratio = p50 / result.floor_p50
            rows.append(
                Row(
                    f"query: {name} p50 vs floor (rows as JSON)",
                    p50,
                    "ms",
                    result.floor_p50,
                    "ms",
                    ratio,
                    "<= 2x",
                    ratio <= 2,
                    note=note,
                )
            )
            rows.append(
                Row(
                    f"query: {name} p99 vs floor",
                    p99,
                    "ms",
                    result.floor_p99,
                    "ms",
                    p99 / result.floor_p99,
                    note=f"{database.kind}, {kind} entity",
                )
            )
    return rows


def profile(
    args: argparse.Namespace,
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
) -> None:
    """Run one burst worker under cProfile; write the top functions to PROFILE.md."""
    import io
    import pstats

    events = events[: min(len(events), 5000)]
    output = options.workdir / "worker.prof"
    log(f"profile: one burst worker under cProfile, {len(events)} events, {database.kind}")
    result = throughput.run(options, server, database, events, profile=output)
    stream = io.StringIO()
    stats = pstats.Stats(str(output), stream=stream)
    stats.sort_stats("cumulative").print_stats(r"flask_gamify|sqlalchemy|psycopg|sqlite3", 30)
    lines = [
        line.replace(str(HERE.parent) + "/", "").replace(sys.prefix + "/", "")
        for line in stream.getvalue().splitlines()
        if line.strip() and not line.startswith(("   Ordered", "   List reduced"))
    ]
    (HERE / "PROFILE.md").write_text(
        "# Worker profile\n\n"
        f"`python -m benchmarks --only profile`: one `flask --app benchmarks.app gamify worker"
        f" --burst` under cProfile draining {len(events)} workload events on {database.kind}"
        f" ({result.rate:.0f} events/s under the profiler). Machine: {machine()}.\n"
        "Top 30 functions by cumulative time (flask_gamify, SQLAlchemy and driver frames):\n\n"
        "```\n" + "\n".join(lines) + "\n```\n"
    )
    log(f"wrote {HERE / 'PROFILE.md'}")


if __name__ == "__main__":
    sys.exit(main())
