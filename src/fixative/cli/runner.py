"""``fixative worker``, ``fixative beat`` and ``fixative submit``: the task runner from the
command line. ``submit`` goes to Celery when a broker is configured, else runs in this process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from fixative.cli.context import pass_ctx
from fixative.errors import FixativeError

if TYPE_CHECKING:
    from fixative.cli.context import Context


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork")
    @click.option("--loglevel", default="INFO", show_default=True)
    @pass_ctx
    def worker(ctx: Context, concurrency: int, pool: str, loglevel: str) -> None:
        """Run workflow tasks from the broker (needs broker_url)."""
        from fixative.runner.celery_app import make_celery

        app = make_celery(ctx.settings)
        app.worker_main(
            ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}"]
        )

    @cli.command()
    @click.option("--loglevel", default="INFO", show_default=True)
    @pass_ctx
    def beat(ctx: Context, loglevel: str) -> None:
        """Send the datastacks' scheduled workflows to the workers at their cron times."""
        from fixative.runner.celery_app import make_celery
        from fixative.runner.schedule import scheduled_tasks

        settings = ctx.settings
        tasks = scheduled_tasks(settings)
        if not tasks:
            raise click.ClickException("no datastack has schedules; nothing for beat to send")
        for t in tasks:
            ctx.console.print(f"{t.name}: {t.kind} of {t.datastack} at cron '{t.cron}' (UTC)")
        settings.home.mkdir(parents=True, exist_ok=True)
        make_celery(settings).start(
            [
                "beat",
                f"--schedule={(settings.home / 'celerybeat-schedule').resolve()}",
                f"--loglevel={loglevel}",
            ]
        )

    @cli.command()
    @click.argument("kind")
    @click.argument("datastack")
    @click.option("--at", "at_text", default=None, help="Instant (ISO 8601, UTC); default now.")
    @click.option("--table", default=None, help="Only this table (ingest, update_roots).")
    @click.option("--days-to-expire", type=click.IntRange(min=1), default=None)
    @click.option("--wait/--no-wait", default=True, show_default=True)
    @pass_ctx
    def submit(
        ctx: Context,
        kind: str,
        datastack: str,
        at_text: str | None,
        table: str | None,
        days_to_expire: int | None,
        wait: bool,
    ) -> None:
        """Submit a workflow run (ingest, update_roots, create_version, materialize, expire) to
        the task runner; with --wait, follow its progress to the end."""
        from fixative import bootstrap
        from fixative.services import Services

        settings = ctx.settings
        settings.datastack(datastack)  # a clear error before anything is recorded
        params: dict[str, Any] = {"at": at_text, "table": table, "days_to_expire": days_to_expire}
        services = Services.from_settings(settings)
        runner = bootstrap.task_runner(settings, services)
        try:
            run_id = runner.submit(kind, {k: v for k, v in params.items() if v}, datastack)
            ctx.console.print(f"run {run_id}: {kind} of {datastack} submitted")
            if wait:
                _follow(ctx, services, run_id)
        finally:
            runner.close()
            services.close()


def _follow(ctx: Context, services: Any, run_id: int) -> None:
    from fixative.runner.records import get_run

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=ctx.console, transient=True) as progress:
        bar = progress.add_task(f"run {run_id}", total=None)
        while True:
            run = get_run(services.store, run_id)
            progress.update(
                bar,
                description=f"run {run_id} {run.status}",
                completed=run.done,
                total=run.total or None,
            )
            if run.finished:
                break
            time.sleep(0.25)
    if run.status != "SUCCEEDED":
        raise FixativeError(f"run {run_id} {run.status}: {run.error}")
    ctx.console.print(f"run {run_id} SUCCEEDED in {run.seconds:.1f} s: {run.result}")
