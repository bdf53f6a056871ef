"""Feature 3, to-do lists: one user assigns a list, with a due date, to another.

A to-do list is a goal defined with ``assigned_only=True``: "read these articles"
(``all_of``), or a built-in one such as Onboarding (a ``sequence``). The assignee sees
each item ticked when done; the assigner sees the same per assignee and gets a
notification the moment the list is complete.

Assigning a list again changes nothing: :meth:`Gamify.assign` returns the existing
assignment as it is, due date included. The page tells which happened by comparing the
assignment's ``assigned_at`` with the moment of the request, and says what the existing
assignment is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from flask_gamify import AssignmentView, GamifyError, GoalView, ProgressView

from .checklist import Checklist, checklist
from .extensions import db, gamify
from .keys import new_goal_key
from .models import Article, User
from .views import bp

#: How far ahead a due date may be: a list due in a decade is not a to-do list.
LATEST_DUE = timedelta(days=5 * 366)
#: The longest to-do list title (a goal name).
TITLE_LENGTH = 100


@dataclass
class AssignForm:
    """The assign form's values as typed, and an error per field (to show beside it)."""

    assignee: str = ""
    goal: str = ""
    title: str = ""
    articles: list[str] = field(default_factory=list)
    due: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, form: Any) -> AssignForm:
        return cls(
            assignee=form.get("assignee", "").strip(),
            goal=form.get("goal", "").strip(),
            title=form.get("title", "").strip(),
            articles=form.getlist("articles"),
            due=form.get("due", "").strip(),
        )


@dataclass(frozen=True, slots=True)
class Card:
    """One assignment as a page shows it."""

    assignment: AssignmentView
    goal: GoalView | None
    progress: ProgressView | None
    items: Checklist | None
    overdue: bool

    @property
    def name(self) -> str:
        return self.goal.name if self.goal else self.assignment.goal


@bp.route("/todos", methods=["GET", "POST"])
@login_required
def todos() -> ResponseReturnValue:
    form = AssignForm()
    if request.method == "POST":
        form = AssignForm.from_request(request.form)
        if _assign(form):
            return redirect(url_for("demo.todos"))
    me = current_user.id
    return render_template(
        "todos.html",
        to_me=[_card(a) for a in gamify.assignments(assignee=me)],
        by_me=[_card(a) for a in gamify.assignments(assigned_by=me)],
        lists=[goal for goal in gamify.goals() if goal.assigned_only],
        others=db.session.scalars(select(User).where(User.id != me).order_by(User.id)).all(),
        articles=db.session.scalars(select(Article).order_by(Article.id)).all(),
        form=form,
        today=_today().isoformat(),
        latest=(_today() + LATEST_DUE).isoformat(),
    ), 400 if form.errors else 200


def _card(assignment: AssignmentView) -> Card:
    try:
        goal = gamify.goal(assignment.goal)
        progress = gamify.progress(assignment.entity, assignment.goal)
    except GamifyError:  # the list was archived or removed since
        return Card(assignment, None, None, None, overdue=False)
    overdue = (
        not assignment.completed
        and assignment.due_at is not None
        and assignment.due_at < datetime.now(UTC)
    )
    return Card(assignment, goal, progress, checklist(goal, progress), overdue)


# -- assigning ---------------------------------------------------------------------------


def _assign(form: AssignForm) -> bool:
    """Assign what the form says; ``False`` with ``form.errors`` set when it cannot."""
    assignee = _check(form)
    due_at = _due_at(form)
    if form.errors or assignee is None:
        return False
    key = form.goal
    if not key:
        try:
            key = _define_todo(form.title, [int(value) for value in form.articles])
        except GamifyError as error:  # the core's limits, such as the name's length
            form.errors["title"] = str(error)
            return False
    asked_at = datetime.now(UTC)
    assignment = gamify.assign(
        key, assignee=assignee.id, assigned_by=current_user.id, due_at=due_at
    )
    name = gamify.goal(key).name
    if assignment.assigned_at >= asked_at:
        due = f", due {_day(assignment.due_at)}" if assignment.due_at else ""
        flash(f"To-do list {name!r} assigned to {assignee.username}{due}.", "success")
    else:
        flash(_already(assignee, name, assignment, due_at), "info")
    return True


def _already(assignee: User, name: str, assignment: AssignmentView, due_at: datetime | None) -> str:
    """Why assigning ``name`` again changed nothing, in words."""
    if assignment.completed_at is not None:
        return (
            f"{assignee.username} already completed {name!r} on"
            f" {_day(assignment.completed_at)}: a finished list is not assigned again;"
            " create a new list to give them more."
        )
    by = ""
    if assignment.assigned_by != current_user.get_id():
        by = f" by {_username(assignment.assigned_by)}"
    due = f", due {_day(assignment.due_at)}" if assignment.due_at else ", no due date"
    message = (
        f"{assignee.username} already has {name!r}"
        f" (assigned{by} on {_day(assignment.assigned_at)}{due}): nothing changed."
    )
    if due_at is not None and due_at != assignment.due_at:
        message += " An assigned list keeps its first due date."
    return message


def _check(form: AssignForm) -> User | None:
    """Check the assignee and the list; record errors on ``form``; return the assignee."""
    assignee = db.session.scalar(select(User).where(User.username == form.assignee))
    if assignee is None or assignee.id == current_user.id:
        form.errors["assignee"] = "Pick another user to assign the to-do list to."
        assignee = None
    if form.goal:
        lists = {goal.key for goal in gamify.goals() if goal.assigned_only}
        if form.goal not in lists:
            form.errors["goal"] = "Pick one of the listed to-do lists, or A new list."
        elif form.title or form.articles:
            form.errors["goal"] = (
                "You picked an existing list and also filled in a new one: choose"
                " A new list here, or clear the new list's title and articles."
            )
        return assignee
    if not any(character.isalnum() for character in form.title):
        form.errors["title"] = "Give the new list a title (letters or digits, in any language)."
    elif len(form.title.strip()) > TITLE_LENGTH:
        form.errors["title"] = f"Keep the title to {TITLE_LENGTH} characters or fewer."
    elif _own_list_named(form.title.strip()):
        form.errors["title"] = (
            f"You already have a list called {form.title!r}: pick it under To-do list, or give"
            " the new list another title."
        )
    known = {str(article_id) for article_id in db.session.scalars(select(Article.id))}
    if not form.articles:
        form.errors["articles"] = "Tick at least one article for the new list."
    elif not set(form.articles) <= known:
        form.errors["articles"] = "Tick articles from the list below."
    return assignee


def _due_at(form: AssignForm) -> datetime | None:
    """The due date as the end of that day (demo time zone); errors go on ``form``."""
    if not form.due:
        return None
    try:
        day = date.fromisoformat(form.due)
    except ValueError:
        form.errors["due"] = (
            f"{form.due[:40]!r} is not a date: enter it as YYYY-MM-DD, such as"
            f" {(_today() + timedelta(days=7)).isoformat()}."
        )
        return None
    if day < _today():
        form.errors["due"] = (
            f"{_day_of(day)} is in the past: pick today ({_day_of(_today())}) or a later day."
        )
        return None
    if day > _today() + LATEST_DUE:
        form.errors["due"] = "Pick a due date within the next five years."
        return None
    return datetime.combine(day, time(23, 59, 59), _zone()).astimezone(UTC)


def _define_todo(title: str, article_ids: list[int]) -> str:
    """Define a new to-do list, "read these articles", for assignees only; return its key."""
    key = new_goal_key("todo.", title, fallback="list")
    ids = sorted(set(article_ids))
    rows = db.session.execute(select(Article.id, Article.title).where(Article.id.in_(ids)))
    titles = {article_id: title for article_id, title in rows}
    gamify.define_goal(
        key,
        name=title,
        description="Read these articles: " + ", ".join(titles[i] for i in ids),
        criteria={
            "type": "all_of",
            "event": "article.read",
            "field": "article_id",
            "values": ids,
            # The assignee's checklist, the dashboard and the REST API show titles.
            "labels": {str(article_id): titles[article_id] for article_id in ids},
        },
        assigned_only=True,
        owner=current_user.get_id(),
        points=5,
    )
    return key


# -- small helpers -----------------------------------------------------------------------


def _own_list_named(title: str) -> bool:
    """Whether the current user made a to-do list of this title (archived ones too)."""
    mine = gamify.goals(include_archived=True, owner=current_user.get_id())
    return any(goal.assigned_only and _same(goal.name, title) for goal in mine)


def _same(title: str, other: str) -> bool:
    """Titles that differ only in case, spaces or punctuation ("Basics", "basics!")."""

    def letters(text: str) -> str:
        return "".join(character for character in text.casefold() if character.isalnum())

    return letters(title) == letters(other)


def _username(user_id: str | None) -> str:
    user = db.session.get(User, int(user_id)) if user_id and user_id.isdigit() else None
    return user.username if user else str(user_id)


def _zone() -> ZoneInfo:
    """Due dates are days in the demo's time zone (``GAMIFY_TIMEZONE``, UTC by default)."""
    return ZoneInfo(current_app.config.get("GAMIFY_TIMEZONE") or "UTC")


def _today() -> date:
    return datetime.now(_zone()).date()


def _day(moment: datetime | None) -> str:
    """``30 Nov 2026``, in the demo's time zone."""
    return _day_of(moment.astimezone(_zone()).date()) if moment else ""


def _day_of(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


@bp.app_template_filter("day")
def day_filter(moment: datetime | None) -> str:
    """``{{ assignment.due_at|day }}``: a date as people write it."""
    return _day(moment)
