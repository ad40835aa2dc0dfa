"""What every command shares: the settings (loaded once, when a command first needs them), the
console, and the progress-bar and instant helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fixative.clock import as_utc, refuse_future, utc_now
from fixative.config import Settings, load_settings

if TYPE_CHECKING:
    from fixative.store import Store


@dataclass
class Context:
    config_path: Path | None
    debug: bool
    console: Console
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings


pass_ctx = click.make_pass_decorator(Context)


@contextmanager
def live_store(ctx: Context) -> Iterator[Store]:
    """The configured live database for one command, disposed when it ends."""
    from fixative import bootstrap

    store = bootstrap.live_store(ctx.settings)
    try:
        yield store
    finally:
        store.dispose()


Report = Callable[[int, int], None]


def parse_instant(value: str | None, option: str = "--at") -> datetime:
    """An ISO instant up to now (a later one is refused before anything is written), or now."""
    now = utc_now()
    return refuse_future(as_utc(value), now, option) if value else now


@contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[str], Report]]:
    """``bar(label)`` gives a ``report(done, total)`` callback drawing one progress bar."""
    progress = Progress(
        TextColumn("{task.description:>24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )

    def bar(label: str) -> Report:
        task = progress.add_task(label, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        return report

    with progress:
        yield bar


def tee(*reports: Report) -> Report:
    def report(done: int, total: int) -> None:
        for each in reports:
            each(done, total)

    return report
