"""Alembic environment: runs on the connection the Store hands over, never from a URL in a file."""

from __future__ import annotations

from alembic import context

from fixative.store.tables import all_metadata

metadata = all_metadata()

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="fixative_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
