"""Annotation and segmentation table metadata; PostGIS on PostgreSQL.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import IdType, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "annotation_table_metadata",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(64), nullable=False, unique=True),
        sa.Column("schema_type", sa.String(64), nullable=False),
        sa.Column("aligned_volume", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("notice_text", sa.Text),
        sa.Column("reference_table", sa.String(64)),
        sa.Column("flat_segmentation_source", sa.Text),
        sa.Column("voxel_resolution_x", sa.Float, nullable=False),
        sa.Column("voxel_resolution_y", sa.Float, nullable=False),
        sa.Column("voxel_resolution_z", sa.Float, nullable=False),
        sa.Column("read_permission", sa.String(16), nullable=False),
        sa.Column("write_permission", sa.String(16), nullable=False),
        sa.Column("valid", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("deleted", UtcDateTime),
        sa.Column("last_modified", UtcDateTime, nullable=False),
    )
    op.create_table(
        "segmentation_table_metadata",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(160), nullable=False, unique=True),
        sa.Column("annotation_table", sa.String(64), nullable=False),
        sa.Column("pcg_table_name", sa.String(96), nullable=False),
        sa.Column("segmentation_source", sa.Text, nullable=False, server_default=""),
        sa.Column("valid", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("last_updated", UtcDateTime),
    )
    op.create_index(
        "ix_segmentation_table_metadata_annotation_table",
        "segmentation_table_metadata",
        ["annotation_table"],
    )


def downgrade() -> None:
    op.drop_table("segmentation_table_metadata")
    op.drop_table("annotation_table_metadata")
