"""Where version databases live: the port both backends implement, and the choice between them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from fixative.store.base import Store
from fixative.versions.flat import FlatTable
from fixative.versions.model import Report, TableCopy


class VersionTarget(Protocol):
    """Creates, fills, finds and drops version databases named ``{datastack}__mat{N}``."""

    def create(self, name: str) -> None: ...

    def copy(
        self, name: str, plans: Sequence[FlatTable], at: datetime, report: Report
    ) -> list[TableCopy]: ...

    def drop(self, name: str) -> None: ...

    def exists(self, name: str) -> bool: ...

    def url(self, name: str) -> str: ...

    def open(self, name: str) -> sa.Engine: ...


def target_for(store: Store, version_dir: Path | None = None) -> VersionTarget:
    """The version target of ``store``'s backend (``version_dir`` matters on SQLite only)."""
    if store.dialect_name == "sqlite":
        from fixative.versions.sqlite import SqliteVersionTarget

        return SqliteVersionTarget(store, version_dir)
    from fixative.versions.postgres import PostgresVersionTarget

    return PostgresVersionTarget(store)
