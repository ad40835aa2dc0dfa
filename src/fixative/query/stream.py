"""Reading a version database batch by batch, each batch at most ``batch_rows`` rows.

- PostgreSQL: ADBC, Arrow-native. A parameterised query through ADBC comes back whole, so the
  statement is opened as a server-side cursor (``DECLARE ... CURSOR FOR <query>`` with bound
  ``$n`` parameters) and read with ``FETCH batch_rows`` (plain protocol, no COPY wrapper).
  Connections come from a small pool per version database.
- SQLite: the pooled connection's DB-API cursor, ``fetchmany(batch_rows)``, each batch built
  column-wise.

A ``RawCursor`` holds its connection until ``close()``, which is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg

from fixative.errors import InvalidInput, Unprocessable
from fixative.store.base import Store
from fixative.versions import open_version
from fixative.versions.model import VersionInfo
from fixative.versions.target import target_for

CURSOR = "fixative_query"
PG_POOL_SIZE = 4
PG_POOL_OVERFLOW = 8


class RawCursor(Protocol):
    def fetch(self) -> list[pa.Array] | None: ...

    def close(self) -> None: ...


def compile_sql(query: sa.Select[Any], dialect: sa.Dialect) -> tuple[str, list[Any]]:
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup or []
    return compiled.string, [compiled.params[n] for n in names]


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
        self.engine = open_version(store, info.datastack, info.version, version_dir=version_dir)

    def open_cursor(
        self, query: sa.Select[Any], types: Sequence[pa.DataType], batch_rows: int
    ) -> RawCursor:
        sql, params = compile_sql(query, self.engine.dialect)
        return SqliteCursor(self.engine, sql, params, types, batch_rows)

    def scalar(self, query: sa.Select[Any]) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()


class PostgresCursor:
    def __init__(self, pool: sa.pool.Pool, sql: str, params: list[Any], n: int) -> None:
        self._n = n
        self._conn: Any = pool.connect()
        try:
            self._cur = self._conn.cursor()
            self._cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
            self._cur.execute(f"DECLARE {CURSOR} NO SCROLL CURSOR FOR {sql}", params or None)
        except Exception as exc:
            self.close()
            raise _mapped(exc) from exc

    def fetch(self) -> list[pa.Array] | None:
        if self._conn is None:
            return None
        try:
            self._cur.execute(f"FETCH {int(self._n)} FROM {CURSOR}")
            table = self._cur.fetch_arrow_table()
        except Exception as exc:
            self.close()
            raise _mapped(exc) from exc
        if table.num_rows == 0:
            return None
        return [table.column(i).combine_chunks() for i in range(table.num_columns)]

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                self._cur.close()
            finally:
                conn.close()  # back to the pool, rolled back (which closes the cursor)


def _mapped(exc: Exception) -> Exception:
    text = str(exc)
    if "regular expression" in text:
        return InvalidInput(f"bad regex filter: {text.splitlines()[0]}")
    if "statement timeout" in text:
        return Unprocessable(
            "the query ran longer than this server's query_timeout_s and was cancelled; "
            "narrow it with filters or a limit"
        )
    return exc


class PostgresVersion:
    dialect_name = "postgresql"

    def __init__(self, store: Store, info: VersionInfo, timeout_s: float | None = None) -> None:
        # SQL with $1-style placeholders, as ADBC binds them
        self.dialect: sa.Dialect = psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        url = sa.make_url(target_for(store).url(info.database)).set(drivername="postgresql")
        self._uri = url.render_as_string(hide_password=False)
        # cursors are read to the end, so plan them for all their rows (the default 0.1 chose
        # a whole-table walk in id order over the root-id index for a 100-root filter)
        options = "-c cursor_tuple_fraction=1"
        if timeout_s is not None:  # every statement of these sessions is cancelled after it
            options += f" -c statement_timeout={max(1, int(timeout_s * 1000))}"
        self._uri += ("&" if "?" in self._uri else "?") + f"options={quote(options)}"
        self._pool = sa.pool.QueuePool(
            self._connect, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW
        )

    def _connect(self) -> Any:
        import adbc_driver_postgresql.dbapi

        return adbc_driver_postgresql.dbapi.connect(self._uri)

    def open_cursor(
        self, query: sa.Select[Any], types: Sequence[pa.DataType], batch_rows: int
    ) -> RawCursor:
        sql, params = compile_sql(query, self.dialect)
        return PostgresCursor(self._pool, sql, params, batch_rows)

    def scalar(self, query: sa.Select[Any]) -> int:
        sql, params = compile_sql(query, self.dialect)
        conn: Any = self._pool.connect()
        try:
            cur = conn.cursor()
            try:
                cur.execute(sql, params or None)
                row = cur.fetchone()
            finally:
                cur.close()
        except Exception as exc:
            raise _mapped(exc) from exc
        finally:
            conn.close()
        return int(row[0])

    def dispose(self) -> None:
        self._pool.dispose()


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
