"""The Awards page of the dashboard: who earned what, awards by hand, bulk, audit trail.

Every change goes through the public API (:meth:`Gamify.award`,
:meth:`Gamify.revoke_award`); lists are read with SQLAlchemy. Authors see, give and
revoke only awards of goals they own: any other goal answers 404, as if it did not exist.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from flask_gamify.errors import (
    AlreadyAwarded,
    AwardError,
    AwardNotFound,
    GamifyError,
    GoalNotFound,
    InvalidInputError,
)
from flask_gamify.manual_awards import AWARDED, REVOKED
from flask_gamify.models import Award, AwardChange, Goal
from flask_gamify.records import AwardChangeView, GoalView

from .base import GamifyView, asset_url
from .display import format_time, zone_name

__all__ = ["AwardsView"]

#: Earners shown per page.
PAGE_SIZE = 50
#: Rows of the audit trail per page.
AUDIT_PAGE_SIZE = 50
#: The most entities one bulk award takes, and the largest text or file it reads.
BULK_MAX_LINES = 10_000
BULK_MAX_BYTES = 1024 * 1024


def readable_time(moment: datetime | None) -> str:
    """``2026-03-01 14:05 UTC`` in ``GAMIFY_TIMEZONE``: minutes are enough for people."""
    return "" if moment is None else f"{format_time(moment)} {zone_name()}"


@dataclass
class BulkLine:
    """One entity of a bulk award, and what happened to it."""

    line: int
    entity: str
    entity_type: str
    #: ``awarded``, ``had-it``, ``refused`` or ``skipped``.
    outcome: str = "refused"
    detail: str = ""


@dataclass
class BulkReport:
    lines: list[BulkLine] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


class AwardsView(GamifyView):
    """Earners per goal and awards per entity; award and revoke by hand; bulk; audit."""

    @property
    def extra_css(self) -> list[str]:
        return [*super().extra_css, asset_url("gamify_admin/awards.css")]

    @property
    def extra_js(self) -> list[str]:
        return [*super().extra_js, asset_url("gamify_admin/awards.js")]

    # -- helpers ----------------------------------------------------------------------

    def visible_goals(self) -> list[GoalView]:
        """The goals the current user may see, archived ones included, by key."""
        scope = self.scope()
        if scope.everything:
            return self.gamify.goals(include_archived=True)
        if scope.owner is None:
            return []
        return self.gamify.goals(include_archived=True, owner=scope.owner)

    def goal_in_scope(self, key: str) -> GoalView:
        """The goal ``key``, or 404 when it does not exist or belongs to someone else."""
        try:
            goal = self.gamify.goal(key)
        except GoalNotFound:
            abort(404, description=f"There is no goal {key!r} you can see.")
        if not self.scope().allows(goal.owner):
            abort(404, description=f"There is no goal {key!r} you can see.")
        return goal

    def changes(self, **filters: Any) -> list[AwardChangeView]:
        """Rows of the audit trail on the goals the current user sees."""
        scope = self.scope()
        if not scope.everything and scope.owner is None:
            return []
        return self.gamify.award_changes(owner=None if scope.everything else scope.owner, **filters)

    def changed_by(self) -> str | None:
        return self.access.author()

    def entity_type_or_default(self, value: str | None) -> str:
        value = (value or "").strip()
        return value or self.state.default_entity_type

    def page_number(self) -> int:
        try:
            return max(1, int(request.args.get("page", "1")))
        except ValueError:
            return 1

    def render_page(self, template: str, **kwargs: Any) -> str:
        kwargs.setdefault("when", readable_time)
        kwargs.setdefault("default_entity_type", self.state.default_entity_type)
        return self.render(template, **kwargs)

    def manual_flags(self, goal_ids: set[int], rows: list[Any]) -> set[tuple[int, str, str, int]]:
        """Which of ``rows`` (goal id, entity type, entity id, occurrence) were given by
        hand: the latest change of that occurrence in the audit trail is ``awarded``."""
        if not rows:
            return set()
        entity_ids = sorted({row[2] for row in rows})
        latest: dict[tuple[int, str, str, int], str] = {}
        with self.state.transaction() as session:
            changes = session.execute(
                select(
                    AwardChange.goal_id,
                    AwardChange.entity_type,
                    AwardChange.entity_id,
                    AwardChange.occurrence,
                    AwardChange.action,
                )
                .where(
                    AwardChange.goal_id.in_(sorted(goal_ids)),
                    AwardChange.entity_id.in_(entity_ids),
                    AwardChange.action.in_((AWARDED, REVOKED)),
                )
                .order_by(AwardChange.id)
            )
            for goal_id, entity_type, entity_id, occurrence, action in changes:
                latest[(goal_id, entity_type, entity_id, occurrence)] = action
        return {row for row in rows if latest.get(row) == AWARDED}

    def earners(self, goal: GoalView, page: int) -> tuple[list[dict[str, Any]], int]:
        """One page of the goal's awards, newest first, and how many there are."""
        with self.state.transaction() as session:
            goal_id = session.execute(select(Goal.id).where(Goal.key == goal.key)).scalar_one()
            total = session.execute(
                select(func.count(Award.id)).where(Award.goal_id == goal_id)
            ).scalar_one()
            awards = session.execute(
                select(Award)
                .where(Award.goal_id == goal_id)
                .order_by(Award.awarded_at.desc(), Award.id.desc())
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            ).scalars()
            rows = [
                {
                    "key": (goal_id, award.entity_type, award.entity_id, award.occurrence),
                    "goal": goal.key,
                    "goal_name": goal.name,
                    "entity": award.entity_id,
                    "entity_type": award.entity_type,
                    "occurrence": award.occurrence,
                    "points": award.points,
                    "achieved_at": award.achieved_at,
                    "awarded_at": award.awarded_at,
                }
                for award in awards
            ]
        manual = self.manual_flags({goal_id}, [row["key"] for row in rows])
        for row in rows:
            row["manual"] = row["key"] in manual
        return rows, int(total)

    def entity_awards(
        self, entity: str, entity_type: str, goals: list[GoalView]
    ) -> list[dict[str, Any]]:
        """The entity's awards on the goals the user sees, newest first."""
        visible = {goal.key: goal for goal in goals}
        with self.state.transaction() as session:
            ids: dict[str, int] = {
                key: goal_id
                for key, goal_id in session.execute(
                    select(Goal.key, Goal.id).where(Goal.key.in_(sorted(visible)))
                )
            }
        rows = [
            {
                "key": (ids[award.goal], entity_type, entity, award.occurrence),
                "goal": award.goal,
                "goal_name": award.name,
                "entity": entity,
                "entity_type": entity_type,
                "occurrence": award.occurrence,
                "points": award.points,
                "achieved_at": award.achieved_at,
                "awarded_at": award.awarded_at,
            }
            for award in reversed(self.gamify.awards(entity, entity_type=entity_type))
            if award.goal in visible
        ]
        manual = self.manual_flags(set(ids.values()), [row["key"] for row in rows])
        for row in rows:
            row["manual"] = row["key"] in manual
        return rows

    # -- pages --------------------------------------------------------------------------

    @expose("/")
    def index(self) -> Any:
        return self.index_page()

    def index_page(
        self,
        *,
        award_form: dict[str, Any] | None = None,
        award_errors: dict[str, list[str]] | None = None,
        revoke_form: dict[str, Any] | None = None,
        revoke_errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> Any:
        goals = self.visible_goals()
        # What the page shows comes from its query string; forms post to their own URL
        # with it, so that a refused form shows the page it came from.
        goal_key = (request.args.get("goal") or "").strip()
        entity = (request.args.get("entity") or "").strip()
        entity_type = self.entity_type_or_default(request.args.get("entity_type"))
        page = self.page_number()
        goal = self.goal_in_scope(goal_key) if goal_key else None
        earners: list[dict[str, Any]] = []
        total = 0
        if goal is not None and not entity:
            earners, total = self.earners(goal, page)
        elif entity:
            earners = self.entity_awards(entity, entity_type, [goal] if goal is not None else goals)
            total = len(earners)
        recent = self.changes(goal=goal.key if goal is not None else None, limit=5)
        html = self.render_page(
            "gamify_admin/awards.html",
            goals=goals,
            goal=goal,
            entity=entity,
            entity_type=entity_type,
            earners=earners,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)) if goal is not None and not entity else 1,
            recent=recent,
            award_form=award_form
            or {"goal": goal_key, "entity": "", "entity_type": entity_type, "reason": ""},
            award_errors=award_errors or {},
            revoke_form=revoke_form,
            revoke_errors=revoke_errors or {},
        )
        return html if status == 200 else (html, status)

    @expose("/award/", methods=("POST",))
    def award(self) -> Any:
        form = {
            "goal": (request.form.get("goal") or "").strip(),
            "entity": (request.form.get("entity") or "").strip(),
            "entity_type": self.entity_type_or_default(request.form.get("entity_type")),
            "reason": (request.form.get("reason") or "").strip(),
        }
        if not form["goal"]:
            return self.index_page(
                award_form=form,
                award_errors={"goal": ["Pick the goal to award."]},
                status=400,
            )
        goal = self.goal_in_scope(form["goal"])
        try:
            award = self.gamify.award(
                form["entity"],
                goal.key,
                reason=form["reason"],
                changed_by=self.changed_by(),
                entity_type=form["entity_type"],
            )
        except InvalidInputError as error:
            return self.index_page(award_form=form, award_errors=error.errors, status=400)
        except AwardError as error:
            field = "entity" if isinstance(error, AlreadyAwarded) else "goal"
            return self.index_page(
                award_form=form, award_errors={field: [error.message]}, status=409
            )
        flash(
            f"Awarded “{goal.name}” to {award.entity_type} {award.entity}"
            f" (occurrence {award.occurrence}, {award.points} points).",
            "success",
        )
        return redirect(url_for(".index", goal=goal.key))

    @expose("/revoke/", methods=("POST",))
    def revoke(self) -> Any:
        form: dict[str, Any] = {
            "goal": (request.form.get("goal") or "").strip(),
            "entity": (request.form.get("entity") or "").strip(),
            "entity_type": self.entity_type_or_default(request.form.get("entity_type")),
            "occurrence": (request.form.get("occurrence") or "").strip(),
            "reason": (request.form.get("reason") or "").strip(),
            "reset_progress": request.form.get("reset_progress") == "1",
        }
        goal = self.goal_in_scope(form["goal"]) if form["goal"] else None
        if goal is None:
            abort(400, description="Say which goal's award to revoke (the goal field).")
        form["goal_name"] = goal.name
        try:
            occurrence = int(form["occurrence"]) if form["occurrence"] else None
        except ValueError:
            occurrence = -1
        try:
            if occurrence == -1:
                raise InvalidInputError({"occurrence": ["Must be a whole number, such as 1."]})
            removed = self.gamify.revoke_award(
                form["entity"],
                goal.key,
                occurrence,
                reason=form["reason"],
                changed_by=self.changed_by(),
                entity_type=form["entity_type"],
                reset_progress=bool(form["reset_progress"]),
            )
        except InvalidInputError as error:
            return self.index_page(revoke_form=form, revoke_errors=error.errors, status=400)
        except AwardNotFound as error:
            flash(error.message, "error")
            return redirect(url_for(".index", **dict(request.args.items())))  # type: ignore[arg-type]
        flash(
            f"Revoked “{goal.name}” (occurrence {removed.occurrence}) from"
            f" {removed.entity_type} {removed.entity}.",
            "success",
        )
        return redirect(url_for(".index", **dict(request.args.items())))  # type: ignore[arg-type]

    @expose("/bulk/", methods=("GET", "POST"))
    def bulk(self) -> Any:
        goals = [goal for goal in self.visible_goals() if not goal.archived]
        form = {
            "goal": (request.values.get("goal") or "").strip(),
            "entity_type": self.entity_type_or_default(request.values.get("entity_type")),
            "reason": (request.form.get("reason") or "").strip(),
            "entities": request.form.get("entities") or "",
        }
        errors: dict[str, list[str]] = {}
        report: BulkReport | None = None
        status = 200
        if request.method == "POST":
            goal = self.goal_in_scope(form["goal"]) if form["goal"] else None
            if goal is None:
                errors["goal"] = ["Pick the goal to award."]
            if not form["reason"]:
                errors["reason"] = [
                    "Say why these awards are given: the reason is recorded with each of them."
                ]
            entries = self.bulk_entries(form, request.files.get("file"), errors)
            if not errors and not entries:
                errors["entities"] = [
                    "List at least one entity id (one per line, or separated by commas),"
                    " or upload a CSV file."
                ]
            if errors:
                status = 400
            else:
                assert goal is not None
                report = self.bulk_award(goal, entries, form["reason"])
        html = self.render_page(
            "gamify_admin/awards_bulk.html",
            goals=goals,
            form=form,
            errors=errors,
            report=report,
            max_lines=BULK_MAX_LINES,
            max_bytes=BULK_MAX_BYTES,
        )
        return html if status == 200 else (html, status)

    @staticmethod
    def bulk_entries(
        form: dict[str, Any], upload: FileStorage | None, errors: dict[str, list[str]]
    ) -> list[BulkLine]:
        """The entities of a bulk award, from the text area and the CSV file."""
        entries: list[BulkLine] = []
        default_type = form["entity_type"]
        text = form["entities"]
        if len(text.encode()) > BULK_MAX_BYTES:
            errors["entities"] = [
                f"The list is larger than {BULK_MAX_BYTES // 1024} KiB; split it into parts."
            ]
            return []
        for number, line in enumerate(text.splitlines(), start=1):
            for part in line.split(","):
                if part.strip():
                    entries.append(BulkLine(number, part.strip(), default_type))
        if upload is not None and upload.filename:
            try:
                data = upload.stream.read(BULK_MAX_BYTES + 1)
            finally:
                upload.close()  # a large upload is a temporary file
            if len(data) > BULK_MAX_BYTES:
                errors["file"] = [
                    f"The file is larger than {BULK_MAX_BYTES // 1024} KiB; split it into parts."
                ]
                return []
            try:
                content = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                errors["file"] = ["The file is not UTF-8 text; save it as CSV in UTF-8."]
                return []
            for number, row in enumerate(csv.reader(io.StringIO(content)), start=1):
                cells = [cell.strip() for cell in row]
                if not cells or not any(cells):
                    continue
                if number == 1 and cells[0].lower() in ("entity", "entity_id", "id"):
                    continue  # a header
                if len(cells) > 2:
                    errors["file"] = [
                        f"Line {number} of the file has {len(cells)} columns; the file"
                        " has one column (entity) or two (entity, entity_type)."
                    ]
                    return []
                kind = cells[1] if len(cells) == 2 and cells[1] else default_type
                entries.append(BulkLine(number, cells[0], kind))
        if len(entries) > BULK_MAX_LINES:
            errors["entities"] = [
                f"{len(entries)} entities listed; a bulk award takes at most"
                f" {BULK_MAX_LINES}. Split the list."
            ]
            return []
        return entries

    def bulk_award(self, goal: GoalView, entries: list[BulkLine], reason: str) -> BulkReport:
        report = BulkReport()
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            report.lines.append(entry)
            if (entry.entity_type, entry.entity) in seen:
                entry.outcome, entry.detail = "skipped", "Listed twice; awarded once."
                continue
            seen.add((entry.entity_type, entry.entity))
            try:
                award = self.gamify.award(
                    entry.entity,
                    goal.key,
                    reason=reason,
                    changed_by=self.changed_by(),
                    entity_type=entry.entity_type,
                )
            except AlreadyAwarded:
                entry.outcome, entry.detail = "had-it", "Already had it."
            except InvalidInputError as error:
                entry.outcome = "refused"
                entry.detail = " ".join(
                    f"{path}: {' '.join(messages)}" for path, messages in error.errors.items()
                )
            except GamifyError as error:
                entry.outcome, entry.detail = "refused", error.message
            else:
                entry.outcome = "awarded"
                entry.detail = f"Occurrence {award.occurrence}, {award.points} points."
        if report.count("awarded"):
            flash(f"Awarded “{goal.name}” to {report.count('awarded')} entities.", "success")
        return report

    @expose("/audit/")
    def audit(self) -> str:
        goals = self.visible_goals()
        goal_key = (request.args.get("goal") or "").strip()
        goal = self.goal_in_scope(goal_key) if goal_key else None
        entity = (request.args.get("entity") or "").strip()
        entity_type = self.entity_type_or_default(request.args.get("entity_type"))
        try:
            before = int(request.args.get("before", "")) if request.args.get("before") else None
        except ValueError:
            before = None
        if before is not None and before < 1:
            before = None
        changes = self.changes(
            goal=goal.key if goal is not None else None,
            entity=entity or None,
            entity_type=entity_type,
            limit=AUDIT_PAGE_SIZE + 1,
            before_id=before,
        )
        more = len(changes) > AUDIT_PAGE_SIZE
        changes = changes[:AUDIT_PAGE_SIZE]
        return self.render_page(
            "gamify_admin/awards_audit.html",
            goals=goals,
            goal=goal,
            entity=entity,
            entity_type=entity_type,
            changes=changes,
            next_before=changes[-1].id if more and changes else None,
            first_page=before is None,
        )
