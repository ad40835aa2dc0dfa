"""Root-id histories: every segmentation table gets its ``{seg}__history``, filled with one open
interval per row, from the instant its roots are valid at (``last_updated``, or the table's
creation when they never were updated).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.schemas import get_schema
from fixative.store import tables as t
from fixative.store.root_history import backfill, create_history_table

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    seg, ann = t.segmentation_table_metadata, t.annotation_table_metadata
    rows = conn.execute(
        sa.select(seg.c.table_name, seg.c.last_updated, seg.c.created, ann.c.schema_type).join(
            ann, ann.c.table_name == seg.c.annotation_table
        )
    ).all()
    existing = set(sa.inspect(conn).get_table_names())
    for row in rows:
        if row.table_name not in existing:
            continue  # its annotation table was dropped by hand
        if t.history_table_name(row.table_name) not in existing:
            create_history_table(conn, row.table_name, get_schema(row.schema_type))
        backfill(conn, row.table_name, row.last_updated or row.created)
        conn.exec_driver_sql(f'ANALYZE "{t.history_table_name(row.table_name)}"')


def downgrade() -> None:
    conn = op.get_bind()
    names = conn.execute(sa.select(t.segmentation_table_metadata.c.table_name)).scalars()
    for name in names:
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{t.history_table_name(name)}"')
