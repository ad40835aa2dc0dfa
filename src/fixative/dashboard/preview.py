"""The table page's preview: one page of rows through the query engine (a version's table, or
the live table now when no version holds it), with at most one filter, read as ``limit`` rows
from an ``offset`` in id order, one row more than shown to know whether a next page exists:
never a count, never a scan of the whole table.

Also what leads elsewhere: the caveclient call that makes the same query, and the Neuroglancer
sources of the table (its precomputed annotations and its segment properties)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pyarrow as pa
from werkzeug.datastructures import MultiDict

from fixative.api.services import HttpServices
from fixative.errors import InvalidInput
from fixative.query.columns import FlatColumn, flat_columns
from fixative.query.spec import Filter, FilterOp, QuerySpec
from fixative.store import TableInfo

PAGE_ROWS = 25
MAX_PAGE = 10_000
V3 = "/materialize/api/v3"
NEUROGLANCER = "https://neuroglancer-demo.appspot.com/"
# the filters the form offers, with their labels
OPS: dict[str, str] = {
    "equal": "=",
    "greater": ">",
    "less": "<",
    "greater_equal": "≥",
    "less_equal": "≤",
    "in": "in (comma-separated)",
    "regex": "matches regex",
}


@dataclass(frozen=True)
class PreviewRequest:
    table: str
    version: int | None  # None: live, now
    page: int
    column: str | None
    op: str
    value: str


@dataclass(frozen=True)
class Preview:
    columns: list[str]
    rows: list[dict[str, Any]]
    has_next: bool
    filters: tuple[Filter, ...]


def parse_request(table: str, args: MultiDict[str, str], latest: int | None) -> PreviewRequest:
    raw_page = args.get("page", "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise InvalidInput(f"page must be an integer from 1 to {MAX_PAGE}")
    raw_version = args.get("version", "")
    version = latest
    if raw_version == "live":
        version = None
    elif raw_version:
        if not raw_version.isdigit():
            raise InvalidInput("version must be a version number or 'live'")
        version = int(raw_version)
    op = args.get("op", "equal")
    if op not in OPS:
        raise InvalidInput(f"unknown filter {op!r}; known: {', '.join(OPS)}")
    column = args.get("column") or None
    return PreviewRequest(table, version, int(raw_page), column, op, args.get("value", ""))


def column_names(info: TableInfo) -> list[str]:
    return [c.name for c in flat_columns(info).columns]


def typed(raw: str, column: FlatColumn, op: str) -> Any:
    """The form's text as the column's type (a list for ``in``)."""
    if op == "in":
        return [typed(part.strip(), column, "equal") for part in raw.split(",") if part.strip()]
    if op == "regex" or column.kind == "str":
        return raw
    try:
        if column.kind == "int":
            return int(raw)
        if column.kind == "float":
            return float(raw)
    except ValueError:
        raise InvalidInput(f"{column.name} needs a {column.kind}, not {raw[:40]!r}") from None
    if raw.lower() not in ("true", "false"):
        raise InvalidInput(f"{column.name} needs true or false, not {raw[:40]!r}")
    return raw.lower() == "true"


def filters_of(info: TableInfo, req: PreviewRequest) -> tuple[Filter, ...]:
    if req.column is None or req.value == "":
        return ()
    column = flat_columns(info).find(req.column)
    if column is None:
        raise InvalidInput(f"table {info.table_name!r} has no column {req.column[:80]!r}")
    op: FilterOp = req.op  # type: ignore[assignment]  # checked against OPS
    return (Filter(info.table_name, column.name, op, typed(req.value, column, req.op)),)


def run_preview(
    services: HttpServices, datastack: str, info: TableInfo, req: PreviewRequest
) -> Preview:
    filters = filters_of(info, req)
    spec = QuerySpec(
        tables=(info.table_name,),
        filters=filters,
        offset=(req.page - 1) * PAGE_ROWS,
        limit=PAGE_ROWS + 1,
    )
    engine = services.query_engine()
    if req.version is None:
        result = engine.live_query(datastack, services.store.clock(), spec)
    else:
        result = engine.version_query(datastack, req.version, spec)
    try:
        table = pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()
    rows = table.slice(0, PAGE_ROWS).to_pylist()
    return Preview(table.column_names, rows, table.num_rows > PAGE_ROWS, filters)


def caveclient_snippet(
    base_url: str, datastack: str, req: PreviewRequest, filters: tuple[Filter, ...]
) -> str:
    """The caveclient call that asks for the same rows."""
    args = [repr(req.table)]
    args += [f"filter_{f.op}_dict={{{f.column!r}: {f.value!r}}}" for f in filters]
    args += [f"offset={(req.page - 1) * PAGE_ROWS}", f"limit={PAGE_ROWS}"]
    if req.version is None:
        call = "client.materialize.live_query"
        args = [args[0], "datetime.datetime.now(datetime.timezone.utc)", *args[1:]]
    else:
        call = "client.materialize.query_table"
        args.append(f"materialization_version={req.version}")
    inner = ",\n    ".join(args)
    head = "import datetime\n" if req.version is None else ""
    return (
        f"{head}from caveclient import CAVEclient\n\n"
        f"client = CAVEclient({datastack!r}, server_address={base_url!r})\n"
        f"df = {call}(\n    {inner},\n)"
    )


def neuroglancer_links(
    base_url: str, datastack: str, segmentation: str, info: TableInfo, req: PreviewRequest
) -> dict[str, str]:
    """Sources for Neuroglancer (annotations, segment properties) and a state opening both,
    the annotation layer linked to the segmentation through the table's root-id columns."""
    at = f"/version/{req.version}" if req.version is not None else ""
    table_path = f"{base_url}{V3}/datastack/{datastack}{at}/table/{req.table}"
    annotations = f"precomputed://{table_path}/precomputed"
    properties = f"precomputed://{table_path}"
    seg_sources: list[Any] = [segmentation] if segmentation else []
    seg_sources.append({"url": properties})
    roots = [c.name for c in flat_columns(info).root_columns]
    layer: dict[str, Any] = {"type": "annotation", "source": annotations, "name": req.table}
    if roots:
        layer["linkedSegmentationLayer"] = dict.fromkeys(roots, "segmentation")
    state = {
        "dimensions": {
            axis: [nm * 1e-9, "m"] for axis, nm in zip("xyz", info.voxel_resolution_nm, strict=True)
        },
        "layers": [{"type": "segmentation", "source": seg_sources, "name": "segmentation"}, layer],
        "selectedLayer": {"layer": req.table, "visible": True},
        "layout": "xy-3d",
    }
    fragment = quote(json.dumps(state, separators=(",", ":")), safe="")
    return {
        "annotations": annotations,
        "segment_properties": properties,
        "viewer": f"{NEUROGLANCER}#!{fragment}",
    }
