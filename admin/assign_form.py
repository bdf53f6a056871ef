"""The "Assign" form of the Assignments page: reading it, and what each line came to.

A person picks a to-do goal (``assigned_only``), pastes assignee ids (one per line, or
separated by commas), may give a due date (a local date and time in
``GAMIFY_TIMEZONE``) and, when a superuser, who assigns. Every problem is reported at
the field it concerns; each assignee gets a line of the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from flask_gamify.records import GoalView

from .display import check_entity, format_time

__all__ = [
    "AssignRequest",
    "LineOutcome",
    "goal_problem",
    "parse_due",
    "read_form",
    "split_assignees",
]

#: Most assignees one submission takes (a bigger list: split it, or use the API).
MAX_ASSIGNEES = 500
_SEPARATORS = re.compile(r"[\n,;]")


@dataclass
class AssignRequest:
    """The form as submitted, and the problems found at each field."""

    goal: str = ""
    assignees_text: str = ""
    due_text: str = ""
    assigned_by: str = ""
    assignees: list[str] = field(default_factory=list)
    due_at: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """What happened to one pasted assignee."""

    #: The id's position in the pasted list (1 for the first).
    number: int
    assignee: str
    #: ``assigned``, ``already assigned``, ``already completed``, ``listed twice`` or
    #: ``refused``.
    outcome: str
    detail: str = ""

    @property
    def css(self) -> str:
        return {
            "assigned": "success",
            "already assigned": "info",
            "already completed": "secondary",
            "listed twice": "light",
        }.get(self.outcome, "danger")


def split_assignees(text: str) -> list[str]:
    """Every non-blank id, in order: one per line, or separated by commas or semicolons."""
    return [value for value in (part.strip() for part in _SEPARATORS.split(text)) if value]


def parse_due(text: str, zone: tzinfo, now: datetime) -> tuple[datetime | None, str | None]:
    """``(due date, None)`` or ``(None, message)`` for a local date and time in ``zone``.

    Accepts what ``<input type="datetime-local">`` sends (``2026-12-31T17:00``), with a
    space instead of the ``T``, with seconds, or a date alone (then 23:59 that day).
    """
    text = text.strip()
    if not text:
        return None, None
    example = "such as 2026-12-31 17:00"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            local = datetime.fromisoformat(text).replace(hour=23, minute=59)
        else:
            local = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None, f"Enter the due date as a date and time, {example} (got {text!r})."
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    try:
        moment = local.astimezone(now.tzinfo)
    except (OverflowError, ValueError):
        return None, f"The due date {text!r} is out of range; enter one {example}."
    if moment <= now:
        return None, (
            f"The due date {format_time(moment)} has already passed; pick a later one or"
            " leave it empty."
        )
    return moment, None


def goal_problem(goal: GoalView | None, key: str) -> str | None:
    """Why ``goal`` cannot be assigned from this form, or ``None``."""
    if not key:
        return "Choose the to-do goal to assign."
    if goal is None:
        return (
            f"No goal with key {key!r} that you may assign exists; choose one from the list"
            " (to-do goals are defined with “Assigned only” ticked)."
        )
    if not goal.assigned_only:
        return (
            f"The goal {key!r} is open to every entity, so it cannot be assigned; only goals"
            " defined with “Assigned only” can. Edit the goal or choose another one."
        )
    if goal.archived:
        return f"The goal {key!r} is archived; restore it on the Goals page to assign it again."
    if goal.status == "draft":
        return (
            f"The goal {key!r} is a draft: assignees could not progress on it. Make it"
            " active on the Goals page first, then assign it."
        )
    return None


def read_form(form: Mapping[str, str], zone: tzinfo, now: datetime) -> AssignRequest:
    """Read the submitted fields; the goal itself is checked by the view."""
    request = AssignRequest(
        goal=form.get("goal", "").strip(),
        assignees_text=form.get("assignees", ""),
        due_text=form.get("due_at", "").strip(),
        assigned_by=form.get("assigned_by", "").strip(),
    )
    lines = split_assignees(request.assignees_text)
    if not lines:
        request.errors["assignees"] = "Paste at least one assignee id (one per line)."
    elif len(lines) > MAX_ASSIGNEES:
        request.errors["assignees"] = (
            f"{len(lines)} ids were pasted; assign at most {MAX_ASSIGNEES} at a time"
            " (split the list, or call gamify.assign from a script)."
        )
    request.assignees = lines
    request.due_at, problem = parse_due(request.due_text, zone, now)
    if problem:
        request.errors["due_at"] = problem
    if request.assigned_by:
        problem = check_entity(request.assigned_by, "assigned_by")
        if problem:
            request.errors["assigned_by"] = problem.replace("entity id", "assigner's id")
    return request
