"""The segment-properties builder on small tables: one entry per non-zero root, labels and
numbers from a root's first row, tags from all its rows (booleans by name, shared values
prefixed, spaces replaced), number types, and refused label formats."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from fixative.errors import InvalidInput
from fixative.query.segprops import LabelSpec, segment_properties

BIG = 2**62 + 5  # an id JSON doubles would round


def _table() -> pa.Table:
    return pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "pt_root_id": pa.array([BIG, 7, BIG, 0, None], pa.int64()),
            "cell_type": ["basket cell", "pyr", "#odd", "lost", "lost"],
            "region": ["pyr", None, "v1", "v1", "v1"],
            "soma": [True, None, False, True, True],
            "size": pa.array([3, 4, 5, 6, 7], pa.int64()),
            "huge": pa.array([2**40, 1, 2, 3, 4], pa.int64()),
            "depth": [1.5, None, 2.5, 0.0, 0.0],
            "pt_supervoxel_id": pa.array([11, 12, 13, 14, 15], pa.int64()),
        }
    )


def _by_root(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    inline = doc["inline"]
    out: dict[int, dict[str, Any]] = {int(i): {} for i in inline["ids"]}
    for prop in inline["properties"]:
        for root, value in zip(out, prop["values"], strict=True):
            if prop["type"] == "tags":
                out[root]["tags"] = [prop["tags"][k] for k in value]
            else:
                out[root][prop["id"]] = value
    return out


def test_one_entry_per_root_with_tags_labels_and_numbers() -> None:
    doc = segment_properties(_table(), LabelSpec())
    assert doc["@type"] == "neuroglancer_segment_properties"
    assert doc["inline"]["ids"] == ["7", str(BIG)]  # numeric order, root 0 and null dropped
    got = _by_root(doc)
    assert got[BIG]["label"] == "basket cell pyr"
    assert got[7]["label"] == "pyr"
    # "pyr" is in both string columns, so both are prefixed; spaces and a leading # go
    assert got[BIG]["tags"] == sorted(["basket_cell", "odd", "region:pyr", "soma", "v1"])
    assert got[7]["tags"] == ["cell_type:pyr"]
    assert got[BIG]["size"] == 3
    assert got[7]["depth"] == 0.0  # null: 0
    kinds = {p["id"]: p.get("data_type") for p in doc["inline"]["properties"]}
    assert kinds == {
        "label": None,
        "tags": None,
        "size": "int32",
        "huge": "float32",
        "depth": "float32",
    }
    (tags,) = (p for p in doc["inline"]["properties"] if p["type"] == "tags")
    described = dict(zip(tags["tags"], tags["tag_descriptions"], strict=True))
    assert described["basket_cell"] == "basket cell"


def test_labels_from_columns_and_formats() -> None:
    table = _table()
    by_cols = _by_root(segment_properties(table, LabelSpec(columns=("region", "size"))))
    assert by_cols[BIG]["label"] == "pyr 3"
    assert by_cols[7]["label"] == "4"  # a null is left out
    fmt = LabelSpec(format="{cell_type!r}: {depth:.2f} {{x}} {cell_type:d}")
    assert _by_root(segment_properties(table, fmt))[BIG]["label"] == (
        "'basket cell': 1.50 {x} basket cell"
    )


@pytest.mark.parametrize(
    "spec",
    [
        LabelSpec(format="{missing}"),
        LabelSpec(format="{cell_type.__class__}"),
        LabelSpec(format="{0}"),
        LabelSpec(format="{cell_type:>1000}"),
        LabelSpec(format="{cell_type"),
        LabelSpec(columns=("nope",)),
    ],
)
def test_bad_labels_are_refused(spec: LabelSpec) -> None:
    with pytest.raises(InvalidInput):
        segment_properties(_table(), spec)


def test_no_root_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="root id"):
        segment_properties(pa.table({"id": [1], "tag": ["a"]}), LabelSpec())
