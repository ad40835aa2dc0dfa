"""A version exported as Parquet and as Delta Lake, read back with DuckDB and polars, equals the
version as the query engine serves it: same rows, same column types, same positions."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
from export_world import TABLES, ExportWorld

from fixative.export import ExportRequest, export_version, parse_partition, verify_release
from fixative.versions import VersionOptions, create_version, get_version, list_version_tables


def _request(world: ExportWorld, to: Path, **kw: object) -> ExportRequest:
    return ExportRequest(world.datastack, world.version, str(to), **kw)  # type: ignore[arg-type]


def _sorted(table: pa.Table, names: list[str]) -> pa.Table:
    return table.select(names).sort_by("id")


def test_parquet_release_reads_back_as_the_version(world: ExportWorld, tmp_path: Path) -> None:
    specs = (
        parse_partition("synapses.pre_pt_root_id:range:4"),
        parse_partition("pt_position:morton:1"),
    )
    request = _request(
        world, tmp_path / "release", partition_by=specs, row_group_rows=256, file_rows=512
    )
    manifest = export_version(world.store, request)
    assert [t["name"] for t in manifest["tables"]] == sorted(TABLES)
    assert verify_release(str(tmp_path / "release")).ok
    assert json.loads((tmp_path / "release" / "manifest.json").read_text()) == manifest
    assert f"version {world.version}" in (tmp_path / "release" / "README.md").read_text()
    for table in manifest["tables"]:
        expected = world.version_table(table["name"])
        names = expected.schema.names
        glob = str(tmp_path / "release" / table["name"] / "**" / "*.parquet")
        by_duckdb = duckdb.sql(f"SELECT * FROM read_parquet('{glob}')").arrow()
        if isinstance(by_duckdb, pa.RecordBatchReader):
            by_duckdb = by_duckdb.read_all()
        assert _sorted(by_duckdb, names).equals(expected.sort_by("id"))
        by_polars = pl.scan_parquet(glob, hive_partitioning=False).collect().to_arrow()
        assert _sorted(by_polars, names).cast(expected.schema).equals(expected.sort_by("id"))
        assert table["rows"] == expected.num_rows


def test_delta_release_reads_back_as_the_version(world: ExportWorld, tmp_path: Path) -> None:
    specs = (parse_partition("synapses.post_pt_root_id:hash:3"),)
    request = _request(world, tmp_path / "delta", format="delta", partition_by=specs)
    manifest = export_version(world.store, request)
    assert verify_release(str(tmp_path / "delta")).ok
    for table in manifest["tables"]:
        expected = world.version_table(table["name"])
        names = expected.schema.names
        frame = pl.read_delta(str(tmp_path / "delta" / table["name"]))
        assert _sorted(frame.to_arrow(), names).cast(expected.schema).equals(expected.sort_by("id"))


def test_a_history_version_exports_as_its_flat_twin(world: ExportWorld, tmp_path: Path) -> None:
    """A version kept in the root-id history (no database of its own) exports the same rows as
    the flat copy made at the same instant, partitioned too."""
    flat = get_version(world.store, world.datastack, world.version)
    names = [t.table_name for t in list_version_tables(world.store, world.datastack, flat.version)]
    twin = create_version(
        world.store, world.datastack, flat.time_stamp, names, VersionOptions(kind="history")
    )
    assert not twin.copied
    spec = (parse_partition("synapses.pre_pt_root_id:range:3"),)
    made = {}
    for info in (flat, twin):
        to = tmp_path / f"v{info.version}"
        request = ExportRequest(world.datastack, info.version, str(to), partition_by=spec)
        made[info.version] = export_version(world.store, request)
        assert verify_release(str(to)).ok
    for table in made[flat.version]["tables"]:
        tables = []
        for v in made:
            glob = tmp_path / f"v{v}" / table["name"] / "**" / "*.parquet"
            got = duckdb.sql(f"SELECT * FROM read_parquet('{glob}') ORDER BY id").arrow()
            tables.append(got.read_all() if isinstance(got, pa.RecordBatchReader) else got)
        assert tables[0].equals(tables[1]), table["name"]
        assert tables[0].num_rows == table["rows"]
