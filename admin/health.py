"""The pipeline's health as the dashboard shows it: one read, never an error page.

The numbers come from :func:`flask_gamify.pipeline.operations.status` (what ``flask gamify
status`` prints), asked with the request-path Redis client: its ``GAMIFY_REDIS_TIMEOUT``
keeps a page from hanging while Redis is away, and an outage becomes a sentence shown in
red instead of a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import func, select

from flask_gamify.models import Outbox
from flask_gamify.pipeline.operations import describe_redis_error, status
from flask_gamify.state import GamifyState

__all__ = ["PipelineHealth", "pipeline_health"]


@dataclass
class PipelineHealth:
    """What an operator wants to know at a glance."""

    #: ``"inline"`` (no ``GAMIFY_REDIS_URL``), ``"ok"`` or ``"unreachable"``.
    mode: str
    #: Why Redis could not be asked (``mode == "unreachable"``).
    error: str | None = None
    #: One dict per shard: ``shard``, ``length``, ``pending``, ``oldest_age_seconds``.
    shards: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: int = 0
    queued_jobs: int = 0
    #: One dict per worker: ``name``, ``state``, ``hostname``.
    workers: list[dict[str, Any]] = field(default_factory=list)
    #: Events kept in SQL while Redis was unreachable, waiting to be relayed.
    outbox: int = 0

    @property
    def backlog(self) -> int:
        """Events waiting in the streams (not yet processed), over every shard."""
        return sum(shard["length"] for shard in self.shards)

    @property
    def pending(self) -> int:
        """Events a worker has read but not yet acknowledged."""
        return sum(shard["pending"] for shard in self.shards)

    @property
    def oldest_age_seconds(self) -> float | None:
        ages = [s["oldest_age_seconds"] for s in self.shards if s["oldest_age_seconds"]]
        return max(ages) if ages else None

    @property
    def problems(self) -> list[str]:
        """Sentences about what needs attention (empty: all is well)."""
        if self.mode == "inline":
            return []
        if self.mode == "unreachable":
            return [self.error or "Redis cannot be reached."]
        found = []
        if not self.workers:
            found.append(
                "No worker is running: events wait in the streams. Start one with"
                " 'flask gamify worker'."
            )
        if self.dead_letters:
            found.append(
                f"{self.dead_letters} event(s) could not be processed (dead letters):"
                " replay or drop them."
            )
        if self.outbox:
            found.append(
                f"{self.outbox} event(s) wait in the outbox for Redis; workers relay them."
            )
        return found


def pipeline_health(state: GamifyState) -> PipelineHealth:
    """Ask Redis and the outbox table how the pipeline is doing."""
    pipeline = state.pipeline
    if pipeline is None:
        return PipelineHealth(mode="inline")
    with state.transaction() as session:
        outbox = int(session.execute(select(func.count()).select_from(Outbox)).scalar_one())
    try:
        info = status(pipeline, client=pipeline.client)
    except redis.RedisError as error:
        return PipelineHealth(
            mode="unreachable", error=describe_redis_error(pipeline, error), outbox=outbox
        )
    return PipelineHealth(
        mode="ok",
        shards=info["shards"],
        dead_letters=info["dead_letters"],
        queued_jobs=info["queued_jobs"],
        workers=info["workers"],
        outbox=outbox,
    )
