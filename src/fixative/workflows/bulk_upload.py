"""Bulk upload: Parquet, CSV or ``.npy`` files into an annotation table, streamed in chunks.

Each chunk is read, validated (``schemas.rows``) and written (annotation rows and, when the file
carries supervoxel ids, segmentation rows) in one transaction. Ids come from the file's id column
or are ``start_id + row`` (0-based over the upload), so they are the same on every run: a rerun
after a crash skips the rows already written and never duplicates one. When the file carries root
ids, the caller says the instant they are valid at (``roots_valid_at``); it becomes the table's
``last_updated`` when the table has none, and the next root update moves them forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fixative.clock import refuse_future
from fixative.errors import Conflict, InvalidInput
from fixative.store import Store, TableInfo
from fixative.store.bulkload import NewRows, write_new_rows
from fixative.store.segmentation import SegmentationTable
from fixative.workflows.progress import Report, ignore_progress
from fixative.workflows.upload_columns import ColumnMapping, convert_chunk
from fixative.workflows.upload_files import UploadFiles, open_upload_files

DEFAULT_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class UploadRequest:
    """What to upload where.

    ``files``: one ``.parquet`` or ``.csv`` file, or ``.npy`` files (one per column, or (n, 3)
    for a point). ``column_mapping``: source column (``.npy``: file stem) -> schema column;
    None maps every source column under its own name. ``start_id``: first id when the files
    have no id column. ``roots_valid_at``: the instant supplied root ids are valid at."""

    table: str
    files: Sequence[str | Path]
    column_mapping: Mapping[str, str] | None = None
    start_id: int | None = None
    roots_valid_at: datetime | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS


@dataclass(frozen=True)
class UploadResult:
    rows_inserted: int
    rows_skipped: int  # already present from an earlier run
    segmentation_rows: int
    chunks: int


@dataclass(frozen=True)
class _Prepared:
    files: UploadFiles
    mapping: ColumnMapping
    segmentation: SegmentationTable | None


def bulk_upload(
    store: Store, request: UploadRequest, report: Report = ignore_progress
) -> UploadResult:
    """Upload the files; ``report(rows done, total rows or 0 if unknown)`` after each chunk."""
    if request.roots_valid_at is not None:
        refuse_future(request.roots_valid_at, store.clock(), "roots_valid_at")
    info = store.get_table(request.table)
    prepared = _prepare(info, request)
    total = prepared.files.total_rows or 0
    names = list(prepared.mapping.sources)
    inserted = skipped = links = chunks = done = 0
    for chunk in prepared.files.chunks(names, request.chunk_rows):
        rows = convert_chunk(prepared.mapping, chunk, request.start_id)
        new, old = write_new_rows(
            store,
            NewRows(
                request.table,
                rows.annotations,
                rows.links,
                prepared.segmentation,
                request.roots_valid_at if prepared.mapping.has_roots else None,
            ),
        )
        inserted, skipped, chunks = inserted + new, skipped + old, chunks + 1
        links += new if rows.links is not None else 0
        done += chunk.rows
        report(done, total)
    if inserted:
        written = [request.table]
        if links and prepared.segmentation is not None:
            written += [prepared.segmentation.name, prepared.segmentation.history]
        store.analyze(*written)
    return UploadResult(inserted, skipped, links, chunks)


def _prepare(info: TableInfo, request: UploadRequest) -> _Prepared:
    if request.chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be positive, got {request.chunk_rows}")
    probe = open_upload_files(request.files, {})
    mapping = ColumnMapping.build(info.schema, probe.names, request.column_mapping, probe.label)
    files = open_upload_files(request.files, mapping.csv_types())
    if not mapping.has_ids and (request.start_id is None or request.start_id < 1):
        raise InvalidInput(
            f"{files.label}: no column maps to 'id'; give start_id (a positive integer) so "
            "ids are start_id + row number, the same on every run"
        )
    if mapping.has_ids and request.start_id is not None:
        raise InvalidInput("give either an id column or start_id, not both")
    segmentation = SegmentationTable.of(info) if mapping.has_supervoxels else None
    _check_roots_instant(info, mapping, request.roots_valid_at)
    return _Prepared(files, mapping, segmentation)


def _check_roots_instant(info: TableInfo, mapping: ColumnMapping, at: datetime | None) -> None:
    if not mapping.has_roots:
        if at is not None:
            raise InvalidInput("roots_valid_at is given but no column maps to a root id")
        return
    if at is None or at.tzinfo is None:
        raise InvalidInput("root ids are given: say when they are valid (aware roots_valid_at)")
    last = info.last_updated_at
    if last is not None and at < last:
        raise Conflict(
            f"table {info.table_name!r} holds root ids valid at {last.isoformat()}; the "
            f"uploaded ones are valid at {at.isoformat()}, earlier: upload them without root "
            "ids (they will be looked up) or with roots valid at or after that instant"
        )
