"""``fixative token create|list|revoke`` and ``fixative group add|remove|list``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.table import Table

from fixative.cli.context import live_store as _store
from fixative.cli.context import pass_ctx

if TYPE_CHECKING:
    from fixative.cli.context import Context


def register(cli: click.Group) -> None:
    @cli.group()
    def token() -> None:
        """API tokens: each names a user, a datastack and a permission level on it."""

    @token.command("create")
    @click.option("--user", "user_id", required=True)
    @click.option("--datastack", required=True)
    @click.option("--permission", type=click.Choice(["view", "edit", "admin"]), default="view")
    @click.option("--description", default="")
    @pass_ctx
    def create(
        ctx: Context, user_id: str, datastack: str, permission: str, description: str
    ) -> None:
        """Make a token and print it once (only its hash is kept)."""
        from fixative.auth.tokens import create_token

        ctx.settings.datastack(datastack)
        with _store(ctx) as store:
            info, secret = create_token(store, user_id, datastack, permission, description)
        ctx.console.print(
            f"token {info.id} for {user_id} ({permission} on {datastack}); it is shown only "
            "now, keep it:",
            highlight=False,
        )
        click.echo(secret)

    @token.command("list")
    @click.option("--user", "user_id", default=None)
    @click.option("--revoked", is_flag=True, help="Include revoked tokens.")
    @pass_ctx
    def list_(ctx: Context, user_id: str | None, revoked: bool) -> None:
        from fixative.auth.tokens import list_tokens

        with _store(ctx) as store:
            tokens = list_tokens(store, user_id, include_revoked=revoked)
        table = Table("id", "user", "datastack", "permission", "created", "revoked", "description")
        for t in tokens:
            table.add_row(
                str(t.id),
                t.user_id,
                t.datastack,
                t.permission,
                t.created_at.strftime("%Y-%m-%d %H:%M"),
                t.revoked_at.strftime("%Y-%m-%d %H:%M") if t.revoked_at else "",
                t.description,
            )
        ctx.console.print(table)

    @token.command("revoke")
    @click.argument("token_id", type=int)
    @pass_ctx
    def revoke(ctx: Context, token_id: int) -> None:
        from fixative.auth.tokens import revoke_token

        with _store(ctx) as store:
            info = revoke_token(store, token_id)
        ctx.console.print(f"token {info.id} of {info.user_id} is revoked")

    @cli.group()
    def group() -> None:
        """User groups, for tables whose permission is GROUP."""

    @group.command("add")
    @click.argument("user_id")
    @click.argument("group_name")
    @pass_ctx
    def add(ctx: Context, user_id: str, group_name: str) -> None:
        from fixative.auth.tokens import add_to_group

        with _store(ctx) as store:
            add_to_group(store, user_id, group_name)
        ctx.console.print(f"{user_id} is in group {group_name}")

    @group.command("remove")
    @click.argument("user_id")
    @click.argument("group_name")
    @pass_ctx
    def remove(ctx: Context, user_id: str, group_name: str) -> None:
        from fixative.auth.tokens import remove_from_group

        with _store(ctx) as store:
            remove_from_group(store, user_id, group_name)
        ctx.console.print(f"{user_id} is not in group {group_name}")

    @group.command("list")
    @pass_ctx
    def groups(ctx: Context) -> None:
        from fixative.auth.tokens import list_groups

        with _store(ctx) as store:
            members = list_groups(store)
        for name, users in members.items():
            ctx.console.print(f"{name}: {', '.join(users)}")
