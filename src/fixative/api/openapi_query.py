"""The query bodies' part of the OpenAPI document: the frozen single-table and join bodies
and the live body, as ``api/query_body.py`` reads them (filters nested by table, names
non-empty, offsets within SQL's 32-bit OFFSET)."""

from __future__ import annotations

from typing import Any

from fixative.api.openapi import NAME
from fixative.query.plan import MAX_OFFSET


def _filters() -> dict[str, Any]:
    """``filter_*_dict``: ``{table: {column: value}}``, the value's shape set by the filter
    (``api/query_body.py``); a null table or column entry is skipped."""
    scalar = {"type": ["number", "string", "boolean"]}
    corner = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
    values: dict[str, dict[str, Any]] = {
        "in": {"type": "array", "items": scalar},
        "notin": {"type": "array", "items": scalar},
        "out": {"type": "array", "items": scalar},
        "spatial": {"type": "array", "items": corner, "minItems": 2, "maxItems": 2},
        "regex": {"type": "string"},
    }
    keys = ("equal", "greater", "less", "greater_equal", "less_equal")
    values.update(dict.fromkeys(keys, scalar))

    def nested(value: dict[str, Any]) -> dict[str, Any]:
        columns = {"type": ["object", "null"], "additionalProperties": value}
        return {"type": ["object", "null"], "additionalProperties": columns}

    return {f"filter_{k}_dict": nested(v) for k, v in values.items()}


def query_bodies() -> dict[str, Any]:
    paging = {
        "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        "limit": {"type": "integer", "minimum": 1},
        "desired_resolution": {
            "type": "array",
            "items": {"type": "number", "exclusiveMinimum": 0},
            "minItems": 3,
            "maxItems": 3,
        },
    }
    names = {"type": "array", "items": NAME, "minItems": 1}  # none would select no column
    by_table = {"type": "object", "propertyNames": NAME, "additionalProperties": names}
    suffixes = {"type": "object", "propertyNames": NAME, "additionalProperties": {"type": "string"}}
    suffix_list = {"type": "array", "items": {"type": "string"}}
    joins = {
        "type": "array",
        "items": {"type": "array", "items": NAME, "minItems": 4, "maxItems": 4},
    }
    pairs = {
        "type": "array",
        "items": {"type": "array", "items": NAME, "minItems": 2, "maxItems": 2},
        "minItems": 1,
    }
    common = {**_filters(), **paging}
    return {
        "simple_query": {
            "type": "object",
            "additionalProperties": False,
            "properties": {**common, "select_columns": names},
        },
        "join_query": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [
                {"required": ["tables"]},
                {"required": ["join_tables"], "properties": {"join_tables": {"minItems": 1}}},
            ],
            "properties": {
                **common,
                "tables": pairs,
                "join_tables": joins,
                "select_columns": names,
                "select_column_map": by_table,
                "suffixes": {"oneOf": [suffix_list, suffixes]},
                "suffix_map": suffixes,
            },
        },
        "live_query": {
            "type": "object",
            "additionalProperties": False,
            "required": ["table", "timestamp"],
            "properties": {
                **common,
                "table": NAME,
                "timestamp": {"type": "string", "format": "date-time"},
                "join_tables": joins,
                "select_columns": by_table,
                "suffixes": suffixes,
            },
        },
    }
