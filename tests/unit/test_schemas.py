from __future__ import annotations

import json

import jsonschema
import numpy as np
import pyarrow as pa
import pytest

from fixative.errors import InvalidInput, NotFound
from fixative.schemas import SCHEMAS, get_schema
from fixative.schemas.jsonschema import to_json_schema
from fixative.schemas.rows import from_columns, from_records
from fixative.testing.annotations import synapse_record

REQUIRED = {
    "synapse",
    "cell_type_local",
    "bound_tag",
    "bound_double_tag",
    "nucleus_detection",
    "simple_point",
    "presynaptic_bouton_type",
    "cell_type_reference",
    "reference_tag",
}


def test_registry_has_required_types() -> None:
    assert set(SCHEMAS) >= REQUIRED
    with pytest.raises(NotFound, match="known types"):
        get_schema("nope")


def test_flattened_names_match_emannotationschemas() -> None:
    syn = get_schema("synapse")
    assert syn.flat_names() == [
        "pre_pt_position",
        "pre_pt_supervoxel_id",
        "pre_pt_root_id",
        "ctr_pt_position",
        "post_pt_position",
        "post_pt_supervoxel_id",
        "post_pt_root_id",
        "size",
    ]
    assert syn.segmentation_columns() == [
        "pre_pt_supervoxel_id",
        "pre_pt_root_id",
        "post_pt_supervoxel_id",
        "post_pt_root_id",
    ]
    nuc = get_schema("nucleus_detection")
    assert nuc.segmentation_columns() == ["pt_supervoxel_id", "pt_root_id"]
    assert "bb_start_position_x" in nuc.data_columns()
    assert get_schema("cell_type_reference").data_columns()[0] == "target_id"
    assert not get_schema("simple_point").has_segmentation


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_json_schema_is_valid_and_accepts_examples(name: str) -> None:
    doc = to_json_schema(get_schema(name))
    jsonschema.Draft202012Validator.check_schema(doc)
    json.dumps(doc)
    validator = jsonschema.Draft202012Validator(doc)
    assert not validator.is_valid({"unknown_field": 1})


def test_json_schema_synapse_example() -> None:
    validator = jsonschema.Draft202012Validator(to_json_schema(get_schema("synapse")))
    assert validator.is_valid(synapse_record((1, 2, 3), (4, 5, 6)))
    bad = synapse_record((1, 2, 3), (4, 5, 6))
    bad["pre_pt"]["position"] = [1, 2]
    assert not validator.is_valid(bad)


def test_record_forms_agree() -> None:
    schema = get_schema("bound_tag")
    nested = from_records(schema, [{"pt": {"position": [1, 2, 3]}, "tag": "a"}])
    flat = from_records(schema, [{"pt_position": [1, 2, 3], "tag": "a"}])
    split = from_records(
        schema, [{"pt_position_x": 1, "pt_position_y": 2, "pt_position_z": 3, "tag": "a"}]
    )
    assert nested.equals(flat)
    assert flat.equals(split)


def test_columns_with_position_array() -> None:
    schema = get_schema("bound_tag")
    table = from_columns(
        schema, {"pt_position": np.array([[1, 2, 3], [4, 5, 6]]), "tag": ["a", "b"]}
    )
    assert table.column("pt_position_y").to_pylist() == [2, 5]
    with pytest.raises(InvalidInput, match="3 coordinates"):
        from_columns(schema, {"pt_position": np.array([[1, 2], [4, 5]]), "tag": ["a", "b"]})
    with pytest.raises(InvalidInput, match="unknown column"):
        from_columns(schema, {"pt_position": np.array([[1, 2, 3]]), "tag": ["a"], "x": [1]})


def test_nan_is_missing_in_columns_only() -> None:
    schema = get_schema("synapse")
    cols = {f"{p}_position_{a}": [1] for p in ("pre_pt", "ctr_pt", "post_pt") for a in "xyz"}
    table = from_columns(schema, {**cols, "size": pa.array(np.array([np.nan]))})
    assert table.column("size").null_count == 1
