"""Workflow endpoints for datastack admins: start ingest, update-roots, a version (with its days
to expire), the complete workflow or expiry, and read runs with their status and progress.
Runs go to the configured task runner (a thread pool here, or Celery workers); the answer is the
run id at once (202), and the run's record is the place to watch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from fixative.api.auth import current_principal
from fixative.api.wire import json_body, whole
from fixative.clock import as_utc, refuse_future
from fixative.config import Settings
from fixative.errors import Forbidden, InvalidInput
from fixative.runner.port import TaskRunner
from fixative.runner.records import RunInfo, get_run, list_runs
from fixative.runner.tasks import UPLOAD_PARAMS, upload_request
from fixative.store import Store
from fixative.versions.model import KINDS

PREFIX = "/fixative/api/v1"
PARAMS = {"at", "table", "days_to_expire"}
MAX_LIST = 500
MAX_DAYS = 3650
TAKES = {  # the parameters each kind uses; others would be silently ignored, so are refused
    "ingest": {"at", "table"},
    "update_roots": {"at", "table"},
    "create_version": {"at", "days_to_expire", "kind"},
    "materialize": {"at", "days_to_expire", "kind"},
    "expire": set(),
    "upload": UPLOAD_PARAMS,
}


def run_dict(run: RunInfo) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "datastack": run.datastack,
        "params": run.params,
        "status": run.status,
        "done": run.done,
        "total": run.total,
        "progress": run.done / run.total if run.total else None,
        "created": run.created_at.isoformat(),
        "started": run.started_at.isoformat() if run.started_at else None,
        "finished": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": run.seconds,
        "attempts": run.attempts,
        "worker": run.builder,
        "result": run.result,
        "error": run.error,
    }


def check_params(
    store: Store, settings: Settings, datastack: str, kind: str, params: dict[str, Any]
) -> None:
    """Refuse (400) a run that could only fail: the runner would otherwise record it, start it
    and fail it later, and a version at a future instant would miss rows written before it."""
    takes = TAKES.get(kind, PARAMS)
    unknown = sorted(set(params) - takes)
    if unknown:
        raise InvalidInput(f"workflow {kind!r} takes no parameter(s) {', '.join(unknown)}")
    if kind == "upload":  # its table, files and columns are checked as the run will read them
        upload_request(store, settings, {**params, "datastack": datastack})
        return
    if params.get("at") is not None:
        refuse_future(as_utc(params["at"]), store.clock(), "at")
    if params.get("kind") is not None and params["kind"] not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {params['kind']!r}")
    days = params.get("days_to_expire")
    if days is not None:
        if not 1 <= (whole(days) or 0) <= MAX_DAYS:
            raise InvalidInput(
                f"days_to_expire must be an integer from 1 to {MAX_DAYS}, not {days!r}"
            )
        params["days_to_expire"] = whole(days)  # JSON's 30.0 is the integer 30
    table = params.get("table")
    if table is not None:
        volume = settings.datastack(datastack).aligned_volume
        bound = {
            t.table_name
            for t in store.list_tables(aligned_volume=volume)
            if t.segmentation_table is not None
        }
        if not isinstance(table, str) or table not in bound:
            raise InvalidInput(
                f"datastack {datastack!r} has no table {str(table)[:80]!r} with bound points"
            )


def workflows_blueprint(store: Store, settings: Settings, runner: TaskRunner) -> Blueprint:
    bp = Blueprint("workflows", __name__)

    @bp.post(f"{PREFIX}/datastack/<datastack>/workflow/<kind>")
    def start(datastack: str, kind: str) -> Response:
        settings.datastack(datastack)
        current_principal().require(datastack, "admin")
        if kind not in TAKES:  # an export has its own endpoint (api/export.py)
            raise InvalidInput(f"unknown workflow {kind!r}; known: {', '.join(sorted(TAKES))}")
        body = json_body(required=False) or {}
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object of parameters")
        check_params(store, settings, datastack, kind, body)
        run_id = runner.submit(kind, body, datastack)
        response = jsonify(run_dict(get_run(store, run_id)))
        response.status_code = 202
        return response

    @bp.post("/materialize/api/v2/materialize/run/ingest_annotations/datastack/<datastack>/<table>")
    def cave_ingest(datastack: str, table: str) -> Response:
        """CAVE's path for caveclient's ``ingest_annotation_table``."""
        settings.datastack(datastack)
        current_principal().require(datastack, "admin")
        check_params(store, settings, datastack, "ingest", {"table": table})
        run_id = runner.submit("ingest", {"table": table}, datastack)
        return jsonify(run_dict(get_run(store, run_id)))

    @bp.get(f"{PREFIX}/runs")
    def runs() -> Response:
        limit = request.args.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIST:
            raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIST}")
        principal = current_principal()
        visible = [
            run_dict(r)
            for r in list_runs(store, int(limit))
            if r.datastack is None or principal.level_on(r.datastack) >= 3
        ]
        return jsonify(visible)

    @bp.get(f"{PREFIX}/runs/<int:run_id>")
    def run(run_id: int) -> Response:
        found = get_run(store, run_id)
        if found.datastack is not None and current_principal().level_on(found.datastack) < 3:
            raise Forbidden(f"run {run_id} belongs to datastack {found.datastack!r}: admins only")
        return jsonify(run_dict(found))

    return bp
