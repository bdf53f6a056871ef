"""The OpenAPI 3 document of the REST API, built with apispec from the schemas."""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from ..badges import BUILTIN_ICONS
from ..criteria.base import MAX_NUMBER
from ..criteria.json_schema import LOOSER_THAN_SERVER, criteria_definitions, object_schema
from ..criteria.limits import MAX_DEPTH, NO_NUL, VISIBLE_NO_NUL
from ..goals import goal_definition_schema
from ..models import ENTITY_LENGTH, ENTITY_TYPE_LENGTH, EVENT_ID_LENGTH, EVENT_TYPE_LENGTH
from . import schemas
from .examples import PROGRESS_EXAMPLE, REQUEST_EXAMPLES
from .keys import SCOPES
from .webhook_spec import add_webhook_components, add_webhook_paths, webhook_payloads

__all__ = ["build_spec"]

OPENAPI_VERSION = "3.1.0"

_ERRORS = {
    400: "The body is not valid JSON.",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key lacks the scope (or the authorizer refused); an owner-bound caller"
    " set another `owner`; a caller bound to an entity asked about another entity; an"
    " owner-bound caller asked for an entity's notifications, points, ledger or a"
    " leaderboard, or to adjust points; a caller bound to an entity asked to change"
    " points or awards; a caller bound to an owner or an entity asked to manage webhooks.",
    404: "No such goal, or one the caller may not see (another owner's goal for an"
    " owner-bound key, a hidden goal it may not author): the same answer; the entity"
    " does not hold the award to revoke; no webhook endpoint or delivery with that id.",
    409: "Conflict with what is stored: the goal exists already (archived ones too); the"
    " goal is archived (restore it first); a `goal` criterion names no goal, or goals"
    " would depend on each other in a cycle; changes do not fit the stored goal's other"
    " fields (such as `max_awards` on a goal that is not repeatable); the goal cannot be"
    " assigned; an adjustment's `idempotency_key` was used before for another amount or"
    " category.",
    413: "The body or the batch is too large.",
    415: "The body is not JSON (send Content-Type: application/json). Without a bearer"
    " key, every POST, PUT, PATCH and DELETE needs a JSON content type (CSRF protection).",
    422: "Invalid input; `errors` names each bad field.",
    500: "Unexpected error (logged on the server).",
}

_ENTITY_PARAMETERS = [
    {
        "in": "path",
        "name": "entity_type",
        "required": True,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": VISIBLE_NO_NUL,
        },
        "description": "The kind of entity, such as 'user'.",
    },
    {
        "in": "path",
        "name": "entity",
        "required": True,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": VISIBLE_NO_NUL,
        },
        "description": "The entity's id.",
    },
]
_GOAL_KEY = {
    "in": "path",
    "name": "key",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL},
    "description": "The goal's key.",
}


#: The groups the docs page shows operations in, in this order.
_TAGS = {
    "Events": "What happened: the input of every goal.",
    "Goals": "Define, change, preview, assign and archive goals; backfills.",
    "Entities": "Progress, awards, assignments, notifications and points of an entity.",
    "Leaderboards": "Ranks by points: all time, or the current day, week or month.",
    "Badges": "Badge pictures (no API key needed).",
    "Webhooks": "Endpoints that receive events as signed HTTP POSTs, and their deliveries.",
    "Document": "This OpenAPI document.",
}
_TAG_OF_FIRST_SEGMENT = {
    "events": "Events",
    "goals": "Goals",
    "previews": "Goals",
    "entities": "Entities",
    "leaderboards": "Leaderboards",
    "badge-images": "Badges",
    "icons": "Badges",
    "openapi.json": "Document",
    "webhooks": "Webhooks",
}

_STATE_CHANGING = frozenset({"post", "put", "patch", "delete"})


def _json(schema: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    *,
    operation_id: str,
    scope: str | None,
    ok: tuple[int, str, Any],
    errors: tuple[int, ...],
    body: Any = None,
    body_required: bool = True,
    query: type[Schema] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    description: str = "",
    headers: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status, ok_description, ok_schema = ok
    success: dict[str, Any] = {"description": ok_description, **_json(ok_schema)}
    if headers:
        success["headers"] = headers
    if links:
        success["links"] = links
    responses: dict[str, Any] = {str(status): success}
    codes = set(errors) | {500}
    if scope is not None:
        codes |= {401, 403}
    if body is not None:
        codes |= {400, 413, 415, 422}
    if query is not None:
        codes.add(422)
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/Error{code}"}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": responses,
    }
    if scope is not None:
        operation["description"] = f"{description}\n\nScope: `{scope}`.".strip()
        operation["security"] = [{"bearerAuth": []}]
        operation["x-scope"] = scope
    else:
        operation["description"] = description
        operation["security"] = []
    params = list(parameters or [])
    if query is not None:
        params.append({"in": "query", "schema": query})
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": body_required, **_json(body)}
        if operation_id in REQUEST_EXAMPLES:
            content = operation["requestBody"]["content"]["application/json"]
            content["examples"] = REQUEST_EXAMPLES[operation_id]
    return operation


#: The operations that act on one goal, by operationId: a goal's answer links to each
#: (``key`` from the body), which lets clients and schemathesis' stateful phase go from
#: a created goal to reading, changing and archiving it. New operations on
#: ``/goals/{key}/...`` add their operationId here.
GOAL_OPERATIONS = (
    "getGoal",
    "changeGoal",
    "archiveGoal",
    "restoreGoal",
    "assignGoal",
    "listGoalVersions",
    "activateGoal",
    "listBackfills",
    "startBackfill",
)
#: Not linked from an archive's answer: a restore (a POST below the goal's path) between
#: an archive and a read would look to schemathesis like a read after delete.
_AFTER_ARCHIVE_NOT = ("restoreGoal",)


def _goal_links(*, but: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        operation_id[0].upper() + operation_id[1:]: {
            "operationId": operation_id,
            "parameters": {"key": "$response.body#/key"},
        }
        for operation_id in GOAL_OPERATIONS
        if operation_id not in but
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _attribute_values(depth: int) -> dict[str, dict[str, Any]]:
    """``AttributeValue0`` (scalars) to ``AttributeValue{depth - 1}``.

    ``AttributeValue{k}`` may be an object or list nesting ``k`` levels deep (itself
    included). The attributes object is the first of the ``depth`` levels
    ``make_event`` allows, so its values are ``AttributeValue{depth - 1}``.
    """
    scalar: dict[str, Any] = {"type": ["null", "boolean", "number", "string"], "pattern": NO_NUL}
    bounded: dict[str, Any] = {"minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
    values: dict[str, dict[str, Any]] = {"AttributeValue0": scalar | bounded}
    for level in range(1, depth):
        inner = _ref(f"AttributeValue{level - 1}")
        values[f"AttributeValue{level}"] = {
            "type": ["null", "boolean", "number", "string", "array", "object"],
            "pattern": NO_NUL,
            "items": inner,
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": inner,
        } | bounded
    return values


def _event_schema(depth: int, size: int) -> dict[str, Any]:
    """One event, as :func:`~flask_gamify.events.make_event` validates it."""
    attributes: dict[str, Any] = {
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "description": "Event details that criteria filter on: at most"
        f" {size} bytes as JSON (GAMIFY_MAX_ATTRIBUTES_BYTES), nested at most {depth}"
        " deep (GAMIFY_MAX_ATTRIBUTES_DEPTH); numbers between"
        f" -{MAX_NUMBER} and {MAX_NUMBER}.",
    }
    attributes["additionalProperties"] = _ref(f"AttributeValue{depth - 1}")
    return {
        "type": "object",
        "required": ["type", "entity"],
        "additionalProperties": False,
        "properties": {
            "type": {
                "type": "string",
                "maxLength": EVENT_TYPE_LENGTH,
                "pattern": VISIBLE_NO_NUL,
                "description": "What happened, such as 'article.read'.",
            },
            "entity": {
                "description": "The entity's id: a string or an integer (stored as a string).",
                "anyOf": [
                    {"type": "string", "maxLength": ENTITY_LENGTH, "pattern": VISIBLE_NO_NUL},
                    {"type": "integer", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER},
                ],
            },
            "entity_type": {
                "type": "string",
                "maxLength": ENTITY_TYPE_LENGTH,
                "pattern": VISIBLE_NO_NUL,
                "description": "The kind of entity (default GAMIFY_DEFAULT_ENTITY_TYPE, 'user').",
            },
            "attributes": {"anyOf": [attributes, {"type": "null"}]},
            "id": {
                "anyOf": [
                    {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": EVENT_ID_LENGTH,
                        "pattern": "^[A-Za-z0-9._:-]+$",
                    },
                    {"type": "null"},
                ],
                "description": "Idempotency key: an event sent again with the same id is"
                " counted once. Generated when missing or null.",
            },
            "occurred_at": {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                "description": "When it happened (missing or null: now), between the years 1"
                " and 9999 in UTC. Past events are accepted; events more than"
                " GAMIFY_MAX_FUTURE ahead are rejected (422).",
            },
        },
    }


@functools.lru_cache(maxsize=16)
def build_spec(
    server_url: str,
    max_batch: int,
    max_body: int,
    *,
    attributes_depth: int = 4,
    attributes_bytes: int = 8192,
) -> dict[str, Any]:
    """The OpenAPI document for an API served at ``server_url``.

    Request bodies are described by JSON Schemas generated from the validators (criteria
    and goals: :mod:`flask_gamify.criteria.json_schema`) or written next to them (events),
    so that a schema-valid request is accepted and an invalid one refused, except for
    what JSON Schema cannot say (listed in the document's description).
    """
    spec = APISpec(
        title="Flask-Gamify REST API",
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Goals, events and progress. Authenticate with"
            " `Authorization: Bearer <key>` (create keys with `flask gamify keys create`)."
            " A key bound to an owner (`--owner`) acts only on that owner's goals; other"
            " goals, and hidden goals a caller may not author, answer 404 like unknown"
            " ones. Without a bearer key, state-changing requests need a JSON content type."
            f" Request bodies may have at most {max_body} bytes. Text must be well-formed"
            " Unicode without NUL characters. Beyond the schemas, the server checks"
            f" that criteria nest at most {MAX_DEPTH} levels deep; "
            + "; ".join(LOOSER_THAN_SERVER)
            + "; that `ends_at` is later than `starts_at`; that an event's `occurred_at`"
            " is not ahead of the server's clock by more than GAMIFY_MAX_FUTURE, and its"
            " `attributes` fit GAMIFY_MAX_ATTRIBUTES_BYTES.",
        },
        servers=[{"url": server_url}],
    )
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key. Scopes: "
            + "; ".join(f"`{name}`: {text}" for name, text in SCOPES.items()),
        },
    )
    generated: dict[str, dict[str, Any]] = {
        **criteria_definitions(_ref, discriminator=True, exact_depth=False),
        **_attribute_values(attributes_depth),
        "Event": _event_schema(attributes_depth, attributes_bytes),
        "GoalCreate": goal_definition_schema(_ref),
        "GoalPatch": goal_definition_schema(_ref, changes=True),
        "AssignmentCreate": object_schema(schemas.AssignIn(), _ref),
        "MarkRead": object_schema(schemas.MarkReadIn(), _ref),
        "BackfillRequest": object_schema(schemas.BackfillIn(), _ref),
        "ActivationRequest": object_schema(schemas.ActivateIn(), _ref),
        "AdjustmentRequest": object_schema(schemas.AdjustmentIn(), _ref),
        "RevocationRequest": object_schema(schemas.RevocationIn(), _ref),
        "PreviewRequest": {
            "type": "object",
            "additionalProperties": False,
            "description": "Either `goal` (a saved goal's key) or `criteria`, not both.",
            "properties": {
                "goal": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200,
                    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
                },
                "criteria": _ref("Criterion"),
                "entity_type": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": ENTITY_TYPE_LENGTH,
                    "pattern": VISIBLE_NO_NUL,
                },
                "sample": {"type": "integer", "minimum": 0, "maximum": 100},
            },
            "oneOf": [
                {"required": ["goal"], "not": {"required": ["criteria"]}},
                {"required": ["criteria"], "not": {"required": ["goal"]}},
            ],
        },
    }
    for name, definition in generated.items():
        spec.components.schema(name, definition)
    for name, schema in (
        ("Error", schemas.ErrorOut),
        ("Goal", schemas.GoalOut),
        ("GoalVersion", schemas.GoalVersionOut),
        ("Evaluation", schemas.EvaluationOut),
        ("Progress", schemas.ProgressOut),
        ("Award", schemas.AwardOut),
        ("Assignment", schemas.AssignmentOut),
        ("Notification", schemas.NotificationOut),
        ("Marked", schemas.MarkedOut),
        ("Backfill", schemas.BackfillOut),
        ("BackfillStarted", schemas.BackfillStartedOut),
        ("Preview", schemas.PreviewOut),
        ("Accepted", schemas.AcceptedOut),
        ("Leaderboard", schemas.LeaderboardOut),
        ("Points", schemas.PointsOut),
        ("LedgerEntry", schemas.LedgerEntryOut),
        ("Adjustment", schemas.AdjustmentOut),
    ):
        # The example shows a composite's progress as the API answers it.
        example = {"examples": [PROGRESS_EXAMPLE]} if name == "Progress" else None
        spec.components.schema(name, example, schema=schema)
    spec.components.schema(
        "EventBatch",
        {
            "type": "object",
            "required": ["events"],
            "additionalProperties": False,
            "properties": {
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_batch,
                    "items": {"$ref": "#/components/schemas/Event"},
                }
            },
        },
    )
    pages = {}
    for item_name, item in (
        ("Goal", schemas.GoalOut),
        ("GoalVersion", schemas.GoalVersionOut),
        ("Backfill", schemas.BackfillOut),
        ("Progress", schemas.ProgressOut),
        ("Award", schemas.AwardOut),
        ("Assignment", schemas.AssignmentOut),
        ("Notification", schemas.NotificationOut),
        ("LedgerEntry", schemas.LedgerEntryOut),
    ):
        page = schemas.page_schema(item, f"{item_name}Page")
        spec.components.schema(f"{item_name}Page", schema=page)
        pages[item_name] = f"{item_name}Page"
    add_webhook_components(spec, _ref)
    for code, text in _ERRORS.items():
        spec.components.response(
            f"Error{code}",
            {"description": text, **_json("Error")},
        )

    for name, description in _TAGS.items():
        spec.tag({"name": name, "description": description})

    def path(rule: str, **operations: dict[str, Any]) -> None:
        tag = _TAG_OF_FIRST_SEGMENT[rule.split("/")[1]]
        for method, operation in operations.items():
            operation["tags"] = [tag]
            if method in _STATE_CHANGING and operation["security"]:
                # Without a bearer key, a request with no JSON content type is refused.
                responses = operation["responses"]
                responses.setdefault("415", {"$ref": "#/components/responses/Error415"})
                operation["responses"] = dict(
                    sorted(responses.items(), key=lambda item: int(item[0]))
                )
        spec.path(path=rule, operations=operations)

    path(
        "/events",
        post=_operation(
            "Send one event or a batch",
            operation_id="sendEvents",
            scope="events:write",
            description='One event object, or `{"events": [...]}` with up to'
            f" {max_batch} (GAMIFY_MAX_BATCH). Every event is validated first: a request"
            " with one bad event records nothing, and the 422 answer names the index and"
            " field of each bad one. Resending an event with the same `id` is accepted"
            " and counted once.",
            body={"anyOf": [_ref("Event"), _ref("EventBatch")]},
            ok=(202, "The events were accepted.", "Accepted"),
            errors=(),
        ),
    )
    path(
        "/goals",
        get=_operation(
            "List goals",
            operation_id="listGoals",
            scope="goals:read",
            query=schemas.GoalListArgs,
            ok=(200, "A page of goals, by key.", pages["Goal"]),
            errors=(),
        ),
        post=_operation(
            "Define a goal",
            operation_id="defineGoal",
            scope="goals:write",
            body="GoalCreate",
            ok=(201, "The goal was created.", "Goal"),
            errors=(409,),
            headers={"Location": {"schema": {"type": "string"}, "description": "The goal."}},
            links=_goal_links(),
        ),
    )
    path(
        "/goals/{key}",
        get=_operation(
            "Read a goal",
            operation_id="getGoal",
            scope="goals:read",
            parameters=[_GOAL_KEY],
            description="An archived goal answers 404 (the message says it is archived);"
            " list archived goals with `archived=true` on the goals.",
            ok=(200, "The goal.", "Goal"),
            errors=(404,),
            links=_goal_links(),
        ),
        patch=_operation(
            "Change a goal",
            operation_id="changeGoal",
            scope="goals:write",
            description="The given fields replace the stored ones; criteria are validated"
            " again. The key cannot change (leave it out). Changes wrong on their own"
            " answer 422; changes that do not fit the stored fields (`max_awards` without"
            " `repeatable` on a goal that is not repeatable, `ends_at` before the stored"
            " `starts_at`) answer 409, and so does an archived goal (restore it first).",
            parameters=[_GOAL_KEY],
            body="GoalPatch",
            ok=(200, "The changed goal.", "Goal"),
            errors=(404, 409),
            links=_goal_links(),
        ),
        delete=_operation(
            "Archive a goal",
            operation_id="archiveGoal",
            scope="goals:write",
            description="The goal stops progressing; its progress and awards stay"
            " readable, and its key stays taken. Afterwards the goal answers 404 to reads"
            " and 409 to changes until it is restored. Archiving it again changes nothing.",
            parameters=[_GOAL_KEY],
            ok=(200, "The archived goal.", "Goal"),
            errors=(404,),
            links=_goal_links(but=_AFTER_ARCHIVE_NOT),
        ),
    )
    path(
        "/goals/{key}/restore",
        post=_operation(
            "Restore an archived goal",
            operation_id="restoreGoal",
            scope="goals:write",
            description="Undoes archiving: the goal progresses again, as it was defined."
            " Restoring an active goal changes nothing.",
            parameters=[_GOAL_KEY],
            ok=(200, "The restored goal.", "Goal"),
            errors=(404,),
            links=_goal_links(),
        ),
    )
    path(
        "/goals/{key}/versions",
        get=_operation(
            "A goal's versions",
            operation_id="listGoalVersions",
            scope="goals:read",
            description="Every change of the goal's definition, oldest first: version"
            " number, when, by whom (the API key's name, or the caller the host's"
            " authorizer named) and each changed field before and after.",
            parameters=[_GOAL_KEY],
            query=schemas.PageArgs,
            ok=(200, "A page of versions, oldest first.", pages["GoalVersion"]),
            errors=(404,),
        ),
    )
    backfill_started = {
        "Location": {"schema": {"type": "string"}, "description": "The backfill's status."}
    }
    activate = _operation(
        "Make a draft goal live",
        operation_id="activateGoal",
        scope="goals:write",
        description="The goal counts the history in the event log: a backfill starts"
        " (202, with its status URL in `Location`; without Redis it is done already)."
        " With `count_history` false only events from now on count: no backfill, 200"
        " with `backfill` null. `notify` false keeps the awards the backfill gives out of"
        " the entities' notifications. An active goal answers 200 with `backfill` null."
        " An archived goal answers 409 (restore it first). The body is optional.",
        parameters=[_GOAL_KEY],
        body="ActivationRequest",
        body_required=False,
        ok=(202, "The goal and the backfill it started.", "BackfillStarted"),
        errors=(404, 409),
        headers=backfill_started,
    )
    activate["responses"] = dict(
        sorted(
            {
                **activate["responses"],
                "200": {
                    "description": "The goal was active already, or `count_history` was"
                    " false: no backfill.",
                    **_json("BackfillStarted"),
                },
            }.items()
        )
    )
    path("/goals/{key}/activate", post=activate)
    path(
        "/goals/{key}/backfills",
        get=_operation(
            "A goal's backfills",
            operation_id="listBackfills",
            scope="goals:read",
            description="Rebuilds of the goal's progress from the event log, newest first,"
            " with their progress (`done` of `total` entities).",
            parameters=[_GOAL_KEY],
            query=schemas.PageArgs,
            ok=(200, "A page of backfills, newest first.", pages["Backfill"]),
            errors=(404,),
        ),
        post=_operation(
            "Rebuild a goal's progress from the event log",
            operation_id="startBackfill",
            scope="goals:write",
            description="Entities reach what the retained history gives under the current"
            " definition; new occurrences are awarded (signals say `backfill`). Awards"
            " already given stay unless `revoke` is true; they notify their entities"
            " unless `notify` is false. With Redis the backfill runs on"
            " the workers: follow the status URL in `Location`. A draft (activate it first)"
            " and an archived goal answer 409.",
            parameters=[_GOAL_KEY],
            body="BackfillRequest",
            body_required=False,
            ok=(202, "The goal and its backfill.", "BackfillStarted"),
            errors=(404, 409),
            headers=backfill_started,
        ),
    )
    path(
        "/goals/{key}/backfills/{backfill_id}",
        get=_operation(
            "A backfill's status",
            operation_id="getBackfill",
            scope="goals:read",
            parameters=[
                _GOAL_KEY,
                {
                    "in": "path",
                    "name": "backfill_id",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                },
            ],
            ok=(200, "The backfill.", "Backfill"),
            errors=(404,),
        ),
    )
    path(
        "/previews",
        post=_operation(
            "Preview a goal definition over the event log",
            operation_id="previewGoal",
            scope="goals:read",
            description="How many entities a definition (a saved goal, or unsaved"
            " criteria) would progress and complete, a histogram of progress and the"
            " entities furthest along. Nothing is written.",
            body="PreviewRequest",
            ok=(200, "The preview.", "Preview"),
            errors=(404,),
        ),
    )
    path(
        "/goals/{key}/assignments",
        post=_operation(
            "Assign a to-do goal",
            operation_id="assignGoal",
            scope="goals:write",
            description="Only goals defined with `assigned_only` can be assigned. Assigning"
            " again returns the existing assignment.",
            parameters=[_GOAL_KEY],
            body="AssignmentCreate",
            ok=(201, "The assignment.", "Assignment"),
            errors=(404, 409),
        ),
    )
    entity = "/entities/{entity_type}/{entity}"
    path(
        f"{entity}/progress",
        get=_operation(
            "An entity's progress on its goals",
            operation_id="listProgress",
            scope="progress:read",
            parameters=_ENTITY_PARAMETERS,
            query=schemas.ProgressListArgs,
            ok=(200, "A page of progress, in goal definition order.", pages["Progress"]),
            errors=(),
        ),
    )
    path(
        f"{entity}/progress/{{goal}}",
        get=_operation(
            "An entity's progress on one goal, with the child tree",
            operation_id="getProgress",
            scope="progress:read",
            parameters=[
                *_ENTITY_PARAMETERS,
                {**_GOAL_KEY, "name": "goal"},
            ],
            ok=(200, "The progress.", "Progress"),
            errors=(404, 422),
        ),
    )
    path(
        f"{entity}/awards",
        get=_operation(
            "An entity's awards",
            operation_id="listAwards",
            scope="progress:read",
            parameters=_ENTITY_PARAMETERS,
            query=schemas.PageArgs,
            ok=(200, "A page of awards, oldest first.", pages["Award"]),
            errors=(),
        ),
    )
    path(
        f"{entity}/assignments",
        get=_operation(
            "Goals assigned to (or by) an entity",
            operation_id="listAssignments",
            scope="progress:read",
            parameters=_ENTITY_PARAMETERS,
            query=schemas.AssignmentListArgs,
            ok=(200, "A page of assignments, oldest first.", pages["Assignment"]),
            errors=(),
        ),
    )
    path(
        f"{entity}/notifications",
        get=_operation(
            "An entity's notifications",
            operation_id="listNotifications",
            scope="progress:read",
            parameters=_ENTITY_PARAMETERS,
            query=schemas.NotificationListArgs,
            ok=(200, "A page of notifications, newest first.", pages["Notification"]),
            errors=(),
        ),
    )
    path(
        f"{entity}/notifications/read",
        post=_operation(
            "Mark notifications read",
            operation_id="markNotificationsRead",
            scope="progress:read",
            parameters=_ENTITY_PARAMETERS,
            description="Without a body, every unread notification is marked read.",
            body="MarkRead",
            body_required=False,
            ok=(200, "How many notifications were marked read.", "Marked"),
            errors=(),
        ),
    )
    path(
        "/leaderboards/{entity_type}",
        get=_operation(
            "A leaderboard",
            operation_id="getLeaderboard",
            scope="progress:read",
            description="Entities of the type ranked by points, all time or in the current"
            " day, week or month (in GAMIFY_TIMEZONE, by event time). Competition ranks (1,"
            " 2, 2, 4); ties listed by entity id; entities with 0 points in the period are"
            " not listed. With `around`, also that entity's standing and up to five on each"
            " side. Owner-bound callers are refused (403): points come from every owner's"
            " goals. Callers bound to an entity may read it.",
            parameters=[_ENTITY_PARAMETERS[0]],
            query=schemas.LeaderboardArgs,
            ok=(200, "The leaderboard.", "Leaderboard"),
            errors=(),
        ),
    )
    path(
        f"{entity}/points",
        get=_operation(
            "An entity's points and level",
            operation_id="getPoints",
            scope="progress:read",
            description="Its points in the default category, in every category, and its"
            " level (null when no levels are defined for the entity type). Owner-bound"
            " callers are refused (403).",
            parameters=_ENTITY_PARAMETERS,
            ok=(200, "The points.", "Points"),
            errors=(422,),
        ),
    )
    path(
        f"{entity}/points/ledger",
        get=_operation(
            "An entity's points ledger",
            operation_id="listLedger",
            scope="progress:read",
            description="Every change of the entity's points with its reason, newest first."
            " The `next` link asks for the entries older than the page's last one (keyset"
            " paging: stable while entries are added). Owner-bound callers are refused (403).",
            parameters=_ENTITY_PARAMETERS,
            query=schemas.LedgerArgs,
            ok=(200, "A page of ledger entries, newest first.", pages["LedgerEntry"]),
            errors=(),
        ),
    )
    adjust = _operation(
        "Give or take back points",
        operation_id="adjustPoints",
        scope="points:write",
        description="Writes an `adjustment` entry to the ledger with the new balance, in one"
        " transaction; crossing a level threshold notifies the entity. With an"
        " `idempotency_key`, sending it again answers 200 with the first entry and changes"
        " nothing; the same key with another amount or category answers 409. The entry"
        " records the caller (the API key's name) as `changed_by`. Owner-bound callers and"
        " callers bound to an entity are refused (403).",
        parameters=_ENTITY_PARAMETERS,
        body="AdjustmentRequest",
        ok=(201, "The entry was written.", "Adjustment"),
        errors=(409,),
    )
    adjust["responses"] = dict(
        sorted(
            {
                **adjust["responses"],
                "200": {
                    "description": "The idempotency key was used before for this change: the"
                    " first entry, nothing changed.",
                    **_json("Adjustment"),
                },
            }.items()
        )
    )
    path(f"{entity}/points/adjustments", post=adjust)
    path(
        f"{entity}/awards/{{goal}}/revocations",
        post=_operation(
            "Revoke an award",
            operation_id="revokeAward",
            scope="points:write",
            description="Takes back an award of the goal (the latest held, or `occurrence`)"
            " with its points, through the ledger; recorded in the awards' audit trail with"
            " the reason and the caller. By default the revoked award is not given again by"
            " the events that earned it; `reset_progress` starts the goal over. An"
            " owner-bound caller may revoke awards of its owner's goals only (others answer"
            " 404); callers bound to an entity are refused (403).",
            parameters=[*_ENTITY_PARAMETERS, {**_GOAL_KEY, "name": "goal"}],
            body="RevocationRequest",
            ok=(201, "The award that was revoked.", "Award"),
            errors=(404,),
        ),
    )
    badge_image = _operation(
        "An uploaded badge image",
        operation_id="getBadgeImage",
        scope=None,
        description="The bytes of a badge image stored with `gamify.store_badge_image()`"
        " (PNG, JPEG, GIF or WebP; never SVG), with its content type, `nosniff` and a year"
        " of caching: an image's address is the SHA-256 of its bytes, so it never changes.",
        parameters=[
            {
                "in": "path",
                "name": "digest",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "description": "The SHA-256 of the image's bytes, in lower-case hex.",
            }
        ],
        ok=(200, "The image.", {}),
        errors=(404,),
    )
    badge_image["responses"]["200"]["content"] = {
        content_type: {"schema": {"type": "string", "format": "binary"}}
        for content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")
    }
    path("/badge-images/{digest}", get=badge_image)
    icon = _operation(
        "A built-in badge icon",
        operation_id="getIcon",
        scope=None,
        description="One of the built-in icons a goal's `icon` may name, as SVG.",
        parameters=[
            {
                "in": "path",
                "name": "name",
                "required": True,
                "schema": {"type": "string", "enum": list(BUILTIN_ICONS)},
            }
        ],
        ok=(200, "The icon.", {}),
        errors=(404,),
    )
    icon["responses"]["200"]["content"] = {"image/svg+xml": {"schema": {"type": "string"}}}
    path("/icons/{name}.svg", get=icon)
    add_webhook_paths(path, _operation)
    path(
        "/openapi.json",
        get=_operation(
            "This document",
            operation_id="getOpenAPI",
            scope=None,
            ok=(200, "The OpenAPI document.", {"type": "object"}),
            errors=(),
        ),
    )
    document: dict[str, Any] = spec.to_dict()
    # What receivers get (OpenAPI 3.1): apispec has no API for top-level webhooks.
    document["webhooks"] = webhook_payloads(_ref)
    # Stored criteria are valid criteria: say so in answers too.
    document["components"]["schemas"]["Goal"]["properties"]["criteria"] = _ref("Criterion")
    return document
