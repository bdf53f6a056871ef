"""Gamify's tables, on a metadata of their own, every name prefixed ``gamify_``.

They are created with :meth:`Gamify.create_all` (or ``flask gamify init-db``) on the
engine of the host's Flask-SQLAlchemy instance (or of ``GAMIFY_BIND_KEY``), and used
through a session of gamify's own, never the host's ``db.session``. Every change to them
needs an Alembic revision in ``flask_gamify/migrations/versions/`` (``make migration``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Assignment",
    "Award",
    "AwardChange",
    "Backfill",
    "BadgeImage",
    "Base",
    "CatalogVersion",
    "Event",
    "Goal",
    "GoalVersionRow",
    "Notification",
    "Outbox",
    "PointsBalance",
    "PointsEntry",
    "Progress",
    "Webhook",
    "WebhookDelivery",
    "utcnow",
]

#: Longest entity id, entity type, event id and event type accepted.
ENTITY_LENGTH = 255
ENTITY_TYPE_LENGTH = 64
EVENT_ID_LENGTH = 128
EVENT_TYPE_LENGTH = 200
GOAL_KEY_LENGTH = 200
ICON_LENGTH = 500
#: Longest webhook URL accepted.
URL_LENGTH = 2048


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def naive_utc(moment: datetime) -> datetime:
    """How gamify stores times on every database: UTC without a zone (naive means UTC)."""
    zone = moment.tzinfo
    if zone is None:
        return moment
    if zone is not UTC:  # converting a time already in UTC costs as much as the rest
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone on every database; always returns aware UTC values."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")

#: The documents written on every event are ``json`` on PostgreSQL, not ``jsonb``: progress
#: states, their stored views and logged events' attributes. Only Flask-Gamify reads
#: them, always whole, and ``json`` keeps the text as it was sent where ``jsonb`` parses
#: every document written into its binary form (writing the workload's progress rows cost
#: 1.1 to 1.3 times as much; see docs/performance.rst, "The storage floor").
OpaqueDocument = JSON()

#: How full PostgreSQL fills the pages of ``gamify_progress`` (percent) when it inserts
#: rows: the rest is room for updated versions of them.
PROGRESS_FILLFACTOR = 70


class Base(DeclarativeBase):
    """Declarative base of gamify's models, with its own metadata."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
    }


class Goal(Base):
    """A goal: criteria an entity completes to earn an award."""

    __tablename__ = "gamify_goals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(GOAL_KEY_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    criteria: Mapped[dict[str, Any]]
    #: Changes whenever what the stored progress states mean changes.
    criteria_hash: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Integer, default=0)
    repeatable: Mapped[bool] = mapped_column(Boolean, default=False)
    max_awards: Mapped[int | None]
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_only: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH), index=True)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH), default="user")
    #: The badge's picture: a built-in icon's name (``"trophy"``), or the address of an
    #: image (an uploaded one is served by the REST API under ``badge-images/``).
    icon: Mapped[str | None] = mapped_column(String(ICON_LENGTH))
    #: ``"active"``, or ``"draft"``: a draft never progresses and is never awarded.
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GoalVersionRow(Base):
    """One version of a goal's definition: when, by whom, and what changed."""

    __tablename__ = "gamify_goal_versions"
    __table_args__ = (UniqueConstraint("goal_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("gamify_goals.id", ondelete="CASCADE"))
    #: 1 for the goal's first definition, then 2, 3, ...
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who made the change, when known (``changed_by=``, the API key's name, ...).
    changed_by: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    #: ``{field: {"before": ..., "after": ...}}`` in the goal's JSON form.
    changes: Mapped[dict[str, Any]]


class CatalogVersion(Base):
    """One row whose number goes up in every transaction that changes a goal definition.

    Processes compare it with the number their goal catalog was loaded at: a counter, so
    that no host's clock decides whether a change is seen.
    """

    __tablename__ = "gamify_catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class Progress(Base):
    """An entity's progress on a goal: the criteria state and what it amounts to."""

    __tablename__ = "gamify_progress"
    __table_args__ = (
        UniqueConstraint("goal_id", "entity_type", "entity_id"),
        # The entity's rows, and a key found at once through either index: without the
        # goal here, PostgreSQL without fresh statistics looked keys up through this
        # index and read every row of the entity for each (migration 0011).
        Index("ix_gamify_progress_entity", "entity_type", "entity_id", "goal_id"),
        # Every batch rewrites the rows it touches, none of their indexed columns: with
        # room left in each page, PostgreSQL writes the new version beside the old one
        # without touching the three indexes (a "HOT" update, about 1.4 times cheaper).
        {"postgresql_with": {"fillfactor": PROGRESS_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("gamify_goals.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    state: Mapped[dict[str, Any] | None] = mapped_column(OpaqueDocument)
    #: The goal's ``criteria_hash`` the state was built under.
    criteria_hash: Mapped[str] = mapped_column(String(64))
    percent: Mapped[int] = mapped_column(Integer, default=0)
    #: Occurrences given for this goal (more than one for repeatable goals), by the
    #: criteria or by hand, revoked ones included: the criteria give only occurrences
    #: above it. What the entity holds is in ``gamify_awards``.
    times_completed: Mapped[int] = mapped_column(Integer, default=0)
    #: When the goal was first met, by event time (the completing event's occurred_at).
    completed_at: Mapped[datetime | None]
    #: Events that arrived too late to count for a windowed criterion of the goal.
    late_events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The evaluation of ``state`` made when it was written, with the moment until which
    #: it holds (see :mod:`flask_gamify.stored_views`); ``NULL``: evaluate when read.
    stored_view: Mapped[dict[str, Any] | None] = mapped_column(OpaqueDocument)


class Award(Base):
    """One completion of a goal. The unique constraint makes double awards impossible."""

    __tablename__ = "gamify_awards"
    __table_args__ = (
        UniqueConstraint("goal_id", "entity_type", "entity_id", "occurrence"),
        Index("ix_gamify_awards_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("gamify_goals.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    #: 1 for the first award of a goal, 2 for the second (repeatable goals), ...
    occurrence: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    #: When the award was recorded (the processing worker's clock).
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the goal was met, by event time: the ``occurred_at`` of the completing event.
    achieved_at: Mapped[datetime] = mapped_column(default=utcnow)


class AwardChange(Base):
    """An award given or revoked by a person, with who and why: the awards' audit trail.

    Awards the criteria give are not listed here: their event is in the event log.
    """

    __tablename__ = "gamify_award_changes"
    __table_args__ = (Index("ix_gamify_award_changes_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("gamify_goals.id", ondelete="CASCADE"), index=True
    )
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    #: The award's occurrence (1 for the first award of a goal, ...).
    occurrence: Mapped[int] = mapped_column(Integer)
    #: ``"awarded"`` or ``"revoked"``; ``"progress-reset"`` when a revocation also
    #: restarted the entity's progress (``occurrence`` is then the highest it still held).
    action: Mapped[str] = mapped_column(String(16))
    #: The award's points, given or taken back.
    points: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: Who did it (``changed_by=``), when known.
    changed_by: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class BadgeImage(Base):
    """An uploaded badge picture, stored by the digest of its bytes (so stored once)."""

    __tablename__ = "gamify_badge_images"

    #: The SHA-256 of ``data``, in hex.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``image/png``, ``image/jpeg``, ``image/gif`` or ``image/webp`` (never SVG, which
    #: can carry scripts).
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """The event log; its primary key is also the ledger that makes processing idempotent."""

    __tablename__ = "gamify_events"
    __table_args__ = (
        Index("ix_gamify_events_entity", "entity_type", "entity_id", "occurred_at"),
        Index("ix_gamify_events_type", "type", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_LENGTH))
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    attributes: Mapped[dict[str, Any]] = mapped_column(OpaqueDocument)
    occurred_at: Mapped[datetime]
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Whether the event arrived too late to count for some windowed goal.
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Assignment(Base):
    """An ``assigned_only`` goal (a to-do list) given to an entity by someone."""

    __tablename__ = "gamify_assignments"
    __table_args__ = (UniqueConstraint("goal_id", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("gamify_goals.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH), index=True)
    assigned_by: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH), index=True)
    assigned_by_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH), default="user")
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class Notification(Base):
    """A message for an entity, such as "the to-do list you assigned is complete"."""

    __tablename__ = "gamify_notifications"
    __table_args__ = (Index("ix_gamify_notifications_recipient", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    #: ``"assignment-completed"`` or ``"goal-completed"``.
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class Outbox(Base):
    """Events kept while Redis was unreachable; workers relay them when it returns."""

    __tablename__ = "gamify_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The event's JSON form (:meth:`TrackedEvent.to_dict`).
    event: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Backfill(Base):
    """A rebuild of one goal's progress from the event log; resumable from its checkpoint."""

    __tablename__ = "gamify_backfills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("gamify_goals.id", ondelete="CASCADE"), index=True
    )
    #: The goal's ``criteria_hash`` when the backfill was asked for; a later change of the
    #: goal supersedes it.
    criteria_hash: Mapped[str] = mapped_column(String(64))
    #: Whether awards the entity no longer qualifies for are revoked.
    revoke: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whether the awards it gives notify their entities (``goal-completed``).
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: ``queued``, ``running``, ``done``, ``superseded`` or ``failed``.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    #: Entities to rebuild, and how many are done.
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    #: The last entity rebuilt, in (entity type, entity id) order: where to resume.
    last_entity_type: Mapped[str | None] = mapped_column(String(ENTITY_TYPE_LENGTH))
    last_entity_id: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    #: Awards the backfill gave, and awards it revoked.
    awarded: Mapped[int] = mapped_column(Integer, default=0)
    revoked: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Webhook(Base):
    """An endpoint that receives events over HTTP (see :mod:`flask_gamify.webhooks`)."""

    __tablename__ = "gamify_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The event types it subscribes to (``["*"]``: every type but the opt-in ones).
    events: Mapped[list[str]] = mapped_column(JSONDocument)
    #: The signing secret, ``whsec_`` and base64: kept readable, since signing needs it.
    secret: Mapped[str] = mapped_column(String(128))
    #: The secret before the last rotation, still signing until ``previous_secret_until``.
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    #: When its deliveries started failing without a success since (``None``: healthy).
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: the transactional outbox, and the delivery log."""

    __tablename__ = "gamify_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_gamify_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("gamify_webhooks.id", ondelete="CASCADE"))
    #: ``evt_...``: the payload's ``id`` and the ``webhook-id`` header, on every attempt.
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    #: ``pending`` (due), ``failed`` (retry scheduled), ``delivered`` or ``dead``.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A worker sending it holds it until then (a lease: a dead worker's lapses).
    locked_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    #: The receiver's last HTTP status, and the start of its answer (bounded).
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class PointsEntry(Base):
    """One change of an entity's points, with its reason: the points ledger.

    Written in the transaction that gives or revokes the award, or adjusts the points;
    never changed afterwards. Its sum per entity and category is the balance.
    """

    __tablename__ = "gamify_points_ledger"
    __table_args__ = (
        UniqueConstraint("entity_type", "entity_id", "idempotency_key"),
        Index("ix_gamify_points_ledger_entity", "entity_type", "entity_id"),
        Index("ix_gamify_points_ledger_period", "entity_type", "category", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    #: Positive (points given) or negative (points taken back).
    amount: Mapped[int] = mapped_column(BigInteger)
    #: ``"points"`` unless an adjustment named another (``"xp"``, ``"karma"``, ...).
    category: Mapped[str] = mapped_column(String(64), default="points")
    #: ``"award"``, ``"revocation"`` or ``"adjustment"``.
    kind: Mapped[str] = mapped_column(String(16))
    #: The award's goal and occurrence, for ``"award"`` and ``"revocation"`` entries.
    goal_key: Mapped[str | None] = mapped_column(String(GOAL_KEY_LENGTH))
    occurrence: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str | None] = mapped_column(String(ENTITY_LENGTH))
    #: Given by the caller of an adjustment: the same key twice makes one entry.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    #: Event time: when the goal was met (the award's ``achieved_at``), also for its
    #: revocation; when an adjustment was made. Periods of leaderboards go by it.
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the entry was written.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsBalance(Base):
    """An entity's points in one category: the sum of its ledger entries, kept up to date
    in the same transaction as each entry, so that reading points is one indexed read."""

    __tablename__ = "gamify_points_balances"
    __table_args__ = (
        UniqueConstraint("entity_type", "entity_id", "category"),
        Index("ix_gamify_points_balances_rank", "entity_type", "category", "points"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LENGTH))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    category: Mapped[str] = mapped_column(String(64), default="points")
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Goes up by one with every entry: tells which of two reads of the balance is newer
    #: (leaderboards kept in Redis apply only the newer one).
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
