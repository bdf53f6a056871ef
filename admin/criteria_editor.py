"""The criteria editor's server side: validation as you type, vocabulary, schema, preview.

:class:`CriteriaEditorMixin` adds four endpoints to the Goals view, used by
``criteria-builder.js`` and ``preview.js``:

``POST criteria/validate/`` (``criteria_validate``)
    ``{"criteria": {...}, "goal": {options}}`` -> ``{"ok": true}`` or ``{"ok": false,
    "fields": {"criteria.of[1].target": [messages]}}``: the server's own checks
    (:meth:`~flask_gamify.Gamify.check_goal`), with the paths the builder puts on its
    inputs.
``GET criteria/vocabulary/`` (``criteria_vocabulary``)
    The event types of the recent event log, most frequent first, each with its
    attribute names and a few example values; and the keys of the goals the current
    user may refer to.
``GET criteria/schema/`` (``criteria_schema``)
    The criteria JSON Schema, which drives the builder.
``POST preview/`` (``preview``)
    Who would qualify under an unsaved definition (:meth:`~flask_gamify.Gamify.preview`).

Everything reads through the public API or with plain ``SELECT``\\ s; nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flask import request, url_for
from flask_admin import expose
from sqlalchemy import select
from werkzeug.routing import BuildError

from flask_gamify.criteria.json_schema import criteria_json_schema
from flask_gamify.errors import InvalidInputError
from flask_gamify.goals import GoalSchema
from flask_gamify.models import Event

from .base import json_error

if TYPE_CHECKING:
    from flask import Response

    from flask_gamify.extension import Gamify

    from .access import Scope

__all__ = ["CriteriaEditorMixin"]

#: The most recent events the vocabulary reads.
VOCABULARY_EVENTS = 10_000
#: At most this many event types, attributes per type and example values per attribute.
VOCABULARY_TYPES = 200
VOCABULARY_ATTRIBUTES = 50
VOCABULARY_VALUES = 8
#: Example strings longer than this are left out (they would not help as suggestions).
LONGEST_EXAMPLE = 80
#: The goal options a preview takes from the form.
PREVIEW_OPTIONS = ("entity_type", "starts_at", "ends_at", "repeatable", "max_awards")
#: The largest sample a preview returns.
LARGEST_SAMPLE = 50
#: A key to check criteria with when the form has none yet.
PLACEHOLDER_KEY = "new-goal"


def goal_references(criteria: Any, path: str = "criteria") -> Iterator[tuple[str, str]]:
    """``(path, key)`` of every ``goal`` criterion in ``criteria`` (well formed or not)."""
    stack = [(criteria, path)]
    while stack:
        criterion, where = stack.pop()
        if not isinstance(criterion, Mapping):
            continue
        if criterion.get("type") == "goal" and isinstance(criterion.get("goal"), str):
            yield f"{where}.goal", criterion["goal"]
        children = criterion.get("of")
        if isinstance(children, list):
            stack.extend((child, f"{where}.of[{i}]") for i, child in enumerate(children))


def _example(value: Any) -> bool:
    """Whether ``value`` makes a useful suggestion (a short scalar)."""
    if isinstance(value, str):
        return 0 < len(value) <= LONGEST_EXAMPLE
    return isinstance(value, bool | int | float)


class CriteriaEditorMixin:
    """Endpoints of the criteria builder, mixed into :class:`~.goals.GoalsView`."""

    if TYPE_CHECKING:
        gamify: Gamify
        session: Any

        def scope(self) -> Scope: ...
        def json(self, payload: Any, status: int = 200) -> Response: ...

    # -- helpers -------------------------------------------------------------------------

    def _json_body(self) -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            json_error(
                'Send a JSON object such as {"criteria": {"type": "count", "event": "login",'
                ' "target": 3}} with Content-Type: application/json.',
                400,
            )
        return body

    def _foreign_references(self, criteria: Any) -> dict[str, list[str]]:
        """``goal`` criteria naming goals outside the current user's scope, by path."""
        scope = self.scope()
        if scope.everything:
            return {}
        own = {goal.key for goal in self._own_goals(scope)}
        return {
            path: [
                f"Refers to the goal {key!r}, which is not one of your goals; you may refer"
                " only to goals you own."
            ]
            for path, key in goal_references(criteria)
            if key not in own
        }

    def _own_goals(self, scope: Scope) -> list[Any]:
        if scope.everything:
            return self.gamify.goals()
        if scope.owner is None:
            return []
        return self.gamify.goals(owner=scope.owner)

    def criteria_preview_urls(self) -> dict[str, str | None]:
        """URLs the preview panel's template needs: this view's preview endpoint, and the
        progress browser (``None`` when the dashboard has none) for the sample's links."""
        try:
            progress: str | None = url_for("gamify_progress.index")
        except BuildError:
            progress = None
        return {"preview": url_for(".preview"), "progress": progress}

    # -- endpoints -----------------------------------------------------------------------

    @expose("/criteria/validate/", methods=("POST",))
    def criteria_validate(self) -> Response:
        """Check criteria (and goal options) as saving would; answer the fields in error."""
        body = self._json_body()
        options = body.get("goal") or {}
        if not isinstance(options, dict):
            json_error("goal must be an object of goal options.", 400, fields={"goal": []})
        # Only what the goal schema knows: the form may carry more (an icon, for example).
        known = set(GoalSchema().fields) - {"criteria", "key"}
        key = options.get("key")
        if not isinstance(key, str) or not key.strip():
            key = PLACEHOLDER_KEY
        options = {name: value for name, value in options.items() if name in known}
        criteria = body.get("criteria")
        fields = self._foreign_references(criteria)
        if not fields:
            try:
                self.gamify.check_goal(key, criteria=criteria, **options)  # type: ignore[arg-type]
            except InvalidInputError as error:
                fields = error.errors
            except TypeError:  # never let a TypeError escape a Flask-Admin view
                fields = {"criteria": ["Must be a JSON object."]}
        if fields:
            return self.json({"ok": False, "fields": fields})
        return self.json({"ok": True, "fields": {}})

    @expose("/criteria/vocabulary/")
    def criteria_vocabulary(self) -> Response:
        """Event types, attributes and example values seen lately; goal keys in scope."""
        query = (
            select(Event.type, Event.attributes)
            .order_by(Event.processed_at.desc())
            .limit(VOCABULARY_EVENTS)
        )
        entity_type = request.args.get("entity_type")
        if entity_type:
            query = query.where(Event.entity_type == entity_type)
        types: Counter[str] = Counter()
        values: dict[str, dict[str, Counter[Any]]] = {}
        scanned = 0
        for event_type, attributes in self.session.execute(query):
            scanned += 1
            types[event_type] += 1
            seen = values.setdefault(event_type, {})
            if not isinstance(attributes, dict):
                continue
            for name, value in attributes.items():
                if name not in seen and len(seen) >= VOCABULARY_ATTRIBUTES:
                    continue
                examples = seen.setdefault(name, Counter())
                if _example(value):
                    # (type, value): 1 and "1" and True are different suggestions.
                    examples[(type(value).__name__, value)] += 1
        events = [
            {
                "type": event_type,
                "count": count,
                "attributes": {
                    name: [value for (_, value), _ in examples.most_common(VOCABULARY_VALUES)]
                    for name, examples in sorted(values[event_type].items())
                },
            }
            for event_type, count in types.most_common(VOCABULARY_TYPES)
        ]
        goals = [
            {"key": goal.key, "name": goal.name, "status": goal.status}
            for goal in self._own_goals(self.scope())
        ]
        return self.json({"events": events, "goals": goals, "events_scanned": scanned})

    @expose("/criteria/schema/")
    def criteria_schema(self) -> Response:
        """The criteria JSON Schema (draft 2020-12): the builder's types, fields and bounds."""
        return self.json(criteria_json_schema())

    @expose("/preview/", methods=("POST",))
    def preview(self) -> Response:
        """Who would progress and complete under the posted, unsaved definition."""
        body = self._json_body()
        options = body.get("options") or {}
        if not isinstance(options, dict):
            json_error("options must be an object of goal options.", 422, fields={"options": []})
        unknown = sorted(set(options) - set(PREVIEW_OPTIONS))
        if unknown:
            json_error(
                f"A preview takes the options {', '.join(PREVIEW_OPTIONS)}; leave out"
                f" {', '.join(unknown)}.",
                422,
                fields={name: ["Not a preview option."] for name in unknown},
            )
        options = {name: value for name, value in options.items() if value not in (None, "")}
        sample = body.get("sample", 10)
        if (
            isinstance(sample, bool)
            or not isinstance(sample, int)
            or not 0 <= sample <= LARGEST_SAMPLE
        ):
            json_error(
                f"sample must be a whole number from 0 to {LARGEST_SAMPLE}.",
                422,
                fields={"sample": [f"Must be a whole number from 0 to {LARGEST_SAMPLE}."]},
            )
        criteria = body.get("criteria")
        if not isinstance(criteria, dict):
            # A string would be read as the key of a saved goal: previews take criteria.
            json_error(
                "Send the criteria to preview as a JSON object.",
                422,
                fields={"criteria": ['Must be a JSON object with a "type".']},
            )
        foreign = self._foreign_references(criteria)
        if foreign:
            json_error("The criteria refer to goals that are not yours.", 403, fields=foreign)
        try:
            result = self.gamify.preview(criteria, sample=sample, **options)
        except InvalidInputError as error:
            json_error(
                "The criteria or options are not valid; see the fields.", 422, fields=error.errors
            )
        except TypeError:  # a criteria value of the wrong kind; never let it escape
            json_error(
                "The criteria must be a JSON object.",
                422,
                fields={"criteria": ["Must be a JSON object."]},
            )
        return self.json(result.to_dict())
