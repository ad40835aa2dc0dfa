"""Writes trigger ingest as one coalesced, rate-limited run per table, never a run per write.

The rule: at most one QUEUED write-triggered ingest run per (datastack, table). A write that
finds one adds nothing: that run has not fixed its instant yet, and fixes it when it *starts*
(``fix_instant_at_start``, called right after the run is claimed), at
``max(now, the table's last_modified)``. Ingest at T links every row created at or before T, so
the write's rows are covered:

- the write committed (its rows created at w, the table's ``last_modified`` >= w) before it
  looked for a QUEUED run; it saw one, so that run was not yet claimed then; the run's instant
  is read after its claim committed, hence after the write, and is >= w whatever the clocks of
  the API and worker machines say (``last_modified`` is in the instant, not only ``now``).
- once fixed, the instant is stored in the run's parameters, so a redelivered or taken-over run
  redoes the same instant; a run that died between its claim and fixing it did no work, and its
  next attempt fixes a later instant, which covers more.

A write that finds none (the last one started) queues a new run, handed to the runner with a
delay so that it starts no sooner than ``ingest_min_interval_s`` after the table's previous
ingest run started and finished: the backlog is one QUEUED run per table, and at most one
ingest of a table starts per interval plus run time. Queueing is serialized per table (a
PostgreSQL advisory lock; SQLite's one writer), so two writes cannot both queue one.

A QUEUED run can be lost with its hand-over (the inline runner's process ended before the delay
passed; a broker lost its message). Writes then still find it QUEUED; so a process that sees
one older than its delay plus ``LOST_AFTER`` hands it over once itself. A run handed over twice
runs once (``claim_run``)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from fixative.runner.records import QUEUED, RunInfo, get_run
from fixative.runner.tables import workflow_runs
from fixative.store import Store

log = logging.getLogger(__name__)
KIND = "ingest"
MARK = "at_start"  # params[MARK] is true: the run's instant is fixed when it starts
LOST_AFTER = timedelta(seconds=60)
RECENT_RUNS = 20  # how many of the datastack's latest started ingest runs are searched


class HandsOver(Protocol):
    def enqueue(self, run_id: int, delay_s: float = 0.0) -> None: ...


@dataclass(frozen=True)
class Queued:
    """The table's QUEUED write-triggered run: ``new`` when this call recorded it, ``delay_s``
    how long it must wait before it starts, ``created_at`` when it was recorded."""

    run_id: int
    new: bool
    delay_s: float
    created_at: datetime


def _lock(conn: sa.Connection, datastack: str, table: str) -> None:
    if conn.dialect.name == "postgresql":
        key = f"ingest-queue:{datastack}:{table}"
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key))))


def _of_table(rows: Any, table: str) -> list[tuple[Any, dict[str, Any]]]:
    found = []
    for row in rows:
        params = json.loads(row.params)
        if params.get("table") == table:
            found.append((row, params))
    return found


def _last_run(conn: sa.Connection, datastack: str, table: str) -> tuple[datetime, bool] | None:
    """When the table's latest started ingest run finished (or started, and whether it is still
    running); None when none ran."""
    runs = workflow_runs
    recent = conn.execute(
        sa.select(runs.c.id, runs.c.params, runs.c.started, runs.c.finished)
        .where(runs.c.kind == KIND, runs.c.datastack == datastack, runs.c.started.is_not(None))
        .order_by(runs.c.started.desc())
        .limit(RECENT_RUNS)
    ).all()
    for row, _ in _of_table(recent, table):
        return (row.finished or row.started), row.finished is None
    return None


def queue_ingest(
    store: Store, datastack: str, table: str, min_interval_s: float, owner: str | None = None
) -> Queued:
    """The table's QUEUED write-triggered ingest run, recorded now if there is none. ``owner``:
    the process that will run it (an inline runner's), so the reaper redoes it if that dies."""
    runs = workflow_runs
    with store.write() as conn:
        _lock(conn, datastack, table)
        now = store.clock()
        queued = conn.execute(
            sa.select(runs.c.id, runs.c.params, runs.c.created).where(
                runs.c.kind == KIND, runs.c.datastack == datastack, runs.c.status == QUEUED
            )
        ).all()
        for row, params in _of_table(queued, table):
            # a run put back to QUEUED after its owner died keeps the instant it fixed at its
            # start, so it would not cover this write: only one whose instant waits counts
            if params.get(MARK) and params.get("at") is None:
                return Queued(int(row.id), False, 0.0, row.created)
        last, delay = _last_run(conn, datastack, table), 0.0
        if last is not None:  # the next start: the interval after the last run started and ended
            since, running = last
            start = (now if running else since) + timedelta(seconds=min_interval_s)
            delay = max(0.0, (start - now).total_seconds())
        params = {"table": table, MARK: True, "datastack": datastack}
        inserted = conn.execute(
            runs.insert().values(
                kind=KIND,
                datastack=datastack,
                params=json.dumps(params),
                status=QUEUED,
                created=now,
                builder=owner,
            )
        ).inserted_primary_key
    assert inserted is not None
    return Queued(int(inserted[0]), True, delay, now)


def fix_instant_at_start(store: Store, run: RunInfo) -> RunInfo:
    """A claimed run whose instant waits for its start gets it now, stored with the run:
    ``max(now, the table's last_modified)``. Any other run is returned as it is."""
    params = run.params
    if not params.get(MARK) or params.get("at") is not None:
        return run
    info = store.get_table(str(params["table"]))
    at = max(store.clock(), info.last_modified_at)
    fixed = {**params, "at": at.isoformat()}
    runs = workflow_runs
    with store.write() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.id == run.id, runs.c.params == json.dumps(params))
            .values(params=json.dumps(fixed))
        )
    stored = get_run(store, run.id)
    return stored if stored.params.get("at") is not None else replace(run, params=fixed)


class WriteIngest:
    """What an annotation write calls: queue the table's coalesced ingest and hand it over to
    the runner (once per run and process: a new run with its delay, or a lost one at once)."""

    def __init__(
        self, store: Store, runner: HandsOver, min_interval_s: float, owner: str | None = None
    ) -> None:
        self.store, self.runner, self.min_interval_s = store, runner, min_interval_s
        self.owner = owner
        self._handed: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, datastack: str, table: str) -> int:
        queued = queue_ingest(self.store, datastack, table, self.min_interval_s, self.owner)
        lost_at = queued.created_at + LOST_AFTER + timedelta(seconds=self.min_interval_s)
        with self._lock:
            if queued.run_id in self._handed:
                return queued.run_id
            if not queued.new and self.store.clock() < lost_at:
                return queued.run_id
            if not queued.new:
                log.warning("ingest run %s is still QUEUED: handing it over again", queued.run_id)
            self._handed.add(queued.run_id)
        self.runner.enqueue(queued.run_id, queued.delay_s)
        return queued.run_id
