"""The analyst's part of the OpenAPI document (issue 13): a table's distinct strings and its
Neuroglancer segment properties, annotation-table administration, and the chunkedgraph's
change logs, operations and node reads, with the query parameters they take."""

from __future__ import annotations

from typing import Any

from fixative.api import cg_logs
from fixative.api.annotation import MAX_ANNOTATIONS
from fixative.api.openapi import DS, INSTANT, NO_VALUE, V3, VER, Route
from fixative.api.openapi_write import ANNOTATION_ID_SCHEMA, AV
from fixative.api.segprops import COLUMNS_PATTERN, MAX_LABEL_ARG
from fixative.query.segprops import FORMAT_PATTERN
from fixative.store.model import PERMISSIONS, TABLE_NAME_RE
from fixative.store.table_admin import USER_ID_MAX

INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
LOOKUP = "/materialize/api/v2/materialize/run/lookup_svid/datastack/{datastack}/{table}"

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
SEG = "/segmentation/api/v1/table/{table_id}"
MAYBE_INSTANT = {"anyOf": [*INSTANT["anyOf"], NO_VALUE]}
ANALYST_QUERY.update(
    {
        "operation_ids": {
            "type": "string",
            "pattern": f"^{cg_logs.OPERATION_IDS_PATTERN}$",
            "description": "a JSON list of operation ids, as [1, 2, 3]",
        },
        "user_id": {"type": "string", "maxLength": cg_logs.USER_ID_MAX},
        **dict.fromkeys(
            ("start_time", "end_time", "start_timestamp", "end_timestamp"), MAYBE_INSTANT
        ),
    }
)


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
        Route(
            "put",
            AV,
            "Change an annotation table's metadata (its owner or an admin)",
            "annotation",
            body="update_metadata",
        ),
        Route(
            "delete",
            AV + "/{table}",
            "Delete an annotation table: hidden, never served, rows kept (owner or admin)",
            "annotation",
        ),
        Route(
            "post",
            LOOKUP,
            "Look up supervoxel ids of a table's new rows (CAVE's path; an ingest run)",
            "workflows",
            body="lookup_svid",
        ),
        *_history_routes(),
    ]


def _history_routes() -> list[Route]:
    """PyChunkedGraph's edit-history reads (``api/cg_logs.py``)."""
    root = SEG + "/root/{root_id}"
    seg = "segmentation"
    return [
        Route(
            "get", root + "/change_log", "A root's edits, summed up", seg, ("filtered", "timestamp")
        ),
        Route(
            "get", root + "/tabular_change_log", "A root's edits, one row each", seg, ("filtered",)
        ),
        Route(
            "get",
            SEG + "/tabular_change_log_many",
            "Roots' edits, one row each (JSON body {root_ids} on GET, as PyChunkedGraph)",
            seg,
            ("filtered",),
            "root_ids",
        ),
        Route("get", root + "/merge_log", "The merges in a root's history", seg),
        Route("get", SEG + "/operation_details", "Operations' log rows", seg, ("operation_ids",)),
        Route(
            "get",
            SEG + "/user_operations",
            "A user's operations in an interval",
            seg,
            ("user_id", "start_time", "end_time", "include_undone"),
        ),
        Route("get", SEG + "/node/{node_id}/children", "A node's children", seg),
        Route(
            "get",
            SEG + "/valid_nodes",
            "Nodes with a row written in an interval (JSON body {node_ids} on GET)",
            seg,
            ("start_timestamp", "end_timestamp", "is_binary"),
            "node_ids",
        ),
    ]


def analyst_bodies() -> dict[str, Any]:
    text = {"type": "string"}
    permission = {"type": "string", "enum": list(PERMISSIONS)}
    user = {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX}
    return {
        "update_metadata": {
            "type": "object",
            "required": ["table_name"],
            "additionalProperties": False,
            "properties": {
                "table_name": {"type": "string", "pattern": TABLE_NAME_RE.pattern},
                "metadata": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "only the fields to change; notice_text '' or 'none' "
                    "removes the notice",
                    "properties": {
                        "description": text,
                        "flat_segmentation_source": text,
                        "notice_text": text,
                        "read_permission": permission,
                        "write_permission": permission,
                        "user_id": {"oneOf": [user, INT64]},
                    },
                },
            },
        },
        "lookup_svid": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "annotation_ids": {
                    "type": "array",
                    "items": ANNOTATION_ID_SCHEMA,
                    "maxItems": MAX_ANNOTATIONS,
                    "description": "rows to look up (default: every new row of the table)",
                }
            },
        },
    }
