"""Reading a version table as Arrow record batches, straight from its database: on PostgreSQL
through ADBC, whose reader streams ``COPY (SELECT ...) TO STDOUT`` in binary into Arrow batches;
on SQLite (the embedded default) through the version file's cursor, ``fetchmany`` at a time and
built column-wise. Either way a bounded number of batches is held, never the table.

``read_ahead`` reads a list of statements (a table's id ranges, in order) ahead of the writer:
on PostgreSQL on ``READ_STREAMS`` connections at once (one backend encodes ``COPY`` rows at a
fixed rate, the limit of a single stream), in batches of about ``BATCH_BYTES``; on SQLite on one
thread.

Statements are built by ``fixative.export.select`` from metadata names and integers the export
computed itself, so they carry no parameters (ADBC's COPY path takes none)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import sqlalchemy as sa

from fixative.export.prefetch import prefetched, read_in_order
from fixative.store.base import Store
from fixative.versions import open_version
from fixative.versions.model import VersionInfo, quote
from fixative.versions.target import target_for

SQLITE_BATCH_ROWS = 65_536
READ_STREAMS = 2  # PostgreSQL connections reading one table's parts at once
BATCH_BYTES = 4 << 20  # ADBC's batch size hint: small enough to queue a part's batches


class VersionSource(Protocol):
    dialect_name: str

    def batches(self, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """The statement's rows as batches of ``schema`` (columns in its order)."""
        ...

    @property
    def streams(self) -> int:
        """How many statements ``read_ahead`` reads at once."""
        ...

    def read_ahead(self, statements: Sequence[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """The statements' rows, one statement after another, read ahead of the consumer."""
        ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A small statement's rows (bounds, quantiles)."""
        ...

    def close(self) -> None: ...

    def relation(self, table: str) -> str:
        """What a statement reads ``table`` from: the version table, or (a history version)
        the live table and its root-id history at the version's instant, as a derived table
        under the table's name."""
        ...


def relation_sql(store: Store, info: VersionInfo, table: str, dialect: sa.Dialect) -> str:
    """``FROM`` text for ``table`` of ``info`` (see ``VersionSource.relation``): plain SQL with
    no parameters (the instant is a literal), as ADBC's COPY path needs."""
    if info.history_at is None:
        return quote(table)
    from fixative.query.columns import flat_columns
    from fixative.query.compile import HistoryRelation

    rel = HistoryRelation(flat_columns(store.get_table(table)), "h", dialect.name, info.history_at)
    inner = sa.select(rel.clause).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"({inner}) AS {quote(table)}"


def conform(columns: Sequence[pa.Array], schema: pa.Schema) -> pa.RecordBatch:
    """Columns as read, cast to the export's types (PostgreSQL's int4 positions become int64)."""
    arrays = []
    for array, f in zip(columns, schema, strict=True):
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        arrays.append(array if array.type == f.type else array.cast(f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class PostgresSource:
    dialect_name = "postgresql"

    def __init__(self, store: Store, info: VersionInfo, streams: int = READ_STREAMS) -> None:
        self._store, self._info = store, info
        where = target_for(store).url(info.database) if info.copied else store.engine.url
        url = sa.make_url(where).set(drivername="postgresql")
        self._url = url.render_as_string(hide_password=False)
        self._streams = max(1, streams)
        self._conns: list[Any] = [self._connect()]  # the others opened when first needed

    def _connect(self) -> Any:
        import adbc_driver_postgresql.dbapi

        return adbc_driver_postgresql.dbapi.connect(self._url)

    @property
    def streams(self) -> int:
        return self._streams

    def batches(self, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        return self._read(self._conns[0], sql, schema)

    def _read(self, conn: Any, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        cur = conn.cursor()
        try:
            cur.adbc_statement.set_options(
                **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)}
            )
            cur.execute(sql)  # no parameters: the driver reads the result through COPY
            reader = cur.fetch_record_batch()
            for batch in reader:
                if batch.num_rows:
                    yield conform(batch.columns, schema)
        finally:
            cur.close()

    def read_ahead(self, statements: Sequence[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        streams = min(self._streams, len(statements))
        while len(self._conns) < streams:
            self._conns.append(self._connect())

        def read(stream: int, part: int) -> Iterator[pa.RecordBatch]:
            return self._read(self._conns[stream], statements[part], schema)

        return read_in_order(read, len(statements), streams)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        cur = self._conns[0].cursor()
        try:
            cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def close(self) -> None:
        for conn in self._conns:
            conn.close()

    def relation(self, table: str) -> str:
        return relation_sql(self._store, self._info, table, self._store.engine.dialect)


class SqliteSource:
    dialect_name = "sqlite"

    def __init__(self, store: Store, info: VersionInfo, version_dir: Path | None) -> None:
        self._store, self._info = store, info
        self._engine = (
            open_version(store, info.datastack, info.version, version_dir=version_dir)
            if info.copied
            else sa.create_engine(store.engine.url)  # a history version: the live file
        )

    def batches(self, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        conn: Any = self._engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute(sql)
            while rows := cur.fetchmany(SQLITE_BATCH_ROWS):
                columns = zip(*rows, strict=True)
                yield pa.RecordBatch.from_arrays(
                    [_column(c, f.type) for c, f in zip(columns, schema, strict=True)],
                    schema=schema,
                )
            cur.close()
        finally:
            conn.close()

    @property
    def streams(self) -> int:
        return 1  # one writer per SQLite file; its reads are cheap next to the encoding

    def read_ahead(self, statements: Sequence[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        return prefetched(b for sql in statements for b in self.batches(sql, schema))

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]

    def close(self) -> None:
        self._engine.dispose()

    def relation(self, table: str) -> str:
        return relation_sql(self._store, self._info, table, self._engine.dialect)


def _column(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    if arrow_type == pa.bool_():  # SQLite keeps booleans as 0/1
        return pa.array(values, pa.int64()).cast(pa.bool_())
    return pa.array(values, arrow_type)


def open_source(store: Store, info: VersionInfo, version_dir: Path | None = None) -> VersionSource:
    if store.dialect_name == "postgresql":
        return PostgresSource(store, info)
    return SqliteSource(store, info, version_dir)
