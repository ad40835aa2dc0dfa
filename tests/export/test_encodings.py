"""How the released Parquet files encode their columns: a dictionary only for text columns
(their values repeat); ids, root ids, positions and sizes plain, since a dictionary of nearly
as many values as rows costs the writer twice the time and the files a quarter more bytes.
Parquet files and a Delta table's data files alike."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_world import ExportWorld

from fixative.export import ExportRequest, export_version, parse_partition
from fixative.export.parquet import dictionary_columns

DICTIONARY = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}


def _encodings(directory: Path) -> dict[tuple[str, str], bool]:
    """(table, column) -> whether any of its column chunks is dictionary-encoded."""
    found: dict[tuple[str, str], bool] = {}
    for path in sorted(directory.rglob("*.parquet")):
        table = path.relative_to(directory).parts[0]
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                chunk = meta.row_group(g).column(c)
                coded = chunk.has_dictionary_page or bool(DICTIONARY & set(chunk.encodings))
                key = (table, chunk.path_in_schema)
                found[key] = found.get(key, False) or coded
    return found


def test_dictionary_columns_are_the_text_ones() -> None:
    schema = pa.schema(
        [("id", pa.int64()), ("tag", pa.string()), ("size", pa.float64()), ("ok", pa.bool_())]
    )
    assert dictionary_columns(schema) == ["tag"]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_only_text_columns_are_dictionary_encoded(
    world: ExportWorld, tmp_path: Path, fmt: str
) -> None:
    request = ExportRequest(
        world.datastack,
        world.version,
        str(tmp_path / "release"),
        format=fmt,  # type: ignore[arg-type]
        partition_by=(parse_partition("synapses.pre_pt_root_id:range:2"),),
        row_group_rows=64,
    )
    manifest = export_version(world.store, request)
    found = _encodings(tmp_path / "release")
    text = {
        (t["name"], f["name"])
        for t in manifest["tables"]
        for f in t["columns"]
        if f["type"] in ("string", "large_string")
    }
    assert ("nucleus_tags", "tag") in text
    assert {k for k, coded in found.items() if coded} == text
    assert ("synapses", "pre_pt_root_id") in found  # the root and id columns were looked at
    assert ("synapses", "id") in found
