"""What a goal asks for, item by item: the articles to read, the steps to take.

The unlock page and the to-do lists show a goal as a checklist: the progress view's
``items``, made from the goal's *current* criteria (an author may change them in the
dashboard at any time), each with its label and a tick when done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import url_for
from sqlalchemy import select

from flask_gamify import GoalView, ProgressView

from .extensions import db
from .models import Article


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to do: its words, whether it is done, and where to do it."""

    label: str
    done: bool
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Checklist:
    """A goal's items; ``noun`` and ``verb`` word the count ("2 of 3 articles read")."""

    items: tuple[Item, ...]
    noun: str
    verb: str

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.done)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return 100 * self.done // self.total if self.total else 100

    @property
    def summary(self) -> str:
        """``"1 of 3 articles read"``."""
        noun = self.noun if self.total != 1 else self.noun.removesuffix("s")
        return f"{self.done} of {self.total} {noun} {self.verb}"


def checklist(goal: GoalView, progress: ProgressView) -> Checklist | None:
    """The goal as a checklist, or ``None`` when its criteria are not a list of things.

    ``progress.items`` has one item per listed value of an ``all_of`` and per step of a
    ``sequence``, with its label and whether it is done (all done once awarded). The demo
    defines its goals with labels (article titles); a value added without one, in the
    dashboard say, is named by its article here. Other criteria (counts, composites, ...)
    have no items: show their progress bar and label instead.
    """
    criteria = goal.criteria
    if not progress.items:
        return None
    if criteria.get("type") == "all_of" and criteria.get("field") == "article_id":
        titles = _titles(item.value for item in progress.items)
        items = tuple(
            Item(
                label=_article_label(item.label, item.value, titles),
                done=item.done,
                url=_article_url(item.value) if _key(item.value) in titles else None,
            )
            for item in progress.items
        )
        return Checklist(items, noun="articles", verb="read")
    if criteria.get("type") == "sequence":
        steps = list(criteria.get("steps", []))
        articles = [(step.get("where") or {}).get("article_id") for step in steps]
        titles = _titles(articles)
        items = tuple(
            Item(
                label=item.label,
                done=item.done,
                url=_article_url(articles[item.value])
                if _key(articles[item.value]) in titles
                else None,
            )
            for item in progress.items
        )
        return Checklist(items, noun="steps", verb="done")
    return Checklist(
        tuple(Item(item.label, item.done) for item in progress.items), noun="items", verb="done"
    )


def _article_label(label: str, value: Any, titles: dict[str, str]) -> str:
    """The goal's label for an article, else its title (the label is then the value)."""
    if label != _key(value):
        return label
    return titles.get(_key(value), f"Article {value} (no longer on the site)")


def _key(value: Any) -> str:
    # Criteria written by hand may list 3 or "3": both name article 3.
    return str(value)


def _titles(values: Iterable[Any]) -> dict[str, str]:
    """Titles of the listed articles that exist, by :func:`_key` of their id."""
    ids = {int(value) for value in values if value is not None and str(value).isdigit()}
    ids = {article_id for article_id in ids if article_id < 2**31}  # an INTEGER column
    if not ids:
        return {}
    rows = db.session.execute(select(Article.id, Article.title).where(Article.id.in_(ids)))
    return {str(article_id): title for article_id, title in rows}


def _article_url(value: Any) -> str:
    return url_for("demo.article", article_id=int(value))
