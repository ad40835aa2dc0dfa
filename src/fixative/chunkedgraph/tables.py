"""The embedded chunkedgraph's tables, on the shared metadata (migration ``0002`` creates them).

Every table is keyed by ``table_id`` (the chunkedgraph table name), so several graphs share one
database. Ids are signed 64-bit columns (``fixative.ids`` converts); instants are aware UTC.

- ``cg_graphs``: one row per graph, the row edits lock (``FOR UPDATE`` on PostgreSQL). It holds
  the build instant and the two counters (last operation id, next root counter).
- ``cg_operations``: the operation log (kind, user, instant, undo/redo target, details as JSON).
- ``cg_roots``: every root ever minted, with the operation that created it (0 = the build) and,
  once superseded, the operation and instant that expired it.
- ``cg_lineage``: old root -> new root edges, with the operation.
- ``cg_assignments``: supervoxel -> root intervals; a row (sv, root, operation, valid_from) holds
  from ``valid_from`` until the supervoxel's next row.
- ``cg_edges``: supervoxel edges valid over operations [added_operation_id, removed_operation_id).
"""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store.tables import metadata
from fixative.store.types import UtcDateTime

TABLE_ID_LENGTH = 96

cg_graphs = sa.Table(
    "cg_graphs",
    metadata,
    sa.Column("table_id", sa.String(TABLE_ID_LENGTH), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("last_operation_id", sa.BigInteger, nullable=False),
    sa.Column("next_root_counter", sa.BigInteger, nullable=False),
)

cg_operations = sa.Table(
    "cg_operations",
    metadata,
    sa.Column("table_id", sa.String(TABLE_ID_LENGTH), primary_key=True),
    sa.Column("operation_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("target_operation_id", sa.BigInteger),
    sa.Column("extra", sa.JSON, nullable=False),
)

cg_roots = sa.Table(
    "cg_roots",
    metadata,
    sa.Column("table_id", sa.String(TABLE_ID_LENGTH), primary_key=True),
    sa.Column("root_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("operation_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expired_operation_id", sa.BigInteger),
    sa.Column("expired_at", UtcDateTime),
    sa.Index("ix_cg_roots_operation", "table_id", "operation_id"),
)

cg_lineage = sa.Table(
    "cg_lineage",
    metadata,
    sa.Column("table_id", sa.String(TABLE_ID_LENGTH), primary_key=True),
    sa.Column("old_root_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("new_root_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("operation_id", sa.BigInteger, nullable=False),
    sa.Index("ix_cg_lineage_operation", "table_id", "operation_id"),
    sa.Index("ix_cg_lineage_new_root", "table_id", "new_root_id"),
)

cg_assignments = sa.Table(
    "cg_assignments",
    metadata,
    sa.Column("table_id", sa.String(TABLE_ID_LENGTH), primary_key=True),
    sa.Column("supervoxel_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("operation_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_id", sa.BigInteger, nullable=False),
    sa.Column("valid_from", UtcDateTime, nullable=False),
    sa.Index("ix_cg_assignments_operation", "table_id", "operation_id"),
    sa.Index("ix_cg_assignments_root", "table_id", "root_id"),
)

cg_edges = sa.Table(
    "cg_edges",
    metadata,
    sa.Column("table_id", sa.String(TABLE_ID_LENGTH), primary_key=True),
    sa.Column("supervoxel_a", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("supervoxel_b", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("added_operation_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("removed_operation_id", sa.BigInteger),
    sa.Index("ix_cg_edges_added", "table_id", "added_operation_id"),
    sa.Index("ix_cg_edges_removed", "table_id", "removed_operation_id"),
)

ALL_TABLES = (cg_graphs, cg_operations, cg_roots, cg_lineage, cg_assignments, cg_edges)
