"""``fixative serve``: the HTTP API. One worker runs werkzeug's threaded server in this process
(the embedded default); more workers run gunicorn, which builds the app in each worker through
``fixative.api.wsgi:make_app()``."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import TYPE_CHECKING

import click

from fixative.cli.context import pass_ctx

if TYPE_CHECKING:
    from fixative.api.services import HttpServices
    from fixative.cli.context import Context
    from fixative.runner.reaper import Reaper
    from fixative.runner.schedule import EmbeddedScheduler

MAX_WORKERS = 64


def register(cli: click.Group) -> None:
    """Add ``fixative serve`` to the ``fixative`` group."""

    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
    @click.option(
        "--port", type=click.IntRange(0, 65535), default=5000, show_default=True, help="0: any."
    )
    @click.option(
        "--workers",
        type=click.IntRange(1, MAX_WORKERS),
        default=1,
        show_default=True,
        help="Processes; more than 1 runs gunicorn.",
    )
    @pass_ctx
    def serve(ctx: Context, host: str, port: int, workers: int) -> None:
        """Serve the info, schema, materialize, annotation and chunkedgraph APIs."""
        _check_auth(ctx, host)
        if workers > 1:
            _gunicorn(ctx, host, port, workers)
        else:
            _embedded(ctx, host, port)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_auth(ctx: Context, host: str) -> None:
    """Without auth the local user may do everything, so only the loopback address is served."""
    if ctx.settings.auth == "tokens":
        click.echo("auth: tokens (every request needs an API token; fixative token create)")
        return
    if not _loopback(host):
        raise click.ClickException(
            f"refusing to serve {host} without auth: anyone reaching it could read and write "
            'everything. Set auth = "tokens" (and make tokens with fixative token create), '
            "or bind 127.0.0.1."
        )
    click.echo(
        "auth: none (bound to the loopback address only; anyone on this machine may read and "
        'write; set auth = "tokens" to require API tokens)'
    )


def _scheduler(ctx: Context, services: HttpServices) -> EmbeddedScheduler | None:
    """The datastacks' schedules run here when there is no broker (Celery beat's job
    otherwise)."""
    from fixative.runner.schedule import EmbeddedScheduler, scheduled_tasks

    tasks = scheduled_tasks(ctx.settings)
    if not tasks or services.runner is None:
        return None
    if ctx.settings.broker_url:
        click.echo(f"{len(tasks)} scheduled workflow(s) are sent by fixative beat, not here")
        return None
    scheduler = EmbeddedScheduler(tasks, services.runner.submit)
    for t in tasks:
        click.echo(f"schedule {t.name}: next at {scheduler.next[t.name].isoformat()}")
    scheduler.start()
    return scheduler


def _reaper(services: HttpServices) -> Reaper | None:
    """Runs of dead processes redone by this server's runner, now and every few seconds."""
    from datetime import timedelta

    from fixative.runner.reaper import serving_reaper

    if services.runner is None:
        return None
    stale_after = timedelta(seconds=services.settings.run_stale_after_s)
    return serving_reaper(services.store, services.runner, stale_after)


def _announce(url: str, how: str = "") -> None:
    """Where the API is, and its documentation page (flushed: a pipe must see it at once)."""
    click.echo(f"fixative serving on {url}{how}")
    click.echo(f"API docs: {url}/api/docs (OpenAPI document: {url}/api/openapi.json)")
    sys.stdout.flush()


def _embedded(ctx: Context, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    from fixative.api.app import create_app
    from fixative.api.services import build_services

    services = build_services(ctx.settings)
    scheduler = reaper = None
    try:
        server = make_server(host, port, create_app(services=services), threaded=True)
        reaper = _reaper(services)
        scheduler = _scheduler(ctx, services)
        shown = f"[{host}]" if ":" in host else host
        _announce(f"http://{shown}:{server.server_port}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        if scheduler is not None:
            scheduler.stop()
        if reaper is not None:
            reaper.stop()
        services.close()
        services.store.dispose()


def _gunicorn(ctx: Context, host: str, port: int, workers: int) -> None:
    from fixative.bootstrap import live_store

    live_store(ctx.settings).dispose()  # a missing database is one clear line, not N workers' logs
    env = dict(os.environ)
    if ctx.config_path is not None:
        env["FIXATIVE_CONFIG"] = str(ctx.config_path.resolve())
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if ctx.settings.datastacks and any(ds.schedules for ds in ctx.settings.datastacks):
        click.echo("schedules are not run by gunicorn workers: use a broker and fixative beat")
    _announce(f"http://{bind}", f" with {workers} gunicorn workers")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--bind",
        bind,
        "fixative.api.wsgi:make_app()",
    ]
    # gunicorn takes this process's place, so signals (Ctrl-C, SIGTERM) reach its master
    os.execve(sys.executable, command, env)
