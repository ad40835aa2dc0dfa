"""The embedded chunkedgraph: graphs, operation log, roots, lineage, assignments, edges.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE_ID = sa.String(96)


def _table_id() -> sa.Column[str]:
    return sa.Column("table_id", TABLE_ID, primary_key=True)


def _key(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, primary_key=True, autoincrement=False)


def upgrade() -> None:
    _create_log_tables()
    _create_state_tables()


def _create_log_tables() -> None:
    """The graph rows and the operation log."""
    op.create_table(
        "cg_graphs",
        _table_id(),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("last_operation_id", sa.BigInteger, nullable=False),
        sa.Column("next_root_counter", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "cg_operations",
        _table_id(),
        _key("operation_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("timestamp", UtcDateTime, nullable=False),
        sa.Column("target_operation_id", sa.BigInteger),
        sa.Column("extra", sa.JSON, nullable=False),
    )


def _create_state_tables() -> None:
    """Roots, lineage, supervoxel assignments and edges, each with its operation ids."""
    op.create_table(
        "cg_roots",
        _table_id(),
        _key("root_id"),
        sa.Column("operation_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expired_operation_id", sa.BigInteger),
        sa.Column("expired_at", UtcDateTime),
    )
    op.create_index("ix_cg_roots_operation", "cg_roots", ["table_id", "operation_id"])
    op.create_table(
        "cg_lineage",
        _table_id(),
        _key("old_root_id"),
        _key("new_root_id"),
        sa.Column("operation_id", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_cg_lineage_operation", "cg_lineage", ["table_id", "operation_id"])
    op.create_index("ix_cg_lineage_new_root", "cg_lineage", ["table_id", "new_root_id"])
    op.create_table(
        "cg_assignments",
        _table_id(),
        _key("supervoxel_id"),
        _key("operation_id"),
        sa.Column("root_id", sa.BigInteger, nullable=False),
        sa.Column("valid_from", UtcDateTime, nullable=False),
    )
    op.create_index("ix_cg_assignments_operation", "cg_assignments", ["table_id", "operation_id"])
    op.create_index("ix_cg_assignments_root", "cg_assignments", ["table_id", "root_id"])
    op.create_table(
        "cg_edges",
        _table_id(),
        _key("supervoxel_a"),
        _key("supervoxel_b"),
        _key("added_operation_id"),
        sa.Column("removed_operation_id", sa.BigInteger),
    )
    op.create_index("ix_cg_edges_added", "cg_edges", ["table_id", "added_operation_id"])
    op.create_index("ix_cg_edges_removed", "cg_edges", ["table_id", "removed_operation_id"])


def downgrade() -> None:
    for name in (
        "cg_edges",
        "cg_assignments",
        "cg_lineage",
        "cg_roots",
        "cg_operations",
        "cg_graphs",
    ):
        op.drop_table(name)
