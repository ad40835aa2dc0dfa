"""A view as an export source: its rows at the version as one table of the release, named after
the view, equal (rows and types) to what ``query_view`` answers at that version; partitioned by
a root column it outputs; an unknown view refused before anything is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner
from export_world import ExportWorld
from flask.testing import FlaskClient

from fixative.api.app import create_app
from fixative.api.services import HttpServices, build_services
from fixative.cli.main import cli
from fixative.errors import NotFound, Unprocessable
from fixative.export import ExportRequest, export_version, parse_partition, verify_release
from fixative.export.view import checked_view
from fixative.query.spec import QuerySpec
from fixative.versions import get_version
from fixative.views.definitions import create_view, find_view
from fixative.views.model import NewView
from fixative.views.query import version_view_query

RES = (8.0, 8.0, 40.0)
VIEWS = {
    "synapse_partners": (
        "SELECT s.id AS synapse_id, s.pre_pt_root_id, s.post_pt_root_id, "
        "c.cell_type AS post_cell_type, s.post_pt_position_x, s.post_pt_position_y, "
        "s.post_pt_position_z, s.size FROM synapses AS s "
        "LEFT JOIN cell_types AS c ON c.pt_root_id = s.post_pt_root_id"
    ),
    "outputs_per_cell": (
        "SELECT pre_pt_root_id, count(*) AS synapses, avg(size) AS mean_size "
        "FROM synapses GROUP BY pre_pt_root_id"
    ),
}


@pytest.fixture(scope="module")
def views(world: ExportWorld) -> tuple[str, ...]:
    aligned = world.settings().datastacks[0].aligned_volume
    for name, sql in VIEWS.items():
        if find_view(world.store, world.datastack, name) is None:
            live = name == "outputs_per_cell"
            new = NewView(world.datastack, name, sql, "demo", RES, live_compatible=live)
            create_view(world.store, aligned, new)
    return tuple(VIEWS)


def _queried(world: ExportWorld, name: str) -> pa.Table:
    """The view at the version as ``query_view`` answers it."""
    tables = {"synapses", "cell_types", "nuclei", "nucleus_tags"}
    target = checked_view(world.store, world.datastack, name, tables)
    result = version_view_query(
        world.engine, target, world.datastack, world.version, QuerySpec((name,))
    )
    try:
        return pa.Table.from_batches(list(result.batches), result.schema)
    finally:
        result.close()


def _read(release: Path, name: str, columns: list[str]) -> pa.Table:
    glob = release / name / "**" / "*.parquet"
    order = ", ".join(f'"{c}" NULLS FIRST' for c in columns)
    picked = ", ".join(f'"{c}"' for c in columns)
    got = duckdb.sql(f"SELECT {picked} FROM read_parquet('{glob}') ORDER BY {order}").arrow()
    return got.read_all() if isinstance(got, pa.RecordBatchReader) else got


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending", "at_start") for c in table.schema.names])


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_export_equals_query_view(
    world: ExportWorld, views: tuple[str, ...], tmp_path: Path, name: str
) -> None:
    release = tmp_path / "release"
    request = ExportRequest(world.datastack, world.version, str(release), view=name)
    manifest = export_version(world.store, request)
    assert verify_release(str(release)).ok
    (table,) = manifest["tables"]
    assert table["name"] == name
    assert table["view"]["sql"] == VIEWS[name]
    assert "synapses" in table["view"]["tables"]
    assert manifest["export"]["view"] == name
    expected = _sorted(_queried(world, name))
    assert table["rows"] == expected.num_rows > 0
    assert [c["name"] for c in table["columns"]] == expected.schema.names
    got = _read(release, name, expected.schema.names)
    assert got.schema == expected.schema
    assert got.equals(expected)


def test_view_partitioned_by_its_root_column(
    world: ExportWorld, views: tuple[str, ...], tmp_path: Path
) -> None:
    name = "synapse_partners"
    spec = (parse_partition("post_pt_root_id:range:4"), parse_partition("post_pt_position"))
    request = ExportRequest(
        world.datastack, world.version, str(tmp_path / "r"), partition_by=spec, view=name
    )
    manifest = export_version(world.store, request)
    assert verify_release(str(tmp_path / "r")).ok
    (table,) = manifest["tables"]
    assert [p["column"] for p in table["partitioning"]][:1] == ["post_pt_root_id"]
    assert table["sorted_by"][0] == "post_pt_root_id"
    assert len(table["files"]) > 4
    expected = _sorted(_queried(world, name))
    assert _read(tmp_path / "r", name, expected.schema.names).equals(expected)
    delta = ExportRequest(
        world.datastack, world.version, str(tmp_path / "d"), format="delta", view=name
    )
    export_version(world.store, delta)
    assert verify_release(str(tmp_path / "d")).ok


def test_live_view_at_the_versions_instant_equals_the_version(
    world: ExportWorld, views: tuple[str, ...], tmp_path: Path
) -> None:
    """A live_compatible view at an instant is read from the root-id histories, streamed (not
    loaded in memory as a live ``query_view`` does); a view that is not is refused."""
    at = get_version(world.store, world.datastack, world.version).time_stamp
    live = ExportRequest(world.datastack, None, str(tmp_path / "l"), at=at, view="outputs_per_cell")
    made = export_version(world.store, live)
    assert made["version"] is None
    expected = _sorted(_queried(world, "outputs_per_cell"))
    assert _read(tmp_path / "l", "outputs_per_cell", expected.schema.names).equals(expected)
    other = ExportRequest(
        world.datastack, None, str(tmp_path / "n"), at=at, view="synapse_partners"
    )
    with pytest.raises(Unprocessable, match="live_compatible"):
        export_version(world.store, other)
    assert not (tmp_path / "n").exists()


def test_unknown_view_writes_nothing(world: ExportWorld, tmp_path: Path) -> None:
    target = tmp_path / "nothing"
    request = ExportRequest(world.datastack, world.version, str(target), view="no_such_view")
    with pytest.raises(NotFound, match="no_such_view"):
        export_version(world.store, request)
    assert not target.exists()
    assert not list(tmp_path.iterdir())


def test_cli_exports_a_view(world: ExportWorld, views: tuple[str, ...], tmp_path: Path) -> None:
    config = world.write_config(tmp_path / "fixative.toml")
    release = tmp_path / "cli"
    args = ["--config", str(config), "export", world.datastack, "--version", "1"]
    done = CliRunner().invoke(cli, [*args, "--view", "outputs_per_cell", "--to", str(release)])
    assert done.exit_code == 0, done.output
    assert "1 table(s)" in done.output
    missing = CliRunner().invoke(cli, [*args, "--view", "nope", "--to", str(tmp_path / "x")])
    assert isinstance(missing.exception, NotFound), missing.output
    assert "nope" in str(missing.exception)
    assert not (tmp_path / "x").exists()


@pytest.fixture
def services(world: ExportWorld) -> Iterator[HttpServices]:
    built = build_services(world.settings(), world.store)
    yield built
    built.close()


def test_api_exports_a_view(
    world: ExportWorld, views: tuple[str, ...], services: HttpServices
) -> None:
    client: FlaskClient = create_app(services=services).test_client()
    path = f"/fixative/api/v1/datastack/{world.datastack}/export"
    body = {"version": 1, "to": "api/view", "view": "outputs_per_cell", "format": "delta"}
    started = client.post(path, json=body)
    assert started.status_code == 202, started.json
    assert services.runner is not None
    run = services.runner.wait(started.json["id"], timeout=60)
    assert run.status == "SUCCEEDED", run.error
    release = world.home / "exports" / "api" / "view"
    manifest = json.loads((release / "manifest.json").read_text())
    assert [t["name"] for t in manifest["tables"]] == ["outputs_per_cell"]
    assert manifest["tables"][0]["rows"] == _queried(world, "outputs_per_cell").num_rows
    missing = client.post(path, json={**body, "to": "api/none", "view": "nope"})
    assert missing.status_code == 404, missing.json
    both = client.post(path, json={**body, "to": "api/none", "tables": ["synapses"]})
    assert both.status_code == 400, both.json
    assert not (world.home / "exports" / "api" / "none").exists()
