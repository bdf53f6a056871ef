"""What every measurement shares: a private redis-server, a fresh database per run,
worker subprocesses, loading the streams, and the result rows of the table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from sqlalchemy import create_engine, make_url, text

from flask_gamify.pipeline.drain import ensure_groups
from flask_gamify.pipeline.streams import FIELD, GROUP, StreamKeys, shard_for

from . import app as bench_app
from .workload import GOALS, encode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Row:
    """One line of the table."""

    measurement: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_unit: str = ""
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""


@dataclass
class Options:
    quick: bool
    seed: int
    entities: int
    events: int
    sqlite_events: int
    naive_events: int
    scale_events: int
    noop_jobs: int
    requests: int
    freshness_rate: int
    freshness_seconds: float
    postgres: str | None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gamify-bench-")))


class Database:
    """A benchmark database: ``gamify_bench`` on PostgreSQL, or a SQLite file; dropped and
    recreated by :meth:`reset`."""

    def __init__(self, kind: str, options: Options) -> None:
        self.kind = kind
        if kind == "postgresql":
            assert options.postgres
            server = make_url(options.postgres)
            self.server_url = server
            # One database per run (dropped at the end): runs at the same time never clash.
            self.name = f"gamify_bench_{os.getpid()}"
            self.url = server.set(database=self.name).render_as_string(hide_password=False)
        else:
            self.path = options.workdir / "bench.db"
            self.url = f"sqlite:///{self.path}"

    def reset(self, create: bool = True) -> None:
        if self.kind == "postgresql":
            admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                if create:
                    connection.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def drop(self) -> None:
        self.reset(create=False)


def environment(
    database: Database, redis_url: str | None, batch: int | None = None
) -> dict[str, str]:
    """The bench app's environment; ``batch``: ``GAMIFY_BATCH_SIZE`` (else the default)."""
    env = {bench_app.DATABASE: database.url}
    if batch is not None:
        env[bench_app.BATCH] = str(batch)
    if redis_url:
        env[bench_app.REDIS] = redis_url
    return env


@contextmanager
def bench_app_context(env: dict[str, str]) -> Iterator[Flask]:
    """The benchmark app in this process, with ``env`` applied, inside an app context;
    the environment is restored afterwards."""
    saved = {
        key: os.environ.get(key)
        for key in (bench_app.DATABASE, bench_app.REDIS, bench_app.BATCH, bench_app.CONFIG, *env)
    }
    os.environ.pop(bench_app.REDIS, None)
    os.environ.update(env)
    try:
        app = bench_app.create_app()
        with app.app_context():
            yield app
            for engine in app.extensions["sqlalchemy"].engines.values():
                engine.dispose()
            pipeline = app.extensions["gamify"].pipeline
            if pipeline is not None:
                pipeline.client.close()
                pipeline.emitter.close()
                if pipeline._worker_client is not None:
                    pipeline._worker_client.close()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def prepare_database(app: Flask) -> None:
    """Create gamify's tables and define the 50 goals."""
    gamify = app.extensions["gamify"].extension
    gamify.create_all()
    gamify.define_goals(GOALS)


def streams(app: Flask) -> list[str]:
    pipeline = app.extensions["gamify"].pipeline
    return list(pipeline.keys.streams())


def stage_events(client: redis.Redis, keys: StreamKeys, events: list[dict[str, Any]]) -> list[str]:
    """XADD ``events`` to staging copies of the shard streams (big pipelines), each with
    the consumer group; :func:`release` renames them into place atomically."""
    staging = [f"bench:staging:{shard}" for shard in range(keys.shards)]
    client.delete(*staging)
    pipe = client.pipeline(transaction=False)
    for index, event in enumerate(events):
        shard = shard_for(event["entity_type"], event["entity"], keys.shards)
        pipe.xadd(staging[shard], {FIELD: encode(event)})
        if index % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    ensure_groups(client, staging)
    return staging


def release(client: redis.Redis, keys: StreamKeys, staging: list[str]) -> None:
    """Move the staged streams (with their consumer group) into place, in one MULTI."""
    pipe = client.pipeline(transaction=True)
    for shard, name in enumerate(staging):
        if client.exists(name):
            pipe.rename(name, keys.stream(shard))
    pipe.execute()


def backlog(client: redis.Redis, keys: StreamKeys) -> int:
    """Entries not yet acknowledged and deleted (the drain deletes after commit)."""
    pipe = client.pipeline(transaction=False)
    for stream in keys.streams():
        pipe.xlen(stream)
    return sum(int(n) for n in pipe.execute())


def pending(client: redis.Redis, keys: StreamKeys) -> int:
    total = 0
    for stream in keys.streams():
        with suppress(redis.ResponseError):
            total += int(client.xpending(stream, GROUP)["pending"])
    return total


class Worker:
    """A ``flask --app benchmarks.app gamify worker`` subprocess."""

    def __init__(
        self, env: dict[str, str], log: Path, *extra: str, prefix: list[str] | None = None
    ) -> None:
        self.log_path = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *(prefix or [sys.executable]),
                    "-m",
                    "flask",
                    "--app",
                    "benchmarks.app",
                    "gamify",
                    "worker",
                    "--logging-level",
                    "WARNING",
                    *extra,
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        """Resident set size, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def wait_for_workers(client: redis.Redis, count: int, workers: list[Worker]) -> None:
    def ready() -> bool:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{worker.log()[-3000:]}")
        return int(client.scard("rq:workers")) >= count

    def idle() -> bool:
        # Defining the goals queued their backfills (there is no history: each finds
        # nothing to do); they run before the measured events, not during them.
        queues = [key for key in client.scan_iter("rq:queue:*") if client.type(key) == b"list"]
        states = [client.hget(key, "state") for key in client.smembers("rq:workers")]
        return sum(int(client.llen(key)) for key in queues) == 0 and b"busy" not in states

    wait_for(ready, 60, f"{count} worker(s) to register")
    wait_for(idle, 120, "the workers to run the goals' backfills")
    time.sleep(0.3)  # past their first look at the (empty) streams


@dataclass
class Drained:
    events: int
    seconds: float
    first_batch: int

    @property
    def rate(self) -> float:
        return (self.events - self.first_batch) / self.seconds if self.seconds else 0.0


def time_drain(
    client: redis.Redis,
    keys: StreamKeys,
    total: int,
    workers: list[Worker],
    *,
    budget: float | None,
    timeout: float = 900,
) -> Drained:
    """Seconds from the first acknowledged batch until the streams are empty, or until
    ``budget`` seconds have passed since that batch: worker start-up and the wake-up are
    excluded; the first batch's events are not counted in the rate."""
    first_at: float | None = None
    first_batch = 0
    deadline = time.monotonic() + timeout
    while True:
        left = backlog(client, keys)
        now = time.perf_counter()
        if first_at is None and left < total:
            first_at, first_batch = now, total - left
        if left == 0 or (first_at is not None and budget and now - first_at >= budget):
            break
        for worker in workers:
            if worker.process.poll() is not None and worker.process.returncode != 0:
                raise RuntimeError(f"worker failed:\n{worker.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers did not drain {total} events in {timeout:.0f} s")
        time.sleep(0.02)
    assert first_at is not None
    return Drained(total - left, max(now - first_at, 1e-9), first_batch)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wsgi_caller(
    app: Flask,
    path: str,
    headers: dict[str, str] | None = None,
    query_string: dict[str, Any] | None = None,
) -> Callable[[], None]:
    """A function making one direct WSGI call of ``GET path`` (no HTTP server): the body
    iterated and closed, so that ``teardown_request`` runs as in a server; a status other
    than 200 fails the measurement."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path=path, headers=headers or {}, query_string=query_string
    ).get_environ()

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
        assert status.startswith("200"), (path, status)

    def call() -> None:
        body = app.wsgi_app(dict(environ), start_response)
        for _chunk in body:
            pass
        if hasattr(body, "close"):
            body.close()

    return call
