"""The ``view_definitions`` table (on the shared metadata; migration 0012): one row per view a
datastack defines. ``sql`` is the definition as written; it is checked again against the tables'
metadata whenever the view is read, so a view never reads what its tables no longer hold."""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store.tables import metadata
from fixative.store.types import IdType, UtcDateTime

view_definitions = sa.Table(
    "view_definitions",
    metadata,
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
