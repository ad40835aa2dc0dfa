"""The write side's part of the OpenAPI document: annotation tables and annotations,
chunkedgraph edits, workflow runs, their request bodies, and the token schemes."""

from __future__ import annotations

from typing import Any

from fixative.api.openapi import Route

AV = "/annotation/api/v2/aligned_volume/{aligned_volume}/table"
SEG = "/segmentation/api/v1/table/{table_id}"
FX = "/fixative/api/v1"
IDEMPOTENT = ("Idempotency-Key",)

PATH_PARAMS: dict[str, dict[str, Any]] = {
    "aligned_volume": {"type": "string"},
    "kind": {
        "type": "string",
        "description": "ingest, update_roots, create_version, materialize or expire",
    },
    "run_id": {"type": "integer", "minimum": 1},
}


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
            body="rows",
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
        ),
        Route(
            "post",
            "/materialize/api/v2/materialize/run/ingest_annotations/datastack/{datastack}/{table}",
            "Ingest a table (CAVE's path; admin)",
            "workflows",
        ),
        Route("get", FX + "/runs", "Recent workflow runs", "workflows", ("limit",)),
        Route("get", FX + "/runs/{run_id}", "One workflow run", "workflows"),
    ]


def write_bodies() -> dict[str, Any]:
    point_row = {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 4,
        "maxItems": 4,
        "description": "[supervoxel or root id (1 to 2**64-1), x, y, z] with the position in "
        "nm (finite)",
    }
    rows = {"type": "array", "items": point_row, "minItems": 1}
    return {
        "create_table": {
            "type": "object",
            "required": ["schema_type", "table_name", "metadata"],
            "properties": {
                "schema_type": {"type": "string"},
                "table_name": {"type": "string"},
                "metadata": {"type": "object"},
            },
        },
        "rows": {
            "type": "object",
            "required": ["annotations"],
            "additionalProperties": False,
            "properties": {
                "annotations": {"type": "array", "items": {"type": "object"}, "maxItems": 10000}
            },
        },
        "annotation_ids": {
            "type": "object",
            "required": ["annotation_ids"],
            "properties": {"annotation_ids": {"type": "array", "items": {"type": "integer"}}},
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
            "properties": {"operation_id": {"type": "integer", "minimum": 1}},
        },
        "workflow": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "not in the future (ingest, update_roots, versions)",
                },
                "table": {
                    "type": "string",
                    "description": "a table with bound points (ingest, update_roots)",
                },
                "days_to_expire": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 3650,
                    "description": "create_version and materialize",
                },
            },
        },
    }


SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "middle_auth_token"},
    "query": {"type": "apiKey", "in": "query", "name": "middle_auth_token"},
}
