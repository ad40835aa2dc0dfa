"""Versions read from the root-id history: ``kind`` says how a version is kept, ``flat`` (a
database copy, as every version before this revision) or ``history`` (a catalogue row whose
answers are read from the live tables and their root-id histories at its instant).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default=sa.text("'flat'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("kind")
