"""The Goals page: the list, the goal editor, go-live and the version history.

Every change goes through the public Python API (``define_goal``, ``activate_goal``,
``archive_goal``, ``restore_goal``, ``store_badge_image``); this module reads gamify's
tables only to list goals with their award counts.
"""

from __future__ import annotations

import difflib
import json
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

from flask import flash, g, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter, FilterEqual
from flask_admin.model.template import TemplateLinkRowAction
from markupsafe import Markup, escape
from sqlalchemy import and_, func, or_, select
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FileField,
    IntegerField,
    StringField,
    TextAreaField,
    validators,
)
from wtforms.widgets import TextInput

from flask_gamify.badges import BUILTIN_ICONS, MAX_BADGE_IMAGE_BYTES, icon_url
from flask_gamify.criteria import without_labels
from flask_gamify.errors import GamifyError, GoalArchived, InvalidInputError
from flask_gamify.models import Award, Goal, Progress
from flask_gamify.records import GoalView

from .base import GamifyModelView, asset_url, json_error
from .criteria_editor import CriteriaEditorMixin
from .fields import CriteriaField

__all__ = ["GoalsView"]

#: Fields whose change rebuilds an active goal's progress from the event log (what the
#: core's ``define_goals`` compares: criteria, awards per entity, entity type, dates,
#: assignment).
REBUILDING_FIELDS = (
    "criteria",
    "repeatable",
    "max_awards",
    "entity_type",
    "starts_at",
    "ends_at",
    "assigned_only",
)
#: Labels of the goal's fields, in the form's order.
LABELS = {
    "key": "Key",
    "name": "Name",
    "description": "Description",
    "criteria": "Criteria",
    "criteria_labels": "Labels of the criteria",
    "points": "Points",
    "repeatable": "Repeatable",
    "max_awards": "Max awards",
    "hidden": "Hidden",
    "assigned_only": "Assigned only",
    "starts_at": "Starts at (UTC)",
    "ends_at": "Ends at (UTC)",
    "entity_type": "Entity type",
    "owner": "Owner",
    "icon": "Icon",
    "status": "Status",
    "archived": "Archived",
}
#: The moment format of ``<input type="datetime-local">``.
LOCAL_MOMENT = "%Y-%m-%dT%H:%M"


class ArchivedFilter(BaseSQLAFilter):  # type: ignore[misc]
    """Archived goals are listed only when this filter asks for them."""

    def __init__(self) -> None:
        super().__init__(Goal.archived_at, "Archived", options=(("1", "Yes"), ("0", "No")))

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        if value == "1":
            return query.filter(Goal.archived_at.is_not(None))
        return query.filter(Goal.archived_at.is_(None))

    def operation(self) -> str:
        return "is"


class IconInput(TextInput):  # type: ignore[misc]
    """The icon's text input, followed by a picker of the built-in icons (goals.js)."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("placeholder", "a built-in icon's name, or https://... an image")
        kwargs["data-role"] = "gamify-icon"
        text = super().__call__(field, **kwargs)
        buttons = [
            '<button type="button" class="btn btn-light gamify-icon-choice" data-icon=""'
            ' title="No icon">&#8709;</button>'
        ]
        for name in BUILTIN_ICONS:
            url = icon_url(name)
            picture = (
                f'<img src="{escape(url)}" alt="" width="28" height="28">' if url else escape(name)
            )
            buttons.append(
                f'<button type="button" class="btn btn-light gamify-icon-choice"'
                f' data-icon="{name}" title="{name}">{picture}</button>'
            )
        picker = (
            '<div class="gamify-icon-picker" role="group" aria-label="Built-in icons">'
            + "".join(buttons)
            + "</div>"
        )
        return Markup(str(text) + picker)


def _aware(moment: datetime | None) -> datetime | None:
    """A form's moment (UTC, naive) as the API takes it."""
    return None if moment is None else moment.replace(tzinfo=UTC)


def _lower(label: str) -> str:
    """A label inside a sentence: "Starts at (UTC)" -> "starts at (UTC)"."""
    return label[:1].lower() + label[1:]


def _plain(value: Any) -> Any:
    """A value as the goal's JSON form has it (moments as ISO text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _shown(value: Any) -> str:
    """A field's value for people: "none", "yes"/"no", numbers and text as they are."""
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def criteria_diff(before: Any, after: Any) -> list[dict[str, str]]:
    """A line diff of two criteria as indented JSON: ``[{"op": " |-|+", "line": ...}]``."""

    def lines(value: Any) -> list[str]:
        if value is None:
            return []
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()

    diff = []
    for line in difflib.ndiff(lines(before), lines(after)):
        if line.startswith("? "):
            continue  # ndiff's hints under changed lines
        diff.append({"op": line[0], "line": line[2:]})
    return diff


def version_changes(
    changes: dict[str, dict[str, Any]], *, created: bool = False
) -> list[dict[str, Any]]:
    """A version's changes for the history page, in the form's order (``created``: the
    first version, whose values are shown as they are)."""
    order = list(LABELS)
    rows = []
    for name in sorted(changes, key=lambda name: order.index(name) if name in order else 99):
        before, after = changes[name]["before"], changes[name]["after"]
        row: dict[str, Any] = {"field": name, "label": LABELS.get(name, name)}
        if name == "criteria":
            row["diff"] = criteria_diff(after if created else before, after)
        else:
            row["before"], row["after"] = _shown(before), _shown(after)
        rows.append(row)
    return rows


class GoalsView(CriteriaEditorMixin, GamifyModelView):
    """Goals, scoped to the current author's own unless a superuser looks.

    Create and edit save through :meth:`Gamify.define_goal` (new goals as drafts);
    "Make active" calls :meth:`Gamify.activate_goal`; delete is archive.
    """

    can_create = True
    can_edit = True
    can_delete = False
    can_view_details = True
    list_template = "gamify_admin/goals/list.html"
    create_template = "gamify_admin/goals/create.html"
    edit_template = "gamify_admin/goals/edit.html"
    details_template = "gamify_admin/goals/details.html"

    column_list = (
        "key",
        "name",
        "status",
        "owner",
        "entity_type",
        "points",
        "awards",
        "completion",
        "hidden",
    )
    column_labels: ClassVar[dict[str, str]] = {
        **LABELS,
        "awards": "Awards",
        "completion": "Completion",
        "created_at": "Created",
        "updated_at": "Last changed",
    }
    column_descriptions: ClassVar[dict[str, str]] = {
        "completion": "Entities with an award, out of the entities with progress.",
    }
    column_searchable_list = ("key", "name", "description")
    column_sortable_list = ("key", "name", "status", "owner", "entity_type", "points", "hidden")
    column_default_sort = "key"
    column_filters = (
        FilterEqual(Goal.status, "Status", options=(("draft", "Draft"), ("active", "Active"))),
        FilterEqual(Goal.owner, "Owner"),
        FilterEqual(Goal.entity_type, "Entity type"),
        BooleanEqualFilter(Goal.hidden, "Hidden"),
        ArchivedFilter(),
    )
    column_details_list = (
        "key",
        "name",
        "status",
        "description",
        "criteria",
        "points",
        "repeatable",
        "max_awards",
        "hidden",
        "assigned_only",
        "starts_at",
        "ends_at",
        "entity_type",
        "owner",
        "icon",
        "created_at",
        "updated_at",
    )
    column_extra_row_actions: ClassVar[list[Any]] = [
        TemplateLinkRowAction("goal_actions.duplicate_row", "Duplicate"),
        TemplateLinkRowAction("goal_actions.archive_row", "Archive or restore"),
    ]
    page_size = 25

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(Goal, session, **kwargs)

    @property
    def extra_css(self) -> list[str]:
        return [
            *super().extra_css,
            asset_url("gamify_admin/criteria-builder.css"),
            asset_url("gamify_admin/goals.css"),
        ]

    @property
    def extra_js(self) -> list[str]:
        # The builder before the preview panel, which reads the criteria it writes.
        return [
            *super().extra_js,
            asset_url("gamify_admin/criteria-builder.js"),
            asset_url("gamify_admin/preview.js"),
            asset_url("gamify_admin/goals.js"),
        ]

    # -- reading: scope, archived goals, aggregates --------------------------------

    def _scoped(self, query: Any) -> Any:
        scope = self.scope()
        if scope.everything:
            return query
        return query.filter(Goal.owner == scope.owner) if scope.owner else query.filter(False)

    def _listed(self, query: Any) -> Any:
        if not g.get("gamify_show_archived"):
            query = query.filter(Goal.archived_at.is_(None))
        return self._scoped(query)

    def get_query(self) -> Any:
        return self._listed(super().get_query())

    def get_count_query(self) -> Any:
        return self._listed(super().get_count_query())

    def get_one(self, id: Any) -> Goal | None:
        try:
            goal_id = int(id)
        except (TypeError, ValueError):
            return None
        if not 0 < goal_id < 2**31:  # beyond what the id column holds
            return None
        goal: Goal | None = self.session.execute(
            select(Goal).where(Goal.id == goal_id).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if goal is None or not self.scope().allows(goal.owner):
            return None
        return goal

    def get_list(
        self,
        page: Any,
        sort_column: Any,
        sort_desc: Any,
        search: Any,
        filters: Any,
        execute: bool = True,
        page_size: Any = None,
    ) -> Any:
        g.gamify_show_archived = any(
            isinstance(self._filters[index], ArchivedFilter) for index, _, _ in filters or ()
        )
        count, rows = super().get_list(
            page, sort_column, sort_desc, search, filters, execute, page_size
        )
        if execute:
            g.gamify_goal_stats = self.goal_stats([row.id for row in rows])
        return count, rows

    def goal_stats(self, ids: list[int]) -> dict[int, tuple[int, int, int]]:
        """``{goal id: (awards, entities with an award, entities with progress)}``, in one
        query for a page of goals."""
        if not ids:
            return {}
        awards = select(func.count()).where(Award.goal_id == Goal.id).scalar_subquery()
        awarded = (
            select(func.count(func.distinct(Award.entity_type + ":" + Award.entity_id)))
            .where(Award.goal_id == Goal.id)
            .scalar_subquery()
        )
        progressed = (
            select(func.count())
            .where(
                Progress.goal_id == Goal.id,
                or_(Progress.percent > 0, Progress.times_completed > 0),
            )
            .scalar_subquery()
        )
        rows = self.session.execute(
            select(Goal.id, awards, awarded, progressed).where(Goal.id.in_(ids))
        )
        return {row[0]: (row[1], row[2], max(row[3], row[2])) for row in rows}

    def get_empty_list_message(self) -> str:
        if request.args.get("search") or any(key.startswith("flt") for key in request.args):
            return "No goal matches this search or these filters; clear them to see every goal."
        return (
            "No goals yet. Create one with the Create tab: give it a key, a name and"
            " criteria; it is saved as a draft until you make it active."
        )

    # -- list cells ------------------------------------------------------------------

    def stats_of(self, goal: Goal) -> tuple[int, int, int]:
        stats = g.get("gamify_goal_stats") or {}
        if goal.id not in stats:
            stats.update(self.goal_stats([goal.id]))
            g.gamify_goal_stats = stats
        return stats[goal.id]  # type: ignore[no-any-return]

    @staticmethod
    def status_badge(goal: Goal) -> Markup:
        if goal.archived_at is not None:
            kind, text = "secondary", "archived"
        elif goal.status == "draft":
            kind, text = "warning", "draft"
        else:
            kind, text = "success", "active"
        return Markup(f'<span class="badge badge-{kind} gamify-status">{text}</span>')

    @staticmethod
    def icon_image(goal: Goal, size: int = 24) -> Markup:
        url = icon_url(goal.icon)
        if not url:
            return Markup(
                f'<span class="gamify-icon gamify-icon-none" style="width:{size}px;'
                f'height:{size}px" aria-hidden="true"></span>'
            )
        return Markup(
            f'<img class="gamify-icon" src="{escape(url)}" alt="" width="{size}"'
            f' height="{size}" loading="lazy">'
        )

    # -- the form ----------------------------------------------------------------------

    def scaffold_form(self) -> Any:
        base = self.form_base_class

        class GoalForm(base):  # type: ignore[misc,valid-type]
            key = StringField(
                "Key",
                [validators.InputRequired(message="Give the goal a key, such as 'reader'.")],
                description="Letters, digits and - _ . : ; cannot change once the goal exists.",
            )
            name = StringField("Name", description="Shown to people (default: the key).")
            description = TextAreaField("Description", render_kw={"rows": 3})
            icon = StringField("Icon", widget=IconInput())
            icon_upload = FileField(
                "Upload a badge image",
                description=(
                    f"PNG, JPEG, GIF or WebP, at most {MAX_BADGE_IMAGE_BYTES // 1024} KB;"
                    " replaces the icon."
                ),
                render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"},
            )

            points = IntegerField("Points", [validators.Optional()], default=0)
            criteria = CriteriaField(
                "Criteria",
                [validators.InputRequired(message="Give the goal criteria.")],
                render_kw={"rows": 8, "class": "gamify-criteria-json"},
            )
            repeatable = BooleanField("Repeatable", description="Awarded again on each completion.")
            max_awards = IntegerField(
                "Max awards",
                [validators.Optional()],
                description="For repeatable goals: at most this many awards per entity.",
            )
            hidden = BooleanField("Hidden", description="Not shown to entities until completed.")
            assigned_only = BooleanField(
                "Assigned only", description="Only entities it is assigned to progress."
            )
            starts_at = DateTimeLocalField(
                "Starts at (UTC)", [validators.Optional()], format=LOCAL_MOMENT
            )
            ends_at = DateTimeLocalField(
                "Ends at (UTC)", [validators.Optional()], format=LOCAL_MOMENT
            )
            entity_type = StringField("Entity type", default="user")
            owner = StringField("Owner", description="Who authored the goal.")

        return GoalForm

    def _owner_field(self, form: Any) -> None:
        scope = self.scope()
        form.entity_type.default = self.state.default_entity_type
        if not scope.everything:
            form.owner.data = scope.owner
            form.owner.render_kw = {"readonly": True}
            form.owner.description = "Your goals are yours: the owner is you."

    def create_form(self, obj: Any = None) -> Any:
        source = None
        if request.method == "GET" and request.args.get("duplicate"):
            source = self.get_one(request.args["duplicate"])
        form = super().create_form(obj=source or obj)
        if request.method == "GET":
            if source is not None:
                form.key.data = self._free_key(f"{source.key}-copy")
                form.name.data = f"{source.name} (copy)"
            elif not form.entity_type.data or form.entity_type.data == "user":
                form.entity_type.data = self.state.default_entity_type
        self._owner_field(form)
        return form

    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj=obj)
        if obj is not None:
            form.key.data = obj.key
        form.key.render_kw = {"readonly": True}
        form.key.description = "A goal's key cannot change (duplicate it to use another key)."
        self._owner_field(form)
        return form

    def _free_key(self, wanted: str) -> str:
        taken = set(
            self.session.execute(select(Goal.key).where(Goal.key.like(f"{wanted}%"))).scalars()
        )
        key, number = wanted, 2
        while key in taken:
            key, number = f"{wanted}-{number}", number + 1
        return key

    def _definition(self, form: Any, *, store_upload: bool = True) -> dict[str, Any]:
        """The goal definition a submitted form means (raises InvalidInputError)."""
        scope = self.scope()
        definition: dict[str, Any] = {
            "description": form.description.data or "",
            "criteria": form.criteria.data,
            "points": 0 if form.points.data is None else form.points.data,
            "repeatable": bool(form.repeatable.data),
            "max_awards": form.max_awards.data,
            "hidden": bool(form.hidden.data),
            "assigned_only": bool(form.assigned_only.data),
            "starts_at": _aware(form.starts_at.data),
            "ends_at": _aware(form.ends_at.data),
            "entity_type": (form.entity_type.data or "").strip() or self.state.default_entity_type,
            "icon": (form.icon.data or "").strip() or None,
        }
        if (form.name.data or "").strip():
            definition["name"] = form.name.data.strip()
        if scope.everything:
            definition["owner"] = (form.owner.data or "").strip() or None
        else:
            definition["owner"] = scope.owner
        upload = form.icon_upload.data
        if store_upload and upload is not None and getattr(upload, "filename", None):
            data = upload.read(MAX_BADGE_IMAGE_BYTES + 1)
            definition["icon"] = self.gamify.store_badge_image(data)
        return definition

    def _changed_by(self) -> str:
        return self.scope().owner or "admin"

    @staticmethod
    def show_errors(form: Any, error: Exception) -> None:
        """Put each message of ``error`` at the form field it names (else flash it)."""
        if isinstance(error, GoalArchived):
            messages: dict[str, list[str]] = {"key": [error.message]}
        elif isinstance(error, InvalidInputError):
            messages = error.errors
        else:
            messages = {"": [str(error)]}
        for path, texts in messages.items():
            name = path.split(".", 1)[0].split("[", 1)[0]
            name = {"image": "icon_upload", "goals": "key"}.get(name, name)
            field = form[name] if name and name in form else None
            if field is None:
                for text in texts:
                    flash(f"{path}: {text}" if path else text, "error")
                continue
            shown = [text if path == name else f"{path}: {text}" for text in texts]
            field.errors = [*field.errors, *shown]

    def _reload(self, key: str) -> Goal:
        goal: Goal = self.session.execute(
            select(Goal).where(Goal.key == key).execution_options(populate_existing=True)
        ).scalar_one()
        return goal

    def create_model(self, form: Any) -> Goal | bool:
        key = (form.key.data or "").strip()
        try:
            taken = self.session.execute(select(Goal.archived_at).where(Goal.key == key)).first()
            if taken is not None:
                where = (
                    " (archived: restore it from the list's Archived filter)"
                    if taken.archived_at is not None
                    else "; open that goal to change it"
                )
                form.key.errors = [
                    *form.key.errors,
                    f"A goal with the key {key!r} exists already{where}. Choose another key.",
                ]
                return False
            definition = self._definition(form)
            self.gamify.define_goal(
                key, changed_by=self._changed_by(), status="draft", **definition
            )
        except GamifyError as error:
            self.show_errors(form, error)
            return False
        return self._reload(key)

    def update_model(self, form: Any, model: Goal) -> bool:
        try:
            definition = self._definition(form)
            self.gamify.define_goal(
                model.key, changed_by=self._changed_by(), status=model.status, **definition
            )
        except GamifyError as error:
            self.show_errors(form, error)
            return False
        self._reload(model.key)
        return True

    def delete_model(self, model: Goal) -> bool:
        """Deleting a goal archives it: its progress and awards stay readable."""
        self.gamify.archive_goal(model.key, changed_by=self._changed_by())
        return True

    def get_save_return_url(self, model: Goal, is_created: bool = False) -> str:
        return str(self.get_url(".details_view", id=model.id))

    # -- pages: details, edit and versions get more context -------------------------

    def render(self, template: str, **kwargs: Any) -> str:
        model = kwargs.get("model")
        if isinstance(model, Goal):
            kwargs.setdefault("goal_page", self._page_context(model))
        kwargs.setdefault("gamify_icon_url", icon_url)
        kwargs.setdefault("gamify_icon_urls", {name: icon_url(name) for name in BUILTIN_ICONS})
        return super().render(template, **kwargs)

    def _page_context(self, goal: Goal) -> dict[str, Any]:
        awards, awarded, progressed = self.goal_stats([goal.id]).get(goal.id, (0, 0, 0))
        latest = self.gamify.backfills(goal.key)[:1]
        return {
            "status_badge": self.status_badge(goal),
            "icon_url": icon_url(goal.icon),
            "live": goal.status == "active" and goal.archived_at is None,
            "draft": goal.status == "draft" and goal.archived_at is None,
            "archived": goal.archived_at is not None,
            "awards": awards,
            "awarded": awarded,
            "progressed": progressed,
            "backfill": latest[0].to_dict() if latest else None,
            "urls": {
                "activate": self.get_url(".activate_view", id=goal.id),
                "status": self.get_url(".backfill_status_view", id=goal.id),
                "impact": self.get_url(".impact_view", id=goal.id),
                "versions": self.get_url(".versions_view", id=goal.id),
                "duplicate": self.get_url(".create_view", duplicate=goal.id),
                "archive": self.get_url(".archive_view"),
                "restore": self.get_url(".restore_view"),
                "details": self.get_url(".details_view", id=goal.id),
                "edit": self.get_url(".edit_view", id=goal.id),
            },
        }

    def _goal_or_404(self, goal_id: Any) -> Goal:
        goal = self.get_one(goal_id)
        if goal is None:
            self.fail("There is no such goal, or it is not yours.", 404)
        return goal

    @staticmethod
    def fail(message: str, status: int, **fields: Any) -> NoReturn:
        """Answer a JSON request with ``{"message", "fields"}`` and ``status``."""
        json_error(message, status, fields=fields or None)
        raise AssertionError("json_error aborts")  # pragma: no cover

    # -- archive and restore (row actions and buttons) ---------------------------------

    def _state_change(self, action: str) -> Any:
        goal = self.get_one(request.form.get("id"))
        back = request.form.get("url") or self.get_url(".index_view")
        if not back.startswith("/") or back.startswith("//"):
            back = self.get_url(".index_view")
        if goal is None:
            flash("There is no such goal, or it is not yours.", "error")
            return redirect(back)
        try:
            if action == "archive":
                self.gamify.archive_goal(goal.key, changed_by=self._changed_by())
                flash(
                    f"The goal {goal.key!r} is archived: it no longer progresses; its awards"
                    " stay. Find it with the Archived filter to restore it.",
                    "success",
                )
            else:
                self.gamify.restore_goal(goal.key, changed_by=self._changed_by())
                flash(f"The goal {goal.key!r} is restored.", "success")
        except GamifyError as error:
            flash(error.message, "error")
        return redirect(back)

    @expose("/archive/", methods=("POST",))
    def archive_view(self) -> Any:
        return self._state_change("archive")

    @expose("/restore/", methods=("POST",))
    def restore_view(self) -> Any:
        return self._state_change("restore")

    # -- go-live ---------------------------------------------------------------------

    def _flag(self, body: dict[str, Any], name: str) -> bool:
        value = body.get(name, True)
        if not isinstance(value, bool):
            self.fail(f"{name} must be true or false.", 400, **{name: ["Must be a boolean."]})
        return bool(value)

    @expose("/activate/", methods=("POST",))
    def activate_view(self) -> Any:
        goal = self._goal_or_404(request.args.get("id"))
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            body = {}
        count_history = self._flag(body, "count_history")
        notify = self._flag(body, "notify")
        try:
            view = self.gamify.activate_goal(
                goal.key,
                changed_by=self._changed_by(),
                count_history=count_history,
                notify=notify,
            )
        except GamifyError as error:
            self.fail(error.message, 409)
        return self.json(self._status(goal.id, view))

    @expose("/backfill-status/")
    def backfill_status_view(self) -> Any:
        goal = self._goal_or_404(request.args.get("id"))
        return self.json(self._status(goal.id, self.gamify.goal(goal.key)))

    def _status(self, goal_id: int, view: GoalView) -> dict[str, Any]:
        latest = self.gamify.backfills(view.key)[:1]
        awards, awarded, progressed = self.goal_stats([goal_id]).get(goal_id, (0, 0, 0))
        return {
            "goal": {"key": view.key, "status": view.status, "archived": view.archived},
            "backfill": latest[0].to_dict() if latest else None,
            "awards": awards,
            "awarded": awarded,
            "progressed": progressed,
        }

    # -- what an edit of a live goal will do -------------------------------------------

    @expose("/impact/", methods=("POST",))
    def impact_view(self) -> Any:
        goal = self._goal_or_404(request.args.get("id"))
        form = self.edit_form(obj=goal)
        if not form.validate():
            self.fail(
                "Some fields are not valid; save to see the messages at each field.",
                422,
                **{name: list(errors) for name, errors in form.errors.items()},
            )
        try:
            definition = self._definition(form, store_upload=False)
            current = self.gamify.goal(goal.key)
            options = {k: v for k, v in definition.items() if k != "criteria"}
            preview = self.gamify.preview(definition["criteria"], sample=0, key=goal.key, **options)
        except GamifyError as error:
            errors = error.errors if isinstance(error, InvalidInputError) else {}
            self.fail(error.message, 422, **errors)
        return self.json(self._impact(current, definition, preview.entities, preview.completed))

    def _impact(
        self, current: GoalView, definition: dict[str, Any], progressed: int, completing: int
    ) -> dict[str, Any]:
        before = current.to_dict()
        order = list(LABELS)
        changed = sorted(
            (
                name
                for name, value in definition.items()
                if _plain(value) != before.get(name)
                and not (name == "max_awards" and not definition["repeatable"] and not value)
            ),
            key=order.index,
        )
        if "criteria" in changed and without_labels(definition["criteria"]) == without_labels(
            before.get("criteria")
        ):
            # Labels are presentation: the criteria count the same events as before.
            changed[changed.index("criteria")] = "criteria_labels"
        live = current.status == "active" and not current.archived
        rebuild = live and any(name in REBUILDING_FIELDS for name in changed)
        awards = self.session.execute(
            select(
                func.count(),
                func.count(func.distinct(Award.entity_type + ":" + Award.entity_id)),
            )
            .select_from(Award)
            .join(Goal, and_(Goal.id == Award.goal_id, Goal.key == current.key))
        ).one()
        messages = []
        if not changed:
            messages.append("Nothing changed.")
        elif rebuild:
            reasons = ", ".join(
                _lower(LABELS[name]) for name in changed if name in REBUILDING_FIELDS
            )
            messages.append(
                f"Progress will be rebuilt from the event log ({reasons} changed): under the new"
                f" definition {progressed} entities have progress and {completing} would"
                " complete."
            )
            messages.append(
                f"The {awards[0]} awards already given (to {awards[1]} entities) stay; entities"
                " who now qualify without an award get one; none is revoked."
            )
        else:
            fields = ", ".join(_lower(LABELS.get(name, name)) for name in changed)
            messages.append(f"Progress and awards stay as they are: only {fields} changed.")
            if "points" in changed:
                messages.append(
                    "Awards already given keep their points; new awards get the new points."
                )
        return {
            "live": live,
            "changed": [LABELS.get(name, name) for name in changed],
            "rebuild": rebuild,
            "progressed": progressed,
            "completing": completing,
            "awards": awards[0],
            "awarded": awards[1],
            "messages": messages,
        }

    # -- versions ------------------------------------------------------------------------

    @expose("/versions/")
    def versions_view(self) -> Any:
        goal = self.get_one(request.args.get("id"))
        if goal is None:
            flash("There is no such goal, or it is not yours.", "error")
            return redirect(self.get_url(".index_view"))
        versions = [
            {
                "version": version.version,
                "changed_at": version.changed_at,
                "changed_by": version.changed_by,
                "created": version.version == 1,
                "changes": version_changes(
                    {
                        name: change
                        for name, change in version.changes.items()
                        if version.version > 1 or change["after"] not in (None, "", False)
                    },
                    created=version.version == 1,
                ),
            }
            for version in reversed(self.gamify.goal_versions(goal.key))
        ]
        return self.render(
            "gamify_admin/goals/versions.html",
            model=goal,
            versions=versions,
            return_url=self.get_url(".details_view", id=goal.id),
        )


# -- list and details cells: Flask-Admin calls them as (view, context, goal, name) ----------


def _name_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    return Markup('<span class="gamify-goal-name">{}{}</span>').format(
        view.icon_image(goal), goal.name
    )


def _status_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    return view.status_badge(goal)


def _points_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    return Markup('<span class="gamify-number">{}</span>').format(goal.points)


def _awards_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    return Markup('<span class="gamify-number">{}</span>').format(view.stats_of(goal)[0])


def _completion_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    _, awarded, progressed = view.stats_of(goal)
    if not progressed:
        return Markup(
            '<span class="gamify-number text-muted" title="No progress yet">&ndash;</span>'
        )
    percent = round(100 * awarded / progressed)
    return Markup(
        '<span class="gamify-number" title="{} of {} entities with progress">{}%</span>'
    ).format(awarded, progressed, percent)


def _criteria_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    text = json.dumps(goal.criteria, indent=2, ensure_ascii=False)
    return Markup('<pre class="gamify-json mb-0">{}</pre>').format(text)


def _icon_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    if not goal.icon:
        return Markup('<span class="text-muted">none</span>')
    return Markup("{} <code>{}</code>").format(view.icon_image(goal, 32), goal.icon)


def _flag_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    return Markup("yes") if getattr(goal, name) else Markup('<span class="text-muted">no</span>')


def _optional_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    value = getattr(goal, name)
    if value is None or value == "":
        return Markup('<span class="text-muted">none</span>')
    return Markup("{}").format(value)


def _moment_cell(view: GoalsView, context: Any, goal: Goal, name: str) -> Markup:
    moment = getattr(goal, name)
    if moment is None:
        return Markup('<span class="text-muted">none</span>')
    return Markup("{}").format(moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


GoalsView.column_formatters = {
    "name": _name_cell,
    "status": _status_cell,
    "points": _points_cell,
    "awards": _awards_cell,
    "completion": _completion_cell,
    "criteria": _criteria_cell,
    "icon": _icon_cell,
    "hidden": _flag_cell,
    "repeatable": _flag_cell,
    "assigned_only": _flag_cell,
    "owner": _optional_cell,
    "max_awards": _optional_cell,
    "description": _optional_cell,
    "starts_at": _moment_cell,
    "ends_at": _moment_cell,
    "created_at": _moment_cell,
    "updated_at": _moment_cell,
}
