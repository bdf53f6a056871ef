"""Checking a goal definition without saving it (``Gamify.check_goal``)."""

from __future__ import annotations

import pytest

from flask_gamify import CriteriaError, Gamify, GoalError
from flask_gamify.errors import GoalReferenceError

pytestmark = pytest.mark.usefixtures("app")

ONE_LOGIN = {"type": "count", "event": "login", "target": 1}


def test_a_valid_definition_comes_back_with_defaults_and_nothing_is_saved(gamify: Gamify) -> None:
    checked = gamify.check_goal("talker", criteria=ONE_LOGIN, points=5)
    assert checked["key"] == "talker"
    assert checked["points"] == 5
    assert checked["entity_type"] == "user"
    assert checked["name"] == "talker"
    assert gamify.goals() == []


def test_criteria_errors_carry_the_paths_define_goal_uses(gamify: Gamify) -> None:
    criteria = {"type": "any", "of": [ONE_LOGIN, {"type": "count", "event": "x", "target": 0}]}
    with pytest.raises(CriteriaError) as checked:
        gamify.check_goal("bad", criteria=criteria)
    with pytest.raises(CriteriaError) as defined:
        gamify.define_goal("bad", criteria=criteria)
    assert checked.value.errors == defined.value.errors
    assert list(checked.value.errors) == ["criteria.of[1].target"]


def test_other_options_raise_goal_error(gamify: Gamify) -> None:
    with pytest.raises(GoalError) as error:
        gamify.check_goal("bad", criteria=ONE_LOGIN, max_awards=3)
    assert list(error.value.errors) == ["max_awards"]


def test_references_to_missing_goals_and_cycles_are_refused(gamify: Gamify) -> None:
    with pytest.raises(GoalReferenceError) as missing:
        gamify.check_goal("next", criteria={"type": "goal", "goal": "first"})
    assert list(missing.value.errors) == ["criteria.goal"]
    assert "does not exist" in missing.value.errors["criteria.goal"][0]
    gamify.define_goal("first", criteria=ONE_LOGIN)
    gamify.define_goal("second", criteria={"type": "goal", "goal": "first"})
    assert gamify.check_goal("next", criteria={"type": "goal", "goal": "second"})
    cycle = {"type": "all", "of": [ONE_LOGIN, {"type": "goal", "goal": "second"}]}
    with pytest.raises(GoalReferenceError) as looped:
        gamify.check_goal("first", criteria=cycle)
    assert "cycle" in looped.value.errors["criteria.of[1].goal"][0]
    assert gamify.goal("first").criteria == ONE_LOGIN
