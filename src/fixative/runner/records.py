"""Every workflow run leaves a row: kind, parameters, status, progress (done/total), timings,
and the error with its traceback when it fails."""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fixative.errors import Conflict, NotFound
from fixative.ids import INT64_MAX
from fixative.runner.tables import workflow_runs
from fixative.store import Store
from fixative.versions.builders import builder_id, builder_is_dead, note_dead

QUEUED, RUNNING, SUCCEEDED, FAILED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED"
PROGRESS_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 10.0
STALE_AFTER = timedelta(seconds=120)  # a claim whose heartbeat is older than this is dead


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
    builder: str | None = None
    started_at: datetime | None = None
    heartbeat: datetime | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None

    @property
    def seconds(self) -> float | None:
        """Submitted to finished: the whole wait of whoever submitted the run."""
        return (self.finished_at - self.created_at).total_seconds() if self.finished_at else None

    @property
    def queued_seconds(self) -> float | None:
        """Submitted to started (by its last attempt); None until a process claims it."""
        return (self.started_at - self.created_at).total_seconds() if self.started_at else None

    @property
    def run_seconds(self) -> float | None:
        """Started (by its last attempt) to finished; None until both happened."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def finished(self) -> bool:
        return self.status in (SUCCEEDED, FAILED)

    def claim_is_dead(self, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
        """A RUNNING claim whose process is known to be gone (``builders.builder_is_dead``: its
        PID namespace or its network namespace is ours) or silent for longer than
        ``stale_after``."""
        if self.status != RUNNING:
            return False
        if builder_is_dead(self.builder):
            return True
        beat = self.heartbeat or self.started_at or self.created_at
        return now - beat > stale_after


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


def _claim(
    conn: sa.Connection,
    kind: str,
    datastack: str | None,
    now: datetime,
    own: int | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> None:
    """Refuse a second live run of ``kind`` on ``datastack`` (the per-datastack lock); runs whose
    process died are marked FAILED and do not hold it. Writers are serialized per datastack
    (PostgreSQL advisory lock; SQLite BEGIN IMMEDIATE), so two claims cannot both pass."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"{kind}:{datastack}")))
        )
    runs = workflow_runs
    query = sa.select(runs).where(
        runs.c.kind == kind, runs.c.datastack == datastack, runs.c.status == RUNNING
    )
    if own is not None:
        query = query.where(runs.c.id != own)
    for row in conn.execute(query).all():
        if not _info(row).claim_is_dead(now, stale_after):
            raise Conflict(f"{kind} run {row.id} is still running for datastack {datastack!r}")
        if row.builder:
            note_dead(row.builder)
        conn.execute(_by_id(row.id).values(status=FAILED, error="its process died", finished=now))


def submit_run(
    store: Store,
    kind: str,
    params: Mapping[str, Any],
    datastack: str | None = None,
    owner: str | None = None,
) -> int:
    """Record a QUEUED run; the runner then hands its id to whoever runs it. ``owner`` is the
    builder id of the process that will run it (the inline runner's submitter), so a QUEUED
    run of a dead process can be told from one waiting on the broker."""
    with store.write() as conn:
        inserted = conn.execute(
            workflow_runs.insert().values(
                kind=kind,
                datastack=datastack,
                params=json.dumps(dict(params), default=str),
                status=QUEUED,
                created=store.clock(),
                builder=owner,
            )
        ).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def claim_run(
    store: Store, run_id: int, *, exclusive: bool = False, stale_after: timedelta = STALE_AFTER
) -> RunInfo | None:
    """Make this process the run's owner. None when there is nothing to do: the run finished,
    or a live process holds it (a task delivered twice). A run whose owner died is taken over.
    Raises Conflict when ``exclusive`` and another live run of its kind holds the datastack."""
    with store.write() as conn:
        query = sa.select(workflow_runs).where(workflow_runs.c.id == run_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"workflow run {run_id} does not exist")
        info, now = _info(row), store.clock()
        if info.finished or (info.status == RUNNING and not info.claim_is_dead(now, stale_after)):
            return None
        if info.status == RUNNING and info.builder:  # dead: its version builds are too
            note_dead(info.builder)
        if exclusive:
            _claim(conn, info.kind, info.datastack, now, own=run_id, stale_after=stale_after)
        conn.execute(
            _by_id(run_id).values(
                status=RUNNING,
                builder=builder_id(),
                started=now,
                heartbeat=now,
                attempts=workflow_runs.c.attempts + 1,
            )
        )
    return get_run(store, run_id)


def finish_run(
    store: Store,
    run_id: int,
    *,
    result: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
    """SUCCEEDED with its result, or FAILED with the error and its traceback."""
    values: dict[str, Any] = {"finished": store.clock()}
    if error is None:
        values.update(status=SUCCEEDED, result=json.dumps(dict(result or {}), default=str))
    else:
        values.update(
            status=FAILED,
            error=f"{type(error).__name__}: {error}",
            traceback="".join(traceback.format_exception(error)),
        )
    with store.write() as conn:
        conn.execute(_by_id(run_id).values(**values))


def beat_every_s(stale_after: timedelta) -> float:
    """Several beats fit in the stale threshold, so one missed beat is no death."""
    return min(HEARTBEAT_EVERY_S, stale_after.total_seconds() / 6)


@contextmanager
def heartbeat(store: Store, run_id: int, every_s: float = HEARTBEAT_EVERY_S) -> Iterator[None]:
    """Stamp the run's ``heartbeat`` every ``every_s`` seconds while the block runs, so other
    machines can tell a live claim from a dead one."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with store.write() as conn:
                    conn.execute(_by_id(run_id).values(heartbeat=store.clock()))
            except Exception:  # a missed beat is retried; the run itself reports real errors
                continue

    thread = threading.Thread(target=beat, name=f"fixative-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every_s + 5)


@contextmanager
def recorded(
    store: Store,
    kind: str,
    params: Mapping[str, Any],
    datastack: str | None = None,
    *,
    exclusive: bool = False,
    stale_after: timedelta = STALE_AFTER,
) -> Iterator[RunProgress]:
    """Record a run around the block: RUNNING, then SUCCEEDED, or FAILED with the error.
    ``exclusive`` runs hold the per-datastack lock of their kind while they run; the heartbeat
    beats often enough that a reaper using ``stale_after`` takes it for alive."""
    with store.write() as conn:
        now = store.clock()
        if exclusive:
            _claim(conn, kind, datastack, now, stale_after=stale_after)
        inserted = conn.execute(
            workflow_runs.insert().values(
                kind=kind,
                datastack=datastack,
                params=json.dumps(dict(params), default=str),
                status=RUNNING,
                created=now,
                started=now,
                heartbeat=now,
                attempts=1,
                builder=builder_id(),
            )
        ).inserted_primary_key
    assert inserted is not None
    run_id = int(inserted[0])
    try:
        with heartbeat(store, run_id, beat_every_s(stale_after)):
            yield RunProgress(store, run_id)
    except BaseException as exc:
        finish_run(store, run_id, error=exc)
        raise
    finish_run(store, run_id)


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
        row.builder,
        row.started,
        row.heartbeat,
        row.attempts,
        json.loads(row.result) if row.result else None,
    )


def list_runs(store: Store, limit: int = 20) -> list[RunInfo]:
    """The most recent runs, newest first."""
    query = sa.select(workflow_runs).order_by(workflow_runs.c.id.desc()).limit(limit)
    with store.read() as conn:
        return [_info(row) for row in conn.execute(query)]


def get_run(store: Store, run_id: int) -> RunInfo:
    if not 0 < run_id <= INT64_MAX:  # a signed 64-bit column: larger numbers name no run
        raise NotFound(f"workflow run {run_id} does not exist")
    with store.read() as conn:
        row = conn.execute(sa.select(workflow_runs).where(workflow_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"workflow run {run_id} does not exist")
    return _info(row)
