"""The goal catalog: every goal with its compiled criteria, cached per process.

Reading progress and processing batches both need every goal and its compiled criteria.
Loading and compiling them each time costs more than the rest of a progress read, so
the catalog keeps them and reads one number to know when to load them again: the catalog
version, a counter in the database that every transaction changing a goal definition
increments (:func:`bump_catalog_version`). A counter, not timestamps: a change made on a
host whose clock is behind is seen as soon as it commits, by every process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from .criteria import Criterion, compile_criteria
from .events import TrackedEvent
from .models import CatalogVersion, Goal
from .sql import insert_ignoring_conflicts

__all__ = ["CatalogGoal", "GoalCatalog", "bump_catalog_version", "catalog_version"]

_GOALS = cast(Table, Goal.__table__)
_VERSION = cast(Table, CatalogVersion.__table__)
#: The id of the catalog version's one row.
CATALOG_ROW = 1


def catalog_version(session: Session) -> int:
    """The current catalog version (0 before any goal was defined): one primary-key read."""
    version = session.execute(
        select(_VERSION.c.version).where(_VERSION.c.id == CATALOG_ROW)
    ).scalar_one_or_none()
    return 0 if version is None else int(version)


def bump_catalog_version(session: Session) -> None:
    """Increment the catalog version in ``session``'s transaction.

    Call it in every transaction that changes a goal definition: processes reload their
    catalog when the version differs from the one they loaded. The row update also
    orders concurrent goal writers (it is locked until commit).
    """
    increment = (
        update(_VERSION).where(_VERSION.c.id == CATALOG_ROW).values(version=_VERSION.c.version + 1)
    )
    if session.execute(increment).rowcount == 0:  # type: ignore[attr-defined]
        # Tables created before the row was seeded: create it (another writer may race).
        row = {"id": CATALOG_ROW, "version": first_catalog_version()}
        insert_ignoring_conflicts(session, _VERSION, [row], ["id"])
        session.execute(increment)


def first_catalog_version() -> int:
    """Where a new catalog's counter starts: at random, so that tables dropped and
    created again never repeat a version a process has cached (2**30 changes remain)."""
    return secrets.randbelow(2**30) + 1


@dataclass(frozen=True, slots=True)
class CatalogGoal:
    """A goal as stored, with its compiled criteria."""

    id: int
    key: str
    name: str
    points: int
    repeatable: bool
    max_awards: int | None
    hidden: bool
    assigned_only: bool
    entity_type: str
    starts_at: datetime | None
    ends_at: datetime | None
    archived: bool
    criteria_hash: str
    criterion: Criterion
    #: 0 for goals without ``goal`` criteria, else one more than the goals they need:
    #: processing goes level by level, so prerequisites complete first.
    level: int
    #: ``"active"`` or ``"draft"``.
    status: str = "active"
    #: Identifies what an evaluation of the goal's states shows: the criteria with their
    #: labels and the occurrence cap. A stored view made under another key is stale.
    view_key: str = ""

    @property
    def live(self) -> bool:
        """Whether the goal progresses: active, not archived."""
        return self.status == "active" and not self.archived

    @property
    def most_awards(self) -> int | None:
        """How many awards an entity can get (``None``: unlimited)."""
        return self.max_awards if self.repeatable else 1

    def accepts(self, event: TrackedEvent) -> bool:
        """Whether ``event`` can progress this goal (entity type, start and end)."""
        if event.entity_type != self.entity_type:
            return False
        if self.starts_at is not None and event.occurred_at < self.starts_at:
            return False
        return self.ends_at is None or event.occurred_at < self.ends_at


def _fingerprint(criteria: Any) -> str:
    """Identifies criteria with their labels (``criteria_hash`` leaves labels out)."""
    document = json.dumps(criteria, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()


class GoalCatalog:
    """Goals of one app's database, reloaded when they change; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._goals: tuple[CatalogGoal, ...] = ()
        self._compiled: dict[tuple[int, str, str], Criterion] = {}

    @property
    def version(self) -> int | None:
        """The catalog version the goals were last loaded at (``None``: never loaded)."""
        return self._version

    def loaded(self) -> tuple[int, tuple[CatalogGoal, ...]] | None:
        """The catalog version and the goals last loaded at it, without a query
        (``None``: never loaded). A reader that checks the version later, in the
        statement that reads its rows, saves a round trip while the goals are unchanged.
        """
        with self._lock:
            return None if self._version is None else (self._version, self._goals)

    def goals(self, session: Session, version: int | None = None) -> tuple[CatalogGoal, ...]:
        """Every goal, archived ones included, by id.

        Costs one primary-key read while the goals are unchanged. The version is read
        before the goals: a change committed in between makes the next call load again,
        never keeps a stale catalog.

        :param version: the catalog version, when the caller read it already (in the
            same transaction, before this call); no query at all while it is the one
            the goals were loaded at.
        """
        if version is None:
            version = catalog_version(session)
        with self._lock:
            if version == self._version:
                return self._goals
        goals = tuple(self._load(session))
        with self._lock:
            self._version, self._goals = version, goals
        return goals

    def _load(self, session: Session) -> list[CatalogGoal]:
        rows = session.execute(select(_GOALS).order_by(_GOALS.c.id)).all()
        compiled = {}
        view_keys = {}
        for row in rows:
            # The hash leaves labels out (they never reset progress), but the compiled
            # criterion shows them: a change of labels alone compiles anew.
            cache_key = (row.id, row.criteria_hash, _fingerprint(row.criteria))
            if cache_key not in self._compiled:
                most = row.max_awards if row.repeatable else 1
                self._compiled[cache_key] = compile_criteria(row.criteria, max_occurrences=most)
            compiled[row.key] = self._compiled[cache_key]
            view_keys[row.key] = hashlib.sha256(":".join(map(str, cache_key)).encode()).hexdigest()[
                :16
            ]
        active = {row.key for row in rows if row.archived_at is None and row.status == "active"}
        levels: dict[str, int] = {}

        def level_of(key: str, seen: frozenset[str] = frozenset()) -> int:
            if key not in levels:
                refs = compiled[key].goal_refs & active if key in active else frozenset()
                refs = refs - seen - {key}
                levels[key] = 1 + max((level_of(r, seen | {key}) for r in refs), default=-1)
            return levels[key]

        loaded = []
        for row in rows:
            criterion = compiled[row.key]
            loaded.append(
                CatalogGoal(
                    id=row.id,
                    key=row.key,
                    name=row.name,
                    points=row.points,
                    repeatable=row.repeatable,
                    max_awards=row.max_awards,
                    hidden=row.hidden,
                    assigned_only=row.assigned_only,
                    entity_type=row.entity_type,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    archived=row.archived_at is not None,
                    criteria_hash=row.criteria_hash,
                    criterion=criterion,
                    level=level_of(row.key),
                    status=row.status,
                    view_key=view_keys[row.key],
                )
            )
        return loaded
