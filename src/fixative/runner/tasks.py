"""The workflows a runner can run, by kind. A task is a plain function of the services, its
parameters (JSON, fixed when the run was submitted, so a redelivered task redoes the same work)
and a progress callback; it returns a JSON-able summary kept with the run.

Every task is idempotent: ingest and update-roots skip what is done, a version build that died is
cleaned by ``recover_versions`` before the next attempt starts a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fixative.clock import as_utc
from fixative.errors import InvalidInput
from fixative.services import Services
from fixative.workflows.progress import Report, RunOptions

Summary = dict[str, Any]
TaskFn = Callable[[Services, Mapping[str, Any], Report], Summary]
RECOVER_GRACE = timedelta(hours=6)  # RUNNING versions older than this are dead wherever they ran


@dataclass(frozen=True)
class TaskKind:
    fn: TaskFn
    exclusive: bool  # holds the datastack's lock of its kind while it runs
    needs_at: bool  # takes an instant (fixed to "now" at submission when not given)


def _datastack(params: Mapping[str, Any]) -> str:
    name = params.get("datastack")
    if not isinstance(name, str):
        raise InvalidInput("the task needs a 'datastack' name")
    return name


def _at(params: Mapping[str, Any]) -> datetime:
    value = params.get("at")
    if value is None:
        raise InvalidInput("the task needs an instant 'at'")
    return as_utc(value)


def _days(params: Mapping[str, Any]) -> int | None:
    days = params.get("days_to_expire")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInput(f"days_to_expire must be a positive integer, not {days!r}")
    return days


def _bound_tables(services: Services, params: Mapping[str, Any]) -> list[str]:
    ds = services.datastack(_datastack(params))
    names = [
        t.table_name
        for t in services.store.list_tables(aligned_volume=ds.aligned_volume)
        if t.segmentation_table is not None
    ]
    only = params.get("table")
    if only is None:
        return names
    if only not in names:
        raise InvalidInput(f"datastack {ds.name!r} has no table {only!r} with bound points")
    return [only]


def _per_table(
    services: Services,
    params: Mapping[str, Any],
    report: Report,
    work: Callable[[str, Report], Summary],
) -> Summary:
    """Run ``work`` on each table, progress counted in tables and rows within the current one."""
    tables = _bound_tables(services, params)
    done: Summary = {}
    for i, name in enumerate(tables):

        def table_report(rows: int, total: int, i: int = i) -> None:
            report(i * 1000 + (1000 * rows // total if total else 0), 1000 * len(tables))

        done[name] = work(name, table_report)
        report((i + 1) * 1000, 1000 * len(tables))
    return {"tables": done}


def ingest(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    from fixative.workflows.ingest import ingest_table

    ds, at = _datastack(params), _at(params)
    seg, cg = services.segmentation(ds), services.chunkedgraph(ds)

    def work(name: str, table_report: Report) -> Summary:
        result = ingest_table(services.store, seg, cg, name, at, RunOptions(report=table_report))
        return {"rows": result.rows, "points_without_supervoxel": result.points_without_supervoxel}

    return _per_table(services, params, report, work)


def update_roots(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    from fixative.workflows.update_roots import update_roots as run

    ds, at = _datastack(params), _at(params)
    cg = services.chunkedgraph(ds)

    def work(name: str, table_report: Report) -> Summary:
        result = run(services.store, cg, name, at, RunOptions(report=table_report))
        return {"expired_root_ids": result.expired_root_ids, "rows_touched": result.rows_touched}

    return _per_table(services, params, report, work)


def _version(
    services: Services, params: Mapping[str, Any], report: Report, *, complete: bool
) -> Summary:
    from fixative.versions import recover_versions
    from fixative.workflows import materialize as workflow

    ds = services.datastack(_datastack(params))
    recover_versions(services.store, grace=RECOVER_GRACE)
    request = workflow.VersionRequest(
        ds.name,
        ds.aligned_volume,
        _at(params),
        _days(params),
        refresh_report=report,  # rows of the table being refreshed, then tables built
        build_report=report,
    )
    seg, cg = services.segmentation(ds.name), services.chunkedgraph(ds.name)
    summary: Summary
    if complete:
        made, expired = workflow.complete(services.store, seg, cg, request, ds.min_versions_kept)
        summary = {"version": made.version.version, "expired": list(expired.expired)}
    else:
        made = workflow.materialize(services.store, seg, cg, request)
        summary = {"version": made.version.version}
    summary["refreshed"] = {
        name: {"ingested": r.ingest.rows, "roots_rewritten": r.roots.rows_touched}
        for name, r in made.refreshed.items()
    }
    return summary


def create_version(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    return _version(services, params, report, complete=False)


def materialize(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    return _version(services, params, report, complete=True)


def expire(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    from fixative.versions import expire_versions, recover_versions

    ds = services.datastack(_datastack(params))
    recover_versions(services.store, grace=RECOVER_GRACE)
    result = expire_versions(
        services.store, ds.name, services.store.clock(), min_kept=ds.min_versions_kept
    )
    report(1, 1)
    return {"expired": list(result.expired), "cleaned": list(result.cleaned)}


TASKS: dict[str, TaskKind] = {
    "ingest": TaskKind(ingest, exclusive=False, needs_at=True),
    "update_roots": TaskKind(update_roots, exclusive=False, needs_at=True),
    "create_version": TaskKind(create_version, exclusive=False, needs_at=True),
    "materialize": TaskKind(materialize, exclusive=True, needs_at=True),
    "expire": TaskKind(expire, exclusive=False, needs_at=False),
}


def task_kind(kind: str) -> TaskKind:
    try:
        return TASKS[kind]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise InvalidInput(f"unknown workflow {kind!r}; known: {known}") from None
