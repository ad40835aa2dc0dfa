"""The precomputed-annotation part of the OpenAPI document (``api/precomputed.py``): the
Neuroglancer files of a table at a version and live, with their path parameters."""

from __future__ import annotations

from typing import Any

from fixative.api.openapi import DS, INT64_MAX, NAME, V3, VER, Route
from fixative.api.precomputed import MAX_LIMIT, MIN_LIMIT
from fixative.neuroglancer.grid import MAX_LEVELS

PRECOMPUTED_PARAMS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": MIN_LIMIT, "maximum": MAX_LIMIT},
    "levels": {"type": "integer", "minimum": 1, "maximum": MAX_LEVELS},
    "level": {"type": "integer", "minimum": 0, "maximum": MAX_LEVELS - 1},
    "cell": {
        "type": "string",
        "pattern": "^[0-9]{1,9}_[0-9]{1,9}_[0-9]{1,9}$",
        "description": "a grid cell x_y_z",
    },
    "annotation_id": {"type": "integer", "minimum": 1, "maximum": INT64_MAX},
    "column": {**NAME, "description": "a root-id column (a relationship)"},
    "segment_id": {
        "type": "integer",
        "minimum": 1,
        "maximum": INT64_MAX,
        "description": "a root id",
    },
}
FILES = (
    ("/info", "json", "neuroglancer_annotations_v1 info"),
    ("/spatial/{limit}/{levels}/{level}/{cell}", "binary", "A spatial index cell"),
    ("/by_id/{annotation_id}", "binary", "One annotation with its related segments"),
    ("/{column}/{segment_id}", "binary", "The annotations of one segment"),
)


def precomputed_routes() -> list[Route]:
    out = []
    for where, prefix in (("at a version", V3 + VER), ("live now", V3 + DS)):
        for path, returns, summary in FILES:
            full = prefix + "/table/{table}/precomputed" + path
            text = f"Neuroglancer precomputed annotations: {summary.lower()}, {where}"
            out.append(Route("get", full, text, "query", returns=returns))
    return out
