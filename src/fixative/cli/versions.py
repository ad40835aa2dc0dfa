"""``fixative version create | list | expire`` and ``fixative materialize``: time-locked versions
from the command line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from rich.console import Console

from fixative.cli.context import Context, parse_instant, pass_ctx, progress_bars, tee
from fixative.clock import utc_now
from fixative.runner.records import recorded
from fixative.store import Store
from fixative.versions.model import KINDS, Kind

F = TypeVar("F", bound=Callable[..., Any])


def _version_options(fn: F) -> F:
    """DATASTACK, --at, --days-to-expire and --kind (or --flat), shared by the commands that
    build versions."""
    fn = click.option(
        "--flat",
        "kind",
        flag_value="flat",
        help="Copy every table into a version database (the same as --kind flat).",
    )(fn)
    fn = click.option(
        "--kind",
        type=click.Choice(KINDS),
        default=None,
        help="history: copy nothing, answer from the root-id history; flat: copy every table "
        "into a version database (default: the datastack's version_kind, history unless set).",
    )(fn)
    fn = click.option("--days-to-expire", type=click.IntRange(min=1), default=None)(fn)
    fn = click.option(
        "--at", "at_text", default=None, help="Instant (ISO 8601, UTC); default now."
    )(fn)
    return click.argument("datastack")(fn)


def _build_version(
    ctx: Context,
    datastack: str,
    when: tuple[str | None, int | None],
    *,
    complete_workflow: bool,
    kind: Kind | None = None,
) -> None:
    """Refresh every table to the instant and build a version; the complete workflow also holds
    the datastack's lock and expires old versions afterwards."""
    from fixative import bootstrap
    from fixative.workflows.materialize import VersionRequest, complete, materialize

    (at_text, days_to_expire), console = when, ctx.console
    at, ds = parse_instant(at_text), ctx.settings.datastack(datastack)
    run_kind = "materialize" if complete_workflow else "create_version"
    kept: Kind = kind or ds.version_kind
    params = {"at": at.isoformat(), "days_to_expire": days_to_expire, "kind": kept}
    store = bootstrap.live_store(ctx.settings)
    try:
        recover_dead(ctx, store)
        seg, cg = bootstrap.segmentation_source(ds), bootstrap.chunkedgraph(ds, store)
        with (
            progress_bars(console) as bar,
            recorded(
                store,
                run_kind,
                params,
                ds.name,
                exclusive=complete_workflow,
                stale_after=timedelta(seconds=ctx.settings.run_stale_after_s),
            ) as run,
        ):
            request = VersionRequest(
                ds.name,
                ds.aligned_volume,
                at,
                days_to_expire,
                bar("ingest + update roots"),
                tee(bar("version tables"), run),
                kind=kept,
            )
            if complete_workflow:
                window = timedelta(days=ctx.settings.history_window_days)
                made, expired = complete(store, seg, cg, request, ds.min_versions_kept, window)
            else:
                made, expired = materialize(store, seg, cg, request), None
        print_versions(console, store, ds.name, [made.version.version])
        if expired is not None:
            console.print(f"expired versions: {', '.join(map(str, expired.expired)) or 'none'}")
    finally:
        store.dispose()


def recover_dead(ctx: Context, store: Store) -> None:
    """What processes killed outright left: their runs are sent to the workers again (with a
    broker) or marked FAILED, their version builds cleaned (``runner.reaper.recover``)."""
    from fixative.runner.reaper import recover

    settings, runners = ctx.settings, []

    def resend(run_id: int) -> None:
        from fixative.runner.celery_app import CeleryRunner

        runners.append(CeleryRunner(settings, store))
        runners[-1].resume(run_id)

    try:
        found = recover(
            store,
            stale_after=timedelta(seconds=settings.run_stale_after_s),
            redo=resend if settings.broker_url else None,
        )
    finally:
        for runner in runners:
            runner.close()
    for line in found.lines():
        ctx.console.print(f"recovered: {line}")


def register(cli: click.Group) -> None:
    """``fixative version create | list | expire | pin | unpin | compact``."""

    @cli.group()
    def version() -> None:
        """Time-locked versions of a datastack."""

    _register_pins(version)
    _register_compact(version)

    @version.command("create")
    @_version_options
    @pass_ctx
    def create(
        ctx: Context,
        datastack: str,
        at_text: str | None,
        days_to_expire: int | None,
        kind: Kind | None,
    ) -> None:
        """Bring every table to the instant and build version N+1."""
        when = (at_text, days_to_expire)
        _build_version(ctx, datastack, when, complete_workflow=False, kind=kind)

    @cli.command()
    @_version_options
    @pass_ctx
    def materialize(
        ctx: Context,
        datastack: str,
        at_text: str | None,
        days_to_expire: int | None,
        kind: Kind | None,
    ) -> None:
        """The complete workflow under the datastack's lock: ingest, update roots, build a
        version, expire old versions."""
        when = (at_text, days_to_expire)
        _build_version(ctx, datastack, when, complete_workflow=True, kind=kind)

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


def _register_compact(version: click.Group) -> None:
    """``fixative version compact``."""

    @version.command("compact")
    @click.argument("datastack")
    @click.option(
        "--window-days",
        type=click.FloatRange(min=0),
        default=None,
        help="How far back live queries start from the history (default: history_window_days).",
    )
    @pass_ctx
    def compact(ctx: Context, datastack: str, window_days: float | None) -> None:
        """Drop the root-id history that no retained history version and no instant of the
        window needs."""
        from fixative import bootstrap
        from fixative.versions.compaction import compact_histories
        from fixative.workflows.reclaim import reclaim

        ds = ctx.settings.datastack(datastack)
        days = ctx.settings.history_window_days if window_days is None else window_days
        store = bootstrap.live_store(ctx.settings)
        try:
            dropped = compact_histories(store, ds.aligned_volume, utc_now(), timedelta(days=days))
            reclaim(store, dropped)  # the dropped intervals' space, for the next writes
        finally:
            store.dispose()
        shown = ", ".join(f"{name} {n:,}" for name, n in sorted(dropped.items())) or "no tables"
        ctx.console.print(f"history intervals dropped: {shown}")


def _register_pins(version: click.Group) -> None:
    """``fixative version pin | unpin``."""

    @version.command("pin")
    @click.argument("datastack")
    @click.argument("number", type=int)
    @click.option("--name", help="A name for the version (a release, a paper), unique.")
    @pass_ctx
    def pin(ctx: Context, datastack: str, number: int, name: str | None) -> None:
        """Keep a version for good: expiry never drops a pinned version."""
        from fixative import bootstrap
        from fixative.versions.pins import pin_version

        store = bootstrap.live_store(ctx.settings)
        try:
            info = pin_version(store, ctx.settings.datastack(datastack).name, number, name)
        finally:
            store.dispose()
        named = f" as {info.pin_name!r}" if info.pin_name else ""
        ctx.console.print(f"version {info.version} of {info.datastack} pinned{named}")

    @version.command("unpin")
    @click.argument("datastack")
    @click.argument("number", type=int)
    @pass_ctx
    def unpin(ctx: Context, datastack: str, number: int) -> None:
        """Let the expiry policy take a pinned version again."""
        from fixative import bootstrap
        from fixative.versions.pins import unpin_version

        store = bootstrap.live_store(ctx.settings)
        try:
            info = unpin_version(store, ctx.settings.datastack(datastack).name, number)
        finally:
            store.dispose()
        when = info.expires_on.isoformat() if info.expires_on else "never"
        ctx.console.print(f"version {info.version} of {info.datastack} unpinned; expires {when}")


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
        if info.pinned:
            expires = f"pinned ({info.pin_name})" if info.pin_name else "pinned"
        status = info.status if info.copied else f"{info.status} ({info.kind})"
        table.add_row(
            str(number), info.time_stamp.strftime("%Y-%m-%d %H:%M:%S"), status, expires, rows
        )
    console.print(table)
