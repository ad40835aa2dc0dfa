"""The export endpoints' part of the OpenAPI document (``api/export.py``): the routes, and the
body with exactly the constraints the server enforces."""

from __future__ import annotations

from typing import Any

from fixative.api.export import TARGET_MAX, TARGET_PATTERN
from fixative.api.openapi import Route
from fixative.export.spec import FORMATS, SPEC_PATTERN
from fixative.export.task import MAX_INT

CAVE = (
    "/materialize/api/v2/materialize/run/write_deltalake/datastack/{datastack}"
    "/version/{version}/table_name/{table}"
)


def export_routes() -> list[Route]:
    return [
        Route(
            "post",
            "/fixative/api/v1/datastack/{datastack}/export",
            "Export a version's tables or a view as files (admin)",
            "workflows",
            body="export",
            returns="accepted",
        ),
        Route("post", CAVE, "Delta Lake export of one table (CAVE's path; admin)", "workflows"),
        Route(
            "get",
            CAVE,
            "A Delta Lake export's progress (CAVE's path; admin)",
            "workflows",
            ("job_id",),
            required=("job_id",),
        ),
    ]


def export_body() -> dict[str, Any]:
    rows = {"type": "integer", "minimum": 1, "maximum": MAX_INT}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["version", "to"],
        "properties": {
            "version": {**rows, "description": "an AVAILABLE version"},
            "to": {
                "type": "string",
                "pattern": TARGET_PATTERN,
                "maxLength": TARGET_MAX,
                "description": "a directory under the data directory's exports/",
            },
            "tables": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "tables of the version (null: all)",
            },
            "view": {
                "type": ["string", "null"],
                "description": "instead of tables: the rows of this view, one table named after it",
            },
            "format": {"type": "string", "enum": list(FORMATS)},
            "partition_by": {
                "type": ["array", "null"],
                "items": {"type": "string", "pattern": SPEC_PATTERN},
                "description": "[TABLE.]COLUMN[:range|hash[:N]] or [TABLE.]POINT[:morton[:B]]",
            },
            "row_group_rows": rows,
            "file_rows": rows,
        },
    }
