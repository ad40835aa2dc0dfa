"""The export as users start it: ``fixative export`` (a recorded run with a progress bar) and
``fixative export verify``, and the HTTP endpoints (Fixative's own, and CAVE's Delta Lake
paths), whose runs report their progress through the run records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from export_world import ExportWorld
from flask.testing import FlaskClient

from fixative.api.app import create_app
from fixative.api.services import HttpServices, build_services
from fixative.cli.main import cli
from fixative.runner.records import list_runs


def test_cli_export_and_verify(world: ExportWorld, tmp_path: Path) -> None:
    config, out = world.write_config(tmp_path / "fixative.toml"), tmp_path / "release"
    runner = CliRunner()
    args = ["--config", str(config), "export", world.datastack, "--version", "1", "--to", str(out)]
    done = runner.invoke(
        cli, [*args, "--tables", "synapses,nuclei", "--partition-by", "pre_pt_root_id:hash:4"]
    )
    assert done.exit_code == 0, done.output
    assert "exported 2 table(s)" in done.output
    run = list_runs(world.store, 1)[0]
    assert (run.kind, run.status, run.done, run.total) == (
        "export",
        "SUCCEEDED",
        run.total,
        run.total,
    )
    assert "Cook et al." in (out / "README.md").read_text()
    checked = runner.invoke(cli, ["--config", str(config), "export", "verify", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "ok" in checked.output
    victim = next(out.rglob("*.parquet"))
    victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    broken = runner.invoke(cli, ["--config", str(config), "export", "verify", str(out)])
    assert broken.exit_code == 1
    assert "sha256 differs" in broken.output


@pytest.fixture
def services(world: ExportWorld) -> Iterator[HttpServices]:
    built = build_services(world.settings(), world.store)
    yield built
    built.close()


@pytest.fixture
def client(services: HttpServices) -> FlaskClient:
    return create_app(services=services).test_client()


def test_api_export_runs_with_progress(
    world: ExportWorld, services: HttpServices, client: FlaskClient
) -> None:
    path = f"/fixative/api/v1/datastack/{world.datastack}/export"
    body = {"version": 1, "to": "api/v1", "tables": ["cell_types"], "format": "parquet"}
    started = client.post(path, json=body)
    assert started.status_code == 202, started.json
    assert services.runner is not None
    run = services.runner.wait(started.json["id"], timeout=60)
    assert run.status == "SUCCEEDED", run.error
    shown = client.get(f"/fixative/api/v1/runs/{run.id}").json
    assert shown["progress"] == 1.0
    assert shown["result"]["rows"] == 473
    manifest = json.loads((world.home / "exports" / "api" / "v1" / "manifest.json").read_text())
    assert manifest["tables"][0]["name"] == "cell_types"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"version": 9, "to": "x"}, 404),
        ({"version": 1, "to": "x", "tables": ["nope"]}, 404),
        ({"version": 1, "to": "../outside"}, 400),
        ({"version": 1, "to": "/etc/x"}, 400),
        ({"version": 1, "to": "x", "partition_by": ["nope_id:hash:2"]}, 400),
        ({"version": 1, "to": "x", "colour": "red"}, 400),
        ({"version": 1}, 400),
    ],
)
def test_api_refuses_bad_exports(
    world: ExportWorld, client: FlaskClient, body: dict[str, object], status: int
) -> None:
    got = client.post(f"/fixative/api/v1/datastack/{world.datastack}/export", json=body)
    assert got.status_code == status, got.json
    assert set(got.json) == {"error", "message"}


def test_cave_write_deltalake_paths(
    world: ExportWorld, services: HttpServices, client: FlaskClient
) -> None:
    path = (
        f"/materialize/api/v2/materialize/run/write_deltalake/datastack/{world.datastack}"
        "/version/1/table_name/synapses/"
    )
    spec = {"partition_by": "post_pt_root_id", "partition_strategy": "hash", "n_partitions": 4}
    started = client.post(path, json={"output_specs": [spec]})
    assert started.status_code == 200, started.json
    job = started.json["job_id"]
    assert services.runner is not None
    services.runner.wait(int(job), timeout=60)
    status = client.get(path, query_string={"job_id": job}).json
    assert status["status"] == "SUCCEEDED", status
    assert status["percent_complete"] == 100.0
    table = world.home / "exports" / world.datastack / "v1" / "synapses" / "synapses"
    assert (table / "_delta_log").is_dir()
    assert any(p.name.startswith("post_pt_root_id_bucket=") for p in table.iterdir())
