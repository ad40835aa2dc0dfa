"""The schema service (``/schema/...``): annotation schema types in the form EMAnnotationSchemas
publishes (marshmallow-jsonschema: a ``$ref`` to a named definition, points as ``$ref`` to
``BoundSpatialPoint``/``SpatialPoint``), which caveclient's table managers parse."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from fixative.errors import InvalidInput
from fixative.schemas import PointField, SchemaType, get_schema, list_schemas

API_VERSIONS = [1, 2]
PREFIX = "/schema/api/v2"
_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def _point_definition(bound: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "position": {"type": "array", "items": {"type": "integer"}, "title": "position"}
    }
    if bound:
        props["supervoxel_id"] = {"type": ["integer", "null"], "title": "supervoxel_id"}
        props["root_id"] = {"type": ["integer", "null"], "title": "root_id"}
    return {
        "type": "object",
        "properties": props,
        "required": ["position"],
        "additionalProperties": False,
    }


def _definition_name(schema: SchemaType) -> str:
    return "".join(part.capitalize() for part in schema.name.split("_"))


def schema_document(schema: SchemaType) -> dict[str, Any]:
    """One schema type as a marshmallow-jsonschema document."""
    props: dict[str, Any] = {"id": {"type": "integer", "title": "id"}}
    required: list[str] = []
    if schema.reference:
        props["target_id"] = {"type": "integer", "title": "target_id"}
        required.append("target_id")
    for f in schema.fields:
        if isinstance(f, PointField):
            kind = "BoundSpatialPoint" if f.bound else "SpatialPoint"
            props[f.name] = {"$ref": f"#/definitions/{kind}", "description": f.description}
        else:
            prop: dict[str, Any] = {"type": _TYPES[f.kind], "title": f.name}
            if f.description:
                prop["description"] = f.description
            if f.choices:
                prop["enum"] = list(f.choices)
            props[f.name] = prop
        if f.required:
            required.append(f.name)
    name = _definition_name(schema)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": f"#/definitions/{name}",
        "definitions": {
            name: {
                "type": "object",
                "description": schema.description,
                "properties": props,
                "required": required,
                "additionalProperties": False,
            },
            "BoundSpatialPoint": _point_definition(bound=True),
            "SpatialPoint": _point_definition(bound=False),
        },
    }


def schema_blueprint() -> Blueprint:
    bp = Blueprint("schema", __name__)

    @bp.get("/schema/versions")
    def versions() -> Response:
        return jsonify(API_VERSIONS)

    @bp.get(f"{PREFIX}/type")
    def types() -> Response:
        return jsonify(list_schemas())

    @bp.get(f"{PREFIX}/type/<name>")
    def one_type(name: str) -> Response:
        return jsonify(schema_document(get_schema(name)))

    @bp.get(f"{PREFIX}/types_all")
    def all_types() -> Response:
        return jsonify({name: schema_document(get_schema(name)) for name in list_schemas()})

    @bp.post(f"{PREFIX}/types")
    def some_types() -> Response:
        raw = request.args.get("schema_names", "")
        names = [n.strip() for n in raw.split(",") if n.strip()]
        if not names:
            raise InvalidInput("query parameter schema_names must list schema types, e.g. a,b")
        return jsonify({name: schema_document(get_schema(name)) for name in names})

    return bp
