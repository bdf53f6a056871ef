"""``make demo-workers``: the demo with its own redis-server, a real worker and the web
server, driven over HTTP, then stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for
from flask import Flask

from demo_app import create_app
from demo_app.extensions import db, gamify

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def drop_everything(database_url: str) -> None:
    app: Flask = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        db.session.remove()
        gamify.drop_all()
        db.drop_all()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def demo_database(database_url: str) -> Iterator[str]:
    """The test database, empty before and after (the runner's web server seeds it)."""
    drop_everything(database_url)
    yield database_url
    drop_everything(database_url)


class Browser:
    """Just enough of a browser: cookies, form posts, pages as text."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[str, str]:
        """``(final URL, body)`` after redirects."""
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.geturl(), response.read().decode()

    def post(self, path: str, form: dict[str, str]) -> str:
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + path, data=data, timeout=10) as response:
            return str(response.read().decode())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_demo_runs_with_redis_and_a_worker_and_stops_on_ctrl_c(
    demo_database: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "GAMIFY_REDIS_URL"}
    env["FLASK_SQLALCHEMY_DATABASE_URI"] = demo_database
    log_path = tmp_path / "runner.log"
    with log_path.open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-m", "demo_app.run_with_workers", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        banner = wait_for(
            lambda: (
                re.search(
                    r"Redis: (redis://\S+); redis-server pid (\d+), web server pid (\d+),"
                    r" worker pid (\d+)\.",
                    log_path.read_text(errors="replace"),
                )
                or runner.poll() is not None
            ),
            timeout=60,
            message="the runner says it started everything",
        )
        assert runner.poll() is None, log_path.read_text(errors="replace")
        redis_url, *pids = banner.groups()
        assert redis_url.startswith("redis://127.0.0.1:")
        assert "Flask-Gamify demo with workers: http://127.0.0.1:" in log_path.read_text()

        bob = Browser(f"http://127.0.0.1:{port}")
        bob.post("/login", {"username": "bob"})
        _, home = bob.get("/")
        for title in ("Article A", "Article B", "Article C"):
            match = re.search(rf'href="(/articles/\d+)">{title}', home)
            assert match, title
            bob.get(match[1])
        # The events went through Redis: the worker turns them into awards.
        seen: list[str] = []

        def unlocked() -> bool:
            _, body = bob.get("/notifications/new")
            seen.extend(note["text"] for note in json.loads(body)["notifications"])
            return "Unlocked the premium page: Premium access (+25 points)" in seen

        wait_for(unlocked, timeout=60, message="the worker records bob's unlock")
        assert "Badge earned: Explorer (+10 points)" in seen
        url, page = bob.get("/premium")
        assert url.endswith("/premium")
        assert "Premium content" in page
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            status = runner.wait(timeout=60)
        finally:
            if runner.poll() is None:
                runner.kill()
    assert status == 0, log_path.read_text(errors="replace")
    assert "Stopped: worker, web server, redis-server." in log_path.read_text()
    assert all(_gone(int(pid)) for pid in pids), pids


def test_without_redis_the_runner_says_what_to_do(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "GAMIFY_REDIS_URL"}
    env["PATH"] = str(tmp_path)  # no redis-server there
    result = subprocess.run(
        [sys.executable, "-m", "demo_app.run_with_workers", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "make demo-workers needs Redis: install redis-server" in result.stderr
    assert "or set GAMIFY_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
