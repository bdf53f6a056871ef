"""The pipeline of one app: its Redis client, keys, emitter and tuning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from .emitter import RedisEmitter
from .streams import StreamKeys

__all__ = ["Pipeline"]


@dataclass
class Pipeline:
    """Everything the emitter, the drain jobs and the worker share (per app)."""

    #: ``GAMIFY_REDIS_URL``.
    url: str
    #: Client for the request path, with ``GAMIFY_REDIS_TIMEOUT`` socket timeouts.
    client: redis.Redis
    keys: StreamKeys
    #: RQ queue the drain jobs go to (``GAMIFY_QUEUE``).
    queue_name: str
    #: Events per drain batch, and per SQL transaction (``GAMIFY_BATCH_SIZE``).
    batch_size: int
    #: Failed attempts before an event is dead-lettered (``GAMIFY_MAX_ATTEMPTS``).
    max_attempts: int
    #: Idle time after which another worker takes over pending entries (ms).
    claim_idle_ms: int
    #: Time budget of one drain job (s), after which it hands over.
    drain_seconds: float
    #: The worker's youngest-generation threshold (``GAMIFY_WORKER_GC_THRESHOLD``; 0:
    #: Python's own collector settings).
    worker_gc_threshold: int = 0
    #: Lifetime of a shard's drain guard when nobody refreshes it (s): how long a shard
    #: waits for a new drain job after a worker died in the middle of one.
    guard_ttl: int = 15
    emitter: RedisEmitter = field(init=False)
    _worker_client: redis.Redis | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.emitter = RedisEmitter(self.client, self.keys)

    @property
    def worker_client(self) -> Any:
        """A client for workers: generous timeouts, since they block on reads.

        Typed ``Any``: redis-py types replies as unions of every RESP shape, and the
        pipeline parses the replies it uses itself.
        """
        if self._worker_client is None:
            self._worker_client = redis.Redis.from_url(
                self.url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30
            )
        return self._worker_client
