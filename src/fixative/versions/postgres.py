"""PostgreSQL versions: one database per version on the live database's server.

Each table streams as binary COPY: ``COPY (SELECT ... at T) TO STDOUT`` in a REPEATABLE READ
transaction on the live database (which also counts the rows at T in the same snapshot), block by
block into ``COPY ... FROM STDIN`` on the version database; rows are never parsed in Python.
Primary key, root-id and ``target_id`` btrees and the N-D GiST indexes are built after the load.
Nothing here locks the live database against writers or ends its sessions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.copy import QueuedLibpqWriter

from fixative.store.base import Store
from fixative.store.postgres import postgres_engine
from fixative.store.tables import index_name
from fixative.store.types import PointZ
from fixative.versions.flat import FlatTable
from fixative.versions.model import Report, TableCopy, quote

MAINTENANCE_WORK_MEM = "512MB"


def add_geometry_columns(table: sa.Table, plan: FlatTable) -> None:
    """A generated ``geometry(POINTZ)`` column per point, as on the live tables."""
    for p in plan.schema.points:
        x, y, z = (quote(c) for c in p.xyz_columns)
        table.append_column(
            sa.Column(
                p.position, PointZ(), sa.Computed(f"ST_MakePoint({x}, {y}, {z})", persisted=True)
            )
        )


def index_statements(plan: FlatTable) -> list[str]:
    """Primary key, btrees and GiST indexes of a loaded flat table, one after another."""
    pk = quote(index_name("pk", plan.name, "id"))
    primary = f'ALTER TABLE {quote(plan.name)} ADD CONSTRAINT {pk} PRIMARY KEY ("id")'
    return [primary, *_secondary_indexes(plan)]


def _secondary_indexes(plan: FlatTable) -> list[str]:
    """Root-id and ``target_id`` btrees, and an N-D GiST index per point."""
    name = quote(plan.name)
    statements = [
        f"CREATE INDEX {quote(index)} ON {name} ({quote(column)})"
        for index, column in plan.btree_indexes()
    ]
    statements += [
        f"CREATE INDEX {quote(index_name('idx', plan.name, p.position))} ON {name} "
        f"USING gist ({quote(p.position)} gist_geometry_ops_nd)"
        for p in plan.schema.points
    ]
    return statements


def build_indexes(engine: sa.Engine, plan: FlatTable) -> None:
    """The same indexes, built concurrently on separate connections (index builds take SHARE
    locks, which do not conflict): the primary key's unique index first among them, attached as
    the primary key at the end."""
    pk = quote(index_name("pk", plan.name, "id"))
    statements = [f'CREATE UNIQUE INDEX {pk} ON {quote(plan.name)} ("id")']
    statements += _secondary_indexes(plan)
    workers = max(1, min(len(statements), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(_run_maintenance, engine, s) for s in statements]:
            done.result()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"ALTER TABLE {quote(plan.name)} ADD CONSTRAINT {pk} PRIMARY KEY USING INDEX {pk}"
        )


def _run_maintenance(engine: sa.Engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        conn.exec_driver_sql(statement)


def pipe_copy(
    source: Any, sink: Any, out_sql: str, in_sql: str, params: dict[str, Any]
) -> tuple[int, int]:
    """Stream one binary COPY into another, block by block, the write on its own thread.
    Returns (rows sent, rows received), from each COPY's command tag."""
    assert isinstance(source, psycopg.Connection)
    assert isinstance(sink, psycopg.Connection)
    with source.cursor() as rcur, sink.cursor() as wcur:
        with (
            rcur.copy(out_sql, params) as out,
            wcur.copy(in_sql, writer=QueuedLibpqWriter(wcur)) as into,
        ):
            for block in out:
                into.write(block)
        return rcur.rowcount, wcur.rowcount


class PostgresVersionTarget:
    def __init__(self, store: Store) -> None:
        self.store = store

    def url(self, name: str) -> str:
        url = self.store.engine.url.set(database=name)
        return url.render_as_string(hide_password=False)

    def open(self, name: str) -> sa.Engine:
        return postgres_engine(self.url(name))

    @contextmanager
    def _admin(self) -> Iterator[sa.Connection]:
        with self.store.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def exists(self, name: str) -> bool:
        with self._admin() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
        return found is not None

    def create(self, name: str) -> None:
        with self._admin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quote(name)}")
        engine = self.open(name)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        finally:
            engine.dispose()

    def drop(self, name: str) -> None:
        """Drop the version database, ending sessions on it (never on the live database)."""
        with self._admin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")

    def copy(
        self, name: str, plans: Sequence[FlatTable], at: datetime, report: Report
    ) -> list[TableCopy]:
        engine = self.open(name)
        try:
            copies = []
            for done, plan in enumerate(plans, start=1):
                copies.append(self._copy_table(engine, plan, at))
                report(done, len(plans))
            return copies
        finally:
            engine.dispose()

    def _copy_table(self, engine: sa.Engine, plan: FlatTable, at: datetime) -> TableCopy:
        table = plan.version_table(sa.MetaData())
        add_geometry_columns(table, plan)
        cols = ", ".join(quote(c) for c in plan.column_names())
        out_sql = f"COPY ({plan.visible_sql('%(at)s')}) TO STDOUT (FORMAT BINARY)"
        in_sql = f"COPY {quote(plan.name)} ({cols}) FROM STDIN (FORMAT BINARY, FREEZE)"
        live = self.store.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with live, live.begin(), engine.begin() as conn:
            table.create(conn)
            # the counts the build checks come from the two COPYs' command tags: the rows the
            # live snapshot sent and the rows the version stored (two full scans saved)
            live_count, version_count = pipe_copy(
                live.connection.driver_connection,
                conn.connection.driver_connection,
                out_sql,
                in_sql,
                {"at": at},
            )
        build_indexes(engine, plan)
        with engine.begin() as conn:
            # statistics now: without them a 100-root filter was planned as a whole-table scan
            # (autovacuum may be off, and would come late); about 1 s at 10M rows
            conn.exec_driver_sql(f"ANALYZE {quote(plan.name)}")
        return TableCopy(plan.name, plan.schema.name, live_count, version_count)
