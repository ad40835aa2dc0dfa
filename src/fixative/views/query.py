"""Answering a view: its checked SELECT, compiled to the backend's dialect, is the derived table
``t0`` that the planner's filters, sampling, ordering and paging read (``ViewQuery``), so a view
takes every filter, ``select_columns``, ``desired_resolution``, ``split_positions``,
``random_sample`` and counts as a table does.

- At a version: the SELECT runs in the version database, whose tables are the flat copies under
  the same names (every table the view reads must be in the version); at a version kept as
  root-id history rows, each table is read instead from the live table and its history at the
  version's instant, as ``HistoryRelation`` lays it out.
- Live at an instant T (``live_compatible`` views): each table the view reads is taken whole at T
  from the live query engine (exactly what a version made at T would hold: rows visible at T,
  root ids at T), loaded into an in-memory SQLite database under its own name, and the view runs
  there. Simple and exact, but it reads every row of those tables: a table above the server's
  row cap at T is refused (422).

Rows come back ordered by every output column (NULLs first), so ``offset``/``limit`` pages are
the same on both backends and from one request to the next.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fixative.errors import FixativeError, NotFound, Unprocessable
from fixative.query.columns import TableColumns, flat_columns
from fixative.query.compile import SQL_TYPES, HistoryRelation, filter_clause, sample_clause
from fixative.query.engine import QueryEngine, QueryResult, stream_batches
from fixative.query.plan import QueryPlan, make_plan
from fixative.query.spec import QuerySpec
from fixative.query.stream import SqliteCursor, VersionDatabase
from fixative.schemas.types import PointField
from fixative.views.check import CheckedView
from fixative.views.model import ViewInfo

DIALECTS: dict[str, Callable[[], sa.Dialect]] = {
    "postgresql": postgresql.dialect,
    "sqlite": sqlite.dialect,
}


@dataclass(frozen=True)
class CheckedTarget:
    """A stored view checked against today's tables, with its columns as one table."""

    info: ViewInfo
    checked: CheckedView
    table: TableColumns


class ViewRelation:
    """The view's SELECT as a derived table under an alias."""

    def __init__(self, table: TableColumns, sql: str, alias: str) -> None:
        cols = [sa.column(c.name, SQL_TYPES[c.kind]) for c in table.columns]
        escaped = sql.replace(":", "\\:")  # no text() bind parameters in the view's SQL
        self.clause = sa.text(escaped).columns(*cols).subquery(alias)

    def col(self, name: str) -> sa.ColumnElement[Any]:
        return self.clause.c[name]

    def box(self, point: PointField, lo: Sequence[int], hi: Sequence[int]) -> Any:
        axes = [self.clause.c[c] for c in point.xyz_columns]
        return sa.and_(*(a.between(lo[i], hi[i]) for i, a in enumerate(axes)))


class ViewQuery:
    """The plan over the view's derived table: WHERE, ORDER BY every column, paging."""

    def __init__(self, plan: QueryPlan, sql: str, dialect: str) -> None:
        self.plan = plan
        self.dialect = dialect
        self.rel = ViewRelation(plan.tables[0], sql, "t0")

    def _where(self) -> list[Any]:
        found = [filter_clause(self.rel, f, self.dialect) for f in self.plan.filters]
        return [c for c in found if c is not None]

    def count(self) -> sa.Select[Any]:
        return sa.select(sa.func.count()).select_from(self.rel.clause).where(*self._where())

    def rows(self, fraction: float | None = None) -> sa.Select[Any]:
        cols = [
            sa.cast(self.rel.col(c.name), SQL_TYPES[c.kind]).label(f"c{k}")
            for k, (_, c) in enumerate(self.plan.raw_columns)
        ]
        where = self._where()
        if fraction is not None:
            where.append(sample_clause(fraction, self.dialect))
        order = [self.rel.col(c.name).asc().nulls_first() for c in self.plan.tables[0].columns]
        query = sa.select(*cols).select_from(self.rel.clause).where(*where).order_by(*order)
        if self.plan.offset:
            query = query.offset(self.plan.offset)
        return query.limit(self.plan.limit)


def _stream(engine: QueryEngine, db: VersionDatabase, query: ViewQuery) -> QueryResult:
    plan = query.plan
    fraction = None
    if plan.sample is not None:
        matching = _counted(db, query)
        if plan.sample < matching:
            fraction = plan.sample / matching
    types = [c.arrow_type for _, c in plan.raw_columns]
    try:
        cursor = db.open_cursor(query.rows(fraction), types, engine.batch_rows)
    except Exception as exc:
        raise _refused(plan, exc) from exc
    try:
        first = cursor.fetch()  # errors surface here, before any byte is sent
    except Exception as exc:
        cursor.close()
        raise _refused(plan, exc) from exc
    return QueryResult(
        schema=plan.schema,
        batches=stream_batches(plan, cursor, first),
        resolution=plan.resolution,
        warnings=list(plan.warnings),
        column_names=plan.column_names,
        _release=cursor.close,
    )


def _refused(plan: QueryPlan, exc: Exception) -> Exception:
    """What the database refused in a view's SQL that the check could not see (a function
    without an overload for the column's type on this backend, ...) is the view's problem, a
    422 naming the database's message, not a server error."""
    if isinstance(exc, FixativeError):
        return exc
    first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    return Unprocessable(f"view {plan.tables[0].name!r} failed in the database: {first}")


def _counted(db: VersionDatabase, query: ViewQuery) -> int:
    try:
        return db.scalar(query.count())
    except Exception as exc:
        raise _refused(query.plan, exc) from exc


def _at_version(
    engine: QueryEngine, target: CheckedTarget, datastack: str, version: int, spec: QuerySpec
) -> tuple[VersionDatabase, ViewQuery]:
    opened = engine.opened_version(datastack, version)
    missing = [t for t in target.checked.tables if t not in opened.tables]
    if missing:
        raise NotFound(
            f"view {target.info.name!r} reads {', '.join(missing)}, which version {version} "
            f"of datastack {datastack!r} does not hold"
        )
    plan = make_plan(spec, [target.table], engine.row_cap)
    db = opened.database
    sources = None
    if opened.info.history_at is not None:
        sources = _history_sources(engine, target, db.dialect_name, opened.info.history_at)
    sql = target.checked.compiled(db.dialect_name, sources)
    return db, ViewQuery(plan, sql, db.dialect_name)


def _history_sources(
    engine: QueryEngine, target: CheckedTarget, dialect: str, at: datetime
) -> dict[str, str]:
    """For a version kept as root-id history rows (no copy): each table the view reads as the
    live rows visible at T joined with the history intervals that hold T, the version tables'
    columns under their names (``HistoryRelation``), rendered from metadata and the instant."""
    compiler = DIALECTS[dialect]()
    out = {}
    for i, name in enumerate(target.checked.tables):
        table = flat_columns(engine.store.get_table(name))
        rel = HistoryRelation(table, f"h{i}", dialect, at)
        select = sa.select(*(rel.col(c.name) for c in table.columns))
        out[name] = str(select.compile(dialect=compiler, compile_kwargs={"literal_binds": True}))
    return out


def version_view_query(
    engine: QueryEngine, target: CheckedTarget, datastack: str, version: int, spec: QuerySpec
) -> QueryResult:
    db, query = _at_version(engine, target, datastack, version, spec)
    return _stream(engine, db, query)


def version_view_count(
    engine: QueryEngine, target: CheckedTarget, datastack: str, version: int, spec: QuerySpec
) -> int:
    db, query = _at_version(engine, target, datastack, version, spec)
    return _counted(db, query)


class MemoryDatabase:
    """An in-memory SQLite database holding the view's tables at an instant."""

    dialect_name = "sqlite"

    def __init__(self) -> None:
        self.engine = sa.create_engine(
            "sqlite://",
            poolclass=sa.pool.StaticPool,
            connect_args={"check_same_thread": False},
        )

    def load(self, table: TableColumns, rows: pa.Table) -> None:
        md = sa.MetaData()
        columns = [sa.Column(c.name, SQL_TYPES[c.kind]) for c in table.columns]
        sa.Table(table.name, md, *columns).create(self.engine)
        names = [c.name for c in table.columns]
        values = [rows.column(n).to_pylist() for n in names]
        marks = ", ".join("?" for _ in names)
        raw = self.engine.raw_connection()
        try:
            db = raw.driver_connection
            assert isinstance(db, sqlite3.Connection)
            quoted = ", ".join(f'"{n}"' for n in names)
            db.executemany(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', zip(*values, strict=True)
            )
            db.commit()
        finally:
            raw.close()

    def open_cursor(
        self, query: sa.Select[Any], types: Sequence[pa.DataType], batch_rows: int
    ) -> SqliteCursor:
        compiled = query.compile(
            dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        names = compiled.positiontup or []
        params = [compiled.params[n] for n in names]
        return SqliteCursor(self.engine, compiled.string, params, types, batch_rows)

    def scalar(self, query: sa.Select[Any]) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()


def _table_at(engine: QueryEngine, datastack: str, table: TableColumns, at: datetime) -> pa.Table:
    """Every row of ``table`` at ``at``, as a version made at ``at`` would hold it."""
    spec = QuerySpec(tables=(table.name,), split_positions=True)
    result = engine.live_query(datastack, at, spec)
    try:
        rows = pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()
    if rows.num_rows >= engine.row_cap:
        raise Unprocessable(
            f"table {table.name!r} holds {engine.row_cap} rows or more at {at.isoformat()}: "
            "too many to answer a view over it live; query it at a version"
        )
    return rows


def live_view_query(
    engine: QueryEngine,
    target: CheckedTarget,
    datastack: str,
    at: datetime,
    spec: QuerySpec,
    tables: dict[str, TableColumns],
    *,
    count: bool = False,
) -> QueryResult | int:
    """The view at ``at`` (``tables``: the flat columns of the tables it reads)."""
    if not target.info.live_compatible:
        raise Unprocessable(
            f"view {target.info.name!r} is not live_compatible: query it at a version"
        )
    plan = make_plan(spec, [target.table], engine.row_cap)
    memory = MemoryDatabase()
    try:
        for name in target.checked.tables:
            memory.load(tables[name], _table_at(engine, datastack, tables[name], at))
        query = ViewQuery(plan, target.checked.compiled("sqlite"), "sqlite")
        if count:
            return _counted(memory, query)
        streamed = _stream(engine, memory, query)
        batches = list(streamed.batches)
        streamed.close()
    finally:
        memory.dispose()
    return QueryResult(
        schema=plan.schema,
        batches=iter(batches),
        resolution=plan.resolution,
        warnings=list(plan.warnings),
        column_names=plan.column_names,
    )
