"""The benchmark app, configured from the environment (like ``tests/pipeline_app.py``).

``flask --app benchmarks.app gamify worker`` (run from the project root) sees the same
database and Redis as the benchmark process.

Views:

* ``GET /untracked`` and ``GET /tracked``: the same view, the second with
  ``@tracks("login")``; the entity is the ``X-User`` header.
* ``GET /bare``: a bare JSON view of the same app (the query-latency baseline).
* ``GET /progress/<entity>``: ``[p.to_dict() for p in gamify.progress(entity)]`` (the
  Python API; the REST API's ``/api/entities/<type>/<entity>/progress`` is measured too).
* ``GET /floor/<entity>``: the entity's progress rows as stored (every column), selected
  and returned as JSON: the floor of a progress read.

``GAMIFY_BENCH_FLOOR=1`` gives every goal a trivial criterion (``benchmarks/floor.py``).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, cast

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Table, select

from flask_gamify import Gamify, tracks
from flask_gamify.models import Progress

#: The progress table (SQLAlchemy Core: the floor reads rows, not ORM objects).
PROGRESS = cast(Table, Progress.__table__)

DATABASE = "GAMIFY_BENCH_DATABASE"
REDIS = "GAMIFY_BENCH_REDIS"
BATCH = "GAMIFY_BENCH_BATCH"
#: More configuration, as a JSON object (worker settings measured against each other).
CONFIG = "GAMIFY_BENCH_CONFIG"


def create_app() -> Flask:
    app = Flask("gamify_bench")
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": os.environ[DATABASE],
        "GAMIFY_TIMEZONE": "UTC",
        "GAMIFY_NOTIFY_AWARDS": True,
        "GAMIFY_API_PREFIX": "/api",
        # The webhook benchmark's receivers listen on loopback.
        "GAMIFY_WEBHOOK_ALLOW_PRIVATE": True,
    }
    if os.environ.get(BATCH):  # else the library's default, as a deployment has it
        config["GAMIFY_BATCH_SIZE"] = int(os.environ[BATCH])
    if os.environ.get(REDIS):
        config["GAMIFY_REDIS_URL"] = os.environ[REDIS]
    if os.environ.get(CONFIG):
        config.update(json.loads(os.environ[CONFIG]))
    app.config.update(config)
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)

    @gamify.entity_loader
    def header_user() -> str | None:
        return request.headers.get("X-User")

    def page() -> str:
        return "<h1>Hello</h1>"

    app.add_url_rule("/untracked", "untracked", page)
    app.add_url_rule("/tracked", "tracked", tracks("login")(page))

    @app.get("/bare")
    def bare() -> Any:
        return jsonify({"ok": True})

    @app.get("/floor/<entity>")
    def stored_rows(entity: str) -> Any:
        state = app.extensions["gamify"]
        # As the library reads progress: outside a transaction.
        with state.reading() as session:
            rows = session.execute(
                select(PROGRESS).where(
                    PROGRESS.c.entity_type == state.default_entity_type,
                    PROGRESS.c.entity_id == entity,
                )
            )
            return jsonify([_row(row._mapping) for row in rows])

    @app.get("/progress/<entity>")
    def progress(entity: str) -> Any:
        return jsonify([view.to_dict() for view in gamify.progress(entity)])

    from . import floor

    if floor.enabled():
        with app.app_context():
            floor.install(app)
    return app


def _row(row: Progress) -> dict[str, Any]:
    return {column.name: _json(getattr(row, column.key)) for column in Progress.__table__.columns}


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
