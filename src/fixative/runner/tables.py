"""The ``workflow_runs`` table (on the shared metadata; migrations 0004 and 0005)."""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store.tables import metadata
from fixative.store.types import IdType, UtcDateTime

workflow_runs = sa.Table(
    "workflow_runs",
    metadata,
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
    sa.Column("started", UtcDateTime),
    sa.Column("heartbeat", UtcDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("result", sa.Text),
    sa.Index("ix_workflow_runs_created", "created"),
    sa.Index("ix_workflow_runs_status", "status"),
)
