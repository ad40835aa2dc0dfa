"""Annotation writes trigger ingest as one coalesced, rate-limited run per table
(``fixative.runner.coalesce``): many rapid POSTs from several threads make a few ingest runs,
none is left QUEUED, and every posted row gets the supervoxel and root ids of the oracle
(annotation log + volume + chunkedgraph)."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from write_world import INGEST_INTERVAL_S, RES, WriteWorld, shared_world

from fixative.clock import as_utc, utc_now
from fixative.runner.records import QUEUED, list_runs

POSTS, THREADS = 30, 4


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    return shared_world(request, backend)


def _positions(world: WriteWorld, n: int, start: int) -> list[list[float]]:
    rows = world.store.annotations_at("synapses", utc_now()).slice(start, n).to_pylist()
    return [[float(r[f"pre_pt_position_{a}"]) for a in "xyz"] for r in rows]


def test_rapid_posts_make_a_few_ingest_runs_that_link_every_row(ww: WriteWorld) -> None:
    ww.client("alice").annotation.create_table("rapid_tags", "bound_tag", "rapid", RES)
    points = _positions(ww, POSTS, start=10)
    url = ww.ann("/rapid_tags/annotations")

    def post(i: int) -> list[int]:
        body = {"annotations": [{"pt": {"position": points[i]}, "tag": f"r{i}"}]}
        got = ww.call("POST", url, "alice", json=body)
        assert got.status_code == 200, got.text
        return [int(x) for x in got.json()]

    began = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        ids = sorted(i for posted in pool.map(post, range(POSTS)) for i in posted)
    posting_s = time.monotonic() - began
    assert len(set(ids)) == POSTS
    ww.settle()

    runs = [
        r
        for r in list_runs(ww.store, 500)
        if r.kind == "ingest" and r.params.get("table") == "rapid_tags"
    ]
    # one run may start at once, then one per interval (plus the run's time) while posting
    # goes on, and one more for the last writes: never one per POST
    assert 1 <= len(runs) <= 2 + posting_s / INGEST_INTERVAL_S, (len(runs), posting_s)
    assert len(runs) < POSTS
    assert all(r.status == "SUCCEEDED" for r in runs), [r.error for r in runs]
    assert not [r for r in list_runs(ww.store, 500) if r.status == QUEUED]
    starts = sorted(r.started_at for r in runs if r.started_at is not None)
    for first, then in itertools.pairwise(starts):  # rate-limited: never two at once
        assert (then - first).total_seconds() >= INGEST_INTERVAL_S * 0.9
    for r in runs:  # each instant fixed when the run started, not when it was queued
        assert r.started_at is not None
        assert as_utc(r.params["at"]) >= r.created_at

    now = utc_now()
    want = ww.read.rows_at("rapid_tags", now)
    live = (
        ww.client("alice")
        .materialize.live_live_query("rapid_tags", now, split_positions=True)
        .sort_values("id")
    )
    assert live["id"].tolist() == ids == want["id"].tolist()
    for column in ("pt_supervoxel_id", "pt_root_id"):
        assert np.array_equal(live[column].to_numpy(), want[column].to_numpy()), column
    assert (live["pt_supervoxel_id"] > 0).all()
    linked = _segmentation_rows(ww, "rapid_tags")  # what the ingest runs wrote
    assert sorted(linked) == ids
    for i, row in want.iterrows():
        assert linked[int(row["id"])] == (row["pt_supervoxel_id"], row["pt_root_id"]), i


def _segmentation_rows(ww: WriteWorld, table: str) -> dict[int, tuple[int, int]]:
    """The segmentation table's rows: id -> (supervoxel id, root id)."""
    from fixative.store.segmentation import SegmentationTable

    seg = SegmentationTable.of(ww.store.get_table(table))
    query = f'SELECT id, pt_supervoxel_id, pt_root_id FROM "{seg.name}"'
    with ww.store.read() as conn:
        return {int(r[0]): (int(r[1]), int(r[2])) for r in conn.exec_driver_sql(query)}
