"""Reading a PostgreSQL version database through ADBC, Arrow-native, batch by batch.

Two ways to stream a statement, chosen by its parameters:

- ``CopyCursor``, when it has none or only integers (a whole table, a limit, an offset, id and
  root-id filters: every bulk read). The integers are written into the SQL as literals (an
  integer bind's ``str(int)``, nothing else is ever inlined) and ADBC runs it as ``COPY (<query>)
  TO STDOUT (FORMAT BINARY)``, its default for a statement with no bound parameters: the server
  streams the rows while the client decodes them, with no round trip per batch (the first 1M
  rows of bench/query.py's version, 15 columns: 1.1-1.3 s by COPY against 2.3-2.6 s through
  the cursor, in the same minute).
- ``FetchCursor`` otherwise (strings, floats, a sample fraction): a parameterised query through
  ADBC comes back whole, so it is opened as a server-side cursor (``DECLARE ... CURSOR FOR
  <query>`` with bound ``$n`` parameters) and read with ``FETCH batch_rows``.

Both hand out batches of at most ``batch_rows`` rows with the driver's types (the same for
both: one type mapping per PostgreSQL type). Connections come from a small pool per version
database, each checked before use; a lost connection is a ``Transient`` (503), and a read that
lost it before any batch was handed out is run again once on a fresh one. ``close()`` is
idempotent; a COPY closed before its end is cancelled and its connection discarded (closing it
otherwise reads the rest of the table, and a late cancel could hit the pooled session's next
statement).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg

from fixative.errors import InvalidInput, Transient, Unprocessable
from fixative.store.base import Store
from fixative.versions.model import VersionInfo
from fixative.versions.target import target_for

CURSOR = "fixative_query"
PG_POOL_SIZE = 4
PG_POOL_OVERFLOW = 8
RANDOM_PAGE_COST = 1.1
# the driver's COPY batches (its default is 16 MiB): smaller ones start the response sooner
# and leave less to encode after the server has finished
COPY_BATCH_BYTES = 4 << 20
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
T = TypeVar("T")


def compile_sql(query: sa.Select[Any], dialect: sa.Dialect) -> tuple[str, list[Any]]:
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup or []
    return compiled.string, [compiled.params[n] for n in names]


def inlined_sql(query: sa.Select[Any], dialect: sa.Dialect) -> str | None:
    """The statement with its parameters written in as literals, when every one is an int64
    bound as an integer type; None when any is not (it keeps its ``$n`` binds)."""
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    for name in compiled.positiontup or []:
        value = compiled.params[name]
        integer = isinstance(compiled.binds[name].type, sa.Integer)
        if not integer or type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
            return None
    if not compiled.positiontup:
        return compiled.string
    literal = {"render_postcompile": True, "literal_binds": True}
    return query.compile(dialect=dialect, compile_kwargs=literal).string


class PooledRead:
    """A read on a pooled connection, with the retry and release rules of the module
    docstring. Subclasses open the read (``_open``) and read one table or batch (``_read``:
    None at the end)."""

    def __init__(self, pool: sa.pool.Pool, n: int) -> None:
        self._pool = pool
        self._n = n
        self._conn: Any = None
        self._cur: Any = None
        self._closed = False
        self._started = False  # a batch has been handed out: no more retries
        self._retried = False
        self._run(self._open)

    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> pa.Table | pa.RecordBatch | None:
        raise NotImplementedError

    def _checkout(self) -> None:
        self._conn = self._pool.connect()
        self._cur = self._conn.cursor()

    def _next(self) -> pa.Table | pa.RecordBatch | None:
        if self._conn is None:
            self._open()
        return self._read()

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
        table = self._run(self._next)
        self._started = True
        if table is None or table.num_rows == 0:
            self.close()
            return None
        if isinstance(table, pa.RecordBatch):
            return list(table.columns)
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


class FetchCursor(PooledRead):
    """A server-side cursor read ``FETCH batch_rows`` at a time (bound parameters)."""

    def __init__(self, pool: sa.pool.Pool, sql: str, params: list[Any], n: int) -> None:
        self._sql = sql
        self._params = params
        super().__init__(pool, n)

    def _open(self) -> None:
        self._checkout()
        self._cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
        self._cur.execute(
            f"DECLARE {CURSOR} NO SCROLL CURSOR FOR {self._sql}", self._params or None
        )

    def _read(self) -> pa.Table:
        self._cur.execute(f"FETCH {int(self._n)} FROM {CURSOR}")
        table: pa.Table = self._cur.fetch_arrow_table()
        return table


class CopyCursor(PooledRead):
    """A statement with no parameters, streamed by ADBC's binary COPY and read ahead on a
    thread of its own (``ReadAhead``); the driver's batches (sized in bytes) are cut to
    ``batch_rows``."""

    def __init__(self, pool: sa.pool.Pool, sql: str, n: int) -> None:
        self._sql = sql
        self._ahead: ReadAhead | None = None
        self._batch: pa.RecordBatch | None = None
        self._offset = 0
        super().__init__(pool, n)

    def _open(self) -> None:
        self._checkout()
        self._batch, self._offset = None, 0
        hint = {"adbc.postgresql.batch_size_hint_bytes": str(COPY_BATCH_BYTES)}
        self._cur.adbc_statement.set_options(**hint)
        self._cur.execute(self._sql)
        self._ahead = ReadAhead(_reader(self._cur))

    def _read(self) -> pa.RecordBatch | None:
        while self._batch is None or self._offset >= self._batch.num_rows:
            assert self._ahead is not None
            self._batch, self._offset = self._ahead.next(), 0
            if self._batch is None:
                return None  # read to the end: the connection goes back to the pool
        out = self._batch.slice(self._offset, self._n)
        self._offset += out.num_rows
        return out

    def _drop(self, lost: bool) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and self._conn is not None and not ahead.finished:
            try:  # the reader thread's read returns at once, with an error it drops
                self._cur.adbc_cancel()
            finally:
                ahead.stop()
                super()._drop(True)
            return
        if ahead is not None:
            ahead.stop()
        super()._drop(lost)


class ReadAhead:
    """Reads a batch reader on its own thread, at most ``depth`` batches ahead of the consumer:
    the server keeps producing, and the driver decoding (outside the GIL), while the consumer
    encodes and sends what it has. A COPY stops when its client stops reading, so without this
    the server and the encoder took turns. ``next()`` raises the reader's error where it
    happened in the stream; ``finished``: the reader's end or error was reached."""

    _END = object()

    def __init__(self, reader: Any, depth: int = 2) -> None:
        self._reader = reader
        self._queue: queue.Queue[Any] = queue.Queue(depth)
        self._stopping = threading.Event()
        self.finished = False
        self._thread = threading.Thread(target=self._run, name="fixative-copy-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                item = self._reader.read_next_batch()
            except StopIteration:
                item = self._END
            except BaseException as exc:  # handed to the consumer, raised there
                item = exc
            self._put(item)
            if item is self._END or isinstance(item, BaseException):
                return

    def _put(self, item: Any) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def next(self) -> pa.RecordBatch | None:
        item = self._queue.get()
        if item is self._END:
            self.finished = True
            return None
        if isinstance(item, BaseException):
            self.finished = True
            raise item
        batch: pa.RecordBatch = item
        return batch

    def stop(self) -> None:
        """Stop reading ahead (a pending read returns when the statement ends or is cancelled)
        and wait for the thread."""
        self._stopping.set()
        self._thread.join()


def _reader(cur: Any) -> Any:
    """The statement's batch reader. The driver's own (``Cursor._results.reader``) raises the
    ADBC exception classes (a lost connection is an ``OperationalError``); the public
    ``fetch_record_batch`` hands back the bare pyarrow reader of the same stream, which raises
    ``OSError`` for everything, so it is only the fallback."""
    found = getattr(getattr(cur, "_results", None), "reader", None)
    return found if found is not None else cur.fetch_record_batch()


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
    """``copy_reads``: stream the statements that have only integer parameters by COPY (False:
    every statement through a server-side cursor, as before COPY reads)."""

    dialect_name = "postgresql"

    def __init__(
        self,
        store: Store,
        info: VersionInfo,
        timeout_s: float | None = None,
        copy_reads: bool = True,
    ) -> None:
        self.copy_reads = copy_reads
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
    ) -> PooledRead:
        inlined = inlined_sql(query, self.dialect) if self.copy_reads else None
        if inlined is not None:
            return CopyCursor(self._pool, inlined, batch_rows)
        sql, params = compile_sql(query, self.dialect)
        return FetchCursor(self._pool, sql, params, batch_rows)

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
