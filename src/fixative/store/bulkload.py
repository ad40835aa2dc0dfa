"""Write one chunk of a bulk upload: its annotation rows and segmentation rows in one
transaction, skipping rows a previous run already wrote.

A rerun after a crash meets ids that exist: a row whose stored data equals the chunk's row is
skipped (it was written by the earlier run); an id that holds different data is a Conflict, so
an upload never silently drops rows or overwrites someone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput
from fixative.store.base import Store
from fixative.store.history import read_arrow
from fixative.store.intcolumns import id_set_param, id_set_sql, read_int64
from fixative.store.root_history import record_intervals
from fixative.store.segmentation import SegmentationTable, quote, set_last_updated, upsert_links

TIME_TYPE = pa.timestamp("us", tz="UTC")
COMPARE_BATCH = 10_000


@dataclass(frozen=True)
class NewRows:
    """Validated rows for ``table`` (``schemas.rows`` columns with ids set), and optionally
    their segmentation rows (``links``) with the instant their root ids are valid at."""

    table: str
    annotations: pa.Table
    links: pa.Table | None = None
    segmentation: SegmentationTable | None = None
    roots_valid_at: datetime | None = None


def existing_ids(conn: sa.Connection, table: str, ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Those of ``ids`` present in ``table`` (sorted)."""
    sql = f"SELECT id AS c0 FROM {quote(table)} WHERE id IN {id_set_sql(conn, 'ids')}"
    found = read_int64(conn, sql, 1, {"ids": id_set_param(conn, ids)})[:, 0]
    return np.sort(found)


def write_new_rows(store: Store, rows: NewRows) -> tuple[int, int]:
    """Insert the rows not yet present, in one transaction; returns (inserted, skipped)."""
    ids = np.asarray(rows.annotations.column("id").to_numpy(), dtype=np.int64)
    with store.write() as conn:
        meta_row = store._lock_table(conn, rows.table)
        table = store._table_object(conn, rows.table)
        taken = existing_ids(conn, rows.table, ids)
        fresh = ~np.isin(ids, taken)
        if taken.size:
            _check_same(conn, table, rows.annotations.filter(pa.array(~fresh)))
        data = rows.annotations.filter(pa.array(fresh)) if taken.size else rows.annotations
        if data.num_rows:
            if "target_id" in data.column_names:
                _check_targets(conn, table, data)
            now = store._next_instant(meta_row.last_modified)
            store._bulk_insert(conn, table, _with_history(data, now))
            store._touch(conn, rows.table, now)
        if rows.links is not None and rows.segmentation is not None and data.num_rows:
            links = rows.links.filter(pa.array(fresh)) if taken.size else rows.links
            upsert_links(conn, rows.segmentation, links)
            if rows.roots_valid_at is not None:
                record_intervals(conn, rows.segmentation, links.column("id"), rows.roots_valid_at)
        if rows.roots_valid_at is not None and rows.segmentation is not None:
            set_last_updated(conn, rows.segmentation, rows.roots_valid_at, only_if_unset=True)
    return data.num_rows, int(taken.size)


def _with_history(data: pa.Table, now: datetime) -> pa.Table:
    """The CRUD columns of freshly inserted rows: created now, not deleted, valid."""
    n = data.num_rows
    full = data.append_column("created", pa.array(np.full(n, now), TIME_TYPE))
    full = full.append_column("deleted", pa.nulls(n, TIME_TYPE))
    full = full.append_column("superceded_id", pa.nulls(n, pa.int64()))
    return full.append_column("valid", pa.array(np.ones(n, dtype=bool)))


def _check_same(conn: sa.Connection, table: sa.Table, wanted: pa.Table) -> None:
    """Conflict unless the stored rows with these ids hold exactly ``wanted``'s data."""
    order = pc.sort_indices(wanted, sort_keys=[("id", "ascending")])
    wanted = wanted.take(order)
    names = wanted.column_names
    for lo in range(0, wanted.num_rows, COMPARE_BATCH):
        part = wanted.slice(lo, COMPARE_BATCH)
        ids = part.column("id").to_pylist()
        query = sa.select(*(table.c[n] for n in names)).where(table.c.id.in_(ids))
        stored = read_arrow(conn, query.order_by(table.c.id), table)
        differs = [n for n in names if not stored.column(n).equals(part.column(n))]
        if differs:
            shown = ", ".join(map(str, ids[:10]))
            raise Conflict(
                f"annotation id(s) among {shown} already exist in table {table.name!r} with "
                f"different data (column {differs[0]!r}); an upload only skips rows it wrote"
            )


def _check_targets(conn: sa.Connection, table: sa.Table, data: pa.Table) -> None:
    ref = next(iter(table.c.target_id.foreign_keys)).target_fullname.split(".")[0]
    targets = np.unique(np.asarray(data.column("target_id").to_numpy(), dtype=np.int64))
    missing = np.setdiff1d(targets, existing_ids(conn, ref, targets))
    if missing.size:
        shown = ", ".join(map(str, missing[:10].tolist()))
        raise InvalidInput(f"target_id(s) {shown} do not exist in reference table {ref!r}")
