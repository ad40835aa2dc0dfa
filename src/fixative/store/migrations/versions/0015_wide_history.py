"""Root-id histories carry the annotation's columns: each interval becomes a whole version row
(``created``, ``deleted``, the fields, the supervoxel and root ids), so a version query reads one
table through its own root indexes instead of joining the annotation table per row.
Every history is rebuilt from its narrow form joined with its annotation table.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.schemas import get_schema
from fixative.store import tables as t
from fixative.store.root_history import create_history_table, stored_columns
from fixative.store.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NARROW = "fixative_narrow_history"


def upgrade() -> None:
    conn = op.get_bind()
    seg, ann = t.segmentation_table_metadata, t.annotation_table_metadata
    rows = conn.execute(
        sa.select(seg.c.table_name, seg.c.annotation_table, ann.c.schema_type).join(
            ann, ann.c.table_name == seg.c.annotation_table
        )
    ).all()
    existing = set(sa.inspect(conn).get_table_names())
    for row in rows:
        history = t.history_table_name(row.table_name)
        if history not in existing or row.annotation_table not in existing:
            continue  # dropped by hand
        if "created" in stored_columns(conn, history):
            continue  # already wide
        linked = [c for c in stored_columns(conn, history) if c not in ("id",)]
        conn.exec_driver_sql(f'CREATE TABLE {NARROW} AS SELECT * FROM "{history}"')
        conn.exec_driver_sql(f'DROP TABLE "{history}"')
        create_history_table(conn, row.table_name, get_schema(row.schema_type))
        own = [c for c in stored_columns(conn, history) if c not in linked and c != "id"]
        names = ", ".join(f'"{c}"' for c in (*own, *linked))
        picked = ", ".join([*(f'a."{c}"' for c in own), *(f'h."{c}"' for c in linked)])
        conn.exec_driver_sql(
            f'INSERT INTO "{history}" (id, {names}) SELECT h.id, {picked} '
            f'FROM {NARROW} AS h JOIN "{row.annotation_table}" AS a ON a.id = h.id'
        )
        conn.exec_driver_sql(f"DROP TABLE {NARROW}")
        conn.exec_driver_sql(f'ANALYZE "{history}"')


def downgrade() -> None:
    """Back to the narrow history: ``id``, the supervoxel and root ids, the interval."""
    conn = op.get_bind()
    existing = set(sa.inspect(conn).get_table_names())
    names = conn.execute(sa.select(t.segmentation_table_metadata.c.table_name)).scalars().all()
    for name in names:
        history = t.history_table_name(name)
        if history not in existing or name not in existing:
            continue
        linked = [c for c in stored_columns(conn, name) if c != "id"]
        kept = ", ".join(f'"{c}"' for c in ("id", *linked, "valid_from", "valid_to"))
        conn.exec_driver_sql(f'CREATE TABLE {NARROW} AS SELECT {kept} FROM "{history}"')
        conn.exec_driver_sql(f'DROP TABLE "{history}"')
        columns: list[sa.schema.SchemaItem] = [sa.Column("id", sa.BigInteger, primary_key=True)]
        columns += [sa.Column(c, sa.BigInteger) for c in linked]
        columns += [
            sa.Column("valid_from", UtcDateTime, primary_key=True),
            sa.Column("valid_to", UtcDateTime),
        ]
        columns += [
            sa.Index(t.index_name("ix", history, c), c) for c in linked if c.endswith("_root_id")
        ]
        sa.Table(history, sa.MetaData(), *columns).create(conn)
        conn.exec_driver_sql(f'INSERT INTO "{history}" ({kept}) SELECT {kept} FROM {NARROW}')
        conn.exec_driver_sql(f"DROP TABLE {NARROW}")
