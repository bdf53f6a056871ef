"""Assigned goals (to-do lists): assigning, progressing, completing, notifying."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from werkzeug.exceptions import Conflict, NotFound

from flask_gamify import AssignmentError, AssignmentView, Gamify, GamifyError, GoalNotFound
from flask_gamify.signals import assignment_completed

TODO = {"type": "all_of", "event": "task.done", "field": "task", "values": ["a", "b"]}


@pytest.fixture
def todo(app: Flask, gamify: Gamify) -> str:
    gamify.define_goal("onboarding", criteria=TODO, assigned_only=True, points=5)
    return "onboarding"


@pytest.fixture
def completions(app: Flask) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    received: list[tuple[Any, dict[str, Any]]] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        received.append((sender, kwargs))

    assignment_completed.connect(receive)
    yield received
    assignment_completed.disconnect(receive)


def finish(gamify: Gamify, entity: str | int, *tasks: str) -> None:
    for task in tasks:
        gamify.track("task.done", entity, attributes={"task": task})


# -- assigning ---------------------------------------------------------------------------


def test_assign_returns_the_assignment(app: Flask, gamify: Gamify, todo: str) -> None:
    due = datetime(2031, 1, 15, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    before = datetime.now(UTC)

    assignment = gamify.assign(todo, assignee="bob", assigned_by="alice", due_at=due)

    assert isinstance(assignment, AssignmentView)
    assert assignment.goal == "onboarding"
    assert (assignment.entity_type, assignment.entity) == ("user", "bob")
    assert (assignment.assigned_by_type, assignment.assigned_by) == ("user", "alice")
    assert assignment.due_at == due
    assert assignment.completed_at is None
    assert not assignment.completed
    assert before - timedelta(seconds=1) <= assignment.assigned_at
    data = json.loads(json.dumps(assignment.to_dict()))
    assert data["id"] == assignment.id
    assert data["completed"] is False

    [stored] = gamify.assignments(assignee="bob")
    assert stored.id == assignment.id
    assert stored.due_at == due
    assert stored.assigned_by == "alice"


def test_assign_accepts_int_ids(app: Flask, gamify: Gamify, todo: str) -> None:
    assignment = gamify.assign(todo, assignee=2, assigned_by=1)

    assert (assignment.entity, assignment.assigned_by) == ("2", "1")
    assert [a.id for a in gamify.assignments(assignee="2")] == [assignment.id]
    assert [a.id for a in gamify.assignments(assigned_by=1)] == [assignment.id]


def test_assigning_twice_returns_the_same_assignment(app: Flask, gamify: Gamify, todo: str) -> None:
    first = gamify.assign(todo, assignee="bob", assigned_by="alice")
    second = gamify.assign(todo, assignee="bob", assigned_by="carol")
    other = gamify.assign(todo, assignee="dave", assigned_by="alice")

    assert second.id == first.id
    assert second.assigned_by == "alice"
    assert other.id != first.id
    assert [a.id for a in gamify.assignments(assignee="bob")] == [first.id]


def test_assigning_an_open_goal_is_a_conflict(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("open", criteria=TODO)

    with pytest.raises(AssignmentError) as caught:
        gamify.assign("open", assignee="bob")

    assert isinstance(caught.value, Conflict)
    assert isinstance(caught.value, GamifyError)
    assert caught.value.code == 409
    assert "assigned_only" in str(caught.value)
    assert gamify.assignments(assignee="bob") == []


def test_assigning_an_archived_goal_is_a_conflict(app: Flask, gamify: Gamify, todo: str) -> None:
    gamify.archive_goal(todo)

    with pytest.raises(AssignmentError):
        gamify.assign(todo, assignee="bob")


def test_assigning_an_unknown_goal(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(GoalNotFound) as caught:
        gamify.assign("nope", assignee="bob")

    assert isinstance(caught.value, NotFound)
    assert caught.value.code == 404


# -- progressing -------------------------------------------------------------------------


def test_only_assignees_progress(app: Flask, gamify: Gamify, todo: str) -> None:
    gamify.assign(todo, assignee="bob", assigned_by="alice")

    finish(gamify, "bob", "a", "b")
    finish(gamify, "carol", "a", "b")

    assert gamify.has_completed("bob", todo)
    assert not gamify.has_completed("carol", todo)
    assert gamify.progress("carol", todo).current == 0
    assert gamify.awards("carol") == []


def test_events_before_the_assignment_do_not_count(app: Flask, gamify: Gamify, todo: str) -> None:
    finish(gamify, "bob", "a")  # tracked before the assignment
    gamify.assign(todo, assignee="bob", assigned_by="alice")
    gamify.track(
        "task.done",
        "bob",
        attributes={"task": "b"},
        occurred_at=datetime.now(UTC) - timedelta(hours=1),  # arrives late
    )

    view = gamify.progress("bob", todo)
    assert (view.current, view.target, view.completed) == (0, 2, False)

    finish(gamify, "bob", "b")
    assert gamify.progress("bob", todo).current == 1
    finish(gamify, "bob", "a")
    assert gamify.has_completed("bob", todo)


# -- completing --------------------------------------------------------------------------


def test_completion_signals_notifies_and_records(
    app: Flask,
    gamify: Gamify,
    todo: str,
    completions: list[tuple[Any, dict[str, Any]]],
) -> None:
    assignment = gamify.assign(todo, assignee="bob", assigned_by="alice")
    gamify.define_goal("open", criteria=TODO)  # completes at the same time; not assigned

    finish(gamify, "bob", "a")
    assert completions == []
    assert gamify.notifications("alice") == []

    finish(gamify, "bob", "b")
    finish(gamify, "bob", "a", "b")  # more events after completion change nothing

    assert len(completions) == 1
    sender, kwargs = completions[0]
    assert sender is app
    assert kwargs["goal"] == "onboarding"
    assert kwargs["entity"] == "bob"
    assert kwargs["entity_type"] == "user"
    assert kwargs["assigned_by"] == "alice"
    done = kwargs["assignment"]
    assert isinstance(done, AssignmentView)
    assert done.id == assignment.id
    assert done.completed_at is not None

    [by_assignee] = gamify.assignments(assignee="bob")
    [by_assigner] = gamify.assignments(assigned_by="alice")
    assert by_assignee.id == by_assigner.id == assignment.id
    assert by_assignee.completed
    assert by_assignee.completed_at == done.completed_at
    assert gamify.assignments(assignee="alice") == []

    [notification] = gamify.notifications("alice")
    assert notification.kind == "assignment-completed"
    assert notification.data["goal"] == "onboarding"
    assert notification.data["assignee"] == "bob"
    assert not notification.read
    json.dumps(notification.to_dict())
    # The assignee hears about the award, not about the assignment.
    assert "assignment-completed" not in {n.kind for n in gamify.notifications("bob")}


def test_repeatable_assigned_goal_completes_the_assignment_once(
    app: Flask, gamify: Gamify, completions: list[tuple[Any, dict[str, Any]]]
) -> None:
    gamify.define_goal(
        "chores",
        criteria={"type": "count", "event": "chore", "target": 1},
        assigned_only=True,
        repeatable=True,
        max_awards=3,
    )
    gamify.assign("chores", assignee="bob", assigned_by="alice")
    for _ in range(3):
        gamify.track("chore", "bob")

    assert [a.occurrence for a in gamify.awards("bob")] == [1, 2, 3]
    assert len(completions) == 1
    assert [n.kind for n in gamify.notifications("alice")] == ["assignment-completed"]


def test_assignment_without_assigner_notifies_nobody(
    app: Flask, gamify: Gamify, todo: str, completions: list[tuple[Any, dict[str, Any]]]
) -> None:
    gamify.assign(todo, assignee="bob")
    finish(gamify, "bob", "a", "b")

    assert len(completions) == 1
    assert completions[0][1]["assigned_by"] is None
    assert gamify.assignments(assignee="bob")[0].completed


# -- notifications -----------------------------------------------------------------------


def _complete_two_assignments(gamify: Gamify) -> None:
    for key in ("todo-1", "todo-2"):
        gamify.define_goal(key, criteria=TODO, assigned_only=True)
        gamify.assign(key, assignee="bob", assigned_by="alice")
        gamify.assign(key, assignee="dave", assigned_by="erin")
    finish(gamify, "bob", "a", "b")
    finish(gamify, "dave", "a", "b")


def test_notifications_unread_and_mark_read(app: Flask, gamify: Gamify) -> None:
    _complete_two_assignments(gamify)

    notifications = gamify.notifications("alice")
    assert [n.kind for n in notifications] == ["assignment-completed"] * 2
    assert [n.data["goal"] for n in notifications] == ["todo-2", "todo-1"]  # newest first
    assert notifications[0].id > notifications[1].id
    assert [n.id for n in gamify.notifications("alice", limit=1)] == [notifications[0].id]

    assert gamify.mark_notifications_read("alice", [notifications[1].id]) == 1
    unread = gamify.notifications("alice", unread_only=True)
    assert [n.id for n in unread] == [notifications[0].id]
    read = {n.id: n for n in gamify.notifications("alice")}[notifications[1].id]
    assert read.read and read.read_at is not None
    # Marking again changes nothing.
    assert gamify.mark_notifications_read("alice", [notifications[1].id]) == 0

    assert gamify.mark_notifications_read("alice") == 1
    assert gamify.notifications("alice", unread_only=True) == []
    assert len(gamify.notifications("alice")) == 2


def test_notifications_of_others_are_not_marked(app: Flask, gamify: Gamify) -> None:
    _complete_two_assignments(gamify)
    erins = gamify.notifications("erin")
    assert len(erins) == 2

    # alice cannot mark erin's notifications, even by id.
    assert gamify.mark_notifications_read("alice", [n.id for n in erins]) == 0
    assert gamify.mark_notifications_read("alice") == 2
    assert len(gamify.notifications("erin", unread_only=True)) == 2
    assert gamify.notifications("alice", unread_only=True) == []

    # Another entity type with the same id is another entity.
    assert gamify.mark_notifications_read("erin", entity_type="team") == 0
    assert len(gamify.notifications("erin", unread_only=True)) == 2
