"""What the manifest tells a reader about partitions holds for every row: a range partition's
rows lie between its cuts, a hash bucket's rows are the root ids mod N, a Morton cell's points
have the code ``morton_code`` computes from the box and bits in the manifest; and within each
file rows are sorted by the partition column, then id."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from export_world import ExportWorld

from fixative.export import ExportRequest, export_version, parse_partition
from fixative.export.partition import morton_code


def _partition_values(path: str) -> dict[str, int]:
    return {k: int(v) for k, v in (p.split("=") for p in path.split("/") if "=" in p)}


def test_partitions_hold_what_the_manifest_says(world: ExportWorld, tmp_path: Path) -> None:
    specs = ("synapses.pre_pt_root_id:range:5", "nuclei.pt_root_id:hash:3", "pt:morton:2")
    request = ExportRequest(
        world.datastack,
        world.version,
        str(tmp_path / "r"),
        ("nuclei", "synapses"),
        partition_by=tuple(parse_partition(s) for s in specs),
        file_rows=100,
    )
    manifest = export_version(world.store, request)
    for table in manifest["tables"]:
        parts = {p["key"]: p for p in table["partitioning"]}
        assert parts
        for f in table["files"]:
            data = pq.read_table(tmp_path / "r" / f["path"])
            where = _partition_values(f["path"])
            key = table["sorted_by"][0]
            order = list(
                zip(data.column(key).to_pylist(), data.column("id").to_pylist(), strict=True)
            )
            assert order == sorted(order)
            for name, value in where.items():
                part = parts[name]
                column = data.column(part["column"]) if part["strategy"] != "morton" else None
                if part["strategy"] == "range":
                    cuts = [None, *part["cuts"], None]
                    lo, hi = cuts[value], cuts[value + 1]
                    assert lo is None or pc.min(column).as_py() >= lo
                    assert hi is None or pc.max(column).as_py() < hi
                elif part["strategy"] == "hash":
                    assert all(v % part["modulus"] == value for v in column.to_pylist())
                else:
                    xyz = zip(*(data.column(a).to_pylist() for a in part["axes"]), strict=True)
                    codes = {morton_code(p, part["box_vx"], part["bits_per_axis"]) for p in xyz}
                    assert codes == {value}
