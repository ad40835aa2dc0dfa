"""``fixative status``: the recorded workflow runs, or one run in full."""

from __future__ import annotations

import json

import click
from rich.console import Console

from fixative.cli.context import Context, pass_ctx
from fixative.runner.records import RunInfo


def register(cli: click.Group) -> None:
    """``fixative status``."""

    @cli.command()
    @click.option("--run", "run_id", type=int, default=None, help="One run, with its traceback.")
    @click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
    @pass_ctx
    def status(ctx: Context, run_id: int | None, limit: int) -> None:
        """Recent workflow runs: kind, status, progress, timing, error."""
        from rich.table import Table

        from fixative import bootstrap
        from fixative.runner.records import get_run, list_runs

        store = bootstrap.live_store(ctx.settings)
        try:
            if run_id is not None:
                _print_run(ctx.console, get_run(store, run_id))
                return
            runs = list_runs(store, limit)
        finally:
            store.dispose()
        table = Table(
            "run", "kind", "datastack", "status", "progress", "started", "seconds", "error"
        )
        for r in runs:
            table.add_row(
                str(r.id),
                r.kind,
                r.datastack or "",
                r.status,
                f"{r.done:,}/{r.total:,}",
                r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{r.seconds:.1f}" if r.seconds is not None else "",
                r.error or "",
            )
        ctx.console.print(table)


def _print_run(console: Console, run: RunInfo) -> None:
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
        "seconds": f"{run.seconds:.1f}" if run.seconds is not None else "",
        "attempts": run.attempts,
        "ran on": run.builder or "",
        "result": json.dumps(run.result) if run.result is not None else "",
        "error": run.error or "",
    }
    for key, value in fields.items():
        console.print(f"{key:>10}: {value}", soft_wrap=True, highlight=False)
    if run.traceback:
        console.print(run.traceback, soft_wrap=True, highlight=False)
