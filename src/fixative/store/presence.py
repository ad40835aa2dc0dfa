"""Whether a live database exists and holds Fixative's tables, asked without creating it.

SQLAlchemy creates a SQLite file on first connect, and ``ensure_database`` creates a missing
PostgreSQL database; commands that only read or work on an existing database must instead say
that the URL names nothing (a mistyped URL would otherwise leave an empty database behind)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from fixative.errors import NotFound
from fixative.store.base import Store

VERSION_TABLE = "fixative_alembic_version"  # alembic's table (store/migrations/env.py)


def shown(url: str) -> str:
    """The URL as it may be printed: no password; a SQLite URL as its file."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        return str(Path(path).resolve()) if path and path != ":memory:" else url
    return parsed.render_as_string(hide_password=True)


def require_sqlite_file(url: str) -> None:
    """NotFound unless the SQLite file of ``url`` exists (an in-memory URL always does)."""
    path = sa.make_url(url).database
    if path and path != ":memory:" and not Path(path).is_file():
        raise NotFound(f"database {shown(url)} does not exist")


def require_schema(store: Store, url: str) -> None:
    """NotFound when the database is missing (PostgreSQL: connecting says so) or exists but was
    never set up by Fixative (no migration table: perhaps another application's database). An
    older Fixative schema passes: opening it upgrades it."""
    try:
        with store.engine.connect() as conn:
            migrated = sa.inspect(conn).has_table(VERSION_TABLE)
    except sa.exc.OperationalError as exc:
        if "does not exist" in str(exc.orig):
            raise NotFound(f"database {shown(url)} does not exist") from None
        raise
    if not migrated:
        raise NotFound(f"database {shown(url)} exists but holds no Fixative tables")
