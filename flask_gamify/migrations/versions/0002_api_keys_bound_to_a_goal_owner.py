"""API keys bound to a goal owner

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 11:23:39.790069
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("gamify_api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gamify_api_keys", schema=None) as batch_op:
        batch_op.drop_column("owner")
