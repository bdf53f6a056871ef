"""The REST API's views: events, goals, progress, awards, assignments, notifications,
points, the points ledger, adjustments, revocations and leaderboards."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Response, current_app, jsonify, request, url_for
from flask.views import MethodView
from marshmallow import Schema, ValidationError

from ..backfill import BackfillView
from ..badges import BUILTIN_ICONS, ICONS_DIRECTORY, is_builtin_icon
from ..criteria.base import parse_json_float
from ..criteria.limits import is_visible, too_deep
from ..criteria.schema import flatten_errors
from ..errors import (
    EventError,
    GoalArchived,
    GoalNotFound,
    GoalReferenceError,
    InvalidInputError,
    LevelsNotDefined,
)
from ..events import TrackedEvent, event_from_json
from ..goals import validate_goal_changes
from ..ledger import DEFAULT_CATEGORY
from ..models import ENTITY_LENGTH, ENTITY_TYPE_LENGTH
from ..records import GoalView
from ..sql import dumps
from ..state import GamifyState, get_state
from . import schemas
from .auth import Caller, authorize, with_owner
from .errors import ApiError

if TYPE_CHECKING:
    from ..extension import Gamify

__all__ = ["ROUTES", "check_request"]

T = TypeVar("T")

#: Fields an event may have; anything else is a mistake worth reporting.
#: Default of ``GAMIFY_MAX_CONTENT_LENGTH``: largest request body, in bytes.
DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024


def _extension() -> Gamify:
    return get_state().extension


# -- request helpers ------------------------------------------------------------------


def _body_limit() -> int:
    return int(current_app.config.get("GAMIFY_MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH))


def _too_large(size: int | str, limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body has {size} bytes; at most {limit} are accepted"
        " (GAMIFY_MAX_CONTENT_LENGTH). Send fewer or smaller events per request.",
    )


#: Deepest nesting of objects and lists a request body may have: far more than any
#: valid body needs, far less than what would exhaust Python's recursion limit.
MAX_BODY_DEPTH = 64
#: Characters no database can store: NUL, and lone surrogates (which JSON escapes such
#: as ``"\ud800"`` can carry, but UTF-8 cannot encode).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _nul_paths(value: Any, path: str) -> list[str]:
    """Paths of the strings (keys included) in ``value`` that no database can store.

    Called on bodies whose depth :func:`json_body` has bounded.
    """
    if isinstance(value, str):
        return [path] if _UNSTORABLE.search(value) else []
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _UNSTORABLE.search(str(key)):
                found.append(child)
            found += _nul_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _nul_paths(item, f"{path}[{index}]")
    return found


def _reject_nul(paths: list[str]) -> None:
    if paths:
        raise ApiError(
            422,
            "Text may not contain NUL characters (\\u0000) or lone surrogates (\\ud800 to"
            " \\udfff); databases cannot store them. Send well-formed Unicode text.",
            errors={
                path or "body": ["Contains a NUL character or a lone surrogate."] for path in paths
            },
        )


def check_request() -> None:
    """Checks every API request gets first: the body size, no NUL in the URL."""
    _reject_nul(_nul_paths(request.view_args or {}, "") + _nul_paths(request.args.to_dict(), ""))
    limit_body_size()


def limit_body_size() -> None:
    """Refuse bodies over ``GAMIFY_MAX_CONTENT_LENGTH`` without reading more than that.

    A declared length is checked at once. A body without one (chunked) is read at most
    one byte past the limit (see :func:`json_body`), which tells it is too large.
    """
    limit = _body_limit()
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(request.content_length, limit)
    host_limit = request.max_content_length
    if host_limit is None or host_limit > limit:
        request.max_content_length = limit + 1


def json_body() -> Any:
    """The request's JSON body; 415 when it is not JSON, 400 when it does not parse."""
    if not request.is_json:
        raise ApiError(
            415,
            "Send a JSON body with the header 'Content-Type: application/json'.",
        )
    raw = request.get_data(cache=True)
    limit = _body_limit()
    if len(raw) > limit:
        raise _too_large(f"more than {limit}", limit)
    too_deep_message = (
        f"The request body nests objects and lists more than {MAX_BODY_DEPTH} levels deep;"
        " no request needs that many."
    )
    try:
        data = json.loads(raw, parse_float=parse_json_float)
    except RecursionError as error:
        raise ApiError(400, too_deep_message) from error
    except ValueError as error:
        raise ApiError(400, f"The request body is not valid JSON: {error}.") from error
    deep = too_deep(data, MAX_BODY_DEPTH)
    if deep is not None:
        raise ApiError(400, too_deep_message, errors={deep or "body": ["Nests too deep."]})
    _reject_nul(_nul_paths(data, ""))
    return data


def load(schema: Schema, data: Any, *, what: str) -> dict[str, Any]:
    """Load ``data`` with ``schema``; 422 naming every bad field."""
    if not isinstance(data, Mapping):
        raise ApiError(422, f"The {what} must be a JSON object.")
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as error:
        raise ApiError(
            422, f"The {what} has invalid fields.", errors=flatten_errors(error.messages, "")
        ) from error
    return loaded


def query(schema: Schema) -> dict[str, Any]:
    return load(schema, request.args.to_dict(), what="query string")


def check_entity(entity_type: str, entity: str) -> None:
    errors = {}
    if len(entity_type) > ENTITY_TYPE_LENGTH:
        errors["entity_type"] = [f"Must be at most {ENTITY_TYPE_LENGTH} characters long."]
    if len(entity) > ENTITY_LENGTH:
        errors["entity"] = [f"Must be at most {ENTITY_LENGTH} characters long."]
    if not is_visible(entity) or not is_visible(entity_type):
        errors["entity"] = ["Must not be blank."]
    if errors:
        raise ApiError(422, "The entity in the URL is invalid.", errors=errors)


def _decode_cursor(cursor: str | None) -> int:
    # Cursors are positions in the list; clients should treat them as opaque and follow
    # the 'next' links. The query-string schema has already checked their form.
    return 0 if cursor is None else int(cursor)


def page(
    args: Mapping[str, Any],
    fetch: Callable[[int], Sequence[T]],
    dump: Callable[[T], dict[str, Any]],
) -> Response:
    """One page of a list, as ``{"items": [...], "next": url-or-null}``.

    :param fetch: returns at least the first ``n`` items (all, if fewer) for an ``n``.
    """
    offset, limit = page_bounds(args)
    items = fetch(offset + limit + 1)
    return page_response(args, items[offset : offset + limit], len(items) > offset + limit, dump)


def page_bounds(args: Mapping[str, Any]) -> tuple[int, int]:
    """Where the page asked for starts, and how many items it holds at most."""
    limit: int = args["limit"]
    return _decode_cursor(args.get("cursor")), limit


def page_response(
    args: Mapping[str, Any], chunk: Sequence[T], more: bool, dump: Callable[[T], dict[str, Any]]
) -> Response:
    """The page ``args`` asked for, with the link to the next one when there are ``more``."""
    next_url = None
    if more:
        offset, limit = page_bounds(args)
        values: dict[str, Any] = {
            **request.args.to_dict(),
            **(request.view_args or {}),
            "cursor": str(offset + limit),
        }
        assert request.endpoint is not None
        next_url = url_for(request.endpoint, **values)
    # Encoded by orjson (see sql.dumps): a page of 50 progress views took the standard
    # library's encoder about a quarter of the read.
    body = dumps({"items": [dump(item) for item in chunk], "next": next_url})
    return current_app.response_class(body + "\n", mimetype="application/json")


# -- events ---------------------------------------------------------------------------


def parse_events(body: Any, state: GamifyState) -> list[TrackedEvent]:
    """Validate every event of a request; raise one :class:`EventError` naming them all."""
    max_batch = int(current_app.config["GAMIFY_MAX_BATCH"])
    if isinstance(body, Mapping) and "events" in body:
        extra = sorted(set(body) - {"events"})
        if extra:
            raise EventError({name: ["Unknown field; put it inside each event."] for name in extra})
        items, prefix = body["events"], "events"
        if not isinstance(items, list) or not items:
            raise EventError({"events": ["Must be a non-empty list of events."]})
        if len(items) > max_batch:
            raise EventError(
                {
                    "events": [
                        f"Must hold at most {max_batch} events (GAMIFY_MAX_BATCH), not"
                        f" {len(items)}; split them into several requests."
                    ]
                }
            )
    elif isinstance(body, Mapping):
        items, prefix = [body], None
    else:
        raise EventError(
            {"": ['Must be an event object, or {"events": [...]} with a list of them.']}
        )
    events: list[TrackedEvent] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        path = f"{prefix}[{index}]." if prefix else ""
        try:
            events.append(
                event_from_json(
                    item,
                    default_entity_type=state.default_entity_type,
                    limits=state.limits,
                    path=path,
                )
            )
        except EventError as error:
            errors.update(error.errors)
    if errors:
        bad = len({path.split(".")[0] for path in errors}) if prefix else 1
        raise EventError(
            errors,
            summary=f"{bad} of {len(items)} event(s) were rejected and nothing was recorded;"
            " fix them and send the request again.",
        )
    return events


class EventsView(MethodView):
    def post(self) -> tuple[Response, int]:
        authorize("events:write")
        state = get_state()
        events = parse_events(json_body(), state)
        # Every event was validated first: the request is recorded whole, or not at all.
        state.submit(events)
        return jsonify(accepted=[event.id for event in events]), 202


# -- goals ----------------------------------------------------------------------------


def _goal_location(key: str) -> str:
    return url_for(".goal", key=key)


class GoalsView(MethodView):
    def get(self) -> Response:
        caller = authorize("goals:read")
        args = query(schemas.GoalListArgs())
        owner = args.get("owner")
        if caller.owner is not None and owner not in (None, caller.owner):
            goals: list[GoalView] = []
        else:
            goals = _extension().goals(
                include_archived=args["archived"],
                owner=caller.owner if caller.owner is not None else owner,
                entity_type=args.get("entity_type"),
            )
        if args["archived"]:
            goals = [goal for goal in goals if goal.archived]
        goals = [goal for goal in goals if caller.may_read(goal)]
        return page(args, lambda _: goals, lambda goal: goal.to_dict())

    def post(self) -> tuple[Response, int, dict[str, str]]:
        caller = authorize("goals:write")
        body = json_body()
        if not isinstance(body, Mapping):
            raise ApiError(422, "The goal must be a JSON object.")
        definition = dict(body)
        if caller.owner is not None:
            if "owner" in definition and definition["owner"] != caller.owner:
                raise _not_your_owner(caller.owner)
            definition["owner"] = caller.owner
        extension = _extension()
        key = definition.get("key")
        if isinstance(key, str):
            try:
                existing = extension.goal(key)
            except GoalNotFound:
                pass
            else:
                if not caller.may_read(existing):
                    # Keys are one namespace, so the key is taken all the same; say no more.
                    raise ApiError(409, f"The goal key {key!r} is taken; choose another key.")
                raise ApiError(
                    409,
                    f"A goal with key {key!r} exists already{' (archived)' * existing.archived};"
                    f" change it with PATCH {_goal_location(key)}, or choose another key.",
                )
        goal = extension.define_goals([definition], changed_by=caller.name)[0]
        return jsonify(goal.to_dict()), 201, {"Location": _goal_location(goal.key)}


def _not_your_owner(owner: str) -> ApiError:
    return ApiError(
        403,
        f"This caller is bound to the owner {owner!r}: it may create and keep goals only for"
        " that owner.",
        errors={"owner": [f"Must be {owner!r} or left out."]},
    )


def _readable_goal(caller: Caller, key: str) -> GoalView:
    """The goal of the URL, if the caller may see its definition; else like unknown."""
    goal = caller.goal or _extension().goal(key)
    if not caller.may_read(goal):
        raise GoalNotFound(key)
    return goal


def _unarchived_goal(caller: Caller, key: str) -> GoalView:
    """The goal of the URL for a read below it: archived goals answer 404 like itself."""
    goal = _readable_goal(caller, key)
    if goal.archived:
        raise _archived(goal)
    return goal


def _archived(goal: GoalView) -> ApiError:
    """404 for a read of an archived goal: gone from the catalog, but not forgotten."""
    location = _goal_location(goal.key)
    return ApiError(
        404,
        f"The goal {goal.key!r} is archived: it no longer progresses, and its progress and"
        f" awards stay readable. Restore it with POST {location}/restore, or list archived"
        " goals with GET ?archived=true on the goals.",
        errors={"key": ["Names an archived goal."]},
    )


class GoalResourceView(MethodView):
    def get(self, key: str) -> Response:
        goal = _readable_goal(authorize("goals:read", key), key)
        if goal.archived:
            raise _archived(goal)
        return jsonify(goal.to_dict())

    def patch(self, key: str) -> Response:
        caller = authorize("goals:write", key)
        goal = _readable_goal(caller, key)
        body = json_body()
        if not isinstance(body, Mapping):
            raise ApiError(422, "The changes must be a JSON object.")
        # Wrong whatever the stored goal is: 422. Wrong only with the stored fields: 409.
        validate_goal_changes(body)
        new_owner = body.get("owner", goal.owner)
        if new_owner != goal.owner and not caller.may_author(with_owner(goal, new_owner)):
            if caller.owner is not None:
                raise _not_your_owner(caller.owner)
            raise ApiError(
                403,
                f"You may not give the goal {key!r} to the owner {new_owner!r}.",
                errors={"owner": [f"Must be {goal.owner!r} or left out."]},
            )
        if goal.archived:
            raise GoalArchived(key)
        definition = {**goal.definition(), **body, "key": key}
        try:
            changed = _extension().define_goals([definition], changed_by=caller.name)[0]
        except (GoalReferenceError, GoalArchived):
            raise
        except InvalidInputError as error:
            raise ApiError(
                409,
                f"The changes do not fit the stored goal {key!r}: {error.message} Send the"
                " related fields together (such as repeatable with max_awards).",
                errors=error.errors,
            ) from error
        return jsonify(changed.to_dict())

    def delete(self, key: str) -> Response:
        # Idempotent: archiving an archived goal answers the same.
        caller = authorize("goals:write", key)
        _readable_goal(caller, key)
        return jsonify(_extension().archive_goal(key, changed_by=caller.name).to_dict())


class GoalVersionsView(MethodView):
    def get(self, key: str) -> Response:
        _unarchived_goal(authorize("goals:read", key), key)
        args = query(schemas.PageArgs())
        versions = _extension().goal_versions(key)
        return page(args, lambda _: versions, lambda version: version.to_dict())


def _backfill_location(key: str, backfill_id: int) -> str:
    return url_for(".goal_backfill", key=key, backfill_id=backfill_id)


def _started(goal: GoalView, backfill: BackfillView) -> tuple[Response, int, dict[str, str]]:
    """202 with the backfill's status URL (done already without Redis)."""
    body = jsonify(goal=goal.to_dict(), backfill=backfill.to_dict())
    return body, 202, {"Location": _backfill_location(goal.key, backfill.id)}


class GoalActivationView(MethodView):
    def post(self, key: str) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
        caller = authorize("goals:write", key)
        _readable_goal(caller, key)
        body = json_body() if request.content_length else {}
        data = load(schemas.ActivateIn(), body, what="body")
        goal, started = _extension()._activate(
            key, changed_by=caller.name, count_history=data["count_history"], notify=data["notify"]
        )
        if started is None:
            # Active already, or activated without counting history.
            return jsonify(goal=goal.to_dict(), backfill=None), 200
        return _started(goal, started)


class GoalBackfillsView(MethodView):
    def get(self, key: str) -> Response:
        _unarchived_goal(authorize("goals:read", key), key)
        args = query(schemas.PageArgs())
        backfills = _extension().backfills(key)
        return page(args, lambda _: backfills, lambda view: view.to_dict())

    def post(self, key: str) -> tuple[Response, int, dict[str, str]]:
        caller = authorize("goals:write", key)
        goal = _readable_goal(caller, key)
        body = json_body() if request.content_length else {}
        data = load(schemas.BackfillIn(), body, what="body")
        view = _extension().backfill(key, revoke=data["revoke"], notify=data["notify"])
        return _started(goal, view)


class GoalBackfillView(MethodView):
    def get(self, key: str, backfill_id: str) -> Response:
        _unarchived_goal(authorize("goals:read", key), key)
        for view in _extension().backfills(key):
            if str(view.id) == backfill_id:
                return jsonify(view.to_dict())
        raise ApiError(404, f"The goal {key!r} has no backfill {backfill_id}.")


class PreviewsView(MethodView):
    def post(self) -> Response:
        caller = authorize("goals:read")
        data = load(schemas.PreviewIn(), json_body(), what="preview")
        options = dict(data["options"])
        if "goal" in data:
            _readable_goal(caller, data["goal"])
            target: str | Mapping[str, Any] = data["goal"]
        else:
            target = data["criteria"]
        preview = _extension().preview(target, sample=data["sample"], **options)
        return jsonify(preview.to_dict())


class GoalRestoreView(MethodView):
    def post(self, key: str) -> Response:
        caller = authorize("goals:write", key)
        _readable_goal(caller, key)
        return jsonify(_extension().restore_goal(key, changed_by=caller.name).to_dict())


class GoalAssignmentsView(MethodView):
    def post(self, key: str) -> tuple[Response, int]:
        _readable_goal(authorize("goals:write", key), key)
        data = load(schemas.AssignIn(), json_body(), what="assignment")
        assignment = _extension().assign(
            key,
            assignee=data["assignee"],
            entity_type=data.get("entity_type"),
            assigned_by=data.get("assigned_by"),
            assigned_by_type=data.get("assigned_by_type"),
            due_at=data.get("due_at"),
        )
        return jsonify(assignment.to_dict()), 201


# -- entities -------------------------------------------------------------------------


def authorize_entity(entity_type: str, entity: str, goal: str | None = None) -> Caller:
    """Authorize a per-entity read (``progress:read``), then check the URL's entity."""
    caller = authorize("progress:read", goal, entity=(entity_type, entity))
    check_entity(entity_type, entity)
    return caller


def _visible(
    caller: Caller,
    entity_type: str,
    entity: str,
    items: Sequence[T],
    key_of: Callable[[T], str],
    completed_of: Callable[[T], bool],
) -> list[T]:
    """The items about goals the caller may see for this entity (see :class:`Caller`)."""
    visible = _visibility(caller, entity_type, entity)
    if visible is None:
        return list(items)
    return [item for item in items if visible(key_of(item), completed_of(item))]


def _visibility(
    caller: Caller, entity_type: str, entity: str
) -> Callable[[str, bool], bool] | None:
    """Whether the caller may see a goal's progress for this entity, by goal key and
    whether the entity completed it; ``None`` when it may see every goal's."""
    if caller.is_entity(entity_type, entity) or caller.principal.unrestricted:
        return None
    goals = {goal.key: goal for goal in _extension().goals(include_archived=True)}

    def visible(key: str, completed: bool) -> bool:
        goal = goals.get(key)
        return goal is not None and caller.may_see_progress(
            goal, entity_type, entity, completed=completed
        )

    return visible


class ProgressListView(MethodView):
    def get(self, entity_type: str, entity: str) -> Response:
        caller = authorize_entity(entity_type, entity)
        args = query(schemas.ProgressListArgs())
        visible = _visibility(caller, entity_type, entity)
        offset, limit = page_bounds(args)
        # Only the page's goals are read and evaluated, filters included.
        page = _extension().progress_page(
            entity,
            entity_type=entity_type,
            offset=offset,
            limit=limit,
            include_hidden=args["include_hidden"],
            completed=args.get("completed"),
            shown=visible,
        )
        return page_response(args, page.views, page.more, lambda view: view.to_dict())


class ProgressView(MethodView):
    def get(self, entity_type: str, entity: str, goal: str) -> Response:
        caller = authorize_entity(entity_type, entity, goal)
        assert caller.goal is not None
        view = _extension().progress(entity, goal, entity_type=entity_type)
        if not caller.may_see_progress(caller.goal, entity_type, entity, completed=view.completed):
            raise GoalNotFound(goal)
        return jsonify(view.to_dict())


class AwardsView(MethodView):
    def get(self, entity_type: str, entity: str) -> Response:
        caller = authorize_entity(entity_type, entity)
        args = query(schemas.PageArgs())
        awards = _extension().awards(entity, entity_type=entity_type)
        awards = _visible(
            caller, entity_type, entity, awards, lambda award: award.goal, lambda award: True
        )
        return page(args, lambda _: awards, lambda award: award.to_dict())


class AssignmentsView(MethodView):
    def get(self, entity_type: str, entity: str) -> Response:
        caller = authorize_entity(entity_type, entity)
        args = query(schemas.AssignmentListArgs())
        role = "assignee" if args["role"] == "assignee" else "assigned_by"
        found = _extension().assignments(entity_type=entity_type, **{role: entity})
        found = _visible(
            caller,
            entity_type,
            entity,
            found,
            lambda item: item.goal,
            lambda item: item.completed,
        )
        if "completed" in args:
            found = [item for item in found if item.completed == args["completed"]]
        return page(args, lambda _: found, lambda item: item.to_dict())


class NotificationsView(MethodView):
    def get(self, entity_type: str, entity: str) -> Response:
        caller = authorize_entity(entity_type, entity)
        caller.check_inbox(entity_type, entity)
        args = query(schemas.NotificationListArgs())
        return page(
            args,
            lambda count: _extension().notifications(
                entity, entity_type=entity_type, unread_only=args["unread"], limit=count
            ),
            lambda item: item.to_dict(),
        )


class NotificationsReadView(MethodView):
    def post(self, entity_type: str, entity: str) -> Response:
        caller = authorize_entity(entity_type, entity)
        caller.check_inbox(entity_type, entity)
        body = json_body() if request.content_length else {}
        data = load(schemas.MarkReadIn(), body, what="body")
        marked = _extension().mark_notifications_read(
            entity, data.get("ids"), entity_type=entity_type
        )
        return jsonify(marked=marked)


# -- points, levels and leaderboards --------------------------------------------------


def check_entity_type(entity_type: str) -> None:
    if len(entity_type) > ENTITY_TYPE_LENGTH or not is_visible(entity_type):
        raise ApiError(
            422,
            "The entity type in the URL is invalid.",
            errors={
                "entity_type": [
                    f"Must be 1 to {ENTITY_TYPE_LENGTH} characters long, not only blanks."
                ]
            },
        )


class LeaderboardResourceView(MethodView):
    def get(self, entity_type: str) -> Response:
        # Entity-bound callers may read leaderboards: "my rank among the others" is what
        # they are for. Owner-bound ones may not: points come from every owner's goals.
        authorize("progress:read").refuse_owner_bound(None, "leaderboards")
        check_entity_type(entity_type)
        args = query(schemas.LeaderboardArgs())
        board = _extension().leaderboard(
            entity_type,
            args["period"],
            args["limit"],
            around=args.get("around"),
            category=args.get("category"),
        )
        return jsonify(board.to_dict())


class PointsView(MethodView):
    def get(self, entity_type: str, entity: str) -> Response:
        authorize_entity(entity_type, entity).refuse_owner_bound((entity_type, entity), "points")
        extension = _extension()
        categories = extension.points_by_category(entity, entity_type=entity_type)
        try:
            level: dict[str, Any] | None = extension.level(
                entity, entity_type=entity_type
            ).to_dict()
        except LevelsNotDefined:
            level = None
        return jsonify(
            entity_type=entity_type,
            entity=entity,
            points=categories.get(DEFAULT_CATEGORY, 0),
            categories=categories,
            level=level,
        )


class LedgerView(MethodView):
    def get(self, entity_type: str, entity: str) -> Response:
        authorize_entity(entity_type, entity).refuse_owner_bound((entity_type, entity), "points")
        args = query(schemas.LedgerArgs())
        limit: int = args["limit"]
        entries = _extension().points_ledger(
            entity,
            entity_type=entity_type,
            category=args.get("category"),
            before=args.get("before"),
            limit=limit + 1,
        )
        next_url = None
        if len(entries) > limit:
            # Keyset paging: the next page is what is older than this page's last entry,
            # however many entries are written meanwhile.
            values: dict[str, Any] = {
                **request.args.to_dict(),
                **(request.view_args or {}),
                "before": str(entries[limit - 1].id),
            }
            assert request.endpoint is not None
            next_url = url_for(request.endpoint, **values)
        return jsonify(items=[entry.to_dict() for entry in entries[:limit]], next=next_url)


class AdjustmentsView(MethodView):
    def post(self, entity_type: str, entity: str) -> tuple[Response, int]:
        caller = authorize("points:write", entity=(entity_type, entity))
        check_entity(entity_type, entity)
        caller.refuse_owner_bound((entity_type, entity), "points")
        caller.refuse_entity_bound()
        data = load(schemas.AdjustmentIn(), json_body(), what="adjustment")
        extension = _extension()
        entry, created = extension._adjust_points(
            entity,
            data["amount"],
            reason=data["reason"],
            idempotency_key=data.get("idempotency_key"),
            changed_by=caller.name,
            category=data.get("category"),
            entity_type=entity_type,
        )
        points = extension.points(entity, entity_type=entity_type, category=entry.category)
        return jsonify(entry=entry.to_dict(), points=points), 201 if created else 200


class RevocationsView(MethodView):
    def post(self, entity_type: str, entity: str, goal: str) -> tuple[Response, int]:
        # An owner-bound key may revoke awards of its owner's goals (others answer 404).
        caller = authorize("points:write", goal, entity=(entity_type, entity))
        check_entity(entity_type, entity)
        caller.refuse_entity_bound()
        data = load(schemas.RevocationIn(), json_body(), what="revocation")
        award = _extension().revoke_award(
            entity,
            goal,
            data.get("occurrence"),
            reason=data["reason"],
            changed_by=caller.name,
            entity_type=entity_type,
            reset_progress=data["reset_progress"],
        )
        return jsonify(award.to_dict()), 201


# -- badge pictures -------------------------------------------------------------------

#: Badge pictures never change at their address (built-in icons change only with a
#: release; an uploaded image's address is the digest of its bytes).
_LONG_CACHE = "public, max-age=31536000, immutable"


class BadgeImageView(MethodView):
    def get(self, digest: str) -> Response:
        found = _extension().badge_image(digest)
        if found is None:
            raise ApiError(
                404,
                f"No badge image has the digest {digest!r}; upload it with"
                " gamify.store_badge_image() (the dashboard's goal form does).",
            )
        content_type, data = found
        response = Response(data, mimetype=content_type)
        response.headers["Cache-Control"] = _LONG_CACHE
        response.set_etag(digest)
        response.make_conditional(request)  # 304 to a client that has it
        return response


class IconView(MethodView):
    def get(self, name: str) -> Response:
        if not is_builtin_icon(name):
            raise ApiError(
                404,
                f"There is no built-in icon {name!r}; the icons are {', '.join(BUILTIN_ICONS)}.",
            )
        data = (ICONS_DIRECTORY / f"{name}.svg").read_bytes()
        response = Response(data, mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.add_etag()
        response.make_conditional(request)
        return response


#: ``(rule, endpoint, view class)`` of every resource.
ROUTES: tuple[tuple[str, str, type[MethodView]], ...] = (
    ("/events", "events", EventsView),
    ("/goals", "goals", GoalsView),
    ("/goals/<key>", "goal", GoalResourceView),
    ("/goals/<key>/versions", "goal_versions", GoalVersionsView),
    ("/goals/<key>/restore", "goal_restore", GoalRestoreView),
    ("/goals/<key>/assignments", "goal_assignments", GoalAssignmentsView),
    ("/goals/<key>/activate", "goal_activation", GoalActivationView),
    ("/goals/<key>/backfills", "goal_backfills", GoalBackfillsView),
    ("/goals/<key>/backfills/<backfill_id>", "goal_backfill", GoalBackfillView),
    ("/previews", "previews", PreviewsView),
    ("/badge-images/<digest>", "badge_image", BadgeImageView),
    ("/icons/<name>.svg", "icon", IconView),
    ("/entities/<entity_type>/<entity>/progress", "progress_list", ProgressListView),
    ("/entities/<entity_type>/<entity>/progress/<goal>", "progress", ProgressView),
    ("/entities/<entity_type>/<entity>/awards", "awards", AwardsView),
    ("/entities/<entity_type>/<entity>/assignments", "assignments", AssignmentsView),
    ("/entities/<entity_type>/<entity>/notifications", "notifications", NotificationsView),
    (
        "/entities/<entity_type>/<entity>/notifications/read",
        "notifications_read",
        NotificationsReadView,
    ),
    ("/leaderboards/<entity_type>", "leaderboard", LeaderboardResourceView),
    ("/entities/<entity_type>/<entity>/points", "points", PointsView),
    ("/entities/<entity_type>/<entity>/points/ledger", "points_ledger", LedgerView),
    ("/entities/<entity_type>/<entity>/points/adjustments", "points_adjustments", AdjustmentsView),
    (
        "/entities/<entity_type>/<entity>/awards/<goal>/revocations",
        "award_revocations",
        RevocationsView,
    ),
)
