"""The criteria JSON Schema agrees with the validators it is generated from."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from flask_gamify import CriteriaError
from flask_gamify.criteria.base import label_key, parse_json_float
from flask_gamify.criteria.json_schema import DIALECT, criteria_json_schema
from flask_gamify.criteria.limits import MAX_DEPTH, MAX_JSON_DEPTH, MAX_SIZE, json_size, too_deep
from flask_gamify.criteria.schema import CRITERION_TYPES, validate_criteria

DOCS = Path(__file__).parent.parent / "docs"
SCHEMA = criteria_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def server_accepts(criteria: Any) -> bool:
    try:
        validate_criteria(criteria)
    except CriteriaError:
        return False
    return True


def schema_accepts(criteria: Any) -> bool:
    return bool(VALIDATOR.is_valid(criteria))


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == DIALECT
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    json.dumps(SCHEMA)  # plain JSON


def _documented_criteria() -> list[Any]:
    text = (DOCS / "criteria.rst").read_text()
    found = []
    for block in re.findall(r"\.\. code-block:: json\n\n((?:    .*\n|\n)+)", text):
        document = json.loads(block)
        if isinstance(document, dict) and document.get("type") in CRITERION_TYPES:
            found.append(document)
    return found


DOCUMENTED = _documented_criteria()


def test_the_documentation_has_examples() -> None:
    assert {example["type"] for example in DOCUMENTED} >= {"count", "sum", "all", "sequence"}


@pytest.mark.parametrize("criteria", DOCUMENTED, ids=lambda c: str(c["type"]))
def test_every_documented_example_validates(criteria: Any) -> None:
    assert server_accepts(criteria)
    assert schema_accepts(criteria), list(VALIDATOR.iter_errors(criteria))


def _criteria_in(value: Any) -> list[Any]:
    """Criteria-looking dicts in a test module's constants."""
    if isinstance(value, dict) and value.get("type") in CRITERION_TYPES:
        return [value]
    if isinstance(value, dict) and "criteria" in value:
        return _criteria_in(value["criteria"])
    if isinstance(value, list | tuple):
        return [item for element in value for item in _criteria_in(element)]
    return []


def _test_suite_criteria() -> list[Any]:
    found = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.stem in {"conftest", Path(__file__).stem}:
            continue
        try:
            module = importlib.import_module(path.stem)
        except Exception:  # a module that needs something this test lacks
            continue
        for value in vars(module).values():
            found += _criteria_in(value)
    return found


SUITE = _test_suite_criteria()


def test_the_test_suite_definitions_agree() -> None:
    assert len(SUITE) >= 20
    for criteria in SUITE:
        assert schema_accepts(criteria) == server_accepts(criteria), criteria


LOGIN = {"type": "count", "event": "login", "target": 3}


def nest(levels: int) -> dict[str, Any]:
    criteria: dict[str, Any] = LOGIN
    for _ in range(levels - 1):
        criteria = {"type": "all", "of": [criteria]}
    return criteria


#: Criteria both validators refuse, one rule each.
INVALID = [
    {},
    {"type": "nope"},
    {"type": "count", "event": "login"},
    {"type": "count", "event": "login", "target": 0},
    {"type": "count", "event": "login", "target": 2**53},
    {"type": "count", "event": "login", "target": 1.5},
    {"type": "count", "event": "login", "target": True},
    {"type": "count", "event": "", "target": 1},
    {"type": "count", "event": "x" * 201, "target": 1},
    {"type": "count", "event": "log\u0000in", "target": 1},
    {"type": "count", "event": "login", "target": 1, "colour": "red"},
    {"type": "count", "event": "login", "target": 1, "window": "7"},
    {"type": "count", "event": "login", "target": 1, "window": "36526d"},
    {"type": "count", "event": "login", "target": 1, "window": "5218w"},
    {"type": "count", "event": "login", "target": 1, "where": {"": 1}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": {}}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": {"like": 1}}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": {"in": 1}}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": {"in": [0] * 1001}}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": {"gt": [1]}}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": 2**53}},
    {"type": "count", "event": "login", "target": 1, "where": {"a": {"eq": {"k\u0000": 1}}}},
    {"type": "sum", "event": "buy", "field": "amount", "target": 0},
    {"type": "sum", "event": "buy", "field": "amount", "target": 2**53},
    {"type": "sum", "event": "buy", "target": 5},
    {"type": "distinct", "event": "read", "field": "id", "target": 1, "window": "1d"},
    {"type": "all_of", "event": "read", "field": "id", "values": []},
    {"type": "all_of", "event": "read", "field": "id", "values": [1, 1.0]},
    {"type": "all_of", "event": "read", "field": "id", "values": [None]},
    {"type": "all_of", "event": "read", "field": "id", "values": list(range(1001))},
    {"type": "streak", "event": "login", "target": 2, "period": "month"},
    {"type": "streak", "event": "login", "target": 2, "period": None},
    {"type": "sequence", "steps": []},
    {"type": "sequence", "steps": [{"event": "a", "extra": 1}]},
    {"type": "sequence", "steps": [{"event": "a"}] * 101},
    {"type": "all", "of": []},
    {"type": "any", "of": [LOGIN] * 101},
    {"type": "all", "of": [LOGIN], "target": 1},
    {"type": "goal", "goal": ""},
    nest(MAX_DEPTH + 1),
]


@pytest.mark.parametrize("criteria", INVALID, ids=lambda c: json.dumps(c)[:60])
def test_both_validators_refuse(criteria: Any) -> None:
    assert not server_accepts(criteria)
    assert not schema_accepts(criteria)


@pytest.mark.parametrize(
    "criteria",
    [
        nest(MAX_DEPTH),
        {"type": "count", "event": "login", "target": 2**53 - 1, "window": "36525d"},
        {"type": "count", "event": "login", "target": 1, "window": "5217w"},
        {"type": "count", "event": "login", "target": 1, "window": "999999999s"},
        {"type": "count", "event": " ", "target": 1, "where": {"a": [1, {"b": None}]}},
        {"type": "sum", "event": "buy", "field": "amount", "target": 0.5},
        {"type": "all_of", "event": "read", "field": "id", "values": [1, "1", True]},
        {"type": "streak", "event": "login", "target": 2},
        {"type": "any", "of": [{"type": "goal", "goal": "other"}, LOGIN]},
    ],
    ids=lambda c: json.dumps(c)[:60],
)
def test_both_validators_accept(criteria: Any) -> None:
    assert server_accepts(criteria)
    assert schema_accepts(criteria)


def test_a_trailing_newline_is_no_window() -> None:
    # ECMA's `$` (JSON Schema patterns) ends the text; Python's re.match with `$` also
    # matched before a final newline, so the server took "1d\n" as a window.
    assert not server_accepts({"type": "count", "event": "login", "target": 1, "window": "1d\n"})


def test_where_the_schema_is_looser_it_says_so() -> None:
    """Size and JSON depth: the server refuses, the schema cannot count (documented)."""
    big = {
        "type": "count",
        "event": "login",
        "target": 1,
        "where": {"a": {"in": ["x" * 100] * 700}},
    }
    deep: Any = 1
    for _ in range(MAX_JSON_DEPTH):
        deep = [deep]
    nested = {"type": "count", "event": "login", "target": 1, "where": {"a": deep}}
    for criteria in (big, nested):
        assert schema_accepts(criteria) and not server_accepts(criteria)
    assert "size" in SCHEMA["description"] and "nest" in SCHEMA["description"]


# -- generated from the schema ----------------------------------------------------------

_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "criteria", "version": "1"},
    "paths": {
        "/criteria": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Criterion"}}
                    },
                },
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
    "components": {
        "schemas": {
            name: json.loads(json.dumps(definition).replace("#/$defs/", "#/components/schemas/"))
            for name, definition in SCHEMA["$defs"].items()
        }
    },
}
_STRATEGY = (
    schemathesis.openapi.from_dict(_DOCUMENT)["/criteria"]["POST"]
    .as_strategy()
    .map(lambda c: c.body)
)


def _labels_name_unlisted_values(criteria: Any) -> bool:
    """Whether an all_of has a label whose key is not exactly one listed value."""
    if not isinstance(criteria, dict):
        return False
    if criteria.get("type") == "all_of" and isinstance(criteria.get("labels"), dict):
        keys = [label_key(value) for value in criteria["values"]]
        if any(keys.count(key) != 1 for key in criteria["labels"]):
            return True
    return any(_labels_name_unlisted_values(child) for child in criteria.get("of", []))


def test_labels_of_unlisted_values_are_the_documented_looseness() -> None:
    criteria = {
        "type": "all_of",
        "event": "article.read",
        "field": "article_id",
        "values": [1, "1", 2],
        "labels": {"3": "Advanced"},
    }
    assert schema_accepts(criteria) and not server_accepts(criteria)
    assert schema_accepts(criteria | {"labels": {"1": "Intro"}})
    assert not server_accepts(criteria | {"labels": {"1": "Intro"}})  # 1 or "1"?
    assert server_accepts(criteria | {"labels": {"2": "Basics"}})
    assert "labels" in SCHEMA["description"]


@given(criteria=_STRATEGY)
@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_everything_the_schema_generates_is_accepted(criteria: Any) -> None:
    assert schema_accepts(criteria)
    # As it arrives over HTTP or in a JSON goal file: 1.0 reads as the integer 1.
    criteria = json.loads(json.dumps(criteria), parse_float=parse_json_float)
    if json_size(criteria, MAX_SIZE) > MAX_SIZE or too_deep(criteria, MAX_JSON_DEPTH):
        return  # the documented looseness
    if _labels_name_unlisted_values(criteria):
        return  # documented too: JSON Schema cannot compare keys with values
    try:
        validate_criteria(criteria)
    except CriteriaError as error:  # pragma: no cover - the failure message
        pytest.fail(f"{criteria!r} is schema-valid but refused: {error}")


def test_the_cli_prints_the_schema(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["gamify", "schema", "criteria"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == SCHEMA
