"""The app that pipeline tests and their worker subprocesses share.

Configured from the environment, so that ``flask --app pipeline_app gamify worker``
(run from this folder) sees the same database and Redis as the test.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event as sqlalchemy_event

from flask_gamify import Gamify, tracks

DATABASE = "GAMIFY_PIPELINE_TEST_DATABASE"
REDIS = "GAMIFY_PIPELINE_TEST_REDIS"
#: Events whose attributes contain this text make the database statement that carries
#: them fail, as a bug triggered by one event would (tests of poison isolation).
POISON = "GAMIFY_PIPELINE_TEST_POISON"


def use_wal(engine: Any) -> None:
    """Configure SQLite as docs/deployment.rst says for a worker beside the app.

    Readers (the app's pages) never wait for the worker's commits in WAL mode, and a
    writer waits up to 30 s for another instead of failing after SQLite's 5 s.
    """

    @sqlalchemy_event.listens_for(engine, "connect")
    def configure(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA busy_timeout = 30000")
        connection.execute("PRAGMA journal_mode = WAL")


def create_app() -> Flask:
    app = Flask("pipeline_app")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ[DATABASE],
        GAMIFY_REDIS_URL=os.environ[REDIS],
        GAMIFY_CLAIM_IDLE=os.environ.get("GAMIFY_PIPELINE_TEST_CLAIM_IDLE", "1s"),
        GAMIFY_MAX_ATTEMPTS=2,
        GAMIFY_BATCH_SIZE=int(os.environ.get("GAMIFY_PIPELINE_TEST_BATCH", "50")),
        GAMIFY_DRAIN_SECONDS=float(os.environ.get("GAMIFY_PIPELINE_TEST_DRAIN_SECONDS", "5")),
        GAMIFY_TIMEZONE="America/New_York",
        # Webhook receivers of the tests listen on loopback; retries come fast.
        GAMIFY_WEBHOOK_ALLOW_PRIVATE=True,
        GAMIFY_WEBHOOK_RETRY_DELAYS=json.loads(
            os.environ.get("GAMIFY_PIPELINE_TEST_WEBHOOK_DELAYS", "[0.3, 0.3, 0.5, 1, 1]")
        ),
        GAMIFY_WEBHOOK_TIMEOUT=float(os.environ.get("GAMIFY_PIPELINE_TEST_WEBHOOK_TIMEOUT", "2")),
    )
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            use_wal(db.engine)

    chunk = os.environ.get("GAMIFY_PIPELINE_TEST_BACKFILL_CHUNK")
    if chunk:  # small backfill chunks, so that a test can stop a worker in the middle
        from flask_gamify import backfill

        backfill.CHUNK = int(chunk)

    slice_delay = os.environ.get("GAMIFY_PIPELINE_TEST_BACKFILL_SLICE_DELAY")
    if slice_delay:  # a slow backfill without a large history: each slice takes longer
        from flask_gamify import backfill

        advance = backfill._advance

        def slow_advance(*args: Any, **kwargs: Any) -> None:
            time.sleep(float(slice_delay))
            advance(*args, **kwargs)

        backfill._advance = slow_advance

    marker = os.environ.get(POISON)
    if marker:
        with app.app_context():
            engine = gamify.state.engine

        @sqlalchemy_event.listens_for(engine, "before_cursor_execute")
        def fail_on_marker(_conn: Any, _cursor: Any, _sql: str, parameters: Any, *_: Any) -> None:
            if marker in repr(parameters):
                raise ValueError(f"an event carries {marker!r}")

    @gamify.entity_loader
    def header_user() -> str | None:
        return request.headers.get("X-User")

    @app.post("/login")
    @tracks("login")
    def login() -> str:
        gamify.track("visit", request.headers["X-User"], attributes={"page": "login"})
        return "welcome"

    return app
