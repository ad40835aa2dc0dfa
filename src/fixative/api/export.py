"""Export endpoints for datastack admins. ``POST /fixative/api/v1/datastack/{ds}/export`` takes
an export's parameters (``fixative.export.task``), checks them as the run will (an unknown
version or table, a bad partition spec or target is refused here, not recorded as a failed run),
and answers the run at once (202); its progress is the run's record (``/fixative/api/v1/runs``).

CAVE's own paths for its Delta Lake export are served too: ``POST .../write_deltalake/datastack/
{ds}/version/{v}/table_name/{t}`` starts a Delta export of one table into the data directory
(``exports/{ds}/v{v}/{t}``; the first of ``output_specs`` gives the partitioning) and answers
``{message, job_id}``; ``GET`` on the same path with ``?job_id=`` answers its progress."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from fixative.api.auth import current_principal
from fixative.api.services import HttpServices
from fixative.api.wire import json_body
from fixative.api.workflows import PREFIX, run_dict
from fixative.errors import InvalidInput, NotFound
from fixative.export.run import plan_export
from fixative.export.task import export_request
from fixative.runner.port import TaskRunner
from fixative.runner.records import get_run

CAVE = (
    "/materialize/api/v2/materialize/run/write_deltalake/datastack/<datastack>"
    "/version/<int:version>/table_name/<table>"
)
SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
TARGET_PATTERN = f"^{SEGMENT}(?:/{SEGMENT})*$"  # no "." or ".." segment can match
TARGET_MAX = 255
CAVE_STRATEGIES = {"percentile_range": "range", "uniform_range": "range", "hash": "hash"}


def check_target(to: object) -> None:
    """A request names a directory under ``{home}/exports`` (object-store targets are for the
    command line, whose user holds the credentials)."""
    if not isinstance(to, str) or len(to) > TARGET_MAX or not re.fullmatch(TARGET_PATTERN, to):
        raise InvalidInput(
            f"to must be a relative name (segments of letters, digits and ._- joined by /, at "
            f"most {TARGET_MAX} characters) of a directory under the data directory's exports"
        )


def _start(services: HttpServices, runner: TaskRunner, datastack: str, body: dict[str, Any]) -> int:
    check_target(body.get("to"))
    if "at" in body:  # the live tables at an instant are exported from the command line
        raise InvalidInput("an export takes no parameter(s) at")
    export = export_request(services.settings.home, {**body, "datastack": datastack})
    plan_export(services.store, export)
    return runner.submit("export", body, datastack)


def _cave_specs(body: Any) -> list[str]:
    """CAVE's ``output_specs``: the first one's ``partition_by`` column and strategy."""
    specs = body.get("output_specs") if isinstance(body, dict) else None
    if not specs:
        return []
    first = specs[0] if isinstance(specs, list) else None
    if not isinstance(first, dict) or not isinstance(first.get("partition_by"), str | None):
        raise InvalidInput("output_specs must be a list of objects with a partition_by column")
    column = first.get("partition_by")
    if column is None:
        return []
    strategy = CAVE_STRATEGIES.get(str(first.get("partition_strategy", "percentile_range")))
    n = first.get("n_partitions", 16)
    if strategy is None or isinstance(n, bool) or not isinstance(n, int):
        raise InvalidInput("partition_strategy must be percentile_range, uniform_range or hash")
    return [f"{column}:{strategy}:{n}"]


def export_blueprint(services: HttpServices, runner: TaskRunner) -> Blueprint:
    bp = Blueprint("export", __name__)

    @bp.post(f"{PREFIX}/datastack/<datastack>/export")
    def start(datastack: str) -> Response:
        services.settings.datastack(datastack)
        current_principal().require(datastack, "admin")
        body = json_body()
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object of export parameters")
        run_id = _start(services, runner, datastack, body)
        response = jsonify(run_dict(get_run(services.store, run_id)))
        response.status_code = 202
        return response

    @bp.post(CAVE)
    def cave_start(datastack: str, version: int, table: str) -> Response:
        services.settings.datastack(datastack)
        current_principal().require(datastack, "admin")
        body = json_body(required=False) or {}
        to = f"{datastack}/v{version}/{table}"
        params = {"version": version, "tables": [table], "to": to, "format": "delta"}
        params["partition_by"] = [f"{table}.{s}" for s in _cave_specs(body)]
        run_id = _start(services, runner, datastack, params)
        return jsonify({"message": f"Delta Lake export of {table!r} queued", "job_id": str(run_id)})

    @bp.get(CAVE)
    def cave_status(datastack: str, version: int, table: str) -> Response:
        services.settings.datastack(datastack)
        current_principal().require(datastack, "admin")
        job = request.args.get("job_id", "")
        if not job.isdigit() or len(job) > 18:
            raise InvalidInput("job_id must be the id a POST on this path answered")
        run = get_run(services.store, int(job))
        if run.kind != "export" or run.datastack != datastack:
            raise NotFound(f"no export job {job} of datastack {datastack!r}")
        return jsonify(
            {
                "status": run.status,
                "rows_processed": run.done,
                "total_rows": run.total,
                "percent_complete": round(100 * run.done / run.total, 1) if run.total else None,
                "error": run.error,
                "result": run.result,
            }
        )

    return bp
