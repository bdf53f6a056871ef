"""The naive baseline: what most users would hand-roll instead of Flask-Gamify.

One RQ job per event (enqueued from the request path), and in the job, for every goal
whose criteria mention the event type, load the user's counter row with the ORM
(creating it if missing), add one, and commit. It evaluates nothing but counters, so it
does less work per event than Flask-Gamify (no windows, streaks, sequences, awards,
ledger or notifications): the comparison flatters the baseline.

It runs on the same database and Redis as the real worker, with RQ's ``SimpleWorker``
(the worker class ``GamifyWorker`` derives from; the default forking ``Worker`` would be
several times slower), in this process.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from rq import Queue, SimpleWorker
from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .workload import goals_by_event_type

db = SQLAlchemy()
GOALS_BY_TYPE = goals_by_event_type()
_APP: Flask | None = None
#: perf_counter() at the end of every job run in this process.
_DONE: list[float] = []


class NaiveProgress(db.Model):  # type: ignore[name-defined, misc]
    __tablename__ = "naive_progress"
    __table_args__ = (UniqueConstraint("user_id", "goal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    goal: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


def create_app(database_url: str) -> Flask:
    app = Flask("naive")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    return app


def handle_event(event: dict[str, Any]) -> None:
    """The RQ job: one event."""
    assert _APP is not None
    with _APP.app_context():
        for goal in GOALS_BY_TYPE.get(event["type"], ()):
            row = NaiveProgress.query.filter_by(user_id=event["entity"], goal=goal).first()
            if row is None:
                row = NaiveProgress(user_id=event["entity"], goal=goal, count=0)
                db.session.add(row)
            row.count += 1
            row.updated_at = datetime.now(UTC)
        db.session.commit()
    _DONE.append(time.perf_counter())


def run(database_url: str, connection: redis.Redis, events: list[dict[str, Any]]) -> float:
    """Events per second of one ``SimpleWorker`` running one job per event."""
    global _APP
    _APP = create_app(database_url)
    with _APP.app_context():
        db.drop_all()
        db.create_all()
    queue = Queue("bench-naive", connection=connection)
    queue.empty()
    data = [Queue.prepare_data(handle_event, (event,), result_ttl=0) for event in events]
    for start in range(0, len(data), 1000):
        queue.enqueue_many(data[start : start + 1000])
    _DONE.clear()
    SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    with _APP.app_context():
        db.engine.dispose()
    if len(_DONE) != len(events):
        raise RuntimeError(f"{len(_DONE)} naive jobs ran, expected {len(events)}")
    return (len(_DONE) - 1) / (_DONE[-1] - _DONE[0])
