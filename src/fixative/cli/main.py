"""The ``fixative`` command. A failure prints one clear line; ``--debug`` shows the traceback."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fixative.cli.context import Context, pass_ctx
from fixative.errors import FixativeError


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML settings file (default: $FIXATIVE_CONFIG, ./fixative.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="fixative", message="fixative %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Fixative: time-locked connectome annotations."""
    if not debug:  # failures reach the user as one line (and are kept with their run)
        logging.getLogger("fixative").addHandler(logging.NullHandler())
    ctx.obj = Context(config_path, debug, Console())


@cli.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create or upgrade the live database."""
    from fixative.bootstrap import live_store
    from fixative.config import redact

    store = live_store(ctx.settings, create=True)
    store.dispose()
    ctx.console.print(f"live database ready: {redact(ctx.settings.live_database_url)}")


@cli.command()
@pass_ctx
def demo(ctx: Context) -> None:
    """Annotation history, then the C. elegans demo datastack built and checked."""
    from fixative.demo import tour

    tour.run(ctx.settings, ctx.console, ctx.config_path)


@cli.command("demo-data")
@click.option(
    "--synapses",
    type=click.IntRange(min=1),
    default=None,
    help="Synapse rows (default: the whole C. elegans connectome, 28,113).",
)
@click.option(
    "--max-merges",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Fragment cells until the history needs this many repair merges.",
)
@click.option(
    "--mistakes",
    type=click.IntRange(min=0),
    default=12,
    show_default=True,
    help="Mistaken merges between cells, each split or undone later.",
)
@click.option(
    "--encoding",
    type=click.Choice(["compressed_segmentation", "raw"]),
    default="compressed_segmentation",
    show_default=True,
)
@pass_ctx
def demo_data(
    ctx: Context, synapses: int | None, max_merges: int, mistakes: int, encoding: str
) -> None:
    """Build the demo datastack: volume, chunkedgraph with edit history, annotation tables."""
    from fixative.demo import datastack, install
    from fixative.demo.progress import ProgressReport

    settings = ctx.settings
    store = install.fresh_store(settings)
    options = datastack.DemoOptions(synapses, max_merges, mistakes, encoding=encoding)
    try:
        with ProgressReport(ctx.console) as report:
            manifest = datastack.build(store, install.demo_directory(settings), options, report)
    finally:
        store.dispose()
    datastack.write_manifest(install.demo_directory(settings), manifest)
    ctx.console.print(
        f"demo datastack: {manifest.cells:,} cells, {manifest.supervoxels:,} supervoxels, "
        f"{manifest.synapses:,} synapses, {manifest.operations:,} edits "
        f"({manifest.edits_from[:10]} .. {manifest.edits_until[:10]}); "
        f"volume {manifest.volume_shape} at {manifest.segmentation_source}"
    )
    ctx.console.print("seconds: " + ", ".join(f"{k} {v}" for k, v in manifest.seconds.items()))
    written = install.register(settings, manifest, ctx.config_path)
    if written is not None:
        ctx.console.print(f"settings written to {written}", highlight=False, soft_wrap=True)
        if not install.found_without_environment(written):
            hint = f"a new shell reads them with: export FIXATIVE_CONFIG={written}"
            ctx.console.print(hint, highlight=False, soft_wrap=True)
    elif any(ds.name == datastack.DATASTACK for ds in settings.datastacks):
        ctx.console.print("the settings already list the demo datastack")
    else:
        ctx.console.print(
            "add this datastack to your settings file:\n" + install.config_snippet(manifest)
        )


@cli.group()
def schema() -> None:
    """Annotation schema types."""


@schema.command("list")
@pass_ctx
def schema_list(ctx: Context) -> None:
    from fixative.schemas import SCHEMAS

    table = Table("schema", "columns", "description")
    for name, sch in sorted(SCHEMAS.items()):
        table.add_row(name, ", ".join(sch.flat_names()), sch.description)
    ctx.console.print(table)


@schema.command("show")
@click.argument("name")
def schema_show(name: str) -> None:
    """Print a schema type as JSON Schema."""
    from fixative.schemas import get_schema
    from fixative.schemas.jsonschema import to_json_schema

    click.echo(json.dumps(to_json_schema(get_schema(name)), indent=2))


@cli.command("tables")
@pass_ctx
def tables(ctx: Context) -> None:
    """List the annotation tables of the live database."""
    from fixative.bootstrap import live_store

    store = live_store(ctx.settings)
    try:
        table = Table("table", "schema", "owner", "last modified")
        for info in store.list_tables():
            table.add_row(
                info.table_name, info.schema.name, info.user_id, info.last_modified_at.isoformat()
            )
        ctx.console.print(table)
    finally:
        store.dispose()


def _register_command_groups() -> None:
    from fixative.cli import (
        auth,
        config,
        doctor,
        export,
        runner,
        serve,
        status,
        versions,
        views,
        workflows,
    )

    for module in (workflows, versions, status, serve, runner, auth, doctor, config, export, views):
        module.register(cli)


_register_command_groups()


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FixativeError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True
        )
        sys.exit(1)
