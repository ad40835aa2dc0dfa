"""Annotation schema types (synapse, cell_type_local, ...), compatible with EMAnnotationSchemas."""

from fixative.schemas.registry import SCHEMAS, get_schema, list_schemas
from fixative.schemas.types import PointField, ScalarField, SchemaType

__all__ = ["SCHEMAS", "PointField", "ScalarField", "SchemaType", "get_schema", "list_schemas"]
