"""Reading a version database batch by batch, each batch at most ``batch_rows`` rows.

- PostgreSQL: ADBC, Arrow-native, as binary COPY or a server-side cursor (``pgstream``).
- SQLite: the pooled connection's DB-API cursor, ``fetchmany(batch_rows)``, each batch built
  column-wise.

A ``RawCursor`` holds its connection until ``close()``, which is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import sqlalchemy as sa

from fixative.query.pgstream import PostgresVersion, compile_sql
from fixative.store.base import Store
from fixative.versions import open_version
from fixative.versions.model import VersionInfo


class RawCursor(Protocol):
    def fetch(self) -> list[pa.Array] | None: ...

    def close(self) -> None: ...


class VersionDatabase(Protocol):
    dialect_name: str

    def open_cursor(
        self, query: sa.Select[Any], types: Sequence[pa.DataType], batch_rows: int
    ) -> RawCursor: ...

    def scalar(self, query: sa.Select[Any]) -> int: ...

    def dispose(self) -> None: ...


class SqliteCursor:
    def __init__(
        self, engine: sa.Engine, sql: str, params: list[Any], types: Sequence[pa.DataType], n: int
    ) -> None:
        self._types = list(types)
        self._n = n
        self._conn: Any = engine.raw_connection()
        try:
            self._cur = self._conn.cursor()
            self._cur.execute(sql, params)
        except Exception:
            self._conn.close()
            self._conn = None
            raise

    def fetch(self) -> list[pa.Array] | None:
        if self._conn is None:
            return None
        rows = self._cur.fetchmany(self._n)
        if not rows:
            return None
        return [
            _column(col, t) for col, t in zip(zip(*rows, strict=True), self._types, strict=True)
        ]

    def close(self) -> None:
        if self._conn is not None:
            self._cur.close()
            self._conn.close()
            self._conn = None


def _column(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    if arrow_type == pa.bool_():
        return pa.array(values, pa.int64()).cast(pa.bool_())
    return pa.array(values, arrow_type)


class SqliteVersion:
    dialect_name = "sqlite"

    def __init__(self, store: Store, info: VersionInfo, version_dir: Path | None) -> None:
        self._own = info.copied  # a history version is read from the live file's engine
        self.engine = (
            open_version(store, info.datastack, info.version, version_dir=version_dir)
            if info.copied
            else store.engine
        )

    def open_cursor(
        self, query: sa.Select[Any], types: Sequence[pa.DataType], batch_rows: int
    ) -> RawCursor:
        sql, params = compile_sql(query, self.engine.dialect)
        return SqliteCursor(self.engine, sql, params, types, batch_rows)

    def scalar(self, query: sa.Select[Any]) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def dispose(self) -> None:
        if self._own:
            self.engine.dispose()


def open_version_database(
    store: Store,
    info: VersionInfo,
    version_dir: Path | None = None,
    timeout_s: float | None = None,
) -> VersionDatabase:
    """``timeout_s`` cancels longer statements on PostgreSQL (SQLite versions serve one machine
    and have no statement timeout)."""
    if store.dialect_name == "postgresql":
        return PostgresVersion(store, info, timeout_s)
    return SqliteVersion(store, info, version_dir)
