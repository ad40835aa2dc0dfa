"""The export as a runner task (kind ``export``): its parameters, checked as the run will read
them, and the run itself. A local target named by a run must lie under the data directory
``home`` (relative names are taken from there): whichever process runs the task writes it, and
a request must not reach anywhere else on that machine. ``s3://`` and ``gs://`` go anywhere the
process's credentials allow."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fixative.clock import as_utc
from fixative.errors import InvalidInput
from fixative.export.run import export_version
from fixative.export.spec import (
    DEFAULT_FILE_ROWS,
    DEFAULT_ROW_GROUP_ROWS,
    ExportRequest,
    check_format,
    parse_partition,
)
from fixative.services import Services
from fixative.workflows.progress import Report

MAX_INT = 2**31 - 1
EXPORTS = "exports"  # relative local targets go under {home}/exports
EXPORT_PARAMS = {
    "version",
    "at",
    "to",
    "tables",
    "format",
    "partition_by",
    "row_group_rows",
    "file_rows",
    "view",
}


def _whole(params: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise InvalidInput(f"{name} must be an integer from 1 to {MAX_INT}, not {value!r}")
    return value


def _names(params: Mapping[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings")
    return value


def local_target(home: Path, to: str) -> str:
    """``to`` as the run will write it: a URL as it is; a relative name under
    ``{home}/exports``; an absolute path only under ``home``."""
    if "://" in to and not to.startswith("file://"):
        return to
    root = home.resolve()
    name = to.removeprefix("file://")
    path = (
        (root / EXPORTS / name).resolve() if not Path(name).is_absolute() else Path(name).resolve()
    )
    if not path.is_relative_to(root) or path in (root, root / EXPORTS):
        raise InvalidInput(f"a local export target must lie under the data directory {str(root)!r}")
    return str(path)


def export_request(home: Path, params: Mapping[str, Any]) -> ExportRequest:
    """The request a run's parameters make (InvalidInput naming what is wrong)."""
    unknown = sorted(set(params) - EXPORT_PARAMS - {"datastack"})
    if unknown:
        raise InvalidInput(f"an export takes no parameter(s) {', '.join(unknown)}")
    datastack, to = params.get("datastack"), params.get("to")
    if not isinstance(datastack, str):
        raise InvalidInput("the export needs a 'datastack' name")
    if not isinstance(to, str) or not to:
        raise InvalidInput("the export needs a target 'to': a directory or an s3:// or gs:// URL")
    tables = _names(params, "tables")
    at = params.get("at")
    if at is not None and "version" in params:
        raise InvalidInput("an export takes a 'version' or an instant 'at', not both")
    if at is not None and not isinstance(at, str):
        raise InvalidInput("'at' must be an ISO-8601 instant")
    view = params.get("view")
    if view is not None and not isinstance(view, str):
        raise InvalidInput("'view' must be the name of a view")
    return ExportRequest(
        datastack,
        None if at is not None else _whole(params, "version"),
        local_target(home, to),
        tuple(tables) if tables is not None else None,
        check_format(params.get("format", "parquet")),
        tuple(parse_partition(p) for p in _names(params, "partition_by") or []),
        _whole(params, "row_group_rows", DEFAULT_ROW_GROUP_ROWS),
        _whole(params, "file_rows", DEFAULT_FILE_ROWS),
        as_utc(at) if at is not None else None,
        view,
    )


def summary(manifest: Mapping[str, Any], to: str) -> dict[str, Any]:
    files = [f for t in manifest["tables"] for f in t["files"]]
    return {
        "to": to,
        "tables": len(manifest["tables"]),
        "rows": sum(int(t["rows"]) for t in manifest["tables"]),
        "files": len(files),
        "bytes": sum(int(f["bytes"]) for f in files),
    }


def run_export(services: Services, params: Mapping[str, Any], report: Report) -> dict[str, Any]:
    request = export_request(services.settings.home, params)
    ds = services.datastack(request.datastack)
    manifest = export_version(services.store, request, report, description=ds.description or None)
    return summary(manifest, request.to)
