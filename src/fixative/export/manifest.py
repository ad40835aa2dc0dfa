"""A release's ``manifest.json`` and ``README.md``. The manifest says what the release is (the
datastack, the version and the instant its rows are valid at, Fixative's version), how it was
written (format, partitioning with what a reader needs to find a partition again) and, per
table, its schema, row count and files with their sizes and sha256. It holds no wall-clock
time, so an export killed and run again ends with the same manifest as one that was not."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pyarrow as pa

from fixative.export.partition import Bucketing
from fixative.query.columns import TableColumns

MANIFEST = "manifest.json"
README = "README.md"
FORMAT = "fixative-release/1"


def fixative_version() -> str:
    try:
        return version("fixative")
    except PackageNotFoundError:  # a source tree without its metadata
        return "unknown"


@dataclass
class TableRelease:
    columns: TableColumns
    schema: pa.Schema
    rows: int
    buckets: list[Bucketing] = field(default_factory=list)
    sort: tuple[str, ...] = ("id",)
    files: list[dict[str, Any]] = field(default_factory=list)
    view: dict[str, Any] | None = None  # the view the table holds (its definition)

    def as_dict(self) -> dict[str, Any]:
        info = self.columns.info
        head = {} if self.view is None else {"view": self.view}
        return {
            "name": self.columns.name,
            "schema_type": info.schema.name,
            "reference_table": info.reference_table,
            "voxel_resolution_nm": list(self.columns.resolution),
            "rows": self.rows,
            "columns": [{"name": f.name, "type": str(f.type)} for f in self.schema],
            "sorted_by": list(self.sort),
            "partitioning": [b.describe() for b in self.buckets],
            "files": self.files,
            **head,
        }


def build_manifest(head: dict[str, Any], tables: list[TableRelease]) -> dict[str, Any]:
    """``head``: datastack, version, instant, format and the export's parameters."""
    return {
        "release_format": FORMAT,
        **head,
        "fixative_version": fixative_version(),
        "tables": [t.as_dict() for t in tables],
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()


def readme(manifest: dict[str, Any], description: str | None) -> str:
    ds, v = manifest["datastack"], manifest["version"]
    fmt = manifest["format"]
    kind = "Delta Lake tables" if fmt == "delta" else "Parquet files"
    which = f"version {v}" if v is not None else "no version (the live tables)"
    lines = [
        f"# {ds}, {f'version {v}' if v is not None else manifest['instant']}",
        "",
        f"Annotation tables of datastack `{ds}` as they stood at {manifest['instant']} (UTC),",
        f"{which}, every root id valid at that instant. Written by Fixative "
        f"{manifest['fixative_version']} as {kind}.",
    ]
    if description:
        lines += ["", description]
    lines += ["", "| table | schema | rows | partitioned by |", "|---|---|---|---|"]
    for t in manifest["tables"]:
        parts = ", ".join(f"`{p['key']}`" for p in t["partitioning"]) or "-"
        lines.append(f"| {t['name']} | {t['schema_type']} | {t['rows']:,} | {parts} |")
    first, root = _example(manifest["tables"])
    lines += ["", "## Reading it", "", "```python"]
    if fmt == "delta":
        lines += [
            "import polars as pl",
            f'frame = pl.read_delta("{first}")',
            "",
            "import duckdb, deltalake",
            f'data = deltalake.DeltaTable("{first}").to_pyarrow_dataset()',
            'duckdb.sql("SELECT count(*) FROM data").show()',
        ]
    else:
        lines += [
            "import duckdb",
            "duckdb.sql(",
            f"    \"SELECT * FROM read_parquet('{first}/**/*.parquet', hive_partitioning = true)\"",
            f'    " WHERE {root} IN (...)"  # row groups skipped by min/max, Bloom filters',
            ").show()",
            "",
            "import polars as pl",
            f'frame = pl.scan_parquet("{first}/**/*.parquet").collect()',
        ]
    lines += [
        "```",
        "",
        "Positions are in voxels (`voxel_resolution_nm` in `manifest.json`: nanometres per voxel",
        "along x, y, z). `manifest.json` lists every file with its size and sha256;",
        "`fixative export verify DIR` checks them.",
        "",
        "## Citing it",
        "",
        f"Cite the dataset of datastack `{ds}` as its publishers ask, with this "
        + (f"version ({v}) and instant" if v is not None else "instant")
        + f" ({manifest['instant']}), so that others can read the same rows.",
        "",
    ]
    return "\n".join(lines)


def _example(tables: list[dict[str, Any]]) -> tuple[str, str]:
    """The table and root-id column the README's examples use."""
    for t in tables:
        for c in t["columns"]:
            if c["name"].endswith("_root_id"):
                return t["name"], c["name"]
    return (tables[0]["name"] if tables else "synapses"), "id"
