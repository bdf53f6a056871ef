"""The Leaderboards page: who has the most points, all time or this day, week or month.

A client of :meth:`Gamify.leaderboard` like any host: it answers from Redis or from the
SQL ledger, and the page only says which in a small note. The entity types and
categories offered are those that have balances, found with one index seek each (a
"loose index scan"), so the page stays fast with a million entities.

Only superusers see it: a leaderboard adds up the points of every goal and every
adjustment, which an author (who sees only their own goals) must not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis
from flask import request
from flask_admin import expose
from sqlalchemy import Table, select, tuple_
from sqlalchemy.orm import Session

from flask_gamify.errors import InvalidInputError
from flask_gamify.leaderboards import MAX_LIMIT, NEIGHBOURS, PERIODS, LeaderboardView, Standing
from flask_gamify.ledger import DEFAULT_CATEGORY, MAX_CATEGORY_LENGTH
from flask_gamify.models import PointsBalance

from .base import GamifyView, asset_url, field_errors
from .display import check_entity, check_entity_type, format_time, zone_name

__all__ = ["LeaderboardsView"]

_BALANCES = cast(Table, PointsBalance.__table__)

#: Page sizes offered (any whole number from 1 to ``MAX_LIMIT`` is accepted).
LIMITS = (10, 25, 50, 100)
DEFAULT_LIMIT = 25
#: The most (entity type, category) pairs the form offers.
MAX_BOARDS = 50
#: What the period picker says.
PERIOD_NAMES = {"all": "All time", "day": "Today", "week": "This week", "month": "This month"}


@dataclass(frozen=True, slots=True)
class Row:
    """A line of the table: a standing, and whether it ties or is the one looked for."""

    standing: Standing
    tied: bool
    found: bool


def ranked_rows(standings: list[Standing], found: str | None = None) -> list[Row]:
    """Mark ties (a rank shared with a neighbour) and the entity looked for."""
    rows = []
    for index, standing in enumerate(standings):
        before = standings[index - 1] if index else None
        after = standings[index + 1] if index + 1 < len(standings) else None
        tied = any(other is not None and other.rank == standing.rank for other in (before, after))
        rows.append(Row(standing, tied, found is not None and standing.entity == found))
    return rows


def known_boards(session: Session, limit: int = MAX_BOARDS) -> list[tuple[str, str]]:
    """The ``(entity_type, category)`` pairs that have balances, in order.

    One index seek per pair on ``ix_gamify_points_balances_rank`` (whose first columns
    are these two) instead of a ``DISTINCT`` over every balance.
    """
    pairs: list[tuple[str, str]] = []
    columns = (_BALANCES.c.entity_type, _BALANCES.c.category)
    while len(pairs) < limit:
        query = select(*columns).order_by(*columns).limit(1)
        if pairs:
            query = query.where(tuple_(*columns) > tuple_(*pairs[-1]))
        row = session.execute(query).first()
        if row is None:
            break
        pairs.append((row[0], row[1]))
    return pairs


class LeaderboardsView(GamifyView):
    """Ranks by points per entity type, period and category; find an entity's rank."""

    superuser_only = True

    @property
    def extra_css(self) -> list[str]:
        return [*super().extra_css, asset_url("gamify_admin/leaderboards.css")]

    @expose("/")
    def index(self) -> Any:
        default_type = self.state.default_entity_type
        args = request.args
        form = {
            "entity_type": (args.get("entity_type") or "").strip() or default_type,
            "period": (args.get("period") or "").strip() or "all",
            "category": (args.get("category") or "").strip() or DEFAULT_CATEGORY,
            "limit": (args.get("limit") or "").strip() or str(DEFAULT_LIMIT),
            "find": (args.get("find") or "").strip(),
        }
        errors = self._check(form)
        with self.state.session_factory() as session:
            boards = known_boards(session)
        board: LeaderboardView | None = None
        if not errors:
            try:
                board = self.gamify.leaderboard(
                    form["entity_type"],
                    form["period"],
                    int(form["limit"]),
                    around=form["find"] or None,
                    category=form["category"],
                )
            except InvalidInputError as error:
                errors = {
                    path: " ".join(messages) for path, messages in field_errors(error).items()
                }
                errors = {
                    ("find" if path == "around" else path): text for path, text in errors.items()
                }
        entity_types = [default_type, *sorted({kind for kind, _ in boards} - {default_type})]
        if form["entity_type"] not in entity_types and "entity_type" not in errors:
            entity_types.append(form["entity_type"])
        categories = sorted(
            {DEFAULT_CATEGORY, *(c for kind, c in boards if kind == form["entity_type"])}
        )
        if form["category"] not in categories and "category" not in errors:
            categories.append(form["category"])
        html = self.render(
            "gamify_admin/leaderboards.html",
            form=form,
            errors=errors,
            board=board,
            rows=ranked_rows(board.entries) if board is not None else [],
            around=(
                ranked_rows(board.around, form["find"])
                if board is not None and board.around is not None
                else None
            ),
            has_points=bool(boards),
            entity_types=entity_types,
            categories=categories,
            periods=PERIOD_NAMES,
            limits=LIMITS,
            neighbours=NEIGHBOURS,
            default_entity_type=default_type,
            period_label=period_label,
            zone=zone_name(),
            source=self._source(),
        )
        return (html, 400) if errors else html

    @staticmethod
    def _check(form: dict[str, str]) -> dict[str, str]:
        """Messages by field for what the query string asks."""
        errors: dict[str, str] = {}
        problem = check_entity_type(form["entity_type"])
        if problem:
            errors["entity_type"] = problem
        if form["period"] not in PERIODS:
            errors["period"] = f"Choose a period: {', '.join(PERIODS)}."
        category = form["category"]
        if len(category) > MAX_CATEGORY_LENGTH:
            errors["category"] = (
                f"The category is {len(category)} characters long; categories have at most"
                f" {MAX_CATEGORY_LENGTH}."
            )
        elif "\x00" in category:
            errors["category"] = "The category cannot contain NUL characters."
        limit = form["limit"]
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
            errors["limit"] = f"Show a whole number of entries from 1 to {MAX_LIMIT}."
        if form["find"]:
            problem = check_entity(form["find"], "find")
            if problem:
                errors["find"] = problem
        return errors

    def _source(self) -> str:
        """Where :meth:`Gamify.leaderboard` reads current periods from, in a few words."""
        boards = self.state.boards
        if boards is None:
            return "Ranks are read from the SQL points ledger (no Redis is configured)."
        try:
            built = bool(boards.client.exists(boards.marker))
        except redis.RedisError:
            return "Ranks are read from the SQL points ledger: Redis is unreachable right now."
        if not built:
            return (
                "Ranks are read from the SQL points ledger until the Redis leaderboards are"
                " built: run flask gamify leaderboards rebuild."
            )
        return "Ranks are read from Redis, kept in step with the SQL points ledger."


def period_label(period: str, starts_at: datetime | None, ends_at: datetime | None) -> str:
    """``This week: 2026-11-30 00:00 to 2026-12-07 00:00`` (the end not included)."""
    name = PERIOD_NAMES.get(period, period)
    if starts_at is None or ends_at is None:
        return name
    return f"{name}: {format_time(starts_at)} to {format_time(ends_at)}"
