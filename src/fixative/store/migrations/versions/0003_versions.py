"""The version catalogue: versions and their tables with row counts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import IdType, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "versions",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("datastack", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("time_stamp", UtcDateTime, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("expires_on", UtcDateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_merged", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("parent_version", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.Column("builder", sa.String(128)),
        sa.UniqueConstraint("datastack", "version", name="uq_versions_datastack_version"),
    )
    op.create_table(
        "version_tables",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.BigInteger, nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("schema_type", sa.String(64), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False),
        sa.Column("created", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("version_tables")
    op.drop_table("versions")
