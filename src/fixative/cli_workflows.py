"""CLI commands that run workflows on the live database, with progress bars:
``fixative ingest``, ``fixative update-roots``, ``fixative upload``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fixative.clock import as_utc, utc_now
from fixative.config import DatastackSettings, Settings
from fixative.errors import InvalidInput
from fixative.runner.records import RunInfo, recorded
from fixative.store import Store, TableInfo
from fixative.workflows.progress import RunOptions

if TYPE_CHECKING:
    from fixative.cli import Context

Report = Callable[[int, int], None]


def _instant(value: str | None) -> datetime:
    return as_utc(value) if value else utc_now()


@contextmanager
def _bars(console: Console) -> Iterator[Callable[[str], Report]]:
    """``bar(label)`` gives a ``report(done, total)`` callback drawing one progress bar."""
    progress = Progress(
        TextColumn("{task.description:>24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )

    def bar(label: str) -> Report:
        task = progress.add_task(label, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        return report

    with progress:
        yield bar


def _tee(*reports: Report) -> Report:
    def report(done: int, total: int) -> None:
        for each in reports:
            each(done, total)

    return report


def _tables(store: Store, settings: Settings, datastack: str, only: str | None) -> list[TableInfo]:
    from fixative.bootstrap import datastack_tables

    tables = [
        t for t in datastack_tables(store, settings.datastack(datastack)) if t.segmentation_table
    ]
    if only is not None:
        tables = [t for t in tables if t.table_name == only]
        if not tables:
            raise InvalidInput(f"datastack {datastack!r} has no table {only!r} with bound points")
    return tables


TableWork = Callable[[str, Report], str]  # (table, report) -> a summary line


def _per_table(
    ctx: Context,
    datastack: str,
    only: str | None,
    run: tuple[str, datetime],
    prepare: Callable[[Store, DatastackSettings], TableWork],
) -> None:
    """Run ``prepare(store, datastack)``'s work on each table with bound points: one recorded
    run and one progress bar per table."""
    from fixative import bootstrap

    kind, at = run
    ds = ctx.settings.datastack(datastack)
    store = bootstrap.live_store(ctx.settings)
    try:
        work = prepare(store, ds)
        with _bars(ctx.console) as bar:
            for info in _tables(store, ctx.settings, datastack, only):
                params = {"table": info.table_name, "at": at.isoformat()}
                with recorded(store, kind, params, ds.name) as progress:
                    line = work(info.table_name, _tee(bar(info.table_name), progress))
                ctx.console.print(f"{info.table_name}: {line}")
    finally:
        store.dispose()


F = TypeVar("F", bound=Callable[..., Any])


def _per_table_options(fn: F) -> F:
    """DATASTACK, --table and --at, shared by the per-table commands."""
    fn = click.option(
        "--at", "at_text", default=None, help="Instant (ISO 8601, UTC); default now."
    )(fn)
    fn = click.option("--table", default=None, help="Only this table.")(fn)
    return click.argument("datastack")(fn)


def register(cli: click.Group, pass_ctx: Callable[..., Callable[..., None]]) -> None:
    """Add the workflow commands to the ``fixative`` group."""

    @cli.command()
    @_per_table_options
    @pass_ctx
    def ingest(ctx: Context, datastack: str, table: str | None, at_text: str | None) -> None:
        """Look up supervoxel and root ids of annotations that have none yet."""
        at = _instant(at_text)

        def prepare(store: Store, ds: DatastackSettings) -> TableWork:
            from fixative import bootstrap
            from fixative.workflows.ingest import ingest_table

            seg, cg = bootstrap.segmentation_source(ds), bootstrap.chunkedgraph(ds, store)

            def work(name: str, report: Report) -> str:
                done = ingest_table(store, seg, cg, name, at, RunOptions(report=report))
                missing = done.points_without_supervoxel
                return f"{done.rows:,} rows linked at {at.isoformat()}" + (
                    f"; {missing:,} points on no supervoxel" if missing else ""
                )

            return work

        _per_table(ctx, datastack, table, ("ingest", at), prepare)

    @cli.command("update-roots")
    @_per_table_options
    @pass_ctx
    def update_roots(ctx: Context, datastack: str, table: str | None, at_text: str | None) -> None:
        """Move root ids to an instant, re-resolving only rows whose roots expired."""
        at = _instant(at_text)

        def prepare(store: Store, ds: DatastackSettings) -> TableWork:
            from fixative import bootstrap
            from fixative.workflows.update_roots import update_roots as run

            cg = bootstrap.chunkedgraph(ds, store)

            def work(name: str, report: Report) -> str:
                done = run(store, cg, name, at, RunOptions(report=report))
                return (
                    f"{done.expired_root_ids:,} expired roots, {done.rows_touched:,} root ids "
                    f"rewritten; valid at {at.isoformat()}"
                )

            return work

        _per_table(ctx, datastack, table, ("update_roots", at), prepare)

    @cli.command()
    @click.argument("table")
    @click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
    @click.option(
        "--map",
        "mapping",
        multiple=True,
        metavar="SOURCE=COLUMN",
        help="Map a file column (or .npy file stem) onto a schema column.",
    )
    @click.option(
        "--start-id", type=int, default=None, help="First id when files have no id column."
    )
    @click.option("--roots-valid-at", default=None, help="Instant supplied root ids are valid at.")
    @pass_ctx
    def upload(
        ctx: Context,
        table: str,
        files: tuple[Path, ...],
        mapping: tuple[str, ...],
        start_id: int | None,
        roots_valid_at: str | None,
    ) -> None:
        """Bulk upload Parquet, CSV or .npy files into an annotation table."""
        from fixative import bootstrap
        from fixative.workflows.bulk_upload import UploadRequest, bulk_upload

        settings, console = ctx.settings, ctx.console
        pairs = dict(_pair(m) for m in mapping) or None
        request = UploadRequest(
            table, list(files), pairs, start_id, as_utc(roots_valid_at) if roots_valid_at else None
        )
        store = bootstrap.live_store(settings)
        try:
            params = {"table": table, "files": [str(f) for f in files], "map": pairs}
            with _bars(console) as bar, recorded(store, "upload", params) as progress:
                done = bulk_upload(store, request, _tee(bar(table), progress))
        finally:
            store.dispose()
        console.print(
            f"{table}: {done.rows_inserted:,} rows inserted, "
            f"{done.rows_skipped:,} already present, {done.segmentation_rows:,} segmentation rows"
        )


def _version_options(fn: F) -> F:
    """DATASTACK, --at and --days-to-expire, shared by the commands that build versions."""
    fn = click.option("--days-to-expire", type=click.IntRange(min=1), default=None)(fn)
    fn = click.option(
        "--at", "at_text", default=None, help="Instant (ISO 8601, UTC); default now."
    )(fn)
    return click.argument("datastack")(fn)


def _build_version(
    ctx: Context, datastack: str, when: tuple[str | None, int | None], *, complete_workflow: bool
) -> None:
    """Refresh every table to the instant and build a version; the complete workflow also holds
    the datastack's lock and expires old versions afterwards."""
    from fixative import bootstrap
    from fixative.workflows.materialize import VersionRequest, complete, materialize

    (at_text, days_to_expire), console = when, ctx.console
    at, ds = _instant(at_text), ctx.settings.datastack(datastack)
    kind = "materialize" if complete_workflow else "create_version"
    params = {"at": at.isoformat(), "days_to_expire": days_to_expire}
    store = bootstrap.live_store(ctx.settings)
    try:
        seg, cg = bootstrap.segmentation_source(ds), bootstrap.chunkedgraph(ds, store)
        with (
            _bars(console) as bar,
            recorded(store, kind, params, ds.name, exclusive=complete_workflow) as run,
        ):
            request = VersionRequest(
                ds.name,
                ds.aligned_volume,
                at,
                days_to_expire,
                bar("ingest + update roots"),
                _tee(bar("version tables"), run),
            )
            if complete_workflow:
                made, expired = complete(store, seg, cg, request, ds.min_versions_kept)
            else:
                made, expired = materialize(store, seg, cg, request), None
        print_versions(console, store, ds.name, [made.version.version])
        if expired is not None:
            console.print(f"expired versions: {', '.join(map(str, expired.expired)) or 'none'}")
    finally:
        store.dispose()


def register_versions(cli: click.Group, pass_ctx: Callable[..., Callable[..., None]]) -> None:
    """``fixative version create | list | expire``."""

    @cli.group()
    def version() -> None:
        """Time-locked versions of a datastack."""

    @version.command("create")
    @_version_options
    @pass_ctx
    def create(
        ctx: Context, datastack: str, at_text: str | None, days_to_expire: int | None
    ) -> None:
        """Bring every table to the instant and build version N+1."""
        _build_version(ctx, datastack, (at_text, days_to_expire), complete_workflow=False)

    @cli.command()
    @_version_options
    @pass_ctx
    def materialize(
        ctx: Context, datastack: str, at_text: str | None, days_to_expire: int | None
    ) -> None:
        """The complete workflow under the datastack's lock: ingest, update roots, build a
        version, expire old versions."""
        _build_version(ctx, datastack, (at_text, days_to_expire), complete_workflow=True)

    @version.command("list")
    @click.argument("datastack")
    @click.option("--expired", is_flag=True, help="Include expired and failed versions.")
    @pass_ctx
    def list_(ctx: Context, datastack: str, expired: bool) -> None:
        """The datastack's versions with their tables and row counts."""
        from fixative import bootstrap
        from fixative.versions import list_versions

        store = bootstrap.live_store(ctx.settings)
        try:
            numbers = [v.version for v in list_versions(store, datastack, include_expired=expired)]
            print_versions(ctx.console, store, datastack, numbers)
        finally:
            store.dispose()

    @version.command("expire")
    @click.argument("datastack")
    @pass_ctx
    def expire(ctx: Context, datastack: str) -> None:
        """Drop versions past their expiry (never the latest; at least min_versions_kept stay)."""
        from fixative import bootstrap
        from fixative.versions import expire_versions

        ds = ctx.settings.datastack(datastack)
        store = bootstrap.live_store(ctx.settings)
        try:
            done = expire_versions(store, ds.name, utc_now(), min_kept=ds.min_versions_kept)
        finally:
            store.dispose()
        dropped = ", ".join(str(v) for v in done.expired) or "none"
        ctx.console.print(f"expired versions: {dropped}; cleaned leftovers: {len(done.cleaned)}")


def print_versions(console: Console, store: Store, datastack: str, numbers: list[int]) -> None:
    from rich.table import Table

    from fixative.versions import get_version, list_version_tables

    table = Table("version", "time stamp (UTC)", "status", "expires", "tables (rows)")
    for number in numbers:
        info = get_version(store, datastack, number)
        rows = (
            ", ".join(
                f"{t.table_name} ({t.row_count:,})"
                for t in list_version_tables(store, datastack, number)
            )
            if info.status == "AVAILABLE"
            else ""
        )
        expires = info.expires_on.strftime("%Y-%m-%d %H:%M") if info.expires_on else "never"
        table.add_row(
            str(number), info.time_stamp.strftime("%Y-%m-%d %H:%M:%S"), info.status, expires, rows
        )
    console.print(table)


def register_status(cli: click.Group, pass_ctx: Callable[..., Callable[..., None]]) -> None:
    @cli.command()
    @click.option("--run", "run_id", type=int, default=None, help="One run, with its traceback.")
    @click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
    @pass_ctx
    def status(ctx: Context, run_id: int | None, limit: int) -> None:
        """Recent workflow runs: kind, status, progress, timing, error."""
        from rich.table import Table

        from fixative import bootstrap
        from fixative.runner.records import get_run, list_runs

        store = bootstrap.live_store(ctx.settings)
        try:
            if run_id is not None:
                _print_run(ctx.console, get_run(store, run_id))
                return
            runs = list_runs(store, limit)
        finally:
            store.dispose()
        table = Table(
            "run", "kind", "datastack", "status", "progress", "started", "seconds", "error"
        )
        for r in runs:
            table.add_row(
                str(r.id),
                r.kind,
                r.datastack or "",
                r.status,
                f"{r.done:,}/{r.total:,}",
                r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{r.seconds:.1f}" if r.seconds is not None else "",
                r.error or "",
            )
        ctx.console.print(table)


def _print_run(console: Console, run: RunInfo) -> None:
    """One run, a line per field, then its traceback."""
    fields = {
        "run": run.id,
        "kind": run.kind,
        "datastack": run.datastack or "",
        "status": run.status,
        "progress": f"{run.done:,}/{run.total:,}",
        "parameters": json.dumps(run.params),
        "submitted": run.created_at.isoformat(),
        "started": run.started_at.isoformat() if run.started_at else "",
        "seconds": f"{run.seconds:.1f}" if run.seconds is not None else "",
        "attempts": run.attempts,
        "ran on": run.builder or "",
        "result": json.dumps(run.result) if run.result is not None else "",
        "error": run.error or "",
    }
    for key, value in fields.items():
        console.print(f"{key:>10}: {value}", soft_wrap=True, highlight=False)
    if run.traceback:
        console.print(run.traceback, soft_wrap=True, highlight=False)


def _pair(text: str) -> tuple[str, str]:
    source, sep, column = text.partition("=")
    if not sep or not source or not column:
        raise InvalidInput(f"--map {text!r} must look like SOURCE=COLUMN")
    return source, column
