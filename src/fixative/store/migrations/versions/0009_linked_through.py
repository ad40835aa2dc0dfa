"""The instant up to which every annotation of a table has its segmentation row, so ingest looks
for unlinked rows only among the annotations created after it (NULL: look everywhere, once).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fixative.store.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segmentation_table_metadata") as batch:
        batch.add_column(sa.Column("linked_through", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segmentation_table_metadata") as batch:
        batch.drop_column("linked_through")
