"""An unpartitioned table read as consecutive id ranges (on PostgreSQL, by several connections
at once) gives the same release as one statement: the same files, rows and checksums."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from export_world import ExportWorld

from fixative.export import ExportRequest, export_version
from fixative.export import run as export_run
from fixative.export.select import id_parts


def test_id_parts_cover_the_ids_once() -> None:
    assert id_parts(None, None, 0, 10) == []
    assert id_parts(1, 100, 10, 10) == []  # small enough to read whole
    parts = id_parts(5, 1004, 1000, 300)
    assert len(parts) == 4
    assert parts[0][0] == 5
    assert parts[-1][1] == 1005
    assert all(a[1] == b[0] for a, b in pairwise(parts))
    assert id_parts(7, 7, 2, 1) == [(7, 8)]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_a_table_read_in_id_ranges_exports_the_same_files(
    world: ExportWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    def export(to: Path) -> dict[str, object]:
        request = ExportRequest(
            world.datastack,
            world.version,
            str(to),
            format=fmt,
            row_group_rows=16,  # type: ignore[arg-type]
        )
        return export_version(world.store, request)

    whole = export(tmp_path / "whole")
    seen: list[int] = []
    statements = export_run._statements

    def counted(*args: object) -> list[str]:
        made = statements(*args)  # type: ignore[arg-type]
        seen.append(len(made))
        return made

    monkeypatch.setattr(export_run, "PART_ROWS", 7)
    monkeypatch.setattr(export_run, "_statements", counted)
    parted = export(tmp_path / "parted")
    if world.store.dialect_name == "postgresql":
        assert max(seen) > 3  # the tables were read in several ranges
    for a, b in zip(whole["tables"], parted["tables"], strict=True):  # type: ignore[call-overload]
        if fmt == "parquet":
            assert a == b
        else:  # Delta file names are random: the same rows, counted per file
            assert a["rows"] == b["rows"]
