"""The workflow endpoints as a datastack admin uses them: each kind started and watched to
the end (status, progress, result), CAVE's ingest path through caveclient, and parameters that
could only fail refused before anything is queued."""

from __future__ import annotations

from typing import Any

import pytest
from write_world import RES, WriteWorld, shared_world

from fixative.clock import utc_now


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    return shared_world(request, backend)


def _start(ww: WriteWorld, kind: str, body: Any = None) -> dict[str, Any]:
    got = ww.call(
        "POST", ww.flow(f"/datastack/{ww.datastack}/workflow/{kind}"), "ada", json=body or {}
    )
    assert got.status_code == 202, got.text
    run: dict[str, Any] = got.json()
    assert run["kind"] == kind
    return run


def _finished(ww: WriteWorld, run_id: int) -> dict[str, Any]:
    ww.settle()
    run: dict[str, Any] = ww.call("GET", ww.flow(f"/runs/{run_id}"), "ada").json()
    assert run["status"] == "SUCCEEDED", run
    assert run["progress"] == 1.0
    assert run["finished"] is not None
    return run


def test_complete_workflow_and_expiry(ww: WriteWorld) -> None:
    cave = ww.client("ada")
    before = set(cave.materialize.get_versions())
    run = _finished(ww, _start(ww, "materialize", {"days_to_expire": 1})["id"])
    version = run["result"]["version"]
    assert version not in before
    assert version in cave.materialize.get_versions()
    expiry = _finished(ww, _start(ww, "expire")["id"])
    assert version not in expiry["result"]["expired"]  # a day to go


def test_caveclient_ingest_path(ww: WriteWorld) -> None:
    alice = ww.client("alice").annotation
    alice.create_table("ingested_tags", "bound_tag", "d", RES)
    rows = [{"pt": {"position": [700 + i, 900, 9]}, "tag": "i"} for i in range(3)]
    alice.post_annotation("ingested_tags", rows)
    run = ww.client("ada").materialize.ingest_annotation_table("ingested_tags")
    assert run["kind"] == "ingest"
    assert run["params"]["table"] == "ingested_tags"
    _finished(ww, run["id"])
    live = ww.client("vera").materialize.live_live_query("ingested_tags", utc_now())
    assert len(live) == 3
    assert (live["pt_supervoxel_id"] >= 0).all()


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("nope", {}),
        ("create_version", {"at": "yesterday"}),
        ("create_version", {"at": "2999-01-01T00:00:00"}),
        ("update_roots", {"at": "2999-01-01T00:00:00"}),
        ("create_version", {"days_to_expire": 0}),
        ("create_version", {"days_to_expire": "3"}),
        ("create_version", {"days_to_expire": True}),
        ("ingest", {"table": "no_such_table"}),
        ("ingest", {"table": ["synapses"]}),
        ("update_roots", {"table": "synapses; DROP TABLE synapses"}),
        ("ingest", {"datastack": "other"}),
        ("ingest", ["synapses"]),
    ],
)
def test_bad_workflow_parameters_start_nothing(ww: WriteWorld, kind: str, body: Any) -> None:
    """A run that cannot succeed is refused at once (400), not queued to fail later."""
    before = len(ww.call("GET", ww.flow("/runs"), "ada", params={"limit": 500}).json())
    got = ww.call("POST", ww.flow(f"/datastack/{ww.datastack}/workflow/{kind}"), "ada", json=body)
    assert got.status_code == 400, got.text
    assert "message" in got.json()
    ww.settle()
    assert len(ww.call("GET", ww.flow("/runs"), "ada", params={"limit": 500}).json()) == before


def test_run_status_and_progress(ww: WriteWorld) -> None:
    started = ww.call(
        "POST",
        ww.flow(f"/datastack/{ww.datastack}/workflow/update_roots"),
        "ada",
        json={"table": "synapses"},
    )
    assert started.status_code == 202
    run_id = started.json()["id"]
    ww.settle()
    run = ww.call("GET", ww.flow(f"/runs/{run_id}"), "ada").json()
    assert run["status"] == "SUCCEEDED"
    assert run["kind"] == "update_roots"
    assert run["datastack"] == ww.datastack
    assert run["progress"] == 1.0
    assert "synapses" in run["result"]["tables"]
    listed = ww.call("GET", ww.flow("/runs"), "ada", params={"limit": 3}).json()
    assert run_id in [r["id"] for r in listed]
    assert len(listed) <= 3
    for bad in ("0", "501", "x", "-1"):
        assert ww.call("GET", ww.flow("/runs"), "ada", params={"limit": bad}).status_code == 400
    assert ww.call("GET", ww.flow("/runs/999999"), "ada").status_code == 404
    for huge in (2**63, 2**64 - 1):  # past the signed 64-bit id column: no run, not a 500
        assert ww.call("GET", ww.flow(f"/runs/{huge}"), "ada").status_code == 404
