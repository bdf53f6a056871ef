"""Outages as a worker lives them: capped exponential backoff, one log line per change.

When Redis or the database becomes unavailable, a worker keeps running. Drain jobs stop
at the first transient failure (see :mod:`flask_gamify.failures`), leaving their events
pending in Redis, and tell the worker; the worker then waits before trying again, twice
as long after each failure up to :data:`MAX_DELAY`, and retries the shards it left first
as soon as the wait is over. The log gets one line when a dependency is lost, a reminder
every :data:`REMIND_EVERY` seconds while it stays down, and one line when it is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from ..failures import describe_error

__all__ = ["MAX_DELAY", "Outage", "Outages", "current"]

logger = logging.getLogger("flask_gamify")

#: The first wait after a failure (s).
FIRST_DELAY = 0.5
#: The longest wait between two attempts (s): how soon work resumes after an outage.
MAX_DELAY = 8.0
#: How often an ongoing outage is logged again (s).
REMIND_EVERY = 60.0


class Outage:
    """The availability of one dependency (Redis, or the database)."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        #: What is unavailable, as the log names it.
        self.name = name
        self.clock = clock
        #: When the outage began (``clock`` time), or ``None`` while all is well.
        self.down_since: float | None = None
        self.delay = 0.0
        self.retry_at = 0.0
        self._reminded_at = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        """Note a transient failure and schedule the next attempt."""
        now = self.clock()
        if self.down_since is None:
            self.down_since = self._reminded_at = now
            self.delay = FIRST_DELAY
            logger.error(
                "Flask-Gamify worker: %s is unavailable (%s); events stay in Redis and are"
                " retried with backoff.",
                self.name,
                describe_error(error, 300),
            )
        elif getattr(error, "connection_invalidated", False):
            # A pooled connection died (the database restarted, sessions were cut): the
            # pool starts afresh, so try again soon rather than after a longer wait.
            self.delay = FIRST_DELAY
        else:
            self.delay = min(self.delay * 2, MAX_DELAY)
            if now - self._reminded_at >= REMIND_EVERY:
                self._reminded_at = now
                logger.warning(
                    "Flask-Gamify worker: %s is still unavailable after %d s (%s).",
                    self.name,
                    now - self.down_since,
                    describe_error(error, 300),
                )
        self.retry_at = now + self.delay

    def recovered(self) -> None:
        """Note a success; logs the end of an outage."""
        if self.down_since is not None:
            logger.warning(
                "Flask-Gamify worker: %s is back after %d s; processing resumes.",
                self.name,
                self.clock() - self.down_since,
            )
            self.down_since = None
            self.delay = self.retry_at = 0.0

    def wait_seconds(self) -> float:
        """How long to wait before the next attempt (0 when it may start now)."""
        return max(0.0, self.retry_at - self.clock()) if self.down else 0.0


class Outages:
    """What one worker process knows about its dependencies."""

    def __init__(self) -> None:
        self.redis = Outage("Redis")
        self.database = Outage("the database")
        #: Shards whose drain stopped at an outage: drained first once it is over.
        self.retry_shards: set[int] = set()

    def of(self, error: BaseException) -> Outage:
        """The outage a transient ``error`` belongs to."""
        return self.redis if isinstance(error, redis.RedisError) else self.database

    def wait_seconds(self) -> float:
        return max(self.redis.wait_seconds(), self.database.wait_seconds())


#: The worker process's outages (one worker per process, like ``drain.stop_requested``).
current = Outages()
