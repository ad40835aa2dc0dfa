"""The ``idempotency_keys`` table (on the shared metadata; migration 0008): one row per key a
user sent with a write, holding the request's fingerprint and the answer given."""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store.tables import metadata
from fixative.store.types import UtcDateTime

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Index("ix_idempotency_keys_created", "created"),
)
