"""Workflow runs: kind, parameters, status, progress, timings, errors.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import IdType, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_runs",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("datastack", sa.String(64)),
        sa.Column("params", sa.Text, nullable=False, server_default="{}"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("finished", UtcDateTime),
        sa.Column("error", sa.Text),
        sa.Column("traceback", sa.Text),
        sa.Column("builder", sa.String(128)),
    )
    op.create_index("ix_workflow_runs_created", "workflow_runs", ["created"])


def downgrade() -> None:
    op.drop_table("workflow_runs")
