"""Invalid criteria raise CriteriaError naming the path of the bad field."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from flask_gamify import CriteriaError
from flask_gamify.criteria import (
    EvaluationContext,
    compile_criteria,
    validate_criteria,
    without_labels,
)
from flask_gamify.errors import CriteriaError as CriteriaErrorFromErrors

TYPES = ["count", "sum", "distinct", "all_of", "streak", "sequence", "all", "any", "goal"]
COUNT = {"type": "count", "event": "login", "target": 1}


def error_for(criteria: t.Any) -> CriteriaError:
    with pytest.raises(CriteriaError) as info:
        compile_criteria(criteria)
    return info.value


def assert_rejected(criteria: t.Any, path: str, *words: str) -> CriteriaError:
    """Compiling ``criteria`` fails, and the message names ``path`` and ``words``."""
    error = error_for(criteria)
    message = str(error)
    assert path in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    assert error.errors, "errors should map paths to messages"
    assert any(path.removeprefix("criteria") in key for key in error.errors), error.errors
    assert all(isinstance(m, str) and m for messages in error.errors.values() for m in messages)
    return error


def test_one_error_class() -> None:
    assert CriteriaError is CriteriaErrorFromErrors


def test_valid_criteria_of_every_type_compile() -> None:
    valid = [
        COUNT,
        {
            **COUNT,
            "where": {"score": {"gte": 80, "lt": 100}, "lang": {"in": ["en"]}},
            "window": "4w",
        },
        {"type": "sum", "event": "purchase", "field": "amount", "target": 2.5, "window": "30m"},
        {"type": "distinct", "event": "read", "field": "article_id", "target": 10},
        {"type": "all_of", "event": "read", "field": "article_id", "values": ["a", 1, True, 2.5]},
        {"type": "streak", "event": "login", "target": 7, "period": "week"},
        {
            "type": "sequence",
            "steps": [{"event": "a"}, {"event": "b", "where": {"x": 1}}],
            "window": "24h",
        },
        {"type": "all", "of": [COUNT, {"type": "any", "of": [{"type": "goal", "goal": "reader"}]}]},
    ]
    for criteria in valid:
        assert compile_criteria(criteria) is not None


# -- type -----------------------------------------------------------------------------------


def test_unknown_type_lists_the_allowed_types() -> None:
    error = assert_rejected({"type": "average", "event": "x"}, "criteria.type")
    for name in TYPES:
        assert name in str(error)


def test_missing_type() -> None:
    assert_rejected({"event": "login", "target": 1}, "criteria.type")


def test_type_must_be_a_string() -> None:
    assert_rejected({"type": 5}, "criteria.type")


@pytest.mark.parametrize("criteria", [["count"], "count", 5, None])
def test_criteria_must_be_an_object(criteria: t.Any) -> None:
    assert_rejected(criteria, "criteria")


# -- target ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["count", "distinct", "streak"])
@pytest.mark.parametrize("target", [0, -1, 1.5, "5", True, None, [1]])
def test_integer_target_must_be_a_positive_integer(kind: str, target: t.Any) -> None:
    criteria = {"type": kind, "event": "login", "target": target}
    if kind == "distinct":
        criteria["field"] = "article_id"
    assert_rejected(criteria, "criteria.target", "integer")


@pytest.mark.parametrize("kind", ["count", "distinct", "streak", "sum"])
def test_missing_target(kind: str) -> None:
    criteria: dict[str, t.Any] = {"type": kind, "event": "login"}
    if kind in ("distinct", "sum"):
        criteria["field"] = "amount"
    assert_rejected(criteria, "criteria.target")


@pytest.mark.parametrize("target", [0, -1, -0.5, "5", True, None])
def test_sum_target_must_be_a_positive_number(target: t.Any) -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": target}
    assert_rejected(criteria, "criteria.target", "positive")


def test_sum_target_may_be_fractional() -> None:
    criteria = {"type": "sum", "event": "purchase", "field": "amount", "target": 0.5}
    context = EvaluationContext(now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert compile_criteria(criteria).evaluate(None, context).target == 0.5


# -- required fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        ({"type": "count", "target": 1}, "criteria.event"),
        ({"type": "count", "event": 5, "target": 1}, "criteria.event"),
        ({"type": "sum", "event": "purchase", "target": 1}, "criteria.field"),
        ({"type": "distinct", "event": "read", "target": 1}, "criteria.field"),
        ({"type": "all_of", "event": "read", "field": "id"}, "criteria.values"),
        ({"type": "sequence"}, "criteria.steps"),
        ({"type": "all"}, "criteria.of"),
        ({"type": "any", "of": {"type": "count"}}, "criteria.of"),
        ({"type": "goal"}, "criteria.goal"),
        ({"type": "goal", "goal": 5}, "criteria.goal"),
    ],
)
def test_required_fields(criteria: dict[str, t.Any], path: str) -> None:
    assert_rejected(criteria, path)


# -- window and period ------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["7", "0d", "1y", 5, "-1d", "1.5h", "d", "", "7 d", "7D"])
@pytest.mark.parametrize(
    "criteria",
    [
        COUNT,
        {"type": "sum", "event": "purchase", "field": "amount", "target": 1},
        {"type": "sequence", "steps": [{"event": "a"}]},
    ],
    ids=["count", "sum", "sequence"],
)
def test_bad_window(criteria: dict[str, t.Any], window: t.Any) -> None:
    assert_rejected({**criteria, "window": window}, "criteria.window")


@pytest.mark.parametrize("window", ["30s", "30m", "24h", "7d", "4w"])
def test_good_window(window: str) -> None:
    assert compile_criteria({**COUNT, "window": window}) is not None


def test_bad_period() -> None:
    assert_rejected(
        {"type": "streak", "event": "login", "target": 2, "period": "month"}, "criteria.period"
    )


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        (
            {"type": "distinct", "event": "read", "field": "id", "target": 1, "window": "1d"},
            "window",
        ),
        ({"type": "streak", "event": "login", "target": 1, "window": "1d"}, "window"),
        ({**COUNT, "period": "day"}, "period"),
        ({**COUNT, "color": "red"}, "color"),
        ({"type": "goal", "goal": "reader", "event": "login"}, "event"),
        ({"type": "all", "of": [COUNT], "target": 1}, "target"),
    ],
)
def test_unknown_fields_are_rejected(criteria: dict[str, t.Any], field: str) -> None:
    assert_rejected(criteria, f"criteria.{field}")


# -- where ------------------------------------------------------------------------------------


def test_unknown_operator() -> None:
    assert_rejected({**COUNT, "where": {"name": {"like": "a%"}}}, "criteria.where.name", "like")


@pytest.mark.parametrize("operand", ["en", 1, {"a": 1}, None])
def test_in_needs_a_list(operand: t.Any) -> None:
    assert_rejected({**COUNT, "where": {"lang": {"in": operand}}}, "criteria.where.lang", "list")


def test_where_must_be_an_object() -> None:
    assert_rejected({**COUNT, "where": [["lang", "en"]]}, "criteria.where")


def test_where_in_a_step() -> None:
    criteria = {
        "type": "sequence",
        "steps": [{"event": "a"}, {"event": "b", "where": {"x": {"between": [1, 2]}}}],
    }
    assert_rejected(criteria, "criteria.steps[1].where.x")


# -- lists ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        ({"type": "all", "of": []}, "criteria.of"),
        ({"type": "any", "of": []}, "criteria.of"),
        ({"type": "sequence", "steps": []}, "criteria.steps"),
        ({"type": "all_of", "event": "read", "field": "id", "values": []}, "criteria.values"),
    ],
)
def test_lists_must_not_be_empty(criteria: dict[str, t.Any], path: str) -> None:
    assert_rejected(criteria, path)


@pytest.mark.parametrize("values", [["a", "a"], [1, 2, 1], [1, 1.0]])
def test_all_of_values_must_be_different(values: list[t.Any]) -> None:
    assert_rejected(
        {"type": "all_of", "event": "read", "field": "id", "values": values}, "criteria.values"
    )


def test_all_of_true_and_1_are_different_values() -> None:
    assert (
        compile_criteria({"type": "all_of", "event": "read", "field": "id", "values": [True, 1]})
        is not None
    )


@pytest.mark.parametrize("value", [None, [1], {"a": 1}])
def test_all_of_values_are_strings_numbers_or_booleans(value: t.Any) -> None:
    assert_rejected(
        {"type": "all_of", "event": "read", "field": "id", "values": ["a", value]},
        "criteria.values",
    )


def test_values_must_be_a_list() -> None:
    assert_rejected(
        {"type": "all_of", "event": "read", "field": "id", "values": "abc"}, "criteria.values"
    )


# -- nested paths -----------------------------------------------------------------------------


def test_nested_target_path() -> None:
    criteria = {"type": "all", "of": [COUNT, {"type": "count", "event": "login", "target": 0}]}
    assert_rejected(criteria, "criteria.of[1].target", "positive integer")


def test_deeply_nested_path() -> None:
    criteria = {
        "type": "any",
        "of": [COUNT, {"type": "all", "of": [COUNT, COUNT, {"type": "teleport"}]}],
    }
    assert_rejected(criteria, "criteria.of[1].of[2].type")


def test_step_event_path() -> None:
    assert_rejected({"type": "sequence", "steps": [{"where": {"x": 1}}]}, "criteria.steps[0].event")
    assert_rejected(
        {"type": "sequence", "steps": [{"event": "a"}, {"event": 3}]}, "criteria.steps[1].event"
    )


@pytest.mark.parametrize("step", ["a", None, 5])
def test_step_must_be_an_object(step: t.Any) -> None:
    assert_rejected({"type": "sequence", "steps": [step]}, "criteria.steps[0]", "object")


def test_unknown_step_field() -> None:
    assert_rejected(
        {"type": "sequence", "steps": [{"event": "a", "window": "1h"}]}, "criteria.steps[0].window"
    )


def test_child_must_be_an_object() -> None:
    assert_rejected({"type": "all", "of": [COUNT, "count"]}, "criteria.of[1]")


@pytest.mark.parametrize("event", [None, 5, ["login"]])
def test_event_must_be_a_string(event: t.Any) -> None:
    assert_rejected({**COUNT, "event": event}, "criteria.event", "string")


@pytest.mark.parametrize("period", ["month", 5, None, "Day"])
def test_period_is_day_or_week(period: t.Any) -> None:
    criteria = {"type": "streak", "event": "login", "target": 2, "period": period}
    assert_rejected(criteria, "criteria.period", "day", "week")


def test_where_keys_are_attribute_names() -> None:
    assert_rejected({**COUNT, "where": {5: 1}}, "criteria.where")


# -- labels ------------------------------------------------------------------------------

ALL_OF = {"type": "all_of", "event": "read", "field": "article_id", "values": [1, 2.5, "x", True]}


@pytest.mark.parametrize(
    "criteria",
    [
        COUNT | {"label": "  Log in  "},
        {"type": "all", "label": "Both", "of": [COUNT | {"label": "One"}]},
        {"type": "goal", "goal": "reader", "label": "Be a reader"},
        ALL_OF | {"labels": {"1": "Intro", "2.5": "Half", "x": "Ex", "true": "Yes"}},
        {"type": "sequence", "steps": [{"event": "a", "label": "First"}, {"event": "b"}]},
    ],
)
def test_labels_are_accepted_on_every_node(criteria: dict[str, t.Any]) -> None:
    compile_criteria(criteria)


def test_a_label_is_stripped_and_replaces_the_automatic_one() -> None:
    assert validate_criteria(COUNT | {"label": "  Log in \n"})["label"] == "Log in"
    assert compile_criteria(COUNT | {"label": " Log in "}).label == "Log in"
    assert compile_criteria(COUNT).label == "1 × login"


@pytest.mark.parametrize(
    ("label", "path"),
    [
        ("", "criteria.label"),
        (" \t\u3000", "criteria.label"),
        ("x" * 201, "criteria.label"),
        (None, "criteria.label"),
        (7, "criteria.label"),
    ],
)
def test_bad_labels_are_refused_with_the_fix(label: t.Any, path: str) -> None:
    assert_rejected(COUNT | {"label": label}, path, "1 to 200 characters", "leave the label out")


def test_bad_labels_deep_in_the_tree_name_their_path() -> None:
    sequence = {"type": "sequence", "steps": [{"event": "a"}, {"event": "b", "label": ""}]}
    assert_rejected({"type": "all", "of": [COUNT, sequence]}, "criteria.of[1].steps[1].label")
    assert_rejected(
        {"type": "any", "of": [ALL_OF | {"labels": {"x": " "}}]}, "criteria.of[0].labels.x"
    )


def test_labels_of_values_not_listed_are_refused_naming_the_key() -> None:
    error = assert_rejected(
        ALL_OF | {"labels": {"1": "Intro", "7": "Seven"}},
        "criteria.labels.7",
        "not one of the listed values",
        '"2.5"',
    )
    assert list(error.errors) == ["criteria.labels.7"]
    assert_rejected(ALL_OF | {"labels": {"1.0": "One"}}, "criteria.labels.1.0", "listed values")
    assert_rejected(ALL_OF | {"labels": {"True": "Yes"}}, "criteria.labels.True", "listed values")
    assert_rejected(ALL_OF | {"labels": ["Intro"]}, "criteria.labels", "object")
    assert_rejected(ALL_OF | {"labels": None}, "criteria.labels", "object")
    # a value that is a number and the same text share their key: which one is meant?
    both = ALL_OF | {"values": [1, "1"], "labels": {"1": "One"}}
    assert_rejected(both, "criteria.labels.1", "two listed values")
    assert compile_criteria(ALL_OF | {"values": [1.0, 2], "labels": {"1": "One"}})


def test_labels_never_change_the_meaning_of_criteria() -> None:
    plain = {"type": "all", "of": [ALL_OF, {"type": "sequence", "steps": [{"event": "a"}]}]}
    labelled = {
        "type": "all",
        "label": "Both",
        "of": [
            ALL_OF | {"label": "Read", "labels": {"x": "Ex"}},
            {"type": "sequence", "label": "Do", "steps": [{"event": "a", "label": "A"}]},
        ],
    }
    assert without_labels(validate_criteria(labelled)) == validate_criteria(plain)
