"""The root-id history of a segmentation table (``{seg}__history``): every row's supervoxel and
root ids over time, as intervals ``[valid_from, valid_to)``; ``valid_to`` NULL is the open one.

Each interval is a whole version row: beside the ids it carries the annotation's own columns
(``created``, ``deleted`` and the fields, which never change but for ``deleted``: an update
makes a new annotation), so a version query reads one table through its own root indexes, as
it would a flat copy (a box goes through the annotation table's spatial index: points never
move). The annotation writer stamps ``deleted`` on a row's intervals in the transaction that
deletes it.

Root ids are immutable and each is valid for one interval, so a row's roots change only at the
instants a workflow records: an ingest links a row at its instant T, a root update rewrites the
rows holding expired roots at T, an upload with root ids records them at the instant they are
valid at. Each of these writes, in the same transaction as the segmentation table, closes the
rows' intervals that hold T and opens one at T with the values the segmentation table now holds
(``record_intervals``). Intervals of a row never overlap: one recorded before an interval that
starts later ends where that one starts. Running the same write again changes nothing.

The segmentation table stays what current queries read: the cache of the open intervals. The
history is exact at the instants a table was brought wholly to (an ingest and a root update at
the same T: ``record_instant``); at any other instant its roots are those of the last update
before it, which a live query corrects with the chunkedgraph. ``rows_at`` reads the intervals
holding T.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import sqlalchemy as sa

from fixative.schemas.types import SchemaType
from fixative.store import pgcopy
from fixative.store import tables as t
from fixative.store.intcolumns import read_int64
from fixative.store.segmentation import (
    COPY_BATCH_ROWS,
    IdRange,
    SegmentationTable,
    checked_columns,
    upsert_links,
)
from fixative.store.types import UtcDateTime

I64 = npt.NDArray[np.int64]
STAGE = "fixative_history_ids"
INDEX_PROBE_ROWS = 100_000


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_history_table(conn: sa.Connection, segmentation_table: str, schema: SchemaType) -> str:
    """Create the (empty) history of a segmentation table; returns its name. It has no spatial
    index of its own: a point never moves, so a box is found through the annotation table's."""
    name = t.history_table_name(segmentation_table)
    t.history_table(sa.MetaData(), name, schema).create(conn)
    t.leave_key_room(conn, name)
    return name


def stored_columns(conn: sa.Connection, table: str) -> list[str]:
    """A table's columns that hold values (generated geometry left out), in table order, read
    from the database's catalogue: for migrations, which know no schema."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "AND table_schema = current_schema() AND is_generated = 'NEVER' "
                "ORDER BY ordinal_position"
            ),
            {"t": table},
        )
        return [str(name) for (name,) in found]
    return [str(row[1]) for row in conn.exec_driver_sql(f"PRAGMA table_info({quote(table)})")]


def _at(at: datetime) -> sa.BindParameter[datetime]:
    return sa.bindparam("at", at, type_=UtcDateTime)


def _id_set(conn: sa.Connection, ids: I64) -> tuple[str, dict[str, Any]]:
    """A subquery of ``ids`` for ``... IN (it)``: a staged temporary table on PostgreSQL, a JSON
    array on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {STAGE} (id BIGINT) ON COMMIT DROP")
        data = pa.table({"id": pa.array(ids, pa.int64())})
        pgcopy.copy_into(conn, f"pg_temp.{STAGE}", data, [pgcopy.CopyColumn("id", "int8")], 200_000)
        if ids.size <= INDEX_PROBE_ROWS:  # probe by key, as segmentation writes do
            conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
            conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        return f"(SELECT id FROM pg_temp.{STAGE})", {}
    return (
        "(SELECT value FROM json_each(:ids))",
        {"ids": json.dumps(np.asarray(ids, dtype=np.int64).tolist())},
    )


def record_intervals(
    conn: sa.Connection, seg: SegmentationTable, ids: npt.ArrayLike, at: datetime
) -> None:
    """Record that the rows ``ids`` of the segmentation table hold, from ``at`` on, the values
    it holds now (call in the transaction that wrote them)."""
    wanted = np.unique(np.asarray(ids, dtype=np.int64))
    if wanted.size == 0:
        return
    cols = seg.columns[1:]
    subset, params = _id_set(conn, wanted)
    hist, seg_name = quote(seg.history), quote(seg.name)
    # 1. intervals holding ``at`` (started before it) end there
    conn.execute(
        sa.text(
            f"UPDATE {hist} SET valid_to = :at WHERE id IN {subset} AND valid_from < :at "
            "AND (valid_to IS NULL OR valid_to > :at)"
        ).bindparams(_at(at)),
        params,
    )
    # 2. the interval starting at ``at`` holds the segmentation table's values, beside the
    #    annotation's own columns (immutable but for ``deleted``, which the writer keeps up),
    #    and ends where a later recorded interval starts (NULL: none, it is open). Rows go in
    #    by their first root, so a neuron's rows share pages as a flat copy's do.
    own = seg.annotation_columns
    names = ", ".join(quote(c) for c in (*own, *cols))
    picked = ", ".join([*(f"a.{quote(c)}" for c in own), *(f"s.{quote(c)}" for c in cols)])
    sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in cols)
    ends = (
        f"(SELECT min(later.valid_from) FROM {hist} AS later "
        "WHERE later.id = s.id AND later.valid_from > :at)"
    )
    conn.execute(
        sa.text(
            f"INSERT INTO {hist} (id, {names}, valid_from, valid_to) "
            f"SELECT s.id, {picked}, :at, {ends} FROM {seg_name} AS s "
            f"JOIN {quote(seg.annotation_table)} AS a ON a.id = s.id WHERE s.id IN {subset} "
            f"ORDER BY s.{quote(cols[1])}, s.id "
            f"ON CONFLICT (id, valid_from) DO UPDATE SET {sets}"
        ).bindparams(_at(at)),
        params,
    )
    if conn.dialect.name == "postgresql" and wanted.size <= INDEX_PROBE_ROWS:
        conn.exec_driver_sql("RESET enable_mergejoin")
        conn.exec_driver_sql("RESET enable_hashjoin")


def link_new(
    conn: sa.Connection, seg: SegmentationTable, data: pa.Table, ids: IdRange, at: datetime
) -> None:
    """Write ingest's segmentation rows ``data`` (``upsert_links``' shape, every id inside
    ``ids``, all created at or before ``at``) and record their intervals from ``at`` on:
    ``upsert_links`` then ``record_intervals``.

    When neither table holds a row of the id range (every chunk of a first ingest, and the
    ranges of annotations new since) there is no row to overwrite, no interval to close and
    none to end before. On PostgreSQL the rows are then COPYed into the segmentation table and
    their intervals inserted from it, beside their annotation rows, as two range scans, instead
    of probing three indexes per row. Exact under concurrent ingests: a row another ingest wrote
    since the check is either one of ``data`` (the COPY fails on its key, everything here is
    undone and the general way taken) or was created after ``at`` (left out by ``created``)."""
    names = checked_columns(seg, data)
    if data.num_rows == 0:
        return
    if (
        conn.dialect.name == "postgresql"
        and names == seg.columns
        and not _ever_linked(conn, seg, ids)
    ):
        from psycopg.errors import UniqueViolation  # the COPY runs on the driver's cursor

        try:
            with conn.begin_nested():
                _insert_new(conn, seg, data, ids, at)
            return
        except (sa.exc.IntegrityError, UniqueViolation):
            pass
    upsert_links(conn, seg, data)
    record_intervals(conn, seg, data.column("id").to_numpy(), at)


def _insert_new(
    conn: sa.Connection, seg: SegmentationTable, data: pa.Table, ids: IdRange, at: datetime
) -> None:
    columns = [pgcopy.CopyColumn(n, "int8") for n in seg.columns]
    pgcopy.copy_into(conn, quote(seg.name), data, columns, COPY_BATCH_ROWS)
    cols, own = seg.columns[1:], seg.annotation_columns
    picked = ", ".join([*(f"a.{quote(c)}" for c in own), *(f"s.{quote(c)}" for c in cols)])
    conn.execute(
        sa.text(
            f"INSERT INTO {quote(seg.history)} "
            f"(id, {', '.join(quote(c) for c in (*own, *cols))}, valid_from, valid_to) "
            f"SELECT s.id, {picked}, :at, NULL FROM {quote(seg.name)} AS s "
            f"JOIN {quote(seg.annotation_table)} AS a ON a.id = s.id "
            "WHERE s.id >= :start AND s.id < :stop AND a.id >= :start AND a.id < :stop "
            f"AND a.created <= :at ORDER BY s.{quote(cols[1])}, s.id"
        ).bindparams(_at(at)),
        {"start": ids.start, "stop": ids.stop},
    )


def _ever_linked(conn: sa.Connection, seg: SegmentationTable, ids: IdRange) -> bool:
    """Whether the segmentation table or the history holds a row in ``ids`` (two probes)."""
    for table in (seg.name, seg.history):
        sql = f"SELECT 1 FROM {quote(table)} WHERE id >= :start AND id < :stop LIMIT 1"
        if conn.execute(sa.text(sql), {"start": ids.start, "stop": ids.stop}).first():
            return True
    return False


def backfill(conn: sa.Connection, segmentation_table: str, at: datetime) -> int:
    """Open an interval at ``at`` for every segmentation row that has none in the history (a
    database from before the history, or rows written around it); returns how many."""
    history = t.history_table_name(segmentation_table)
    meta = t.segmentation_table_metadata
    annotation = conn.execute(
        sa.select(meta.c.annotation_table).where(meta.c.table_name == segmentation_table)
    ).scalar_one()
    linked = [c for c in stored_columns(conn, segmentation_table) if c != "id"]
    own = [
        c
        for c in stored_columns(conn, history)
        if c not in linked and c not in ("id", "valid_from", "valid_to")
    ]
    names = ", ".join(quote(c) for c in (*own, *linked))
    picked = ", ".join([*(f"a.{quote(c)}" for c in own), *(f"s.{quote(c)}" for c in linked)])
    hist, seg = quote(history), quote(segmentation_table)
    result = conn.execute(
        sa.text(
            f"INSERT INTO {hist} (id, {names}, valid_from) SELECT s.id, {picked}, :at "
            f"FROM {seg} AS s JOIN {quote(annotation)} AS a ON a.id = s.id WHERE NOT EXISTS "
            f"(SELECT 1 FROM {hist} AS h WHERE h.id = s.id) ORDER BY s.{quote(linked[1])}, s.id"
        ).bindparams(_at(at))
    )
    return int(result.rowcount or 0)


def rows_at(conn: sa.Connection, seg: SegmentationTable, at: datetime) -> tuple[I64, I64]:
    """(ids sorted, values (n, columns) in ``seg.columns[1:]`` order, NULL as 0) of the
    intervals holding ``at``."""
    history = seg.history
    cols = seg.columns[1:]
    exprs = ["id", *(f"COALESCE({quote(c)}, 0)" for c in cols)]
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    sql = (
        f"SELECT {select} FROM {quote(history)} "
        "WHERE valid_from <= :at AND (valid_to IS NULL OR valid_to > :at)"
    )
    found = read_int64(conn, sql, len(exprs), binds=(_at(at),))
    found = found[np.argsort(found[:, 0])]
    return found[:, 0].copy(), found[:, 1:].copy()


def record_instant(conn: sa.Connection, table: str, at: datetime) -> None:
    """Record that ``table`` was brought wholly to ``at`` (every row created by then linked,
    every root resolved at ``at``): its history is exact there."""
    ri = t.recorded_instants
    found = conn.execute(
        sa.select(ri.c.id).where(ri.c.table_name == table, ri.c.instant == at)
    ).first()
    if found is None:
        conn.execute(ri.insert().values(table_name=table, instant=at))


def latest_instant(conn: sa.Connection, table: str, at: datetime) -> datetime | None:
    """The latest recorded instant of ``table`` at or before ``at``."""
    ri = t.recorded_instants
    query = sa.select(sa.func.max(ri.c.instant)).where(ri.c.table_name == table, ri.c.instant <= at)
    found: datetime | None = conn.execute(query).scalar()
    return found


def compact(
    conn: sa.Connection, seg: SegmentationTable, cutoff: datetime, keep: Sequence[datetime]
) -> int:
    """Drop the intervals that ended at or before ``cutoff`` and hold none of the ``keep``
    instants (the retained versions'), and the table's recorded instants before ``cutoff``
    other than those; returns how many intervals went. Answers at ``keep`` instants and at
    instants after ``cutoff`` are unchanged: every interval holding one of them stays."""
    history = sa.table(
        seg.history, sa.column("valid_from", UtcDateTime()), sa.column("valid_to", UtcDateTime())
    )
    hold = [sa.and_(history.c.valid_from <= k, history.c.valid_to > k) for k in sorted(set(keep))]
    gone = sa.and_(history.c.valid_to.is_not(None), history.c.valid_to <= cutoff)
    if hold:
        gone = sa.and_(gone, sa.not_(sa.or_(*hold)))
    removed = conn.execute(history.delete().where(gone)).rowcount
    ri = t.recorded_instants
    stale = sa.and_(ri.c.table_name == seg.annotation_table, ri.c.instant < cutoff)
    if keep:
        stale = sa.and_(stale, ri.c.instant.not_in(sorted(set(keep))))
    conn.execute(ri.delete().where(stale))
    return int(removed or 0)
