"""SQLite versions: one file per version, filled through ``ATTACH`` on a connection to the live
file. The copy holds only a read snapshot of the live database (WAL readers never block writers);
every write goes to the attached version file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from fixative.errors import Conflict, SettingsError
from fixative.store.base import Store
from fixative.store.sqlite import rtree_name
from fixative.store.types import sqlite_time
from fixative.versions.flat import FlatTable
from fixative.versions.model import Report, TableCopy, quote

ALIAS = "fixative_version"


def default_version_dir(store: Store) -> Path:
    path = store.engine.url.database
    if not path or path == ":memory:":
        raise SettingsError("an in-memory SQLite store needs an explicit version_dir")
    return Path(path).parent / "versions"


class SqliteVersionTarget:
    def __init__(self, store: Store, version_dir: Path | None = None) -> None:
        self.store = store
        self.version_dir = version_dir if version_dir is not None else default_version_dir(store)

    def path(self, name: str) -> Path:
        quote(name)
        return self.version_dir / f"{name}.sqlite"

    def url(self, name: str) -> str:
        return f"sqlite:///file:{self.path(name)}?mode=ro&uri=true"

    def open(self, name: str) -> sa.Engine:
        return sa.create_engine(self.url(name))

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def create(self, name: str) -> None:
        path = self.path(name)
        if path.exists():
            raise Conflict(f"version file {path} already exists")
        self.version_dir.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()

    def drop(self, name: str) -> None:
        path = self.path(name)
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def copy(
        self, name: str, plans: Sequence[FlatTable], at: datetime, report: Report
    ) -> list[TableCopy]:
        raw = self.store.engine.raw_connection()
        try:
            db = raw.driver_connection
            assert isinstance(db, sqlite3.Connection)
            db.execute(f"ATTACH DATABASE ? AS {ALIAS}", (str(self.path(name)),))
            try:
                db.execute(f"PRAGMA {ALIAS}.journal_mode=OFF")
                db.execute(f"PRAGMA {ALIAS}.synchronous=OFF")
                copies = []
                for done, plan in enumerate(plans, start=1):
                    copies.append(self._copy_table(db, plan, at))
                    report(done, len(plans))
                return copies
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.execute(f"DETACH DATABASE {ALIAS}")
        finally:
            raw.close()

    def _copy_table(self, db: sqlite3.Connection, plan: FlatTable, at: datetime) -> TableCopy:
        """Count and copy in one read snapshot of the live file, then index, in one transaction
        on the version file."""
        table = plan.version_table(sa.MetaData(), schema=ALIAS, primary_key=True)
        db.execute(str(CreateTable(table).compile(dialect=self.store.engine.dialect)))
        instant = sqlite_time(at)
        target = f"{ALIAS}.{quote(plan.name)}"
        cols = ", ".join(quote(c) for c in plan.column_names())
        db.execute("BEGIN")
        live_count = db.execute(plan.count_sql("?"), (instant, instant)).fetchone()[0]
        db.execute(
            f'INSERT INTO {target} ({cols}) {plan.visible_sql("?")} ORDER BY a."id"',
            (instant, instant),
        )
        for index, column in plan.btree_indexes():
            db.execute(
                f"CREATE INDEX {ALIAS}.{quote(index)} ON {quote(plan.name)} ({quote(column)})"
            )
        self._spatial_index(db, plan)
        version_count = db.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        db.execute("COMMIT")
        return TableCopy(plan.name, plan.schema.name, int(live_count), int(version_count))

    @staticmethod
    def _spatial_index(db: sqlite3.Connection, plan: FlatTable) -> None:
        """One R*Tree per point, named as on the live database, filled from the loaded rows."""
        for p in plan.schema.points:
            rtree = f"{ALIAS}.{quote(rtree_name(plan.name, p.name))}"
            x, y, z = (quote(c) for c in p.xyz_columns)
            db.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree_i32(id, x0, x1, y0, y1, z0, z1)")
            db.execute(
                f'INSERT INTO {rtree} SELECT "id", {x}, {x}, {y}, {y}, {z}, {z} '
                f"FROM {ALIAS}.{quote(plan.name)} WHERE {x} IS NOT NULL"
            )
