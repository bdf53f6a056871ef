"""The demo's pages: articles and comments (tracked), premium, to-do lists; badges are in
:mod:`demo_app.badges`."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from .extensions import db, gamify
from .models import Article, Comment, Like, User

bp = Blueprint("demo", __name__)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _user(username: str) -> User:
    return db.first_or_404(select(User).where(User.username == username))


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


def article_attributes(article_id: int) -> dict[str, Any]:
    """What read and comment events carry: the article and its category (badges filter
    on it). Called after the response, which was a 404 for an unknown article."""
    category = db.session.scalar(select(Article.category).where(Article.id == article_id))
    return {"article_id": article_id, "category": category}


@bp.get("/articles/<int:article_id>")
@gamify.tracks("article.read", attributes=article_attributes)
def article(article_id: int) -> str:
    return render_template("article.html", **_article_page(article_id))


def _article_page(article_id: int) -> dict[str, Any]:
    article = db.get_or_404(Article, article_id)
    likes = db.session.scalar(select(func.count()).where(Like.article_id == article.id))
    liked = current_user.is_authenticated and _like_of(article.id) is not None
    return {"article": article, "likes": likes, "liked": liked}


def _like_of(article_id: int) -> Like | None:
    return db.session.scalar(
        select(Like).where(Like.article_id == article_id, Like.user_id == current_user.id)
    )


@bp.post("/articles/<int:article_id>/like")
@login_required
def like(article_id: int) -> ResponseReturnValue:
    """Like an article once. The event is tracked explicitly, and only for a new like:
    liking twice must not count twice (``@tracks`` would track every < 400 answer)."""
    article = db.get_or_404(Article, article_id)
    if _like_of(article.id) is None:
        db.session.add(Like(article_id=article.id, user_id=current_user.id))
        db.session.commit()
        gamify.track("article.liked", current_user.id, attributes=article_attributes(article.id))
    else:
        flash("You already like this article.", "info")
    return redirect(url_for("demo.article", article_id=article.id))


@bp.post("/articles/<int:article_id>/comments")
@login_required
@gamify.tracks("comment.posted", attributes=article_attributes)
def comment(article_id: int) -> ResponseReturnValue:
    article = db.get_or_404(Article, article_id)
    body = request.form.get("body", "").strip()
    if not body:
        # A 400 response is not tracked: no comment, no event.
        flash("Write something first.", "error")
        return render_template("article.html", **_article_page(article.id)), 400
    db.session.add(Comment(article=article, user_id=current_user.id, body=body))
    db.session.commit()
    return redirect(url_for("demo.article", article_id=article_id))


# -- feature 1: custom badges live in badges.py, on this blueprint ---------------------


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
