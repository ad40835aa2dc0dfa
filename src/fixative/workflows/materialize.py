"""Create a version at T: bring every table of the datastack to T (ingest new annotations, move
root ids to T), then build the version database. Runs in this process; the task runner and the
per-datastack lock come later."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import await_instant
from fixative.segmentation.port import SegmentationSource
from fixative.store import Store
from fixative.versions import (
    ExpiryResult,
    VersionInfo,
    VersionOptions,
    create_version,
    expire_versions,
)
from fixative.versions.compaction import compact_histories
from fixative.versions.model import Kind
from fixative.workflows.progress import Report, RunOptions, ignore_progress
from fixative.workflows.reclaim import reclaim
from fixative.workflows.refresh import TableRefresh, refresh_table


@dataclass(frozen=True)
class VersionRequest:
    datastack: str
    aligned_volume: str
    at: datetime
    days_to_expire: int | None = None
    refresh_report: Report = ignore_progress
    build_report: Report = ignore_progress
    kind: Kind = "history"  # a row of the root-id history, or a copy


@dataclass(frozen=True)
class Materialized:
    version: VersionInfo
    refreshed: dict[str, TableRefresh] = field(default_factory=dict)


def materialize(
    store: Store, seg: SegmentationSource, cg: ChunkedGraph, request: VersionRequest
) -> Materialized:
    """Refresh every table with bound points to ``request.at``, then create the version, then
    reclaim the space of the rows the root update rewrote (``reclaim``). An
    instant after now is refused before any table is touched (a version cannot be built at it,
    and the tables would be left holding roots valid only in the future); one a few seconds
    ahead (clock skew) is waited for."""
    await_instant(request.at, store.clock, "the version instant")
    refreshed: dict[str, TableRefresh] = {}
    for info in store.list_tables(aligned_volume=request.aligned_volume):
        if info.segmentation_table is None:
            continue
        options = RunOptions(report=request.refresh_report)
        refreshed[info.table_name] = refresh_table(
            store, seg, cg, info.table_name, request.at, options
        )
    version = create_version(
        store,
        request.datastack,
        request.at,
        options=VersionOptions(
            days_to_expire=request.days_to_expire,
            aligned_volume=request.aligned_volume,
            report=request.build_report,
            kind=request.kind,
        ),
    )
    reclaim(store, {name: done.roots.rows_touched for name, done in refreshed.items()})
    return Materialized(version, refreshed)


def complete(
    store: Store,
    seg: SegmentationSource,
    cg: ChunkedGraph,
    request: VersionRequest,
    min_kept: int,
    history_window: timedelta | None = None,
) -> tuple[Materialized, ExpiryResult]:
    """The complete workflow: refresh every table to T, build the version, expire old ones,
    then (``history_window``) compact the root-id histories older than the window that no
    retained history version needs."""
    made = materialize(store, seg, cg, request)
    expired = expire_versions(store, request.datastack, store.clock(), min_kept=min_kept)
    if history_window is not None:
        dropped = compact_histories(store, request.aligned_volume, store.clock(), history_window)
        reclaim(store, dropped)
    return made, expired
