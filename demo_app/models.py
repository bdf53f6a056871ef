"""The demo's own models: users, articles and comments."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

#: Article categories: key (stored, and sent with events) and name (shown).
CATEGORIES = {
    "community": "Community",
    "flask": "Flask",
    "python": "Python",
    "testing": "Testing",
}


def _now() -> datetime:
    return datetime.now(UTC)


class User(UserMixin, db.Model):  # type: ignore[name-defined, misc]
    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    #: ``"member"``, ``"author"`` (owns content: edits their own goals in the dashboard)
    #: or ``"staff"`` (sees and edits everything in the dashboard).
    role: Mapped[str] = mapped_column(String(20), default="member")

    @property
    def may_open_dashboard(self) -> bool:
        return self.role in ("author", "staff")

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"


class Article(db.Model):  # type: ignore[name-defined, misc]
    __tablename__ = "demo_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: A key of :data:`CATEGORIES`; read and comment events carry it, so badges can
    #: count the articles of one category.
    category: Mapped[str] = mapped_column(String(40), default="community")
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("demo_users.id"))
    author: Mapped[User] = relationship()
    comments: Mapped[list[Comment]] = relationship(
        back_populates="article", order_by="Comment.id", cascade="all, delete-orphan"
    )


class Comment(db.Model):  # type: ignore[name-defined, misc]
    __tablename__ = "demo_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("demo_articles.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    article: Mapped[Article] = relationship(back_populates="comments")
    user: Mapped[User] = relationship()


class Like(db.Model):  # type: ignore[name-defined, misc]
    """A user likes an article, once: the like button tracks ``article.liked``."""

    __tablename__ = "demo_likes"
    __table_args__ = (UniqueConstraint("user_id", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("demo_articles.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=_now)
