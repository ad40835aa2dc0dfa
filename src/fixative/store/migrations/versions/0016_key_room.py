"""Room in the primary keys of segmentation tables and their histories for what root updates
insert (``tables.KEY_FILLFACTOR``, PostgreSQL). Only the setting changes: pages split from now on
keep the room, and ``REINDEX TABLE`` gives it to every page of a table at once (minutes for a
table of 100M rows, so it is left to the operator).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store import tables as t

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _tables(conn: sa.Connection) -> list[str]:
    """The segmentation tables and histories there."""
    names = conn.execute(sa.select(t.segmentation_table_metadata.c.table_name)).scalars().all()
    existing = set(sa.inspect(conn).get_table_names())
    wanted = [name for seg in names for name in (seg, t.history_table_name(seg))]
    return [name for name in wanted if name in existing]


def upgrade() -> None:
    conn = op.get_bind()
    for name in _tables(conn):
        t.leave_key_room(conn, name)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for name in _tables(conn):
        key = t.primary_key_index(conn, name)
        conn.exec_driver_sql(f"ALTER INDEX {key} RESET (fillfactor)")
