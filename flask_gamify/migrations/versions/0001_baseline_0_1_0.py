"""Baseline: Flask-Gamify 0.1.0's schema (commit 24294d4).

Revision ID: 0001
Revises:
Create Date: 2026-11-30 11:23:36.609782
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "gamify_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_gamify_api_keys_name")),
        sa.UniqueConstraint("prefix", name=op.f("uq_gamify_api_keys_prefix")),
    )
    op.create_table(
        "gamify_events",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column(
            "attributes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_events")),
    )
    with op.batch_alter_table("gamify_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gamify_events_entity", ["entity_type", "entity_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gamify_events_processed_at"), ["processed_at"], unique=False
        )
        batch_op.create_index("ix_gamify_events_type", ["type", "occurred_at"], unique=False)

    op.create_table(
        "gamify_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "criteria", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("repeatable", sa.Boolean(), nullable=False),
        sa.Column("max_awards", sa.Integer(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("assigned_only", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_goals")),
        sa.UniqueConstraint("key", name=op.f("uq_gamify_goals_key")),
    )
    with op.batch_alter_table("gamify_goals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gamify_goals_owner"), ["owner"], unique=False)

    op.create_table(
        "gamify_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_notifications")),
    )
    with op.batch_alter_table("gamify_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gamify_notifications_recipient", ["entity_type", "entity_id"], unique=False
        )

    op.create_table(
        "gamify_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "event", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_outbox")),
    )
    op.create_table(
        "gamify_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("assigned_by", sa.String(length=255), nullable=True),
        sa.Column("assigned_by_type", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["gamify_goals.id"],
            name=op.f("fk_gamify_assignments_goal_id_gamify_goals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_assignments")),
        sa.UniqueConstraint(
            "goal_id", "entity_type", "entity_id", name=op.f("uq_gamify_assignments_goal_id")
        ),
    )
    with op.batch_alter_table("gamify_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gamify_assignments_assigned_by"), ["assigned_by"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gamify_assignments_entity_id"), ["entity_id"], unique=False
        )

    op.create_table(
        "gamify_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("awarded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["gamify_goals.id"],
            name=op.f("fk_gamify_awards_goal_id_gamify_goals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_awards")),
        sa.UniqueConstraint(
            "goal_id",
            "entity_type",
            "entity_id",
            "occurrence",
            name=op.f("uq_gamify_awards_goal_id"),
        ),
    )
    with op.batch_alter_table("gamify_awards", schema=None) as batch_op:
        batch_op.create_index("ix_gamify_awards_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "gamify_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("criteria_hash", sa.String(length=64), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("times_completed", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["gamify_goals.id"],
            name=op.f("fk_gamify_progress_goal_id_gamify_goals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_progress")),
        sa.UniqueConstraint(
            "goal_id", "entity_type", "entity_id", name=op.f("uq_gamify_progress_goal_id")
        ),
    )
    with op.batch_alter_table("gamify_progress", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gamify_progress_entity", ["entity_type", "entity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gamify_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_gamify_progress_entity")

    op.drop_table("gamify_progress")
    with op.batch_alter_table("gamify_awards", schema=None) as batch_op:
        batch_op.drop_index("ix_gamify_awards_entity")

    op.drop_table("gamify_awards")
    with op.batch_alter_table("gamify_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gamify_assignments_entity_id"))
        batch_op.drop_index(batch_op.f("ix_gamify_assignments_assigned_by"))

    op.drop_table("gamify_assignments")
    op.drop_table("gamify_outbox")
    with op.batch_alter_table("gamify_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_gamify_notifications_recipient")

    op.drop_table("gamify_notifications")
    with op.batch_alter_table("gamify_goals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gamify_goals_owner"))

    op.drop_table("gamify_goals")
    with op.batch_alter_table("gamify_events", schema=None) as batch_op:
        batch_op.drop_index("ix_gamify_events_type")
        batch_op.drop_index(batch_op.f("ix_gamify_events_processed_at"))
        batch_op.drop_index("ix_gamify_events_entity")

    op.drop_table("gamify_events")
    op.drop_table("gamify_api_keys")
