"""``fixative serve``: the HTTP API. One worker runs werkzeug's threaded server in this process
(the embedded default); more workers run gunicorn, which builds the app in each worker through
``fixative.api.wsgi:make_app()``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from fixative.cli import Context

MAX_WORKERS = 64


def register(cli: click.Group, pass_ctx: Callable[..., Callable[..., None]]) -> None:
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
        """Serve the info, schema, materialize and chunkedgraph APIs."""
        if workers > 1:
            _gunicorn(ctx, host, port, workers)
        else:
            _embedded(ctx, host, port)


def _embedded(ctx: Context, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    from fixative.api.app import create_app
    from fixative.api.services import build_services

    services = build_services(ctx.settings)
    try:
        server = make_server(host, port, create_app(services=services), threaded=True)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"fixative serving on http://{shown}:{server.server_port}", err=False)
        sys.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        services.close()
        services.store.dispose()


def _gunicorn(ctx: Context, host: str, port: int, workers: int) -> None:
    env = dict(os.environ)
    if ctx.config_path is not None:
        env["FIXATIVE_CONFIG"] = str(ctx.config_path.resolve())
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    click.echo(f"fixative serving on http://{bind} with {workers} gunicorn workers")
    sys.stdout.flush()
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
