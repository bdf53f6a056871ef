"""The entity index of progress rows ends with the goal.

``ix_gamify_progress_entity`` becomes ``(entity_type, entity_id, goal_id)``. A batch
locks its progress rows by their whole key (goal, entity type, entity id). Where the
planner's statistics are missing or stale (a table growing fast, before autovacuum
analyzes it), PostgreSQL looked them up through the entity index, which held only the
entity: each lookup then read every row of the entity, one per goal it has progress on
(a batch took 4.2 s instead of 0.3 s with 1,000 goals). With the goal in the entity
index too, either index finds a key at once; the entity's reads still use its first two
columns.

The index is rebuilt: on PostgreSQL, writes to ``gamify_progress`` wait meanwhile.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_INDEX = "ix_gamify_progress_entity"


def upgrade() -> None:
    _index("entity_type", "entity_id", "goal_id")


def downgrade() -> None:
    _index("entity_type", "entity_id")


def _index(*columns: str) -> None:
    with op.batch_alter_table("gamify_progress", schema=None) as batch_op:
        batch_op.drop_index(_INDEX)
        batch_op.create_index(_INDEX, list(columns), unique=False)
