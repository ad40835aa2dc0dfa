"""The workflows a runner can run, by kind. A task is a plain function of the services, its
parameters (JSON, fixed when the run was submitted, so a redelivered task redoes the same work)
and a progress callback; it returns a JSON-able summary kept with the run.

Every task is idempotent: ingest and update-roots skip what is done, an upload skips the chunks
already written, a version build that died is cleaned by ``recover_versions`` before the next
attempt starts a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fixative.clock import as_utc
from fixative.errors import InvalidInput
from fixative.services import Services
from fixative.versions.model import KINDS, Kind
from fixative.workflows.progress import Report, RunOptions

if TYPE_CHECKING:
    from fixative.config import Settings
    from fixative.store import Store
    from fixative.workflows.bulk_upload import UploadRequest

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


def _kind(params: Mapping[str, Any], default: Kind) -> Kind:
    kind = params.get("kind") or default
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return cast(Kind, kind)


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
        kind=_kind(params, ds.version_kind),
    )
    seg, cg = services.segmentation(ds.name), services.chunkedgraph(ds.name)
    summary: Summary
    if complete:
        window = timedelta(days=services.settings.history_window_days)
        made, expired = workflow.complete(
            services.store, seg, cg, request, ds.min_versions_kept, window
        )
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


UPLOAD_PARAMS = {"table", "files", "map", "start_id", "roots_valid_at", "chunk_rows"}


def _positive(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidInput(f"{name} must be a positive integer, not {value!r}")
    return value


def _upload_files(home: Path, files: Any) -> list[Path]:
    """The files, each under the data directory ``home`` (shared by the API and the workers;
    relative names are taken from there): a run reads nothing else of the machine it runs on."""
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise InvalidInput("files must be a non-empty list of file names")
    root = home.resolve()
    paths = [(root / f).resolve() for f in files]
    outside = [str(f) for f, p in zip(files, paths, strict=True) if not p.is_relative_to(root)]
    if outside:
        raise InvalidInput(f"upload files must lie under the data directory {str(root)!r}")
    missing = [str(f) for f, p in zip(files, paths, strict=True) if not p.is_file()]
    if missing:
        raise InvalidInput(f"no such upload file(s) under {str(root)!r}: {', '.join(missing)}")
    return paths


def upload_request(store: Store, settings: Settings, params: Mapping[str, Any]) -> UploadRequest:
    """The bulk upload a run's parameters ask for (InvalidInput naming what is wrong): table,
    files, ``map`` (source -> column), ``start_id``, ``roots_valid_at``, ``chunk_rows``."""
    from fixative.workflows.bulk_upload import DEFAULT_CHUNK_ROWS, UploadRequest

    unknown = sorted(set(params) - UPLOAD_PARAMS - {"datastack"})
    if unknown:
        raise InvalidInput(f"workflow 'upload' takes no parameter(s) {', '.join(unknown)}")
    table = params.get("table")
    info = store.find_table(table) if isinstance(table, str) else None
    volume = settings.datastack(_datastack(params)).aligned_volume
    if info is None or info.aligned_volume != volume:
        raise InvalidInput(f"datastack {params.get('datastack')!r} has no table {table!r}")
    mapping = params.get("map")
    if mapping is not None and (
        not isinstance(mapping, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
    ):
        raise InvalidInput("map must be an object of source name -> column name")
    roots_at = params.get("roots_valid_at")
    return UploadRequest(
        info.table_name,
        _upload_files(settings.home, params.get("files")),
        mapping,
        _positive(params, "start_id"),
        as_utc(roots_at) if roots_at is not None else None,
        _positive(params, "chunk_rows") or DEFAULT_CHUNK_ROWS,
    )


def upload(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    """Bulk upload; a redelivered run skips the chunks already written (fixed ids per row)."""
    from fixative.workflows.bulk_upload import bulk_upload

    request = upload_request(services.store, services.settings, params)
    done = bulk_upload(services.store, request, report)  # total 0 while a CSV's is unknown
    rows = done.rows_inserted + done.rows_skipped
    report(rows, rows)
    return {
        "rows_inserted": done.rows_inserted,
        "rows_skipped": done.rows_skipped,
        "segmentation_rows": done.segmentation_rows,
        "chunks": done.chunks,
    }


def export(services: Services, params: Mapping[str, Any], report: Report) -> Summary:
    """A version's tables as files (``fixative.export``); a rerun skips finished partitions."""
    from fixative.export.task import run_export

    return run_export(services, params, report)


TASKS: dict[str, TaskKind] = {
    "ingest": TaskKind(ingest, exclusive=False, needs_at=True),
    "update_roots": TaskKind(update_roots, exclusive=False, needs_at=True),
    "create_version": TaskKind(create_version, exclusive=False, needs_at=True),
    "materialize": TaskKind(materialize, exclusive=True, needs_at=True),
    "expire": TaskKind(expire, exclusive=False, needs_at=False),
    "upload": TaskKind(upload, exclusive=False, needs_at=False),
    "export": TaskKind(export, exclusive=False, needs_at=False),
}


def task_kind(kind: str) -> TaskKind:
    try:
        return TASKS[kind]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise InvalidInput(f"unknown workflow {kind!r}; known: {known}") from None
