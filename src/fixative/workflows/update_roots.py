"""Update root ids from the table's ``last_updated`` L to T, with work proportional to change.

``get_delta_roots(L, T)`` gives the roots that expired in between; a root that did not expire
still holds the same supervoxels at T, so only rows holding an expired root need work. Per bound
point, the root-id index finds them (``count_holders``: one grouped index probe per expired
root), and the expired roots are packed into chunks of about ``chunk_rows`` rows. A chunk reads
the rows of its roots, resolves their stored supervoxel ids with one ``get_roots`` at T and
rewrites that point's root column; run again, it finds no row still holding those roots.

Rows whose root is NULL (supervoxels known, roots never looked up, e.g. a bulk upload without
root ids) are resolved in their own pass, by id ranges of the NULL rows. A table never resolved
(``last_updated`` NULL) has every row resolved, by id ranges. Only after every chunk succeeded
does ``last_updated`` become T.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import sqlalchemy as sa

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import await_instant
from fixative.ids import to_int64, to_uint64
from fixative.schemas.types import PointField
from fixative.store import Store
from fixative.store.root_history import record_intervals
from fixative.store.segmentation import (
    IdRange,
    SegmentationTable,
    count_holders,
    forget_last_updated,
    read_holders,
    read_supervoxels,
    segmentation_ranges,
    set_last_updated,
    write_columns,
)
from fixative.workflows.ingest import ANALYZE_AFTER_ROWS, linked_table
from fixative.workflows.progress import DEFAULT_CHUNK_ROWS, Report, RunOptions, ignore_progress

EXPIRED_BATCH = 100_000  # expired roots per planning query
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ExpiredRoots:
    """Rows whose ``point`` root is one of ``root_ids`` (roots that expired in the window)."""

    point: str
    root_ids: tuple[int, ...]
    rows: int


@dataclass(frozen=True)
class NullRoots:
    """Rows in ``ids`` whose ``point`` root is NULL."""

    point: str
    ids: IdRange

    @property
    def rows(self) -> int:
        return self.ids.rows


@dataclass(frozen=True)
class AllRoots:
    """Every row in ``ids``, every point (for a table never resolved)."""

    ids: IdRange

    @property
    def rows(self) -> int:
        return self.ids.rows


RootChunk = ExpiredRoots | NullRoots | AllRoots


@dataclass(frozen=True)
class RootUpdatePlan:
    table: str
    since: datetime | None  # the table's last_updated; None: never resolved
    until: datetime
    expired_root_ids: int
    chunks: tuple[RootChunk, ...]

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.chunks)


@dataclass(frozen=True)
class RootUpdateResult:
    """``rows_touched`` counts root ids rewritten: a row with two expired points counts twice."""

    since: datetime | None
    until: datetime
    expired_root_ids: int
    rows_touched: int
    chunks: int


def expired_roots(cg: ChunkedGraph, since: datetime, until: datetime) -> I64:
    """Roots that expired between ``since`` and ``until``, sorted, as int64."""
    old, _new = cg.get_delta_roots(since, until)
    return np.unique(to_int64(old))


def plan_update_roots(
    store: Store, cg: ChunkedGraph, table: str, at: datetime, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> RootUpdatePlan:
    """The chunks that bring ``table``'s root ids from its ``last_updated`` to ``at``."""
    await_instant(at, store.clock)
    info = store.get_table(table)
    links = linked_table(info, at, store.clock())
    since = info.last_updated_at
    chunks: list[RootChunk] = []
    with store.read() as conn:
        if since is None:
            chunks.extend(AllRoots(r) for r in segmentation_ranges(conn, links, chunk_rows))
            return RootUpdatePlan(table, None, at, 0, tuple(chunks))
        old = expired_roots(cg, since, at)
        for p in links.points:
            chunks.extend(_expired_chunks(conn, links, p.name, old, chunk_rows))
        for p in links.points:
            ranges = segmentation_ranges(conn, links, chunk_rows, null_root_of=p.name)
            chunks.extend(NullRoots(p.name, r) for r in ranges)
    return RootUpdatePlan(table, since, at, int(old.size), tuple(chunks))


def _expired_chunks(
    conn: sa.Connection, links: SegmentationTable, point: str, old: I64, chunk_rows: int
) -> list[ExpiredRoots]:
    """Expired roots some row holds, packed in root order into chunks of ~``chunk_rows`` rows
    (a root is never split: one root holding more rows is a chunk of its own size)."""
    found = [
        count_holders(conn, links, point, old[lo : lo + EXPIRED_BATCH])
        for lo in range(0, old.size, EXPIRED_BATCH)
    ]
    if not found:
        return []
    roots = np.concatenate([f[0] for f in found])
    counts = np.concatenate([f[1] for f in found])
    if roots.size == 0:
        return []
    group = (np.cumsum(counts) - 1) // chunk_rows
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    sizes = np.add.reduceat(counts, starts)
    return [
        ExpiredRoots(point, tuple(part.tolist()), int(rows))
        for part, rows in zip(np.split(roots, starts[1:]), sizes.tolist(), strict=True)
    ]


def update_roots_chunk(
    store: Store, cg: ChunkedGraph, table: str, chunk: RootChunk, at: datetime
) -> int:
    """Re-resolve the rows of one chunk at ``at``; returns how many were rewritten."""
    links = linked_table(store.get_table(table), at, store.clock())
    points: tuple[PointField, ...]
    with store.read() as conn:
        if isinstance(chunk, ExpiredRoots):
            points = (links.point(chunk.point),)
            ids, svs = read_holders(conn, links, chunk.point, chunk.root_ids)
            svs = svs[:, None]
        elif isinstance(chunk, NullRoots):
            points = (links.point(chunk.point),)
            ids, every = read_supervoxels(conn, links, chunk.ids, null_root_of=chunk.point)
            svs = every[:, [links.points.index(points[0])]]
        else:
            points = links.points
            ids, svs = read_supervoxels(conn, links, chunk.ids)
    if ids.size == 0:
        return 0
    roots = to_int64(cg.get_roots(to_uint64(svs.ravel()), at)).reshape(svs.shape)
    columns: dict[str, pa.Array] = {"id": pa.array(ids, pa.int64())}
    for i, p in enumerate(points):
        columns[p.root_column] = pa.array(roots[:, i], pa.int64())
    with store.write() as conn:
        write_columns(conn, links, pa.table(columns))
        record_intervals(conn, links, ids, at)
    return int(ids.size)


def run_update_roots(
    store: Store, cg: ChunkedGraph, plan: RootUpdatePlan, report: Report = ignore_progress
) -> RootUpdateResult:
    """Run every chunk in order, then set the table's ``last_updated`` to the plan's instant."""
    done = touched = 0
    for chunk in plan.chunks:
        touched += update_roots_chunk(store, cg, plan.table, chunk, plan.until)
        done += chunk.rows
        report(done, plan.rows)
    links = linked_table(store.get_table(plan.table), plan.until, store.clock())
    with store.write() as conn:
        set_last_updated(conn, links, plan.until)
    if touched >= ANALYZE_AFTER_ROWS:  # new root ids and intervals: the planner must know them
        store.analyze(links.name, links.history)
    return RootUpdateResult(
        plan.since, plan.until, plan.expired_root_ids, touched, len(plan.chunks)
    )


def update_roots(
    store: Store,
    cg: ChunkedGraph,
    table: str,
    at: datetime,
    options: RunOptions | None = None,
) -> RootUpdateResult:
    """Plan and run a root update of ``table`` to ``at``."""
    options = options or RunOptions()
    plan = plan_update_roots(store, cg, table, at, options.chunk_rows)
    return run_update_roots(store, cg, plan, options.report)


def reresolve_roots(
    store: Store,
    cg: ChunkedGraph,
    table: str,
    at: datetime,
    options: RunOptions | None = None,
) -> RootUpdateResult:
    """Every row's root ids resolved afresh at ``at`` from its supervoxels, whatever instant the
    table held them at: also an earlier one, which ``update_roots`` refuses (e.g. roots once
    moved to an instant that has not come yet). The table first forgets its ``last_updated``, so
    an interrupted run leaves it to be resolved in full by the next root update."""
    links = SegmentationTable.of(store.get_table(table))
    with store.write() as conn:
        forget_last_updated(conn, links)
    return update_roots(store, cg, table, at, options)
