"""CLI commands that run workflows on the live database, with progress bars:
``fixative ingest``, ``fixative update-roots``, ``fixative upload``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from fixative.cli.context import Context, Report, parse_instant, pass_ctx, progress_bars, tee
from fixative.config import DatastackSettings, Settings
from fixative.errors import InvalidInput
from fixative.runner.records import recorded
from fixative.store import Store, TableInfo
from fixative.workflows.progress import RunOptions


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
        with progress_bars(ctx.console) as bar:
            for info in _tables(store, ctx.settings, datastack, only):
                params = {"table": info.table_name, "at": at.isoformat()}
                stale_after = timedelta(seconds=ctx.settings.run_stale_after_s)
                with recorded(store, kind, params, ds.name, stale_after=stale_after) as progress:
                    line = work(info.table_name, tee(bar(info.table_name), progress))
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


def register(cli: click.Group) -> None:
    """Add the workflow commands to the ``fixative`` group."""

    @cli.command()
    @_per_table_options
    @pass_ctx
    def ingest(ctx: Context, datastack: str, table: str | None, at_text: str | None) -> None:
        """Look up supervoxel and root ids of annotations that have none yet."""
        at = parse_instant(at_text)

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
        at = parse_instant(at_text)

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
            table,
            list(files),
            pairs,
            start_id,
            parse_instant(roots_valid_at, "--roots-valid-at") if roots_valid_at else None,
        )
        store = bootstrap.live_store(settings)
        try:
            params = {"table": table, "files": [str(f) for f in files], "map": pairs}
            stale_after = timedelta(seconds=settings.run_stale_after_s)
            with (
                progress_bars(console) as bar,
                recorded(store, "upload", params, stale_after=stale_after) as progress,
            ):
                done = bulk_upload(store, request, tee(bar(table), progress))
        finally:
            store.dispose()
        console.print(
            f"{table}: {done.rows_inserted:,} rows inserted, "
            f"{done.rows_skipped:,} already present, {done.segmentation_rows:,} segmentation rows"
        )


def _pair(text: str) -> tuple[str, str]:
    source, sep, column = text.partition("=")
    if not sep or not source or not column:
        raise InvalidInput(f"--map {text!r} must look like SOURCE=COLUMN")
    return source, column
