"""Importing history: past events from JSON Lines, through the same batch processing.

Each line is one event in the REST API's JSON form. Lines are read one at a time and
processed in batches of ``GAMIFY_BATCH_SIZE``, so a file of any length is imported in
bounded memory. An event without an ``id`` gets one derived from its content, so
importing the same file again changes nothing. Rejected lines are reported with their
number and reason; the others are imported.

Windowed, streak and sequence criteria judge events by ``occurred_at``: a file in time
order gives exactly what a live run would have given. Events that go back in time by
more than ``GAMIFY_LATE_EVENT_ALLOWANCE`` are counted and reported (sort the file first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import config as settings
from .errors import EventError
from .events import TrackedEvent, event_from_json

if TYPE_CHECKING:
    from flask import Flask

    from .state import GamifyState

__all__ = ["ImportReport", "import_events"]

#: The longest line read, in bytes (an event is at most a few kilobytes).
MAX_LINE_BYTES = 1024 * 1024


@dataclass(slots=True)
class ImportReport:
    """What an import did."""

    #: Lines read (blank lines included).
    lines: int = 0
    #: Events processed for the first time, and events already in the event log.
    imported: int = 0
    duplicates: int = 0
    #: Awards the import gave.
    awards: int = 0
    #: ``(line number, reason)`` of every rejected line.
    rejected: list[tuple[int, str]] = field(default_factory=list)
    #: Events older than an earlier line's by more than the late-event allowance.
    out_of_order: int = 0


def _event_id(item: Any) -> str:
    """An id derived from the event's content, so that a second import is a no-op."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "import-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _parse(line: bytes, number: int, state: GamifyState) -> TrackedEvent:
    if len(line) > MAX_LINE_BYTES:
        raise EventError({"line": [f"Is longer than {MAX_LINE_BYTES} bytes."]})
    try:
        item = json.loads(line)
    except RecursionError as error:
        raise EventError({"line": ["Nests objects and lists too deep."]}) from error
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError included
        raise EventError({"line": [f"Is not valid UTF-8 JSON: {error}."]}) from error
    if not isinstance(item, dict):
        raise EventError({"line": ["Must be a JSON object: one event per line."]})
    default_id = None if "id" in item else _event_id(item)
    return event_from_json(
        item,
        default_entity_type=state.default_entity_type,
        limits=state.limits,
        default_id=default_id,
    )


def import_events(
    app: Flask,
    state: GamifyState,
    lines: Iterable[bytes],
    *,
    batch_size: int | None = None,
    on_batch: Callable[[ImportReport, int], None] | None = None,
) -> ImportReport:
    """Import the events of JSON Lines ``lines``; return what happened.

    :param on_batch: called after each batch with the report and the bytes read so far
        (progress bars).
    """
    from .state import send_signals

    size = batch_size or settings.integer(app.config, "GAMIFY_BATCH_SIZE")
    report = ImportReport()
    batch: list[TrackedEvent] = []
    latest: datetime | None = None
    read = 0

    def flush() -> None:
        result = state.processor.process(batch)
        send_signals(app, result, backfill=True)
        report.imported += len(result.accepted)
        report.duplicates += result.duplicates
        report.awards += len(result.awards)
        batch.clear()
        if on_batch is not None:
            on_batch(report, read)

    for number, line in enumerate(lines, start=1):
        report.lines = number
        read += len(line)
        if not line.strip():
            continue
        try:
            event = _parse(line, number, state)
        except EventError as error:
            report.rejected.append((number, str(error)))
            continue
        if latest is not None and event.occurred_at < latest - state.late_event_allowance:
            report.out_of_order += 1
        latest = event.occurred_at if latest is None else max(latest, event.occurred_at)
        batch.append(event)
        if len(batch) >= size:
            flush()
    if batch:
        flush()
    elif on_batch is not None:
        on_batch(report, read)
    return report
