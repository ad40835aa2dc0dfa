"""Predicate pushdown on a partitioned release: DuckDB asked for 10 root ids reads a small
fraction of it, by row-group statistics (range partitions, files sorted by the root column) or
by Hive directories (hash partitions: the bucket is the root id mod N)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
from export_world import ExportWorld

from fixative.export import ExportRequest, export_version, parse_partition


def _profiled(sql: str, profile: Path) -> tuple[list[Any], dict[str, Any]]:
    con = duckdb.connect()
    con.execute("PRAGMA enable_profiling='json'")
    con.execute(f"SET profiling_output='{profile}'")
    con.execute("SET tracked_metrics=['*']")
    rows = con.execute(sql).fetchall()
    con.close()
    return rows, json.loads(profile.read_text())


def _scan(node: dict[str, Any]) -> dict[str, Any]:
    if node.get("type") == "TABLE_SCAN":
        return node
    for child in node.get("children", []) + node.get("operator", []):
        found = _scan(child)
        if found:
            return found
    return {}


def _could_hold(directory: Path, roots: list[int]) -> int:
    """Row groups whose pre_pt_root_id statistics admit one of ``roots``."""
    count = 0
    for path in directory.rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        column = meta.schema.names.index("pre_pt_root_id")
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(column).statistics
            count += any(stats.min <= r <= stats.max for r in roots)
    return count


def _export(world: ExportWorld, to: Path, spec: str) -> dict[str, Any]:
    request = ExportRequest(
        world.datastack,
        world.version,
        str(to),
        ("synapses",),
        partition_by=(parse_partition(spec),),
        row_group_rows=32,
        file_rows=1024,
    )
    return export_version(world.store, request)


def _roots(world: ExportWorld) -> list[int]:
    roots = world.version_table("synapses").column("pre_pt_root_id").to_numpy()
    return sorted(np.random.default_rng(3).choice(np.unique(roots), 10, replace=False).tolist())


def test_range_partitions_skip_row_groups(world: ExportWorld, tmp_path: Path) -> None:
    manifest = _export(world, tmp_path / "range", "pre_pt_root_id:range:8")
    roots = _roots(world)
    expected = sum(
        1
        for r in world.version_table("synapses").column("pre_pt_root_id").to_pylist()
        if r in roots
    )
    glob = tmp_path / "range" / "synapses" / "**" / "*.parquet"
    rows, profile = _profiled(
        f"SELECT count(*) FROM read_parquet('{glob}') WHERE pre_pt_root_id IN "
        f"({', '.join(map(str, roots))})",
        tmp_path / "profile.json",
    )
    assert rows == [(expected,)]
    query = profile["query"]  # exactly the row groups whose min/max can hold one of the ids
    assert query["total_row_groups_scanned"] == _could_hold(tmp_path / "range", roots)
    assert query["total_row_groups_scanned"] <= 0.4 * query["total_row_groups_to_scan"]
    total = sum(f["bytes"] for t in manifest["tables"] for f in t["files"])
    assert query["total_bytes_scanned"] < 0.1 * total


def test_hash_partitions_skip_files(world: ExportWorld, tmp_path: Path) -> None:
    manifest = _export(world, tmp_path / "hash", "pre_pt_root_id:hash:64")
    files = len(manifest["tables"][0]["files"])
    roots = _roots(world)[:3]
    buckets = sorted({r % 64 for r in roots})
    glob = tmp_path / "hash" / "synapses" / "**" / "*.parquet"
    rows, profile = _profiled(
        f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
        f"WHERE pre_pt_root_id IN ({', '.join(map(str, roots))}) "
        f"AND pre_pt_root_id_bucket IN ({', '.join(map(str, buckets))})",
        tmp_path / "profile.json",
    )
    expected = sum(
        1
        for r in world.version_table("synapses").column("pre_pt_root_id").to_pylist()
        if r in roots
    )
    assert rows == [(expected,)]
    read = int(_scan(profile)["extra_info"]["Total Files Read"])
    assert read <= len(buckets)
    assert files >= 20
