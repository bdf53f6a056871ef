"""Support for pipeline tests: worker subprocesses, emitting, and what to compare.

The fixtures built on these (``pipeline_env``, ``papp``, ``workers``) are in
``conftest.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import func, select
from workload import GOALS, snapshot

from flask_gamify import Gamify
from flask_gamify.events import TrackedEvent
from flask_gamify.models import Event

if TYPE_CHECKING:
    from flask_gamify.testing import RedisServer

TESTS = Path(__file__).parent


class Workers:
    """Worker subprocesses of one test; all stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *extra: str, prefix: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        """Start ``flask gamify worker --name NAME EXTRA...``, behind ``prefix`` if given."""
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    *prefix,
                    sys.executable,
                    "-m",
                    "flask",
                    "--app",
                    "pipeline_app",
                    "gamify",
                    "worker",
                    "--name",
                    name,
                    *extra,
                ],
                cwd=TESTS,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def gamify_of(app: Flask) -> Gamify:
    extension: Gamify = app.extensions["gamify"].extension
    return extension


def expected_snapshot(events: list[TrackedEvent], tmp_path: Path) -> dict[str, Any]:
    """The progress inline processing gives for ``events`` (the oracle)."""
    from flask_sqlalchemy import SQLAlchemy

    app = Flask("expected")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'expected.db'}",
        GAMIFY_TIMEZONE="America/New_York",
    )
    gamify = Gamify(app, db=SQLAlchemy(app))
    with app.app_context():
        gamify.create_all()
        gamify.define_goals(GOALS)
        gamify.state.processor.process(events)
        result = snapshot(gamify, {event.entity_id for event in events})
        app.extensions["sqlalchemy"].engine.dispose()
    return result


def logged_events(app: Flask) -> int:
    with gamify_of(app).state.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Event)).scalar_one())


def stream_total(redis_server: RedisServer, app: Flask) -> int:
    client = redis_server.client()
    return sum(
        int(client.xlen(stream)) for stream in app.extensions["gamify"].pipeline.keys.streams()
    )


def emit(app: Flask, events: list[TrackedEvent]) -> None:
    """Emit events the way the app does outside requests (one pipelined round trip)."""
    app.extensions["gamify"].submit(events)
