"""``fixative worker``, ``fixative beat`` and ``fixative submit``: the task runner from the
command line. ``submit`` goes to Celery when a broker is configured, else runs in this process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from fixative.cli.context import pass_ctx
from fixative.config import redact
from fixative.errors import FixativeError, Transient

if TYPE_CHECKING:
    from fixative.cli.context import Context
    from fixative.runner.celery_app import CeleryRunner

PING_TIMEOUT_S = 1.0  # how long workers have to answer a ping
RECHECK_EVERY_S = 15.0  # how often a QUEUED run's follower asks again


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork")
    @click.option("--loglevel", default="INFO", show_default=True)
    @pass_ctx
    def worker(ctx: Context, concurrency: int, pool: str, loglevel: str) -> None:
        """Run workflow tasks from the broker (needs broker_url)."""
        from fixative.runner.celery_app import make_celery

        app = make_celery(ctx.settings, reap="pool" if pool == "prefork" else "main")
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
    @click.option(
        "--file",
        "files",
        multiple=True,
        type=click.Path(path_type=Path),
        help="upload: a file to load (under the data directory, which workers share).",
    )
    @click.option("--map", "mapping", multiple=True, metavar="SOURCE=COLUMN", help="upload.")
    @click.option("--start-id", type=int, default=None, help="upload: first id.")
    @click.option("--roots-valid-at", default=None, help="upload: supplied roots' instant.")
    @click.option(
        "--flat",
        is_flag=True,
        help="create_version, materialize: a flat copy, not a version kept in the root-id "
        "history (the datastack's version_kind decides otherwise).",
    )
    @click.option("--wait/--no-wait", default=True, show_default=True)
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=None,
        help="Stop following after this many seconds (the run goes on).",
    )
    @pass_ctx
    def submit(
        ctx: Context,
        kind: str,
        datastack: str,
        at_text: str | None,
        table: str | None,
        days_to_expire: int | None,
        files: tuple[Path, ...],
        mapping: tuple[str, ...],
        start_id: int | None,
        roots_valid_at: str | None,
        flat: bool,
        wait: bool,
        timeout: float | None,
    ) -> None:
        """Submit a workflow run (ingest, update_roots, create_version, materialize, expire,
        upload) to the task runner; with --wait, follow its progress to the end. With a broker,
        says so when no worker answers (the run then stays QUEUED until one starts)."""
        from fixative import bootstrap
        from fixative.services import Services

        settings = ctx.settings
        settings.datastack(datastack)  # a clear error before anything is recorded
        params: dict[str, Any] = {"at": at_text, "table": table, "days_to_expire": days_to_expire}
        if flat:
            params["kind"] = "flat"
        if kind == "upload":
            params.update(_upload_params(settings.home, files, mapping, start_id, roots_valid_at))
        services = Services.from_settings(settings)
        runner = bootstrap.task_runner(settings, services)
        try:
            run_id = runner.submit(kind, {k: v for k, v in params.items() if v}, datastack)
            ctx.console.print(f"run {run_id}: {kind} of {datastack} submitted")
            watch = _WorkerWatch(runner, settings.broker_url, run_id)
            watch.check()
            if wait:
                _follow(ctx, services, run_id, timeout, watch)
        finally:
            runner.close()
            services.close()


def _upload_params(
    home: Path,
    files: tuple[Path, ...],
    mapping: tuple[str, ...],
    start_id: int | None,
    roots_valid_at: str | None,
) -> dict[str, Any]:
    """An upload's parameters; files under the data directory are named relative to it, so a
    worker whose data directory is mounted elsewhere finds them."""
    from fixative.cli.workflows import _pair

    root = home.resolve()
    names = [
        str(f.resolve().relative_to(root)) if f.resolve().is_relative_to(root) else str(f)
        for f in files
    ]
    pairs = dict(_pair(m) for m in mapping) or None
    return {
        "files": names,
        "map": pairs,
        "start_id": start_id,
        "roots_valid_at": roots_valid_at,
    }


class _WorkerWatch:
    """Whether any Celery worker answers (the inline runner always has one: this process); says
    so once each time none does."""

    def __init__(self, runner: object, broker_url: str, run_id: int) -> None:
        self.runner: CeleryRunner | None = None
        if broker_url:  # celery is imported only then
            from fixative.runner.celery_app import CeleryRunner

            self.runner = runner if isinstance(runner, CeleryRunner) else None
        self.broker_url, self.run_id = broker_url, run_id
        self.checked_at = time.monotonic()
        self.answered = True

    def check(self) -> None:
        if self.runner is None:
            return
        self.checked_at = time.monotonic()
        answered = bool(self.runner.workers(PING_TIMEOUT_S))
        if self.answered and not answered:
            click.echo(
                f"warning: no worker answers on {redact(self.broker_url)}: start one with "
                f"`fixative worker` (run {self.run_id} stays QUEUED until one does)",
                err=True,
            )
        self.answered = answered

    def recheck(self, status: str) -> None:
        """While the run waits, ask again every ``RECHECK_EVERY_S``."""
        if status == "QUEUED" and time.monotonic() - self.checked_at >= RECHECK_EVERY_S:
            self.check()


def _follow(
    ctx: Context, services: Any, run_id: int, timeout: float | None, watch: _WorkerWatch
) -> None:
    from fixative.runner.records import get_run

    deadline = None if timeout is None else time.monotonic() + timeout
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
            if deadline is not None and time.monotonic() >= deadline:
                raise Transient(
                    f"run {run_id} is still {run.status} after {timeout:g} s; it goes on "
                    f"(fixative status --run {run_id})"
                )
            watch.recheck(run.status)
            time.sleep(0.25)
    if run.status != "SUCCEEDED":
        raise FixativeError(f"run {run_id} {run.status}: {run.error}")
    ctx.console.print(f"run {run_id} SUCCEEDED in {run.seconds:.1f} s: {run.result}")
