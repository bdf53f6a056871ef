"""JSON Schema (draft 2020-12) generated from the marshmallow schemas that validate.

The criteria language and goal definitions are validated by marshmallow schemas
(:mod:`.schema`, :class:`flask_gamify.goals.GoalSchema`). This module walks those schema
classes and their fields and writes the same rules as JSON Schema, so that the OpenAPI
document, ``flask gamify schema criteria`` and editors check what the server checks:

* built-in fields (``String``, ``List``, ``Nested``) with their ``Length``, ``Range``
  and ``OneOf`` validators are translated here;
* gamify's own fields describe themselves with a ``json_schema()`` method (see
  :class:`JsonSchemaField`), next to the ``_deserialize`` that enforces the same rule;
* ``Meta.unknown = RAISE`` becomes ``"additionalProperties": false``.

``all``/``any`` may nest :data:`~.limits.MAX_DEPTH` levels deep: the schema unrolls one
definition per level (``Criterion``, ``CriterionLevel2``, ...), so the depth limit is
exact too. Where the schema is looser than the server (sizes JSON Schema cannot count),
:data:`LOOSER_THAN_SERVER` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from marshmallow import RAISE, Schema, fields, missing, validate

from .limits import MAX_DEPTH, MAX_JSON_DEPTH, MAX_SIZE, NO_NUL

__all__ = [
    "DIALECT",
    "LOOSER_THAN_SERVER",
    "JsonSchemaField",
    "criteria_definitions",
    "criteria_json_schema",
    "field_schema",
    "object_schema",
]

#: The JSON Schema dialect of every generated schema (also OpenAPI 3.1's).
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: What the server checks that the generated schema does not (JSON Schema cannot say it).
LOOSER_THAN_SERVER = (
    f"the size of the criteria (at most {MAX_SIZE} characters as JSON)",
    f"how deep objects and lists nest inside criteria (at most {MAX_JSON_DEPTH} levels,"
    " where operands included)",
    "in Python and YAML (not JSON), integers written with a fraction (1.0), which JSON"
    " Schema counts as integers",
    "lone surrogates (\\ud800 to \\udfff) in text: refused, but no portable pattern names"
    " them (send well-formed UTF-8, I-JSON, RFC 7493)",
    "that every goal criterion names an existing goal, without cycles (the server answers"
    " 409 Conflict)",
    "that each key of the labels of an all_of names exactly one of its listed values",
)

Ref = Callable[[str], dict[str, Any]]


@runtime_checkable
class JsonSchemaField(Protocol):
    """A custom marshmallow field that states its own rule as JSON Schema."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        """The JSON Schema of the values the field accepts; ``ref(name)`` refers to a definition."""


def text(*, min_length: int = 0, max_length: int | None = None) -> dict[str, Any]:
    """A string that databases can store (no NUL), with length bounds."""
    schema: dict[str, Any] = {"type": "string", "pattern": NO_NUL}
    if min_length:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _apply_validators(field: fields.Field[Any], schema: dict[str, Any]) -> dict[str, Any]:
    for validator in field.validators:
        if isinstance(validator, validate.Length):
            low, high = (
                ("minItems", "maxItems")
                if schema.get("type") == "array"
                else ("minLength", "maxLength")
            )
            if validator.min is not None:
                schema[low] = max(schema.get(low, 0), validator.min)
            if validator.max is not None:
                schema[high] = min(schema.get(high, validator.max), validator.max)
            if validator.equal is not None:
                schema[low] = schema[high] = validator.equal
        elif isinstance(validator, validate.Range):
            if validator.min is not None:
                key = "minimum" if validator.min_inclusive else "exclusiveMinimum"
                schema[key] = max(schema.get(key, validator.min), validator.min)
            if validator.max is not None:
                key = "maximum" if validator.max_inclusive else "exclusiveMaximum"
                schema[key] = min(schema.get(key, validator.max), validator.max)
        elif isinstance(validator, validate.OneOf):
            schema = {"enum": list(validator.choices)}
        elif isinstance(validator, validate.Regexp):
            schema["pattern"] = validator.regex.pattern
        else:  # pragma: no cover - a new validator must be taught here
            raise TypeError(f"No JSON Schema for the validator {validator!r}.")
    return schema


def field_schema(field: fields.Field[Any], ref: Ref) -> dict[str, Any]:
    """The JSON Schema of one marshmallow field, validators and ``allow_none`` included."""
    schema: dict[str, Any]
    if isinstance(field, JsonSchemaField):
        schema = field.json_schema(ref)
    elif isinstance(field, fields.String):
        schema = text()
    elif isinstance(field, fields.DateTime):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, fields.Boolean):
        schema = {"type": "boolean"}
    elif isinstance(field, fields.Integer):
        schema = {"type": "integer"}
    elif isinstance(field, fields.List):
        schema = {"type": "array", "items": field_schema(field.inner, ref)}
    elif isinstance(field, fields.Nested):
        nested = field.nested
        if not isinstance(nested, Schema | type):  # pragma: no cover
            raise TypeError(f"No JSON Schema for the nested schema {nested!r}.")
        schema = object_schema(nested if isinstance(nested, Schema) else nested(), ref)
    else:  # pragma: no cover - a new field type must be taught here
        raise TypeError(f"No JSON Schema for the field {field!r}.")
    schema = _apply_validators(field, schema)
    if field.allow_none:
        schema = {"anyOf": [schema, {"type": "null"}]}
    default = field.load_default
    if default is not None and not callable(default) and default is not missing:
        schema["default"] = default
    description = field.metadata.get("description")
    if description:
        schema["description"] = description
    return schema


def object_schema(
    schema: Schema, ref: Ref, *, override: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON Schema of a marshmallow schema's input (what ``schema.load`` accepts).

    :param override: schemas to use for some fields instead of their own.
    """
    override = override or {}
    properties: dict[str, Any] = {}
    required = []
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        properties[key] = override[name] if name in override else field_schema(field, ref)
        if field.required:
            required.append(key)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    if schema.unknown == RAISE:
        result["additionalProperties"] = False
    return result


# -- the criteria language ------------------------------------------------------------

#: The definition names of the leaf criterion types, by type.
LEAF_NAMES = {
    "count": "CountCriterion",
    "sum": "SumCriterion",
    "distinct": "DistinctCriterion",
    "all_of": "AllOfCriterion",
    "streak": "StreakCriterion",
    "sequence": "SequenceCriterion",
    "goal": "GoalCriterion",
}


def _level_name(base: str, level: int) -> str:
    return base if level == 1 else f"{base}Level{level}"


def criteria_definitions(
    ref: Ref, *, discriminator: bool = False, exact_depth: bool = True
) -> dict[str, dict[str, Any]]:
    """Every definition of the criteria language, by name; the root one is ``Criterion``.

    :param ref: turns a definition name into a reference (``#/$defs/...`` in the
        standalone schema, ``#/components/schemas/...`` in the OpenAPI document).
    :param discriminator: add OpenAPI's ``discriminator`` (by ``type``) to each ``oneOf``.
    :param exact_depth: unroll one definition per nesting level, so that the schema
        refuses what nests deeper than :data:`~.limits.MAX_DEPTH`. Without it, ``of``
        refers back to ``Criterion`` (the depth is stated in words): API fuzzers such as
        schemathesis enumerate the branches of every level, and eight levels of nine
        types each are more than they can walk.
    """
    from .schema import CRITERION_TYPES, composite_schema, leaf_schemas, where_definitions

    definitions: dict[str, dict[str, Any]] = dict(where_definitions(ref))
    leaves = leaf_schemas()
    for kind, name in LEAF_NAMES.items():
        definitions[name] = _typed(kind, object_schema(leaves[kind], ref))
    for level in range(1, (MAX_DEPTH if exact_depth else 1) + 1):
        last = exact_depth and level == MAX_DEPTH
        kinds = [kind for kind in CRITERION_TYPES if not last or kind not in ("all", "any")]
        mapping = {}
        for kind in kinds:
            if kind in LEAF_NAMES:
                mapping[kind] = LEAF_NAMES[kind]
                continue
            name = _level_name(f"{kind.capitalize()}Criterion", level)
            child = _level_name("Criterion", level + 1 if exact_depth else 1)
            definitions[name] = _typed(
                kind,
                object_schema(
                    composite_schema(level),
                    ref,
                    override={"of": _of(composite_schema(level), ref(child))},
                ),
            )
            mapping[kind] = name
        where = f"nesting level {level} of" if exact_depth else "all and any nest"
        criterion: dict[str, Any] = {
            "description": f"A criterion ({where} at most {MAX_DEPTH} levels deep): an"
            " object whose `type` is one of " + ", ".join(kinds) + ".",
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": kinds}},
            "oneOf": [ref(mapping[kind]) for kind in kinds],
        }
        if discriminator:
            criterion["discriminator"] = {
                "propertyName": "type",
                "mapping": {kind: ref(name)["$ref"] for kind, name in mapping.items()},
            }
        definitions[_level_name("Criterion", level)] = criterion
    return definitions


def _of(schema: Schema, child: dict[str, Any]) -> dict[str, Any]:
    field = schema.fields["of"]
    assert isinstance(field, fields.List)
    return _apply_validators(field, {"type": "array", "items": child})


def _typed(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    schema["properties"]["type"] = {"const": kind}
    return schema


def criteria_json_schema() -> dict[str, Any]:
    """The criteria language as a standalone JSON Schema (draft 2020-12).

    ``flask gamify schema criteria`` prints it; editors and ``check-jsonschema`` validate
    criteria files with it.
    """
    definitions = criteria_definitions(lambda name: {"$ref": f"#/$defs/{name}"})
    return {
        "$schema": DIALECT,
        "title": "Flask-Gamify criteria",
        "description": "The criteria of a goal. Generated from the validators of the server;"
        " the server also checks " + "; ".join(LOOSER_THAN_SERVER) + ".",
        "$ref": "#/$defs/Criterion",
        "$defs": definitions,
    }
