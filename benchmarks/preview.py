"""Preview: ``gamify.preview`` of a ``count`` and a ``distinct`` goal over a large event
log, as events/s against a bare ``SELECT`` of the same rows in the same order.

The event log is loaded directly (one multi-row ``INSERT`` per 10,000 events): what is
measured is reading it back. Each measurement is the best of three runs, alternating
the bare scan and the preview.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Flask
from sqlalchemy import Table, insert

from flask_gamify.models import Event
from flask_gamify.preview import history_query

EVENT_TYPE = "comment.posted"
CRITERIA = {
    "count": {"type": "count", "event": EVENT_TYPE, "target": 20},
    "distinct": {"type": "distinct", "event": EVENT_TYPE, "field": "topic", "target": 5},
}
_EVENTS = cast(Table, Event.__table__)


@dataclass
class PreviewResult:
    kind: str
    events: int
    preview_rate: float
    bare_rate: float
    entities: int
    completed: int


def load(app: Flask, events: int, entities: int, seed: int) -> None:
    """Write ``events`` comments (and as many other events, which a preview skips)."""
    gamify = app.extensions["gamify"].extension
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with gamify.state.transaction() as session:
        batch: list[dict[str, Any]] = []
        for index in range(events * 2):
            batch.append(
                {
                    "id": f"p{index}",
                    "type": EVENT_TYPE if index % 2 == 0 else "login",
                    "entity_type": "user",
                    "entity_id": str(rng.randrange(entities)),
                    "attributes": {"topic": rng.choice("abcdefghij")},
                    "occurred_at": start + timedelta(seconds=index),
                    "processed_at": start,
                }
            )
            if len(batch) == 10_000:
                session.execute(insert(_EVENTS), batch)
                batch = []
        if batch:
            session.execute(insert(_EVENTS), batch)


def _bare(app: Flask) -> int:
    """Read the rows a preview reads, as a preview reads them, doing nothing with them."""
    gamify = app.extensions["gamify"].extension
    query = history_query([EVENT_TYPE], "user")
    rows = 0
    with gamify.state.transaction() as session:
        for _row in session.execute(query, execution_options={"yield_per": 2000}):
            rows += 1
    return rows


def run(app: Flask, kind: str) -> PreviewResult:
    gamify = app.extensions["gamify"].extension
    best_bare = best_preview = float("inf")
    scanned = rows = 0
    preview = None
    for _ in range(3):
        started = time.perf_counter()
        rows = _bare(app)
        best_bare = min(best_bare, time.perf_counter() - started)
        started = time.perf_counter()
        preview = gamify.preview(CRITERIA[kind])
        best_preview = min(best_preview, time.perf_counter() - started)
        scanned = preview.events_scanned
    assert preview is not None and scanned == rows, (scanned, rows)
    return PreviewResult(
        kind=kind,
        events=rows,
        preview_rate=scanned / best_preview,
        bare_rate=rows / best_bare,
        entities=preview.entities,
        completed=preview.completed,
    )
