"""Helpers for a host application's own tests.

* :class:`RedisServer` runs a private ``redis-server`` on a free port, which a test may
  stop and restart (a Redis outage), for apps that set ``GAMIFY_REDIS_URL``.
* :func:`process_pending` processes the events waiting in Redis at once, in the test's
  process, with the code the workers run: a test calls a view, then asserts its award,
  without starting a worker.
* A pytest plugin with the ``gamify_redis`` fixture. It is opt-in; in the test suite's
  top-level ``conftest.py``:

  .. code-block:: python

      pytest_plugins = ["flask_gamify.testing"]

pytest is needed only by the plugin: this module imports without it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import redis
from flask import Flask, current_app

from .errors import GamifyError
from .failures import describe_error
from .pipeline import drain, outages, worker
from .state import get_state

__all__ = ["RedisServer", "process_pending"]

#: How long :meth:`RedisServer.start` waits for the server to answer (s).
START_TIMEOUT = 10.0


class RedisServer:
    """A private ``redis-server`` on a free port of ``127.0.0.1``.

    The port is chosen once, so :attr:`url` stays valid across :meth:`stop` and
    :meth:`start`. Used as a context manager, the server is started on entry and stopped
    on exit:

    .. code-block:: python

        with RedisServer() as server:
            app.config["GAMIFY_REDIS_URL"] = server.url

    :param directory: the server's working directory (its append-only log when
        ``durable``). Without one, a temporary directory is used, removed when the
        ``with`` block ends.
    :param durable: append every write to a log synced to disk, so that a restart loses
        nothing. Otherwise nothing is saved, and a restart starts empty (as a Redis
        without persistence that crashed).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, durable: bool = False):
        self._owns_directory = directory is None
        #: The server's working directory.
        self.directory = Path(
            tempfile.mkdtemp(prefix="gamify-redis-") if directory is None else directory
        )
        #: Whether writes are appended to an fsynced log that survives a restart.
        self.durable = durable
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            #: The TCP port, the same for the server's whole life.
            self.port: int = probe.getsockname()[1]
        #: ``redis://127.0.0.1:PORT/0``, for ``GAMIFY_REDIS_URL``.
        self.url = f"redis://127.0.0.1:{self.port}/0"
        #: The ``redis-server`` process while it runs, else ``None``.
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers.

        :raise GamifyError: ``redis-server`` is not installed, or did not start.
        """
        if self.running:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise GamifyError(
                "redis-server is not installed (or not on PATH); install Redis, for"
                " example with 'apt-get install redis-server'."
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.durable else "no",
                "--appendfsync",
                "always",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        with self.client() as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError as error:
                    if self.process.poll() is not None:
                        self.process = None
                        raise GamifyError(
                            f"redis-server exited at start (port {self.port}); run it by hand"
                            " to see why."
                        ) from error
                    if time.monotonic() > deadline:
                        self.stop()
                        raise GamifyError(
                            f"redis-server did not answer on port {self.port} within"
                            f" {START_TIMEOUT:g} s."
                        ) from error
                    time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (a clean shutdown); does nothing if it is not running."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port; data survives only when ``durable``."""
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        """A new client of the server (close it, or use it in a ``with`` block)."""
        return redis.Redis(port=self.port)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def process_pending(app: Flask | None = None) -> int:
    """Process every event waiting in Redis now, in this process; return how many.

    It runs what a worker runs: events kept in the outbox table (while Redis was
    unreachable) are relayed to Redis, then every shard is drained by the drain job's
    code, with the same batches, retries and dead letters. In inline mode (no
    ``GAMIFY_REDIS_URL``) events are processed when tracked, and this returns ``0``.

    Signals (``goal_completed``...) are sent as a worker sends them, in this process.

    :param app: the application; the current one if not given.
    :raise GamifyError: Redis or the database was unavailable; the events stay pending.
    """
    if app is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context():
        state = get_state()
        pipeline = state.pipeline
        if pipeline is None:
            return 0
        # A worker's outage bookkeeping is per process: keep the test's apart from any
        # other, and read it afterwards.
        saved, outages.current = outages.current, outages.Outages()
        try:
            try:
                while worker.relay_outbox(state, pipeline.worker_client) == worker.OUTBOX_BATCH:
                    pass
            except redis.RedisError as error:
                raise GamifyError(
                    "Could not relay the outbox's events: Redis is unavailable"
                    f" ({describe_error(error)}). The events stay in the outbox."
                ) from error
            processed = 0
            for shard in range(pipeline.keys.shards):
                while True:
                    counts = drain.Drainer(state, pipeline, shard).run()
                    if counts["outages"]:
                        unavailable = "Redis" if outages.current.redis.down else "the database"
                        raise GamifyError(
                            f"Could not process the pending events of shard {shard}:"
                            f" {unavailable} is unavailable. The events stay pending."
                        )
                    processed += counts["processed"]
                    # A failed event is retried at once until it is dead-lettered.
                    if not (counts["processed"] or counts["dead_lettered"] or counts["retried"]):
                        break
            return processed
        finally:
            outages.current = saved


# -- the pytest plugin -------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional
    pass
else:

    @pytest.fixture
    def gamify_redis(tmp_path: Path) -> Iterator[RedisServer]:
        """A :class:`RedisServer` of the test's own, started; stopped after the test."""
        server = RedisServer(tmp_path / "gamify-redis")
        server.start()
        yield server
        server.stop()
