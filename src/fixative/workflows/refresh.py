"""Bring one table's segmentation to T: ingest new annotations at T, update the stored root ids
from ``last_updated`` to T, then set ``last_updated = T`` and record T as an instant the table's
root-id history is exact at (only after both succeeded).

Both phases are planned before either runs, so progress covers the whole job; planning the root
update first also keeps the ingested rows (already resolved at T) out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store
from fixative.store.root_history import record_instant
from fixative.store.segmentation import SegmentationTable, has_unlinked, linked_through
from fixative.workflows.ingest import IngestResult, make_ingest_plan, run_ingest
from fixative.workflows.progress import RunOptions
from fixative.workflows.update_roots import RootUpdateResult, plan_update_roots, run_update_roots


@dataclass(frozen=True)
class TableRefresh:
    ingest: IngestResult
    roots: RootUpdateResult


def refresh_table(
    store: Store,
    seg: SegmentationSource,
    cg: ChunkedGraph,
    table: str,
    at: datetime,
    options: RunOptions | None = None,
) -> TableRefresh:
    """Ingest at ``at``, update roots to ``at``, set ``last_updated``; ``options.report(done,
    total)`` counts the rows of both phases."""
    options = options or RunOptions()
    roots_plan = plan_update_roots(store, cg, table, at, options.chunk_rows)
    ingest_plan = make_ingest_plan(store, table, at, options.chunk_rows)
    total = ingest_plan.rows + roots_plan.rows

    def ingest_progress(done: int, _planned: int) -> None:
        options.report(done, total)

    def roots_progress(done: int, _planned: int) -> None:
        options.report(ingest_plan.rows + done, total)

    ingested = run_ingest(store, seg, cg, ingest_plan, ingest_progress)
    updated = run_update_roots(store, cg, roots_plan, roots_progress)
    _record_if_whole(store, table, at)
    return TableRefresh(ingested, updated)


def _record_if_whole(store: Store, table: str, at: datetime) -> None:
    """Record ``at`` as an instant the table's history is exact at, when every row created
    by then is linked. Under the table's write lock: a write in flight (its rows stamped before
    ``at``) commits first and is seen, and every later write is stamped after ``at``."""
    links = SegmentationTable.of(store.get_table(table))
    with store.write() as conn:
        store._lock_table(conn, table)
        if not has_unlinked(conn, links, at, linked_through(conn, links)):
            record_instant(conn, table, at)
