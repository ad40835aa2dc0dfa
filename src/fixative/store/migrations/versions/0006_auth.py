"""API tokens (hashes only) and user groups.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import IdType, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("datastack", sa.String(64), nullable=False),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("revoked", UtcDateTime),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("group_name", sa.String(128), primary_key=True),
    )
    op.create_index("ix_user_groups_group_name", "user_groups", ["group_name"])


def downgrade() -> None:
    op.drop_table("user_groups")
    op.drop_table("api_tokens")
