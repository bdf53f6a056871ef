"""Defining goals: validation, upsert by key, archiving, and goal files (YAML/JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from .badges import BUILTIN_ICONS, ICON_URL_PATTERN, check_icon
from .criteria import compile_criteria
from .criteria.base import parse_json_float
from .criteria.json_schema import Ref, object_schema
from .criteria.limits import json_size, too_deep, unstorable_text
from .criteria.schema import FullMatch, PositiveInteger, flatten_errors, validate_criteria
from .errors import (
    CriteriaError,
    GamifyError,
    GoalArchived,
    GoalError,
    GoalNotFound,
    GoalReferenceError,
)
from .events import to_utc
from .models import ENTITY_LENGTH, ENTITY_TYPE_LENGTH, GOAL_KEY_LENGTH, ICON_LENGTH, Goal, utcnow
from .processing import criteria_hash
from .records import GoalView
from .versions import check_changed_by, definition_fields, record_change
from .webhooks import record_event

__all__ = [
    "GoalSchema",
    "archive_goal",
    "check_goal",
    "define_goals",
    "goal_definition_schema",
    "goal_view",
    "parse_goals",
    "read_goals_file",
    "restore_goal",
    "validate_goal_changes",
]

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class _Moment(fields.Field[datetime]):
    """An aware ``datetime`` or an ISO 8601 string (naive means UTC)."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as error:
                raise ValidationError(
                    "Must be an ISO 8601 date and time, such as '2026-12-01T00:00:00Z'."
                ) from error
        if not isinstance(value, datetime):
            raise ValidationError("Must be a date and time.")
        moment = to_utc(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
        if moment is None:
            raise ValidationError("Must lie between the years 1 and 9999 in UTC.")
        return moment


class Flag(fields.Field[bool]):
    """A JSON boolean, strictly: ``true`` or ``false``, never ``"yes"`` or ``1``."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {"type": "boolean"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


#: What a goal's ``status`` may be.
GOAL_STATUSES = ("active", "draft")

#: The largest points and max_awards: what a 32-bit database integer holds.
LARGEST_INTEGER = 2**31 - 1


class _Points(fields.Field[int]):
    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": LARGEST_INTEGER}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError("Must be a whole number of points, 0 or more.")
        if value > LARGEST_INTEGER:
            raise ValidationError(f"Must be at most {LARGEST_INTEGER}.")
        return value


class _Icon(fields.Field[str]):
    """A built-in icon's name, or an image address (see :mod:`flask_gamify.badges`)."""

    def json_schema(self, ref: Ref) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "string", "enum": list(BUILTIN_ICONS)},
                {"type": "string", "maxLength": ICON_LENGTH, "pattern": f"^{ICON_URL_PATTERN}$"},
            ],
            "description": "The badge's picture: a built-in icon's name, or the address of"
            " an image (https://..., http://... or a path on the same site such as an"
            " uploaded image's /gamify/api/badge-images/<digest>).",
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            return check_icon(value)
        except ValueError as error:
            raise ValidationError(str(error)) from error


class GoalSchema(Schema):
    """A goal definition; ``criteria`` are checked separately for precise paths."""

    class Meta:
        unknown = RAISE

    key = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=GOAL_KEY_LENGTH),
            FullMatch(
                KEY_PATTERN,
                error="Must start with a letter or digit and contain only letters, digits"
                " and - _ . : (such as 'reader' or 'python.badge-1').",
            ),
        ],
    )
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    criteria = fields.Raw(required=True)
    points = _Points(load_default=0)
    repeatable = Flag(load_default=False)
    max_awards = PositiveInteger(
        allow_none=True, load_default=None, validate=validate.Range(max=LARGEST_INTEGER)
    )
    hidden = Flag(load_default=False)
    assigned_only = Flag(load_default=False)
    owner = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=ENTITY_LENGTH)
    )
    starts_at = _Moment(allow_none=True, load_default=None)
    ends_at = _Moment(allow_none=True, load_default=None)
    icon = _Icon(allow_none=True, load_default=None)
    entity_type = fields.String(
        load_default="user", validate=validate.Length(min=1, max=ENTITY_TYPE_LENGTH)
    )
    status = fields.String(
        load_default="active",
        validate=validate.OneOf(
            GOAL_STATUSES, error="Must be 'active' or 'draft' (a draft never progresses)."
        ),
    )

    @validates_schema
    def _check_consistency(self, data: dict[str, Any], partial: Any = None, **kwargs: Any) -> None:
        # A partial load (changes to a stored goal) checks only the fields it was given:
        # the others are the stored goal's, checked when the changes are applied.
        unknown_repeatable = partial and "repeatable" not in data
        if (
            data.get("max_awards") is not None
            and not data.get("repeatable")
            and not unknown_repeatable
        ):
            raise ValidationError(
                "Only repeatable goals take max_awards; set repeatable=True or drop max_awards.",
                "max_awards",
            )
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts is not None and ends is not None and ends <= starts:
            raise ValidationError("Must be later than starts_at.", "ends_at")


def goal_definition_schema(ref: Ref, *, changes: bool = False) -> dict[str, Any]:
    """The JSON Schema of a goal definition (``changes``: of a change to a stored goal).

    Generated from :class:`GoalSchema`; ``criteria`` refers to the ``Criterion``
    definition of :func:`~flask_gamify.criteria.json_schema.criteria_definitions`.
    Changes have no ``key`` (keys never change) and require nothing.
    """
    schema = object_schema(GoalSchema(), ref, override={"criteria": ref("Criterion")})
    # Only repeatable goals take max_awards (GoalSchema._check_consistency); in changes,
    # a missing `repeatable` is the stored goal's, checked when the changes are applied.
    schema["if"] = {"required": ["max_awards"], "properties": {"max_awards": {"type": "integer"}}}
    schema["then"] = {
        "required": [] if changes else ["repeatable"],
        "properties": {"repeatable": {"const": True}},
    }
    if changes:
        del schema["properties"]["key"]
        schema.pop("required", None)
    schema["properties"]["name"] = schema["properties"]["name"] | {
        "description": "Shown to people (default: the key)."
    }
    return schema


def _goal_refs(criteria: Any, path: str = "criteria") -> Iterator[tuple[str, str]]:
    """``(path, key)`` of every ``goal`` criterion in ``criteria``."""
    if not isinstance(criteria, Mapping):
        return
    if criteria.get("type") == "goal":
        yield f"{path}.goal", criteria["goal"]
    for index, child in enumerate(criteria.get("of", [])):
        yield from _goal_refs(child, f"{path}.of[{index}]")


def validate_goal(data: Mapping[str, Any], *, path: str = "") -> dict[str, Any]:
    """Validate a goal definition; raise :class:`GoalError` or :class:`CriteriaError`."""
    try:
        goal: dict[str, Any] = GoalSchema().load(dict(data))
    except ValidationError as error:
        flat = flatten_errors(error.messages, path.rstrip("."))
        only_criteria = all(key.startswith(f"{path}criteria") for key in flat)
        raise (CriteriaError if only_criteria else GoalError)(flat) from error
    # The criteria get the same check, with their depth and size, from compile_criteria.
    fields_but_criteria = {name: value for name, value in goal.items() if name != "criteria"}
    unstorable = unstorable_text(fields_but_criteria, path.rstrip("."))
    if unstorable is not None:
        raise GoalError({unstorable[0]: [unstorable[1]]})
    max_occurrences = goal["max_awards"] if goal["repeatable"] else 1
    try:
        compile_criteria(goal["criteria"], max_occurrences=max_occurrences)
    except CriteriaError as error:
        raise CriteriaError({f"{path}{key}": msgs for key, msgs in error.errors.items()}) from error
    goal.setdefault("name", goal["key"])
    return goal


def _check_references(session: Session, goals: list[dict[str, Any]], prefixes: list[str]) -> None:
    """Every ``goal`` criterion must name a known goal, and references may not loop."""
    graph: dict[str, set[str]] = {
        goal.key: {key for _, key in _goal_refs(goal.criteria)}
        for goal in session.execute(select(Goal)).scalars()
    }
    for goal in goals:
        graph[goal["key"]] = {key for _, key in _goal_refs(goal["criteria"])}
    for prefix, goal in zip(prefixes, goals, strict=True):
        for ref_path, key in _goal_refs(goal["criteria"], f"{prefix}criteria"):
            if key not in graph:
                raise GoalReferenceError(
                    {
                        ref_path: [
                            f"Refers to the goal {key!r}, which does not exist; define it first."
                        ]
                    }
                )
            if _reaches(graph, key, goal["key"]):
                raise GoalReferenceError(
                    {
                        ref_path: [
                            f"Refers to {key!r}, which depends on {goal['key']!r}: goals may"
                            " not depend on each other in a cycle."
                        ]
                    }
                )


def check_goal(session: Session, definition: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one definition as :func:`define_goals` would, references included.

    Writes nothing. Returns the validated definition; raises :class:`GoalError`,
    :class:`CriteriaError` or :class:`GoalReferenceError` with the same paths.
    """
    goal = validate_goal(definition)
    _check_references(session, [goal], [""])
    return goal


def _reaches(graph: Mapping[str, set[str]], start: str, target: str) -> bool:
    seen: set[str] = set()
    stack = [start]
    while stack:
        key = stack.pop()
        if key == target:
            return True
        if key not in seen:
            seen.add(key)
            stack.extend(graph.get(key, ()))
    return False


def define_goals(
    session: Session,
    definitions: Iterable[Mapping[str, Any]],
    *,
    changed_by: str | None = None,
    to_backfill: list[str] | None = None,
) -> list[GoalView]:
    """Validate every definition, then insert or update each goal by key (one transaction).

    A goal whose definition changes gets a new version (see :mod:`flask_gamify.versions`);
    one defined exactly as it is stays untouched.

    :param to_backfill: receives the keys of the goals whose progress must be rebuilt
        from the event log: new active goals, and active goals whose meaning changed
        (criteria, repeatability, entity type, start, end, assignment) or that were a
        draft or archived.
    """
    changed_by = check_changed_by(changed_by)
    definitions = list(definitions)
    prefixes = [
        f"goals[{index}]." if len(definitions) > 1 else "" for index in range(len(definitions))
    ]
    goals = [
        validate_goal(definition, path=prefix)
        for prefix, definition in zip(prefixes, definitions, strict=True)
    ]
    keys = [goal["key"] for goal in goals]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise GoalError({"goals": [f"Define each key once; repeated: {', '.join(duplicates)}."]})
    _check_references(session, goals, prefixes)
    existing = {
        goal.key: goal
        for goal in session.execute(
            select(Goal).where(Goal.key.in_(keys)).with_for_update()
        ).scalars()
    }
    archived = [key for key in keys if key in existing and existing[key].archived_at is not None]
    if archived:
        raise GoalArchived(archived[0])
    now = utcnow()
    saved = []
    for data in goals:
        stored = existing.get(data["key"])
        before = None if stored is None else definition_fields(goal_view(stored))
        meaning = None if stored is None else _meaning(stored)
        was_live = stored is not None and stored.status == "active" and stored.archived_at is None
        goal = stored or Goal(key=data["key"], created_at=now, updated_at=now)
        max_occurrences = data["max_awards"] if data["repeatable"] else 1
        for name, value in data.items():
            setattr(goal, name, value)
        goal.criteria_hash = criteria_hash(data["criteria"], max_occurrences)
        rebuild = not was_live or meaning != _meaning(goal)
        if to_backfill is not None and data["status"] == "active" and rebuild:
            to_backfill.append(goal.key)
        after = definition_fields(goal_view(goal))
        if after != before:
            goal.updated_at = now
        session.add(goal)
        saved.append((goal, before, after))
    session.flush()
    for goal, before, after in saved:
        record_change(session, goal, before, after, changed_at=now, changed_by=changed_by)
        if goal.status == "active" and (before is None or before.get("status") != "active"):
            # A new live goal, or a draft made live by its definition.
            record_event(session, "goal.activated", goal_view(goal).to_dict(), now)
    return [goal_view(goal) for goal, _, _ in saved]


def _meaning(goal: Goal) -> tuple[Any, ...]:
    """What decides which events count and how: a change means progress is rebuilt."""
    return (
        goal.criteria_hash,
        goal.entity_type,
        goal.starts_at,
        goal.ends_at,
        goal.assigned_only,
    )


def _locked_goal(session: Session, key: str) -> Goal:
    goal = session.execute(
        select(Goal).where(Goal.key == key).with_for_update()
    ).scalar_one_or_none()
    if goal is None:
        raise GoalNotFound(key)
    return goal


def _change(
    session: Session, goal: Goal, changed_by: str | None, change: Callable[[Goal, datetime], None]
) -> None:
    """Apply ``change`` (given the goal and now) and record it as a version."""
    before = definition_fields(goal_view(goal))
    now = utcnow()
    change(goal, now)
    goal.updated_at = now
    session.flush()
    after = definition_fields(goal_view(goal))
    record_change(session, goal, before, after, changed_at=now, changed_by=changed_by)


def activate_goal(session: Session, key: str, *, changed_by: str | None = None) -> GoalView:
    """Make a draft goal active (live); an archived goal cannot be activated."""
    changed_by = check_changed_by(changed_by)
    goal = _locked_goal(session, key)
    if goal.archived_at is not None:
        raise GoalArchived(key)
    if goal.status != "active":
        _change(session, goal, changed_by, lambda goal, _now: setattr(goal, "status", "active"))
        view = goal_view(goal)
        record_event(session, "goal.activated", view.to_dict(), utcnow())
        return view
    return goal_view(goal)


def archive_goal(session: Session, key: str, *, changed_by: str | None = None) -> GoalView:
    """Archive a goal: it stops progressing; its progress and awards stay readable."""
    changed_by = check_changed_by(changed_by)
    goal = _locked_goal(session, key)
    if goal.archived_at is None:
        _change(session, goal, changed_by, lambda goal, now: setattr(goal, "archived_at", now))
    return goal_view(goal)


def restore_goal(session: Session, key: str, *, changed_by: str | None = None) -> GoalView:
    """Undo :func:`archive_goal`: the goal progresses again (no-op on an active goal)."""
    changed_by = check_changed_by(changed_by)
    goal = _locked_goal(session, key)
    if goal.archived_at is not None:
        _change(session, goal, changed_by, lambda goal, _now: setattr(goal, "archived_at", None))
    return goal_view(goal)


def validate_goal_changes(changes: Mapping[str, Any]) -> None:
    """Check changes to a stored goal on their own (:class:`GoalError`, :class:`CriteriaError`).

    What fails here is wrong whatever the stored goal is. What the changes imply together
    with the stored fields is checked by :func:`define_goals` once they are applied.
    """
    if "key" in changes:
        raise GoalError(
            {
                "key": [
                    "A goal's key cannot change; leave key out (create a goal with the new"
                    " key and archive this one to rename it)."
                ]
            }
        )
    try:
        GoalSchema().load(dict(changes), partial=True)
    except ValidationError as error:
        flat = flatten_errors(error.messages, "")
        raise (CriteriaError if all(k.startswith("criteria") for k in flat) else GoalError)(
            flat
        ) from error
    unstorable = unstorable_text({k: v for k, v in changes.items() if k != "criteria"})
    if unstorable is not None:
        raise GoalError({unstorable[0]: [unstorable[1]]})
    if "criteria" in changes:
        validate_criteria(changes["criteria"])


def goal_view(goal: Goal) -> GoalView:
    return GoalView(
        key=goal.key,
        name=goal.name,
        description=goal.description or "",
        criteria=goal.criteria,
        points=goal.points,
        repeatable=goal.repeatable,
        max_awards=goal.max_awards,
        hidden=goal.hidden,
        assigned_only=goal.assigned_only,
        owner=goal.owner,
        starts_at=goal.starts_at,
        ends_at=goal.ends_at,
        entity_type=goal.entity_type,
        icon=goal.icon,
        archived=goal.archived_at is not None,
        created_at=goal.created_at,
        updated_at=goal.updated_at,
        status=goal.status,
    )


#: Largest goals file ``goals load`` reads, in bytes.
MAX_GOALS_FILE_BYTES = 2 * 1024 * 1024
#: Largest goal document once YAML aliases are unfolded, in characters of JSON (about).
MAX_GOALS_DOCUMENT_SIZE = 2 * MAX_GOALS_FILE_BYTES
#: Deepest nesting of objects and lists in a goals file.
MAX_GOALS_FILE_DEPTH = 64


def read_goals_file(path: Path) -> list[dict[str, Any]]:
    """Read goal definitions from YAML or JSON: a list, or ``{"goals": [...]}``.

    :raises GamifyError: the file is too large, not UTF-8, not YAML/JSON, or not a list
        of definitions (one sentence that says which).
    """
    try:
        with path.open("rb") as file:
            data = file.read(MAX_GOALS_FILE_BYTES + 1)
    except OSError as error:
        raise GamifyError(f"{path} cannot be read: {error.strerror or error}.") from error
    return parse_goals(data, name=str(path), json_format=path.suffix == ".json")


def parse_goals(data: bytes, *, name: str, json_format: bool) -> list[dict[str, Any]]:
    """The goal definitions in the bytes of a goals file (see :func:`read_goals_file`).

    Bounded on every axis an untrusted file could abuse: bytes, UTF-8, nesting, and
    YAML aliases, which may refer to each other until a small file unfolds into
    billions of nodes (a "billion laughs"): the unfolded size is counted, lazily.
    """
    kind = "JSON" if json_format else "YAML"
    if len(data) > MAX_GOALS_FILE_BYTES:
        raise GamifyError(
            f"{name} is larger than {MAX_GOALS_FILE_BYTES} bytes; split it into several files."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise GamifyError(
            f"{name} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset"
            f" {error.start}); save it as UTF-8."
        ) from error
    try:
        document = (
            json.loads(text, parse_float=parse_json_float) if json_format else yaml.safe_load(text)
        )
    except RecursionError as error:
        raise GamifyError(f"{name} nests too deep to be a goals file.") from error
    except (ValueError, TypeError, OverflowError, yaml.YAMLError) as error:
        # One line: YAML messages span several, with the position of the problem.
        reason = " ".join(str(error).split())
        raise GamifyError(f"{name} is not valid {kind}: {reason}") from error
    if json_size(document, MAX_GOALS_DOCUMENT_SIZE) > MAX_GOALS_DOCUMENT_SIZE:
        raise GamifyError(
            f"{name} unfolds into more than {MAX_GOALS_DOCUMENT_SIZE} characters (YAML"
            " aliases repeat what they refer to); write the goals out without aliases."
        )
    deep = too_deep(document, MAX_GOALS_FILE_DEPTH)
    if deep is not None:
        raise GamifyError(
            f"{name} nests objects and lists more than {MAX_GOALS_FILE_DEPTH} levels deep,"
            f" at {deep}."
        )
    if isinstance(document, dict) and "goals" in document:
        document = document["goals"]
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise GamifyError(
            f"{name} must hold a list of goal definitions, or an object with a 'goals' list."
        )
    for index, item in enumerate(document):
        odd = [key for key in item if not isinstance(key, str)]
        if odd:
            raise GamifyError(
                f"{name}: goal {index + 1} has a key that is not text: {odd[0]!r}. Field names"
                " are words such as key, name, criteria."
            )
    return document


def dump_goals(goals: Iterable[GoalView], *, format: str = "yaml") -> str:
    """Goal definitions as a YAML or JSON document that ``goals load`` reads back."""
    document = {"goals": [goal.definition() for goal in goals]}
    if format == "json":
        return json.dumps(document, indent=2, sort_keys=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
