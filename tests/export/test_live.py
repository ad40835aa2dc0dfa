"""Exports of the live tables at an instant, with no version built (``at`` instead of
``version``): at an instant the tables' root ids were brought to, the release holds what a
version made there holds, its manifest naming no version; at an instant where the root-id
history is not exact, in the future, or with both a version and an instant, it is refused
before anything is written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner
from export_world import ExportWorld

from fixative.cli.main import cli
from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.export import ExportRequest, export_version, parse_partition, verify_release
from fixative.export.task import export_request
from fixative.versions import get_version


def _read(release: Path, table: str) -> pa.Table:
    glob = release / table / "**" / "*.parquet"
    got = duckdb.sql(f"SELECT * FROM read_parquet('{glob}') ORDER BY id").arrow()
    return got.read_all() if isinstance(got, pa.RecordBatchReader) else got


def test_live_tables_at_the_versions_instant_export_as_the_version(
    world: ExportWorld, tmp_path: Path
) -> None:
    info = get_version(world.store, world.datastack, world.version)
    spec = (parse_partition("synapses.pre_pt_root_id:range:3"),)
    live = ExportRequest(
        world.datastack, None, str(tmp_path / "live"), partition_by=spec, at=info.time_stamp
    )
    made = export_version(world.store, live)
    assert verify_release(str(tmp_path / "live")).ok
    assert made["version"] is None
    assert made["instant"] == info.time_stamp.isoformat()
    assert "no version" in (tmp_path / "live" / "README.md").read_text()
    frozen = ExportRequest(world.datastack, world.version, str(tmp_path / "v"), partition_by=spec)
    version = export_version(world.store, frozen)
    assert [t["name"] for t in made["tables"]] == [t["name"] for t in version["tables"]]
    for table in version["tables"]:
        name = table["name"]
        assert _read(tmp_path / "live", name).equals(_read(tmp_path / "v", name)), name
        expected = world.version_table(name)
        got = _read(tmp_path / "live", name).select(expected.schema.names)
        assert got.equals(expected.sort_by("id")), name
    again = export_version(world.store, live)  # the same request: the finished release
    assert again == made


def test_an_instant_the_history_is_not_exact_at_is_a_conflict(
    world: ExportWorld, tmp_path: Path
) -> None:
    info = get_version(world.store, world.datastack, world.version)
    before = info.time_stamp - timedelta(microseconds=1)
    request = ExportRequest(world.datastack, None, str(tmp_path / "r"), ("synapses",), at=before)
    with pytest.raises(Conflict, match="'synapses': root ids are valid at"):
        export_version(world.store, request)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"at": "future"}, InvalidInput, "in the future"),
        ({"version": 1}, InvalidInput, "either a version or"),
        ({"tables": ("synapses", "nope")}, NotFound, "'nope'"),
    ],
)
def test_refused_before_writing(
    world: ExportWorld, tmp_path: Path, change: dict[str, object], error: type, words: str
) -> None:
    change = dict(change)  # the parameters are shared by both backends' runs
    at = get_version(world.store, world.datastack, world.version).time_stamp
    if change.pop("at", None):
        at = world.store.clock() + timedelta(days=1)
    version = change.pop("version", None)
    request = ExportRequest(world.datastack, version, str(tmp_path / "r"), at=at, **change)  # type: ignore[arg-type]
    with pytest.raises(error, match=words):
        export_version(world.store, request)
    assert list(tmp_path.iterdir()) == []


def test_run_parameters_take_an_instant(tmp_path: Path) -> None:
    params = {"datastack": "demo", "to": "r", "at": "2026-01-02T03:04:05Z"}
    request = export_request(tmp_path, params)
    assert request.version is None
    assert request.at is not None
    assert request.at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert request.params()["at"] == "2026-01-02T03:04:05+00:00"
    assert "version" not in request.params()
    assert export_request(tmp_path, {**params, **request.params()}) == request
    with pytest.raises(InvalidInput, match="not both"):
        export_request(tmp_path, {**params, "version": 1})
    with pytest.raises(InvalidInput, match="ISO-8601"):
        export_request(tmp_path, {**params, "at": 5})


def test_cli_exports_the_live_tables_at_an_instant(world: ExportWorld, tmp_path: Path) -> None:
    config, out = world.write_config(tmp_path / "fixative.toml"), tmp_path / "release"
    at = get_version(world.store, world.datastack, world.version).time_stamp.isoformat()
    runner = CliRunner()
    base = ["--config", str(config), "export", world.datastack, "--to", str(out)]
    done = runner.invoke(cli, [*base, "--at", at, "--tables", "nuclei"])
    assert done.exit_code == 0, done.output
    assert json.loads((out / "manifest.json").read_text())["instant"] == at
    both = runner.invoke(cli, [*base, "--at", at, "--version", "1"])
    assert both.exit_code == 2
    assert "one of them" in both.output
