"""Create the demo's tables, users, articles and goals; safe to run on every start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import inspect, select

from .extensions import db, gamify
from .models import Article, Like, User

#: ``(username, role)``: alice owns the articles and their unlock rules; admin is staff.
USERS = (("alice", "author"), ("bob", "member"), ("carol", "member"), ("admin", "staff"))

#: ``(slug, title, body, category)``; alice owns them all. Reading A, B and C unlocks the
#: premium page.
ARTICLES = (
    (
        "welcome",
        "Welcome to the demo",
        "Start here: read a few articles and leave comments.",
        "community",
    ),
    ("a", "Article A: Flask in five minutes", "Routes, views and templates, in short.", "flask"),
    ("b", "Article B: Application factories", "Why create_app() beats a global app.", "python"),
    ("c", "Article C: Extensions", "How Flask extensions keep per-app state.", "python"),
    ("d", "Article D: Testing", "The test client, fixtures and a real database.", "testing"),
)

#: Slugs of the articles that unlock the premium page.
PREMIUM_ARTICLES = ("a", "b", "c")


def init_database() -> None:
    """Create the tables, then the seed users, articles and goals (inside an app context)."""
    if _schema_is_outdated():
        # A demo.db from an older demo: start afresh rather than fail on a missing column.
        current_app.logger.warning("The demo database has an older schema: recreating it.")
        gamify.drop_all()
        db.drop_all()
    db.create_all()
    gamify.create_all()
    users = {user.username: user for user in db.session.scalars(select(User))}
    first_start = not users
    for username, role in USERS:
        if username not in users:
            users[username] = User(username=username, role=role)
            db.session.add(users[username])
    db.session.flush()
    articles = {article.slug: article for article in db.session.scalars(select(Article))}
    for slug, title, body, category in ARTICLES:
        if slug not in articles:
            articles[slug] = Article(
                slug=slug, title=title, body=body, category=category, author=users["alice"]
            )
            db.session.add(articles[slug])
    db.session.commit()
    # Only the goals that do not exist yet: alice may have changed hers in the dashboard
    # (which articles unlock premium, say), and a restart must not undo that.
    existing = {goal.key for goal in gamify.goals(include_archived=True)}
    goals = seed_goals(
        users["alice"].id,
        {slug: article.id for slug, article in articles.items()},
        {slug: article.title for slug, article in articles.items()},
    )
    missing = [goal for goal in goals if goal["key"] not in existing]
    if missing:
        gamify.define_goals(missing)
    if first_start and current_app.config.get("DEMO_SEED_HISTORY", not current_app.testing):
        seed_history(users, articles)


#: ``(username, event, article slug, days ago)``: what happened before the demo started,
#: so that a badge's preview finds someone who would earn it (carol reads Python).
HISTORY = (
    ("carol", "article.read", "welcome", 6),
    ("carol", "article.read", "b", 5),
    ("carol", "article.liked", "b", 5),
    ("carol", "article.read", "c", 2),
    ("bob", "article.read", "a", 3),
    ("bob", "article.liked", "a", 3),
)


def seed_history(users: dict[str, User], articles: dict[str, Article]) -> None:
    """Track :data:`HISTORY` with its past times (event time is what criteria judge)."""
    now = datetime.now(UTC)
    for username, event, slug, days_ago in HISTORY:
        article = articles[slug]
        if event == "article.liked":
            db.session.add(Like(article_id=article.id, user_id=users[username].id))
            db.session.commit()
        gamify.track(
            event,
            users[username].id,
            attributes={"article_id": article.id, "category": article.category},
            occurred_at=now - timedelta(days=days_ago),
        )


def _schema_is_outdated() -> bool:
    """Whether a demo table exists without one of the columns the models have now."""
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        if inspector.has_table(table.name):
            existing = {column["name"] for column in inspector.get_columns(table.name)}
            if not {column.name for column in table.columns} <= existing:
                return True
    return False


def seed_goals(
    owner: int, article_ids: dict[str, int], titles: dict[str, str]
) -> list[dict[str, Any]]:
    """The demo's built-in goals, one or more for each criterion type."""
    read = {"event": "article.read", "field": "article_id"}
    return [
        {
            "key": "first-comment",
            "icon": "chat",
            "name": "First words",
            "description": "Post your first comment.",
            "criteria": {"type": "count", "event": "comment.posted", "target": 1},
            "points": 5,
        },
        {
            "key": "chatterbox",
            "icon": "chat",
            "name": "Chatterbox",
            "description": "Post 5 comments within 24 hours.",
            "criteria": {"type": "count", "event": "comment.posted", "target": 5, "window": "24h"},
            "points": 20,
        },
        {
            "key": "explorer",
            "icon": "book",
            "name": "Explorer",
            "description": "Read 3 different articles.",
            "criteria": {"type": "distinct", **read, "target": 3},
            "points": 10,
        },
        {
            "key": "regular",
            "icon": "flame",
            "name": "Regular",
            "description": "Log in 3 days in a row.",
            "criteria": {"type": "streak", "event": "login", "target": 3, "period": "day"},
            "points": 15,
        },
        {
            "key": "premium-unlock",
            "icon": "crown",
            "name": "Premium access",
            "description": "Read articles A, B and C to unlock the premium page.",
            "criteria": {
                "type": "all_of",
                **read,
                "values": [article_ids[slug] for slug in PREMIUM_ARTICLES],
                # Progress items (the locked page, the dashboard, the REST API) name the
                # articles by title instead of by id.
                "labels": {str(article_ids[slug]): titles[slug] for slug in PREMIUM_ARTICLES},
            },
            "owner": str(owner),
            "points": 25,
        },
        {
            "key": "engaged",
            "icon": "medal",
            "name": "Engaged member",
            "description": "Be an Explorer, then comment 3 times or log in 2 days in a row.",
            "criteria": {
                "type": "all",
                # Labels name the parts as people say them: the progress page shows them.
                "of": [
                    {"type": "goal", "goal": "explorer", "label": "Be an Explorer"},
                    {
                        "type": "any",
                        "label": "Comment 3 times or log in 2 days in a row",
                        "of": [
                            {
                                "type": "count",
                                "event": "comment.posted",
                                "target": 3,
                                "label": "Comment 3 times",
                            },
                            {
                                "type": "streak",
                                "event": "login",
                                "target": 2,
                                "label": "Log in 2 days in a row",
                            },
                        ],
                    },
                ],
            },
            "points": 30,
        },
        {
            "key": "onboarding",
            "icon": "flag",
            "name": "Onboarding",
            "description": "Read the welcome article, then post a comment.",
            "criteria": {
                "type": "sequence",
                "steps": [
                    {
                        "event": "article.read",
                        "where": {"article_id": article_ids["welcome"]},
                        "label": f"Read {titles['welcome']}",
                    },
                    {"event": "comment.posted", "label": "Post a comment"},
                ],
            },
            "assigned_only": True,
            "owner": str(owner),
            "points": 10,
        },
    ]
