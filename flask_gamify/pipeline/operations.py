"""What operators do with the pipeline: status, and dead letters to list, replay or drop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis
from rq import Queue, Worker

from .settings import Pipeline
from .streams import FIELD, GROUP
from .worker import _id_tuple

__all__ = [
    "DeadLetter",
    "dead_letters",
    "describe_redis_error",
    "drop_dead_letters",
    "replay_dead_letters",
    "status",
]

# Every function takes an optional ``client``: by default the workers' client (long
# timeouts, fine for a command line); a web page passes ``pipeline.client`` instead, whose
# GAMIFY_REDIS_TIMEOUT keeps it from hanging while Redis is away.


def describe_redis_error(pipeline: Pipeline, error: redis.RedisError) -> str:
    """A sentence for an operator: where Redis was expected, what failed, what to check.

    Names the host and port only: the URL may carry a password.
    """
    where = urlsplit(pipeline.url)
    address = where.path if where.scheme == "unix" else f"{where.hostname}:{where.port or 6379}"
    reason = " ".join(str(error).split()) or type(error).__name__
    return (
        f"Cannot reach Redis at {address} (GAMIFY_REDIS_URL): {reason} Check that Redis"
        " is running and the URL is right."
    )


def status(pipeline: Pipeline, *, client: Any = None) -> dict[str, Any]:
    """Backlog per shard, dead letters, the drain queue and the workers.

    :param client: the Redis client to ask (default: the workers' client).
    """
    client = client or pipeline.worker_client
    now_ms = datetime.now(UTC).timestamp() * 1000
    pipe = client.pipeline(transaction=False)
    for stream in pipeline.keys.streams():
        pipe.xlen(stream)
        pipe.xpending(stream, GROUP)
        pipe.xrange(stream, count=1)
    pipe.xlen(pipeline.keys.dead_letters)
    replies = pipe.execute(raise_on_error=False)
    shards = []
    for shard in range(pipeline.keys.shards):
        length, pending, oldest = replies[3 * shard : 3 * shard + 3]
        oldest_age = None
        if isinstance(oldest, list) and oldest:
            oldest_age = max(0.0, (now_ms - _id_tuple(oldest[0][0])[0]) / 1000)
        shards.append(
            {
                "shard": shard,
                "length": length if isinstance(length, int) else 0,
                "pending": pending["pending"] if isinstance(pending, dict) else 0,
                "oldest_age_seconds": oldest_age,
            }
        )
    queue = Queue(pipeline.queue_name, connection=client)
    workers = Worker.all(queue=queue)
    dead = replies[-1]
    return {
        "shards": shards,
        "dead_letters": dead if isinstance(dead, int) else 0,
        "queued_jobs": queue.count,
        "workers": [
            {"name": worker.name, "state": str(worker.get_state()), "hostname": worker.hostname}
            for worker in workers
        ],
    }


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that could not be processed."""

    id: str
    shard: int
    entry: str
    event: str
    error: str
    attempts: int
    failed_at: str


def _decode(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    text = {key.decode(): value.decode(errors="replace") for key, value in fields.items()}
    return DeadLetter(
        id=entry_id.decode(),
        shard=int(text.get("shard", 0)),
        entry=text.get("entry", ""),
        event=text.get("event", ""),
        error=text.get("error", ""),
        attempts=int(text.get("attempts", 0)),
        failed_at=text.get("failed_at", ""),
    )


def dead_letters(pipeline: Pipeline, *, limit: int = 100, client: Any = None) -> list[DeadLetter]:
    """The oldest dead letters first."""
    client = client or pipeline.worker_client
    entries = client.xrange(pipeline.keys.dead_letters, count=limit)
    return [_decode(entry_id, fields) for entry_id, fields in entries]


def _select(pipeline: Pipeline, ids: list[str] | None, client: Any) -> list[DeadLetter]:
    if ids is None:
        entries = client.xrange(pipeline.keys.dead_letters)
        return [_decode(entry_id, fields) for entry_id, fields in entries]
    found = []
    for dead_id in ids:
        entries = client.xrange(pipeline.keys.dead_letters, dead_id, dead_id)
        if not entries:
            raise LookupError(f"No dead letter with id {dead_id!r}; see 'dead-letters list'.")
        found.append(_decode(*entries[0]))
    return found


def replay_dead_letters(pipeline: Pipeline, ids: list[str] | None, *, client: Any = None) -> int:
    """Put dead letters (``ids``, or all) back on their shard; return how many.

    :raises LookupError: one of ``ids`` is not a dead letter (nothing is replayed).
    """
    client = client or pipeline.worker_client
    letters = _select(pipeline, ids, client)
    pipe = client.pipeline(transaction=True)
    for letter in letters:
        pipe.xadd(pipeline.keys.stream(letter.shard), {FIELD: _with_id(letter)})
        pipe.xdel(pipeline.keys.dead_letters, letter.id)
    pipe.execute()
    return len(letters)


def _with_id(letter: DeadLetter) -> str:
    """Keep the event id a raw entry was given, so a replay stays idempotent."""
    try:
        data = json.loads(letter.event)
    except ValueError:
        return letter.event
    if isinstance(data, dict) and not data.get("id"):
        data["id"] = f"redis-{letter.shard}-{letter.entry}"
        return json.dumps(data, separators=(",", ":"))
    return letter.event


def drop_dead_letters(pipeline: Pipeline, ids: list[str] | None, *, client: Any = None) -> int:
    """Delete dead letters (``ids``, or all) for good; return how many.

    :raises LookupError: one of ``ids`` is not a dead letter (nothing is dropped).
    """
    client = client or pipeline.worker_client
    letters = _select(pipeline, ids, client)
    if letters:
        client.xdel(pipeline.keys.dead_letters, *[letter.id for letter in letters])
    return len(letters)
