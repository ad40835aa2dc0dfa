"""``fixative doctor``'s checks: states of a datastack that block its workflows and that nothing
else repairs, found as typed findings and, when asked, repaired.

- ``FutureRoots``: a table whose root ids are declared valid at an instant after now (an
  update-roots or ingest run at a future instant, before such instants were refused). Every
  workflow at "now" is then refused as earlier than the table. Repair: every row's root ids are
  resolved afresh at now from its supervoxels (``reresolve_roots``).
- ``StuckVersion``: a version left RUNNING by a build whose process died; it blocks every new
  version of the datastack. Repair: ``recover_versions`` drops its partial database and marks it
  FAILED.
- ``MissingIndexes``: a table whose root-id indexes are gone: a bulk ingest sets them aside
  while it writes and builds them at its end, so one killed mid-way leaves root-id queries on
  the table scanning every row until the next ingest. Repair: they are built
  (``bulkindex.restore``).
- ``DeadRun``: a run RUNNING under a dead owner, or QUEUED for longer than the broker would wait
  before redelivering it (``task_visibility_timeout``): nothing will finish it. Repair: it is
  marked FAILED, so its record says so (submit it again to redo the work).

Roots and versions are only repaired while no live run works on the datastack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from fixative.runner.records import FAILED, QUEUED, RUNNING, STALE_AFTER, RunInfo, get_run
from fixative.runner.tables import workflow_runs
from fixative.runner.tasks import RECOVER_GRACE
from fixative.services import Services
from fixative.store import Store, bulkindex
from fixative.store.segmentation import SegmentationTable
from fixative.versions import list_versions, recover_versions
from fixative.versions.builders import builder_is_dead
from fixative.workflows.update_roots import reresolve_roots


@dataclass(frozen=True)
class FutureRoots:
    table: str
    valid_at: datetime

    def describe(self) -> str:
        return (
            f"table {self.table!r} holds root ids valid at {self.valid_at.isoformat()}, in the "
            "future: every workflow at an earlier instant is refused"
        )


@dataclass(frozen=True)
class StuckVersion:
    version: int
    builder: str | None
    created_at: datetime

    def describe(self) -> str:
        return (
            f"version {self.version} is RUNNING since {self.created_at.isoformat()} but its "
            f"builder ({self.builder or 'unknown'}) is gone: no new version can be built"
        )


@dataclass(frozen=True)
class DeadRun:
    run_id: int
    kind: str
    status: str
    created_at: datetime

    def describe(self) -> str:
        why = "its process died" if self.status == RUNNING else "no worker ever took it"
        return (
            f"run {self.run_id} ({self.kind}) is {self.status} since "
            f"{self.created_at.isoformat()} but {why}: it will never finish"
        )


@dataclass(frozen=True)
class MissingIndexes:
    table: str
    indexes: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"table {self.table!r} lacks its root-id indexes {', '.join(self.indexes)} (a bulk "
            "ingest that did not finish, or one still running): root-id queries on it scan "
            "every row"
        )


Finding = FutureRoots | StuckVersion | DeadRun | MissingIndexes


@dataclass(frozen=True)
class Repair:
    finding: Finding
    repaired: bool
    note: str


def examine(services: Services, datastack: str, now: datetime) -> list[Finding]:
    """What blocks ``datastack``'s workflows at ``now``, dead runs first."""
    ds, settings = services.datastack(datastack), services.settings
    stale_after = timedelta(seconds=settings.run_stale_after_s)
    found: list[Finding] = [
        DeadRun(r.id, r.kind, r.status, r.created_at)
        for r in open_runs(services.store, ds.name)
        if run_is_dead(
            r, now, timedelta(seconds=settings.task_visibility_timeout), stale_after=stale_after
        )
    ]
    found.extend(
        StuckVersion(v.version, v.builder, v.created_at)
        for v in list_versions(services.store, ds.name, include_expired=True)
        if v.status == RUNNING and _build_is_dead(v.builder, v.created_at, now)
    )
    tables = [
        t
        for t in services.store.list_tables(aligned_volume=ds.aligned_volume)
        if t.segmentation_table is not None and t.schema.bound_points
    ]
    found.extend(
        FutureRoots(t.table_name, t.last_updated_at)
        for t in tables
        if t.last_updated_at is not None and t.last_updated_at > now
    )
    with services.store.read() as conn:
        for t in tables:
            gone = bulkindex.missing(conn, SegmentationTable.of(t))
            if gone:
                found.append(MissingIndexes(t.table_name, tuple(gone)))
    return found


def repair(
    services: Services, datastack: str, findings: Sequence[Finding], now: datetime
) -> list[Repair]:
    """Repair ``findings`` (from ``examine``) in order: dead runs, then, unless a live run still
    works on the datastack, stuck versions and future roots."""
    done = [_fail_run(services, f, now) for f in findings if isinstance(f, DeadRun)]
    stale_after = timedelta(seconds=services.settings.run_stale_after_s)
    busy = [
        r
        for r in open_runs(services.store, datastack)
        if not run_is_dead(r, now, None, stale_after=stale_after)
    ]
    rest = [f for f in findings if not isinstance(f, DeadRun)]
    if busy:
        note = f"run {busy[0].id} ({busy[0].kind}) is working on {datastack!r}; repair after it"
        return done + [Repair(f, False, note) for f in rest]
    stuck = [f for f in rest if isinstance(f, StuckVersion)]
    if stuck:
        recovered = {
            v.version
            for v in recover_versions(services.store, grace=RECOVER_GRACE, now=now)
            if v.datastack == datastack
        }
        done += [
            Repair(f, f.version in recovered, "partial database dropped, marked FAILED")
            for f in stuck
        ]
    for f in rest:
        if isinstance(f, MissingIndexes):
            links = SegmentationTable.of(services.store.get_table(f.table))
            with services.store.write() as conn:
                built = bulkindex.restore(conn, links)
                left = bulkindex.missing(conn, links)
            done.append(Repair(f, not left, f"built {', '.join(built) or 'none: they were back'}"))
        if isinstance(f, FutureRoots):
            result = reresolve_roots(services.store, services.chunkedgraph(datastack), f.table, now)
            note = f"{result.rows_touched:,} root ids re-resolved, valid at {now.isoformat()}"
            done.append(Repair(f, True, note))
    return done


def _build_is_dead(builder: str | None, created_at: datetime, now: datetime) -> bool:
    """What ``recover_versions`` recovers: a build past the grace, or whose builder died."""
    return created_at <= now - RECOVER_GRACE or builder_is_dead(builder)


def open_runs(store: Store, datastack: str | None = None) -> list[RunInfo]:
    """The runs QUEUED or RUNNING: the datastack's and those of no datastack, or (None) all."""
    runs = workflow_runs
    query = sa.select(runs.c.id).where(runs.c.status.in_((QUEUED, RUNNING)))
    if datastack is not None:
        query = query.where(sa.or_(runs.c.datastack == datastack, runs.c.datastack.is_(None)))
    with store.read() as conn:
        ids = list(conn.execute(query.order_by(runs.c.id)).scalars())
    return [get_run(store, i) for i in ids]


def run_is_dead(
    run: RunInfo,
    now: datetime,
    queued_for: timedelta | None,
    *,
    stale_after: timedelta = STALE_AFTER,
) -> bool:
    """RUNNING under a dead owner (gone, or silent for ``stale_after``); QUEUED for an inline
    runner whose process is gone; or (with ``queued_for``) QUEUED for longer than that."""
    if run.status == RUNNING:
        return run.claim_is_dead(now, stale_after)
    if run.status == QUEUED and builder_is_dead(run.builder):
        return True
    return queued_for is not None and run.created_at < now - queued_for


def _fail_run(services: Services, finding: DeadRun, now: datetime) -> Repair:
    """FAILED, unless the run moved on since it was examined."""
    runs = workflow_runs
    error = f"{finding.describe()} (marked FAILED by fixative doctor)"
    with services.store.write() as conn:
        changed = conn.execute(
            runs.update()
            .where(runs.c.id == finding.run_id, runs.c.status == finding.status)
            .values(status=FAILED, error=error, finished=now)
        ).rowcount
    note = "marked FAILED; submit it again to redo its work" if changed else "it moved on"
    return Repair(finding, bool(changed), note)
