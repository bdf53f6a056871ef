"""PostgreSQL: the documents written on every event as ``json``, room for updates.

Progress states, their stored views and logged events' attributes become ``json``
instead of ``jsonb``: only Flask-Gamify reads them, always whole. ``json`` keeps the text
as it was written, where ``jsonb`` parsed every document written into its binary form.

``gamify_progress`` gets a fillfactor of 70: every batch rewrites the rows it touches
and none of their indexed columns, and with room left in their page PostgreSQL updates
them without touching the indexes. The table is rewritten once (by the type change), so
its existing pages get that room too.

SQLite stores both types as text and has no fillfactor: nothing changes there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:40:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

#: The columns, by table, and whether they may be NULL.
_COLUMNS = {
    "gamify_progress": (("state", True), ("stored_view", True)),
    "gamify_events": (("attributes", False),),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Before the type change, which rewrites the table with this setting.
    op.execute("ALTER TABLE gamify_progress SET (fillfactor = 70)")
    _convert(postgresql.JSONB(), sa.JSON(), "json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE gamify_progress RESET (fillfactor)")
    _convert(sa.JSON(), postgresql.JSONB(), "jsonb")


def _convert(existing: sa.types.TypeEngine[Any], new: sa.types.TypeEngine[Any], cast: str) -> None:
    # One ALTER TABLE per table: PostgreSQL rewrites each table (and its indexes) once.
    for table, columns in _COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(
                    column,
                    existing_type=existing,
                    type_=new,
                    existing_nullable=nullable,
                    postgresql_using=f"{column}::{cast}",
                )
