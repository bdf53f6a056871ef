"""The demo's pages: articles and comments (tracked), badges, premium, to-do lists."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
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
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from flask_gamify import AwardView, GamifyError, NotificationView

from .extensions import db, gamify, login_manager
from .models import Article, Comment, User

bp = Blueprint("demo", __name__)

#: Events a custom badge may count, with how the badge form shows them.
BADGE_EVENTS = {
    "comment.posted": "post a comment",
    "article.read": "read an article",
    "login": "log in",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _user(username: str) -> User:
    return db.first_or_404(select(User).where(User.username == username))


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


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    unread = 0
    if current_user.is_authenticated:
        unread = len(gamify.notifications(current_user.id, unread_only=True))
    usernames = {str(user.id): user.username for user in db.session.scalars(select(User))}
    return {"usernames": usernames, "unread_count": unread}


# -- logging in: pick a user, no password (it is a demo) -----------------------------


@bp.get("/")
def index() -> str:
    articles = db.session.scalars(select(Article).order_by(Article.id)).all()
    return render_template("index.html", articles=articles)


@bp.get("/login")
def login() -> str:
    return render_template("login.html", users=_all_users())


@bp.post("/login")
@gamify.tracks("login")  # tracked after the response: current_user is the new user then
def log_in() -> ResponseReturnValue:
    user = db.session.scalar(select(User).where(User.username == request.form.get("username")))
    if user is None:
        flash("Pick one of the listed users.", "error")
        return render_template("login.html", users=_all_users()), 400
    login_user(user)
    flash(f"Logged in as {user.username}.", "info")
    target = request.args.get("next", "")
    # Only local paths: "//host" would leave the site.
    local = target.startswith("/") and not target.startswith("//")
    return redirect(target if local else url_for("demo.index"))


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("demo.index"))


def _all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.id)))


# -- articles and comments: the events --------------------------------------------------


@bp.get("/articles/<int:article_id>")
@gamify.tracks("article.read", attributes=lambda article_id: {"article_id": article_id})
def article(article_id: int) -> str:
    return render_template("article.html", article=db.get_or_404(Article, article_id))


@bp.post("/articles/<int:article_id>/comments")
@login_required
@gamify.tracks("comment.posted", attributes=lambda article_id: {"article_id": article_id})
def comment(article_id: int) -> ResponseReturnValue:
    article = db.get_or_404(Article, article_id)
    body = request.form.get("body", "").strip()
    if not body:
        # A 400 response is not tracked: no comment, no event.
        flash("Write something first.", "error")
        return render_template("article.html", article=article), 400
    db.session.add(Comment(article=article, user_id=current_user.id, body=body))
    db.session.commit()
    return redirect(url_for("demo.article", article_id=article_id))


# -- feature 1: custom badges ------------------------------------------------------------


@bp.route("/badges", methods=["GET", "POST"])
def badges() -> ResponseReturnValue:
    status = 200
    if request.method == "POST":
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        status = _define_badge(request.form)
        if status == 200:
            return redirect(url_for("demo.badges"))
    goals = [goal for goal in gamify.goals() if not goal.assigned_only]
    return render_template("badges.html", goals=goals, events=BADGE_EVENTS), status


def _define_badge(form: Any) -> int:
    """Define the badge of the form; return 200, or 400 with an error flashed."""
    name = form.get("name", "").strip()
    event = form.get("event", "")
    slug = _slug(name)
    if not slug or event not in BADGE_EVENTS:
        flash("Give the badge a name (letters or digits) and pick an event.", "error")
        return 400
    try:
        target = int(form.get("target", ""))
    except ValueError:
        flash("The target must be a whole number, such as 3.", "error")
        return 400
    try:
        gamify.define_goal(
            f"custom.{current_user.id}.{slug}",
            name=name,
            description=f"{BADGE_EVENTS[event].capitalize()}, {target} times.",
            criteria={"type": "count", "event": event, "target": target},
            owner=current_user.get_id(),
            points=10,
        )
    except GamifyError as error:  # CriteriaError names the field: target must be > 0
        flash(str(error), "error")
        return 400
    flash(f"Badge {name!r} defined: others earn it as they {BADGE_EVENTS[event]}.", "success")
    return 200


# -- feature 2: unlock rules -------------------------------------------------------------


@bp.get("/premium")
@login_required
@gamify.requires("premium-unlock", on_denied=lambda: redirect(url_for("demo.premium_locked")))
def premium() -> str:
    return render_template("premium.html")


@bp.get("/premium/locked")
@login_required
def premium_locked() -> str:
    goal = gamify.goal("premium-unlock")
    articles = db.session.scalars(
        select(Article).where(Article.id.in_(goal.criteria["values"])).order_by(Article.id)
    ).all()
    progress = gamify.progress(current_user.id, "premium-unlock")
    return render_template("premium_locked.html", goal=goal, progress=progress, articles=articles)


# -- progress, per user ------------------------------------------------------------------


@bp.get("/progress")
@login_required
def my_progress() -> Response:
    return redirect(url_for("demo.progress", username=current_user.username))


@bp.get("/users/<username>")
def progress(username: str) -> str:
    user = _user(username)
    return render_template(
        "progress.html",
        user=user,
        progress=gamify.progress(user.id),
        awards=gamify.awards(user.id),
        points=gamify.points(user.id),
        goal_descriptions={goal.key: goal.description for goal in gamify.goals()},
    )


# -- feature 3: to-do lists --------------------------------------------------------------


@bp.route("/todos", methods=["GET", "POST"])
@login_required
def todos() -> ResponseReturnValue:
    status = 200
    if request.method == "POST":
        status = _assign(request.form)
        if status == 200:
            return redirect(url_for("demo.todos"))
    me = current_user.id
    to_me = [(a, gamify.progress(me, a.goal)) for a in gamify.assignments(assignee=me)]
    by_me = [(a, gamify.progress(a.entity, a.goal)) for a in gamify.assignments(assigned_by=me)]
    return render_template(
        "todos.html",
        to_me=to_me,
        by_me=by_me,
        lists=[goal for goal in gamify.goals() if goal.assigned_only],
        others=[user for user in _all_users() if user.id != me],
        articles=db.session.scalars(select(Article).order_by(Article.id)).all(),
    ), status


def _assign(form: Any) -> int:
    """Assign the form's to-do list (an existing one, or a new one); return 200 or 400."""
    assignee = db.session.scalar(select(User).where(User.username == form.get("assignee")))
    if assignee is None or assignee.id == current_user.id:
        flash("Pick another user to assign the to-do list to.", "error")
        return 400
    key = form.get("goal", "")
    try:
        if not key:
            key = _define_todo(form.get("title", ""), form.getlist("articles", type=int))
        gamify.assign(key, assignee=assignee.id, assigned_by=current_user.id)
    except (GamifyError, ValueError) as error:
        flash(str(error), "error")
        return 400
    flash(f"To-do list assigned to {assignee.username}.", "success")
    return 200


def _define_todo(title: str, article_ids: list[int]) -> str:
    """Define a new to-do list, "read these articles", for assignees only; return its key."""
    slug = _slug(title)
    if not slug or not article_ids:
        raise ValueError("Give the new to-do list a title and tick at least one article.")
    key = f"todo.{current_user.id}.{slug}"
    gamify.define_goal(
        key,
        name=title.strip(),
        description="Read these articles: "
        + ", ".join(db.get_or_404(Article, article_id).title for article_id in article_ids),
        criteria={
            "type": "all_of",
            "event": "article.read",
            "field": "article_id",
            "values": sorted(set(article_ids)),
        },
        assigned_only=True,
        owner=current_user.get_id(),
        points=5,
    )
    return key


# -- notifications -----------------------------------------------------------------------


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
            {"id": note.id, "kind": note.kind, "text": toast_text(note)} for note in notes
        ],
        unread=unread,
    )


@bp.post("/notifications/read")
@login_required
def mark_read() -> Response:
    ids = request.form.getlist("id", type=int)
    gamify.mark_notifications_read(current_user.id, ids or None)
    return redirect(url_for("demo.notifications"))


def describe(note: NotificationView) -> str:
    """A notification in words, for the notifications page."""
    if note.kind == "assignment-completed":
        name = _username(note.data["assignee"])
        return f"{name} completed the to-do list {_goal_name(note.data['goal'])!r} you assigned."
    if note.kind == "goal-completed":
        name, points = _goal_name(note.data["goal"]), note.data["points"]
        if _is_todo(note.data["goal"]):
            return f"You completed the to-do list {name!r} (+{points} points)."
        return f"You earned {name!r} (+{points} points)."
    return f"{note.kind}: {note.data}"


def toast_text(note: NotificationView) -> str:
    """A notification in a few words, for a toast."""
    if note.kind == "assignment-completed":
        name = _username(note.data["assignee"])
        return f"Your to-do list {_goal_name(note.data['goal'])!r} was completed by {name}"
    if note.kind == "goal-completed":
        name, points = _goal_name(note.data["goal"]), note.data["points"]
        # A to-do list is a job done, not a badge.
        if _is_todo(note.data["goal"]):
            return f"To-do list done: {name} (+{points} points)"
        return f"Badge earned: {name} (+{points} points)"
    return describe(note)


def _username(user_id: str) -> str:
    user = db.session.get(User, int(user_id))
    return user.username if user else user_id


def _goal_name(key: str) -> str:
    try:
        return gamify.goal(key).name
    except GamifyError:
        return key


def _is_todo(key: str) -> bool:
    try:
        return gamify.goal(key).assigned_only
    except GamifyError:
        return False
