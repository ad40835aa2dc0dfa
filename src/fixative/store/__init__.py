"""The Store port and its two backends."""

from __future__ import annotations

from fixative.clock import Clock, utc_now
from fixative.store.base import Store
from fixative.store.model import NewTable, TableInfo


def open_store(
    url: str, clock: Clock = utc_now, *, migrate: bool = True, create: bool = True
) -> Store:
    """Open the live database at ``url`` (sqlite:/// or postgresql://), migrated to the latest
    schema. ``create=False`` raises NotFound for a database that does not exist or that Fixative
    never set up, instead of creating or initializing it (an older Fixative schema is still
    upgraded)."""
    from fixative.store import presence

    store: Store
    if url.startswith("sqlite"):
        from fixative.store.sqlite import SqliteStore

        if not create:
            presence.require_sqlite_file(url)
        store = SqliteStore.open(url, clock)
    else:
        from fixative.store.postgres import PostgresStore, ensure_database

        if create:
            ensure_database(url)
        store = PostgresStore.open(url, clock)
    if not create:
        try:
            presence.require_schema(store, url)
        except Exception:
            store.dispose()
            raise
    if migrate:
        store.migrate()
    return store


__all__ = ["NewTable", "Store", "TableInfo", "open_store"]
