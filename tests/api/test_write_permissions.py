"""The permission matrix: every user (no token, view, edit owner, edit in the owner's group,
edit outside it, admin, a token for another datastack) against tables PRIVATE, GROUP and PUBLIC
on every endpoint that reads or writes them. Refused writes change nothing; the decision is
made per user, so one user's access never leaks to the next (the original's cached decision)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from write_world import AV, RES, WriteWorld, shared_world

from fixative.clock import utc_now

PERMS = ("PRIVATE", "GROUP", "PUBLIC")
WHO = (None, "vera", "alice", "bob", "carl", "ada", "other")
TABLE = {p: f"{p.lower()}_t" for p in PERMS}


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    world = shared_world(request, backend)
    for perm, name in TABLE.items():
        world.client("alice").annotation.create_table(
            name, "bound_tag", perm, RES, read_permission=perm, write_permission=perm
        )
        rows = [{"pt": {"position": [1000 + i, 1000, 10]}, "tag": "x"} for i in range(3)]
        assert (
            world.call(
                "POST", world.ann(f"/{name}/annotations"), "alice", json={"annotations": rows}
            ).status_code
            == 200
        )
    world.settle()
    started = world.call(
        "POST", world.flow(f"/datastack/{world.datastack}/workflow/create_version"), "ada"
    )
    assert started.status_code == 202, started.text
    world.settle()
    return world


def read_status(who: str | None, perm: str) -> int:
    if who is None:
        return 401
    if who == "other":
        return 403
    if who in ("alice", "ada") or perm == "PUBLIC" or (perm == "GROUP" and who == "bob"):
        return 200
    return 403


def write_status(who: str | None, perm: str) -> int:
    if who == "vera":
        return 403  # view only: not even a PUBLIC table
    return read_status(who, perm)


def _version(ww: WriteWorld) -> int:
    return max(ww.client("ada").materialize.get_versions())


def _ids(ww: WriteWorld, table: str) -> list[int]:
    return sorted(ww.store.annotations_at(table, utc_now()).column("id").to_pylist())


def _reads(ww: WriteWorld, table: str) -> list[tuple[str, str, dict[str, Any]]]:
    first = _ids(ww, table)[0]
    v = _version(ww)
    live = {"table": table, "timestamp": utc_now().isoformat()}
    return [
        ("GET", ww.ann(f"/{table}"), {}),
        ("GET", ww.ann(f"/{table}/count"), {}),
        ("GET", ww.ann(f"/{table}/annotations"), {"params": {"annotation_ids": str(first)}}),
        ("GET", ww.mat(f"/version/{v}/table/{table}/metadata"), {}),
        ("GET", ww.mat(f"/version/{v}/table/{table}/count"), {}),
        ("POST", ww.mat(f"/version/{v}/table/{table}/query"), {"json": {}}),
        ("POST", ww.mat("/query"), {"json": live}),
    ]


@pytest.mark.parametrize("perm", PERMS)
@pytest.mark.parametrize("who", WHO)
def test_reading_a_table(ww: WriteWorld, who: str | None, perm: str) -> None:
    want = read_status(who, perm)
    for method, url, kw in _reads(ww, TABLE[perm]):
        got = ww.call(method, url, who, **kw)
        assert got.status_code == want, (method, url, got.text[:200])
        if want != 200:
            assert "message" in got.json()


@pytest.mark.parametrize("perm", PERMS)
@pytest.mark.parametrize("who", WHO)
def test_writing_a_table(ww: WriteWorld, who: str | None, perm: str) -> None:
    table = TABLE[perm]
    want = write_status(who, perm)
    before = _ids(ww, table)
    row = {"pt": {"position": [1200, 1000, 10]}, "tag": f"by {who}"}
    posted = ww.call("POST", ww.ann(f"/{table}/annotations"), who, json={"annotations": [row]})
    assert posted.status_code == want, posted.text
    target = posted.json()[0] if want == 200 else before[0]
    updated = ww.call(
        "PUT", ww.ann(f"/{table}/annotations"), who, json={"annotations": [{"id": target, **row}]}
    )
    assert updated.status_code == want, updated.text
    if want == 200:
        target = int(updated.json()[str(target)])
    deleted = ww.call(
        "DELETE", ww.ann(f"/{table}/annotations"), who, json={"annotation_ids": [target]}
    )
    assert deleted.status_code == want, deleted.text
    assert _ids(ww, table) == before  # refused: nothing written; allowed: all undone


@pytest.mark.parametrize("who", WHO)
def test_listings_hold_only_readable_tables(ww: WriteWorld, who: str | None) -> None:
    want = {t for p, t in TABLE.items() if read_status(who, p) == 200}
    status = 200 if who not in (None, "other") else read_status(who, "PUBLIC")
    listed = ww.call("GET", ww.ann(), who)
    frozen = ww.call("GET", ww.mat(f"/version/{_version(ww)}/tables"), "ada" if who else None)
    assert listed.status_code == status
    if status == 200:
        assert set(listed.json()) & set(TABLE.values()) == want
        assert "synapses" in listed.json()
        as_who = ww.call("GET", ww.mat(f"/version/{_version(ww)}/tables"), who)
        assert set(as_who.json()) & set(TABLE.values()) == want
        assert frozen.status_code == 200


def test_the_decision_is_not_cached_across_users(ww: WriteWorld) -> None:
    """Alice reads her private table, then bob asks for the same things: refused every time,
    and his listings do not name it, also when the requests alternate."""
    table = TABLE["PRIVATE"]
    for _ in range(3):
        for method, url, kw in _reads(ww, table):
            assert ww.call(method, url, "alice", **kw).status_code == 200
            assert ww.call(method, url, "bob", **kw).status_code == 403
        assert table in ww.call("GET", ww.ann(), "alice").json()
        assert table not in ww.call("GET", ww.ann(), "bob").json()
        v = _version(ww)
        assert table not in ww.call("GET", ww.mat(f"/version/{v}/tables"), "bob").json()
        for who, shown in (("alice", True), ("bob", False)):
            metas = ww.call("GET", ww.mat(f"/version/{v}/tables/metadata"), who).json()
            names = {m.get("table_name") or m.get("annotation_table") for m in metas}
            assert (table in names) is shown
    bob = ww.client("bob").materialize
    with pytest.raises(requests.HTTPError):
        bob.query_table(table)
    v = _version(ww)
    chain = {"tables": [["synapses", "pre_pt_root_id"], [table, "pt_root_id"]]}
    joins = {
        "table": "synapses",
        "timestamp": utc_now().isoformat(),
        "join_tables": [["synapses", "pre_pt_root_id", table, "pt_root_id"]],
    }
    for who, want in (("alice", 200), ("bob", 403), ("alice", 200), ("bob", 403)):
        assert ww.call("POST", ww.mat(f"/version/{v}/query"), who, json=chain).status_code == want
        assert ww.call("POST", ww.mat("/query"), who, json=joins).status_code == want


@pytest.mark.parametrize("who", WHO)
def test_creating_a_table(ww: WriteWorld, who: str | None) -> None:
    name = f"made_by_{who or 'nobody'}"
    body = {
        "table_name": name,
        "schema_type": "bound_tag",
        "metadata": {
            "description": "d",
            "voxel_resolution_x": 8,
            "voxel_resolution_y": 8,
            "voxel_resolution_z": 40,
        },
    }
    got = ww.call("POST", ww.ann(), who, json=body)
    want = {None: 401, "vera": 403, "other": 403}.get(who, 200)
    assert got.status_code == want, got.text
    assert (ww.store.find_table(name) is not None) == (want == 200)
    if want == 200:
        assert ww.store.get_table(name).user_id == who


def test_only_admins_create_tables_for_others(ww: WriteWorld) -> None:
    body = {
        "table_name": "for_bob",
        "schema_type": "bound_tag",
        "metadata": {
            "user_id": "bob",
            "voxel_resolution_x": 8,
            "voxel_resolution_y": 8,
            "voxel_resolution_z": 40,
        },
    }
    assert ww.call("POST", ww.ann(), "alice", json=body).status_code == 400
    assert ww.store.find_table("for_bob") is None
    assert ww.call("POST", ww.ann(), "ada", json=body).status_code == 200
    assert ww.store.get_table("for_bob").user_id == "bob"


@pytest.mark.parametrize("who", [None, "vera", "other"])
def test_edits_refused_without_edit_permission(ww: WriteWorld, who: str | None) -> None:
    graph = ww.read.graph
    before = len(graph.list_operations())
    syn = ww.read.rows_at("synapses", utc_now())
    a, b = syn.iloc[0], syn.iloc[-1]
    rows = [[int(r["pre_pt_supervoxel_id"]), 0.0, 0.0, 0.0] for r in (a, b)]
    want = 401 if who is None else 403
    for path, body in (
        ("/merge", rows),
        ("/split", {"sources": rows[:1], "sinks": rows[1:]}),
        ("/undo", {"operation_id": 1}),
        ("/redo", {"operation_id": 1}),
    ):
        got = ww.call("POST", ww.seg(path), who, json=body)
        assert got.status_code == want, (path, got.text)
    assert len(ww.read.graph.list_operations()) == before


def test_a_view_token_reads_the_chunkedgraph_through_its_posts(ww: WriteWorld) -> None:
    """The POSTs that only read (how caveclient resolves a live query's roots) need view, not
    edit: a view token once got 403 from roots_binary, so live queries failed for viewers."""
    import numpy as np

    syn = ww.read.rows_at("synapses", utc_now())
    svids = [int(v) for v in syn["pre_pt_supervoxel_id"].iloc[:3]]
    raw = np.array(svids, dtype="<u8").tobytes()
    got = ww.call("POST", ww.seg("/roots_binary"), "vera", data=raw)
    assert got.status_code == 200, got.text
    assert np.frombuffer(got.content, dtype="<u8").tolist() == [
        int(r) for r in syn["pre_pt_root_id"].iloc[:3]
    ]
    roots = [int(r) for r in syn["pre_pt_root_id"].iloc[:2]]
    for path, body in (
        ("/roots", {"node_ids": svids}),
        ("/lineage_graph_multiple", {"root_ids": roots}),
    ):
        got = ww.call("POST", ww.seg(path), "vera", json=body)
        assert got.status_code == 200, (path, got.text)


@pytest.mark.parametrize("who", WHO)
def test_workflows_are_for_admins(ww: WriteWorld, who: str | None) -> None:
    runs_before = len(ww.call("GET", ww.flow("/runs"), "ada", params={"limit": 500}).json())
    start = ww.call(
        "POST",
        ww.flow(f"/datastack/{ww.datastack}/workflow/ingest"),
        who,
        json={"table": TABLE["PUBLIC"]},
    )
    cave = ww.call(
        "POST",
        f"{ww.url}/materialize/api/v2/materialize/run/ingest_annotations/datastack/"
        f"{ww.datastack}/{TABLE['PUBLIC']}",
        who,
    )
    listed = ww.call("GET", ww.flow("/runs"), who)
    one = ww.call("GET", ww.flow("/runs/1"), who)
    ww.settle()
    if who == "ada":
        assert (start.status_code, cave.status_code, listed.status_code) == (202, 200, 200)
        assert one.status_code == 200
        assert (
            len(ww.call("GET", ww.flow("/runs"), "ada", params={"limit": 500}).json())
            == runs_before + 2
        )
        return
    want = 401 if who is None else 403
    assert (start.status_code, cave.status_code, one.status_code) == (want, want, want)
    assert len(ww.call("GET", ww.flow("/runs"), "ada", params={"limit": 500}).json()) == runs_before
    if who is None:
        assert listed.status_code == 401
    else:  # the list answers, without this datastack's runs
        assert listed.status_code == 200
        assert [r for r in listed.json() if r["datastack"] == ww.datastack] == []


def test_aligned_volume_of_another_server(ww: WriteWorld) -> None:
    got = ww.call("GET", f"{ww.url}/annotation/api/v2/aligned_volume/nope/table", "ada")
    assert got.status_code in (403, 404)
    assert AV in ww.ann()


def test_group_changes_take_effect_at_once(ww: WriteWorld) -> None:
    from fixative.auth.tokens import add_to_group, remove_from_group

    url = ww.ann(f"/{TABLE['GROUP']}/count")
    assert ww.call("GET", url, "bob").status_code == 200
    remove_from_group(ww.store, "bob", "lab")
    try:
        assert ww.call("GET", url, "bob").status_code == 403
        assert TABLE["GROUP"] not in ww.call("GET", ww.ann(), "bob").json()
        assert ww.call("GET", url, "alice").status_code == 200
    finally:
        add_to_group(ww.store, "bob", "lab")
    assert ww.call("GET", url, "bob").status_code == 200


def test_a_token_for_every_datastack(ww: WriteWorld) -> None:
    from fixative.auth.tokens import create_token

    _, secret = create_token(ww.store, "root", "*", "view")
    headers = {"Authorization": f"Bearer {secret}"}
    got = requests.get(ww.ann(f"/{TABLE['PUBLIC']}/count"), headers=headers, timeout=30)
    assert got.status_code == 200
    got = requests.get(ww.ann(f"/{TABLE['PRIVATE']}/count"), headers=headers, timeout=30)
    assert got.status_code == 403
