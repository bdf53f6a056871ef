"""Validation of criteria JSON with marshmallow.

:func:`validate_criteria` returns the cleaned criteria or raises
:class:`~flask_gamify.CriteriaError` whose message names the path of every bad field,
such as ``criteria.of[1].target: Must be a positive integer.``
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..errors import CriteriaError
from .base import MAX_NUMBER, canonical_value, label_key, number_problem
from .filters import OPERATORS, parse_window, window_pattern
from .json_schema import Ref, text
from .limits import (
    MAX_CHILDREN,
    MAX_DEPTH,
    MAX_JSON_DEPTH,
    MAX_SIZE,
    MAX_STEPS,
    MAX_VALUES,
    NO_NUL,
    VISIBLE_NO_NUL,
    is_visible,
    json_size,
    too_deep,
    unstorable_text,
)

#: Longest ``label`` of a criterion, a step or a listed value.
MAX_LABEL = 200

#: Every criterion type, in the order the documentation lists them.
CRITERION_TYPES = ("count", "sum", "distinct", "all_of", "streak", "sequence", "all", "any", "goal")


def _name(what: str, **kwargs: Any) -> fields.String:
    """A required name (an event type, an attribute) with messages that say so."""
    message = f"Must be a non-empty string naming the {what}."
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=200, error=f"{message[:-1]}, at most 200 characters."),
        error_messages={"null": message, "invalid": message},
        **kwargs,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _first_number_problem(value: Any) -> str | None:
    """The problem with the first out-of-bounds number in a JSON value (iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            problem = number_problem(item)
            if problem is not None:
                return problem
    return None


class FullMatch(validate.Regexp):
    """:class:`~marshmallow.validate.Regexp` on the whole text, as JSON Schema reads a pattern.

    ``re.match`` with ``$`` accepts a trailing newline (``"reader\\n"``); an ECMA
    ``pattern`` does not.
    """

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or re.fullmatch(str(self.regex.pattern), value) is None:
            raise ValidationError(self._format_error(value))
        return value


def _bounded_number() -> dict[str, Any]:
    return {"minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}


class PositiveInteger(fields.Field[int]):
    """A JSON integer above zero (``true`` and ``1.0`` are refused)."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": MAX_NUMBER}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"null": "Must be a positive integer, not null."})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError("Must be a positive integer.")
        if value > MAX_NUMBER:
            raise ValidationError(
                f"Must be a positive integer of at most {MAX_NUMBER} (2**53 - 1)."
            )
        return value


class PositiveNumber(fields.Field[int | float]):
    """A finite JSON number above zero."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_NUMBER}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"null": "Must be a positive number, not null."})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | float:
        if _is_number(value) and value > MAX_NUMBER:  # before isfinite(), which overflows
            raise ValidationError(f"Must be a positive number of at most {MAX_NUMBER} (2**53 - 1).")
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise ValidationError("Must be a positive number.")
        return value  # type: ignore[no-any-return]


class Window(fields.Field[str]):
    """A duration such as ``"7d"``."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": window_pattern(),
            "description": "A duration: a whole number and a unit (s, m, h, d, w), such as"
            " '30m' or '7d'; at most 100 years.",
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            parse_window(value)
        except ValueError as error:
            raise ValidationError(str(error)) from error
        return value  # type: ignore[no-any-return]


def _is_json_value(value: Any) -> bool:
    if value is None or isinstance(value, str | bool):
        return True
    if _is_number(value):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json_value(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in value.items())
    return False


class WhereField(fields.Field[dict[str, Any]]):
    """``{"attribute": value}`` or ``{"attribute": {"operator": operand, ...}}``."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return ref("Where")

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError(
                'Must be an object mapping attribute names to conditions, such as {"category":'
                ' "python"} or {"score": {"gte": 80}}.'
            )
        errors: dict[str, list[str]] = {}
        if not all(isinstance(attribute, str) and attribute for attribute in value):
            raise ValidationError("Attribute names must be non-empty strings.")
        for attribute, condition in value.items():
            problem = self._check_condition(condition)
            if problem:
                errors[attribute] = [problem]
        if errors:
            raise ValidationError(errors)
        return dict(value)

    @staticmethod
    def _check_condition(condition: Any) -> str | None:
        # Events cannot carry numbers beyond the bound, so literals beyond it never match.
        number = _first_number_problem(condition)
        if number is not None:
            return number
        if not isinstance(condition, dict):
            return None if _is_json_value(condition) else "Must be a JSON value."
        if not condition:
            return f"Must name at least one operator: {', '.join(OPERATORS)}."
        for operator, operand in condition.items():
            if operator not in OPERATORS:
                return f"Unknown operator {operator!r}; allowed operators: {', '.join(OPERATORS)}."
            if not _is_json_value(operand):
                return f"The operand of {operator!r} must be a JSON value."
            if operator == "in" and not isinstance(operand, list):
                return "The operand of 'in' must be a list of values."
            if operator == "in" and len(operand) > MAX_VALUES:
                return (
                    f"The operand of 'in' lists {len(operand)} values; at most {MAX_VALUES}"
                    " are allowed."
                )
            if operator in ("lt", "lte", "gt", "gte") and not (
                _is_number(operand) or isinstance(operand, str)
            ):
                return f"The operand of {operator!r} must be a number or a string."
        return None


class ValuesField(fields.Field[list[Any]]):
    """A non-empty list of different strings, numbers or booleans."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        # uniqueItems compares as canonical_value does: 1 equals 1.0, true is not 1.
        return {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_VALUES,
            "uniqueItems": True,
            "items": {"type": ["string", "number", "boolean"], "pattern": NO_NUL}
            | _bounded_number(),
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise ValidationError("Must be a non-empty list of strings, numbers or booleans.")
        if len(value) > MAX_VALUES:
            raise ValidationError(
                f"Lists {len(value)} values; at most {MAX_VALUES} are allowed. Split the goal"
                " into several goals, or use a distinct criterion with a where filter."
            )
        seen: set[str | None] = set()
        for item in value:
            problem = number_problem(item)
            if problem is not None:
                raise ValidationError(problem)
            if not isinstance(item, str | bool | int | float):
                raise ValidationError("Must contain only strings, numbers or booleans.")
            key = canonical_value(item)
            if key in seen:
                raise ValidationError(f"Lists {item!r} more than once; list each value once.")
            seen.add(key)
        return list(value)


_LABEL_MESSAGE = (
    f"Must be text of 1 to {MAX_LABEL} characters with a visible character; leave the"
    " label out to show the automatic one."
)


def _check_label(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_LABEL or not is_visible(value):
        raise ValidationError(_LABEL_MESSAGE)
    return value.strip()


class Label(fields.Field[str]):
    """A human label shown in progress instead of the automatic one (presentation only)."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LABEL,
            "pattern": VISIBLE_NO_NUL,
            "description": "Shown in progress instead of the automatic label; leading and"
            " trailing blanks are dropped. Changing it never resets progress.",
        }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"null": _LABEL_MESSAGE})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return _check_label(value)


class LabelsField(fields.Field[dict[str, str]]):
    """``{"listed value as text": "label"}`` for the values of an ``all_of``."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {
            "type": "object",
            "maxProperties": MAX_VALUES,
            "propertyNames": text(min_length=1),
            "additionalProperties": Label().json_schema(ref),
            "description": "A label for listed values, keyed by the value as text: a"
            ' string is its own key, a number or boolean its JSON form ("7", "2.5",'
            ' "true"). Each key must be a listed value; values without a label show'
            " as themselves.",
        }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            # Field messages are str.format templates: braces are doubled.
            "error_messages",
            {"null": 'Must be an object such as {{"7": "Getting started"}}.'},
        )
        super().__init__(**kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValidationError(
                'Must be an object mapping listed values (as text) to labels, such as {"7":'
                ' "Getting started"}.'
            )
        if len(value) > MAX_VALUES:
            raise ValidationError(f"Has {len(value)} labels; at most {MAX_VALUES} are allowed.")
        labels: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for key, label in value.items():
            try:
                labels[key] = _check_label(label)
            except ValidationError as error:
                errors[key] = [str(message) for message in error.messages]
        if errors:
            raise ValidationError(errors)
        return labels


class CriterionField(fields.Field[dict[str, Any]]):
    """A nested criterion of any type (``of`` of ``all``/``any``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        depth = int(self.metadata.get("depth", 1))
        return load_criterion(value, depth=depth)


class _CriterionSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True)
    label = Label()


class _LeafSchema(_CriterionSchema):
    event = _name("event type")
    where = WhereField()


class CountSchema(_LeafSchema):
    target = PositiveInteger(required=True)
    window = Window()


class SumSchema(_LeafSchema):
    field = _name("attribute")
    target = PositiveNumber(required=True)
    window = Window()


class DistinctSchema(_LeafSchema):
    field = _name("attribute")
    target = PositiveInteger(required=True)


class AllOfSchema(_LeafSchema):
    field = _name("attribute")
    values = ValuesField(required=True)
    labels = LabelsField()

    @validates_schema
    def _check_labels(self, data: dict[str, Any], **kwargs: Any) -> None:
        listed: dict[str, list[Any]] = {}
        for value in data["values"]:
            listed.setdefault(label_key(value), []).append(value)
        errors: dict[str, list[str]] = {}
        for key in data.get("labels", {}):
            values = listed.get(key, [])
            if not values:
                shown = ", ".join(json.dumps(k, ensure_ascii=False) for k in list(listed)[:10])
                errors[key] = [
                    f"Is not one of the listed values; label keys are the listed values as"
                    f" text ({shown}{', ...' if len(listed) > 10 else ''})."
                ]
            elif len(values) > 1:
                both = " and ".join(json.dumps(v) for v in values)
                errors[key] = [
                    f"Names two listed values ({both}), which share the key {key!r}; list"
                    " only one of them, or leave this label out."
                ]
        if errors:
            raise ValidationError(errors, "labels")


class StreakSchema(_LeafSchema):
    target = PositiveInteger(required=True)
    period = fields.String(
        load_default="day",
        validate=validate.OneOf(["day", "week"], error="Must be 'day' or 'week'."),
        error_messages={"null": "Must be 'day' or 'week'.", "invalid": "Must be 'day' or 'week'."},
    )


class StepSchema(Schema):
    error_messages: dict[str, str] = {  # noqa: RUF012 (marshmallow's own declaration)
        "type": 'Must be an object such as {"event": "login"}.'
    }

    class Meta:
        unknown = RAISE

    event = _name("event type")
    where = WhereField()
    label = Label()


# Field messages are str.format templates: braces are doubled.
_STEP_MESSAGE = 'Must be an object such as {{"event": "login"}}.'


class SequenceSchema(_CriterionSchema):
    steps = fields.List(
        fields.Nested(StepSchema, error_messages={"null": _STEP_MESSAGE, "type": _STEP_MESSAGE}),
        required=True,
        validate=validate.Length(
            min=1,
            max=MAX_STEPS,
            error=f"Must list at least one step and at most {MAX_STEPS}.",
        ),
    )
    window = Window()


class GoalRefSchema(_CriterionSchema):
    goal = _name("goal (its key)")


def where_definitions(ref: Ref) -> dict[str, dict[str, Any]]:
    """The JSON Schema definitions of ``where`` filters (see :class:`WhereField`)."""
    json_value = ref("JsonValue")
    operand = {"type": ["number", "string"], "pattern": NO_NUL} | _bounded_number()
    return {
        "Where": {
            "description": 'Conditions on event attributes: {"category": "python"} (equals)'
            ' or {"score": {"gte": 80}} (operators ' + ", ".join(OPERATORS) + ").",
            "type": "object",
            "propertyNames": text(min_length=1),
            "additionalProperties": ref("Condition"),
        },
        "Condition": {
            "description": "A value the attribute must equal, or an object of operators.",
            "anyOf": [
                {
                    "type": ["null", "boolean", "number", "string", "array"],
                    "pattern": NO_NUL,
                    "items": json_value,
                }
                | _bounded_number(),
                ref("Operators"),
            ],
        },
        "Operators": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "eq": json_value,
                "ne": json_value,
                "lt": operand,
                "lte": operand,
                "gt": operand,
                "gte": operand,
                "in": {"type": "array", "maxItems": MAX_VALUES, "items": json_value},
            },
        },
        "JsonValue": {
            "description": f"Any JSON value; numbers between -{MAX_NUMBER} and {MAX_NUMBER}.",
            "type": ["null", "boolean", "number", "string", "array", "object"],
            "pattern": NO_NUL,
            "items": json_value,
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": json_value,
        }
        | _bounded_number(),
    }


def composite_schema(depth: int) -> Schema:
    """The schema of an ``all``/``any`` criterion at nesting level ``depth`` (1: the root)."""
    return _composite_schema(depth)


def leaf_schemas() -> dict[str, Schema]:
    """The schema of each criterion type but ``all``/``any``, by type."""
    return dict(_LEAF_SCHEMAS)


def _composite_schema(depth: int) -> Schema:
    class CompositeSchema(_CriterionSchema):
        of = fields.List(
            CriterionField(metadata={"depth": depth + 1}),
            required=True,
            validate=validate.Length(
                min=1,
                max=MAX_CHILDREN,
                error=f"Must list at least one criterion and at most {MAX_CHILDREN}.",
            ),
        )

        @validates_schema
        def _check_depth(self, data: dict[str, Any], **kwargs: Any) -> None:
            if depth >= MAX_DEPTH:
                raise ValidationError(f"Criteria may nest at most {MAX_DEPTH} levels deep.", "of")

    return CompositeSchema()


_LEAF_SCHEMAS: dict[str, Schema] = {
    "count": CountSchema(),
    "sum": SumSchema(),
    "distinct": DistinctSchema(),
    "all_of": AllOfSchema(),
    "streak": StreakSchema(),
    "sequence": SequenceSchema(),
    "goal": GoalRefSchema(),
}


def load_criterion(value: Any, *, depth: int = 1) -> dict[str, Any]:
    """Validate one criterion; raise marshmallow's :class:`ValidationError` with nested messages."""
    if not isinstance(value, dict):
        raise ValidationError(
            'Must be an object with a "type", such as {"type": "count", "event": "login",'
            ' "target": 3}.'
        )
    kind = value.get("type")
    if kind not in CRITERION_TYPES:
        problem = "Missing." if kind is None else f"Unknown criterion type {kind!r}."
        raise ValidationError({"type": [f"{problem} Allowed types: {', '.join(CRITERION_TYPES)}."]})
    schema = _composite_schema(depth) if kind in ("all", "any") else _LEAF_SCHEMAS[kind]
    loaded: dict[str, Any] = schema.load(value)
    return loaded


def flatten_errors(messages: Any, path: str) -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"criteria.of[1].target": [...]}``."""
    if isinstance(messages, str):
        return {path: [messages]}
    if isinstance(messages, list):
        if all(isinstance(item, str) for item in messages):
            return {path: list(messages)}
        flat: dict[str, list[str]] = {}
        for item in messages:
            for key, msgs in flatten_errors(item, path).items():
                flat.setdefault(key, []).extend(msgs)
        return flat
    flat = {}
    for key, nested in messages.items():
        if key == "_schema":
            child = path
        elif isinstance(key, int):
            child = f"{path}[{key}]"
        else:
            child = f"{path}.{key}" if path else str(key)
        for sub_path, msgs in flatten_errors(nested, child).items():
            flat.setdefault(sub_path, []).extend(msgs)
    return flat


def _nesting_problem(data: Any, path: str) -> tuple[str, str] | None:
    """Check the sizes that recursive validation relies on, without recursing."""
    # Size first: it stops counting early, so the walks below see bounded input even
    # when shared substructures (YAML aliases) would unfold into billions of nodes.
    if json_size(data, MAX_SIZE) > MAX_SIZE:
        return (
            path,
            f"Is too large: criteria may take at most {MAX_SIZE} characters as JSON. Split"
            " them into several goals.",
        )
    stack = [(data, path, 1)]
    while stack:
        criterion, where, level = stack.pop()
        children = criterion.get("of") if isinstance(criterion, dict) else None
        if not isinstance(children, list):
            continue
        if level >= MAX_DEPTH:
            return (
                f"{where}.of",
                f"Criteria may nest at most {MAX_DEPTH} levels deep (all and any inside each"
                " other); flatten them, or split them into goals that refer to each other.",
            )
        stack.extend((child, f"{where}.of[{i}]", level + 1) for i, child in enumerate(children))
    deep = too_deep(data, MAX_JSON_DEPTH, path)
    if deep is not None:
        return deep, f"Nests objects and lists more than {MAX_JSON_DEPTH} levels deep."
    return unstorable_text(data, path)


def validate_criteria(data: Any, *, path: str = "criteria") -> dict[str, Any]:
    """Return the validated criteria, or raise :class:`~flask_gamify.CriteriaError`.

    Depth, size and text are checked first, without recursion, so that criteria nested
    thousands of levels deep get an error naming their path rather than a
    :class:`RecursionError`.
    """
    problem = _nesting_problem(data, path)
    if problem is not None:
        raise CriteriaError({problem[0]: [problem[1]]})
    try:
        return load_criterion(data)
    except ValidationError as error:
        raise CriteriaError(flatten_errors(error.messages, path)) from error


def without_labels(criteria: Any) -> Any:
    """Validated ``criteria`` without their labels (``label``, ``labels``).

    Labels are presentation: what identifies the meaning of criteria (their hash, which
    decides whether stored progress still holds) leaves them out, so that renaming a
    part never resets anyone's progress or asks for a backfill.
    """
    if not isinstance(criteria, dict):
        return criteria
    cleaned = {key: value for key, value in criteria.items() if key not in ("label", "labels")}
    if isinstance(cleaned.get("of"), list):
        cleaned["of"] = [without_labels(child) for child in cleaned["of"]]
    if isinstance(cleaned.get("steps"), list):
        cleaned["steps"] = [without_labels(step) for step in cleaned["steps"]]
    return cleaned
