"""The Store port and its two backends."""

from __future__ import annotations

from fixative.clock import Clock, utc_now
from fixative.store.base import Store
from fixative.store.model import NewTable, TableInfo


def open_store(url: str, clock: Clock = utc_now, *, migrate: bool = True) -> Store:
    """Open the live database at ``url`` (sqlite:/// or postgresql://), migrated to the latest
    schema."""
    store: Store
    if url.startswith("sqlite"):
        from fixative.store.sqlite import SqliteStore

        store = SqliteStore.open(url, clock)
    else:
        from fixative.store.postgres import PostgresStore, ensure_database

        ensure_database(url)
        store = PostgresStore.open(url, clock)
    if migrate:
        store.migrate()
    return store


__all__ = ["NewTable", "Store", "TableInfo", "open_store"]
