"""The ``cg_`` tables: migration 0002 and the table definitions agree on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fixative.chunkedgraph import tables
from fixative.store import Store
from fixative.store.tables import metadata


def _mentions_cg(diff: object) -> bool:
    return "cg_" in repr(diff)


def test_migration_matches_table_definitions(store: Store) -> None:
    assert all(t.metadata is metadata for t in tables.ALL_TABLES)
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if _mentions_cg(d)] == []
    with store.read() as conn:
        names = set(conn.dialect.get_table_names(conn))
    assert {t.name for t in tables.ALL_TABLES} <= names
