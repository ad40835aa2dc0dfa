"""SQLite: the embedded default. WAL, one writer at a time (BEGIN IMMEDIATE), and an R*Tree
spatial index per point."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from fixative.clock import Clock, utc_now
from fixative.schemas.types import SchemaType
from fixative.store.base import Store
from fixative.store.types import sqlite_time

BATCH_ROWS = 100_000


def rtree_name(table: str, point: str) -> str:
    return f"{table}__rtree_{point}"


def sqlite_engine(url: str) -> sa.Engine:
    path = sa.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute(
            "PRAGMA cache_size=-262144"
        )  # 256 MiB: R*Trees and indexes thrash a small cache
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        writing = conn.get_execution_options().get("fixative_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


class SqliteStore(Store):
    dialect_name = "sqlite"

    @classmethod
    def open(cls, url: str, clock: Clock = utc_now) -> SqliteStore:
        return cls(sqlite_engine(url), clock)

    def _create_spatial_index(
        self, conn: sa.Connection, table: sa.Table, schema: SchemaType
    ) -> None:
        for p in schema.points:
            rtree = rtree_name(table.name, p.name)
            x, y, z = p.xyz_columns
            conn.exec_driver_sql(
                f'CREATE VIRTUAL TABLE "{rtree}" USING rtree_i32(id, x0, x1, y0, y1, z0, z1)'
            )
            conn.exec_driver_sql(
                f'CREATE TRIGGER "{rtree}_insert" AFTER INSERT ON "{table.name}" '
                f'WHEN NEW."{x}" IS NOT NULL BEGIN '
                f'INSERT INTO "{rtree}" VALUES (NEW.id, NEW."{x}", NEW."{x}", '
                f'NEW."{y}", NEW."{y}", NEW."{z}", NEW."{z}"); END'
            )

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None:
        """Large batched executemany; constant columns (created, valid) are SQL literals."""
        created = rows.column("created")[0].as_py()
        names = [
            n
            for n in rows.column_names
            if n not in ("created", "deleted", "superceded_id", "valid")
        ]
        cols = ", ".join(f'"{n}"' for n in names)
        marks = ", ".join("?" for _ in names)
        sql = (
            f'INSERT INTO "{table.name}" ({cols}, created, valid) '
            f"VALUES ({marks}, '{sqlite_time(created)}', 1)"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for batch in rows.select(names).to_batches(BATCH_ROWS):
                columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                cursor.executemany(sql, zip(*columns, strict=True))
        finally:
            cursor.close()

    def box_clause(
        self, table: sa.Table, point: str, lo: Sequence[int], hi: Sequence[int]
    ) -> sa.ColumnElement[bool]:
        rtree = sa.table(
            rtree_name(table.name, point),
            *(sa.column(c) for c in ("id", "x0", "x1", "y0", "y1", "z0", "z1")),
        )
        inside = sa.select(rtree.c.id).where(
            rtree.c.x0 >= lo[0],
            rtree.c.x1 <= hi[0],
            rtree.c.y0 >= lo[1],
            rtree.c.y1 <= hi[1],
            rtree.c.z0 >= lo[2],
            rtree.c.z1 <= hi[2],
        )
        return table.c.id.in_(inside)
