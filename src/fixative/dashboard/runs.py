"""The runs page's data: a datastack's workflow runs as the API's ``run_dict`` gives them, with
the queue and run times added. Runs are shown to the datastack's admins only, as the API's
``/fixative/api/v1/runs`` does."""

from __future__ import annotations

from typing import Any

from fixative.api.services import HttpServices
from fixative.api.workflows import run_dict
from fixative.errors import Forbidden, NotFound
from fixative.runner.records import RunInfo, get_run, list_runs

SHOWN = 200  # the most recent runs of the whole server the page looks through
# what an admin may start from the page: the workflow kind and its button's label
STARTS = (
    ("materialize", "Complete workflow"),
    ("ingest", "Ingest"),
    ("update_roots", "Update roots"),
    ("create_version", "New version"),
)


def run_row(run: RunInfo) -> dict[str, Any]:
    row = run_dict(run)
    row["queued_seconds"] = run.queued_seconds
    row["run_seconds"] = run.run_seconds
    row["percent"] = _percent(run)
    return row


def _percent(run: RunInfo) -> int | None:
    if run.status == "SUCCEEDED":
        return 100
    if not run.total:
        return None
    return min(100, int(100 * run.done / run.total))


def datastack_runs(services: HttpServices, datastack: str) -> list[dict[str, Any]]:
    """The datastack's most recent runs, newest first."""
    return [run_row(r) for r in list_runs(services.store, SHOWN) if r.datastack == datastack]


def one_run(services: HttpServices, datastack: str, run_id: int) -> RunInfo:
    found = get_run(services.store, run_id)
    if found.datastack != datastack:
        raise NotFound(f"workflow run {run_id} is not a run of datastack {datastack!r}")
    return found


def require_admin(admin: bool, datastack: str) -> None:
    if not admin:
        raise Forbidden(f"workflow runs of datastack {datastack!r} are shown to its admins only")
