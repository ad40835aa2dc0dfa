"""The views' part of the OpenAPI document (``api/views.py``): CAVE's view paths at a version,
the live view query, and the administration of definitions, with the create body."""

from __future__ import annotations

from typing import Any

from fixative.api.openapi import DS, QUERY_FLAGS, V3, VER, Route
from fixative.store.model import TABLE_NAME_MAX, TABLE_NAME_RE
from fixative.views.check import MAX_SQL_CHARS
from fixative.views.model import DESCRIPTION_MAX

TAG = "views"


def views_routes() -> list[Route]:
    flags = (*QUERY_FLAGS, "random_sample")
    return [
        Route("get", V3 + VER + "/views", "Views a version answers", TAG),
        Route("get", V3 + VER + "/views/schemas", "Every view's columns", TAG),
        Route("get", V3 + VER + "/views/{view}/metadata", "A view", TAG),
        Route("get", V3 + VER + "/views/{view}/schema", "A view's columns", TAG),
        Route(
            "post",
            V3 + VER + "/views/{view}/query",
            "Query a view at a version",
            TAG,
            flags,
            "simple_query",
            "rows",
        ),
        Route(
            "post",
            V3 + DS + "/views/{view}/query",
            "Query a live_compatible view at an instant",
            TAG,
            (*flags, "timestamp"),
            "simple_query",
            "rows",
            required=("timestamp",),
        ),
        Route("get", V3 + DS + "/views", "View definitions with their SQL", TAG),
        Route(
            "post",
            V3 + DS + "/views",
            "Define a view: one read-only SELECT (datastack admins)",
            TAG,
            body="create_view",
        ),
        Route("delete", V3 + DS + "/views/{view}", "Delete a view (datastack admins)", TAG),
    ]


def views_bodies() -> dict[str, Any]:
    positive = {"type": "number", "exclusiveMinimum": 0}
    text = {"type": "string", "maxLength": DESCRIPTION_MAX}
    return {
        "create_view": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "sql"],
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": TABLE_NAME_RE.pattern,
                    "maxLength": TABLE_NAME_MAX,
                },
                "sql": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SQL_CHARS,
                    "description": "one read-only SELECT over the datastack's annotation tables",
                },
                "description": text,
                "notice_text": {"anyOf": [text, {"type": "null"}]},
                "voxel_resolution": {
                    "type": "array",
                    "items": positive,
                    "minItems": 3,
                    "maxItems": 3,
                },
                "live_compatible": {"type": "boolean"},
            },
        }
    }
