"""Webhooks: deliveries/s per worker, and event throughput while a receiver hangs.

* **Deliveries/s**: outbox rows sent by :func:`~flask_gamify.webhook_delivery.deliver_due`
  (what a worker's delivery job runs: ``GAMIFY_WEBHOOK_CONCURRENCY`` threads, claimed in
  batches) to a local receiver that answers ``200`` at once, in one process. Compared
  with RQ's no-op job rate: one job per delivery could not go faster than that.
* **A hanging receiver**: worker throughput (events/s, as in :mod:`.throughput`) with
  no webhook, then with an endpoint subscribed to every event type whose receiver
  accepts connections and never answers. Events are processed by drain jobs, deliveries
  by delivery jobs on their own queue: the ratio should stay near 1.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask

from flask_gamify.models import utcnow
from flask_gamify.testing import RedisServer
from flask_gamify.webhook_delivery import deliver_due
from flask_gamify.webhooks import TEST_EVENT, record_event

from . import throughput
from .harness import Database, Options, bench_app_context, environment, prepare_database


class _Accept(BaseHTTPRequestHandler):
    """Reads the body and answers 200 at once."""

    def do_POST(self) -> None:  # the name http.server calls
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fast_receiver() -> Iterator[str]:
    """An HTTP server on loopback answering 200 at once; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hanging_receiver() -> Iterator[str]:
    """A socket that accepts connections (in the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    finally:
        sock.close()


@dataclass
class Deliveries:
    delivered: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds


def delivery_rate(database: Database, deliveries: int, budget: float) -> Deliveries:
    """Deliveries/s of one process sending ``deliveries`` outbox rows to a fast receiver."""
    database.reset()
    with fast_receiver() as url, bench_app_context(environment(database, None)) as app:
        prepare_database(app)
        state = app.extensions["gamify"]
        endpoint = state.extension.add_webhook(url, events=["*"])
        now = utcnow()
        with state.transaction() as session:
            for index in range(deliveries):
                record_event(session, TEST_EVENT, {"n": index}, now, webhook_id=endpoint.id)
        started = time.perf_counter()
        counts = deliver_due(app, state, budget=budget)
        seconds = time.perf_counter() - started
    if counts["failed"] or counts["dead"]:
        raise RuntimeError(f"deliveries failed against the local receiver: {counts}")
    return Deliveries(counts["delivered"], seconds)


@dataclass
class Hanging:
    without: throughput.Throughput
    hanging: throughput.Throughput

    @property
    def ratio(self) -> float:
        return self.hanging.rate / self.without.rate


def hanging_ratio(
    options: Options,
    server: RedisServer,
    database: Database,
    events: list[dict[str, Any]],
    budget: float,
) -> Hanging:
    """Worker throughput without webhooks, then with a receiver that never answers."""
    without = throughput.run(options, server, database, events, budget=budget)
    with hanging_receiver() as url:

        def subscribe(app: Flask) -> None:
            app.extensions["gamify"].extension.add_webhook(url, events=["*"])

        hanging = throughput.run(options, server, database, events, budget=budget, setup=subscribe)
    return Hanging(without, hanging)
