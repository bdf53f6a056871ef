"""Run the demo the production way: Redis, a ``flask gamify worker`` and the web server.

``make demo-workers`` runs ``python -m demo_app.run_with_workers --port PORT``. Redis is
a ``redis-server`` of its own on a free port when one is installed, else the one
``GAMIFY_REDIS_URL`` names; without either it stops with a message saying what to do.
The worker and the web server get ``GAMIFY_REDIS_URL``; Ctrl-C (or SIGTERM) stops them
all, worker first so that it finishes its batch while Redis is still there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import redis

#: The directory holding ``demo_app``: where ``flask --app demo_app`` finds it.
ROOT = Path(__file__).resolve().parent.parent
#: How long each part may take to start, and to stop before it is killed.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class Stop(Exception):
    """Raised in the main loop by the signal handler: time to stop everything."""


class Runner:
    """The processes of the demo, started in order and stopped in reverse."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        #: ``(name, process)`` in the order they started.
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis_dir: str | None = None

    def start(self) -> None:
        redis_url = self._redis()
        env = {**os.environ, "GAMIFY_REDIS_URL": redis_url, "FLASK_DEBUG": "0"}
        flask = [sys.executable, "-m", "flask", "--app", "demo_app"]
        # The web server first: its start creates and seeds the database, which the
        # worker would otherwise race to do too.
        web = self._spawn(
            "web server", [*flask, "run", "--host", self.host, "--port", str(self.port)], env
        )
        url = f"http://{self.host}:{self.port}/"
        self._wait(lambda: _answers(url), web, f"the web server to answer on {url}")
        self._spawn("worker", [*flask, "gamify", "worker", "--name", f"demo-{os.getpid()}"], env)
        pids = ", ".join(f"{name} pid {process.pid}" for name, process in self.processes)
        print(f"Redis: {redis_url}; {pids}.", flush=True)
        print(f"Flask-Gamify demo with workers: {url} (Ctrl-C stops everything)", flush=True)

    def _redis(self) -> str:
        """Start a ``redis-server`` of our own, or use ``GAMIFY_REDIS_URL``."""
        binary = shutil.which("redis-server")
        if binary is None:
            url = os.environ.get("GAMIFY_REDIS_URL")
            if not url:
                raise SystemExit(
                    "make demo-workers needs Redis: install redis-server (for example"
                    " 'apt-get install redis-server'), or set GAMIFY_REDIS_URL to a running"
                    " one, such as redis://localhost:6379/0."
                )
            print(f"redis-server is not installed: using GAMIFY_REDIS_URL={url}.", flush=True)
            return url
        port = _free_port()
        self.redis_dir = tempfile.mkdtemp(prefix="gamify-demo-redis-")
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        process = self._spawn("redis-server", [*command, "--dir", self.redis_dir], dict(os.environ))
        client = redis.Redis(port=port)
        try:
            self._wait(lambda: _pings(client), process, f"redis-server to answer on port {port}")
        finally:
            client.close()
        return f"redis://127.0.0.1:{port}/0"

    def _spawn(
        self, name: str, command: Sequence[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        # A session of its own: Ctrl-C reaches this runner only, which then stops the
        # parts in order (the worker before Redis).
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        self.processes.append((name, process))
        return process

    def _wait(self, ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if process.poll() is not None:
                raise SystemExit(
                    f"Gave up waiting for {what}: it exited with {process.returncode}."
                )
            if time.monotonic() > deadline:
                raise SystemExit(f"Gave up waiting for {what} after {START_TIMEOUT:g} s.")
            time.sleep(0.1)

    def watch(self) -> int:
        """Wait until a part exits on its own (then stop the rest) or we are told to stop."""
        while True:
            for name, process in self.processes:
                if process.poll() is not None:
                    print(
                        f"The {name} exited with {process.returncode}: stopping the demo.",
                        flush=True,
                    )
                    return 1
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every part, the last started first; kill what does not stop in time."""
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(
                        f"The {name} did not stop within {STOP_TIMEOUT:g} s: killing it.",
                        flush=True,
                    )
                    process.kill()
                    process.wait()
        if self.redis_dir is not None:
            shutil.rmtree(self.redis_dir, ignore_errors=True)
        print(
            "Stopped: " + ", ".join(name for name, _ in reversed(self.processes)) + ".", flush=True
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address of the web server")
    parser.add_argument("--port", type=int, default=5000, help="port of the web server")
    args = parser.parse_args(argv)
    runner = Runner(args.host, args.port)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        runner.start()
        return runner.watch()
    except Stop:
        return 0
    finally:
        # Told twice, stop anyway: the parts are stopped in order below.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        runner.stop()


if __name__ == "__main__":
    sys.exit(main())
