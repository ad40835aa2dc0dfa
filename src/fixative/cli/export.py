"""``fixative export DATASTACK --version N --to URL``: a version's tables as a release of files,
recorded as a run (``fixative status``) with a progress bar; run again, it goes on from the
partitions already written. ``fixative export verify DIR`` checks a release against its
manifest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from fixative.cli.context import Context, parse_instant, pass_ctx, progress_bars, tee
from fixative.export.spec import DEFAULT_FILE_ROWS, DEFAULT_ROW_GROUP_ROWS, FORMATS


class _ExportGroup(click.Group):
    """``export DATASTACK ...`` runs an export; ``export verify DIR`` is the one subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.1f} {unit}" if unit != "B" else f"{n:,} B"
        size /= 1024
    return f"{n:,} B"


def register(cli: click.Group) -> None:
    """Add ``fixative export`` to the ``fixative`` group."""

    @cli.group(cls=_ExportGroup, name="export")
    def export() -> None:
        """Releases as files: `fixative export DATASTACK --version N --to URL`, and `verify`."""

    @export.command("run")
    @click.argument("datastack")
    @click.option("--version", "version", type=click.IntRange(min=1), default=None)
    @click.option(
        "--at",
        "at",
        default=None,
        metavar="ISO-8601",
        help="Instead of --version: the live tables at this instant (their root ids updated to "
        "it, or one they were brought to).",
    )
    @click.option("--to", "to", required=True, help="A directory, s3://bucket/prefix or gs://...")
    @click.option("--tables", "tables", multiple=True, help="Only these tables (repeat or a,b).")
    @click.option(
        "--view",
        "view",
        default=None,
        metavar="NAME",
        help="Instead of tables: the rows of this view, as one table named after it.",
    )
    @click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True
    )
    @click.option(
        "--partition-by",
        "partition_by",
        multiple=True,
        metavar="[TABLE.]COLUMN[:range|hash|morton[:N]]",
        help="e.g. pre_pt_root_id:range:16, post_pt_root_id:hash:8, pre_pt_position:morton:2.",
    )
    @click.option("--row-group-rows", type=click.IntRange(min=1), default=DEFAULT_ROW_GROUP_ROWS)
    @click.option("--file-rows", type=click.IntRange(min=1), default=DEFAULT_FILE_ROWS)
    @pass_ctx
    def run(
        ctx: Context,
        datastack: str,
        version: int | None,
        at: str | None,
        to: str,
        tables: tuple[str, ...],
        view: str | None,
        fmt: str,
        partition_by: tuple[str, ...],
        row_group_rows: int,
        file_rows: int,
    ) -> None:
        """Export a version's tables or one view (or the live tables at an instant) as
        Parquet files or Delta Lake tables with a manifest."""
        from fixative import bootstrap
        from fixative.export import ExportRequest, export_version, parse_partition, plan_export
        from fixative.export.task import summary
        from fixative.runner.records import recorded

        if (version is None) == (at is None):
            raise click.UsageError("give --version N or --at INSTANT (one of them)")
        names = tuple(n for t in tables for n in t.split(",") if n) or None
        request = ExportRequest(
            ctx.settings.datastack(datastack).name,
            version,
            to,
            names,
            fmt,  # type: ignore[arg-type]
            tuple(parse_partition(p) for p in partition_by),
            row_group_rows,
            file_rows,
            parse_instant(at) if at is not None else None,
            view,
        )
        ds = ctx.settings.datastack(datastack)
        store = bootstrap.live_store(ctx.settings)
        try:
            plan_export(store, request)  # bad input fails here, before a run is recorded
            stale_after = timedelta(seconds=ctx.settings.run_stale_after_s)
            params: dict[str, Any] = request.params()
            with (
                progress_bars(ctx.console) as bar,
                recorded(store, "export", params, ds.name, stale_after=stale_after) as progress,
            ):
                manifest = export_version(
                    store,
                    request,
                    tee(
                        bar(f"{ds.name} v{version}" if at is None else f"{ds.name} {at}"), progress
                    ),
                    description=ds.description or None,
                )
        finally:
            store.dispose()
        done = summary(manifest, to)
        ctx.console.print(
            f"exported {done['tables']} table(s), {done['rows']:,} rows in {done['files']} files "
            f"({_human(done['bytes'])}) to {to}",
            highlight=False,
            soft_wrap=True,
        )

    @export.command("verify")
    @click.argument("where")
    @pass_ctx
    def verify(ctx: Context, where: str) -> None:
        """Re-read a release: every file's size, sha256 and rows against manifest.json."""
        from fixative.export import verify_release

        checked = verify_release(where)
        for problem in checked.problems:
            ctx.console.print(f"[red]{problem}[/red]", highlight=False, soft_wrap=True)
        ctx.console.print(
            f"{checked.files} files, {checked.rows:,} rows checked: "
            + ("ok" if checked.ok else f"{len(checked.problems)} problem(s)"),
            highlight=False,
        )
        if not checked.ok:
            raise SystemExit(1)
