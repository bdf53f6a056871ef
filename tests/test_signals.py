"""The blinker signals: names, sender, arguments, and being sent after the commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from blinker import NamedSignal
from flask import Flask

from flask_gamify import AssignmentView, AwardView, Gamify, ProgressView
from flask_gamify.events import TrackedEvent
from flask_gamify.signals import (
    assignment_completed,
    event_tracked,
    goal_completed,
    progress_changed,
)

Received = list[tuple[Any, dict[str, Any]]]


@pytest.fixture
def receive() -> Iterator[Callable[[NamedSignal], Received]]:
    """``receive(signal)`` records every sending of ``signal`` during the test."""
    connected: list[tuple[NamedSignal, Callable[..., None]]] = []

    def connect(signal: NamedSignal) -> Received:
        received: Received = []

        def receiver(sender: Any, **kwargs: Any) -> None:
            received.append((sender, kwargs))

        signal.connect(receiver)
        connected.append((signal, receiver))
        return received

    yield connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


@pytest.fixture
def other_connection(database_url: str) -> Iterator[Callable[[str], list[Any]]]:
    """Run a query on a new, independent connection: it sees committed data only."""
    engine = sa.create_engine(database_url)

    def query(sql: str) -> list[Any]:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql)))

    yield query
    engine.dispose()


def test_signal_names() -> None:
    assert event_tracked.name == "event-tracked"
    assert progress_changed.name == "progress-changed"
    assert goal_completed.name == "goal-completed"
    assert assignment_completed.name == "assignment-completed"


def test_signals_of_one_track(
    app: Flask, gamify: Gamify, receive: Callable[[NamedSignal], Received]
) -> None:
    gamify.define_goal("first", criteria={"type": "count", "event": "login", "target": 1})
    gamify.define_goal("third", criteria={"type": "count", "event": "login", "target": 3})
    tracked = receive(event_tracked)
    changed = receive(progress_changed)
    completed = receive(goal_completed)

    event_id = gamify.track("login", 7, attributes={"via": "form"})

    [(sender, kwargs)] = tracked
    assert sender is app
    event = kwargs["event"]
    assert isinstance(event, TrackedEvent)
    assert (event.id, event.type, event.entity_type, event.entity_id) == (
        event_id,
        "login",
        "user",
        "7",
    )
    assert dict(event.attributes) == {"via": "form"}

    assert {kwargs["goal"] for _, kwargs in changed} == {"first", "third"}
    for sender, kwargs in changed:
        assert sender is app
        assert (kwargs["entity"], kwargs["entity_type"]) == ("7", "user")
        progress = kwargs["progress"]
        assert isinstance(progress, ProgressView)
        assert progress.goal == kwargs["goal"]
        assert progress.current == 1
    by_goal = {kwargs["goal"]: kwargs["progress"] for _, kwargs in changed}
    assert by_goal["first"].completed
    assert not by_goal["third"].completed

    [(sender, kwargs)] = completed
    assert sender is app
    assert (kwargs["goal"], kwargs["entity"], kwargs["entity_type"]) == ("first", "7", "user")
    award = kwargs["award"]
    assert isinstance(award, AwardView)
    assert (award.goal, award.entity, award.occurrence) == ("first", "7", 1)


def test_connecting_with_the_app_as_sender(
    app: Flask, gamify: Gamify, receive: Callable[[NamedSignal], Received]
) -> None:
    gamify.define_goal("first", criteria={"type": "count", "event": "login", "target": 1})
    mine: Received = []
    others: Received = []

    def for_app(sender: Any, **kwargs: Any) -> None:
        mine.append((sender, kwargs))

    def for_other(sender: Any, **kwargs: Any) -> None:
        others.append((sender, kwargs))

    other_app = Flask("another")
    goal_completed.connect(for_app, app)
    goal_completed.connect(for_other, other_app)
    try:
        gamify.track("login", "u1")
    finally:
        goal_completed.disconnect(for_app, app)
        goal_completed.disconnect(for_other, other_app)
    assert len(mine) == 1
    assert others == []


def test_signals_are_sent_after_the_commit(
    app: Flask,
    gamify: Gamify,
    receive: Callable[[NamedSignal], Received],
    other_connection: Callable[[str], list[Any]],
) -> None:
    gamify.define_goal(
        "todo", criteria={"type": "count", "event": "task", "target": 1}, assigned_only=True
    )
    gamify.assign("todo", assignee="bob", assigned_by="alice")
    seen: dict[str, list[Any]] = {}

    def on_event(sender: Any, event: TrackedEvent, **kwargs: Any) -> None:
        seen["event"] = other_connection(
            f"SELECT type, entity_id FROM gamify_events WHERE id = '{event.id}'"
        )

    def on_progress(sender: Any, **kwargs: Any) -> None:
        seen["progress"] = other_connection(
            "SELECT entity_id, times_completed FROM gamify_progress"
        )

    def on_award(sender: Any, **kwargs: Any) -> None:
        seen["award"] = other_connection("SELECT entity_id, occurrence FROM gamify_awards")

    def on_assignment(sender: Any, **kwargs: Any) -> None:
        seen["assignment"] = other_connection(
            "SELECT entity_id FROM gamify_assignments WHERE completed_at IS NOT NULL"
        )
        seen["notification"] = other_connection(
            "SELECT entity_id, kind FROM gamify_notifications WHERE entity_id = 'alice'"
        )

    receivers = [
        (event_tracked, on_event),
        (progress_changed, on_progress),
        (goal_completed, on_award),
        (assignment_completed, on_assignment),
    ]
    for signal, receiver in receivers:
        signal.connect(receiver, app)
    try:
        gamify.track("task", "bob")
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver, app)

    assert [tuple(row) for row in seen["event"]] == [("task", "bob")]
    assert [tuple(row) for row in seen["progress"]] == [("bob", 1)]
    assert [tuple(row) for row in seen["award"]] == [("bob", 1)]
    assert [tuple(row) for row in seen["assignment"]] == [("bob",)]
    assert [tuple(row) for row in seen["notification"]] == [("alice", "assignment-completed")]


def test_assignment_completed_arguments(
    app: Flask, gamify: Gamify, receive: Callable[[NamedSignal], Received]
) -> None:
    gamify.define_goal(
        "todo",
        criteria={"type": "count", "event": "task", "target": 1},
        assigned_only=True,
        entity_type="team",
    )
    gamify.assign("todo", assignee=5, assigned_by="alice", entity_type="team")
    completed = receive(assignment_completed)

    gamify.track("task", 5, entity_type="team")

    [(sender, kwargs)] = completed
    assert sender is app
    assert kwargs["goal"] == "todo"
    assert (kwargs["entity"], kwargs["entity_type"]) == ("5", "team")
    assert kwargs["assigned_by"] == "alice"
    assert isinstance(kwargs["assignment"], AssignmentView)
    assert kwargs["assignment"].completed


def test_duplicate_event_sends_nothing(
    app: Flask, gamify: Gamify, receive: Callable[[NamedSignal], Received]
) -> None:
    gamify.define_goal("twice", criteria={"type": "count", "event": "login", "target": 2})
    tracked = receive(event_tracked)
    changed = receive(progress_changed)
    completed = receive(goal_completed)

    gamify.track("login", "u1", event_id="evt-1")
    assert len(tracked) == 1
    assert len(changed) == 1
    gamify.track("login", "u1", event_id="evt-1")

    assert len(tracked) == 1
    assert len(changed) == 1
    assert completed == []
    assert gamify.progress("u1", "twice").current == 1


def test_goal_completed_once_per_award(
    app: Flask, gamify: Gamify, receive: Callable[[NamedSignal], Received]
) -> None:
    gamify.define_goal("once", criteria={"type": "count", "event": "login", "target": 1})
    gamify.define_goal(
        "pair",
        criteria={"type": "count", "event": "login", "target": 2},
        repeatable=True,
        max_awards=3,
    )
    completed = receive(goal_completed)

    for _ in range(8):
        gamify.track("login", "u1")

    assert [(kw["goal"], kw["award"].occurrence) for _, kw in completed] == [
        ("once", 1),
        ("pair", 1),
        ("pair", 2),
        ("pair", 3),
    ]
    assert [(a.goal, a.occurrence) for a in gamify.awards("u1")] == [
        (kw["goal"], kw["award"].occurrence) for _, kw in completed
    ]


def test_prerequisite_goal_completion_sends_both(
    app: Flask, gamify: Gamify, receive: Callable[[NamedSignal], Received]
) -> None:
    gamify.define_goal("reader", criteria={"type": "count", "event": "read", "target": 1})
    gamify.define_goal("graduate", criteria={"type": "goal", "goal": "reader"})
    completed = receive(goal_completed)

    gamify.track("read", "u1")

    assert [kw["goal"] for _, kw in completed] == ["reader", "graduate"]
