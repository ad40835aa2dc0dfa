"""Version databases keep the name they were built under (``{prefix}{datastack}__mat{N}``), so
expiry, recovery and queries find them whatever the prefix is set to later. Older rows stay null:
they were all named ``{datastack}__mat{N}``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("database", sa.String(63)))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("database")
