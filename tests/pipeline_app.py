"""The app that pipeline tests and their worker subprocesses share.

Configured from the environment, so that ``flask --app pipeline_app gamify worker``
(run from this folder) sees the same database and Redis as the test.
"""

from __future__ import annotations

import os

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import Gamify, tracks

DATABASE = "GAMIFY_PIPELINE_TEST_DATABASE"
REDIS = "GAMIFY_PIPELINE_TEST_REDIS"


def create_app() -> Flask:
    app = Flask("pipeline_app")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ[DATABASE],
        GAMIFY_REDIS_URL=os.environ[REDIS],
        GAMIFY_CLAIM_IDLE="1s",
        GAMIFY_MAX_ATTEMPTS=2,
        GAMIFY_BATCH_SIZE=int(os.environ.get("GAMIFY_PIPELINE_TEST_BATCH", "50")),
        GAMIFY_DRAIN_SECONDS=5,
        GAMIFY_TIMEZONE="America/New_York",
    )
    db = SQLAlchemy(app)
    gamify = Gamify(app, db=db)

    @gamify.entity_loader
    def header_user() -> str | None:
        return request.headers.get("X-User")

    @app.post("/login")
    @tracks("login")
    def login() -> str:
        gamify.track("visit", request.headers["X-User"], attributes={"page": "login"})
        return "welcome"

    return app
