"""Bulk upload through the workflow endpoint (admins only): the run writes the rows once, a
second run skips them all, and bad parameters are a 400 before any run is recorded."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from write_world import RES, WriteWorld, shared_world

from fixative.clock import utc_now
from fixative.runner.records import list_runs

ROWS = 40


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    return shared_world(request, backend)


def test_upload_through_the_workflow_endpoint(ww: WriteWorld) -> None:
    ww.client("ada").annotation.create_table("uploaded_tags", "bound_tag", "bulk", RES)
    synapses = ww.store.annotations_at("synapses", utc_now()).slice(0, ROWS).to_pylist()
    points = [
        f"[{s['pre_pt_position_x']}, {s['pre_pt_position_y']}, {s['pre_pt_position_z']}]"
        for s in synapses
    ]
    path = ww.services.settings.home / "uploads" / "tags.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table({"where": points, "tag": [f"u{i}" for i in range(ROWS)]}), path)
    body = {
        "table": "uploaded_tags",
        "files": ["uploads/tags.csv"],
        "map": {"where": "pt_position", "tag": "tag"},
        "start_id": 7,
        "chunk_rows": 16,
    }
    url = ww.flow(f"/datastack/{ww.datastack}/workflow/upload")
    refused = ww.call("POST", url, "alice", json=body)
    assert refused.status_code == 403, refused.text

    results = []
    for _ in range(2):
        started = ww.call("POST", url, "ada", json=body)
        assert started.status_code == 202, started.text
        ww.settle()
        run = ww.call("GET", ww.flow(f"/runs/{started.json()['id']}"), "ada").json()
        assert run["status"] == "SUCCEEDED", run["error"]
        assert run["progress"] == 1.0
        results.append(run["result"])
    assert results[0]["rows_inserted"] == ROWS
    assert (results[1]["rows_inserted"], results[1]["rows_skipped"]) == (0, ROWS)
    rows = ww.store.annotations_at("uploaded_tags", utc_now()).sort_by("id")
    assert rows.column("id").to_pylist() == list(range(7, 7 + ROWS))
    assert rows.column("tag").to_pylist() == [f"u{i}" for i in range(ROWS)]

    runs_before = len(list_runs(ww.store, 500))
    for bad in (
        {**body, "files": ["/etc/hostname"]},
        {**body, "files": ["uploads/missing.csv"]},
        {**body, "table": "synapses_of_nowhere"},
        {**body, "at": "2026-01-01T00:00:00Z"},
    ):
        got = ww.call("POST", url, "ada", json=bad)
        assert got.status_code == 400, got.text
        assert got.json()["message"]
    assert len(list_runs(ww.store, 500)) == runs_before
