"""Every workflow run leaves a row: kind, parameters, status, progress (done/total), timings,
and the error with its traceback when it fails."""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fixative.errors import Conflict, NotFound
from fixative.runner.tables import workflow_runs
from fixative.store import Store

RUNNING, SUCCEEDED, FAILED = "RUNNING", "SUCCEEDED", "FAILED"
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class RunInfo:
    id: int
    kind: str
    datastack: str | None
    params: dict[str, Any]
    status: str
    done: int
    total: int
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    traceback: str | None

    @property
    def seconds(self) -> float | None:
        return (self.finished_at - self.created_at).total_seconds() if self.finished_at else None


class RunProgress:
    """``report(done, total)`` for a workflow: written to the run's row at most twice a second."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store, self.run_id = store, run_id
        self._written_at = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._written_at < PROGRESS_EVERY_S and done < total:
            return
        self._written_at = now
        with self.store.write() as conn:
            conn.execute(_by_id(self.run_id).values(done=done, total=total))


def _by_id(run_id: int) -> sa.Update:
    return workflow_runs.update().where(workflow_runs.c.id == run_id)


def _claim(conn: sa.Connection, kind: str, datastack: str | None) -> None:
    """Refuse a second live run of ``kind`` on ``datastack`` (the per-datastack lock); runs whose
    process died are marked FAILED and do not hold it. Writers are serialized per datastack
    (PostgreSQL advisory lock; SQLite BEGIN IMMEDIATE), so two claims cannot both pass."""
    from fixative.versions.build import builder_is_dead

    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"{kind}:{datastack}")))
        )
    runs = workflow_runs
    live = conn.execute(
        sa.select(runs.c.id, runs.c.builder).where(
            runs.c.kind == kind, runs.c.datastack == datastack, runs.c.status == RUNNING
        )
    ).all()
    for run_id, builder in live:
        if not builder_is_dead(builder):
            raise Conflict(f"{kind} run {run_id} is still running for datastack {datastack!r}")
        conn.execute(_by_id(run_id).values(status=FAILED, error="its process died"))


@contextmanager
def recorded(
    store: Store,
    kind: str,
    params: Mapping[str, Any],
    datastack: str | None = None,
    *,
    exclusive: bool = False,
) -> Iterator[RunProgress]:
    """Record a run around the block: RUNNING, then SUCCEEDED, or FAILED with the error.
    ``exclusive`` runs hold the per-datastack lock of their kind while they run."""
    with store.write() as conn:
        if exclusive:
            _claim(conn, kind, datastack)
        inserted = conn.execute(
            workflow_runs.insert().values(
                kind=kind,
                datastack=datastack,
                params=json.dumps(dict(params), default=str),
                status=RUNNING,
                created=store.clock(),
                builder=f"{socket.gethostname()}:{os.getpid()}",
            )
        ).inserted_primary_key
    assert inserted is not None
    run_id = int(inserted[0])
    try:
        yield RunProgress(store, run_id)
    except BaseException as exc:
        with store.write() as conn:
            conn.execute(
                _by_id(run_id).values(
                    status=FAILED,
                    finished=store.clock(),
                    error=f"{type(exc).__name__}: {exc}",
                    traceback="".join(traceback.format_exception(exc)),
                )
            )
        raise
    with store.write() as conn:
        conn.execute(_by_id(run_id).values(status=SUCCEEDED, finished=store.clock()))


def _info(row: sa.Row[Any]) -> RunInfo:
    return RunInfo(
        row.id,
        row.kind,
        row.datastack,
        json.loads(row.params),
        row.status,
        row.done,
        row.total,
        row.created,
        row.finished,
        row.error,
        row.traceback,
    )


def list_runs(store: Store, limit: int = 20) -> list[RunInfo]:
    """The most recent runs, newest first."""
    query = sa.select(workflow_runs).order_by(workflow_runs.c.id.desc()).limit(limit)
    with store.read() as conn:
        return [_info(row) for row in conn.execute(query)]


def get_run(store: Store, run_id: int) -> RunInfo:
    with store.read() as conn:
        row = conn.execute(sa.select(workflow_runs).where(workflow_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"workflow run {run_id} does not exist")
    return _info(row)
