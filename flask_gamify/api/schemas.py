"""Marshmallow schemas of the REST API: request bodies, query strings and responses.

Request bodies that need precise error paths (events, goal definitions) are validated
by the core (:func:`~flask_gamify.events.make_event`,
:func:`~flask_gamify.goals.validate_goal`); their schemas here describe them for the
OpenAPI document. Query strings and the assignment body are loaded with these schemas.
Responses are the records' ``to_dict()`` forms, described by the ``*Out`` schemas.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from ..criteria.base import MAX_NUMBER
from ..criteria.limits import NO_NUL, VISIBLE_NO_NUL, is_visible
from ..events import ENTITY_NUMBER_MESSAGE
from ..goals import Flag
from ..leaderboards import MAX_LIMIT as MAX_LEADERBOARD_LIMIT
from ..leaderboards import PERIODS
from ..ledger import MAX_AMOUNT, MAX_CATEGORY_LENGTH, MAX_KEY_LENGTH, MAX_REASON_LENGTH
from ..models import (
    ENTITY_LENGTH,
    ENTITY_TYPE_LENGTH,
    EVENT_ID_LENGTH,
    EVENT_TYPE_LENGTH,
    GOAL_KEY_LENGTH,
)

#: Largest and default page size of lists.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

_ENTITY_DOC = {
    "description": "The entity's id: a string or an integer (stored as a string).",
    "anyOf": [
        {"type": "string", "maxLength": ENTITY_LENGTH, "pattern": VISIBLE_NO_NUL},
        {"type": "integer", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
    ],
}


class EntityId(fields.Field[str]):
    """An entity id: a non-blank string or an integer, loaded as a string."""

    def json_schema(self, ref: Any) -> dict[str, Any]:
        return dict(_ENTITY_DOC)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("Must be the entity's id, a string or an integer.")
        if isinstance(value, int) and abs(value) > MAX_NUMBER:
            raise ValidationError(ENTITY_NUMBER_MESSAGE)
        text = str(value)
        if not is_visible(text) or len(text) > ENTITY_LENGTH:
            raise ValidationError(f"Must be 1 to {ENTITY_LENGTH} characters long.")
        return text


def _moment(**kwargs: Any) -> fields.AwareDateTime:
    return fields.AwareDateTime(default_timezone=UTC, **kwargs)


# -- requests -------------------------------------------------------------------------


class EventIn(Schema):
    """One event."""

    class Meta:
        unknown = RAISE

    type = fields.String(
        required=True,
        validate=validate.Length(min=1, max=EVENT_TYPE_LENGTH),
        metadata={
            "description": "What happened, such as 'article.read'.",
            "pattern": VISIBLE_NO_NUL,
        },
    )
    entity = fields.Raw(required=True, metadata=_ENTITY_DOC)
    entity_type = fields.String(
        validate=validate.Length(min=1, max=ENTITY_TYPE_LENGTH),
        metadata={
            "description": "The kind of entity (default GAMIFY_DEFAULT_ENTITY_TYPE, 'user').",
            "pattern": VISIBLE_NO_NUL,
        },
    )
    attributes = fields.Dict(
        keys=fields.String(),
        allow_none=True,
        metadata={
            "description": "Event details that criteria filter on (GAMIFY_MAX_ATTRIBUTES_BYTES"
            " as JSON, nested at most GAMIFY_MAX_ATTRIBUTES_DEPTH deep).",
        },
    )
    id = fields.String(
        allow_none=True,
        validate=[
            validate.Length(min=1, max=EVENT_ID_LENGTH),
            validate.Regexp(r"^[A-Za-z0-9._:-]+$"),
        ],
        metadata={
            "description": "Idempotency key: an event sent again with the same id is counted"
            " once. Generated when missing or null.",
        },
    )
    occurred_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When it happened (missing or null: now). Past events are"
            " accepted; events more than GAMIFY_MAX_FUTURE ahead are rejected.",
        },
    )


class EventBatchIn(Schema):
    """Several events, recorded all or none."""

    class Meta:
        unknown = RAISE

    events = fields.List(fields.Nested(EventIn), required=True, validate=validate.Length(min=1))


class AcceptedOut(Schema):
    accepted = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The id of every event of the request, in order."},
    )


def _criteria(*, required: bool) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(),
        required=required,
        metadata={
            "description": "The criteria, in the criteria language (see the documentation).",
            "example": {"type": "count", "event": "login", "target": 3},
        },
    )


class _GoalFields(Schema):
    """Goal options shared by creation, update and the goal's JSON form."""

    class Meta:
        unknown = RAISE

    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000))
    criteria = _criteria(required=False)
    points = fields.Integer(validate=validate.Range(min=0))
    repeatable = fields.Boolean()
    max_awards = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    hidden = fields.Boolean()
    assigned_only = fields.Boolean()
    owner = fields.String(allow_none=True, validate=validate.Length(max=ENTITY_LENGTH))
    starts_at = _moment(allow_none=True)
    ends_at = _moment(allow_none=True)
    entity_type = fields.String(validate=validate.Length(min=1, max=ENTITY_TYPE_LENGTH))
    status = fields.String(
        validate=validate.OneOf(["active", "draft"]),
        metadata={
            "description": "'draft': never progresses nor awards; 'active' (default) makes"
            " it live and counts the history in the event log."
        },
    )


_KEY = fields.String(
    validate=[
        validate.Length(min=1, max=GOAL_KEY_LENGTH),
        validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"),
    ],
    metadata={"description": "Unique key, such as 'reader'.", "example": "reader"},
)


class GoalIn(_GoalFields):
    """A new goal."""

    key = fields.String(required=True, validate=_KEY.validators, metadata=_KEY.metadata)
    criteria = _criteria(required=True)


class GoalPatchIn(_GoalFields):
    """Changes to a goal: the given fields replace the stored ones."""

    key = fields.String(
        validate=_KEY.validators,
        metadata={"description": "May only repeat the goal's key; keys cannot change."},
    )


class AssignIn(Schema):
    """Assign an ``assigned_only`` goal (a to-do list)."""

    class Meta:
        unknown = RAISE

    assignee = EntityId(required=True, metadata=_ENTITY_DOC)
    entity_type = fields.String(validate=validate.Length(min=1, max=ENTITY_TYPE_LENGTH))
    assigned_by = EntityId(allow_none=True, metadata=_ENTITY_DOC)
    assigned_by_type = fields.String(validate=validate.Length(min=1, max=ENTITY_TYPE_LENGTH))
    due_at = _moment(allow_none=True)


class BackfillIn(Schema):
    """A backfill of a goal: rebuild its progress from the event log."""

    class Meta:
        unknown = RAISE

    revoke = Flag(
        load_default=False,
        metadata={"description": "Also revoke awards entities no longer qualify for."},
    )
    notify = Flag(
        load_default=True,
        metadata={
            "description": "Whether the awards it gives notify their entities"
            " (goal-completed notifications, with GAMIFY_NOTIFY_AWARDS)."
        },
    )


class ActivateIn(Schema):
    """How a draft goal is made live."""

    class Meta:
        unknown = RAISE

    count_history = Flag(
        load_default=True,
        metadata={
            "description": "Count the history in the event log (a backfill: entities who"
            " qualify already get the award now). false: only events from now on count."
        },
    )
    notify = Flag(
        load_default=True,
        metadata={
            "description": "Whether the awards the backfill gives notify their entities"
            " (goal-completed notifications, with GAMIFY_NOTIFY_AWARDS)."
        },
    )


class PreviewIn(Schema):
    """A definition to preview: a saved goal (``goal``) or unsaved ``criteria``."""

    class Meta:
        unknown = RAISE

    goal = fields.String(validate=_KEY.validators, metadata={"description": "A goal's key."})
    criteria = fields.Raw(metadata={"description": "Criteria of an unsaved definition."})
    entity_type = fields.String(
        validate=validate.Length(min=1, max=ENTITY_TYPE_LENGTH),
        metadata={"description": "The kind of entity the definition is for (default: user)."},
    )
    sample = fields.Integer(
        strict=True,
        load_default=10,
        validate=validate.Range(min=0, max=100),
        metadata={"description": "Entities, furthest along first, shown in full."},
    )

    @validates_schema
    def _one_definition(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("goal" in data) == ("criteria" in data):
            raise ValidationError("Give either 'goal' (a key) or 'criteria', not both.", "goal")

    @post_load
    def _options(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        options = {"entity_type": data.pop("entity_type")} if "entity_type" in data else {}
        return {**data, "options": options}


class MarkReadIn(Schema):
    """Which notifications to mark read: ``ids``, or all when missing."""

    class Meta:
        unknown = RAISE

    ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)),
        validate=validate.Length(max=1000),
        metadata={"description": "Notification ids; every unread notification when missing."},
    )


def _visible_text(max_length: int, description: str, **kwargs: Any) -> fields.String:
    """A string of 1 to ``max_length`` characters, not only blanks, without NUL."""
    return fields.String(
        validate=[
            validate.Length(min=1, max=max_length),
            validate.Regexp(VISIBLE_NO_NUL, error="Must not be blank or contain NUL."),
        ],
        metadata={"description": description},
        **kwargs,
    )


class Amount(fields.Field[int]):
    """Points to give (above 0) or take back (below 0): never 0, at most 2**31 - 1."""

    def json_schema(self, ref: Any) -> dict[str, Any]:
        return {
            "type": "integer",
            "minimum": -MAX_AMOUNT,
            "maximum": MAX_AMOUNT,
            "not": {"const": 0},
            "description": "Points to give (positive) or take back (negative); not 0.",
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be a whole number of points, positive or negative.")
        if value == 0:
            raise ValidationError("Must not be 0: an adjustment gives or takes back points.")
        if abs(value) > MAX_AMOUNT:
            raise ValidationError(f"Must be from {-MAX_AMOUNT} to {MAX_AMOUNT}.")
        return value


class AdjustmentIn(Schema):
    """Points given or taken back by hand."""

    class Meta:
        unknown = RAISE

    amount = Amount(required=True)
    reason = _visible_text(MAX_REASON_LENGTH, "Why; recorded in the points ledger.", required=True)
    category = _visible_text(
        MAX_CATEGORY_LENGTH, 'The category of points (default "points", where goals\' go).'
    )
    idempotency_key = _visible_text(
        MAX_KEY_LENGTH,
        "Sending the same key again (for the same entity) changes nothing and answers 200"
        " with the first entry; the same key with another amount or category answers 409.",
    )


class RevocationIn(Schema):
    """An award taken back."""

    class Meta:
        unknown = RAISE

    reason = _visible_text(
        MAX_REASON_LENGTH, "Why; recorded in the awards' audit trail.", required=True
    )
    occurrence = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Which award (1 for the first); the latest held when missing."},
    )
    reset_progress = Flag(
        load_default=False,
        metadata={
            "description": "Start the goal over: clear the entity's progress, so that it"
            " earns the goal again from new events. false (default): the revoked award is"
            " not given again by the events that earned it."
        },
    )


# -- query strings --------------------------------------------------------------------


def page_size() -> fields.Integer:
    """The ``limit`` of a paged list: 1 to ``MAX_PAGE_SIZE``."""
    return fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Page size, 1 to {MAX_PAGE_SIZE}."},
    )


class PageArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = page_size()
    cursor = fields.String(
        validate=validate.Regexp(
            r"^[0-9]{1,9}$", error="Not a cursor of this API; copy it from a 'next' link."
        ),
        metadata={
            "description": "Where the page starts: copy it from the 'next' link (opaque).",
            "pattern": "^[0-9]{1,9}$",
        },
    )


class GoalListArgs(PageArgs):
    owner = fields.String(
        metadata={"description": "Only goals authored by this owner.", "pattern": NO_NUL}
    )
    entity_type = fields.String(
        metadata={"description": "Only goals for this entity type.", "pattern": NO_NUL}
    )
    archived = fields.Boolean(
        load_default=False,
        metadata={"description": "true: only archived goals; false (default): active goals."},
    )


class ProgressListArgs(PageArgs):
    completed = fields.Boolean(
        metadata={"description": "Only completed (true) or incomplete (false) goals."}
    )
    include_hidden = fields.Boolean(
        load_default=False, metadata={"description": "Also hidden goals not completed yet."}
    )


class AssignmentListArgs(PageArgs):
    role = fields.String(
        load_default="assignee",
        validate=validate.OneOf(["assignee", "assigner"]),
        metadata={
            "description": "assignee (default): assigned to the entity; assigner: assigned by it."
        },
    )
    completed = fields.Boolean(metadata={"description": "Only completed or open assignments."})


class LeaderboardArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    period = fields.String(
        load_default="all",
        validate=validate.OneOf(PERIODS),
        metadata={
            "description": "all (default), or the current day, week (ISO, from Monday) or"
            " month in GAMIFY_TIMEZONE, by event time."
        },
    )
    limit = fields.Integer(
        load_default=10,
        validate=validate.Range(min=1, max=MAX_LEADERBOARD_LIMIT),
        metadata={"description": f"Entries, 1 to {MAX_LEADERBOARD_LIMIT}."},
    )
    around = _visible_text(
        ENTITY_LENGTH, "Also list this entity's standing and up to five on each side."
    )
    category = _visible_text(MAX_CATEGORY_LENGTH, 'A category of points (default "points").')


class LedgerArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = page_size()
    before = fields.Integer(
        validate=validate.Range(min=1, max=MAX_NUMBER),
        metadata={
            "description": "Only entries older than this id: the 'next' link sets it to the"
            " last id of the page."
        },
    )
    category = _visible_text(MAX_CATEGORY_LENGTH, "Only this category's entries.")


class NotificationListArgs(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread ones."})


# -- responses ------------------------------------------------------------------------


class GoalOut(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    criteria = fields.Dict(keys=fields.String(), required=True)
    points = fields.Integer(required=True)
    repeatable = fields.Boolean(required=True)
    max_awards = fields.Integer(required=True, allow_none=True)
    hidden = fields.Boolean(required=True)
    assigned_only = fields.Boolean(required=True)
    owner = fields.String(required=True, allow_none=True)
    starts_at = fields.DateTime(required=True, allow_none=True)
    ends_at = fields.DateTime(required=True, allow_none=True)
    entity_type = fields.String(required=True)
    icon = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The badge's picture: a built-in icon's name (served at"
            " /icons/{name}.svg) or an image's address (uploaded ones at"
            " /badge-images/{digest})."
        },
    )
    status = fields.String(required=True, validate=validate.OneOf(["active", "draft"]))
    archived = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class FieldChangeOut(Schema):
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class GoalVersionOut(Schema):
    goal = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"minimum": 1})
    changed_at = fields.DateTime(required=True)
    changed_by = fields.String(required=True, allow_none=True)
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(FieldChangeOut),
        required=True,
        metadata={
            "description": "The fields that changed, in the goal's JSON form; version 1"
            " has every field, with `before` null."
        },
    )


_PERCENT = (
    "floor(100 * current / target), 0 to 100; 100 exactly when completed. all: current"
    " counts the complete children; any: the numbers of the child closest to completion."
)
_MISSING = (
    "What is still missing: the all_of values not seen, the events of the sequence"
    " steps not reached, the key of a goal criterion's prerequisite."
)


class ItemOut(Schema):
    """A listed value of an all_of, or a step of a sequence."""

    value = fields.Raw(
        required=True,
        metadata={"description": "The listed value (all_of), or the step's position from 0."},
    )
    label = fields.String(
        required=True,
        metadata={"description": "The goal's label for it, else the value or the step's event."},
    )
    done = fields.Boolean(required=True)


class EvaluationOut(Schema):
    """Progress on one criterion of a composite, with its own children."""

    type = fields.String(required=True)
    label = fields.String(
        required=True,
        metadata={"description": "The criterion's label, else one written from its fields."},
    )
    current = fields.Float(required=True)
    target = fields.Float(required=True)
    percent = fields.Integer(required=True, metadata={"description": _PERCENT})
    completed = fields.Boolean(required=True)
    missing = fields.List(fields.Raw(), metadata={"description": _MISSING})
    items = fields.List(
        fields.Nested(ItemOut),
        metadata={"description": "Each listed value of an all_of, each step of a sequence."},
    )
    children = fields.List(fields.Nested(lambda: EvaluationOut()))


class ProgressOut(Schema):
    goal = fields.String(required=True)
    name = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "The criteria, in words."})
    current = fields.Float(required=True)
    target = fields.Float(required=True)
    percent = fields.Integer(required=True, metadata={"description": _PERCENT})
    completed = fields.Boolean(required=True)
    completed_at = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "When the goal was first met, by event time."},
    )
    times_completed = fields.Integer(required=True)
    points = fields.Integer(required=True)
    missing = fields.List(fields.Raw(), required=True, metadata={"description": _MISSING})
    items = fields.List(
        fields.Nested(ItemOut),
        required=True,
        metadata={
            "description": "Each listed value of an all_of, each step of a sequence, with"
            " its label and whether it is done (empty for other criteria)."
        },
    )
    children = fields.List(
        fields.Nested(EvaluationOut),
        required=True,
        metadata={"description": "Progress of each child of an all/any criterion."},
    )
    late_events = fields.Integer(
        required=True,
        metadata={
            "description": "Events that arrived too late to count for a windowed criterion"
            " of the goal (older than what it had seen minus the late-event allowance)."
        },
    )


class AwardOut(Schema):
    goal = fields.String(required=True)
    name = fields.String(required=True)
    entity_type = fields.String(required=True)
    entity = fields.String(required=True)
    occurrence = fields.Integer(required=True)
    points = fields.Integer(required=True)
    awarded_at = fields.DateTime(
        required=True, metadata={"description": "When the award was recorded."}
    )
    achieved_at = fields.DateTime(
        required=True,
        metadata={
            "description": "When the goal was met, by event time: the occurred_at of the"
            " event that completed it."
        },
    )


class AssignmentOut(Schema):
    id = fields.Integer(required=True)
    goal = fields.String(required=True)
    entity_type = fields.String(required=True)
    entity = fields.String(required=True)
    assigned_by = fields.String(required=True, allow_none=True)
    assigned_by_type = fields.String(required=True)
    assigned_at = fields.DateTime(required=True)
    due_at = fields.DateTime(required=True, allow_none=True)
    completed_at = fields.DateTime(required=True, allow_none=True)
    completed = fields.Boolean(required=True)


class NotificationOut(Schema):
    id = fields.Integer(required=True)
    entity_type = fields.String(required=True)
    entity = fields.String(required=True)
    kind = fields.String(required=True)
    data = fields.Dict(keys=fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(required=True, allow_none=True)
    read = fields.Boolean(required=True)


class MarkedOut(Schema):
    marked = fields.Integer(required=True, metadata={"description": "How many were marked."})


class BackfillOut(Schema):
    """A backfill: a goal's progress rebuilt from the event log."""

    id = fields.Integer(required=True)
    goal = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["queued", "running", "done", "superseded", "failed"]),
        metadata={
            "description": "'superseded': the goal changed again; a newer backfill took over."
        },
    )
    total = fields.Integer(required=True, metadata={"description": "Entities to rebuild."})
    done = fields.Integer(required=True, metadata={"description": "Entities rebuilt."})
    awarded = fields.Integer(required=True)
    revoked = fields.Integer(required=True)
    revoke = fields.Boolean(required=True)
    notify = fields.Boolean(
        required=True,
        metadata={"description": "Whether the awards it gives notify their entities."},
    )
    error = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    finished_at = fields.DateTime(required=True, allow_none=True)


class BackfillStartedOut(Schema):
    """A goal and the backfill it started (``null``: nothing to rebuild)."""

    goal = fields.Nested(GoalOut, required=True)
    backfill = fields.Nested(BackfillOut, required=True, allow_none=True)


class PreviewEntityOut(Schema):
    entity_type = fields.String(required=True)
    entity = fields.String(required=True)
    progress = fields.Nested(ProgressOut, required=True)


class PreviewOut(Schema):
    """What a definition gives over the event log; nothing was written."""

    entities = fields.Integer(required=True, metadata={"description": "Entities that progressed."})
    completed = fields.Integer(required=True, metadata={"description": "Would complete."})
    histogram = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Entities per bucket of percent: '0-9' ... '90-99', '100'."},
    )
    sample = fields.List(fields.Nested(PreviewEntityOut), required=True)
    events_scanned = fields.Integer(required=True)
    since = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "The oldest event covered; older ones were pruned."},
    )


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """``{"items": [...], "next": url-or-null}`` around ``item``."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "URL of the next page; null on the last page."},
            ),
        },
        name=name,
    )


class StandingOut(Schema):
    rank = fields.Integer(
        required=True,
        metadata={"description": "Competition rank: 1, 2, 2, 4 (ties share a rank)."},
    )
    entity = fields.String(required=True)
    points = fields.Integer(required=True)


class LeaderboardOut(Schema):
    entity_type = fields.String(required=True)
    category = fields.String(required=True)
    period = fields.String(required=True, validate=validate.OneOf(PERIODS))
    starts_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "null for all time."}
    )
    ends_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "Excluded; null for all time."}
    )
    entries = fields.List(
        fields.Nested(StandingOut),
        required=True,
        metadata={"description": "The top entries; ties listed by entity id."},
    )
    around = fields.List(
        fields.Nested(StandingOut),
        required=True,
        allow_none=True,
        metadata={
            "description": "With around=: up to five standings before the entity, its own"
            " (0 points when it has none in the period), up to five after; else null."
        },
    )


class LevelOut(Schema):
    number = fields.Integer(
        required=True, metadata={"description": "1 for the first level; 0 below it."}
    )
    name = fields.String(required=True, allow_none=True)
    points = fields.Integer(required=True)
    floor = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The level's threshold."}
    )
    next_name = fields.String(required=True, allow_none=True)
    next_at = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The next level's threshold; null at the top level."},
    )
    points_to_next = fields.Integer(required=True, allow_none=True)
    percent = fields.Integer(required=True)


class PointsOut(Schema):
    entity_type = fields.String(required=True)
    entity = fields.String(required=True)
    points = fields.Integer(
        required=True, metadata={"description": 'Points in the "points" category.'}
    )
    categories = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Points in every category the entity has points in."},
    )
    level = fields.Nested(
        LevelOut,
        required=True,
        allow_none=True,
        metadata={"description": "null when no levels are defined for the entity type."},
    )


class LedgerEntryOut(Schema):
    id = fields.Integer(required=True)
    entity_type = fields.String(required=True)
    entity = fields.String(required=True)
    amount = fields.Integer(required=True)
    category = fields.String(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(["award", "revocation", "adjustment"])
    )
    goal = fields.String(required=True, allow_none=True)
    occurrence = fields.Integer(required=True, allow_none=True)
    reason = fields.String(required=True)
    changed_by = fields.String(required=True, allow_none=True)
    idempotency_key = fields.String(required=True, allow_none=True)
    occurred_at = fields.DateTime(
        required=True, metadata={"description": "Event time; leaderboard periods go by it."}
    )
    recorded_at = fields.DateTime(required=True)


class AdjustmentOut(Schema):
    entry = fields.Nested(LedgerEntryOut, required=True)
    points = fields.Integer(
        required=True, metadata={"description": "The entity's points in the category now."}
    )


class ErrorDetail(Schema):
    status = fields.Integer(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Messages for each bad field, by path ('events[3].type')."},
    )


class ErrorOut(Schema):
    error = fields.Nested(ErrorDetail, required=True)
