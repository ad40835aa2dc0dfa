"""The registry of annotation schema types Fixative knows, named as in EMAnnotationSchemas."""

from __future__ import annotations

from fixative.errors import NotFound
from fixative.schemas.types import PointField, ScalarField, SchemaType

BOUTON_TYPES = (
    "pancake",
    "basmati",
    "potato",
    "sst",
    "vertical",
    "vip",
    "ivy",
    "clutch",
    "chandelier",
)


def _pt(name: str, description: str, *, bound: bool = True, required: bool = True) -> PointField:
    return PointField(name, bound=bound, required=required, description=description)


_TYPES: tuple[SchemaType, ...] = (
    SchemaType(
        "synapse",
        "A synapse: presynaptic, central and postsynaptic points, and a size.",
        (
            _pt("pre_pt", "a nearby point in the presynaptic compartment"),
            _pt("ctr_pt", "central point of the synaptic cleft", bound=False),
            _pt("post_pt", "a nearby point in the postsynaptic compartment"),
            ScalarField("size", "float", description="size of the synapse"),
        ),
    ),
    SchemaType(
        "cell_type_local",
        "A cell type label attached to a point in a cell.",
        (
            ScalarField("classification_system", "str", True, "classification system followed"),
            ScalarField("cell_type", "str", True, "cell type name"),
            _pt("pt", "location associated with the classification"),
        ),
    ),
    SchemaType(
        "bound_tag",
        "A free text tag bound to a point.",
        (
            _pt("pt", "location associated with the tag"),
            ScalarField("tag", "str", True, "arbitrary text tag"),
        ),
    ),
    SchemaType(
        "bound_double_tag",
        "Two free text tags bound to one point.",
        (
            _pt("pt", "location associated with the tags"),
            ScalarField("tag", "str", True, "arbitrary text tag"),
            ScalarField("tag2", "str", True, "second arbitrary text tag"),
        ),
    ),
    SchemaType(
        "nucleus_detection",
        "A detected nucleus: a bound point, a volume and a bounding box.",
        (
            _pt("pt", "point inside the nucleus, bound to the cell"),
            ScalarField("volume", "float", description="nucleus volume in um^3"),
            _pt("bb_start", "low corner of the bounding box", bound=False, required=False),
            _pt("bb_end", "high corner of the bounding box", bound=False, required=False),
        ),
    ),
    SchemaType(
        "simple_point",
        "A plain point, not linked to the segmentation.",
        (_pt("pt", "a position in the volume", bound=False),),
    ),
    SchemaType(
        "presynaptic_bouton_type",
        "The bouton type of a presynaptic site, referencing a synapse.",
        (
            ScalarField(
                "bouton_type", "str", True, "presynaptic type by bouton shape", BOUTON_TYPES
            ),
        ),
        reference=True,
    ),
    SchemaType(
        "cell_type_reference",
        "A cell type label referencing an annotation (e.g. a nucleus) in another table.",
        (
            ScalarField("classification_system", "str", True, "classification system followed"),
            ScalarField("cell_type", "str", True, "cell type name"),
        ),
        reference=True,
    ),
    SchemaType(
        "reference_tag",
        "A free text tag referencing an annotation in another table.",
        (ScalarField("tag", "str", True, "arbitrary text tag"),),
        reference=True,
    ),
)

SCHEMAS: dict[str, SchemaType] = {s.name: s for s in _TYPES}


def get_schema(name: str) -> SchemaType:
    try:
        return SCHEMAS[name]
    except KeyError:
        known = ", ".join(sorted(SCHEMAS))
        raise NotFound(f"unknown schema type {name!r}; known types: {known}") from None


def list_schemas() -> list[str]:
    return sorted(SCHEMAS)
