"""Checking a release against its manifest: every listed file present with its size and sha256,
every Parquet file's row count (from its footer) as listed, each table's files adding up to its
row count, and no file in the release that the manifest does not list."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from fixative.errors import NotFound
from fixative.export.manifest import MANIFEST, README
from fixative.export.target import Target, open_target, sha256_of


@dataclass
class Verified:
    manifest: dict[str, Any]
    files: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_release(url: str) -> Verified:
    """NotFound when ``url`` holds no manifest; otherwise what was checked and what is wrong."""
    target = open_target(url)
    path = posixpath.join(target.root, MANIFEST)
    if not target.exists(path):
        raise NotFound(f"{url!r} holds no {MANIFEST}: not a finished release")
    manifest = json.loads(target.read_bytes(path))
    out = Verified(manifest)
    listed = {MANIFEST, README}
    for table in manifest.get("tables", []):
        rows = 0
        for f in table["files"]:
            listed.add(f["path"])
            rows += _check_file(target, f, out)
        if rows != table["rows"]:
            out.problems.append(
                f"table {table['name']!r}: files hold {rows:,} rows, the manifest {table['rows']:,}"
            )
        out.rows += rows
    for info in target.files(target.root):
        relative = posixpath.relpath(info.path, target.root)
        if relative not in listed:
            out.problems.append(f"{relative}: not listed in the manifest")
    return out


def _check_file(target: Target, listed: dict[str, Any], out: Verified) -> int:
    """The file's listed rows (0 when it is missing or wrong, with the problem noted)."""
    path = posixpath.join(target.root, listed["path"])
    if not target.exists(path):
        out.problems.append(f"{listed['path']}: missing")
        return 0
    size, digest = sha256_of(target, path)
    out.files += 1
    if size != listed["bytes"] or digest != listed["sha256"]:
        out.problems.append(f"{listed['path']}: size or sha256 differs from the manifest")
        return 0
    if listed["path"].endswith(".parquet"):
        with target.fs.open_input_file(path) as handle:
            found = pq.ParquetFile(handle).metadata.num_rows
        if found != listed["rows"]:
            out.problems.append(
                f"{listed['path']}: {found:,} rows, manifest says {listed['rows']:,}"
            )
            return 0
    return int(listed["rows"])
