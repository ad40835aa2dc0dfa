"""View definitions: one read-only SELECT per view over a datastack's annotation tables
(``fixative.views``), answered at any version and, when ``live_compatible``, live.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import IdType, UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "view_definitions",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("datastack", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("notice_text", sa.Text),
        sa.Column("voxel_resolution_x", sa.Float, nullable=False),
        sa.Column("voxel_resolution_y", sa.Float, nullable=False),
        sa.Column("voxel_resolution_z", sa.Float, nullable=False),
        sa.Column("live_compatible", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.UniqueConstraint("datastack", "name", name="uq_view_definitions_datastack_name"),
    )


def downgrade() -> None:
    op.drop_table("view_definitions")
