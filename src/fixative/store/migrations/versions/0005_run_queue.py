"""Workflow runs as a queue: a run is recorded QUEUED when submitted and claimed by the process
that runs it; ``heartbeat`` tells a live claim from a dead one across machines, ``attempts``
counts claims (a redelivered task takes over a dead run), ``result`` keeps what the run made.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(sa.Column("started", UtcDateTime))
        batch.add_column(sa.Column("heartbeat", UtcDateTime))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("result", sa.Text))
    op.create_index("ix_workflow_runs_status", "workflow_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_workflow_runs_status", "workflow_runs")
    with op.batch_alter_table("workflow_runs") as batch:
        for name in ("result", "attempts", "heartbeat", "started"):
            batch.drop_column(name)
