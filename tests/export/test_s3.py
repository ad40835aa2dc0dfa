"""Exports to S3 for real: moto's S3 server on a free loopback port (nothing leaves the
machine: the endpoint, the region and the credentials are all given, so no client asks AWS or an
instance-metadata service for them). Parquet and Delta Lake, read back and verified."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import polars as pl
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest
from export_world import ExportWorld

from fixative.export import ExportRequest, export_version, parse_partition, verify_release
from fixative.export.target import Target, open_target

BUCKET = "releases"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    mp = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        mp.setenv(name, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"127.0.0.1:{port}"
    fs = pafs.S3FileSystem(
        endpoint_override=endpoint, scheme="http", region="us-east-1", allow_bucket_creation=True
    )
    fs.create_dir(BUCKET)
    yield endpoint
    server.stop()
    mp.undo()


def _url(endpoint: str, name: str) -> str:
    return f"s3://{BUCKET}/{name}?endpoint_override={endpoint}&scheme=http&region=us-east-1"


def test_parquet_to_s3(world: ExportWorld, s3_endpoint: str) -> None:
    url = _url(s3_endpoint, f"{world.store.dialect_name}/parquet")
    spec = (parse_partition("synapses.post_pt_root_id:range:4"),)
    request = ExportRequest(world.datastack, world.version, url, partition_by=spec)
    manifest = export_version(world.store, request)
    checked = verify_release(url)
    assert checked.ok, checked.problems
    assert checked.rows == sum(t["rows"] for t in manifest["tables"])
    target = open_target(url)
    assert not target.exists(target.staging)
    data = pads.dataset(
        f"{target.root}/synapses", filesystem=target.fs, format="parquet", partitioning="hive"
    )
    expected = world.version_table("synapses")
    got = data.to_table(columns=expected.schema.names).sort_by("id")
    assert got.equals(expected.sort_by("id"))
    again = export_version(world.store, request)  # a finished release is left as it is
    assert again == manifest


def test_delta_to_s3(world: ExportWorld, s3_endpoint: str) -> None:
    url = _url(s3_endpoint, f"{world.store.dialect_name}/delta")
    request = ExportRequest(world.datastack, world.version, url, ("cell_types",), "delta")
    export_version(world.store, request)
    assert verify_release(url).ok
    target = open_target(url)
    frame = pl.read_delta(
        target.uri(f"{target.root}/cell_types"), storage_options=target.storage_options
    )
    expected = world.version_table("cell_types")
    got = frame.to_arrow().select(expected.schema.names).sort_by("id")
    assert got.cast(expected.schema).equals(expected.sort_by("id"))


def test_publication_cut_short_is_finished(
    world: ExportWorld, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops while the files are moved to their final names: the manifest is
    not there (so no reader takes the release for whole), and the same export run again
    finishes the move, leaving exactly the files the manifest lists."""
    url = _url(s3_endpoint, f"{world.store.dialect_name}/cut")
    spec = (parse_partition("post_pt_root_id:hash:3"),)
    request = ExportRequest(world.datastack, world.version, url, ("synapses",), "delta", spec)
    moved: list[str] = []
    move = Target.move_file

    def dropping(self: Target, source: str, destination: str) -> None:
        if len(moved) == 3:
            raise OSError("connection reset by peer")
        moved.append(destination)
        move(self, source, destination)

    monkeypatch.setattr(Target, "move_file", dropping)
    with pytest.raises(OSError, match="connection reset"):
        export_version(world.store, request)
    monkeypatch.setattr(Target, "move_file", move)
    target = open_target(url)
    assert len(target.files(target.root)) == 3
    assert not target.exists(f"{target.root}/manifest.json")
    export_version(world.store, request)
    checked = verify_release(url)
    assert checked.ok, checked.problems
    frame = pl.read_delta(
        target.uri(f"{target.root}/synapses"), storage_options=target.storage_options
    )
    expected = world.version_table("synapses")
    got = frame.to_arrow().select(expected.schema.names).sort_by("id")
    assert got.cast(expected.schema).equals(expected.sort_by("id"))
