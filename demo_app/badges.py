"""Feature 1: badges users define, with a preview of who would qualify before saving.

A signed-in user fills a form (an action, how to count it, a category, a time limit);
the demo turns it into criteria, previews them over the event log
(:meth:`~flask_gamify.Gamify.preview`, which writes nothing), and saves them with
:meth:`~flask_gamify.Gamify.define_goal`. A new or changed badge counts the history:
those who already qualify get it at once. Users edit and archive their own badges only.

The routes hang on the demo's blueprint (:data:`demo_app.views.bp`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from flask_gamify import GamifyError, GoalNotFound, GoalView

from .extensions import db, gamify
from .keys import new_goal_key
from .models import CATEGORIES, Article, User
from .views import bp

#: Badges made with the form have keys ``custom.<owner id>.<name in ASCII>[-n]``.
KEY_PREFIX = "custom."
#: The longest badge name; the core allows more, but a badge name is a title.
NAME_LENGTH = 100
#: The largest target: beyond it a badge is out of reach in a demo.
MAX_TARGET = 1000


@dataclass(frozen=True)
class Action:
    """An event a badge counts, with the words the form and descriptions use."""

    #: "Read", "Log in": the verb, capitalised, as a description starts.
    verb: str
    #: What "N times" counts, after the verb ("articles"); empty for logins.
    things: str
    #: One of them, after the verb ("an article"); empty for logins.
    one: str
    #: Whether the events carry ``article_id`` and ``category``.
    about_articles: bool
    #: The badge's built-in icon (:data:`flask_gamify.badges.BUILTIN_ICONS`).
    icon: str


#: The events a badge may count (the demo tracks them in :mod:`demo_app.views`).
ACTIONS = {
    "article.read": Action("Read", "articles", "an article", True, "book"),
    "comment.posted": Action("Comment on", "articles", "an article", True, "chat"),
    "article.liked": Action("Like", "articles", "an article", True, "heart"),
    "login": Action("Log in", "", "", False, "flame"),
}

#: How a badge counts: key -> what the form says.
KINDS = {
    "times": "times",
    "different": "different articles",
    "streak": "days in a row",
}

#: Time limits ("times" badges only): ``window`` value -> words.
WINDOWS = {
    "": "any time",
    "1h": "within an hour",
    "24h": "within a day",
    "7d": "within a week",
    "30d": "within 30 days",
}


@dataclass
class BadgeForm:
    """The badge form's values, as typed, and what is wrong with them, by field."""

    name: str = ""
    event: str = "article.read"
    kind: str = "times"
    target: str = "3"
    category: str = ""
    window: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, form: Mapping[str, str]) -> BadgeForm:
        return cls(
            name=form.get("name", ""),
            event=form.get("event", ""),
            kind=form.get("kind", ""),
            target=form.get("target", "").strip(),
            category=form.get("category", ""),
            window=form.get("window", ""),
        )

    @classmethod
    def from_goal(cls, goal: GoalView) -> BadgeForm:
        """The form that made ``goal`` (a badge made with this form)."""
        criteria = goal.criteria
        kind = {"count": "times", "distinct": "different", "streak": "streak"}[criteria["type"]]
        return cls(
            name=goal.name,
            event=criteria["event"],
            kind=kind,
            target=str(criteria["target"]),
            category=str(criteria.get("where", {}).get("category", "")),
            window=criteria.get("window", ""),
        )

    def criteria(self) -> dict[str, Any] | None:
        """The criteria the form asks for; ``None`` with :attr:`errors` filled in."""
        self.errors = {}
        name = self.name.strip()
        if not name:
            self.errors["name"] = "Give the badge a name, such as 'Python fan'."
        elif len(name) > NAME_LENGTH:
            self.errors["name"] = (
                f"The name has {len(name)} characters; shorten it to {NAME_LENGTH} at most."
            )
        elif any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
            self.errors["name"] = "The name may not contain control characters; retype it."
        action = ACTIONS.get(self.event)
        if action is None:
            self.errors["event"] = "Pick one of the listed actions."
        if self.kind not in KINDS:
            self.errors["kind"] = "Pick how to count: times, different articles or days in a row."
        if self.category and self.category not in CATEGORIES:
            self.errors["category"] = "Pick one of the listed categories, or any category."
        elif self.category and action is not None and not action.about_articles:
            self.errors["category"] = (
                "Logging in has no category; pick 'any category' or an action on articles."
            )
        if self.window not in WINDOWS:
            self.errors["window"] = "Pick one of the listed time limits."
        elif self.window and self.kind in ("different", "streak"):
            self.errors["window"] = (
                f"A time limit works with 'times' only; pick 'any time' for {KINDS[self.kind]}."
            )
        if self.kind == "different" and action is not None and not action.about_articles:
            self.errors["kind"] = (
                "Logins are not about articles; pick 'times' or 'days in a row' for them."
            )
        target = self._target()
        if self.errors or target is None or action is None:
            return None
        criteria: dict[str, Any] = {"type": "count", "event": self.event, "target": target}
        if self.kind == "different":
            criteria = {**criteria, "type": "distinct", "field": "article_id"}
        elif self.kind == "streak":
            criteria = {**criteria, "type": "streak", "period": "day"}
        if self.category:
            criteria["where"] = {"category": self.category}
        if self.window:
            criteria["window"] = self.window
        return criteria

    def _target(self) -> int | None:
        most = MAX_TARGET
        if self.kind == "different":
            # More different articles than there are can never be reached.
            most = min(most, _article_count(self.category))
        if not re.fullmatch(r"[+-]?[0-9]+", self.target):
            self.errors["target"] = f"Type a whole number from 1 to {most}."
            return None
        if len(self.target.lstrip("+-").lstrip("0")) > 9:
            # Not worth converting (int() refuses thousands of digits): far out of range.
            self.errors["target"] = f"Type a number from 1 to {most}; that one is far too large."
            return None
        target = int(self.target)
        if not 1 <= target <= most:
            if self.kind == "different":
                where = f" in {CATEGORIES[self.category]}" if self.category else ""
                self.errors["target"] = (
                    f"There are {most} articles{where}; type a number from 1 to {most}."
                )
            else:
                self.errors["target"] = f"Type a number from 1 to {most} (you typed {target})."
            return None
        return target


def describe(criteria: Mapping[str, Any]) -> str:
    """Criteria made by the form, in words: "Read 3 different articles in Python."."""
    action = ACTIONS[criteria["event"]]
    target = int(criteria["target"])
    category = criteria.get("where", {}).get("category")
    in_category = f" in {CATEGORIES.get(category, category)}" if category else ""
    if criteria["type"] == "distinct":
        things = "different articles" if target > 1 else "article"
        text = f"{action.verb} {target} {things}{in_category}"
    elif criteria["type"] == "streak":
        one = f" {action.one}" if action.one else ""
        days = "days in a row" if target > 1 else "day"
        text = f"{action.verb}{one}{in_category} {target} {days}"
    else:
        things = f" {action.things}" if action.things else ""
        times = "once" if target == 1 else f"{target} times"
        text = f"{action.verb}{things}{in_category} {times}"
        if criteria.get("window"):
            text += f" {WINDOWS.get(criteria['window'], 'within ' + criteria['window'])}"
    return text + "."


def _article_count(category: str) -> int:
    query = select(func.count()).select_from(Article)
    if category:
        query = query.where(Article.category == category)
    return int(db.session.scalar(query) or 0)


def _usernames() -> dict[str, str]:
    return {str(user.id): user.username for user in db.session.scalars(select(User))}


def _is_badge(goal: GoalView) -> bool:
    """Badges are the goals anyone may earn: not to-do lists (assigned), not drafts."""
    return not goal.assigned_only and not goal.hidden and goal.status == "active"


def _made_with_form(goal: GoalView) -> bool:
    return goal.key.startswith(KEY_PREFIX) and goal.criteria.get("event") in ACTIONS


def _is_mine(goal: GoalView) -> bool:
    return current_user.is_authenticated and goal.owner == current_user.get_id()


def _new_key(name: str) -> str:
    """A key for a new badge of the current user (see :func:`~demo_app.keys.new_goal_key`)."""
    return new_goal_key(KEY_PREFIX, name, fallback="badge")


# -- the pages -----------------------------------------------------------------------------


@bp.get("/badges")
def badges() -> str:
    return _badges_page(BadgeForm() if current_user.is_authenticated else None)


@bp.post("/badges")
@login_required
def create_badge() -> ResponseReturnValue:
    form = BadgeForm.from_request(request.form)
    criteria = form.criteria()
    if criteria is not None and "save" in request.form:
        duplicate = _own_badge_named(form.name.strip())
        if duplicate is not None:
            form.errors["name"] = (
                f"You have a badge named {duplicate.name!r} already; pick another name or"
                " edit that one."
            )
        else:
            return _save(_new_key(form.name.strip()), form, criteria, new=True)
    return _form_page(form, criteria, None)


@bp.route("/badges/<key>/edit", methods=["GET", "POST"])
@login_required
def edit_badge(key: str) -> ResponseReturnValue:
    goal = _own_badge(key)
    if request.method == "GET":
        form = BadgeForm.from_goal(goal)
        return render_template("badge_form.html", form=form, goal=goal, **_choices())
    form = BadgeForm.from_request(request.form)
    criteria = form.criteria()
    if criteria is not None and "save" in request.form:
        duplicate = _own_badge_named(form.name.strip())
        if duplicate is not None and duplicate.key != key:
            form.errors["name"] = f"You have another badge named {duplicate.name!r}."
        else:
            return _save(key, form, criteria, new=False)
    return _form_page(form, criteria, goal)


@bp.post("/badges/<key>/archive")
@login_required
def archive_badge(key: str) -> ResponseReturnValue:
    goal = _own_badge(key)
    gamify.archive_goal(key, changed_by=current_user.get_id())
    flash(
        f"Badge {goal.name!r} archived: nobody can earn it any more; those who earned it keep it.",
        "success",
    )
    return redirect(url_for("demo.badges"))


def _form_page(
    form: BadgeForm, criteria: dict[str, Any] | None, goal: GoalView | None
) -> ResponseReturnValue:
    """The form again, as typed: with its errors (400), and a preview of who would earn
    the badge when the criteria are valid."""
    context: dict[str, Any] = {}
    if criteria is not None:
        preview = gamify.preview(criteria, sample=50)
        names = _usernames()
        context = {
            "preview": preview,
            "preview_text": describe(criteria),
            "preview_earning": [
                names.get(item.entity, item.entity)
                for item in preview.sample
                if item.progress.completed
            ],
            "preview_on_the_way": [
                (names.get(item.entity, item.entity), item.progress.percent)
                for item in preview.sample
                if not item.progress.completed
            ],
        }
    status = 400 if form.errors else 200
    if goal is None:
        return _badges_page(form, **context), status
    return render_template("badge_form.html", form=form, goal=goal, **context, **_choices()), status


def _save(key: str, form: BadgeForm, criteria: dict[str, Any], *, new: bool) -> Response:
    name = form.name.strip()
    try:
        # A new badge, or changed criteria, count the history (a backfill: at once
        # here, inline; by the workers with Redis): who qualifies already gets it now,
        # with a notification (the toast).
        gamify.define_goal(
            key,
            name=name,
            description=describe(criteria),
            criteria=criteria,
            owner=current_user.get_id(),
            points=10,
            icon=ACTIONS[criteria["event"]].icon,
            changed_by=current_user.get_id(),
        )
    except GamifyError as error:  # validated above; the core's checks are the last word
        flash(f"The badge could not be saved: {error}", "error")
        return redirect(url_for("demo.badges"))
    verb = "saved" if new else "updated"
    counting = gamify.backfills(key)
    if counting and not counting[0].finished:  # with workers: the backfill is queued
        flash(f"Badge {name!r} {verb}: those who already qualify get it shortly.", "success")
    else:
        earned = _earned_counts([key])[key]
        people = "1 user" if earned == 1 else f"{earned} users"
        flash(f"Badge {name!r} {verb}: {people} already earned it.", "success")
    return redirect(url_for("demo.badges"))


def _own_badge(key: str) -> GoalView:
    """The current user's badge ``key``, made with the form; 404 or 403 otherwise."""
    try:
        goal = gamify.goal(key)
    except GoalNotFound:
        abort(404)
    if goal.archived or not _is_badge(goal):
        abort(404)
    if not _is_mine(goal):
        raise BadgeForbidden(goal, _usernames().get(goal.owner or "", "the demo"))
    if not _made_with_form(goal):
        raise BadgeForbidden(goal, None)
    return goal


def _own_badge_named(name: str) -> GoalView | None:
    for goal in gamify.goals(owner=current_user.get_id()):
        if _made_with_form(goal) and goal.name.casefold() == name.casefold():
            return goal
    return None


class BadgeForbidden(Forbidden):
    """A change to a badge the user may not change: another user's, or a built-in one."""

    def __init__(self, goal: GoalView, owner: str | None) -> None:
        super().__init__()
        self.goal = goal
        self.owner = owner


@bp.app_errorhandler(BadgeForbidden)
def _forbidden(error: BadgeForbidden) -> tuple[str, int]:
    return render_template("badge_forbidden.html", goal=error.goal, owner=error.owner), 403


def _earned_counts(keys: list[str]) -> dict[str, int]:
    """How many users earned each goal (the demo has a handful of users)."""
    counts = dict.fromkeys(keys, 0)
    for user_id in db.session.scalars(select(User.id)):
        for award_key in {award.goal for award in gamify.awards(user_id)}:
            if award_key in counts:
                counts[award_key] += 1
    return counts


def _choices() -> dict[str, Any]:
    return {
        "actions": ACTIONS,
        "kinds": KINDS,
        "windows": WINDOWS,
        "categories": CATEGORIES,
        "name_length": NAME_LENGTH,
        "max_target": MAX_TARGET,
    }


def _badges_page(form: BadgeForm | None, **context: Any) -> str:
    """Every badge: the current user's first, then built-in and others' by name."""
    goals = [goal for goal in gamify.goals() if _is_badge(goal)]
    goals.sort(key=lambda goal: (not _is_mine(goal), goal.owner is not None, goal.name.lower()))
    mine: dict[str, Any] = {}
    if current_user.is_authenticated:
        mine = {item.goal: item for item in gamify.progress(current_user.id)}
    return render_template(
        "badges.html",
        goals=goals,
        earned=_earned_counts([goal.key for goal in goals]),
        progress=mine,
        editable={goal.key for goal in goals if _is_mine(goal) and _made_with_form(goal)},
        form=form,
        **context,
        **_choices(),
    )
