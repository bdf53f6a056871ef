"""Defining goals: upsert by key, options, validation, archiving and lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from werkzeug.exceptions import Conflict, NotFound, UnprocessableEntity

from flask_gamify import (
    CriteriaError,
    Gamify,
    GamifyError,
    GoalArchived,
    GoalError,
    GoalNotFound,
    GoalView,
)

pytestmark = pytest.mark.usefixtures("app")

LOGIN = {"type": "count", "event": "login", "target": 3}
ONE_LOGIN = {"type": "count", "event": "login", "target": 1}


def keys(goals: list[GoalView]) -> list[str]:
    return [goal.key for goal in goals]


# -- defining ----------------------------------------------------------------------------


def test_define_goal_returns_view_with_defaults(gamify: Gamify) -> None:
    view = gamify.define_goal("login", criteria=LOGIN)
    assert isinstance(view, GoalView)
    assert view.key == "login"
    assert view.name == "login"
    assert view.description == ""
    assert view.criteria == LOGIN
    assert view.points == 0
    assert (view.repeatable, view.max_awards, view.hidden, view.assigned_only) == (
        False,
        None,
        False,
        False,
    )
    assert (view.owner, view.starts_at, view.ends_at) == (None, None, None)
    assert view.entity_type == "user"
    assert view.archived is False
    assert view.created_at.tzinfo is not None
    assert gamify.goal("login") == view


def test_define_goal_upserts_by_key(gamify: Gamify) -> None:
    first = gamify.define_goal("reader", name="Reader", criteria=LOGIN, points=5)
    criteria = {"type": "distinct", "event": "article.read", "field": "article_id", "target": 2}
    second = gamify.define_goal("reader", name="Avid reader", criteria=criteria, points=50)
    assert isinstance(second, GoalView)
    assert (second.name, second.points, second.criteria) == ("Avid reader", 50, criteria)
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    goals = gamify.goals()
    assert keys(goals) == ["reader"]
    assert goals[0] == second


def test_redefining_changes_what_counts(gamify: Gamify) -> None:
    gamify.define_goal("reader", criteria=LOGIN)
    criteria = {"type": "count", "event": "article.read", "target": 2}
    gamify.define_goal("reader", criteria=criteria)
    gamify.track("login", 1)
    gamify.track("article.read", 1)
    progress = gamify.progress(1, "reader")
    assert (progress.current, progress.target) == (1, 2)


def test_every_option_is_stored_and_returned(gamify: Gamify) -> None:
    starts = datetime(2030, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    options: dict[str, Any] = {
        "name": "Python week",
        "description": "Read three Python articles during the week.",
        "points": 25,
        "repeatable": True,
        "max_awards": 3,
        "hidden": True,
        "assigned_only": True,
        "owner": "alice",
        "starts_at": starts,
        "ends_at": "2030-01-08T00:00:00Z",
        "entity_type": "team",
    }
    view = gamify.define_goal("python-week", criteria=LOGIN, **options)
    for stored in (view, gamify.goal("python-week")):
        assert stored.name == "Python week"
        assert stored.description == options["description"]
        assert stored.points == 25
        assert stored.repeatable is True
        assert stored.max_awards == 3
        assert stored.hidden is True
        assert stored.assigned_only is True
        assert stored.owner == "alice"
        assert stored.starts_at == starts
        assert stored.starts_at == datetime(2030, 1, 1, 7, 30, tzinfo=UTC)
        assert stored.ends_at == datetime(2030, 1, 8, tzinfo=UTC)
        assert stored.starts_at.tzinfo is not None and stored.ends_at.tzinfo is not None
        assert stored.entity_type == "team"


def test_naive_iso_times_are_utc(gamify: Gamify) -> None:
    view = gamify.define_goal(
        "window", criteria=LOGIN, starts_at="2030-05-01T12:00:00", ends_at="2030-05-02T12:00"
    )
    assert view.starts_at == datetime(2030, 5, 1, 12, tzinfo=UTC)
    assert gamify.goal("window").ends_at == datetime(2030, 5, 2, 12, tzinfo=UTC)


# -- validation ------------------------------------------------------------------------


INVALID_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"key": "has space"}, "key"),
    ({"key": ""}, "key"),
    ({"key": "-leading-dash"}, "key"),
    ({"key": "k" * 201}, "key"),
    ({"points": -1}, "points"),
    ({"points": True}, "points"),
    ({"points": 1.5}, "points"),
    ({"max_awards": 3}, "max_awards"),
    ({"repeatable": True, "max_awards": 0}, "max_awards"),
    ({"repeatable": "yes"}, "repeatable"),
    ({"hidden": 1}, "hidden"),
    ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "next tuesday"}, "starts_at"),
    ({"colour": "red"}, "colour"),
    ({"name": ""}, "name"),
    ({"entity_type": ""}, "entity_type"),
]


def test_invalid_options_raise_goal_error(gamify: Gamify) -> None:
    # One test for every case: each app fixture setup costs a schema rebuild.
    for options, field in INVALID_OPTIONS:
        definition = {"key": "goal", "criteria": LOGIN, **options}
        with pytest.raises(GoalError) as info:
            gamify.define_goals([definition])
        message = str(info.value)
        assert field in info.value.errors, (options, info.value.errors)
        assert message.startswith(f"{field}: ") or f"; {field}: " in message, (options, message)
    error = info.value
    assert isinstance(error, UnprocessableEntity) and isinstance(error, GamifyError)
    assert error.code == 422
    assert field in error.description
    assert gamify.goals(include_archived=True) == []


def test_invalid_criteria_names_the_path(gamify: Gamify) -> None:
    criteria = {"type": "all", "of": [{"type": "count", "event": "login", "target": 0}]}
    with pytest.raises(CriteriaError) as info:
        gamify.define_goal("bad", criteria=criteria)
    assert list(info.value.errors) == ["criteria.of[0].target"]
    assert str(info.value).startswith("criteria.of[0].target: ")
    assert info.value.code == 422
    assert isinstance(info.value, UnprocessableEntity)
    with pytest.raises(CriteriaError) as info:
        gamify.define_goal("bad", criteria={"event": "login", "target": 1})
    assert all(path.startswith("criteria") for path in info.value.errors)
    assert gamify.goals() == []


def test_unknown_goal_reference_names_the_path(gamify: Gamify) -> None:
    criteria = {"type": "all", "of": [LOGIN, {"type": "goal", "goal": "nope"}]}
    with pytest.raises(CriteriaError) as info:
        gamify.define_goal("needs-nope", criteria=criteria)
    assert list(info.value.errors) == ["criteria.of[1].goal"]
    assert "'nope'" in str(info.value)
    assert gamify.goals() == []


def test_cycle_between_goals_is_rejected(gamify: Gamify) -> None:
    gamify.define_goal("a", criteria=LOGIN)
    gamify.define_goal("b", criteria={"type": "goal", "goal": "a"})
    with pytest.raises(CriteriaError, match="cycle") as info:
        gamify.define_goal(
            "a", criteria={"type": "any", "of": [LOGIN, {"type": "goal", "goal": "b"}]}
        )
    assert list(info.value.errors) == ["criteria.of[1].goal"]
    assert gamify.goal("a").criteria == LOGIN


def test_cycle_within_one_batch_is_rejected(gamify: Gamify) -> None:
    with pytest.raises(CriteriaError, match="cycle"):
        gamify.define_goals(
            [
                {"key": "a", "criteria": {"type": "goal", "goal": "b"}},
                {"key": "b", "criteria": {"type": "goal", "goal": "a"}},
            ]
        )
    assert gamify.goals() == []


def test_self_reference_is_rejected(gamify: Gamify) -> None:
    with pytest.raises(CriteriaError) as info:
        gamify.define_goal("self", criteria={"type": "goal", "goal": "self"})
    assert list(info.value.errors) == ["criteria.goal"]
    assert gamify.goals() == []


def test_reference_to_goal_in_the_same_batch_is_allowed(gamify: Gamify) -> None:
    saved = gamify.define_goals(
        [
            {"key": "master", "criteria": {"type": "goal", "goal": "basics"}},
            {"key": "basics", "criteria": ONE_LOGIN},
        ]
    )
    assert keys(saved) == ["master", "basics"]
    gamify.track("login", 1)
    assert gamify.has_completed(1, "master")


# -- define_goals -------------------------------------------------------------------------


def test_define_goals_saves_all(gamify: Gamify) -> None:
    saved = gamify.define_goals(
        [{"key": "one", "criteria": LOGIN}, {"key": "two", "criteria": LOGIN, "points": 2}]
    )
    assert keys(saved) == ["one", "two"]
    assert all(isinstance(goal, GoalView) for goal in saved)
    assert keys(gamify.goals()) == ["one", "two"]


def test_define_goals_is_all_or_nothing(gamify: Gamify) -> None:
    gamify.define_goal("existing", name="Before", criteria=LOGIN)
    bad = {"type": "count", "event": "login", "target": -2}
    with pytest.raises(CriteriaError) as info:
        gamify.define_goals(
            [
                {"key": "existing", "name": "After", "criteria": LOGIN},
                {"key": "second", "criteria": bad},
                {"key": "third", "criteria": LOGIN},
            ]
        )
    assert list(info.value.errors) == ["goals[1].criteria.target"]
    assert keys(gamify.goals()) == ["existing"]
    assert gamify.goal("existing").name == "Before"


def test_define_goals_prefixes_option_errors(gamify: Gamify) -> None:
    with pytest.raises(GoalError) as info:
        gamify.define_goals(
            [{"key": "fine", "criteria": LOGIN}, {"key": "bad", "criteria": LOGIN, "points": -1}]
        )
    assert list(info.value.errors) == ["goals[1].points"]
    assert gamify.goals() == []


def test_define_goals_rejects_repeated_keys(gamify: Gamify) -> None:
    with pytest.raises(GoalError) as info:
        gamify.define_goals([{"key": "twice", "criteria": LOGIN}] * 2)
    assert "twice" in str(info.value)
    assert gamify.goals() == []


def test_define_goals_prefixes_reference_errors(gamify: Gamify) -> None:
    with pytest.raises(CriteriaError) as info:
        gamify.define_goals(
            [
                {"key": "fine", "criteria": LOGIN},
                {"key": "bad", "criteria": {"type": "goal", "goal": "missing"}},
            ]
        )
    assert gamify.goals() == []
    assert list(info.value.errors) == ["goals[1].criteria.goal"]


# -- archiving -----------------------------------------------------------------------------


def test_archive_goal_hides_it(gamify: Gamify) -> None:
    gamify.define_goals([{"key": "kept", "criteria": LOGIN}, {"key": "old", "criteria": LOGIN}])
    view = gamify.archive_goal("old")
    assert view.archived is True
    assert keys(gamify.goals()) == ["kept"]
    archived = gamify.goals(include_archived=True)
    assert keys(archived) == ["kept", "old"]
    assert [goal.archived for goal in archived] == [False, True]
    assert gamify.goal("old").archived is True
    assert [progress.goal for progress in gamify.progress(1)] == ["kept"]
    again = gamify.archive_goal("old")
    assert again.archived is True
    assert keys(gamify.goals(include_archived=True)) == ["kept", "old"]


def test_archive_stops_progress_and_keeps_awards(gamify: Gamify) -> None:
    gamify.define_goal("first-login", criteria=ONE_LOGIN, points=10)
    gamify.define_goal("regular", criteria=LOGIN)
    gamify.track("login", 1)
    assert gamify.has_completed(1, "first-login")
    assert gamify.progress(1, "regular").current == 1

    gamify.archive_goal("first-login")
    gamify.archive_goal("regular")
    gamify.track("login", 1)
    gamify.track("login", 1)

    assert gamify.progress(1, "regular").current == 1
    assert not gamify.has_completed(1, "regular")
    assert [award.goal for award in gamify.awards(1)] == ["first-login"]
    assert gamify.has_completed(1, "first-login")
    assert gamify.points(1) == 10
    # Another entity starts nothing on an archived goal.
    gamify.track("login", 2)
    assert gamify.progress(2, "first-login").completed is False


def test_defining_an_archived_goal_is_refused_until_restored(gamify: Gamify) -> None:
    gamify.define_goal("regular", criteria=LOGIN, points=1)
    gamify.archive_goal("regular")
    with pytest.raises(GoalArchived) as info:
        gamify.define_goal("regular", criteria=LOGIN, points=2)
    assert info.value.code == 409 and isinstance(info.value, Conflict)
    assert "restore_goal('regular')" in info.value.message
    # Refused whole: the goal stays archived, with its definition.
    assert gamify.goal("regular").archived is True
    assert gamify.goal("regular").points == 1
    with pytest.raises(GoalArchived):
        gamify.define_goals(
            [{"key": "other", "criteria": LOGIN}, {"key": "regular", "criteria": LOGIN}]
        )
    assert keys(gamify.goals(include_archived=True)) == ["regular"]

    restored = gamify.restore_goal("regular")
    assert restored.archived is False and restored.points == 1
    assert gamify.restore_goal("regular").archived is False  # restoring again: no change
    view = gamify.define_goal("regular", criteria=LOGIN, points=2)
    assert (view.archived, view.points) == (False, 2)
    gamify.track("login", 1)
    assert gamify.progress(1, "regular").current == 1
    with pytest.raises(GoalNotFound):
        gamify.restore_goal("nope")


def test_goal_not_found(gamify: Gamify) -> None:
    gamify.define_goal("exists", criteria=LOGIN)
    for call in (
        lambda: gamify.goal("nope"),
        lambda: gamify.archive_goal("nope"),
        lambda: gamify.progress(1, "nope"),
    ):
        with pytest.raises(GoalNotFound) as info:
            call()
        error = info.value
        assert error.key == "nope"
        assert isinstance(error, NotFound) and isinstance(error, GamifyError)
        assert error.code == 404
        assert "'nope'" in str(error) and "define_goal" in str(error)


def test_goals_filter_by_owner_and_entity_type(gamify: Gamify) -> None:
    gamify.define_goals(
        [
            {"key": "alice-user", "criteria": LOGIN, "owner": "alice"},
            {"key": "alice-team", "criteria": LOGIN, "owner": "alice", "entity_type": "team"},
            {"key": "bob-user", "criteria": LOGIN, "owner": "bob"},
            {"key": "nobody", "criteria": LOGIN},
        ]
    )
    gamify.archive_goal("bob-user")
    assert keys(gamify.goals()) == ["alice-team", "alice-user", "nobody"]
    assert keys(gamify.goals(owner="alice")) == ["alice-team", "alice-user"]
    assert keys(gamify.goals(owner="bob")) == []
    assert keys(gamify.goals(owner="bob", include_archived=True)) == ["bob-user"]
    assert keys(gamify.goals(entity_type="team")) == ["alice-team"]
    assert keys(gamify.goals(entity_type="user")) == ["alice-user", "nobody"]
    assert keys(gamify.goals(owner="alice", entity_type="user")) == ["alice-user"]
    assert gamify.goals(owner="carol") == []
    # Sorted by key, not by definition order.
    gamify.define_goal("aardvark", criteria=LOGIN)
    assert keys(gamify.goals())[0] == "aardvark"


# -- edge cases of stored values ----------------------------------------------------------


def test_points_beyond_database_range_are_a_goal_error(gamify: Gamify) -> None:
    with pytest.raises(GoalError) as info:
        gamify.define_goal("huge", criteria=LOGIN, points=2**63)
    assert "points" in info.value.errors


def test_unrepresentable_start_time_is_a_goal_error(gamify: Gamify) -> None:
    with pytest.raises(GoalError) as info:
        gamify.define_goal("ancient", criteria=LOGIN, starts_at="0001-01-01T00:00:00+01:00")
    assert "starts_at" in info.value.errors
