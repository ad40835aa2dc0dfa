"""An export from start to end: check the request (before anything is read or written), stage
the release next to its final name, write each table partition by partition (skipping what an
earlier attempt of the same request finished), write the manifest and README, check the row
counts against the version's catalogue, publish.

Run twice, an export ends with the same files: a finished release with the same request is
left as it is and its manifest returned; another release under the name is a Conflict."""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from fixative.errors import Conflict, FixativeError, InvalidInput, NotFound, Unprocessable
from fixative.export.delta import write_delta_table
from fixative.export.live import live_counts, live_info
from fixative.export.manifest import (
    MANIFEST,
    README,
    TableRelease,
    build_manifest,
    manifest_bytes,
    readme,
)
from fixative.export.parquet import FileLayout, Key, piece_directory, pieces, write_piece
from fixative.export.partition import resolve
from fixative.export.select import id_parts, table_statement
from fixative.export.source import VersionSource, open_source
from fixative.export.spec import ExportRequest, TablePartitioning, partitioning
from fixative.export.state import ExportState
from fixative.export.target import STATE, Target, open_target
from fixative.export.view import (
    ViewSource,
    check_live,
    checked_view,
    view_description,
    view_relation,
    view_sort,
)
from fixative.query.columns import TableColumns, flat_columns
from fixative.store.base import Store
from fixative.versions import get_version, list_version_tables
from fixative.versions.model import AVAILABLE, Report, VersionInfo, quote
from fixative.views.query import CheckedTarget

PART_ROWS = 262_144  # rows per id range read as one statement (a few batches)


def _ignore(done: int, total: int) -> None:
    """No progress report."""


@dataclass(frozen=True)
class ExportPlan:
    request: ExportRequest
    info: VersionInfo
    tables: list[tuple[TableColumns, int]]  # each table's columns and its catalogued row count
    partitioning: dict[str, TablePartitioning]
    target: Target
    view: CheckedTarget | None = None  # the view exported (its row count is read at the start)

    @property
    def total_rows(self) -> int:
        return sum(rows for _, rows in self.tables)

    def fingerprint(self) -> str:
        params = {k: v for k, v in self.request.params().items() if k != "to"}
        body = json.dumps({"version_id": self.info.id, **params}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


def plan_export(store: Store, request: ExportRequest) -> ExportPlan:
    """The checked export: NotFound for an unknown version or table, Conflict for a version
    that is not AVAILABLE, InvalidInput for bad partition specs, sizes or targets."""
    if request.row_group_rows < 1 or request.file_rows < 1:
        raise InvalidInput("row_group_rows and file_rows must be positive")
    if (request.version is None) == (request.at is None):
        raise InvalidInput("export either a version or the live tables at an instant")
    if request.view is not None:
        return _plan_view(store, request, request.view)
    if request.at is not None:
        if request.at.tzinfo is None:
            raise InvalidInput("the export's instant must be an aware UTC datetime")
        info = live_info(request.datastack, request.at)
        counts = live_counts(store, info, request.tables)
    else:
        info, counts = _version_counts(store, request.datastack, request.version)
    names = sorted(counts) if request.tables is None else list(dict.fromkeys(request.tables))
    missing = [n for n in names if n not in counts]
    if missing:
        raise NotFound(
            f"table(s) {', '.join(map(repr, missing))} do not exist in version {info.version} of "
            f"datastack {info.datastack!r}; it has {', '.join(sorted(counts))}"
        )
    if not names:
        raise InvalidInput("choose at least one table to export")
    tables = [(flat_columns(store.get_table(n)), counts[n]) for n in names]
    chosen = partitioning(request.partition_by, [c for c, _ in tables])
    return ExportPlan(request, info, tables, chosen, open_target(request.to))


def _plan_view(store: Store, request: ExportRequest, name: str) -> ExportPlan:
    """The export of a view: NotFound for an unknown view or one reading a table the version
    does not hold; live, Unprocessable for a view that is not ``live_compatible``."""
    if request.tables is not None:
        raise InvalidInput("export either tables or a view, not both")
    if request.at is not None:
        if request.at.tzinfo is None:
            raise InvalidInput("the export's instant must be an aware UTC datetime")
        info = live_info(request.datastack, request.at)
        live = {t.table_name for t in store.list_tables()}
        view = checked_view(store, info.datastack, name, live)
        check_live(view)
        live_counts(store, info, view.checked.tables)  # the history is exact at the instant
    else:
        info, counts = _version_counts(store, request.datastack, request.version)
        view = checked_view(store, info.datastack, name, set(counts))
    chosen = partitioning(request.partition_by, [view.table])
    return ExportPlan(request, info, [(view.table, -1)], chosen, open_target(request.to), view)


def _counted_view(
    store: Store, plan: ExportPlan, source: VersionSource
) -> tuple[ExportPlan, VersionSource]:
    """The plan with the view's rows counted, and the source reading the view under its name;
    Unprocessable when the database refuses the view's SQL."""
    assert plan.view is not None
    relation = view_relation(store, plan.view, plan.info)
    try:
        ((rows,),) = source.rows(f"SELECT count(*) FROM {relation}")
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        raise Unprocessable(
            f"view {plan.view.info.name!r} failed in the database: {first}"
        ) from exc
    counted = replace(plan, tables=[(plan.view.table, int(rows))])
    return counted, ViewSource(source, plan.view.info.name, relation)


def _version_counts(
    store: Store, datastack: str, version: int | None
) -> tuple[VersionInfo, dict[str, int]]:
    """The AVAILABLE version (else Conflict) and its tables' catalogued row counts."""
    assert version is not None
    info = get_version(store, datastack, version)
    if info.status != AVAILABLE or not info.valid:
        raise Conflict(f"version {version} of datastack {datastack!r} is {info.status}")
    tables = list_version_tables(store, info.datastack, info.version)
    return info, {t.table_name: t.row_count for t in tables}


def export_version(
    store: Store,
    request: ExportRequest,
    report: Report = _ignore,
    *,
    version_dir: Path | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Export the version; its manifest. ``report(rows done, rows in all)`` as batches go."""
    plan = plan_export(store, request)
    target = plan.target
    finished = _finished(plan)
    if finished is not None:
        rows = sum(int(t["rows"]) for t in finished["tables"])
        report(rows, rows)
        return finished
    source = open_source(store, plan.info, version_dir)
    try:
        if plan.view is not None:
            plan, source = _counted_view(store, plan, source)
        try:
            target.fs.create_dir(target.staging, recursive=True)
            state = ExportState.load(target, plan.fingerprint())
            state.save()
        except OSError as exc:
            raise InvalidInput(f"cannot write the export to {request.to!r}: {exc}") from exc
        progress = _Progress(report, plan.total_rows)
        releases = [
            _export_table(plan, source, state, columns, rows, progress)
            for columns, rows in plan.tables
        ]
    finally:
        source.close()
    manifest = build_manifest(_head(plan), releases)
    text = readme(manifest, description)
    target.write_bytes(posixpath.join(target.staging, README), text.encode())
    target.write_bytes(posixpath.join(target.staging, MANIFEST), manifest_bytes(manifest))
    if target.local:  # an object store's state stays until every file is moved
        state.discard()
    listed = {README} | {f["path"] for t in manifest["tables"] for f in t["files"]}
    target.publish(MANIFEST, listed)
    return manifest


def _head(plan: ExportPlan) -> dict[str, Any]:
    r = plan.request
    view = {} if r.view is None else {"view": r.view}
    return {
        "datastack": plan.info.datastack,
        "version": None if r.at is not None else plan.info.version,
        "instant": plan.info.time_stamp.isoformat(),
        "format": r.format,
        "export": {
            "partition_by": [p.text for p in r.partition_by],
            "row_group_rows": r.row_group_rows,
            "file_rows": r.file_rows,
            "tables": [c.name for c, _ in plan.tables],
            **view,
        },
    }


def _finished(plan: ExportPlan) -> dict[str, Any] | None:
    """The manifest of the same release already at the target, None when nothing is there."""
    target = plan.target
    path = posixpath.join(target.root, MANIFEST)
    try:
        if not target.exists(target.root):
            return None
        if target.exists(path):
            found: dict[str, Any] = json.loads(target.read_bytes(path))
            if {k: found.get(k) for k in _head(plan)} == _head(plan):
                return found
        elif not target.files(target.root) or _publishing(plan):
            return None
    except OSError as exc:
        raise InvalidInput(f"cannot read the export target {plan.request.to!r}: {exc}") from exc
    raise Conflict(f"{plan.request.to!r} already holds something else; choose another target")


def _publishing(plan: ExportPlan) -> bool:
    """Whether the same request's publication to an object store was cut short (its staged
    state is still there): the export is then run again, and finishes it."""
    path = posixpath.join(plan.target.staging, STATE)
    if not plan.target.exists(path):
        return False
    return bool(json.loads(plan.target.read_bytes(path)).get("fingerprint") == plan.fingerprint())


class _Progress:
    def __init__(self, report: Report, total: int) -> None:
        self.report, self.total, self.done = report, total, 0

    def counted(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield batch
            self.add(batch.num_rows)

    def add(self, rows: int) -> None:
        self.done += rows
        self.report(self.done, self.total)


def _export_table(
    plan: ExportPlan,
    source: VersionSource,
    state: ExportState,
    columns: TableColumns,
    rows: int,
    progress: _Progress,
) -> TableRelease:
    parts = plan.partitioning[columns.name]
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns.columns])
    buckets = resolve(parts, columns, source)
    key = None if parts.key is None else parts.key.column
    if plan.view is not None:
        sort = view_sort(plan.view, key)
        release = TableRelease(
            columns, schema, rows, buckets, sort, view=view_description(plan.view)
        )
    else:
        sort = ("id",) if key is None else (key, "id")
        release = TableRelease(columns, schema, rows, buckets, sort)
    if not state.done(columns.name):
        write = _write_delta if plan.request.format == "delta" else _write_parquet
        write(plan, source, state, release, progress)
        state.finish(columns.name)
    else:
        progress.add(rows)
    release.files = state.files(columns.name)
    written = sum(int(f["rows"]) for f in release.files)
    if written != rows:
        raise FixativeError(
            f"table {columns.name!r}: {written:,} rows exported, the version holds {rows:,}"
        )
    return release


def _write_parquet(
    plan: ExportPlan,
    source: VersionSource,
    state: ExportState,
    release: TableRelease,
    progress: _Progress,
) -> None:
    name, target = release.columns.name, plan.target
    done = state.finished_pieces(name)
    progress.add(sum(int(f["rows"]) for f in state.files(name)))
    if done and not release.buckets:
        return
    read = pa.schema(
        [*release.schema, *(pa.field(f"__b{i}", pa.int64()) for i in range(len(release.buckets)))]
    )
    statements = _statements(source, release, done)
    keys = [b.key for b in release.buckets]
    layout = FileLayout(
        plan.request.row_group_rows,
        plan.request.file_rows,
        release.sort,
        tuple(c.name for c in release.columns.root_columns),
    )
    wrote = False
    for key, batches in pieces(source.read_ahead(statements, read), len(keys)):
        directory = posixpath.join(name, piece_directory(keys, key)).rstrip("/")
        _clear(target, posixpath.join(target.staging, directory))
        files = write_piece(
            target, target.staging, directory, progress.counted(batches), release.schema, layout
        )
        state.add_piece(name, key, files)
        wrote = True
    if not wrote and not done:  # no rows: one empty file keeps the schema
        files = write_piece(target, target.staging, name, iter(()), release.schema, layout)
        state.add_piece(name, (), files)


def _statements(source: VersionSource, release: TableRelease, done: list[Key]) -> list[str]:
    """The statements reading the table, in order: consecutive id ranges of about
    ``PART_ROWS`` rows when it is not partitioned and the source reads several at once, else
    one."""
    relation, names = source.relation(release.columns.name), release.schema.names
    parts: list[tuple[int, int]] = []
    if release.view is not None:  # no id: one statement, ordered by every column
        return [table_statement(relation, names, release.buckets, None, done, None, release.sort)]
    if not release.buckets and source.streams > 1:
        ((low, high),) = source.rows(
            f"SELECT min({quote('id')}), max({quote('id')}) FROM {relation}"
        )
        parts = id_parts(low, high, release.rows, PART_ROWS)
    if not parts:
        return [table_statement(relation, names, release.buckets, release.sort[0], done)]
    return [table_statement(relation, names, [], "id", [], ids) for ids in parts]


def _clear(target: Target, directory: str) -> None:
    """Remove what a killed attempt left of a partition (its files, not deeper partitions')."""
    for info in target.files(directory):
        if posixpath.dirname(info.path) == directory:
            target.fs.delete_file(info.path)


def _write_delta(
    plan: ExportPlan,
    source: VersionSource,
    state: ExportState,
    release: TableRelease,
    progress: _Progress,
) -> None:
    name = release.columns.name
    keys = [b.key for b in release.buckets]
    read = pa.schema([*release.schema, *(pa.field(k, pa.int64()) for k in keys)])
    files = write_delta_table(
        plan.target,
        plan.target.staging,
        name,
        progress.counted(source.read_ahead(_statements(source, release, []), read)),
        read,
        keys,
        plan.request.row_group_rows,
        tuple(c.name for c in release.columns.root_columns),
    )
    state.add_piece(name, (), files)
