"""Stored progress views: each progress row keeps its evaluation and until when it holds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Existing rows keep a NULL view: readers evaluate their state, as before, until the
    # next event for the goal and entity stores one.
    with op.batch_alter_table("gamify_progress", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "stored_view",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("gamify_progress", schema=None) as batch_op:
        batch_op.drop_column("stored_view")
