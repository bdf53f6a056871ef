"""``flask gamify events import``: history from JSON Lines, streamed, idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from flask_gamify import Gamify
from flask_gamify.history import import_events
from flask_gamify.models import Event
from flask_gamify.signals import goal_completed

START = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def line(**event: Any) -> str:
    return json.dumps(event)


def history(
    entity: str, count: int, *, step: timedelta = timedelta(hours=1), start: datetime = START
) -> list[str]:
    return [
        line(type="login", entity=entity, occurred_at=(start + step * n).isoformat())
        for n in range(count)
    ]


def logged(gamify: Gamify) -> int:
    with gamify.state.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Event)).scalar_one())


def test_import_reports_rejected_lines_and_imports_the_rest_once(
    app: Flask, gamify: Gamify, tmp_path: Path
) -> None:
    gamify.define_goal("five", criteria={"type": "count", "event": "login", "target": 5})
    lines = [
        *history("ann", 3),
        "",
        "{not json",
        line(type="login"),
        line(type="login", entity="bob", color="red"),
        line(type="login", entity="bob", occurred_at="2999-01-01T00:00:00Z"),
        *history("ann", 2, start=START + timedelta(days=1)),
        line(type="login", entity="bob", id="bob-1", occurred_at=START.isoformat()),
    ]
    file = tmp_path / "history.jsonl"
    file.write_text("\n".join(lines) + "\n")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["gamify", "events", "import", str(file)])
    assert result.exit_code == 1, result.output
    assert "line 5: " in result.stderr and "not valid UTF-8 JSON" in result.stderr
    assert "line 6: " in result.stderr and "entity" in result.stderr
    assert "line 7: " in result.stderr and "color: Unknown field" in result.stderr
    assert "line 8: " in result.stderr and "in the future" in result.stderr
    assert "Imported 6 event(s) (0 already in the log)" in result.stdout
    assert "4 line(s) rejected" in result.stdout
    assert gamify.has_completed("ann", "five")
    assert logged(gamify) == 6

    again = runner.invoke(args=["gamify", "events", "import", str(file)])
    assert "Imported 0 event(s) (6 already in the log)" in again.stdout
    assert logged(gamify) == 6
    assert gamify.progress("bob", "five").current == 1


def test_import_reads_stdin_and_exits_zero_when_every_line_is_valid(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal("two", criteria={"type": "count", "event": "login", "target": 2})
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["gamify", "events", "import", "-"], input="\n".join(history("cat", 2))
    )
    assert result.exit_code == 0, result.output
    assert gamify.has_completed("cat", "two")


def test_import_streams_the_file_in_batches(app: Flask, gamify: Gamify) -> None:
    consumed = 0

    def lines() -> Any:
        nonlocal consumed
        for text in history("dan", 1000, step=timedelta(seconds=1)):
            consumed += 1
            yield text.encode()

    read_at_first_batch: list[int] = []

    def on_batch(report: Any, read: int) -> None:
        read_at_first_batch.append(consumed)

    report = import_events(app, gamify.state, lines(), batch_size=100, on_batch=on_batch)
    assert report.imported == 1000
    # Each batch is processed before the next lines are read.
    assert read_at_first_batch[:10] == list(range(100, 1001, 100))


def test_imported_awards_are_marked_backfill(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("one", criteria={"type": "count", "event": "login", "target": 1})
    received: list[bool] = []

    def on_completed(sender: Flask, **kwargs: Any) -> None:
        received.append(kwargs["backfill"])

    with goal_completed.connected_to(on_completed, app):
        import_events(app, gamify.state, [text.encode() for text in history("eve", 1)])
    assert received == [True]


def test_events_out_of_time_order_are_counted_and_reported(
    app: Flask, gamify: Gamify, tmp_path: Path
) -> None:
    late = history("fay", 1)[0]
    file = tmp_path / "unsorted.jsonl"
    recent = line(type="login", entity="fay", occurred_at=(START + timedelta(days=30)).isoformat())
    file.write_text(f"{recent}\n{late}\n")
    result = app.test_cli_runner().invoke(args=["gamify", "events", "import", str(file)])
    assert result.exit_code == 0, result.output
    assert "1 event(s) came more than GAMIFY_LATE_EVENT_ALLOWANCE" in result.stderr
