"""Goal versions and the catalog version.

Every goal already defined gets its version 1: its definition as of this upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 11:23:40.708365
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


#: A goal's definition fields at this revision, in GoalView.to_dict()'s order and types.
_FIELDS: dict[str, sa.types.TypeEngine[Any]] = {
    "name": sa.String(),
    "description": sa.Text(),
    "criteria": sa.JSON(),
    "points": sa.Integer(),
    "repeatable": sa.Boolean(),
    "max_awards": sa.Integer(),
    "hidden": sa.Boolean(),
    "assigned_only": sa.Boolean(),
    "owner": sa.String(),
    "starts_at": sa.DateTime(),
    "ends_at": sa.DateTime(),
    "entity_type": sa.String(),
}

_goals = sa.table(
    "gamify_goals",
    sa.column("id", sa.Integer()),
    *(sa.column(name, type_) for name, type_ in _FIELDS.items()),
    sa.column("archived_at", sa.DateTime()),
    sa.column("updated_at", sa.DateTime()),
)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    return value


def upgrade() -> None:
    catalog = op.create_table(
        "gamify_catalog_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_catalog_version")),
    )
    versions = op.create_table(
        "gamify_goal_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=True),
        sa.Column(
            "changes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["gamify_goals.id"],
            name=op.f("fk_gamify_goal_versions_goal_id_gamify_goals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gamify_goal_versions")),
        sa.UniqueConstraint("goal_id", "version", name=op.f("uq_gamify_goal_versions_goal_id")),
    )
    assert catalog is not None and versions is not None
    # A random start: a database rebuilt from scratch never repeats a version that a
    # running process has cached (see flask_gamify.catalog.first_catalog_version).
    op.bulk_insert(catalog, [{"id": 1, "version": secrets.randbelow(2**30) + 1}])
    first_versions = []
    for goal in op.get_bind().execute(sa.select(_goals).order_by(_goals.c.id)).mappings():
        after = {name: _json_value(goal[name]) for name in _FIELDS}
        after["archived"] = goal["archived_at"] is not None
        first_versions.append(
            {
                "goal_id": goal["id"],
                "version": 1,
                "changed_at": goal["updated_at"],
                "changed_by": None,
                "changes": {
                    name: {"before": None, "after": value} for name, value in after.items()
                },
            }
        )
    if first_versions:
        op.bulk_insert(versions, first_versions)


def downgrade() -> None:
    op.drop_table("gamify_goal_versions")
    op.drop_table("gamify_catalog_version")
