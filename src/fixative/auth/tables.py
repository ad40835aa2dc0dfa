"""The ``api_tokens`` and ``user_groups`` tables (on the shared metadata; migration 0006)."""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store.tables import metadata
from fixative.store.types import IdType, UtcDateTime

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("datastack", sa.String(64), nullable=False),
    sa.Column("permission", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("revoked", UtcDateTime),
    sa.Index("ix_api_tokens_user_id", "user_id"),
)

user_groups = sa.Table(
    "user_groups",
    metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("group_name", sa.String(128), primary_key=True),
    sa.Index("ix_user_groups_group_name", "group_name"),
)
