"""The TaskRunner port: submit a workflow run, wait for it. Adapters: ``InlineRunner`` (a thread
pool in this process; the embedded default) and ``CeleryRunner`` (Celery workers over a Redis
broker). Both record the run in the live database first, then hand over only its id, so the
record (status, progress, result, error) is the same whoever runs it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from fixative.clock import as_utc, refuse_future, utc_now
from fixative.errors import Transient
from fixative.runner.records import RunInfo, get_run, submit_run
from fixative.runner.tasks import task_kind
from fixative.store import Store


class TaskRunner(Protocol):
    def submit(self, kind: str, params: Mapping[str, Any], datastack: str | None = None) -> int:
        """Record a QUEUED run and hand it over; returns its id."""
        ...

    def enqueue(self, run_id: int, delay_s: float = 0.0) -> None:
        """Hand over a run already recorded QUEUED, to start no sooner than ``delay_s`` seconds
        from now (``fixative.runner.coalesce``: writes' ingest runs)."""
        ...

    def wait(self, run_id: int, timeout: float | None = None) -> RunInfo:
        """The run's record once it finished (Transient after ``timeout`` seconds)."""
        ...

    def resume(self, run_id: int) -> None:
        """Hand an already recorded QUEUED run over again (the reaper's redo of a dead
        owner's run)."""
        ...

    def close(self) -> None: ...


def prepare_params(
    kind: str, params: Mapping[str, Any], datastack: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Check the kind and fix the instant at submission: a redelivered task redoes the same
    work, not work at a later "now". An instant after now is refused here, before the run is
    recorded."""
    task = task_kind(kind)
    fixed = dict(params)
    now = now or utc_now()
    if datastack is not None:
        fixed["datastack"] = datastack
    if task.needs_at and fixed.get("at") is None:
        fixed["at"] = now.isoformat()
    elif fixed.get("at") is not None:
        refuse_future(as_utc(fixed["at"]), now, "at")
    return fixed


def record_submission(
    store: Store,
    kind: str,
    params: Mapping[str, Any],
    datastack: str | None,
    owner: str | None = None,
) -> int:
    fixed = prepare_params(kind, params, datastack, store.clock())
    return submit_run(store, kind, fixed, fixed.get("datastack"), owner)


def poll_until_finished(
    store: Store, run_id: int, timeout: float | None, every_s: float = 0.2
) -> RunInfo:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = get_run(store, run_id)
        if run.finished:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise Transient(f"run {run_id} ({run.kind}) is still {run.status} after {timeout:g} s")
        time.sleep(every_s)
