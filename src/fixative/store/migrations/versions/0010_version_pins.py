"""Pinned versions: a version a paper or a release cites is never expired (``pinned``), and may
carry a name (``pin_name``, unique per datastack), like the original's long-term versions.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("pin_name", sa.String(128), nullable=True))
        batch.create_unique_constraint("uq_versions_datastack_pin_name", ["datastack", "pin_name"])


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint("uq_versions_datastack_pin_name", type_="unique")
        batch.drop_column("pin_name")
        batch.drop_column("pinned")
