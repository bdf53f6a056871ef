"""Goals count the history they are introduced into: drafts, activation, backfill.

Inline (no Redis) the backfill runs inside ``define_goal``/``activate_goal``; the test of a
backfill running beside live processing uses two processes on PostgreSQL, and the
pipeline tests at the end run it as an RQ job on real workers.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
from conftest import wait_for
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pipeline_support import Workers, gamify_of
from sqlalchemy import func, select, update
from workload import GOALS, as_arguments, make_app, make_events, snapshot

from flask_gamify import Gamify, GoalIsDraft
from flask_gamify import backfill as backfill_module
from flask_gamify import goals as goal_store
from flask_gamify.events import make_event
from flask_gamify.models import Award, Backfill, utcnow
from flask_gamify.processing import catalog_barrier
from flask_gamify.signals import goal_completed

LOGINS = {"type": "count", "event": "login", "target": 5}


def logins(gamify: Gamify, entity: str, count: int) -> None:
    for _ in range(count):
        gamify.track("login", entity)


def test_a_new_goal_counts_the_history_with_backfilled_signals(app: Flask, gamify: Gamify) -> None:
    logins(gamify, "ann", 5)
    logins(gamify, "bob", 2)
    received: list[dict[str, Any]] = []

    def on_completed(sender: Flask, **kwargs: Any) -> None:
        received.append(kwargs)

    with goal_completed.connected_to(on_completed, app):
        gamify.define_goal("five-logins", criteria=LOGINS, points=7)
    assert gamify.has_completed("ann", "five-logins")
    assert gamify.progress("bob", "five-logins").current == 2
    assert [(kw["entity"], kw["backfill"]) for kw in received] == [("ann", True)]
    [view] = gamify.backfills("five-logins")
    assert (view.status, view.total, view.done, view.awarded) == ("done", 2, 2, 1)

    received.clear()
    with goal_completed.connected_to(on_completed, app):
        logins(gamify, "bob", 3)
    assert [(kw["entity"], kw["backfill"]) for kw in received] == [("bob", False)]


def test_changing_a_target_recomputes_instead_of_restarting(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("logins", criteria=LOGINS)
    logins(gamify, "ann", 3)
    logins(gamify, "bob", 6)
    gamify.define_goal("logins", criteria={**LOGINS, "target": 6})
    assert gamify.progress("ann", "logins").current == 3, "not 0/6"
    gamify.define_goal("logins", criteria={**LOGINS, "target": 3})
    assert gamify.has_completed("ann", "logins"), "3 logins complete a target of 3"
    assert gamify.progress("bob", "logins").completed


def test_awards_stay_unless_revocation_is_asked_for(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("pair", criteria={**LOGINS, "target": 2}, points=5)
    logins(gamify, "ann", 2)
    assert gamify.has_completed("ann", "pair")

    gamify.define_goal("pair", criteria={**LOGINS, "target": 5}, points=5)
    shown = gamify.progress("ann", "pair")
    assert (shown.current, shown.target, shown.percent, shown.completed) == (2, 5, 40, False)
    assert gamify.has_completed("ann", "pair"), "the award given stays"

    view = gamify.backfill("pair", revoke=True)
    assert (view.status, view.revoked) == ("done", 1)
    assert not gamify.has_completed("ann", "pair")
    assert gamify.points("ann") == 0
    logins(gamify, "ann", 3)
    assert gamify.has_completed("ann", "pair"), "earned again under the new definition"


def test_raising_max_awards_lets_the_next_occurrence_award(app: Flask, gamify: Gamify) -> None:
    goal = {"criteria": {**LOGINS, "target": 1}, "repeatable": True}
    gamify.define_goal("daily", **goal, max_awards=2)
    logins(gamify, "ann", 4)
    assert len(gamify.awards("ann")) == 2
    gamify.define_goal("daily", **goal, max_awards=3)
    assert len(gamify.awards("ann")) == 3, "the history already holds a third occurrence"
    logins(gamify, "ann", 1)
    assert len(gamify.awards("ann")) == 3


def test_a_prerequisite_met_earlier_counts_for_a_goal_defined_later(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal("first-login", criteria={**LOGINS, "target": 1})
    logins(gamify, "ann", 1)
    gamify.define_goal("regular", criteria={"type": "goal", "goal": "first-login"})
    assert gamify.has_completed("ann", "regular")


def test_drafts_never_progress_and_activation_counts_history(app: Flask, gamify: Gamify) -> None:
    view = gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    assert view.status == "draft"
    logins(gamify, "ann", 3)
    assert "talker" not in [p.goal for p in gamify.progress("ann")]
    with gamify.state.transaction() as session:
        assert session.execute(select(func.count()).select_from(Award)).scalar_one() == 0
    with pytest.raises(GoalIsDraft, match="activate it first"):
        gamify.backfill("talker")

    assert gamify.activate_goal("talker").status == "active"
    assert gamify.has_completed("ann", "talker")
    assert "talker" in [p.goal for p in gamify.progress("ann")]
    assert len(gamify.backfills("talker")) == 1
    gamify.activate_goal("talker")
    assert len(gamify.backfills("talker")) == 1, "activating an active goal changes nothing"


def _goal_notifications(gamify: Gamify, entity: str) -> list[str]:
    return [n.data["goal"] for n in gamify.notifications(entity) if n.kind == "goal-completed"]


def test_activation_without_history_counts_only_new_events(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    logins(gamify, "ann", 3)
    gamify.activate_goal("talker", changed_by="staff", count_history=False)
    assert gamify.backfills("talker") == []
    assert not gamify.has_completed("ann", "talker")
    logins(gamify, "ann", 1)
    assert gamify.progress("ann", "talker").current == 1
    assert gamify.goal_versions("talker")[-1].changed_by == "staff"


@pytest.mark.parametrize("notify", [True, False])
def test_activation_notifies_backfilled_awards_only_when_asked(
    app: Flask, gamify: Gamify, notify: bool
) -> None:
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    logins(gamify, "ann", 3)
    gamify.activate_goal("talker", notify=notify)
    assert gamify.has_completed("ann", "talker")
    [view] = gamify.backfills("talker")
    assert (view.notify, view.to_dict()["notify"], view.awarded) == (notify, notify, 1)
    assert _goal_notifications(gamify, "ann") == (["talker"] if notify else [])
    logins(gamify, "bob", 2)  # live awards notify as always
    assert _goal_notifications(gamify, "bob") == ["talker"]


def test_a_quiet_backfill_still_tells_assigners(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("todo", criteria={**LOGINS, "target": 1}, assigned_only=True, status="draft")
    gamify.assign("todo", assignee="ann", assigned_by="boss")
    logins(gamify, "ann", 1)
    gamify.activate_goal("todo", notify=False)
    assert gamify.has_completed("ann", "todo")
    assert _goal_notifications(gamify, "ann") == []
    assert [n.kind for n in gamify.notifications("boss")] == ["assignment-completed"]


def test_a_backfill_resumes_from_its_checkpoint_without_counting_twice(
    app: Flask, gamify: Gamify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill_module, "CHUNK", 3)
    events = make_events(300, entities=10, seed=4)
    entities = {event.entity_id for event in events}
    gamify.define_goals(GOALS)
    gamify.state.processor.process(events)
    expected = snapshot(gamify, entities)

    gamify.drop_all()
    gamify.create_all()
    gamify.state.processor.process(events)  # the history, before any goal exists
    gamify.define_goals([{**goal, "status": "draft"} for goal in GOALS])
    state = gamify.state
    for goal in GOALS:  # prerequisites first
        with state.transaction() as session:
            goal_store.activate_goal(session, goal["key"])
        view = backfill_module.start_backfill(state, goal["key"])
        answers = iter([True, True])  # two chunks, then the worker "dies"
        stopped = backfill_module.run_backfill(
            app, state, view.id, keep_alive=lambda answers=answers: next(answers, False)
        )
        assert stopped.status == "running" and stopped.done == min(6, stopped.total)
        with state.transaction() as session:  # as if the last checkpoint was lost
            session.execute(
                update(Backfill)
                .where(Backfill.id == view.id)
                .values(last_entity_type=None, last_entity_id=None)
            )
        finished = backfill_module.run_backfill(app, state, view.id)
        assert finished.status == "done", finished
    assert snapshot(gamify, entities) == expected
    with state.transaction() as session:
        awards = session.execute(select(Award.goal_id, Award.entity_id, Award.occurrence)).all()
    assert len(awards) == len(set(awards)) > 0


def _process_live(database_url: str, events: list[dict[str, Any]], barrier: Any) -> None:
    from flask_gamify.events import make_event

    app, gamify = make_app(database_url)
    tracked = [make_event(e.pop("type"), e.pop("entity"), **e) for e in events]
    with app.app_context():
        barrier.wait(timeout=60)
        for start in range(0, len(tracked), 10):
            gamify.state.processor.process(tracked[start : start + 10])


def test_a_backfill_beside_live_processing_counts_every_event_once(
    app: Flask,
    gamify: Gamify,
    database_url: str,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not is_postgres:
        pytest.skip("concurrent writers need PostgreSQL (SQLite allows one writer)")
    events = make_events(1200, entities=12, seed=7)
    history, live = events[:700], events[700:]
    entities = {event.entity_id for event in events}

    # The oracle: every goal defined from the start, every event processed in turn.
    gamify.define_goals(GOALS)
    gamify.state.processor.process(events)
    expected = snapshot(gamify, entities)

    gamify.drop_all()
    gamify.create_all()
    others = [goal for goal in GOALS if goal["key"] != "login-3"]
    gamify.define_goals(others)
    gamify.state.processor.process(history)
    # A draft, activated in one process (a backfill) while another processes live events.
    gamify.define_goals([{**GOALS[0], "status": "draft"}])

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [
        context.Process(
            target=_activate_and_backfill_small_chunks, args=(database_url, "login-3", barrier)
        ),
        context.Process(
            target=_process_live,
            args=(database_url, [as_arguments(event) for event in live], barrier),
        ),
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode == 0, "a process failed; see its output above"

    assert by_goal(snapshot(gamify, entities)) == by_goal(expected)
    with gamify.state.transaction() as session:
        awards = session.execute(select(Award.goal_id, Award.entity_id, Award.occurrence)).all()
    assert len(awards) == len(set(awards)) > 0


def by_goal(observed: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with each entity's progress in goal key order (goals defined later
    are listed later)."""
    return {
        entity: {**seen, "progress": sorted(seen["progress"], key=lambda view: view["goal"])}
        for entity, seen in observed.items()
    }


def _activate_and_backfill_small_chunks(database_url: str, key: str, barrier: Any) -> None:
    backfill_module.CHUNK = 2  # many transactions, interleaved with the live batches
    app, gamify = make_app(database_url)
    with app.app_context():
        barrier.wait(timeout=60)
        gamify.activate_goal(key)
        [view] = gamify.backfills(key)
        assert view.status == "done", view


# -- with Redis: backfills are RQ jobs on the workers ----------------------------------


def test_a_backfill_runs_on_the_workers_and_survives_a_killed_worker(
    papp: Flask, workers: Workers
) -> None:
    gamify = gamify_of(papp)
    events = make_events(1200, entities=400, seed=9)
    gamify.state.processor.process(events)  # history, processed before the goal exists
    workers.env["GAMIFY_PIPELINE_TEST_BACKFILL_CHUNK"] = "1"
    view = gamify.define_goal("many-logins", criteria={**LOGINS, "target": 4})
    [queued] = gamify.backfills("many-logins")
    assert queued.status == "queued" and queued.total > 0

    victim = workers.start("victim")
    wait_for(
        lambda: gamify.backfills("many-logins")[0].done >= 3,
        timeout=60,
        message="the victim was backfilling",
    )
    victim.kill()
    victim.wait(timeout=10)
    assert gamify.backfills("many-logins")[0].status == "running"

    workers.start("rescuer")
    done = wait_for(
        lambda: (
            gamify.backfills("many-logins")[0].status == "done"
            and gamify.backfills("many-logins")[0]
        ),
        timeout=90,
        message="another worker resumed the backfill and finished it",
    )
    assert done.done == done.total
    assert "Resuming backfill" in workers.log("rescuer")
    counts: dict[str, int] = {}
    for event in events:
        if event.type == "login":
            counts[event.entity_id] = counts.get(event.entity_id, 0) + 1
    for entity, count in counts.items():
        assert gamify.progress(entity, "many-logins").current == min(count, 4), entity
    assert view.status == "active"


def test_the_workers_follow_a_backfill_s_notify_flag(papp: Flask, workers: Workers) -> None:
    gamify = gamify_of(papp)
    history = [make_event("login", entity, entity_type="user") for entity in ("ann", "bob")]
    gamify.state.processor.process(history)
    gamify.define_goal("loud", criteria={**LOGINS, "target": 1}, status="draft")
    gamify.define_goal("quiet", criteria={**LOGINS, "target": 1}, status="draft")
    gamify.activate_goal("loud", notify=True)
    gamify.activate_goal("quiet", notify=False)
    assert [gamify.backfills(key)[0].status for key in ("loud", "quiet")] == ["queued"] * 2
    workers.start("w1")
    wait_for(
        lambda: all(gamify.backfills(key)[0].status == "done" for key in ("loud", "quiet")),
        timeout=60,
        message="the workers ran both backfills",
    )
    for entity in ("ann", "bob"):
        assert gamify.has_completed(entity, "quiet") and gamify.has_completed(entity, "loud")
        assert "loud" in _goal_notifications(gamify, entity)
        assert "quiet" not in _goal_notifications(gamify, entity)


def test_a_backfill_waits_for_batches_that_read_the_goals_before_the_change(
    app: Flask, gamify: Gamify, is_postgres: bool
) -> None:
    """A batch that saw the goal as a draft commits after the activation: its events must
    still count (the backfill waits for it rather than missing them)."""
    if not is_postgres:
        pytest.skip("SQLite writers take turns; the race needs concurrent writers")
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    processor = gamify.state.processor
    events = [make_event("login", "ann", event_id=f"slow-{n}") for n in range(2)]
    outcome: list[BaseException | None] = []

    def activate() -> None:
        try:
            with app.app_context():
                gamify.activate_goal("talker")
            outcome.append(None)
        except BaseException as error:  # reported by the assertion below
            outcome.append(error)

    activation = threading.Thread(target=activate)
    with processor.session_factory() as session, session.begin():
        catalog_barrier(session, exclusive=False)
        processor._process(session, events, utcnow())  # sees "talker" as a draft
        activation.start()
        wait_for(
            lambda: gamify.backfills("talker"),
            timeout=30,
            message="the goal was activated and its backfill began",
        )
        activation.join(timeout=1)
        assert activation.is_alive(), "the backfill must wait for this batch"
    activation.join(timeout=60)
    assert outcome == [None]
    assert gamify.has_completed("ann", "talker"), "the batch's events were counted"


def test_live_events_are_processed_between_slices_of_a_long_backfill(
    papp: Flask, workers: Workers
) -> None:
    gamify = gamify_of(papp)
    # 200 slices of one entity, each made slower: the backfill lasts 10 s or more.
    gamify.state.processor.process(make_events(400, entities=200, seed=10))
    workers.env["GAMIFY_PIPELINE_TEST_BACKFILL_CHUNK"] = "1"
    workers.env["GAMIFY_PIPELINE_TEST_BACKFILL_SLICE_DELAY"] = "0.05"
    workers.env["GAMIFY_PIPELINE_TEST_DRAIN_SECONDS"] = "1"
    gamify.define_goal("many-logins", criteria={**LOGINS, "target": 4})
    workers.start("w1")
    wait_for(
        lambda: gamify.backfills("many-logins")[0].done > 0,
        timeout=30,
        message="the backfill began",
    )
    for _ in range(3):
        gamify.track("login", "live-user")
    wait_for(
        lambda: gamify.has_completed("live-user", "login-3"),
        timeout=30,
        message="a live event was processed",
    )
    during = gamify.backfills("many-logins")[0]
    assert not during.finished, "live events did not wait for the whole backfill"
    done = wait_for(
        lambda: gamify.backfills("many-logins")[0].finished and gamify.backfills("many-logins")[0],
        timeout=120,
        message="the backfill finished, slice after slice",
    )
    assert (done.status, done.done) == ("done", done.total)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # tables reset per example
    phases=[Phase.generate],  # each example resets a database: no shrinking
)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    split=st.floats(min_value=0.0, max_value=1.0),
    goal_index=st.integers(min_value=0, max_value=len(GOALS) - 2),
)
def test_a_goal_defined_mid_history_ends_as_if_defined_from_the_start(
    app: Flask, gamify: Gamify, seed: int, split: float, goal_index: int
) -> None:
    """The oracle: the same events with every goal defined from the start. Here one goal
    (and the goals depending on it) is defined after part of the history was processed:
    its backfill, then the live rest, must give the same progress and awards."""
    events = make_events(120, entities=5, seed=seed)
    entities = {event.entity_id for event in events}
    late_key = GOALS[goal_index]["key"]
    later = [goal for goal in GOALS if goal["key"] == late_key or goal["key"] == "veteran"]
    first = [goal for goal in GOALS if goal not in later]

    gamify.drop_all()
    gamify.create_all()
    gamify.define_goals(GOALS)
    gamify.state.processor.process(events)
    expected = by_goal(snapshot(gamify, entities))

    gamify.drop_all()
    gamify.create_all()
    cut = int(len(events) * split)
    gamify.define_goals(first)
    gamify.state.processor.process(events[:cut])
    gamify.define_goals(later)
    for start in range(cut, len(events), 17):
        gamify.state.processor.process(events[start : start + 17])
    assert by_goal(snapshot(gamify, entities)) == expected


def test_restoring_an_archived_goal_counts_the_events_it_missed(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("five-logins", criteria=LOGINS)
    logins(gamify, "ann", 2)
    gamify.archive_goal("five-logins")
    logins(gamify, "ann", 3)
    assert gamify.progress("ann", "five-logins").current == 2, "archived: no progress"
    gamify.restore_goal("five-logins")
    assert gamify.has_completed("ann", "five-logins")


def test_goals_activate_command_reports_only_the_backfill_it_started(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    logins(gamify, "ann", 2)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["gamify", "goals", "activate", "talker"])
    assert first.exit_code == 0, first.output
    assert "talker is active." in first.output
    assert "done; 1 of 1 entities rebuilt, 1 award(s) given" in first.output
    again = runner.invoke(args=["gamify", "goals", "activate", "talker"])
    assert again.exit_code == 0 and "Backfill" not in again.output, again.output


def test_goals_activate_command_without_history(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    logins(gamify, "ann", 2)
    result = app.test_cli_runner().invoke(
        args=["gamify", "goals", "activate", "talker", "--no-history"]
    )
    assert result.exit_code == 0, result.output
    assert "talker is active; history not counted" in result.output
    assert "Backfill" not in result.output
    assert gamify.goal("talker").status == "active"
    assert gamify.backfills("talker") == []
    assert not gamify.has_completed("ann", "talker")
    logins(gamify, "ann", 2)
    assert gamify.has_completed("ann", "talker"), "new events count"


@pytest.mark.parametrize("quiet", [False, True])
def test_goals_activate_command_notifies_only_without_no_notify(
    app: Flask, gamify: Gamify, quiet: bool
) -> None:
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    logins(gamify, "ann", 2)
    flags = ["--no-notify"] if quiet else []
    result = app.test_cli_runner().invoke(args=["gamify", "goals", "activate", "talker", *flags])
    assert result.exit_code == 0, result.output
    assert "1 award(s) given" in result.output
    assert gamify.has_completed("ann", "talker")
    [view] = gamify.backfills("talker")
    assert view.notify is not quiet
    assert _goal_notifications(gamify, "ann") == ([] if quiet else ["talker"])


@pytest.mark.parametrize("quiet", [False, True])
def test_goals_backfill_command_notifies_only_without_no_notify(
    app: Flask, gamify: Gamify, quiet: bool
) -> None:
    gamify.define_goal("talker", criteria={**LOGINS, "target": 2}, status="draft")
    logins(gamify, "ann", 2)
    gamify.activate_goal("talker", count_history=False)
    flags = ["--no-notify"] if quiet else []
    result = app.test_cli_runner().invoke(args=["gamify", "goals", "backfill", "talker", *flags])
    assert result.exit_code == 0, result.output
    assert "1 award(s) given" in result.output
    [view] = gamify.backfills("talker")
    assert view.notify is not quiet
    assert _goal_notifications(gamify, "ann") == ([] if quiet else ["talker"])
