"""The write side's part of the OpenAPI document: annotation tables and annotations,
chunkedgraph edits, workflow runs, their request bodies, and the token schemes."""

from __future__ import annotations

from typing import Any

from fixative.api.annotation import (
    ANNOTATION_ID,
    ID_LIMIT,
    MAX_ANNOTATIONS,
    METADATA_KEYS,
    TEXT_METADATA,
)
from fixative.api.edits import MAX_NM, MAX_POINTS
from fixative.api.openapi import INSTANT, INT64_MAX, NAME, UINT64_MAX, Route
from fixative.api.openapi_export import export_body, export_routes
from fixative.api.workflows import MAX_DAYS, MAX_LIST, TAKES
from fixative.schemas.registry import list_schemas
from fixative.store.model import PERMISSIONS, TABLE_NAME_RE

AV = "/annotation/api/v2/aligned_volume/{aligned_volume}/table"
SEG = "/segmentation/api/v1/table/{table_id}"
FX = "/fixative/api/v1"
IDEMPOTENT = ("Idempotency-Key",)

PATH_PARAMS: dict[str, dict[str, Any]] = {
    "aligned_volume": NAME,
    "kind": {"type": "string", "enum": sorted(TAKES)},
    "run_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX},
}
WRITE_QUERY: dict[str, dict[str, Any]] = {
    "annotation_ids": {
        "type": "string",
        "pattern": f"^{ANNOTATION_ID}(?:,{ANNOTATION_ID})*$",
        "description": f"comma-separated ids (1 to 2**63-1), at most {MAX_ANNOTATIONS:,}",
    },
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIST},
    "job_id": {"type": "string", "pattern": "^[0-9]{1,18}$", "description": "a POST's job_id"},
}
ANNOTATION_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_LIMIT - 1}


def write_routes() -> list[Route]:
    return [
        Route("get", AV, "Annotation tables the user may read", "annotation"),
        Route("post", AV, "Create an annotation table", "annotation", body="create_table"),
        Route("get", AV + "/{table}", "An annotation table's metadata", "annotation"),
        Route("get", AV + "/{table}/count", "Rows visible now", "annotation"),
        Route(
            "get",
            AV + "/{table}/annotations",
            "Annotations by id",
            "annotation",
            ("annotation_ids",),
        ),
        Route(
            "post",
            AV + "/{table}/annotations",
            "Post annotations",
            "annotation",
            body="rows",
            headers=IDEMPOTENT,
        ),
        Route(
            "put",
            AV + "/{table}/annotations",
            "Update annotations",
            "annotation",
            body="updated_rows",
            headers=IDEMPOTENT,
        ),
        Route(
            "delete",
            AV + "/{table}/annotations",
            "Delete annotations",
            "annotation",
            body="annotation_ids",
            headers=IDEMPOTENT,
        ),
        Route("post", SEG + "/merge", "Merge two objects", "edits", body="merge"),
        Route("post", SEG + "/split", "Split an object", "edits", body="split"),
        Route("post", SEG + "/undo", "Undo an operation", "edits", body="operation"),
        Route("post", SEG + "/redo", "Redo an operation", "edits", body="operation"),
        Route(
            "post",
            FX + "/datastack/{datastack}/workflow/{kind}",
            "Start a workflow run (admin)",
            "workflows",
            body="workflow",
            returns="accepted",
        ),
        Route(
            "post",
            "/materialize/api/v2/materialize/run/ingest_annotations/datastack/{datastack}/{table}",
            "Ingest a table (CAVE's path; admin)",
            "workflows",
        ),
        *export_routes(),
        Route("get", FX + "/runs", "Recent workflow runs", "workflows", ("limit",)),
        Route("get", FX + "/runs/{run_id}", "One workflow run", "workflows"),
    ]


def write_bodies() -> dict[str, Any]:
    point_row = {
        "type": "array",
        "prefixItems": [
            {"type": "integer", "minimum": 1, "maximum": UINT64_MAX},
            *[{"type": "number", "minimum": -MAX_NM, "maximum": MAX_NM}] * 3,
        ],
        "minItems": 4,
        "maxItems": 4,
        "description": "[supervoxel or root id (1 to 2**64-1), x, y, z] with the position in "
        "nm (finite)",
    }
    rows = {"type": "array", "items": point_row, "minItems": 1, "maxItems": MAX_POINTS}
    return {
        "create_table": _create_table(),
        "rows": _rows({"id": {"oneOf": [ANNOTATION_ID_SCHEMA, {"type": "null"}]}}, []),
        "updated_rows": _rows({"id": ANNOTATION_ID_SCHEMA}, ["id"]),
        "annotation_ids": {
            "type": "object",
            "required": ["annotation_ids"],
            "properties": {
                "annotation_ids": {
                    "type": "array",
                    "items": ANNOTATION_ID_SCHEMA,
                    "uniqueItems": True,
                    "minItems": 1,
                    "maxItems": MAX_ANNOTATIONS,
                }
            },
        },
        "merge": {**rows, "minItems": 2, "maxItems": 2},
        "split": {
            "type": "object",
            "required": ["sources", "sinks"],
            "additionalProperties": False,
            "properties": {"sources": rows, "sinks": rows},
        },
        "operation": {
            "type": "object",
            "required": ["operation_id"],
            "properties": {"operation_id": {"type": "integer", "minimum": 1, "maximum": INT64_MAX}},
        },
        "export": export_body(),
        "workflow": {
            "type": ["object", "null"],  # null: as no body
            "additionalProperties": False,
            "properties": {
                "at": {
                    **INSTANT,
                    "description": "not in the future (ingest, update_roots, versions)",
                },
                "table": {
                    "type": "string",
                    "description": "a table with bound points (ingest, update_roots)",
                },
                "days_to_expire": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_DAYS,
                    "description": "create_version and materialize",
                },
                "kind": {
                    "type": "string",
                    "enum": ["history", "flat"],
                    "description": "create_version and materialize: a version kept in the "
                    "root-id history, or a flat copy (default: the datastack's version_kind)",
                },
                # upload (runner/tasks.py: UPLOAD_PARAMS): files under the data directory
                "files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "map": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "string"},
                    "description": "upload: source name -> column name",
                },
                "start_id": {"type": ["integer", "null"], "minimum": 1, "maximum": INT64_MAX},
                "roots_valid_at": {"anyOf": [*INSTANT["anyOf"], {"type": "null"}]},
                "chunk_rows": {"type": ["integer", "null"], "minimum": 1},
            },
        },
    }


def _rows(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """Annotation rows: their other fields are those of the table's schema type (see
    ``/schema/api/v2/type/{name}``), so the document cannot list them."""
    row = {"type": "object", "properties": properties, "required": required}
    return {
        "type": "object",
        "required": ["annotations"],
        "additionalProperties": False,
        "properties": {
            "annotations": {
                "type": "array",
                "items": row,
                "minItems": 1,
                "maxItems": MAX_ANNOTATIONS,
            }
        },
    }


def _create_table() -> dict[str, Any]:
    number = {"type": "number", "exclusiveMinimum": 0}
    permission = {"type": "string", "enum": list(PERMISSIONS)}
    name = {"type": "string", "pattern": TABLE_NAME_RE.pattern}
    metadata = {
        "type": "object",
        "additionalProperties": False,
        "required": [f"voxel_resolution_{axis}" for axis in "xyz"],
        "properties": {
            **{key: {} for key in sorted(METADATA_KEYS)},
            **{key: {"type": ["string", "null"]} for key in TEXT_METADATA},
            "user_id": {"type": ["string", "integer", "null"]},
            **{f"voxel_resolution_{axis}": number for axis in "xyz"},
            "read_permission": permission,
            "write_permission": permission,
            "table_metadata": {
                "type": ["object", "null"],
                "properties": {"reference_table": {"anyOf": [name, {"type": "null"}]}},
            },
        },
    }
    return {
        "type": "object",
        "required": ["schema_type", "table_name", "metadata"],
        "additionalProperties": False,
        "properties": {
            "schema_type": {"type": "string", "enum": list_schemas()},
            "table_name": name,
            "metadata": metadata,
        },
    }


SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "middle_auth_token"},
    "query": {"type": "apiKey", "in": "query", "name": "middle_auth_token"},
}
