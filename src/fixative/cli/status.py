"""``fixative status``: the recorded workflow runs, or one run in full. Queue time (submitted to
started) and run time (started to finished) are shown apart: a run that waits long for a worker
is a different problem from one that runs long."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fixative.cli.context import Context, pass_ctx
from fixative.runner.records import QUEUED, RUNNING, RunInfo

DATASTACK_WIDTH = 10  # longer names end in an ellipsis; ``--run N`` shows them whole


def register(cli: click.Group) -> None:
    """``fixative status``."""

    @cli.command()
    @click.option("--run", "run_id", type=int, default=None, help="One run, with its traceback.")
    @click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
    @pass_ctx
    def status(ctx: Context, run_id: int | None, limit: int) -> None:
        """Recent workflow runs: kind, status, when submitted, time queued and running, error
        (shortened; --run N shows one run in full)."""
        from fixative import bootstrap
        from fixative.clock import utc_now
        from fixative.runner.records import get_run, list_runs

        store = bootstrap.live_store(ctx.settings)
        try:
            if run_id is not None:
                _print_run(ctx.console, get_run(store, run_id), utc_now())
                return
            runs = list_runs(store, limit)
        finally:
            store.dispose()
        ctx.console.print(runs_table(runs, utc_now()))
        if any(r.error for r in runs):
            ctx.console.print("fixative status --run N: a run's whole error and traceback")


def runs_table(runs: list[RunInfo], now: datetime) -> Table:
    """One line per run that fits 80 columns: fixed-width fields never wrap, the datastack and
    the error are cut with an ellipsis. Times are UTC."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    for header in ("run", "kind"):
        table.add_column(header, no_wrap=True)
    table.add_column("datastack", no_wrap=True, overflow="ellipsis", max_width=DATASTACK_WIDTH)
    for header in ("status", "when", "queued", "ran"):
        table.add_column(header, no_wrap=True)
    table.add_column("error", min_width=8)  # wrappable: the column that gives way
    for r in runs:
        table.add_row(
            str(r.id),
            r.kind,
            r.datastack or "",
            _status(r),
            _when(r.created_at, now),
            _queued(r, now),
            _ran(r, now),
            Text(r.error.splitlines()[0] if r.error else "", no_wrap=True, overflow="ellipsis"),
        )
    return table


def _when(instant: datetime, now: datetime) -> str:
    """``14:05`` on the day of ``now`` (UTC), else ``11-27``: five characters either way."""
    return instant.strftime("%H:%M" if instant.date() == now.date() else "%m-%d")


def _status(run: RunInfo) -> str:
    if run.status == RUNNING and run.total:
        return f"{run.status} {100 * run.done // run.total}%"
    return run.status


def _queued(run: RunInfo, now: datetime) -> str:
    if run.queued_seconds is not None:
        return duration(run.queued_seconds)
    if run.status == QUEUED:  # still waiting
        return duration((now - run.created_at).total_seconds()) + "+"
    return ""


def _ran(run: RunInfo, now: datetime) -> str:
    if run.run_seconds is not None:
        return duration(run.run_seconds)
    if run.status == RUNNING and run.started_at is not None:
        return duration((now - run.started_at).total_seconds()) + "+"
    return ""


def duration(seconds: float) -> str:
    """``0.4s``, ``12.3s``, ``2m05s``, ``1h02m``, ``3d04h``, ``212d``: six characters or
    fewer (below 10,000 days)."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole >= 10 * 86400:
        return f"{whole // 86400}d"
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}{whole % size // sub_size:02d}{sub}"
    return f"{whole // 60}m{whole % 60:02d}s"


def _print_run(console: Console, run: RunInfo, now: datetime) -> None:
    """One run, a line per field, then its traceback."""
    fields = {
        "run": run.id,
        "kind": run.kind,
        "datastack": run.datastack or "",
        "status": run.status,
        "progress": f"{run.done:,}/{run.total:,}",
        "parameters": json.dumps(run.params),
        "submitted": run.created_at.isoformat(),
        "started": run.started_at.isoformat() if run.started_at else "",
        "finished": run.finished_at.isoformat() if run.finished_at else "",
        "queued": _queued(run, now),
        "ran": _ran(run, now),
        "attempts": run.attempts,
        "ran on": run.builder or "",
        "result": json.dumps(run.result) if run.result is not None else "",
        "error": run.error or "",
    }
    for key, value in fields.items():
        console.print(f"{key:>10}: {value}", soft_wrap=True, highlight=False, markup=False)
    if run.traceback:
        console.print(run.traceback, soft_wrap=True, highlight=False, markup=False)
