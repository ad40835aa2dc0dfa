"""Bad exports fail before anything is written, with the error the API maps to its status:
an unknown version or table (NotFound), a version no longer AVAILABLE (Conflict), a partition
column that does not exist or a bad spec (InvalidInput), a target that cannot be written
(InvalidInput) or that holds something else (Conflict). Nothing is ever left under the final
name."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_world import ExportWorld

from fixative.errors import Conflict, FixativeError, InvalidInput, NotFound
from fixative.export import ExportRequest, export_version, parse_partition


def _export(world: ExportWorld, to: Path | str, **kw: object) -> None:
    request = ExportRequest(world.datastack, kw.pop("version", world.version), str(to), **kw)  # type: ignore[arg-type]
    export_version(world.store, request)


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"version": 99}, NotFound, "version 99"),
        ({"tables": ("synapses", "nope")}, NotFound, "'nope'"),
        ({"partition_by": (parse_partition("nope_root_id"),)}, InvalidInput, "has no column"),
        (
            {"partition_by": (parse_partition("cell_types.pre_pt_root_id"),)},
            InvalidInput,
            "cell_types",
        ),
        ({"partition_by": (parse_partition("tags.id"),)}, InvalidInput, "has no table"),
        ({"partition_by": (parse_partition("size"),)}, InvalidInput, "integer column"),
        (
            {"partition_by": (parse_partition("id:hash:2"), parse_partition("id:range:2"))},
            InvalidInput,
            "at most one",
        ),
    ],
)
def test_refused_before_writing(
    world: ExportWorld,
    tmp_path: Path,
    change: dict[str, object],
    error: type[FixativeError],
    words: str,
) -> None:
    with pytest.raises(error, match=words):
        _export(world, tmp_path / "release", **change)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["", "a:b", "a:range:0", "a:morton:7", "A", "a.b.c", "a:hash:x"])
def test_bad_specs(text: str) -> None:
    with pytest.raises(InvalidInput, match="partition spec"):
        parse_partition(text)


def test_unwritable_target(world: ExportWorld, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(InvalidInput, match="cannot write the export"):
        _export(world, blocker / "release", tables=("cell_types",))
    assert blocker.read_text() == "not a directory"


def test_target_holding_something_else(world: ExportWorld, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="already holds"):
        _export(world, tmp_path / "taken", tables=("cell_types",))
    _export(world, tmp_path / "done", tables=("cell_types",))
    with pytest.raises(Conflict, match="already holds"):  # another release under the name
        _export(world, tmp_path / "done", tables=("nuclei",))
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def test_unknown_scheme(world: ExportWorld) -> None:
    with pytest.raises(InvalidInput, match="scheme"):
        _export(world, "ftp://host/release")
    with pytest.raises(InvalidInput, match="prefix inside the bucket"):
        _export(world, "s3://bucket")
