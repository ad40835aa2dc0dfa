"""The OpenAPI 3.1 description of the read side, generated from one small table of routes, and
a documentation page (Redoc from a CDN) at ``/api/docs``. A test checks every Flask rule of the
app appears here, so an endpoint cannot go undocumented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify

from fixative import __version__

V2 = "/materialize/api/v2"
V3 = "/materialize/api/v3"
DS = "/datastack/{datastack}"
VER = DS + "/version/{version}"

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
NAME = {"type": "string", "minLength": 1}
UINT64 = {"type": "integer", "minimum": 0, "maximum": UINT64_MAX, "description": "uint64"}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "datastack": NAME,
    "version": {"type": "integer", "format": "int32", "minimum": 1, "maximum": INT32_MAX},
    "table": NAME,
    "view": NAME,
    "name": NAME,
    "volume_id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX},
    "table_id": NAME,
    "node_id": UINT64,
    "root_id": UINT64,
}
# epoch seconds (year 1 to 9999), or ISO-8601 (RFC 3339 is a subset)
EPOCH = {"type": "number", "minimum": -62135596800, "maximum": 253402300799}
INSTANT = {"anyOf": [EPOCH, {"type": "string", "format": "date-time"}]}
NO_VALUE = {"type": "string", "maxLength": 0, "description": "empty: as if not given"}
REQUIRED_QUERY = frozenset({"schema_names", "annotation_ids"})
NO_IO = frozenset({"/health", "/health/live", "/api/openapi.json", "/api/docs"})
QUERY_FLAGS = (
    "return_pyarrow",
    "arrow_format",
    "split_positions",
    "count",
    "ipc_compress",
    "direct_sql_pandas",
)
LIVE_FLAGS = (
    "return_pyarrow",
    "arrow_format",
    "ipc_compress",
    "merge_reference",
    "allow_missing_lookups",
    "allow_invalid_root_ids",
    "direct_sql_pandas",
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    tag: str
    query: tuple[str, ...] = ()  # optional query parameters, or ``REQUIRED_QUERY``
    body: str | None = None
    returns: str = "json"
    headers: tuple[str, ...] = ()  # optional request headers (``HEADER_SCHEMAS``)
    required: tuple[str, ...] = ()  # query parameters it cannot do without


HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]+$",
        "description": "a retry with the same key gets the first answer and writes nothing",
    },
}


def _routes() -> list[Route]:
    out = [
        Route("get", "/", "This service: version, datastacks, links", "docs", returns="home"),
        Route("get", "/health", "Liveness (no I/O)", "health"),
        Route("get", "/health/live", "Liveness (no I/O)", "health"),
        Route("get", "/health/ready", "Readiness: the database answers", "health"),
        Route("get", "/info/version", "Info service version", "info"),
        Route("get", "/info/api/v2/datastacks", "Datastack names", "info"),
        Route("get", "/info/api/v2/datastack/full/{name}", "A datastack's full info", "info"),
        Route("get", "/info/api/v2/aligned_volume", "Aligned volume names", "info"),
        Route("get", "/info/api/v2/aligned_volume/{name}", "An aligned volume", "info"),
        Route("get", "/info/api/v2/aligned_volume/id/{volume_id}", "An aligned volume", "info"),
        Route("get", "/info/api/v2/aligned_volume/{name}/datastacks", "Its datastacks", "info"),
        Route("get", "/schema/versions", "Schema API versions", "schema"),
        Route("get", "/schema/api/v2/type", "Schema type names", "schema"),
        Route("get", "/schema/api/v2/type/{name}", "One schema type", "schema"),
        Route("get", "/schema/api/v2/types_all", "Every schema type", "schema"),
        Route("post", "/schema/api/v2/types", "Some schema types", "schema", ("schema_names",)),
        Route("get", "/materialize/api/versions", "Materialize API versions", "materialize"),
        Route("get", "/materialize/version", "Materialize server version", "materialize"),
        Route(
            "post",
            V3 + DS + "/query",
            "Live query at any instant",
            "query",
            LIVE_FLAGS,
            "live_query",
            "rows",
        ),
        Route("get", "/api/openapi.json", "This document", "docs"),
        Route("get", "/api/docs", "API documentation page", "docs", returns="html"),
        Route("get", "/segmentation/api/versions", "Chunkedgraph API versions", "segmentation"),
        Route("get", "/segmentation/api/version", "Chunkedgraph server version", "segmentation"),
    ]
    seg = "/segmentation/api/v1/table/{table_id}"
    stamp = ("timestamp",)
    out += [
        Route("get", "/segmentation/table/{table_id}/info", "Chunkedgraph info", "segmentation"),
        Route(
            "post",
            seg + "/roots_binary",
            "Roots of supervoxels (raw uint64 LE)",
            "segmentation",
            (*stamp, "stop_layer"),
            "binary",
            "binary",
        ),
        Route("post", seg + "/roots", "Roots of supervoxels", "segmentation", stamp, "node_ids"),
        Route("get", seg + "/node/{node_id}/root", "Root of one supervoxel", "segmentation", stamp),
        Route("get", seg + "/node/{node_id}/leaves", "Supervoxels of a root", "segmentation"),
        Route(
            "post",
            seg + "/is_latest_roots",
            "Are these roots current",
            "segmentation",
            stamp,
            "node_ids",
        ),
        Route(
            "post",
            seg + "/root_timestamps",
            "When roots were created",
            "segmentation",
            (*stamp, "latest"),
            "node_ids",
        ),
        Route(
            "get",
            seg + "/delta_roots",
            "Roots retired and created in an interval",
            "segmentation",
            ("timestamp_past", "timestamp_future"),
            required=("timestamp_past",),
        ),
        Route(
            "get",
            seg + "/past_id_mapping",
            "Past and future ids of roots (JSON body {root_ids} on GET, as PyChunkedGraph)",
            "segmentation",
            ("timestamp_past", "timestamp_future"),
            "root_ids",
            required=("timestamp_past",),
        ),
        Route(
            "post",
            seg + "/lineage_graph_multiple",
            "Lineage of roots",
            "segmentation",
            ("timestamp_past", "timestamp_future"),
            "root_ids",
        ),
        Route(
            "get",
            seg + "/root/{root_id}/lineage_graph",
            "Lineage of one root",
            "segmentation",
            ("timestamp_past", "timestamp_future"),
        ),
        Route("get", seg + "/oldest_timestamp", "Oldest instant of the graph", "segmentation"),
    ]
    for prefix in (V2, V3):
        out += [
            Route("get", prefix + DS + "/versions", "Version numbers", "materialize", ("expired",)),
            Route("get", prefix + VER, "A version's metadata", "materialize"),
            Route(
                "get", prefix + DS + "/metadata", "Versions' metadata", "materialize", ("expired",)
            ),
            Route("get", prefix + VER + "/tables", "Tables of a version", "materialize"),
            Route("get", prefix + VER + "/tables/metadata", "Their metadata", "materialize"),
            Route("get", prefix + VER + "/table/{table}/metadata", "A table", "materialize"),
            Route("get", prefix + VER + "/table/{table}/count", "Row count", "materialize"),
            Route(
                "post",
                prefix + VER + "/table/{table}/query",
                "Query a table",
                "query",
                (*QUERY_FLAGS, "random_sample"),
                "simple_query",
                "rows",
            ),
            Route(
                "post",
                prefix + VER + "/query",
                "Join tables",
                "query",
                (*QUERY_FLAGS, "random_sample"),
                "join_query",
                "rows",
            ),
        ]
    from fixative.api.openapi_analyst import analyst_routes
    from fixative.api.openapi_precomputed import precomputed_routes
    from fixative.api.openapi_views import views_routes
    from fixative.api.openapi_write import write_routes

    return out + write_routes() + analyst_routes() + views_routes() + precomputed_routes()


def _operation(route: Route) -> dict[str, Any]:
    from fixative.api.openapi_precomputed import PRECOMPUTED_PARAMS
    from fixative.api.openapi_write import PATH_PARAMS as WRITE_PARAMS

    path_params = {**PATH_PARAMS, **WRITE_PARAMS, **PRECOMPUTED_PARAMS}
    params: list[dict[str, Any]] = []
    for part in route.path.split("/"):
        if part.startswith("{"):
            name = part.strip("{}")
            params.append(
                {"name": name, "in": "path", "required": True, "schema": path_params[name]}
            )
    for name in route.query:
        required = name in REQUIRED_QUERY or name in route.required
        params.append(
            {
                "name": name,
                "in": "query",
                "required": required,
                "schema": _query_schema(name, required),
            }
        )
    for name in route.headers:
        params.append(
            {"name": name, "in": "header", "required": False, "schema": HEADER_SCHEMAS[name]}
        )
    if route.returns == "rows":
        ok: dict[str, Any] = {
            "description": "Arrow IPC stream, or JSON records",
            "content": {
                "data.arrow": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    elif route.returns == "binary":
        ok = {
            "description": "raw little-endian uint64",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    elif route.returns == "html":
        ok = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    elif route.returns == "home":
        ok = {
            "description": "JSON, or an HTML page when text/html is preferred",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Home"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": {}}}}
    status = "202" if route.returns == "accepted" else "200"
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method}_{route.path}".replace("/", "_")
        .replace("{", "")
        .replace("}", ""),
        "parameters": params,
        "responses": {status: ok, **_errors(route)},
    }
    if route.body == "binary":
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    elif route.body is not None:
        ref = {"$ref": f"#/components/schemas/{route.body}"}
        op["requestBody"] = {
            "required": route.body not in ("simple_query", "workflow"),
            "content": {"application/json": {"schema": ref}},
        }
    return op


def _query_schema(name: str, required: bool) -> dict[str, Any]:
    from fixative.api.openapi_analyst import ANALYST_QUERY
    from fixative.api.openapi_write import WRITE_QUERY
    from fixative.api.wire import BOOL_WORDS

    if name in ("random_sample", "stop_layer"):
        return {"type": "integer", "minimum": 1, "maximum": INT64_MAX}
    if name in WRITE_QUERY:
        return WRITE_QUERY[name]
    if name in ANALYST_QUERY:
        return ANALYST_QUERY[name]
    if name == "schema_names":
        return {"type": "string", "pattern": r"[^\s,]", "description": "a,b: schema types"}
    if name.startswith("timestamp"):
        return INSTANT if required else {"anyOf": [*INSTANT["anyOf"], NO_VALUE]}
    return {"type": "string", "enum": ["", *BOOL_WORDS]}


def _errors(route: Route) -> dict[str, Any]:
    """The error statuses ``route`` can answer: 400/401/403/404 always; 409 for writes and
    queries (state clashes: an existing name, a held lock, a version not AVAILABLE); 413 for
    bodies and id lists; 415 for any write (``api/csrf.py`` refuses text/plain and form
    bodies); 422 for edits and queries (a point outside the volume, a query past its time)
    and idempotent writes (the key was used for another request); 503 when the database is
    lost (any request that reads it)."""
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    codes = ["400", "401", "403", "404"]
    writes = route.method != "get" and route.tag in ("annotation", "edits", "workflows")
    if writes or route.tag in ("query", "views"):
        codes.append("409")
    if route.body is not None or "annotation_ids" in route.query:
        codes.append("413")
    if route.method != "get":
        codes.append("415")
    if route.headers or route.tag in ("edits", "query", "views"):
        codes.append("422")
    if route.path not in NO_IO:
        codes.append("503")
    return dict.fromkeys(codes, error)


def openapi_document() -> dict[str, Any]:
    from fixative.api.openapi_analyst import analyst_bodies
    from fixative.api.openapi_query import query_bodies
    from fixative.api.openapi_views import views_bodies
    from fixative.api.openapi_write import SECURITY_SCHEMES, write_bodies

    paths: dict[str, Any] = {}
    for route in _routes():
        paths.setdefault(route.path, {})[route.method] = _operation(route)
    schemas: dict[str, Any] = {
        **query_bodies(),
        **write_bodies(),
        **analyst_bodies(),
        **views_bodies(),
    }
    for key in ("node_ids", "root_ids"):
        schemas[key] = {
            "type": "object",
            "required": [key],
            "properties": {key: {"type": "array", "items": UINT64}},
        }
    from fixative.api.home import HOME_SCHEMA

    schemas["Home"] = HOME_SCHEMA
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fixative",
            "version": __version__,
            "description": "CAVE-compatible info, schema, materialize, annotation and "
            "chunkedgraph API. Query results are Arrow IPC streams (Content-Type data.arrow). "
            "With auth on, send a token as 'Authorization: Bearer', or the middle_auth_token "
            "cookie or query parameter.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        "security": [{}, {"bearer": []}, {"cookie": []}, {"query": []}],
    }


DOCS_PAGE = """<!doctype html>
<html><head><title>Fixative API</title><meta charset="utf-8"></head>
<body><redoc spec-url="/api/openapi.json"></redoc>
<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
</body></html>
"""


def openapi_blueprint() -> Blueprint:
    bp = Blueprint("openapi", __name__)

    @bp.get("/api/openapi.json")
    def document() -> Response:
        return jsonify(openapi_document())

    @bp.get("/api/docs")
    def docs() -> Response:
        return Response(DOCS_PAGE, mimetype="text/html")

    return bp
