"""Ingest new annotations: give every annotation created at or before T (deleted since or not:
versions at past instants need them) that has no segmentation row yet its supervoxel ids and its
root ids at T.

The work splits into id ranges (``plan_ingest``). A chunk reads its rows that still lack a
segmentation row, looks up all their points in ONE chunk-grouped ``lookup`` call, resolves all
their supervoxels with ONE ``get_roots`` call, and upserts the rows by id: running a chunk again
(after a crash, or twice at once) finds nothing left to do or rewrites the same values. Points
outside the volume get supervoxel 0 and root 0 and are counted, not fatal.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import await_instant, refuse_future
from fixative.errors import Conflict, InvalidInput
from fixative.ids import to_int64
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store, TableInfo, bulkindex
from fixative.store.root_history import link_new
from fixative.store.segmentation import (
    IdRange,
    SegmentationTable,
    complete_through,
    read_unlinked,
)
from fixative.store.segmentation import linked_through as _linked_through
from fixative.store.segmentation import set_linked_through as _set_linked_through
from fixative.store.segmentation import unlinked_ranges as _unlinked_ranges
from fixative.workflows.progress import DEFAULT_CHUNK_ROWS, Report, RunOptions, ignore_progress

U64 = npt.NDArray[np.uint64]
ANALYZE_AFTER_ROWS = 50_000  # an ingest that linked this many rows refreshes the statistics


@dataclass(frozen=True)
class IngestCount:
    """What one chunk did: segmentation rows written, and points whose supervoxel is 0
    (outside the volume, or on unlabelled background)."""

    rows: int
    points_without_supervoxel: int


@dataclass(frozen=True)
class IngestResult:
    at: datetime
    chunks: int
    rows: int
    points_without_supervoxel: int


def linked_table(info: TableInfo, at: datetime, now: datetime) -> SegmentationTable:
    """The table's segmentation layout, refusing instants later than ``now`` (beyond the clock
    skew allowed) and instants its stored roots are already past: roots written at T must stay
    valid at some instant at or after ``last_updated``. Every ingest and root update passes
    here before it writes anything."""
    if at.tzinfo is None:
        raise InvalidInput(f"instant {at!r} has no time zone; use aware UTC datetimes")
    refuse_future(at, now)
    last = info.last_updated_at
    if last is not None and at < last:
        raise Conflict(
            f"table {info.table_name!r} holds root ids valid at {last.isoformat()}, after "
            f"{at.isoformat()}: cannot resolve it at an earlier instant"
        )
    return SegmentationTable.of(info)


def plan_ingest(
    store: Store, table: str, at: datetime, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> list[IdRange]:
    """Id ranges holding at most ``chunk_rows`` annotations to ingest at ``at`` each."""
    return list(make_ingest_plan(store, table, at, chunk_rows).ranges)


def make_ingest_plan(
    store: Store, table: str, at: datetime, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> IngestPlan:
    """The chunks of an ingest at ``at``. Only annotations created after the table's
    ``linked_through`` are searched (an index range on ``created``, not the whole table), and
    the plan carries the instant ``linked_through`` moves to once every chunk is done."""
    await_instant(at, store.clock)
    links = linked_table(store.get_table(table), at, store.clock())
    with store.read() as conn:
        after = _linked_through(conn, links)
        complete = complete_through(conn, links, at)  # read before the search, see its doc
        ranges = _unlinked_ranges(conn, links, at, chunk_rows, after)
    return IngestPlan(table, at, tuple(ranges), complete)


def ingest_chunk(
    store: Store,
    seg: SegmentationSource,
    cg: ChunkedGraph,
    table: str,
    id_range: IdRange,
    at: datetime,
) -> IngestCount:
    """Link the annotations of ``id_range`` that still lack segmentation rows."""
    return write_chunk(store, prepare_chunk(store, seg, cg, table, id_range, at))


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk's segmentation rows, looked up and resolved, not yet written."""

    table: str
    id_range: IdRange
    at: datetime
    rows: pa.Table | None  # None: nothing left to link in the range
    points_without_supervoxel: int


def prepare_chunk(
    store: Store,
    seg: SegmentationSource,
    cg: ChunkedGraph,
    table: str,
    id_range: IdRange,
    at: datetime,
) -> PreparedChunk:
    """Read the range's unlinked rows, look up their supervoxels and resolve their roots at
    ``at``: every step of a chunk but the write, which reads nothing another chunk writes."""
    info = store.get_table(table)
    links = linked_table(info, at, store.clock())
    with store.read() as conn:
        ids, positions, present = read_unlinked(conn, links, id_range, at)
    if ids.size == 0:
        return PreparedChunk(table, id_range, at, None, 0)
    supervoxels = lookup_supervoxels(seg, positions, present, info.voxel_resolution_nm)
    roots = cg.get_roots(supervoxels.ravel(), at).reshape(supervoxels.shape)
    missing = int(np.count_nonzero(supervoxels == 0))
    return PreparedChunk(table, id_range, at, link_rows(links, ids, supervoxels, roots), missing)


def write_chunk(store: Store, chunk: PreparedChunk) -> IngestCount:
    """Write a prepared chunk's segmentation rows and their history intervals."""
    if chunk.rows is None:
        return IngestCount(0, 0)
    links = linked_table(store.get_table(chunk.table), chunk.at, store.clock())
    with store.write() as conn:
        link_new(conn, links, chunk.rows, chunk.id_range, chunk.at)
    return IngestCount(chunk.rows.num_rows, chunk.points_without_supervoxel)


def lookup_supervoxels(
    seg: SegmentationSource,
    positions: npt.NDArray[np.int64],
    present: npt.NDArray[np.bool_],
    resolution_nm: tuple[float, float, float],
) -> U64:
    """Supervoxel of every present point, (rows, points), in one lookup; 0 where a point is
    missing or outside the volume."""
    found = np.zeros(present.shape, dtype=np.uint64)
    if present.any():
        found[present] = seg.lookup(positions[present], resolution_nm, outside="zero")
    return found


def link_rows(
    links: SegmentationTable, ids: npt.NDArray[np.int64], svs: U64, roots: U64
) -> pa.Table:
    """Segmentation rows: id, then supervoxel and root id per bound point (int64)."""
    columns: dict[str, pa.Array] = {"id": pa.array(ids, pa.int64())}
    for i, p in enumerate(links.points):
        columns[p.supervoxel_column] = pa.array(to_int64(svs[:, i]), pa.int64())
        columns[p.root_column] = pa.array(to_int64(roots[:, i]), pa.int64())
    return pa.table(columns)


@dataclass(frozen=True)
class IngestPlan:
    """The chunks of one ingest: ``table``'s id ranges to link at ``at``. Once all are done,
    every annotation created at or before ``complete`` is linked."""

    table: str
    at: datetime
    ranges: tuple[IdRange, ...]
    complete: datetime | None = None

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.ranges)


def ingest_table(
    store: Store,
    seg: SegmentationSource,
    cg: ChunkedGraph,
    table: str,
    at: datetime,
    options: RunOptions | None = None,
) -> IngestResult:
    """Plan and run every chunk; ``options.report(rows done, rows planned)`` after each."""
    options = options or RunOptions()
    plan = make_ingest_plan(store, table, at, options.chunk_rows)
    return run_ingest(store, seg, cg, plan, options.report)


def run_ingest(
    store: Store,
    seg: SegmentationSource,
    cg: ChunkedGraph,
    plan: IngestPlan,
    report: Report = ignore_progress,
) -> IngestResult:
    """Run the planned chunks in order. A bulk ingest (``bulkindex.is_bulk``) drops the root-id
    indexes first and builds them afresh after the last chunk, or after a failed one."""
    links = SegmentationTable.of(store.get_table(plan.table))
    with store.write() as conn:
        bulkindex.restore(conn, links)  # left dropped by an ingest that died
        bulk = bulkindex.is_bulk(conn, links, plan.rows)
        if bulk:
            bulkindex.drop(conn, links)
    done = rows = outside = 0
    try:
        for chunk in _prepared(store, seg, cg, plan):
            count = write_chunk(store, chunk)
            rows, outside = rows + count.rows, outside + count.points_without_supervoxel
            done += chunk.id_range.rows
            report(done, plan.rows)
    finally:
        if bulk:
            with store.write() as conn:
                bulkindex.restore(conn, links)
    if plan.complete is not None:
        with store.write() as conn:
            _set_linked_through(conn, links, plan.complete)
    if rows >= ANALYZE_AFTER_ROWS:
        store.analyze(links.name, links.history)
        store.analyze_if_stale(plan.table)  # read only: a bulk upload may have just analyzed it
    return IngestResult(plan.at, len(plan.ranges), rows, outside)


def _prepared(
    store: Store, seg: SegmentationSource, cg: ChunkedGraph, plan: IngestPlan
) -> Iterator[PreparedChunk]:
    """The plan's chunks prepared one ahead on a thread of their own: the next chunk's read,
    lookup and root resolution (the client's work, mostly) run while the database writes the
    one before, so the two cores of a small machine both work. Ranges are disjoint, so the
    read ahead sees nothing the write changes; a failure stops the run at that chunk, as it
    would without the read-ahead."""
    if not plan.ranges:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-prepare") as pool:

        def submit(id_range: IdRange) -> Future[PreparedChunk]:
            return pool.submit(prepare_chunk, store, seg, cg, plan.table, id_range, plan.at)

        ahead = submit(plan.ranges[0])
        try:
            for following in (*plan.ranges[1:], None):
                chunk = ahead.result()
                if following is not None:
                    ahead = submit(following)
                yield chunk
        finally:
            ahead.cancel()
