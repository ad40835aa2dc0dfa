"""The annotation API and chunkedgraph edits driven by the real caveclient with auth on: writes
ingested by the runs they trigger, a version made through the workflow endpoint, and frozen and
live queries afterwards equal to the oracle (annotation log + volume + chunkedgraph)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from write_world import RES, WriteWorld, shared_world

from fixative.clock import as_utc, utc_now
from fixative.demo import datastack


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    return shared_world(request, backend)


def _positions(world: WriteWorld, n: int, start: int = 0) -> list[list[float]]:
    """Positions (voxels at RES) of synapse pre points: inside cells, so supervoxels exist."""
    rows = world.store.annotations_at("synapses", utc_now()).slice(start, n).to_pylist()
    return [[float(r[f"pre_pt_position_{a}"]) for a in "xyz"] for r in rows]


def _same(got: pd.DataFrame, want: pd.DataFrame, columns: list[str]) -> None:
    got = got.sort_values("id").reset_index(drop=True)
    want = want.sort_values("id").reset_index(drop=True)
    assert got["id"].tolist() == want["id"].tolist()
    for c in columns:
        assert np.array_equal(got[c].to_numpy(), want[c].to_numpy()), c


def _version(world: WriteWorld, at: datetime | None = None, days: int = 3) -> tuple[int, Any]:
    """Ada makes a version through the workflow endpoint; returns (version, its timestamp)."""
    body: dict[str, Any] = {"days_to_expire": days}
    if at is not None:
        body["at"] = at.isoformat()
    started = world.call(
        "POST",
        world.flow(f"/datastack/{world.datastack}/workflow/create_version"),
        "ada",
        json=body,
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] in ("QUEUED", "RUNNING", "SUCCEEDED")
    world.settle()
    done = world.call("GET", world.flow(f"/runs/{run['id']}"), "ada").json()
    assert done["status"] == "SUCCEEDED", done
    assert done["progress"] == 1.0
    version = int(done["result"]["version"])
    ts = world.client("ada").materialize.get_timestamp(version)
    return version, as_utc(ts)


TAG_COLUMNS = ["pt_position_x", "pt_position_y", "pt_position_z", "tag"]
BOUND = ["pt_supervoxel_id", "pt_root_id"]


def test_caveclient_annotation_flow(ww: WriteWorld) -> None:
    alice = ww.client("alice").annotation
    alice.create_table("alice_tags", "bound_tag", "alice's tags", RES, read_permission="PRIVATE")
    assert "alice_tags" in alice.get_tables()
    meta = alice.get_table_metadata("alice_tags")
    assert meta["voxel_resolution"] == RES
    assert meta["read_permission"] == "PRIVATE"
    assert meta["user_id"] == "alice"
    points = _positions(ww, 6)
    posted = [{"pt": {"position": p}, "tag": f"t{i}"} for i, p in enumerate(points)]
    ids = alice.post_annotation("alice_tags", posted)
    assert len(ids) == 6
    assert len(set(ids)) == 6
    got = alice.get_annotation("alice_tags", ids)
    assert [g["id"] for g in sorted(got, key=lambda g: g["id"])] == sorted(ids)
    by_id = {g["id"]: g for g in got}
    for i, p in zip(ids, posted, strict=True):
        assert by_id[i]["pt"]["position"] == p["pt"]["position"]
        assert by_id[i]["tag"] == p["tag"]
        assert by_id[i]["valid"] is True
    assert alice.get_annotation_count("alice_tags") == 6

    moved = _positions(ww, 1, start=40)[0]
    mapping = alice.update_annotation(
        "alice_tags", [{"id": ids[0], "pt": {"position": moved}, "tag": "moved"}]
    )
    assert list(mapping) == [str(ids[0])]
    new_id = int(mapping[str(ids[0])])
    assert new_id not in ids
    old = alice.get_annotation("alice_tags", [ids[0]])[0]
    assert old["valid"] is False
    assert old["superceded_id"] == new_id
    deleted = alice.delete_annotation("alice_tags", ids[1:3])
    assert sorted(deleted) == sorted(ids[1:3])
    assert alice.get_annotation_count("alice_tags") == 4

    runs = [r for r in ww.settle() if r.params.get("table") == "alice_tags"]
    assert runs
    assert all(r.status == "SUCCEEDED" for r in runs), [r.error for r in runs]
    assert _unlinked(ww, "alice_tags") == []  # the writes' own ingest runs linked every row
    linked = ww.client("alice").materialize.live_live_query(
        "alice_tags", utc_now(), split_positions=True
    )
    _same(linked, ww.read.rows_at("alice_tags", utc_now()), TAG_COLUMNS + BOUND)
    assert len(linked) == 4
    now = utc_now()
    oracle = ww.read.rows_at("alice_tags", now)
    assert sorted(oracle["id"]) == sorted([new_id, *ids[3:]])

    version, ts = _version(ww)
    cave = ww.client("alice").materialize
    frozen = cave.query_table("alice_tags", materialization_version=version, split_positions=True)
    _same(frozen, ww.read.rows_at("alice_tags", ts), TAG_COLUMNS + BOUND)
    assert (frozen["pt_supervoxel_id"] > 0).all()
    live = cave.live_live_query("alice_tags", utc_now(), split_positions=True)
    _same(live, ww.read.rows_at("alice_tags", utc_now()), TAG_COLUMNS + BOUND)


def test_writes_after_a_version_show_in_live_queries(ww: WriteWorld) -> None:
    alice = ww.client("alice").annotation
    alice.create_table("late_types", "cell_type_local", "later", RES)
    points = _positions(ww, 4, start=80)
    rows = [
        {"pt": {"position": p}, "cell_type": f"c{i}", "classification_system": "demo"}
        for i, p in enumerate(points)
    ]
    ids = alice.post_annotation("late_types", rows[:2])
    ww.settle()
    more = alice.post_annotation("late_types", rows[2:])
    assert len(set(ids) | set(more)) == 4
    ww.settle()
    for who in ("bob", "vera"):  # PUBLIC read: anyone with view sees it, bound ids included
        live = ww.client(who).materialize.live_live_query(
            "late_types", utc_now(), split_positions=True
        )
        want = ww.read.rows_at("late_types", utc_now())
        _same(live, want, ["cell_type", "pt_position_x", *BOUND])
        assert len(live) == 4
        assert (live["pt_root_id"] > 0).all()


def _two_roots(ww: WriteWorld) -> tuple[tuple[int, list[float]], tuple[int, list[float]]]:
    """Two supervoxels of different roots, each with a position (nm) inside it."""
    syn = ww.read.rows_at("synapses", utc_now())
    first = syn.iloc[0]
    other = syn[syn["pre_pt_root_id"] != first["pre_pt_root_id"]].iloc[0]

    def point(row: Any) -> tuple[int, list[float]]:
        xyz = [float(row[f"pre_pt_position_{a}"]) * r for a, r in zip("xyz", RES, strict=True)]
        return int(row["pre_pt_supervoxel_id"]), xyz

    return point(first), point(other)


def test_merge_split_undo_through_caveclient(ww: WriteWorld) -> None:
    graph = ww.read.graph
    (sv_a, nm_a), (sv_b, nm_b) = _two_roots(ww)
    before = {sv: int(graph.get_roots(np.array([sv], dtype=np.uint64))[0]) for sv in (sv_a, sv_b)}
    assert before[sv_a] != before[sv_b]
    cg = ww.client("alice").chunkedgraph
    coords = np.array([nm_a, nm_b]) / np.array(RES)
    answer = cg.do_merge([sv_a, sv_b], coords, resolution=RES)
    assert answer["operation_id"] > 0
    (merged,) = answer["new_root_ids"]
    graph = ww.read.graph
    roots = graph.get_roots(np.array([sv_a, sv_b], dtype=np.uint64))
    assert roots.tolist() == [merged, merged]
    ops = {op.operation_id: op for op in graph.list_operations()}
    assert ops[answer["operation_id"]].user_id == "alice"

    live = ww.client("bob").materialize.live_live_query("synapses", utc_now())
    want = ww.read.rows_at("synapses", utc_now())
    _same(live, want, ["pre_pt_root_id", "post_pt_root_id"])
    assert merged in set(live["pre_pt_root_id"])

    bob = ww.client("bob").chunkedgraph
    op_id, new_roots = bob.execute_split([nm_a], [nm_b], merged, [sv_a], [sv_b])
    assert op_id > answer["operation_id"]
    assert len(new_roots) == 2
    graph = ww.read.graph
    after = graph.get_roots(np.array([sv_a, sv_b], dtype=np.uint64)).tolist()
    assert after[0] != after[1]
    assert set(after) == set(new_roots)
    ops = {op.operation_id: op for op in graph.list_operations()}
    assert ops[op_id].user_id == "bob"

    undone = ww.client("alice").chunkedgraph.undo_operation(op_id)
    assert undone["operation_id"] > op_id
    graph = ww.read.graph
    again = graph.get_roots(np.array([sv_a, sv_b], dtype=np.uint64)).tolist()
    assert again[0] == again[1]
    assert again[0] in undone["new_root_ids"]
    ops = {op.operation_id: op for op in graph.list_operations()}
    assert ops[undone["operation_id"]].user_id == "alice"

    version, ts = _version(ww)
    frozen = ww.client("vera").materialize.query_table(
        "synapses", materialization_version=version, split_positions=True
    )
    _same(frozen, ww.read.rows_at("synapses", ts), ["pre_pt_root_id", "post_pt_root_id"])
    assert again[0] in set(frozen["pre_pt_root_id"]) | set(frozen["post_pt_root_id"])


def test_redo_and_split_by_root_id_raw(ww: WriteWorld) -> None:
    """PyChunkedGraph-shaped requests: a split naming the root (the server finds the
    supervoxels under the points), then undo and redo of it."""
    (sv_a, nm_a), (sv_b, nm_b) = _two_roots(ww)
    merged = ww.call("POST", ww.seg("/merge"), "ada", json=[[sv_a, *nm_a], [sv_b, *nm_b]])
    assert merged.status_code == 200, merged.text
    root = merged.json()["new_root_ids"][0]
    split = ww.call(
        "POST", ww.seg("/split"), "ada", json={"sources": [[root, *nm_a]], "sinks": [[root, *nm_b]]}
    )
    assert split.status_code == 200, split.text
    split_op = split.json()["operation_id"]
    undo = ww.call("POST", ww.seg("/undo"), "ada", json={"operation_id": split_op})
    assert undo.status_code == 200, undo.text
    redo = ww.call("POST", ww.seg("/redo"), "ada", json={"operation_id": split_op})
    assert redo.status_code == 200, redo.text
    graph = ww.read.graph
    roots = graph.get_roots(np.array([sv_a, sv_b], dtype=np.uint64)).tolist()
    assert roots[0] != roots[1]
    assert set(roots) <= set(redo.json()["new_root_ids"])
    users = {op.operation_id: op.user_id for op in graph.list_operations()}
    assert users[redo.json()["operation_id"]] == "ada"
    assert datastack.PCG_TABLE in ww.seg("")


def _unlinked(ww: WriteWorld, table: str) -> list[Any]:
    """Id ranges of the table's rows still without supervoxel and root ids."""
    from datetime import timedelta

    from fixative.store.segmentation import SegmentationTable, unlinked_ranges

    seg = SegmentationTable.of(ww.store.get_table(table))
    with ww.store.read() as conn:
        return unlinked_ranges(conn, seg, utc_now() + timedelta(days=1), 1000)


def test_writes_while_an_ingest_waits_are_ingested(ww: WriteWorld) -> None:
    """Writes that arrive while the runner is busy (the table's ingest run already queued: its
    instant is fixed when it starts) still get supervoxel and root ids once the runs finish."""
    import threading

    from fixative.runner.inline import InlineRunner

    alice = ww.client("alice").annotation
    alice.create_table("busy_tags", "bound_tag", "d", RES)
    runner = ww.services.runner
    assert isinstance(runner, InlineRunner)
    release = threading.Event()
    blockers = [runner._pool.submit(release.wait, 60) for _ in range(4)]
    try:
        points = _positions(ww, 6, start=120)
        for i in range(3):
            rows = [{"pt": {"position": p}, "tag": f"b{i}"} for p in points[2 * i : 2 * i + 2]]
            alice.post_annotation("busy_tags", rows)
    finally:
        release.set()
        for b in blockers:
            b.result(timeout=60)
    runs = [r for r in ww.settle() if r.params.get("table") == "busy_tags"]
    assert runs
    assert all(r.status == "SUCCEEDED" for r in runs), [r.error for r in runs]
    assert _unlinked(ww, "busy_tags") == []
    live = ww.client("alice").materialize.live_live_query("busy_tags", utc_now())
    assert len(live) == 6
    assert (live["pt_supervoxel_id"] > 0).all()


def test_bad_edits_change_nothing(ww: WriteWorld) -> None:
    (sv_a, nm_a), (sv_b, nm_b) = _two_roots(ww)
    graph = ww.read.graph
    before = len(graph.list_operations())
    root_a = int(graph.get_roots(np.array([sv_a], dtype=np.uint64))[0])
    cases: list[tuple[str, Any]] = [
        ("/merge", [[sv_a, *nm_a]]),
        ("/merge", [[sv_a, *nm_a], [sv_b, *nm_b], [sv_b, *nm_b]]),
        ("/merge", [[sv_a, *nm_a], [sv_a, *nm_a]]),
        ("/merge", [[2**64, *nm_a], [sv_b, *nm_b]]),
        ("/merge", [[sv_a, *nm_a], [-5, *nm_b]]),
        ("/merge", [[sv_a, *nm_a], [2**63, *nm_b]]),
        ("/split", {"sources": [[root_a, 1e300, 0, 0]], "sinks": [[root_a, *nm_a]]}),
        ("/split", {"sources": [[root_a, float("inf"), 0, 0]], "sinks": [[root_a, *nm_a]]}),
        ("/split", {"sources": [[root_a, float("nan"), 0, 0]], "sinks": [[root_a, *nm_a]]}),
        ("/split", {"sources": [[root_a, -1e9, 0, 0]], "sinks": [[root_a, *nm_a]]}),
        ("/merge", [[sv_a, *nm_a], [True, *nm_b]]),
        ("/merge", [[sv_a, "1; DROP TABLE synapses", 0, 0], [sv_b, *nm_b]]),
        ("/merge", {"sv": sv_a}),
        ("/split", {"sources": [[sv_a, *nm_a]], "sinks": [[sv_b, *nm_b]]}),  # two roots
        ("/split", {"sources": [[sv_a, *nm_a]], "sinks": [[sv_a, *nm_a]]}),
        ("/split", {"sources": [[root_a, *nm_b]], "sinks": [[root_a, *nm_a]]}),  # nm_b: not in it
        ("/split", {"sources": [], "sinks": [[sv_a, *nm_a]]}),
        ("/split", {"sources": [[sv_a, *nm_a]], "sinks": [[sv_b, *nm_b]], "x": 1}),
        ("/undo", {"operation_id": 10**9}),
        ("/redo", {"operation_id": 10**9}),
        ("/undo", {"operation_id": "1"}),
        ("/redo", {}),
    ]
    for path, body in cases:
        raw = json.dumps(body).encode()  # inf and nan as JavaScript writes them
        headers = {"Content-Type": "application/json"}
        got = ww.call("POST", ww.seg(path), "alice", data=raw, headers=headers)
        assert 400 <= got.status_code < 500, (path, body, got.status_code, got.text[:200])
        assert "message" in got.json()
    assert len(ww.read.graph.list_operations()) == before
    assert int(ww.read.graph.get_roots(np.array([sv_a], dtype=np.uint64))[0]) == root_a


def test_failed_writes_are_all_or_nothing(ww: WriteWorld) -> None:
    alice = ww.client("alice").annotation
    alice.create_table("atomic_tags", "bound_tag", "d", RES)
    points = _positions(ww, 3, start=200)
    ids = alice.post_annotation(
        "atomic_tags", [{"pt": {"position": p}, "tag": "a"} for p in points]
    )
    url = ww.ann("/atomic_tags/annotations")

    def visible() -> list[int]:
        got = ww.store.annotations_at("atomic_tags", utc_now()).column("id").to_pylist()
        return sorted(int(i) for i in got)

    before = visible()
    good = {"pt": {"position": points[0]}, "tag": "ok"}
    bad = {"pt": {"position": "nowhere"}, "tag": "bad"}
    for method, body in (
        ("POST", {"annotations": [good, bad]}),
        ("POST", {"annotations": [good, {"tag": "no point"}]}),
        ("PUT", {"annotations": [{"id": ids[0], **good}, {"id": 10**9, **good}]}),
        ("PUT", {"annotations": [{"id": ids[0], **good}, {"id": ids[1], **bad}]}),
        ("PUT", {"annotations": [good]}),
        ("DELETE", {"annotation_ids": [ids[0], 10**9]}),
        ("DELETE", {"annotation_ids": [ids[0], "x"]}),
        ("POST", {"annotations": []}),
        ("POST", {"rows": [good]}),
        ("POST", [good]),
    ):
        got = ww.call(method, url, "alice", json=body)
        assert 400 <= got.status_code < 500, (method, body, got.status_code, got.text[:200])
        assert visible() == before, (method, body)
    alice.delete_annotation("atomic_tags", [ids[2]])
    again = ww.call("DELETE", url, "alice", json={"annotation_ids": [ids[2]]})
    assert 400 <= again.status_code < 500
    stale = ww.call("PUT", url, "alice", json={"annotations": [{"id": ids[2], **good}]})
    assert 400 <= stale.status_code < 500
    assert visible() == sorted(ids[:2])
