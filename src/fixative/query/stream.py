"""Reading a version database batch by batch, each batch at most ``batch_rows`` rows.

- PostgreSQL: ADBC, Arrow-native. A parameterised query through ADBC comes back whole, so the
  statement is opened as a server-side cursor (``DECLARE ... CURSOR FOR <query>`` with bound
  ``$n`` parameters) and read with ``FETCH batch_rows`` (plain protocol, no COPY wrapper).
  Connections come from a small pool per version database, each checked before use; a lost
  connection is a ``Transient`` (503), and a read that lost it before any batch was handed
  out is run again once on a fresh one.
- SQLite: the pooled connection's DB-API cursor, ``fetchmany(batch_rows)``, each batch built
  column-wise.

A ``RawCursor`` holds its connection until ``close()``, which is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg

from fixative.errors import InvalidInput, Transient, Unprocessable
from fixative.store.base import Store
from fixative.versions import open_version
from fixative.versions.model import VersionInfo
from fixative.versions.target import target_for

CURSOR = "fixative_query"
PG_POOL_SIZE = 4
PG_POOL_OVERFLOW = 8
RANDOM_PAGE_COST = 1.1
T = TypeVar("T")


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


class PostgresCursor:
    """A server-side cursor on a pooled connection. A connection found lost before the first
    batch was handed out is dropped and the statement run again once on a fresh one (the read
    is idempotent and nothing has been sent); a second loss, or one mid-stream, is a
    ``Transient``."""

    def __init__(self, pool: sa.pool.Pool, sql: str, params: list[Any], n: int) -> None:
        self._pool = pool
        self._sql = sql
        self._params = params
        self._n = n
        self._conn: Any = None
        self._cur: Any = None
        self._closed = False
        self._started = False  # a batch has been handed out: no more retries
        self._retried = False
        self._run(self._declare)

    def _declare(self) -> None:
        self._conn = self._pool.connect()
        self._cur = self._conn.cursor()
        self._cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
        self._cur.execute(
            f"DECLARE {CURSOR} NO SCROLL CURSOR FOR {self._sql}", self._params or None
        )

    def _fetch_table(self) -> pa.Table:
        if self._conn is None:
            self._declare()
        self._cur.execute(f"FETCH {int(self._n)} FROM {CURSOR}")
        return self._cur.fetch_arrow_table()

    def _run(self, step: Callable[[], T]) -> T:
        try:
            return step()
        except Exception as exc:
            lost = is_lost(exc)
            self._drop(lost)
            if not lost or self._started or self._retried:
                self._closed = True
                raise _mapped(exc) from exc
        self._retried = True
        try:
            return step()
        except Exception as exc:
            self._drop(is_lost(exc))
            self._closed = True
            raise _mapped(exc) from exc

    def fetch(self) -> list[pa.Array] | None:
        if self._closed:
            return None
        table = self._run(self._fetch_table)
        self._started = True
        if table.num_rows == 0:
            return None
        return [table.column(i).combine_chunks() for i in range(table.num_columns)]

    def _drop(self, lost: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if lost:  # closed and out of the pool, never handed out again
            conn.invalidate()
            return
        try:
            if self._cur is not None:
                self._cur.close()
        finally:
            conn.close()  # back to the pool, rolled back (which closes the cursor)

    def close(self) -> None:
        self._closed = True
        self._drop(False)


def is_lost(exc: BaseException) -> bool:
    """The connection or the server went away (terminated backend, restart, refused connect)."""
    from adbc_driver_manager import OperationalError

    if "statement timeout" in str(exc):
        return False
    return isinstance(exc, OperationalError | sa.exc.DisconnectionError)


def _mapped(exc: Exception) -> Exception:
    text = str(exc)
    if "regular expression" in text:
        return InvalidInput(f"bad regex filter: {text.splitlines()[0]}")
    if "statement timeout" in text:
        return Unprocessable(
            "the query ran longer than this server's query_timeout_s and was cancelled; "
            "narrow it with filters or a limit"
        )
    if is_lost(exc):
        return Transient(
            f"version database unavailable ({text.splitlines()[0][:200]}); retry later"
        )
    return exc


def _ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Check a pooled connection before handing it out; a dead one is replaced by the pool."""
    try:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            cur.close()
    except Exception as exc:
        if is_lost(exc):
            raise sa.exc.DisconnectionError(str(exc)) from exc
        raise


class PostgresVersion:
    dialect_name = "postgresql"

    def __init__(self, store: Store, info: VersionInfo, timeout_s: float | None = None) -> None:
        # SQL with $1-style placeholders, as ADBC binds them
        self.dialect: sa.Dialect = psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        # a history version is read from the live database itself
        where = target_for(store).url(info.database) if info.copied else store.engine.url
        url = sa.make_url(where).set(drivername="postgresql")
        self._uri = url.render_as_string(hide_password=False)
        # cursors are read to the end, so plan them for all their rows (the default 0.1 chose
        # a whole-table walk in id order over the root-id index for a 100-root filter)
        options = "-c cursor_tuple_fraction=1"
        # a served table is hot in memory or on SSD: PostgreSQL's default random_page_cost (4,
        # for spinning disks) priced 9,000 primary-key probes above a sequential scan of a
        # 1M-row table, so a cursor (never parallel) hash-joined a history version's 100-root
        # query with the whole annotation table: 286 ms against 42 ms probing
        options += f" -c random_page_cost={RANDOM_PAGE_COST}"
        if timeout_s is not None:  # every statement of these sessions is cancelled after it
            options += f" -c statement_timeout={max(1, int(timeout_s * 1000))}"
        self._uri += ("&" if "?" in self._uri else "?") + f"options={quote(options)}"
        self._pool = sa.pool.QueuePool(
            self._connect, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW
        )
        sa.event.listen(self._pool, "checkout", _ping)

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
        try:
            return self._scalar(sql, params)
        except Exception as exc:
            if not is_lost(exc):
                raise _mapped(exc) from exc
        try:  # once more on a fresh connection: a count is idempotent
            return self._scalar(sql, params)
        except Exception as exc:
            raise _mapped(exc) from exc

    def _scalar(self, sql: str, params: list[Any]) -> int:
        conn: Any = self._pool.connect()
        try:
            cur = conn.cursor()
            try:
                cur.execute(sql, params or None)
                row = cur.fetchone()
            finally:
                cur.close()
        except Exception as exc:
            if is_lost(exc):
                conn.invalidate()
            else:
                conn.close()
            raise
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
