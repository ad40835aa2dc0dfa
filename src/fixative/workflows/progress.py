"""How a workflow runs its chunks: how many rows a chunk holds, and where progress goes
(``report(done, total)`` after each chunk; ``total`` 0 when it is not known in advance)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Report = Callable[[int, int], None]
DEFAULT_CHUNK_ROWS = 50_000  # per chunk: a fixed cost of statements and commits, memory ~10 MB


def ignore_progress(done: int, total: int) -> None:
    """The default ``report``: progress goes nowhere."""


@dataclass(frozen=True)
class RunOptions:
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    report: Report = ignore_progress
