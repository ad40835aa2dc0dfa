"""The root-id indexes of a segmentation table and its history, set aside during a bulk ingest.

Each ingested row adds one entry per bound point to the root-id indexes of both tables, at a
random place in each: once the indexes outgrow the buffer cache, every insertion reads and
dirties an index page of its own, so an ingest's cost per row grows with the table. An ingest
that brings in at least as many rows as the table holds (``is_bulk``: a table's first ingest,
or a large upload) drops them first and builds them afresh at the end, each in one sorted pass.

Every ingest calls ``restore`` before its chunks, so an ingest that died before its indexes were
rebuilt leaves a table whose next ingest (or ``fixative doctor --repair``) restores them; queries
in between are right, only slower. The drop and the rebuild hold an advisory lock per table on
PostgreSQL, so two ingests of one table cannot build the same index twice at once.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa

from fixative.store import tables as t
from fixative.store.segmentation import SegmentationTable, quote

BULK_MIN_ROWS = 200_000  # below this an ingest keeps the indexes: rebuilding costs more
BUILD_MEMORY = "512MB"  # maintenance_work_mem for the rebuild: one sort in memory per index


def root_indexes(seg: SegmentationTable) -> list[tuple[str, str, str]]:
    """(index, table, column) of every root-id index of the table and its history."""
    found = []
    for table in (seg.name, seg.history):
        for p in seg.points:
            found.append((t.index_name("ix", table, p.root_column), table, p.root_column))
    return found


def is_bulk(conn: sa.Connection, seg: SegmentationTable, planned_rows: int) -> bool:
    """Whether an ingest of ``planned_rows`` should build the indexes afresh rather than insert
    into them: it brings at least ``BULK_MIN_ROWS`` and as many rows as the table holds."""
    return planned_rows >= BULK_MIN_ROWS and planned_rows >= linked_rows(conn, seg)


def linked_rows(conn: sa.Connection, seg: SegmentationTable) -> int:
    """The segmentation table's row count: PostgreSQL's estimate (exact enough to compare with
    a plan, and free), SQLite's count."""
    if conn.dialect.name == "postgresql":
        estimate = conn.execute(
            sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
            {"name": quote(seg.name)},
        ).scalar()
        if estimate is not None and estimate >= 0:
            return int(estimate)
    return int(conn.exec_driver_sql(f"SELECT count(*) FROM {quote(seg.name)}").scalar_one())


def missing(conn: sa.Connection, seg: SegmentationTable) -> list[str]:
    """The root-id indexes that are not there."""
    wanted = root_indexes(seg)
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE tablename IN (:a, :b)"),
            {"a": seg.name, "b": seg.history},
        )
    else:
        rows = conn.execute(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN (:a, :b)"),
            {"a": seg.name, "b": seg.history},
        )
    present = {str(name) for (name,) in rows}
    return [name for name, _, _ in wanted if name not in present]


def drop(conn: sa.Connection, seg: SegmentationTable) -> None:
    """Drop the root-id indexes (those there)."""
    _lock(conn, seg)
    for name, _, _ in root_indexes(seg):
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {quote(name)}")


def restore(conn: sa.Connection, seg: SegmentationTable) -> list[str]:
    """Build the root-id indexes that are missing; returns their names."""
    if not missing(conn, seg):
        return []
    _lock(conn, seg)
    gone = set(missing(conn, seg))  # again under the lock: another ingest may have built them
    if gone and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    for name, table, column in root_indexes(seg):
        if name in gone:
            conn.exec_driver_sql(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")
    return sorted(gone)


def _lock(conn: sa.Connection, seg: SegmentationTable) -> None:
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"fixative.bulkindex:{seg.name}".encode()) - 2**31
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
