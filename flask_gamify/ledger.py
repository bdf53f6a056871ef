"""The points ledger: every change of an entity's points is a row with its reason.

Awards write an ``"award"`` entry of their points, revocations a ``"revocation"`` entry
taking them back, :meth:`Gamify.adjust_points` an ``"adjustment"``; always in the
transaction that gives, revokes or adjusts, so the ledger and the awards never disagree.
The same transaction adds the amounts to ``gamify_points_balances`` (an upsert), so that
:meth:`Gamify.points` is one indexed read, and notices when points cross a level
threshold (:mod:`flask_gamify.levels`).

Awards worth 0 points write no entry. Entries carry the event time (``occurred_at``:
when the goal was met, for an award and for its revocation alike; when an adjustment
was made), so that points of back-dated events land in the leaderboard period they
belong to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .criteria.limits import is_visible, unstorable_text
from .errors import IdempotencyConflict, InvalidInputError
from .levels import Level, LevelChange, level_view
from .models import (
    ENTITY_LENGTH,
    ENTITY_TYPE_LENGTH,
    Notification,
    PointsBalance,
    PointsEntry,
    naive_utc,
)
from .sql import dialect_name, dumps, insert_ignoring_conflicts

__all__ = [
    "ADJUSTMENT",
    "AWARD",
    "DEFAULT_CATEGORY",
    "MAX_AMOUNT",
    "MAX_ENTRIES",
    "REVOCATION",
    "LedgerEntryView",
    "PointsChange",
    "PointsLedger",
    "award_entry",
    "balance",
    "balances",
    "check_adjustment",
    "check_ledger_listing",
    "entries",
]

_LEDGER = cast(Table, PointsEntry.__table__)
_BALANCES = cast(Table, PointsBalance.__table__)
_NOTIFICATIONS = cast(Table, Notification.__table__)

#: The category of goals' points, and of adjustments that name none.
DEFAULT_CATEGORY = "points"
#: Kinds of entries.
AWARD = "award"
REVOCATION = "revocation"
ADJUSTMENT = "adjustment"
#: The largest amount of one adjustment, either way (a goal's points are bounded alike).
MAX_AMOUNT = 2**31 - 1
#: The most entries one page of :func:`entries` returns.
MAX_ENTRIES = 1000
#: Longest reason, category and idempotency key, in characters.
MAX_REASON_LENGTH = 2000
MAX_CATEGORY_LENGTH = 64
MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class LedgerEntryView:
    """One entry of the points ledger."""

    id: int
    entity_type: str
    entity: str
    #: Points given (positive) or taken back (negative).
    amount: int
    category: str
    #: ``"award"``, ``"revocation"`` or ``"adjustment"``.
    kind: str
    #: The award's goal key and occurrence (``None`` for adjustments).
    goal: str | None
    occurrence: int | None
    reason: str
    changed_by: str | None
    idempotency_key: str | None
    #: Event time: when the goal was met (awards and their revocations), or when the
    #: adjustment was made. Leaderboard periods go by it.
    occurred_at: datetime
    #: When the entry was written.
    recorded_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> LedgerEntryView:
        return cls(
            id=row.id,
            entity_type=row.entity_type,
            entity=row.entity_id,
            amount=row.amount,
            category=row.category,
            kind=row.kind,
            goal=row.goal_key,
            occurrence=row.occurrence,
            reason=row.reason,
            changed_by=row.changed_by,
            idempotency_key=row.idempotency_key,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "amount": self.amount,
            "category": self.category,
            "kind": self.kind,
            "goal": self.goal,
            "occurrence": self.occurrence,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "idempotency_key": self.idempotency_key,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PointsChange:
    """Points written to the ledger by a transaction: which entity, category and moment
    (what leaderboards kept outside SQL need to catch up after the commit)."""

    entity_type: str
    entity: str
    category: str
    amount: int
    occurred_at: datetime
    #: The entity's balance in the category after the transaction's changes, and that
    #: balance's version (``None`` when not known: read them from SQL).
    balance: int | None = None
    version: int | None = None


def award_entry(
    *,
    kind: str,
    entity_type: str,
    entity_id: str,
    amount: int,
    goal_key: str,
    occurrence: int,
    reason: str,
    changed_by: str | None,
    occurred_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """A ledger row for an award (``kind="award"``) or its revocation."""
    return {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "amount": amount,
        "category": DEFAULT_CATEGORY,
        "kind": kind,
        "goal_key": goal_key,
        "occurrence": occurrence,
        "reason": reason,
        "changed_by": changed_by,
        "idempotency_key": None,
        "occurred_at": occurred_at,
        "recorded_at": now,
    }


@dataclass(slots=True)
class PointsLedger:
    """Writes ledger entries and balances for one app, and knows its levels."""

    #: Levels per entity type (``GAMIFY_LEVELS``, :meth:`Gamify.define_levels`).
    levels: dict[str, tuple[Level, ...]] = field(default_factory=dict)
    #: Whether crossing a level threshold notifies the entity (``GAMIFY_NOTIFY_LEVELS``).
    notify_levels: bool = True

    def write(
        self,
        session: Session,
        rows: Sequence[dict[str, Any]],
        now: datetime,
        *,
        notify: bool = True,
    ) -> tuple[list[PointsChange], list[LevelChange]]:
        """Insert ledger ``rows`` (without idempotency keys) and add them to the balances.

        :param notify: whether level changes notify their entities (a quiet backfill
            passes ``False``).
        """
        rows = [row for row in rows if row["amount"]]
        if not rows:
            return [], []
        # The unique constraint names the idempotency key, which award rows leave empty:
        # they never collide, and the insert takes the fast bulk path of every database.
        insert_ignoring_conflicts(
            session, _LEDGER, rows, ["entity_type", "entity_id", "idempotency_key"]
        )
        return self._apply(session, rows, now, notify=notify)

    def _apply(
        self,
        session: Session,
        rows: Sequence[Mapping[str, Any]],
        now: datetime,
        *,
        notify: bool,
    ) -> tuple[list[PointsChange], list[LevelChange]]:
        deltas: dict[tuple[str, str, str], int] = defaultdict(int)
        for row in rows:
            deltas[(row["entity_type"], row["entity_id"], row["category"])] += row["amount"]
        balances = _add_to_balances(session, deltas, now)
        changes = [
            PointsChange(
                row["entity_type"],
                row["entity_id"],
                row["category"],
                row["amount"],
                row["occurred_at"],
                *balances[(row["entity_type"], row["entity_id"], row["category"])],
            )
            for row in rows
        ]
        level_changes = []
        for (entity_type, entity_id, category), (total, _) in sorted(balances.items()):
            levels = self.levels.get(entity_type)
            if not levels or category != DEFAULT_CATEGORY:
                continue
            old = level_view(levels, total - deltas[(entity_type, entity_id, category)])
            new = level_view(levels, total)
            if old.number != new.number:
                level_changes.append(LevelChange(entity_type, entity_id, old, new))
        if level_changes and notify and self.notify_levels:
            session.execute(
                _NOTIFICATIONS.insert(),
                [
                    {
                        "entity_type": change.entity_type,
                        "entity_id": change.entity,
                        "kind": "level-changed",
                        "data": {
                            "direction": change.direction,
                            "old": change.old.name,
                            "old_number": change.old.number,
                            "new": change.new.name,
                            "number": change.new.number,
                            "points": change.new.points,
                        },
                        "created_at": now,
                        "read_at": None,
                    }
                    for change in level_changes
                ],
            )
        return changes, level_changes

    def adjust(
        self,
        session: Session,
        *,
        entity_type: str,
        entity_id: str,
        amount: int,
        category: str,
        reason: str,
        changed_by: str | None,
        idempotency_key: str | None,
        now: datetime,
    ) -> tuple[LedgerEntryView, list[PointsChange], list[LevelChange]]:
        """Write an adjustment; with an ``idempotency_key`` seen before for the entity,
        return that entry and change nothing.

        :raises IdempotencyConflict: the key was used for another amount or category.
        """
        row = {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "amount": amount,
            "category": category,
            "kind": ADJUSTMENT,
            "goal_key": None,
            "occurrence": None,
            "reason": reason,
            "changed_by": changed_by,
            "idempotency_key": idempotency_key,
            "occurred_at": now,
            "recorded_at": now,
        }
        inserted = insert_ignoring_conflicts(
            session,
            _LEDGER,
            [row],
            ["entity_type", "entity_id", "idempotency_key"],
            returning=list(_LEDGER.c),
        )
        if not inserted:
            first = session.execute(
                select(_LEDGER).where(
                    _LEDGER.c.entity_type == entity_type,
                    _LEDGER.c.entity_id == entity_id,
                    _LEDGER.c.idempotency_key == idempotency_key,
                )
            ).one()
            if first.amount != amount or first.category != category:
                raise IdempotencyConflict(
                    f"The idempotency key {idempotency_key!r} was already used for"
                    f" {entity_type} {entity_id!r} to adjust {first.category!r} by"
                    f" {first.amount}, not {category!r} by {amount}; nothing was changed."
                    " Use a new key for a new adjustment."
                )
            return LedgerEntryView.from_row(first), [], []
        changes, level_changes = self._apply(session, [row], now, notify=True)
        return LedgerEntryView.from_row(inserted[0]), changes, level_changes


def _add_to_balances(
    session: Session, deltas: Mapping[tuple[str, str, str], int], now: datetime
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Add ``deltas`` to the balances (creating missing ones); return the new totals
    and versions.

    Rows are written in key order, so concurrent transactions lock them in the same
    order and wait for each other instead of deadlocking.
    """
    rows = [
        {"entity_type": entity_type, "entity_id": entity_id, "category": category, "points": delta}
        for (entity_type, entity_id, category), delta in sorted(deltas.items())
    ]
    if dialect_name(session) == "postgresql":
        result = session.execute(
            text(
                """
                INSERT INTO gamify_points_balances
                       (entity_type, entity_id, category, points, version, updated_at)
                SELECT entity_type, entity_id, category, points, 1, :now
                  FROM json_to_recordset(CAST(:rows AS json))
                       AS r(entity_type text, entity_id text, category text, points bigint)
                 ORDER BY entity_type, entity_id, category
                ON CONFLICT (entity_type, entity_id, category) DO UPDATE
                   SET points = gamify_points_balances.points + EXCLUDED.points,
                       version = gamify_points_balances.version + 1,
                       updated_at = EXCLUDED.updated_at
                RETURNING entity_type, entity_id, category, points, version
                """
            ),
            {"rows": dumps(rows), "now": naive_utc(now)},
        )
        return {
            (r.entity_type, r.entity_id, r.category): (int(r.points), int(r.version))
            for r in result
        }
    upsert = sqlite_insert(_BALANCES)
    statement = upsert.on_conflict_do_update(
        index_elements=["entity_type", "entity_id", "category"],
        set_={
            "points": _BALANCES.c.points + upsert.excluded.points,
            "version": _BALANCES.c.version + 1,
            "updated_at": upsert.excluded.updated_at,
        },
    ).returning(
        _BALANCES.c.entity_type,
        _BALANCES.c.entity_id,
        _BALANCES.c.category,
        _BALANCES.c.points,
        _BALANCES.c.version,
    )
    totals = {}
    for row in rows:
        found = session.execute(statement, {**row, "version": 1, "updated_at": now}).one()
        key = (found.entity_type, found.entity_id, found.category)
        totals[key] = (int(found.points), int(found.version))
    return totals


def balance(session: Session, entity_type: str, entity_id: str, category: str) -> int:
    """The entity's points in ``category`` (0 when it never had any)."""
    found = session.execute(
        select(_BALANCES.c.points).where(
            _BALANCES.c.entity_type == entity_type,
            _BALANCES.c.entity_id == entity_id,
            _BALANCES.c.category == category,
        )
    ).scalar_one_or_none()
    return int(found or 0)


def balances(session: Session, entity_type: str, entity_id: str) -> dict[str, int]:
    """The entity's points in every category it has a balance in, by category."""
    rows = session.execute(
        select(_BALANCES.c.category, _BALANCES.c.points)
        .where(_BALANCES.c.entity_type == entity_type, _BALANCES.c.entity_id == entity_id)
        .order_by(_BALANCES.c.category)
    )
    return {row.category: int(row.points) for row in rows}


def entries(
    session: Session,
    entity_type: str,
    entity_id: str,
    *,
    category: str | None,
    before: int | None,
    limit: int,
) -> list[LedgerEntryView]:
    """The entity's ledger entries, newest first; ``before`` an id: the page after it."""
    query = (
        select(_LEDGER)
        .where(_LEDGER.c.entity_type == entity_type, _LEDGER.c.entity_id == entity_id)
        .order_by(_LEDGER.c.id.desc())
        .limit(limit)
    )
    if category is not None:
        query = query.where(_LEDGER.c.category == category)
    if before is not None:
        query = query.where(_LEDGER.c.id < before)
    return [LedgerEntryView.from_row(row) for row in session.execute(query)]


def _text_problems(
    errors: dict[str, list[str]], field: str, value: Any, limit: int, what: str
) -> None:
    if not isinstance(value, str) or not is_visible(value.replace("\x00", "")):
        errors[field] = [f"Must be a non-empty string naming the {what}."]
    elif len(value) > limit:
        errors[field] = [f"Must be at most {limit} characters long (got {len(value)})."]
    else:
        problem = unstorable_text(value, field)
        if problem is not None:
            errors[field] = [problem[1]]


def check_adjustment(
    *,
    entity: Any,
    entity_type: Any,
    amount: Any,
    category: Any,
    reason: Any,
    changed_by: Any,
    idempotency_key: Any,
) -> dict[str, list[str]]:
    """The problems of an adjustment's input, by field (empty: fine)."""
    errors: dict[str, list[str]] = {}
    _text_problems(errors, "entity", entity, ENTITY_LENGTH, "entity")
    _text_problems(errors, "entity_type", entity_type, ENTITY_TYPE_LENGTH, "entity type")
    _text_problems(errors, "category", category, MAX_CATEGORY_LENGTH, "points category")
    if isinstance(amount, bool) or not isinstance(amount, int):
        errors["amount"] = [
            f"Must be a whole number of points (got {type(amount).__name__}): positive to"
            " give points, negative to take them back."
        ]
    elif amount == 0:
        errors["amount"] = ["Must not be 0: an adjustment gives or takes back points."]
    elif abs(amount) > MAX_AMOUNT:
        errors["amount"] = [f"Must be from {-MAX_AMOUNT} to {MAX_AMOUNT} (got {amount})."]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = [
            "Say why the points change: the reason is recorded in the points ledger and"
            " cannot be empty."
        ]
    elif len(reason) > MAX_REASON_LENGTH:
        errors["reason"] = [
            f"Must be at most {MAX_REASON_LENGTH} characters long (got {len(reason)})."
        ]
    elif (problem := unstorable_text(reason, "reason")) is not None:
        errors["reason"] = [problem[1]]
    if changed_by is not None:
        _text_problems(errors, "changed_by", changed_by, ENTITY_LENGTH, "person who changes it")
    if idempotency_key is not None:
        _text_problems(errors, "idempotency_key", idempotency_key, MAX_KEY_LENGTH, "adjustment")
    return errors


def check_ledger_listing(limit: Any, before: Any, category: Any) -> None:
    """Refuse a bad ``limit``, ``before`` or ``category`` of :func:`entries`."""
    errors: dict[str, list[str]] = {}
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ENTRIES:
        errors["limit"] = [f"Must be an integer from 1 to {MAX_ENTRIES} (got {limit!r})."]
    if before is not None and (
        isinstance(before, bool) or not isinstance(before, int) or before < 1
    ):
        errors["before"] = ["Must be a positive integer (an id from a previous page), or None."]
    if category is not None:
        _text_problems(errors, "category", category, MAX_CATEGORY_LENGTH, "points category")
    if errors:
        raise InvalidInputError(errors)
