"""Create the demo's tables, users, articles and goals; safe to run on every start."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import inspect, select

from .extensions import db, gamify
from .models import Article, User

#: ``(username, role)``: alice owns the articles and their unlock rules; admin is staff.
USERS = (("alice", "author"), ("bob", "member"), ("carol", "member"), ("admin", "staff"))

#: ``(slug, title, body)``; alice owns them all. Reading A, B and C unlocks the premium page.
ARTICLES = (
    ("welcome", "Welcome to the demo", "Start here: read a few articles and leave comments."),
    ("a", "Article A: Flask in five minutes", "Routes, views and templates, in short."),
    ("b", "Article B: Application factories", "Why create_app() beats a global app."),
    ("c", "Article C: Extensions", "How Flask extensions keep per-app state."),
    ("d", "Article D: Testing", "The test client, fixtures and a real database."),
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
    for username, role in USERS:
        if username not in users:
            users[username] = User(username=username, role=role)
            db.session.add(users[username])
    db.session.flush()
    articles = {article.slug: article for article in db.session.scalars(select(Article))}
    for slug, title, body in ARTICLES:
        if slug not in articles:
            articles[slug] = Article(slug=slug, title=title, body=body, author=users["alice"])
            db.session.add(articles[slug])
    db.session.commit()
    # define_goals() upserts by key: running it on every start keeps the goals current.
    gamify.define_goals(seed_goals(users["alice"].id, {s: a.id for s, a in articles.items()}))


def _schema_is_outdated() -> bool:
    """Whether a demo table exists without one of the columns the models have now."""
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        if inspector.has_table(table.name):
            existing = {column["name"] for column in inspector.get_columns(table.name)}
            if not {column.name for column in table.columns} <= existing:
                return True
    return False


def seed_goals(owner: int, article_ids: dict[str, int]) -> list[dict[str, Any]]:
    """The demo's built-in goals, one or more for each criterion type."""
    read = {"event": "article.read", "field": "article_id"}
    return [
        {
            "key": "first-comment",
            "name": "First words",
            "description": "Post your first comment.",
            "criteria": {"type": "count", "event": "comment.posted", "target": 1},
            "points": 5,
        },
        {
            "key": "chatterbox",
            "name": "Chatterbox",
            "description": "Post 5 comments within 24 hours.",
            "criteria": {"type": "count", "event": "comment.posted", "target": 5, "window": "24h"},
            "points": 20,
        },
        {
            "key": "explorer",
            "name": "Explorer",
            "description": "Read 3 different articles.",
            "criteria": {"type": "distinct", **read, "target": 3},
            "points": 10,
        },
        {
            "key": "regular",
            "name": "Regular",
            "description": "Log in 3 days in a row.",
            "criteria": {"type": "streak", "event": "login", "target": 3, "period": "day"},
            "points": 15,
        },
        {
            "key": "premium-unlock",
            "name": "Premium access",
            "description": "Read articles A, B and C to unlock the premium page.",
            "criteria": {
                "type": "all_of",
                **read,
                "values": [article_ids[slug] for slug in PREMIUM_ARTICLES],
            },
            "owner": str(owner),
            "points": 25,
        },
        {
            "key": "engaged",
            "name": "Engaged member",
            "description": "Be an Explorer, then comment 3 times or log in 2 days in a row.",
            "criteria": {
                "type": "all",
                "of": [
                    {"type": "goal", "goal": "explorer"},
                    {
                        "type": "any",
                        "of": [
                            {"type": "count", "event": "comment.posted", "target": 3},
                            {"type": "streak", "event": "login", "target": 2},
                        ],
                    },
                ],
            },
            "points": 30,
        },
        {
            "key": "onboarding",
            "name": "Onboarding",
            "description": "Read the welcome article, then post a comment.",
            "criteria": {
                "type": "sequence",
                "steps": [
                    {"event": "article.read", "where": {"article_id": article_ids["welcome"]}},
                    {"event": "comment.posted"},
                ],
            },
            "assigned_only": True,
            "owner": str(owner),
            "points": 10,
        },
    ]
