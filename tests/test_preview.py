"""``gamify.preview``: a definition evaluated over the event log, writing nothing."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from flask_gamify import CriteriaError, Gamify
from flask_gamify.models import Award, Backfill, Event, Goal, Notification, Progress

COMMENTS = {"type": "count", "event": "comment.posted", "target": 4}


def comment(gamify: Gamify, entity: str, times: int, topic: str = "python") -> None:
    for _ in range(times):
        gamify.track("comment.posted", entity, attributes={"topic": topic})


def rows(gamify: Gamify) -> dict[str, int]:
    with gamify.state.transaction() as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Award, Backfill, Event, Goal, Notification, Progress)
        }


@pytest.fixture
def community(app: Flask, gamify: Gamify) -> Gamify:
    comment(gamify, "ann", 5)
    comment(gamify, "bob", 2)
    comment(gamify, "cat", 1, topic="rust")
    gamify.track("login", "dan")
    return gamify


def test_preview_counts_who_would_progress_and_complete_without_writing(
    community: Gamify,
) -> None:
    before = rows(community)
    preview = community.preview(COMMENTS)
    assert rows(community) == before, "a preview writes nothing"
    assert (preview.entities, preview.completed) == (3, 1)
    assert preview.events_scanned == 8, "only events of the criteria's type are read"
    assert preview.histogram["100"] == 1 and preview.histogram["50-59"] == 1
    assert preview.histogram["20-29"] == 1 and sum(preview.histogram.values()) == 3
    assert [(entry.entity, entry.progress.percent) for entry in preview.sample] == [
        ("ann", 100),
        ("bob", 50),
        ("cat", 25),
    ]
    assert preview.sample[0].progress.completed
    assert preview.since is not None


def test_preview_takes_filters_samples_and_saved_goals(community: Gamify) -> None:
    python_only = {**COMMENTS, "where": {"topic": "python"}, "target": 2}
    preview = community.preview(python_only, sample=1)
    assert (preview.entities, preview.completed) == (2, 2)
    assert len(preview.sample) == 1

    community.define_goal("talker", criteria=COMMENTS, status="draft")
    saved = community.preview("talker")
    assert (saved.entities, saved.completed) == (3, 1)
    easier = community.preview("talker", criteria={**COMMENTS, "target": 2})
    assert easier.completed == 2


def test_preview_counts_prerequisites(community: Gamify) -> None:
    community.define_goal("commenter", criteria={**COMMENTS, "target": 2})
    both = {
        "type": "all",
        "of": [
            {"type": "goal", "goal": "commenter"},
            {"type": "count", "event": "login", "target": 1},
        ],
    }
    preview = community.preview(both)
    progressed = {entry.entity: entry.progress.percent for entry in preview.sample}
    assert progressed == {"ann": 50, "bob": 50, "dan": 50}


def test_preview_refuses_invalid_criteria_naming_the_field(community: Gamify) -> None:
    with pytest.raises(CriteriaError, match=r"criteria\.target"):
        community.preview({**COMMENTS, "target": 0})


def test_goals_preview_command(app: Flask, community: Gamify) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["gamify", "goals", "preview", json.dumps(COMMENTS)])
    assert result.exit_code == 0, result.output
    assert "3 entities would progress, 1 would complete (8 events scanned" in result.output
    assert "user ann: 4/4 (100 %) complete" in result.output

    as_json = runner.invoke(args=["gamify", "goals", "preview", json.dumps(COMMENTS), "--json"])
    assert json.loads(as_json.output)["completed"] == 1
    bad = runner.invoke(args=["gamify", "goals", "preview", "missing-goal"])
    assert bad.exit_code != 0 and "missing-goal" in bad.output
