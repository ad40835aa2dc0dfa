"""The query engine: version queries streamed from a version database, live queries at any
instant (``live.py``), and counts.

One ``VersionDatabase`` (an engine, or a pool of ADBC connections on PostgreSQL) is cached per
(datastack, version): opening PostgreSQL connections per request is slow. The catalogue is read
on every request, so a version that expired since is dropped from the cache and refused.

``random_sample``: the engine counts the matching rows M and, when N < M, keeps each row with
probability N/M (``random()`` in SQL), so about N rows come back, uniformly chosen, still in id
order; offset and limit then apply to the sample.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.errors import Conflict, NotFound
from fixative.query.columns import TableColumns, flat_columns
from fixative.query.compile import VersionQuery
from fixative.query.plan import QueryPlan, check_table_list, make_plan
from fixative.query.shape import shape
from fixative.query.spec import QuerySpec
from fixative.query.stream import RawCursor, VersionDatabase, open_version_database
from fixative.segmentation.port import SegmentationSource
from fixative.store import memo
from fixative.store.base import Store
from fixative.store.root_history import latest_instant
from fixative.versions import get_version, list_version_tables
from fixative.versions.model import AVAILABLE, VersionInfo


@dataclass
class QueryResult:
    """A query's answer. ``batches`` streams the rows (at most ``batch_rows`` per batch);
    exhausting it or calling ``close()`` releases the database connection. ``resolution``: nm
    per unit of the returned positions. ``warnings``: the row cap when it cut the limit, tables'
    notice texts, ignored history columns. ``column_names``: per table, each selected source
    column (a point by its position name) and the name it has in the output."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    resolution: tuple[float, float, float]
    warnings: list[str]
    column_names: dict[str, dict[str, str]]
    _release: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Release the database connection (also done when the batches are exhausted)."""
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()
        if self._release is not None:
            self._release()


@dataclass
class OpenVersion:
    """An AVAILABLE version held open: its catalogue row, its tables, its database."""

    info: VersionInfo
    tables: frozenset[str]
    database: VersionDatabase


def stream_batches(
    plan: QueryPlan, cursor: RawCursor, first: list[pa.Array] | None
) -> Iterator[pa.RecordBatch]:
    schema = plan.schema
    try:
        columns = first
        while columns is not None:
            yield shape(plan, columns, schema)
            columns = cursor.fetch()
    finally:
        cursor.close()


class QueryEngine:
    def __init__(
        self,
        store: Store,
        graphs: Callable[[str], ChunkedGraph],
        *,
        row_cap: int = 1_000_000,
        batch_rows: int = 65_536,
        version_dir: Path | None = None,
        timeout_s: float | None = None,
        volumes: Callable[[str], SegmentationSource] | None = None,
        unlinked_cap: int = 100_000,
    ) -> None:
        """``version_dir``: where SQLite version files are, when not the default;
        ``timeout_s``: the longest a statement may run on a PostgreSQL version; ``volumes``:
        a datastack's segmentation volume, for live queries to link at most ``unlinked_cap``
        rows that ingest has not reached yet (without it such rows are refused)."""
        if row_cap < 1 or batch_rows < 1:
            raise ValueError("row_cap and batch_rows must be positive")
        self.version_dir = version_dir
        self.timeout_s = timeout_s
        self.store = store
        self.graphs = graphs
        self.volumes = volumes
        self.unlinked_cap = unlinked_cap
        self.row_cap = row_cap
        self.batch_rows = batch_rows
        self._open: dict[tuple[str, int], OpenVersion] = {}
        self._live: VersionDatabase | None = None  # the live database, read as history
        self._lock = threading.Lock()

    # -- versions ----------------------------------------------------------------------------

    def opened_version(
        self, datastack: str, version: int, listed: VersionInfo | None = None
    ) -> OpenVersion:
        """The cached open version (Conflict when it is no longer AVAILABLE); ``listed``: its
        catalogue row as just read (a live query's list of versions), not read again."""
        info = listed if listed is not None else get_version(self.store, datastack, version)
        key = (info.datastack, info.version)
        if info.status != AVAILABLE or not info.valid:
            with self._lock:
                gone = self._open.pop(key, None)
            if gone is not None:
                gone.database.dispose()
            raise Conflict(f"version {version} of datastack {datastack!r} is {info.status}")
        with self._lock:
            found = self._open.get(key)
            if found is None or found.info.id != info.id:
                tables = frozenset(
                    t.table_name for t in list_version_tables(self.store, datastack, version)
                )
                found = OpenVersion(
                    info,
                    tables,
                    open_version_database(self.store, info, self.version_dir, self.timeout_s),
                )
                self._open[key] = found
            return found

    def _tables(
        self, spec: QuerySpec, available: frozenset[str] | None, where: str
    ) -> list[TableColumns]:
        out = []
        for name in check_table_list(spec):
            if available is not None and name not in available:
                raise NotFound(f"table {name!r} does not exist in {where}")
            out.append(flat_columns(self.store.get_table(name)))
        return out

    def _plan(self, datastack: str, version: int, spec: QuerySpec) -> tuple[OpenVersion, QueryPlan]:
        opened = self.opened_version(datastack, version)
        where = f"version {version} of datastack {datastack!r}"
        tables = self._tables(spec, opened.tables, where)
        return opened, make_plan(spec, tables, self.row_cap)

    def version_count(self, datastack: str, version: int, spec: QuerySpec) -> int:
        """Rows matching the filters (joins included; no offset, limit or sample)."""
        opened, plan = self._plan(datastack, version, spec)
        query = VersionQuery(plan, opened.database.dialect_name, opened.info.history_at)
        return opened.database.scalar(query.count())

    def version_query(self, datastack: str, version: int, spec: QuerySpec) -> QueryResult:
        with memo.scope():
            opened, plan = self._plan(datastack, version, spec)
            return self.stream(opened, plan)

    def stream(self, opened: OpenVersion, plan: QueryPlan) -> QueryResult:
        """Run a checked plan on an open version, streaming."""
        db = opened.database
        query = VersionQuery(plan, db.dialect_name, opened.info.history_at)
        fraction = None
        if plan.sample is not None:
            matching = db.scalar(query.count())
            if plan.sample < matching:
                fraction = plan.sample / matching
        types = [c.arrow_type for _, c in plan.raw_columns]
        cursor = db.open_cursor(query.rows(fraction), types, self.batch_rows)
        try:
            first = cursor.fetch()  # errors surface here, before any byte is sent
        except Exception:
            cursor.close()
            raise
        return QueryResult(
            schema=plan.schema,
            batches=stream_batches(plan, cursor, first),
            resolution=plan.resolution,
            warnings=list(plan.warnings),
            column_names=plan.column_names,
            _release=cursor.close,
        )

    def recorded_instant(self, table: str, at: datetime) -> datetime | None:
        """The table's latest recorded instant at or before ``at`` (its history is exact
        there), if any."""
        with self.store.read() as conn:
            return latest_instant(conn, table, at)

    def history_at(self, table: str, instant: datetime) -> OpenVersion:
        """The table at one of its recorded instants, as a version read from the live
        database's root-id history (not in the catalogue: a base for live queries)."""
        info = VersionInfo.uncatalogued(instant)
        with self._lock:
            if self._live is None:
                self._live = open_version_database(self.store, info, None, self.timeout_s)
            return OpenVersion(info, frozenset({table}), self._live)

    # -- live ------------------------------------------------------------------------------------

    def live_query(self, datastack: str, at: datetime, spec: QuerySpec) -> QueryResult:
        from fixative.query.live import run_live_query

        with memo.scope():  # metadata and the chunkedgraph's freshness read once
            tables = self._tables(spec, None, "the live database")
            plan = make_plan(spec, tables, self.row_cap)
            return run_live_query(self, datastack, at, plan)

    def close(self) -> None:
        with self._lock:
            opened, self._open = list(self._open.values()), {}
            live, self._live = self._live, None
        for o in opened:
            o.database.dispose()
        if live is not None:
            live.dispose()
