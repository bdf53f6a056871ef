"""Notifications: the page, the JSON that ``demo.js`` polls for toasts, and their words.

A completed goal is worded by what the goal is: a to-do list is a job done, an unlock
rule opens a page, anything else is a badge earned.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Flask,
    flash,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from flask_gamify import AwardView, GamifyError, GoalView, NotificationView

from .extensions import db, gamify
from .models import User
from .unlock import unlock_of
from .views import bp

# -- signals: gamify tells the app what happened -------------------------------------


def congratulate(sender: Flask, award: AwardView, **extra: Any) -> None:
    """Receives ``goal_completed``. The user sees a toast (``demo.js`` polls
    :func:`new_notifications`), which works with workers too: here we only log."""
    sender.logger.info("User %s earned %r.", award.entity, award.name)


def report_done(
    sender: Flask, goal: str, entity: str, assigned_by: str | None, **extra: Any
) -> None:
    """Receives ``assignment_completed``; gamify has notified the assigner already."""
    sender.logger.info("User %s completed the to-do list %r of user %s.", entity, goal, assigned_by)
    assigner = db.session.get(User, int(assigned_by)) if assigned_by else None
    if has_request_context() and assigner is not None:
        flash(f"To-do list complete! {assigner.username} has been notified.", "success")


# -- pages -------------------------------------------------------------------------------


@bp.get("/notifications")
@login_required
def notifications() -> str:
    items = [(note, describe(note)) for note in gamify.notifications(current_user.id)]
    return render_template("notifications.html", items=items)


@bp.get("/notifications/new")
def new_notifications() -> ResponseReturnValue:
    """The unread notifications newer than ``?after=<id>``, as JSON, marked read.

    ``demo.js`` polls this every few seconds and shows each as a toast. It only reads
    what gamify recorded, so it works the same whether events are processed inline or by
    workers.
    """
    if not current_user.is_authenticated:
        return jsonify(error="Log in to receive notifications."), 401
    after = request.args.get("after", 0, type=int)
    # Newest first from gamify: show them oldest first.
    notes = [
        note
        for note in reversed(gamify.notifications(current_user.id, unread_only=True))
        if note.id > after
    ]
    if notes:
        gamify.mark_notifications_read(current_user.id, [note.id for note in notes])
    unread = len(gamify.notifications(current_user.id, unread_only=True))
    return jsonify(
        notifications=[
            {"id": note.id, "kind": note.kind, "text": toast_text(note), "url": _link(note)}
            for note in notes
        ],
        unread=unread,
    )


@bp.post("/notifications/read")
@login_required
def mark_read() -> Response:
    ids = request.form.getlist("id", type=int)
    gamify.mark_notifications_read(current_user.id, ids or None)
    return redirect(url_for("demo.notifications"))


# -- words -------------------------------------------------------------------------------


def describe(note: NotificationView) -> str:
    """A notification in words, for the notifications page."""
    words = _wording(note)
    return words[0] if words else f"{note.kind}: {note.data}"


def toast_text(note: NotificationView) -> str:
    """A notification in a few words, for a toast."""
    words = _wording(note)
    return words[1] if words else describe(note)


def _wording(note: NotificationView) -> tuple[str, str] | None:
    """``(sentence, toast)`` for the kinds the demo knows, worded by what the goal is:
    an unlock rule opens a page and a to-do list is a job done; neither is a badge."""
    if note.kind == "assignment-completed":
        name, goal = _username(note.data["assignee"]), _goal_name(note.data["goal"])
        return (
            f"{name} completed the to-do list {goal!r} you assigned.",
            f"Your to-do list {goal!r} was completed by {name}",
        )
    if note.kind != "goal-completed":
        return None
    key, gained = note.data["goal"], f"(+{note.data['points']} points)"
    name, unlock = _goal_name(key), unlock_of(key)
    if unlock is not None:
        return (
            f"You unlocked {unlock.page} by completing {name!r} {gained}.",
            f"Unlocked {unlock.page}: {name} {gained}",
        )
    if _is_todo(key):
        return (
            f"You completed the to-do list {name!r} {gained}.",
            f"To-do list done: {name} {gained}",
        )
    return f"You earned the badge {name!r} {gained}.", f"Badge earned: {name} {gained}"


def _link(note: NotificationView) -> str | None:
    """Where a toast leads: the page unlocked, or the to-do lists."""
    key = note.data.get("goal", "")
    unlock = unlock_of(key)
    if note.kind == "goal-completed" and unlock is not None:
        return url_for(unlock.endpoint)
    if note.kind == "assignment-completed" or _is_todo(key):
        return url_for("demo.todos")
    return None


def _username(user_id: str) -> str:
    user = db.session.get(User, int(user_id)) if str(user_id).isdigit() else None
    return user.username if user else user_id


def _goal(key: str) -> GoalView | None:
    try:
        return gamify.goal(key)
    except GamifyError:
        return None


def _goal_name(key: str) -> str:
    goal = _goal(key)
    return goal.name if goal else key


def _is_todo(key: str) -> bool:
    goal = _goal(key)
    return goal is not None and goal.assigned_only
