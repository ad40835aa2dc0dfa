"""Export schema types as JSON Schema (draft 2020-12) of the nested form clients post."""

from __future__ import annotations

from typing import Any

from fixative.schemas.types import PointField, ScalarField, SchemaType

_JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def _point_schema(point: PointField) -> dict[str, Any]:
    props: dict[str, Any] = {
        "position": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 3,
            "maxItems": 3,
            "description": "x, y, z in voxels of the table's resolution",
        }
    }
    if point.bound:
        props["supervoxel_id"] = {"type": ["integer", "null"]}
        props["root_id"] = {"type": ["integer", "null"]}
    return {
        "type": "object",
        "description": point.description,
        "properties": props,
        "required": ["position"],
        "additionalProperties": False,
    }


def _scalar_schema(scalar: ScalarField) -> dict[str, Any]:
    json_type: Any = _JSON_TYPES[scalar.kind]
    out: dict[str, Any] = {
        "type": json_type if scalar.required else [json_type, "null"],
        "description": scalar.description,
    }
    if scalar.choices:
        out["enum"] = list(scalar.choices)
    return out


def to_json_schema(schema: SchemaType) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "integer", "description": "annotation id; assigned when omitted"},
        "valid": {"type": ["boolean", "null"]},
    }
    required: list[str] = []
    if schema.reference:
        props["target_id"] = {"type": "integer", "description": "id in the referenced table"}
        required.append("target_id")
    for f in schema.fields:
        if isinstance(f, PointField):
            props[f.name] = _point_schema(f)
        else:
            props[f.name] = _scalar_schema(f)
        if f.required:
            required.append(f.name)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": schema.name,
        "description": schema.description,
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
