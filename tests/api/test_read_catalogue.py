"""Info, schema, health and the materialize catalogue through the real caveclient against a
live server: versions (with an expired one), version metadata, tables, metadata, counts."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
import requests
from read_world import TABLES, ReadWorld, client

from fixative.demo import datastack
from fixative.versions import list_version_tables


def test_construct_and_info(world: ReadWorld) -> None:
    cave = client(world)
    info = cave.info.get_datastack_info()
    assert info["aligned_volume"]["name"] == datastack.ALIGNED_VOLUME
    assert info["local_server"] == world.url
    assert info["segmentation_source"] == (
        f"graphene://{world.url}/segmentation/table/{datastack.PCG_TABLE}"
    )
    assert info["synapse_table"] == "synapses"
    assert cave.info.viewer_resolution().tolist() == [8.0, 8.0, 40.0]
    assert str(cave.info.server_version) == "4.3.3"
    assert cave.info.get_datastacks() == [world.datastack]
    assert cave.info.get_aligned_volumes() == [datastack.ALIGNED_VOLUME]
    av = cave.info.get_aligned_volume_info()
    assert av["name"] == datastack.ALIGNED_VOLUME
    assert cave.info.get_aligned_volume_info_by_id(av["id"])["name"] == av["name"]
    assert cave.chunkedgraph.table_name == datastack.PCG_TABLE


def test_versions_and_metadata(world: ReadWorld) -> None:
    cave = client(world)
    assert cave.materialize.api_version == 3
    assert str(cave.materialize.server_version) == "5.26.4"
    assert cave.materialize.get_versions() == [2, 3]
    assert cave.materialize.get_versions(expired=True) == [1, 2, 3]
    meta = cave.materialize.get_version_metadata(2)
    assert meta["time_stamp"] == world.instants["v2"].replace(tzinfo=UTC)
    assert meta["status"] == "AVAILABLE"
    assert cave.materialize.get_timestamp(3) == world.instants["v3"]
    expired = cave.materialize.get_version_metadata(1)
    assert expired["status"] == "EXPIRED"
    assert not expired["valid"]
    every = cave.materialize.get_versions_metadata()
    assert [m["version"] for m in every] == [2, 3]
    pinned = client(world, version=2)
    assert pinned.timestamp == world.instants["v2"]


def test_tables_metadata_and_counts(world: ReadWorld) -> None:
    cave = client(world)
    assert sorted(cave.materialize.get_tables()) == sorted(TABLES)
    for version in (2, 3):
        counts = {
            t.table_name: t.row_count
            for t in list_version_tables(world.store, world.datastack, version)
        }
        at = world.instants[f"v{version}"]
        for table in TABLES:
            got = cave.materialize.get_annotation_count(table, version=version)
            assert got == counts[table] == world.store.count_at(table, at)
    meta = cave.materialize.get_table_metadata("synapses")
    assert meta["voxel_resolution"] == [8.0, 8.0, 40.0]
    assert meta["reference_table"] is None
    assert meta["schema_type"] == meta["schema"] == "synapse"
    assert meta["pcg_table_name"] == datastack.PCG_TABLE
    for key in ("segmentation_source", "last_modified", "notice_text", "created", "valid"):
        assert key in meta
    tags = cave.materialize.get_table_metadata("nucleus_tags")
    assert tags["reference_table"] == "nuclei"
    assert tags["notice_text"] == "tags are provisional"
    every = cave.materialize.get_tables_metadata()
    assert sorted(m["table_name"] for m in every) == sorted(TABLES)
    assert set(cave.materialize.get_views()) <= {"connectivity"}  # the demo's view


def test_schema_service(world: ReadWorld) -> None:
    cave = client(world)
    assert "synapse" in cave.schema.get_schemas()
    synapse = cave.schema.schema_definition("synapse")
    props = synapse["definitions"]["Synapse"]["properties"]
    assert props["pre_pt"]["$ref"] == "#/definitions/BoundSpatialPoint"
    both = cave.schema.schema_definition_multi(["synapse", "reference_tag"])
    assert set(both) == {"synapse", "reference_tag"}
    assert set(cave.schema.schema_definition_all()) >= {"synapse", "cell_type_local"}


def test_table_manager_reads_everything(world: ReadWorld) -> None:
    cave = client(world)
    tables = cave.materialize.tables
    assert all(name in tables for name in TABLES)
    assert "pre_pt_root_id" in tables["synapses"].fields


def _get(world: ReadWorld, path: str) -> requests.Response:
    return requests.get(world.url + path, timeout=30, allow_redirects=False)


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/info/api/v2/datastack/full/nope", 404, "nope"),
        ("/info/api/v2/aligned_volume/nope", 404, "nope"),
        ("/info/api/v2/aligned_volume/id/99", 404, "99"),
        ("/materialize/api/v3/datastack/nope/versions", 404, "nope"),
        ("/materialize/api/v3/datastack/{ds}/version/99", 404, "99"),
        ("/materialize/api/v3/datastack/{ds}/version/x", 404, ""),
        ("/materialize/api/v2/datastack/{ds}/version/2/table/nope/count", 404, "nope"),
        ("/materialize/api/v3/datastack/{ds}/version/2/table/nope/metadata", 404, "nope"),
        ("/materialize/api/v3/datastack/{ds}/versions?expired=maybe", 400, "maybe"),
        ("/materialize/api/v3/datastack/{ds}/version/2/views/myview/metadata", 404, "myview"),
        ("/schema/api/v2/type/nope", 404, "nope"),
        ("/materialize/api/v3/datastack/{ds}/versions/", 200, ""),
    ],
)
def test_bad_paths_are_json_errors(world: ReadWorld, path: str, status: int, needle: str) -> None:
    response = _get(world, path.format(ds=world.datastack))
    assert response.status_code == status, response.text
    body: Any = response.json()
    if status >= 400:
        assert set(body) == {"error", "message"}
        assert needle in body["message"]


def test_health(world: ReadWorld) -> None:
    assert _get(world, "/health").json() == {"status": "ok"}
    assert _get(world, "/health/live").status_code == 200
    ready = _get(world, "/health/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
