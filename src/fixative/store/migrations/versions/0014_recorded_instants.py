"""Recorded instants: the instants at which a table was brought wholly to T (every row created
by T linked, every root at T), so its root-id history is exact there. Live queries start from
the latest one at or before their instant.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import IdType, UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recorded_instants",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("instant", UtcDateTime, nullable=False),
        sa.UniqueConstraint("table_name", "instant", name="uq_recorded_instants"),
    )


def downgrade() -> None:
    op.drop_table("recorded_instants")
