"""Awards given and revoked by hand: the rules, the signals, the audit trail, what
progress does afterwards, backfills, concurrency, and inline or pipeline mode alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from pipeline_support import gamify_of
from werkzeug.exceptions import Conflict, NotFound

from flask_gamify import (
    AlreadyAwarded,
    AwardChangeView,
    AwardError,
    AwardNotFound,
    AwardView,
    Gamify,
    GoalNotFound,
    InvalidInputError,
)
from flask_gamify.signals import (
    assignment_completed,
    award_revoked,
    goal_completed,
    progress_changed,
)

LOGIN_ONCE = {"type": "count", "event": "login", "target": 1}
TWO_LOGINS = {"type": "count", "event": "login", "target": 2}
COMMENTS = {"type": "count", "event": "comment", "target": 3}


@pytest.fixture
def received(app: Flask) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Every signal's keyword arguments, by signal name."""
    seen: dict[str, list[dict[str, Any]]] = {}
    receivers = []
    for signal in (goal_completed, award_revoked, progress_changed, assignment_completed):

        def receive(sender: Any, _name: str = signal.name, **kwargs: Any) -> None:
            assert sender is app
            seen.setdefault(_name, []).append(kwargs)

        signal.connect(receive)
        receivers.append((signal, receive))
    yield seen
    for signal, receive in receivers:
        signal.disconnect(receive)


def test_award_by_hand_counts_like_an_earned_one(
    app: Flask, gamify: Gamify, received: dict[str, list[dict[str, Any]]]
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, points=10)
    gamify.track("comment", "ann")

    award = gamify.award("ann", "talker", reason="conference talk", changed_by="staff")

    assert isinstance(award, AwardView)
    assert (award.goal, award.entity, award.occurrence, award.points) == ("talker", "ann", 1, 10)
    assert gamify.has_completed("ann", "talker")
    assert gamify.points("ann") == 10
    progress = gamify.progress("ann", "talker")
    assert (progress.completed, progress.times_completed, progress.percent) == (True, 1, 100)
    [completed] = received["goal-completed"]
    assert completed["manual"] is True and completed["backfill"] is False
    assert (completed["goal"], completed["entity"], completed["entity_type"]) == (
        "talker",
        "ann",
        "user",
    )
    assert completed["award"] == award
    [changed] = [kwargs for kwargs in received["progress-changed"] if kwargs["manual"]]
    assert changed["progress"].completed
    [notice] = gamify.notifications("ann")
    assert (notice.kind, notice.data) == (
        "goal-completed",
        {"goal": "talker", "occurrence": 1, "points": 10},
    )
    [change] = gamify.award_changes()
    assert isinstance(change, AwardChangeView)
    assert change.to_dict() | {"id": 0, "changed_at": None} == {
        "id": 0,
        "goal": "talker",
        "name": "talker",
        "entity_type": "user",
        "entity": "ann",
        "occurrence": 1,
        "action": "awarded",
        "points": 10,
        "reason": "conference talk",
        "changed_by": "staff",
        "changed_at": None,
    }
    # The criteria do not give the occurrence again: the manual award stands for it.
    gamify.track("comment", "ann")
    gamify.track("comment", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1]
    assert len(received["goal-completed"]) == 1


def test_earned_signals_say_they_are_not_manual(
    app: Flask, gamify: Gamify, received: dict[str, list[dict[str, Any]]]
) -> None:
    gamify.define_goal("first-login", criteria=LOGIN_ONCE)
    gamify.track("login", "ann")
    [completed] = received["goal-completed"]
    assert completed["manual"] is False


def test_award_refusals(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("once", criteria=LOGIN_ONCE)
    gamify.define_goal("thrice", criteria=LOGIN_ONCE, repeatable=True, max_awards=2)
    gamify.define_goal("draft", criteria=LOGIN_ONCE, status="draft")
    gamify.define_goal("gone", criteria=LOGIN_ONCE)
    gamify.archive_goal("gone")
    gamify.define_goal("teams", criteria=LOGIN_ONCE, entity_type="team")

    gamify.award("ann", "once", reason="welcome")
    with pytest.raises(AwardError, match=r"already holds it.*not repeatable") as refused:
        gamify.award("ann", "once", reason="again")
    assert isinstance(refused.value, Conflict)
    assert isinstance(refused.value, AlreadyAwarded)
    gamify.award("ann", "thrice", reason="one")
    gamify.award("ann", "thrice", reason="two")
    with pytest.raises(AwardError, match="2 times, the goal's max_awards"):
        gamify.award("ann", "thrice", reason="three")
    with pytest.raises(AwardError, match=r"is a draft.*activate_goal"):
        gamify.award("ann", "draft", reason="early")
    with pytest.raises(AwardError, match=r"is archived.*restore_goal"):
        gamify.award("ann", "gone", reason="late")
    with pytest.raises(AwardError, match=r"type 'team'.*entity_type='team'"):
        gamify.award("ann", "teams", reason="wrong type")
    gamify.award("reds", "teams", entity_type="team", reason="right type")
    with pytest.raises(GoalNotFound):
        gamify.award("ann", "nope", reason="no such goal")
    for reason in ("", "   "):
        with pytest.raises(InvalidInputError) as bad:
            gamify.award("bob", "once", reason=reason)
        assert list(bad.value.errors) == ["reason"]
        assert "cannot be empty" in bad.value.errors["reason"][0]
    with pytest.raises(InvalidInputError) as bad:
        gamify.award("", "once", reason="x" * 2001)
    assert sorted(bad.value.errors) == ["entity", "reason"]
    # Nothing refused left a trace.
    assert [a.goal for a in gamify.awards("bob")] == []
    assert {(c.goal, c.entity) for c in gamify.award_changes()} == {
        ("once", "ann"),
        ("thrice", "ann"),
        ("teams", "reds"),
    }


def test_revoke_records_signals_and_takes_points(
    app: Flask, gamify: Gamify, received: dict[str, list[dict[str, Any]]]
) -> None:
    gamify.define_goal("first-login", criteria=LOGIN_ONCE, points=5)
    gamify.track("login", "ann")
    assert gamify.points("ann") == 5

    removed = gamify.revoke_award("ann", "first-login", reason="spam", changed_by="mod")

    assert (removed.goal, removed.entity, removed.occurrence, removed.points) == (
        "first-login",
        "ann",
        1,
        5,
    )
    assert not gamify.has_completed("ann", "first-login")
    assert gamify.points("ann") == 0
    assert gamify.awards("ann") == []
    progress = gamify.progress("ann", "first-login")
    assert (progress.completed, progress.times_completed, progress.completed_at) == (
        False,
        0,
        None,
    )
    [revoked] = received["award-revoked"]
    assert revoked["award"] == removed
    assert (revoked["reason"], revoked["changed_by"], revoked["manual"]) == ("spam", "mod", True)
    assert revoked["backfill"] is False
    [change] = gamify.award_changes(goal="first-login")
    assert (change.action, change.occurrence, change.points, change.reason) == (
        "revoked",
        1,
        5,
        "spam",
    )
    # The history that earned it does not give it back.
    gamify.track("login", "ann")
    assert not gamify.has_completed("ann", "first-login")
    assert len(received["goal-completed"]) == 1
    # A person can give it back.
    again = gamify.award("ann", "first-login", reason="appeal granted")
    assert again.occurrence == 1
    assert gamify.has_completed("ann", "first-login")


def test_revoke_refusals(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first-login", criteria=LOGIN_ONCE)
    with pytest.raises(AwardNotFound, match="does not hold any award") as missing:
        gamify.revoke_award("ann", "first-login", reason="spam")
    assert isinstance(missing.value, NotFound)
    gamify.track("login", "ann")
    with pytest.raises(AwardNotFound, match="occurrence 2"):
        gamify.revoke_award("ann", "first-login", 2, reason="spam")
    with pytest.raises(InvalidInputError) as bad:
        gamify.revoke_award("ann", "first-login", reason="")
    assert list(bad.value.errors) == ["reason"]
    with pytest.raises(InvalidInputError) as bad:
        gamify.revoke_award("ann", "first-login", 0, reason="spam")
    assert list(bad.value.errors) == ["occurrence"]
    with pytest.raises(GoalNotFound):
        gamify.revoke_award("ann", "nope", reason="spam")
    assert gamify.has_completed("ann", "first-login")
    assert gamify.award_changes() == []


def test_a_repeatable_goal_is_earned_again_by_new_completions(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("regular", criteria=TWO_LOGINS, repeatable=True, points=1)
    for _ in range(6):
        gamify.track("login", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1, 2, 3]

    gamify.revoke_award("ann", "regular", 2, reason="duplicate logins")
    assert [a.occurrence for a in gamify.awards("ann")] == [1, 3]
    assert gamify.progress("ann", "regular").times_completed == 2
    assert gamify.points("ann") == 2
    gamify.revoke_award("ann", "regular", reason="latest by default")
    assert [a.occurrence for a in gamify.awards("ann")] == [1]

    gamify.track("login", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1]  # 7 logins: still 3
    gamify.track("login", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1, 4]
    # By hand: the next occurrence.
    assert gamify.award("ann", "regular", reason="bonus").occurrence == 5


def test_max_awards_counts_what_is_held(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("limited", criteria=LOGIN_ONCE, repeatable=True, max_awards=2)
    for _ in range(3):
        gamify.track("login", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1, 2]
    gamify.revoke_award("ann", "limited", 1, reason="mistake")
    gamify.track("login", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [2]
    # A person refills the revoked occurrence; then the limit is reached again.
    assert gamify.award("ann", "limited", reason="restored").occurrence == 1
    with pytest.raises(AwardError):
        gamify.award("ann", "limited", reason="one too many")


def test_reset_progress_lets_the_entity_earn_it_again_from_new_events(
    app: Flask, gamify: Gamify
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, points=3)
    for _ in range(3):
        gamify.track("comment", "ann")
    assert gamify.has_completed("ann", "talker")

    gamify.revoke_award("ann", "talker", reason="spam comments", reset_progress=True)

    progress = gamify.progress("ann", "talker")
    assert (progress.completed, progress.current, progress.percent) == (False, 0, 0)
    assert [c.action for c in gamify.award_changes()] == ["progress-reset", "revoked"]
    gamify.track("comment", "ann")
    gamify.track("comment", "ann")
    assert not gamify.has_completed("ann", "talker")
    assert gamify.progress("ann", "talker").current == 2
    gamify.track("comment", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1]
    # A backfill counts only what came after the reset: the award stays, once.
    gamify.backfill("talker", revoke=True)
    assert [a.occurrence for a in gamify.awards("ann")] == [1]
    assert gamify.progress("ann", "talker").current == 3


def test_reset_progress_before_new_events_survives_a_backfill(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("talker", criteria=COMMENTS)
    for _ in range(3):
        gamify.track("comment", "ann")
    gamify.revoke_award("ann", "talker", reason="spam", reset_progress=True)
    gamify.backfill("talker")
    assert not gamify.has_completed("ann", "talker")
    assert gamify.progress("ann", "talker").current == 0
    for _ in range(3):
        gamify.track("comment", "ann")
    assert gamify.has_completed("ann", "talker")


@pytest.mark.parametrize("revoke", [False, True])
def test_a_backfill_never_gives_a_revoked_award_back(
    app: Flask, gamify: Gamify, revoke: bool, received: dict[str, list[dict[str, Any]]]
) -> None:
    gamify.define_goal("first-login", criteria=LOGIN_ONCE)
    gamify.define_goal("regular", criteria=LOGIN_ONCE, repeatable=True)
    gamify.track("login", "ann")
    gamify.track("login", "ann")
    gamify.revoke_award("ann", "first-login", reason="spam")
    gamify.revoke_award("ann", "regular", 1, reason="spam")

    view = gamify.backfill("first-login", revoke=revoke)
    assert (view.awarded, view.revoked) == (0, 0)
    gamify.backfill("regular", revoke=revoke)
    assert not gamify.has_completed("ann", "first-login")
    assert [a.occurrence for a in gamify.awards("ann")] == [2]
    gamify.track("login", "ann")
    assert [(a.goal, a.occurrence) for a in gamify.awards("ann")] == [
        ("regular", 2),
        ("regular", 3),
    ]


def test_a_backfill_keeps_awards_given_by_hand(
    app: Flask, gamify: Gamify, received: dict[str, list[dict[str, Any]]]
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, repeatable=True)
    gamify.award("ann", "talker", reason="talk at the meetup")
    for _ in range(3):
        gamify.track("comment", "bob")
    gamify.define_goal("talker", criteria={**COMMENTS, "target": 4}, repeatable=True)
    gamify.backfill("talker", revoke=True)
    # Bob no longer qualifies and loses his award (signalled as a backfill); Ann's
    # award was given by a person and stays.
    assert gamify.has_completed("ann", "talker")
    assert gamify.progress("ann", "talker").times_completed == 1
    assert not gamify.has_completed("bob", "talker")
    revoked = received["award-revoked"]
    assert [(r["entity"], r["backfill"], r["manual"], r["reason"]) for r in revoked] == [
        ("bob", True, False, None)
    ]
    # The award by hand stands for the first completion: the criteria give the second.
    for _ in range(4):
        gamify.track("comment", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1]
    for _ in range(4):
        gamify.track("comment", "ann")
    assert [a.occurrence for a in gamify.awards("ann")] == [1, 2]


def test_a_revoked_prerequisite_no_longer_counts(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("first-login", criteria=LOGIN_ONCE)
    gamify.define_goal("commenter", criteria={"type": "count", "event": "comment", "target": 1})
    gamify.define_goal(
        "regular",
        criteria={
            "type": "all",
            "of": [{"type": "goal", "goal": "first-login"}, {"type": "goal", "goal": "commenter"}],
        },
    )
    gamify.track("login", "ann")
    gamify.revoke_award("ann", "first-login", reason="spam")
    gamify.track("comment", "ann")
    assert not gamify.has_completed("ann", "regular")
    assert gamify.progress("ann", "regular").percent < 100
    assert gamify.preview("regular").completed == 0
    gamify.award("ann", "first-login", reason="verified by hand")
    assert gamify.has_completed("ann", "regular")


def test_a_to_do_goal_given_by_hand_completes_the_assignment(
    app: Flask, gamify: Gamify, received: dict[str, list[dict[str, Any]]]
) -> None:
    gamify.define_goal("onboarding", criteria=LOGIN_ONCE, assigned_only=True)
    gamify.assign("onboarding", assignee="ann", assigned_by="boss")
    gamify.award("ann", "onboarding", reason="did it offline")
    [assignment] = gamify.assignments(assignee="ann")
    assert assignment.completed
    [signal] = received["assignment-completed"]
    assert (signal["entity"], signal["manual"]) == ("ann", True)
    assert [n.kind for n in gamify.notifications("boss")] == ["assignment-completed"]
    # Revoking it leaves the assignment completed: it records when the work was done.
    gamify.revoke_award("ann", "onboarding", reason="did not do it after all")
    assert gamify.assignments(assignee="ann")[0].completed


def test_no_notification_without_notify_awards(app: Flask, gamify: Gamify) -> None:
    gamify.state.processor.notify_awards = False
    gamify.define_goal("once", criteria=LOGIN_ONCE)
    gamify.award("ann", "once", reason="welcome")
    assert gamify.notifications("ann") == []


def test_award_changes_filters_and_pages(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("a", criteria=LOGIN_ONCE, owner="alice")
    gamify.define_goal("b", criteria=LOGIN_ONCE, entity_type="team")
    gamify.award("ann", "a", reason="1")
    gamify.award("reds", "b", entity_type="team", reason="2")
    gamify.award("bob", "a", reason="3")
    gamify.revoke_award("ann", "a", reason="4")

    assert [c.reason for c in gamify.award_changes()] == ["4", "3", "2", "1"]
    assert [c.reason for c in gamify.award_changes(goal="a")] == ["4", "3", "1"]
    assert [c.reason for c in gamify.award_changes(entity="ann")] == ["4", "1"]
    assert [c.reason for c in gamify.award_changes(owner="alice")] == ["4", "3", "1"]
    assert [c.reason for c in gamify.award_changes(owner="nobody")] == []
    assert [c.reason for c in gamify.award_changes(entity="reds")] == []
    assert [c.reason for c in gamify.award_changes(entity="reds", entity_type="team")] == ["2"]
    first = gamify.award_changes(limit=2)
    assert [c.reason for c in first] == ["4", "3"]
    assert [c.reason for c in gamify.award_changes(limit=2, before_id=first[-1].id)] == [
        "2",
        "1",
    ]
    with pytest.raises(GoalNotFound):
        gamify.award_changes(goal="nope")
    for bad in ({"limit": 0}, {"limit": 1001}, {"before_id": 0}, {"limit": "5"}):
        with pytest.raises(InvalidInputError):
            gamify.award_changes(**bad)


def test_revoking_from_an_archived_goal(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("old", criteria=LOGIN_ONCE)
    gamify.track("login", "ann")
    gamify.archive_goal("old")
    gamify.revoke_award("ann", "old", reason="cleaning up")
    assert gamify.awards("ann") == []


def run_at_once(app: Flask, work: Callable[[], Any], count: int) -> list[Any]:
    """Run ``work`` in ``count`` threads started together; their results or errors."""
    barrier = threading.Barrier(count)
    outcomes: list[Any] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(work())
            except Exception as error:
                outcomes.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_manual_awards_at_once_give_one(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("once", criteria=LOGIN_ONCE)
    outcomes = run_at_once(app, lambda: gamify.award("ann", "once", reason="race"), 4)
    awards = [outcome for outcome in outcomes if isinstance(outcome, AwardView)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, AwardError)]
    assert (len(awards), len(refusals)) == (1, 3), outcomes
    assert [a.occurrence for a in gamify.awards("ann")] == [1]
    assert len(gamify.award_changes()) == 1


def test_manual_awards_at_once_on_a_repeatable_goal_each_count(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("kudos", criteria=LOGIN_ONCE, repeatable=True)
    outcomes = run_at_once(app, lambda: gamify.award("ann", "kudos", reason="race"), 3)
    assert all(isinstance(outcome, AwardView) for outcome in outcomes), outcomes
    assert sorted(a.occurrence for a in gamify.awards("ann")) == [1, 2, 3]
    assert gamify.progress("ann", "kudos").times_completed == 3


def test_two_revocations_at_once_take_one_award(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("once", criteria=LOGIN_ONCE)
    gamify.track("login", "ann")
    outcomes = run_at_once(app, lambda: gamify.revoke_award("ann", "once", 1, reason="race"), 3)
    assert sum(isinstance(outcome, AwardView) for outcome in outcomes) == 1, outcomes
    assert sum(isinstance(outcome, AwardNotFound) for outcome in outcomes) == 2
    assert [c.action for c in gamify.award_changes()] == ["revoked"]


def test_award_and_revoke_are_synchronous_with_the_pipeline(papp: Flask) -> None:
    """With Redis, events wait for workers; awards by hand do not (none runs here)."""
    gamify = gamify_of(papp)
    gamify.define_goal("kudos", criteria=LOGIN_ONCE, repeatable=True, points=2)
    given = gamify.award("ann", "kudos", reason="helpful")
    assert [a.occurrence for a in gamify.awards("ann")] == [given.occurrence] == [1]
    assert gamify.points("ann") == 2
    gamify.revoke_award("ann", "kudos", reason="mistake")
    assert gamify.awards("ann") == []
    assert [c.action for c in gamify.award_changes(goal="kudos")] == ["revoked", "awarded"]
