"""``fixative view create | list | show | delete``: views defined by Fixative, one read-only
SELECT each over a datastack's annotation tables (``fixative.views``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from fixative.cli.context import live_store as _store
from fixative.cli.context import pass_ctx
from fixative.errors import InvalidInput

if TYPE_CHECKING:
    from fixative.cli.context import Context


def parse_resolution(text: str | None) -> tuple[float, float, float] | None:
    """``"x,y,z"`` in nm, or None."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y, z = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"--voxel-resolution {text!r} must be x,y,z in nm") from None
    return (x, y, z)


def register(cli: click.Group) -> None:
    @cli.group()
    def view() -> None:
        """Views: one read-only SELECT over a datastack's tables, answered at every version."""

    @view.command("create")
    @click.argument("datastack")
    @click.argument("name")
    @click.option("--sql", required=True, help="One SELECT over the datastack's tables.")
    @click.option("--description", default="")
    @click.option("--notice", "notice_text", default=None, help="Notice shown with results.")
    @click.option("--voxel-resolution", "resolution", default=None, help="x,y,z in nm.")
    @click.option("--live-compatible", is_flag=True, help="Also answer it live at any instant.")
    @click.option("--user", "user_id", default="local", show_default=True)
    @pass_ctx
    def create(
        ctx: Context,
        datastack: str,
        name: str,
        sql: str,
        description: str,
        notice_text: str | None,
        resolution: str | None,
        live_compatible: bool,
        user_id: str,
    ) -> None:
        """Check the SQL and store the view (nothing is stored when the check fails)."""
        from fixative.views.definitions import create_view
        from fixative.views.model import NewView

        ds = ctx.settings.datastack(datastack)
        new = NewView(
            datastack=ds.name,
            name=name,
            sql=sql,
            user_id=user_id,
            voxel_resolution_nm=parse_resolution(resolution) or ds.viewer_resolution,
            description=description,
            notice_text=notice_text,
            live_compatible=live_compatible,
        )
        with _store(ctx) as store:
            info = create_view(store, ds.aligned_volume, new)
        ctx.console.print(f"view {info.name} created in {info.datastack}", highlight=False)

    @view.command("list")
    @click.argument("datastack")
    @pass_ctx
    def list_(ctx: Context, datastack: str) -> None:
        """The datastack's views."""
        from fixative.views.definitions import list_views

        ds = ctx.settings.datastack(datastack)
        with _store(ctx) as store:
            found = list_views(store, ds.name)
        table = Table("view", "live", "resolution", "description")
        for v in found:
            res = ",".join(f"{r:g}" for r in v.voxel_resolution_nm)
            table.add_row(v.name, "yes" if v.live_compatible else "no", res, v.description)
        ctx.console.print(table)

    @view.command("show")
    @click.argument("datastack")
    @click.argument("name")
    @pass_ctx
    def show(ctx: Context, datastack: str, name: str) -> None:
        """A view's definition: its SQL and the columns it returns."""
        from fixative.views.definitions import check_definition, get_view

        ds = ctx.settings.datastack(datastack)
        with _store(ctx) as store:
            info = get_view(store, ds.name, name)
            checked = check_definition(store, ds.aligned_volume, info.sql)
        click.echo(info.sql)
        click.echo("tables: " + ", ".join(checked.tables))
        click.echo("columns: " + ", ".join(f"{c.name} ({c.kind})" for c in checked.columns))

    @view.command("delete")
    @click.argument("datastack")
    @click.argument("name")
    @pass_ctx
    def delete(ctx: Context, datastack: str, name: str) -> None:
        """Remove a view's definition (its tables are untouched)."""
        from fixative.views.definitions import delete_view

        ds = ctx.settings.datastack(datastack)
        with _store(ctx) as store:
            delete_view(store, ds.name, name)
        ctx.console.print(f"view {name} deleted from {ds.name}", highlight=False)
