"""The analyst's part of the OpenAPI document (issue 13): a table's distinct strings and its
Neuroglancer segment properties, annotation-table administration, and the chunkedgraph's
change logs, operations and node reads, with the query parameters they take."""

from __future__ import annotations

from typing import Any

from fixative.api.openapi import DS, V3, VER, Route
from fixative.api.segprops import COLUMNS_PATTERN, MAX_LABEL_ARG
from fixative.query.segprops import FORMAT_PATTERN

ANALYST_QUERY: dict[str, dict[str, Any]] = {
    "label_format": {
        "type": "string",
        "maxLength": MAX_LABEL_ARG,
        "pattern": f"^{FORMAT_PATTERN}$",
        "description": "a Python format string naming columns, e.g. '{cell_type} {size:.1f}'",
    },
    "label_columns": {
        "type": "string",
        "maxLength": MAX_LABEL_ARG,
        "pattern": f"^{COLUMNS_PATTERN}$",
        "description": "comma-separated columns joined by a space as each segment's label",
    },
}
LABELS = ("label_format", "label_columns")


def analyst_routes() -> list[Route]:
    return [
        Route(
            "get",
            V3 + DS + "/table/{table}/unique_string_values",
            "Distinct strings of each string column, live now",
            "materialize",
        ),
        Route(
            "get",
            V3 + VER + "/table/{table}/info",
            "Neuroglancer segment properties of a table at a version",
            "query",
            LABELS,
        ),
        Route(
            "get",
            V3 + DS + "/table/{table}/info",
            "Neuroglancer segment properties of a table, live now",
            "query",
            LABELS,
        ),
    ]
