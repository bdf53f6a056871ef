"""Leaderboards: ranks by points, all time or per day, week or month.

The SQL ledger is the truth. Inline mode (no ``GAMIFY_REDIS_URL``) answers from it:
all-time boards from the balances, period boards from the ledger entries whose event
time (``occurred_at``) falls in the period. With Redis, sorted sets per entity type,
category and period serve the same answers in milliseconds at any size.

Keeping Redis right with at-least-once processing
-------------------------------------------------
After each commit that wrote points (a batch, an award or revocation by hand, an
adjustment, a backfill), the process writes the totals of the entities it touched with
a small Lua script: ``ZADD`` of the total (``ZREM`` at 0), *only if* the balance
version it carries is not older than the one the member was last written with. The
all-time total and its version come back from the balance upsert of the commit itself;
period totals are summed from the ledger after the commit, so they hold at least what
that version holds. Writing a total twice is harmless (idempotent), and a slow process
can never put back an older total over a newer one: the newest version's write comes
last or wins.
Points lost on the way (a process killed between its commit and Redis, an outage, a
flushed Redis) are restored by ``flask gamify leaderboards rebuild``; until it has run
once, reads go to SQL.

Ranks are competition ranks (1, 2, 2, 4): one plus the number of entities with strictly
more points. Ties are listed by entity id as text (byte order), in SQL and Redis alike.
Scores are stored negated, so that Redis's ascending order (ties by member) is exactly
that order. Entities with 0 points in the period are not listed.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, cast, overload
from urllib.parse import quote

import redis
from sqlalchemy import Select, Table, and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from .errors import InvalidInputError
from .ledger import DEFAULT_CATEGORY, PointsChange
from .models import PointsBalance, PointsEntry, utcnow
from .sql import dialect_name

__all__ = [
    "NEIGHBOURS",
    "PERIODS",
    "LeaderboardView",
    "Period",
    "RedisBoards",
    "Standing",
    "period_of",
    "sql_leaderboard",
]

logger = logging.getLogger(__name__)

_LEDGER = cast(Table, PointsEntry.__table__)
_BALANCES = cast(Table, PointsBalance.__table__)

#: The periods a leaderboard covers.
PERIODS = ("all", "day", "week", "month")
#: Entities listed on each side of the one ``around`` asks for.
NEIGHBOURS = 5
#: The most entries one leaderboard lists.
MAX_LIMIT = 100
#: Rows per SQL statement and Redis pipeline when syncing.
_CHUNK = 2000
#: Members per ``ZADD``/``HSET`` command when a rebuild fills a set in bulk.
BULK_CHUNK = 10_000
#: How far before its start a rebuild looks for ledger entries to write again
#: afterwards: longer than any transaction that writes points stays open.
REBUILD_MARGIN = timedelta(minutes=5)

#: ``KEYS[1]`` the sorted set, ``KEYS[2]`` its versions; ``ARGV``: member, version,
#: points, expiry (Unix time, or ``""`` for never). Writes only if not older.
_APPLY = """
-- KEYS: a set and its versions; ARGV: expiry, then (member, version, points) triples.
local applied = 0
for i = 2, #ARGV, 3 do
  local known = redis.call('HGET', KEYS[2], ARGV[i])
  if not (known and tonumber(known) > tonumber(ARGV[i + 1])) then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    if ARGV[i + 2] == '0' then
      redis.call('ZREM', KEYS[1], ARGV[i])
    else
      redis.call('ZADD', KEYS[1], -tonumber(ARGV[i + 2]), ARGV[i])
    end
    applied = applied + 1
  end
end
if ARGV[1] ~= '' and applied > 0 then
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
  redis.call('EXPIREAT', KEYS[2], ARGV[1])
end
return applied
"""


@dataclass(frozen=True, slots=True)
class Standing:
    """An entity's place on a leaderboard."""

    #: Competition rank: 1, 2, 2, 4 (one plus the entities with strictly more points).
    rank: int
    entity: str
    points: int

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "entity": self.entity, "points": self.points}


@dataclass(frozen=True, slots=True)
class Period:
    """A leaderboard period: ``all``, or the day, ISO week or month of a moment."""

    name: str
    #: ``"all"``, ``"day:2026-03-04"``, ``"week:2026-W10"``, ``"month:2026-03"``.
    key: str
    #: Its bounds in UTC (``None`` for ``all``); ``ends_at`` is excluded.
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class LeaderboardView(Sequence[Standing]):
    """A leaderboard: the top entries and, when asked, an entity with its neighbours.

    It is a sequence of its top :class:`Standing` entries (``for standing in board``,
    ``board[0].rank``, ``len(board)``), the same as :attr:`entries`, with the period
    and the ``around`` standings as attributes.
    """

    entity_type: str
    category: str
    period: str
    starts_at: datetime | None
    ends_at: datetime | None
    #: The first ``limit`` standings.
    entries: list[Standing]
    #: With ``around=``: up to five standings before the entity, its own (rank and
    #: points, 0 when it has none in the period), and up to five after it.
    around: list[Standing] | None = None

    @overload
    def __getitem__(self, index: int) -> Standing: ...
    @overload
    def __getitem__(self, index: slice) -> list[Standing]: ...
    def __getitem__(self, index: int | slice) -> Standing | list[Standing]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Standing]:
        return iter(self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "category": self.category,
            "period": self.period,
            "starts_at": None if self.starts_at is None else self.starts_at.isoformat(),
            "ends_at": None if self.ends_at is None else self.ends_at.isoformat(),
            "entries": [entry.to_dict() for entry in self.entries],
            "around": None if self.around is None else [e.to_dict() for e in self.around],
        }


def period_of(name: str, moment: datetime, timezone: tzinfo) -> Period:
    """The period ``name`` that contains ``moment``, cut in ``timezone`` (weeks start on
    Monday: ISO weeks)."""
    return _period_of_day(name, moment.astimezone(timezone).date(), timezone)


@lru_cache(maxsize=1024)
def _period_of_day(name: str, local: date, timezone: tzinfo) -> Period:
    """The period ``name`` that contains the day ``local`` of ``timezone``."""
    if name == "all":
        return Period("all", "all", None, None)
    if name == "day":
        start, end, key = local, local + timedelta(days=1), f"day:{local.isoformat()}"
    elif name == "week":
        start = local - timedelta(days=local.weekday())
        year, week, _ = local.isocalendar()
        end, key = start + timedelta(days=7), f"week:{year}-W{week:02d}"
    elif name == "month":
        start = local.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        key = f"month:{start:%Y-%m}"
    else:
        raise ValueError(name)
    return Period(name, key, _midnight(start, timezone), _midnight(end, timezone))


def _midnight(day: date, timezone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone).astimezone(UTC)


def check_leaderboard(
    *, entity_type: Any, period: Any, limit: Any, category: Any, around: Any, at: Any
) -> None:
    """Refuse bad arguments of a leaderboard, naming each field."""
    errors: dict[str, list[str]] = {}
    if period not in PERIODS:
        errors["period"] = [f"Must be one of {', '.join(PERIODS)} (got {period!r})."]
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = [f"Must be an integer from 1 to {MAX_LIMIT} (got {limit!r})."]
    for name, value in (("entity_type", entity_type), ("category", category)):
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            errors[name] = ["Must be a non-empty string of at most 64 characters."]
    if around is not None and (not isinstance(around, str) or not around or len(around) > 255):
        errors["around"] = ["Must be an entity id (a non-empty string or an integer), or None."]
    if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
        errors["at"] = ["Must be a timezone-aware datetime (a moment in the period), or None."]
    if errors:
        raise InvalidInputError(errors)


# -- SQL ---------------------------------------------------------------------------------


def _scores(entity_type: str, category: str, period: Period) -> Any:
    """A subquery of ``(entity_id, points)`` for the period, zero totals left out."""
    if period.starts_at is None:
        return (
            select(_BALANCES.c.entity_id, _BALANCES.c.points)
            .where(
                _BALANCES.c.entity_type == entity_type,
                _BALANCES.c.category == category,
                _BALANCES.c.points != 0,
            )
            .subquery()
        )
    total = func.sum(_LEDGER.c.amount)
    return (
        select(_LEDGER.c.entity_id, total.label("points"))
        .where(
            _LEDGER.c.entity_type == entity_type,
            _LEDGER.c.category == category,
            _LEDGER.c.occurred_at >= period.starts_at,
            _LEDGER.c.occurred_at < period.ends_at,
        )
        .group_by(_LEDGER.c.entity_id)
        .having(total != 0)
        .subquery()
    )


def _by_bytes(session: Session, column: Any) -> Any:
    """Entity ids compared as bytes, as Redis does (PostgreSQL's collations may not)."""
    return column.collate("C") if dialect_name(session) == "postgresql" else column


def _pairs(session: Session, query: Select[Any]) -> list[tuple[str, int]]:
    return [(row[0], int(row[1])) for row in session.execute(query)]


def sql_leaderboard(
    session: Session,
    *,
    entity_type: str,
    category: str,
    period: Period,
    limit: int,
    around: str | None,
) -> LeaderboardView:
    """The leaderboard, from the SQL ledger (the truth)."""
    scores = _scores(entity_type, category, period)
    entity = _by_bytes(session, scores.c.entity_id)
    top = _pairs(
        session,
        select(scores.c.entity_id, scores.c.points)
        .order_by(scores.c.points.desc(), entity)
        .limit(limit),
    )
    near = None
    if around is not None:
        mine = session.execute(
            select(scores.c.points).where(scores.c.entity_id == around)
        ).scalar_one_or_none()
        points = int(mine or 0)
        before = and_(scores.c.points == points, entity < around)
        after = and_(scores.c.points == points, entity > around)
        above = _pairs(
            session,
            select(scores.c.entity_id, scores.c.points)
            .where(or_(scores.c.points > points, before))
            .order_by(scores.c.points, entity.desc())
            .limit(NEIGHBOURS),
        )
        below = _pairs(
            session,
            select(scores.c.entity_id, scores.c.points)
            .where(or_(scores.c.points < points, after))
            .order_by(scores.c.points.desc(), entity)
            .limit(NEIGHBOURS),
        )
        listed = [*reversed(above), (around, points), *below]
        values = sorted({value for _, value in listed})
        # One scan: how many entities are strictly above each listed score.
        counts = session.execute(
            select(
                *(
                    func.coalesce(func.sum(case((scores.c.points > v, 1), else_=0)), 0)
                    for v in values
                )
            )
        ).one()
        ranks = {value: 1 + int(count) for value, count in zip(values, counts, strict=True)}
        near = [Standing(ranks[value], name, value) for name, value in listed]
    return _view(entity_type, category, period, top, near)


def _view(
    entity_type: str,
    category: str,
    period: Period,
    top: Sequence[tuple[str, int]],
    near: list[Standing] | None,
) -> LeaderboardView:
    return LeaderboardView(
        entity_type,
        category,
        period.name,
        period.starts_at,
        period.ends_at,
        _ranked_from_top(top),
        near,
    )


def _ranked_from_top(pairs: Sequence[tuple[str, int]]) -> list[Standing]:
    """Competition ranks of the first entries of a board (exact: nothing is above them)."""
    standings: list[Standing] = []
    for index, (name, points) in enumerate(pairs):
        same = standings and standings[-1].points == points
        standings.append(Standing(standings[-1].rank if same else index + 1, name, points))
    return standings


@contextmanager
def snapshot(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only transaction that sees one state of the database throughout."""
    with session_factory() as session, session.begin():
        if dialect_name(session) == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session


# -- Redis -------------------------------------------------------------------------------


class NotBuilt(Exception):
    """Redis has no leaderboards yet (never rebuilt, or flushed): read SQL."""


@dataclass
class RedisBoards:
    """Leaderboards in Redis sorted sets, for one app."""

    client: Any
    prefix: str
    timezone: tzinfo
    #: How long a period's sets live after it ends (late events still land in it).
    grace: timedelta
    _script: Any = field(default=None, init=False, repr=False, compare=False)

    def key(self, entity_type: str, category: str, period: Period) -> str:
        return (
            f"{self.prefix}:leaderboard:{quote(entity_type, safe='')}:"
            f"{quote(category, safe='')}:{period.key}"
        )

    @property
    def marker(self) -> str:
        """Set by a rebuild: until then, Redis is not trusted to be complete."""
        return f"{self.prefix}:leaderboard:built"

    def live(self, period: Period, now: datetime) -> bool:
        """Whether the period's sets are kept (all time, or not ended ``grace`` ago)."""
        return period.ends_at is None or period.ends_at + self.grace > now

    def _expiry(self, period: Period) -> str:
        if period.ends_at is None:
            return ""
        return str(int((period.ends_at + self.grace).timestamp()))

    # -- reading --

    def read(
        self,
        *,
        entity_type: str,
        category: str,
        period: Period,
        limit: int,
        around: str | None,
    ) -> LeaderboardView:
        """The leaderboard from Redis; :class:`NotBuilt` if it was never rebuilt."""
        key = self.key(entity_type, category, period)
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(self.marker)
        pipe.zrange(key, 0, limit - 1, withscores=True)
        if around is not None:
            pipe.zrank(key, around)
            pipe.zcount(key, "-inf", "(0")
        replies = pipe.execute()
        if not replies[0]:
            raise NotBuilt()
        top = [(member.decode(), -int(score)) for member, score in replies[1]]
        near = None
        if around is not None:
            position, positive = replies[2], replies[3]
            mine = position is not None
            start = position if mine else positive
            pipe = self.client.pipeline(transaction=False)
            pipe.zrange(key, max(0, start - NEIGHBOURS), start - 1, withscores=True)
            pipe.zrange(
                key,
                start + (1 if mine else 0),
                start + NEIGHBOURS - (0 if mine else 1),
                withscores=True,
            )
            pipe.zscore(key, around)
            above, below, score = pipe.execute()
            if start == 0:
                above = []  # ZRANGE 0 -1 would list the whole set
            points = -int(score) if score is not None else 0
            listed = [
                *((m.decode(), -int(s)) for m, s in above),
                (around, points),
                *((m.decode(), -int(s)) for m, s in below),
            ]
            values = sorted({value for _, value in listed})
            pipe = self.client.pipeline(transaction=False)
            for value in values:
                pipe.zcount(key, "-inf", f"({-value}")
            ranks = {
                value: 1 + int(count) for value, count in zip(values, pipe.execute(), strict=True)
            }
            near = [Standing(ranks[value], name, value) for name, value in listed]
        return _view(entity_type, category, period, top, near)

    # -- writing --

    def sync(
        self,
        session_factory: sessionmaker[Session],
        changes: Sequence[PointsChange],
        now: datetime | None = None,
        periods: Sequence[str] = PERIODS,
    ) -> int:
        """Bring the sets (of ``periods``) of the entities in ``changes`` up to date from
        SQL; return how many members were written. Idempotent: run it again, nothing
        changes.

        Balances and versions come with the changes when their transaction returned
        them (else they are read); period totals are read after that commit, so they
        hold at least what that version holds, and a later version always wins.
        """
        moment = now or utcnow()
        # (entity type, category) -> period -> entity ids
        touched: dict[tuple[str, str], dict[Period, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        known: dict[tuple[str, str, str], tuple[int, int]] = {}
        for change in changes:
            entity = (change.entity_type, change.entity, change.category)
            if (
                change.version is not None
                and change.balance is not None
                and (entity not in known or known[entity][1] < change.version)
            ):
                known[entity] = (change.balance, change.version)
            local = change.occurred_at.astimezone(self.timezone).date()
            for name in periods:
                period = _period_of_day(name, local, self.timezone)
                if self.live(period, moment):
                    touched[(change.entity_type, change.category)][period].add(change.entity)
        if not touched:
            return 0
        entities = {
            (entity_type, name, category)
            for (entity_type, category), by_period in touched.items()
            for names in by_period.values()
            for name in names
        }
        unknown = sorted(entities - known.keys())
        timed = any(period.starts_at is not None for p in touched.values() for period in p)
        totals: dict[tuple[str, str, Period], Mapping[str, int]] = {}
        if unknown or timed:
            # Versions read here must match the totals read with them: one snapshot.
            with snapshot(session_factory) if unknown else session_factory() as session:
                known.update(_balances(session, unknown))
                for (entity_type, category), by_period in touched.items():
                    timed_periods = {p: n for p, n in by_period.items() if p.starts_at}
                    if timed_periods:
                        found = _totals_by_period(session, entity_type, category, timed_periods)
                        for period, by_entity in found.items():
                            totals[(entity_type, category, period)] = by_entity
        writes: dict[str, tuple[str, list[tuple[str, int, int]]]] = {}
        for (entity_type, category), by_period in touched.items():
            for period, names in by_period.items():
                sums = totals.get((entity_type, category, period))
                members = []
                for name in sorted(names):
                    points, version = known.get((entity_type, name, category), (0, 0))
                    members.append((name, version, points if sums is None else sums.get(name, 0)))
                key = self.key(entity_type, category, period)
                writes[key] = (self._expiry(period), members)
        self._apply(writes)
        return sum(len(members) for _, members in writes.values())

    def _apply(self, writes: Mapping[str, tuple[str, Sequence[tuple[str, int, int]]]]) -> None:
        """Write ``{key: (expiry, [(member, version, points), ...])}``: one script call
        per key and :data:`_CHUNK` members, all in one pipeline."""
        if self._script is None:
            self._script = self.client.register_script(_APPLY)
        pipe = self.client.pipeline(transaction=False)
        for key, (expiry, members) in writes.items():
            for start in range(0, len(members), _CHUNK):
                arguments: list[Any] = [expiry]
                for member in members[start : start + _CHUNK]:
                    arguments.extend(member)
                self._script(keys=[key, f"{key}:versions"], args=arguments, client=pipe)
        pipe.execute()

    def rebuild(
        self,
        session_factory: sessionmaker[Session],
        periods: Sequence[str] = PERIODS,
        now: datetime | None = None,
    ) -> dict[str, int]:
        """Restore every set of ``periods`` from SQL (the current period, and earlier
        ones while they are kept); return the members written per key.

        Each set is built from scratch under a temporary key, in bulk (pipelined
        ``ZADD`` and ``HSET`` of :data:`BULK_CHUNK` members per command), then put in
        place with ``RENAME`` in one ``MULTI``: readers see the old set or the new one,
        never half of one. Safe while workers run: what they wrote to the old set during
        the build (points committed after the snapshot was read) is written again
        afterwards, from the ledger entries recorded since the rebuild started (less
        :data:`REBUILD_MARGIN` for transactions still open then), through the usual
        version check.
        """
        moment = now or utcnow()
        started = utcnow()
        written: dict[str, int] = {}
        with snapshot(session_factory) as session:
            boards = session.execute(
                select(_BALANCES.c.entity_type, _BALANCES.c.category).distinct()
            ).all()
        for entity_type, category in boards:
            wanted = []
            for name in periods:
                period = period_of(name, moment, self.timezone)
                wanted.append(period)
                # Earlier periods too, as long as their sets are kept (late events).
                while period.starts_at is not None:
                    earlier = period.starts_at - timedelta(seconds=1)
                    period = period_of(name, earlier, self.timezone)
                    if not self.live(period, moment):
                        break
                    wanted.append(period)
            with snapshot(session_factory) as session:
                versions = {
                    row.entity_id: (int(row.points), int(row.version))
                    for row in session.execute(
                        select(
                            _BALANCES.c.entity_id, _BALANCES.c.points, _BALANCES.c.version
                        ).where(
                            _BALANCES.c.entity_type == entity_type,
                            _BALANCES.c.category == category,
                        )
                    )
                }
                totals_by_period = {
                    period: (
                        {name: points for name, (points, _) in versions.items() if points}
                        if period.starts_at is None
                        else _period_totals(session, entity_type, category, period, None)
                    )
                    for period in wanted
                }
            for period, totals in totals_by_period.items():
                key = self.key(entity_type, category, period)
                members = {name: points for name, points in totals.items() if points}
                self._replace(
                    key,
                    members,
                    {name: versions.get(name, (0, 0))[1] for name in members},
                    self._expiry(period),
                )
                written[key] = len(members)
        self.client.set(self.marker, moment.isoformat())
        # Points committed while the sets were built may have gone to the old sets.
        with snapshot(session_factory) as session:
            recent = [
                PointsChange(row.entity_type, row.entity_id, row.category, 0, row.occurred_at)
                for row in session.execute(
                    select(
                        _LEDGER.c.entity_type,
                        _LEDGER.c.entity_id,
                        _LEDGER.c.category,
                        _LEDGER.c.occurred_at,
                    )
                    .where(_LEDGER.c.recorded_at >= started - REBUILD_MARGIN)
                    .distinct()
                )
            ]
        self.sync(session_factory, recent, now=moment, periods=periods)
        return written

    def _replace(
        self, key: str, members: Mapping[str, int], versions: Mapping[str, int], expiry: str
    ) -> None:
        """Replace the set ``key`` (and its versions) by ``members`` at once."""
        building = f"{key}:rebuilding:{uuid.uuid4().hex}"
        client = self.client
        try:
            names = list(members)
            for start in range(0, len(names), BULK_CHUNK):
                chunk = names[start : start + BULK_CHUNK]
                pipe = client.pipeline(transaction=False)
                pipe.zadd(building, {name: -members[name] for name in chunk})
                pipe.hset(f"{building}:versions", mapping={name: versions[name] for name in chunk})
                pipe.execute()
            pipe = client.pipeline(transaction=True)
            if names:
                if expiry:
                    pipe.expireat(building, int(expiry))
                    pipe.expireat(f"{building}:versions", int(expiry))
                pipe.rename(building, key)
                pipe.rename(f"{building}:versions", f"{key}:versions")
            else:
                pipe.delete(key, f"{key}:versions")
            pipe.execute()
        except BaseException:
            client.delete(building, f"{building}:versions")
            raise


def _balances(
    session: Session, entities: Sequence[tuple[str, str, str]]
) -> Mapping[tuple[str, str, str], tuple[int, int]]:
    """``(points, version)`` per ``(entity type, entity id, category)``."""
    found: dict[tuple[str, str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    columns = (_BALANCES.c.entity_type, _BALANCES.c.entity_id, _BALANCES.c.category)
    for start in range(0, len(entities), 500):
        rows = session.execute(
            select(*columns, _BALANCES.c.points, _BALANCES.c.version).where(
                tuple_(*columns).in_(entities[start : start + 500])
            )
        )
        for row in rows:
            found[(row.entity_type, row.entity_id, row.category)] = (
                int(row.points),
                int(row.version),
            )
    return found


def _period_totals(
    session: Session,
    entity_type: str,
    category: str,
    period: Period,
    names: set[str] | None,
) -> dict[str, int]:
    """Points per entity in the period (of ``names``, or of every entity)."""
    total = func.sum(_LEDGER.c.amount)
    query = (
        select(_LEDGER.c.entity_id, total)
        .where(
            _LEDGER.c.entity_type == entity_type,
            _LEDGER.c.category == category,
            _LEDGER.c.occurred_at >= period.starts_at,
            _LEDGER.c.occurred_at < period.ends_at,
        )
        .group_by(_LEDGER.c.entity_id)
    )
    if names is None:
        return {row[0]: int(row[1]) for row in session.execute(query)}
    ordered = sorted(names)
    totals: dict[str, int] = {}
    for start in range(0, len(ordered), 500):
        chunk = query.where(_LEDGER.c.entity_id.in_(ordered[start : start + 500]))
        totals.update((row[0], int(row[1])) for row in session.execute(chunk))
    return totals


def _totals_by_period(
    session: Session,
    entity_type: str,
    category: str,
    names_by_period: Mapping[Period, set[str]],
) -> dict[Period, dict[str, int]]:
    """Points per entity in each of several periods, in one query per 500 entities: a
    conditional sum per period over the entries from the first start to the last end."""
    periods = list(names_by_period)
    starts = [cast(datetime, period.starts_at) for period in periods]
    ends = [cast(datetime, period.ends_at) for period in periods]
    sums = [
        func.sum(
            case(
                (
                    and_(_LEDGER.c.occurred_at >= start, _LEDGER.c.occurred_at < end),
                    _LEDGER.c.amount,
                ),
                else_=0,
            )
        )
        for start, end in zip(starts, ends, strict=True)
    ]
    query = (
        select(_LEDGER.c.entity_id, *sums)
        .where(
            _LEDGER.c.entity_type == entity_type,
            _LEDGER.c.category == category,
            _LEDGER.c.occurred_at >= min(starts),
            _LEDGER.c.occurred_at < max(ends),
        )
        .group_by(_LEDGER.c.entity_id)
    )
    ordered = sorted(set().union(*names_by_period.values()))
    totals: dict[Period, dict[str, int]] = {period: {} for period in periods}
    for start in range(0, len(ordered), 500):
        chunk = query.where(_LEDGER.c.entity_id.in_(ordered[start : start + 500]))
        for row in session.execute(chunk):
            for period, points in zip(periods, row[1:], strict=True):
                if row[0] in names_by_period[period]:
                    totals[period][row[0]] = int(points or 0)
    return totals


def default_category(category: str | None) -> str:
    return DEFAULT_CATEGORY if category is None else category


def read_redis_safely(boards: RedisBoards, **arguments: Any) -> LeaderboardView | None:
    """The leaderboard from Redis, or ``None`` (not built, unreachable): read SQL then."""
    try:
        return boards.read(**arguments)
    except NotBuilt:
        return None
    except redis.RedisError as error:
        logger.warning("Leaderboards read from SQL: Redis is unreachable (%s).", error)
        return None
