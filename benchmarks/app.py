"""The benchmark app, configured from the environment (like ``tests/pipeline_app.py``).

``flask --app benchmarks.app gamify worker`` (run from the project root) sees the same
database and Redis as the benchmark process.

Views:

* ``GET /untracked`` and ``GET /tracked``: the same view, the second with
  ``@tracks("login")``; the entity is the ``X-User`` header.
* ``GET /bare``: a bare JSON view of the same app (the query-latency baseline).
* ``GET /progress/<entity>``: ``[p.to_dict() for p in gamify.progress(entity)]``. The REST
  API's progress endpoint is not used, so that the measurement does not depend on its
  authentication; this view does what it does minus the API-key check.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import Gamify, tracks

DATABASE = "GAMIFY_BENCH_DATABASE"
REDIS = "GAMIFY_BENCH_REDIS"
BATCH = "GAMIFY_BENCH_BATCH"


def create_app() -> Flask:
    app = Flask("gamify_bench")
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": os.environ[DATABASE],
        "GAMIFY_BATCH_SIZE": int(os.environ.get(BATCH, "500")),
        "GAMIFY_TIMEZONE": "UTC",
        "GAMIFY_NOTIFY_AWARDS": True,
        "GAMIFY_API_PREFIX": None,
    }
    if os.environ.get(REDIS):
        config["GAMIFY_REDIS_URL"] = os.environ[REDIS]
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

    @app.get("/progress/<entity>")
    def progress(entity: str) -> Any:
        return jsonify([view.to_dict() for view in gamify.progress(entity)])

    return app
