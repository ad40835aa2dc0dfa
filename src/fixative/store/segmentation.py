"""SQL over segmentation tables (``{table}__{pcg}``: ``id``, ``X_supervoxel_id``, ``X_root_id``)
for the ingest and update-roots workflows: plan id ranges, read rows as numpy arrays, upsert links,
rewrite root ids, and move ``last_updated``.

Functions take a Connection (the caller owns the transaction). Reads go through
``intcolumns.read_int64``; bulk writes are, on PostgreSQL, a binary COPY into a temporary table
then one ``INSERT ... ON CONFLICT (id) DO UPDATE`` or ``UPDATE ... FROM``; on SQLite one
``executemany`` of the same statements. Every read that feeds a write is keyed by an id range
or by an explicit set of root ids, so a chunk can run again and find only what is still to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import sqlalchemy as sa

from fixative.errors import InvalidInput
from fixative.schemas.types import PointField
from fixative.store import pgcopy
from fixative.store import tables as t
from fixative.store.intcolumns import id_set_param, id_set_sql, read_int64
from fixative.store.model import TableInfo
from fixative.store.types import UtcDateTime

I64 = npt.NDArray[np.int64]
STAGE = "fixative_stage"
COPY_BATCH_ROWS = 200_000
INDEX_PROBE_ROWS = 100_000  # up to this many rows an update probes the primary key per row
SQLITE_BATCH_ROWS = 100_000


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class IdRange:
    """Annotation ids ``start <= id < stop``; ``rows`` is how many rows planning found there."""

    start: int
    stop: int
    rows: int


@dataclass(frozen=True)
class SegmentationTable:
    """An annotation table, its segmentation table and its bound points."""

    annotation_table: str
    name: str
    points: tuple[PointField, ...]
    # the annotation table's columns its history copies (``created``, ``deleted``, the fields)
    annotation_columns: tuple[str, ...] = ()

    @classmethod
    def of(cls, info: TableInfo) -> SegmentationTable:
        if info.segmentation_table is None or not info.schema.bound_points:
            raise InvalidInput(f"table {info.table_name!r} has no segmentation table")
        points = info.schema.bound_points
        linked = {"id", "valid_from", "valid_to"}
        linked |= {c for p in points for c in (p.supervoxel_column, p.root_column)}
        history = t.history_table(sa.MetaData(), "h", info.schema)
        copied = tuple(str(c.name) for c in history.columns if c.name not in linked)
        return cls(info.table_name, info.segmentation_table, points, copied)

    @property
    def history(self) -> str:
        """Its root-id history table (``fixative.store.root_history``)."""
        return t.history_table_name(self.name)

    @property
    def columns(self) -> list[str]:
        """``id`` and, per bound point, its supervoxel and root columns."""
        cols = ["id"]
        for p in self.points:
            cols.extend((p.supervoxel_column, p.root_column))
        return cols

    def point(self, name: str) -> PointField:
        for p in self.points:
            if p.name == name:
                return p
        raise InvalidInput(f"table {self.annotation_table!r} has no bound point {name!r}")


def _at(value: datetime) -> sa.BindParameter[datetime]:
    return sa.bindparam("at", value, type_=UtcDateTime)


# -- planning ------------------------------------------------------------------------------------


def id_ranges(
    conn: sa.Connection,
    ids_sql: str,
    chunk_rows: int,
    params: dict[str, Any] | None = None,
    binds: tuple[sa.BindParameter[Any], ...] = (),
) -> list[IdRange]:
    """Cut the ids selected by ``ids_sql`` (one column named ``id``) into ranges of
    ``chunk_rows`` ids: one window pass returns only every chunk's first id."""
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be positive, got {chunk_rows}")
    params = dict(params or {})
    starts_sql = (
        "SELECT w.id AS c0, w.rn AS c1 FROM (SELECT s.id AS id, "
        f"row_number() OVER (ORDER BY s.id) AS rn FROM ({ids_sql}) AS s) AS w "
        f"WHERE (w.rn - 1) % {int(chunk_rows)} = 0"
    )
    found = read_int64(conn, starts_sql, 2, params, binds)
    if found.shape[0] == 0:
        return []
    found = found[np.argsort(found[:, 0])]
    starts, numbers = found[:, 0], found[:, 1]
    tail_sql = (
        f"SELECT count(*) AS c0, COALESCE(max(s.id), 0) AS c1 FROM ({ids_sql}) AS s "
        "WHERE s.id >= :tail_start"
    )
    params["tail_start"] = int(starts[-1])
    tail_rows, tail_max = read_int64(conn, tail_sql, 2, params, binds)[0].tolist()
    stops = np.append(starts[1:], max(tail_max, int(starts[-1])) + 1)
    rows = np.append(np.diff(numbers), tail_rows)
    return [
        IdRange(a, b, n)
        for a, b, n in zip(starts.tolist(), stops.tolist(), rows.tolist(), strict=True)
    ]


def _unlinked_sql(seg: SegmentationTable, after: bool) -> str:
    newer = " AND a.created > :after" if after else ""
    return (
        f"SELECT a.id AS id FROM {quote(seg.annotation_table)} AS a "
        f"LEFT JOIN {quote(seg.name)} AS s ON s.id = a.id "
        f"WHERE s.id IS NULL AND a.created <= :at{newer}"
    )


def unlinked_ranges(
    conn: sa.Connection,
    seg: SegmentationTable,
    at: datetime,
    chunk_rows: int,
    after: datetime | None = None,
) -> list[IdRange]:
    """Id ranges of annotations created at or before ``at`` (deleted or not), and after
    ``after`` when given (through the ``created`` index), that have no segmentation row yet."""
    binds = [_at(at)]
    if after is not None:
        binds.append(sa.bindparam("after", after, type_=UtcDateTime))
    sql = _unlinked_sql(seg, after is not None)
    return id_ranges(conn, sql, chunk_rows, binds=tuple(binds))


def has_unlinked(
    conn: sa.Connection, seg: SegmentationTable, at: datetime, after: datetime | None
) -> bool:
    """Whether some annotation created at or before ``at`` (and after ``after``) has no
    segmentation row (stops at the first)."""
    binds = [_at(at)]
    if after is not None:
        binds.append(sa.bindparam("after", after, type_=UtcDateTime))
    sql = f"SELECT 1 FROM ({_unlinked_sql(seg, after is not None)}) AS u LIMIT 1"
    return conn.execute(sa.text(sql).bindparams(*binds)).first() is not None


def complete_through(conn: sa.Connection, seg: SegmentationTable, at: datetime) -> datetime:
    """The latest instant ``c <= at`` at which every annotation of the table created at or
    before ``c`` is already committed, and so visible to every statement run after this one:
    the table's ``last_modified``. Writers of a table are serialized (``Store._lock_table``) and
    stamp ``created`` strictly after the ``last_modified`` they read, so a write in flight
    creates rows after the committed ``last_modified`` only."""
    meta = t.annotation_table_metadata
    query = sa.select(meta.c.last_modified).where(meta.c.table_name == seg.annotation_table)
    last: datetime | None = conn.execute(query).scalar()
    return at if last is None else min(at, last)


def linked_through(conn: sa.Connection, seg: SegmentationTable) -> datetime | None:
    """The instant up to which every annotation has its segmentation row (None: not known)."""
    meta = t.segmentation_table_metadata
    query = sa.select(meta.c.linked_through).where(meta.c.table_name == seg.name)
    found: datetime | None = conn.execute(query).scalar()
    return found


def set_linked_through(conn: sa.Connection, seg: SegmentationTable, at: datetime) -> None:
    """Record that every annotation created at or before ``at`` is linked (only moves forward)."""
    meta = t.segmentation_table_metadata
    guard = sa.or_(meta.c.linked_through.is_(None), meta.c.linked_through < at)
    conn.execute(
        meta.update().where(meta.c.table_name == seg.name, guard).values(linked_through=at)
    )


def segmentation_ranges(
    conn: sa.Connection, seg: SegmentationTable, chunk_rows: int, null_root_of: str | None = None
) -> list[IdRange]:
    """Id ranges of every segmentation row, or (``null_root_of`` a point) of the rows whose
    root id for that point is NULL (found through the root-id index)."""
    where = ""
    if null_root_of is not None:
        where = f" WHERE {quote(seg.point(null_root_of).root_column)} IS NULL"
    return id_ranges(conn, f"SELECT id FROM {quote(seg.name)}{where}", chunk_rows)


def count_holders(
    conn: sa.Connection, seg: SegmentationTable, point: str, root_ids: npt.ArrayLike
) -> tuple[I64, I64]:
    """(root ids, rows holding each) for the roots of ``point`` among ``root_ids`` that some
    row holds, sorted by root id (index probes only)."""
    column = quote(seg.point(point).root_column)
    sql = (
        f"SELECT {column} AS c0, count(*) AS c1 FROM {quote(seg.name)} "
        f"WHERE {column} IN {id_set_sql(conn, 'roots')} GROUP BY {column}"
    )
    found = read_int64(conn, sql, 2, {"roots": id_set_param(conn, root_ids)})
    found = found[np.argsort(found[:, 0])]
    return found[:, 0].copy(), found[:, 1].copy()


# -- reads ---------------------------------------------------------------------------------------


def read_unlinked(
    conn: sa.Connection, seg: SegmentationTable, ids: IdRange, at: datetime
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """Annotations in ``ids`` created at or before ``at`` without a segmentation row:
    (ids sorted, positions (n, points, 3) in table voxels, present (n, points): False where an
    optional point is missing)."""
    exprs = ["a.id"]
    for p in seg.points:
        exprs.extend(f"COALESCE(a.{quote(c)}, 0)" for c in p.xyz_columns)
        exprs.append(f"CASE WHEN a.{quote(p.xyz_columns[0])} IS NULL THEN 0 ELSE 1 END")
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    sql = (
        f"SELECT {select} FROM {quote(seg.annotation_table)} AS a "
        # the range on both sides: else the anti-join walks the segmentation table's key from
        # its first id to the range, a cost that grows with the table, not the chunk
        f"LEFT JOIN {quote(seg.name)} AS s ON s.id = a.id AND s.id >= :start AND s.id < :stop "
        "WHERE s.id IS NULL AND a.created <= :at AND a.id >= :start AND a.id < :stop"
    )
    rows = read_int64(conn, sql, len(exprs), {"start": ids.start, "stop": ids.stop}, (_at(at),))
    rows = rows[np.argsort(rows[:, 0])]
    per_point = rows[:, 1:].reshape(rows.shape[0], len(seg.points), 4)
    return rows[:, 0].copy(), per_point[:, :, :3].copy(), per_point[:, :, 3] == 1


def read_holders(
    conn: sa.Connection, seg: SegmentationTable, point: str, root_ids: npt.ArrayLike
) -> tuple[I64, I64]:
    """(ids, supervoxel ids) of the rows whose root of ``point`` is one of ``root_ids``,
    sorted by id. A NULL supervoxel reads as 0."""
    p = seg.point(point)
    sql = (
        f"SELECT id AS c0, COALESCE({quote(p.supervoxel_column)}, 0) AS c1 "
        f"FROM {quote(seg.name)} WHERE {quote(p.root_column)} IN {id_set_sql(conn, 'roots')}"
    )
    found = read_int64(conn, sql, 2, {"roots": id_set_param(conn, root_ids)})
    found = found[np.argsort(found[:, 0])]
    return found[:, 0].copy(), found[:, 1].copy()


def read_supervoxels(
    conn: sa.Connection, seg: SegmentationTable, ids: IdRange, null_root_of: str | None = None
) -> tuple[I64, I64]:
    """(ids, supervoxel ids (n, points)) of the segmentation rows in ``ids``, sorted by id;
    with ``null_root_of``, only rows whose root of that point is NULL. NULL reads as 0."""
    exprs = ["id"] + [f"COALESCE({quote(p.supervoxel_column)}, 0)" for p in seg.points]
    where = "id >= :start AND id < :stop"
    if null_root_of is not None:
        where += f" AND {quote(seg.point(null_root_of).root_column)} IS NULL"
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    sql = f"SELECT {select} FROM {quote(seg.name)} WHERE {where}"
    rows = read_int64(conn, sql, len(exprs), {"start": ids.start, "stop": ids.stop})
    rows = rows[np.argsort(rows[:, 0])]
    return rows[:, 0].copy(), rows[:, 1:].copy()


# -- writes --------------------------------------------------------------------------------------


def upsert_links(conn: sa.Connection, seg: SegmentationTable, data: pa.Table) -> None:
    """Insert segmentation rows, or overwrite the given columns of rows whose id exists.
    ``data``: ``id`` and any of the table's supervoxel/root columns, int64 (NULLs allowed)."""
    names = checked_columns(seg, data)
    if data.num_rows == 0:
        return
    cols = ", ".join(quote(n) for n in names)
    sets = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n != "id")
    conflict = f"ON CONFLICT (id) DO UPDATE SET {sets}" if sets else "ON CONFLICT (id) DO NOTHING"
    if conn.dialect.name == "postgresql":
        _stage(conn, data)
        conn.exec_driver_sql(
            f"INSERT INTO {quote(seg.name)} ({cols}) SELECT {cols} FROM pg_temp.{STAGE} "
            f"ORDER BY id {conflict}"
        )
        return
    marks = ", ".join("?" for _ in names)
    _executemany(conn, f"INSERT INTO {quote(seg.name)} ({cols}) VALUES ({marks}) {conflict}", data)


def write_columns(conn: sa.Connection, seg: SegmentationTable, data: pa.Table) -> None:
    """Overwrite columns of existing segmentation rows (never creates rows). ``data``: ``id``
    and the columns to set, int64."""
    names = checked_columns(seg, data)
    targets = [n for n in names if n != "id"]
    if data.num_rows == 0 or not targets:
        return
    if conn.dialect.name == "postgresql":
        _stage(conn, data)
        if data.num_rows <= INDEX_PROBE_ROWS:
            # a chunk of rows is looked up by primary key; left to itself the planner (no
            # statistics on the staged rows) merge-joined them with the whole table's index
            conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
            conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        sets = ", ".join(f"{quote(n)} = s.{quote(n)}" for n in targets)
        conn.exec_driver_sql(
            f"UPDATE {quote(seg.name)} AS t SET {sets} FROM pg_temp.{STAGE} AS s WHERE t.id = s.id"
        )
        conn.exec_driver_sql("RESET enable_mergejoin")
        conn.exec_driver_sql("RESET enable_hashjoin")
        return
    sets = ", ".join(f"{quote(n)} = ?" for n in targets)
    reordered = data.select([*targets, "id"])
    _executemany(conn, f"UPDATE {quote(seg.name)} SET {sets} WHERE id = ?", reordered)


def checked_columns(seg: SegmentationTable, data: pa.Table) -> list[str]:
    """``data``'s column names, checked: ``id`` first, then some of the linked columns."""
    names = list(data.column_names)
    allowed = set(seg.columns)
    if not names or names[0] != "id" or not set(names) <= allowed:
        raise ValueError(f"segmentation columns must be 'id' then some of {seg.columns}")
    return names


def _stage(conn: sa.Connection, data: pa.Table) -> None:
    """Binary-COPY ``data`` (int64 columns) into a temporary table dropped at commit."""
    names = list(data.column_names)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {STAGE} ("
        + ", ".join(f"{quote(n)} BIGINT" for n in names)
        + ") ON COMMIT DROP"
    )
    columns = [pgcopy.CopyColumn(n, "int8") for n in names]
    pgcopy.copy_into(conn, f"pg_temp.{STAGE}", data, columns, COPY_BATCH_ROWS)


def _executemany(conn: sa.Connection, sql: str, data: pa.Table) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for batch in data.to_batches(SQLITE_BATCH_ROWS):
            columns = [_as_list(batch.column(i)) for i in range(batch.num_columns)]
            cursor.executemany(sql, zip(*columns, strict=True))
    finally:
        cursor.close()


def _as_list(values: pa.Array) -> list[Any]:
    if values.null_count:
        return values.to_pylist()  # type: ignore[no-any-return]
    return np.asarray(values.to_numpy(), dtype=np.int64).tolist()  # type: ignore[no-any-return]


def set_last_updated(
    conn: sa.Connection, seg: SegmentationTable, at: datetime, *, only_if_unset: bool = False
) -> bool:
    """Declare the table's root ids valid at ``at``. It only moves forward (or, with
    ``only_if_unset``, is only set when NULL); returns whether it changed."""
    meta = t.segmentation_table_metadata
    unset = meta.c.last_updated.is_(None)
    guard = unset if only_if_unset else sa.or_(unset, meta.c.last_updated < at)
    result = conn.execute(
        meta.update().where(meta.c.table_name == seg.name, guard).values(last_updated=at)
    )
    return bool(result.rowcount)


def forget_last_updated(conn: sa.Connection, seg: SegmentationTable) -> None:
    """Declare the table's root ids valid at no known instant, so the next root update resolves
    every row (the one way back from roots valid at a later instant than wanted)."""
    meta = t.segmentation_table_metadata
    conn.execute(meta.update().where(meta.c.table_name == seg.name).values(last_updated=None))
