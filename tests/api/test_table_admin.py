"""Annotation-table administration through the real caveclient with auth on: metadata changed
by its owner or an admin only, soft deletion (hidden everywhere, rows kept, name kept), and
the supervoxel lookup of new rows, compared with the oracle (volume + chunkedgraph)."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import sqlalchemy as sa
from write_world import RES, WriteWorld, shared_world

from fixative.clock import utc_now
from fixative.store.table_admin import deleted_tables


@pytest.fixture(scope="module")
def ww(backend: str, request: pytest.FixtureRequest) -> WriteWorld:
    return shared_world(request, backend)


def _positions(world: WriteWorld, n: int) -> list[list[float]]:
    rows = world.store.annotations_at("synapses", utc_now()).slice(0, n).to_pylist()
    return [[float(r[f"pre_pt_position_{a}"]) for a in "xyz"] for r in rows]


def _table(world: WriteWorld, who: str, name: str, rows: int = 3) -> list[int]:
    cave = world.client(who).annotation
    cave.create_table(name, "bound_tag", "to administer", RES, write_permission="PUBLIC")
    posted = [
        {"pt": {"position": p}, "tag": f"t{i}"} for i, p in enumerate(_positions(world, rows))
    ]
    ids: list[int] = cave.post_annotation(name, posted)
    return ids


def _status(exc: pytest.ExceptionInfo[requests.HTTPError]) -> int:
    assert exc.value.response is not None
    return exc.value.response.status_code


def test_owner_updates_metadata(ww: WriteWorld) -> None:
    _table(ww, "alice", "admin_meta", rows=1)
    alice = ww.client("alice").annotation
    got = alice.update_metadata(
        "admin_meta",
        description="checked by hand",
        notice_text="preliminary",
        read_permission="GROUP",
        flat_segmentation_source="precomputed://flat",
    )
    assert got["description"] == "checked by hand"
    assert got["notice_text"] == "preliminary"
    assert got["read_permission"] == "GROUP"
    meta = alice.get_table_metadata("admin_meta")
    assert meta["flat_segmentation_source"] == "precomputed://flat"
    assert meta["notice_text"] == "preliminary"
    assert meta["write_permission"] == "PUBLIC"  # untouched
    assert meta["voxel_resolution"] == RES
    assert alice.update_metadata("admin_meta", notice_text="None")["notice_text"] is None
    # GROUP: bob shares a group with alice and reads it; vera does not
    assert "admin_meta" in ww.client("bob").annotation.get_tables()
    assert "admin_meta" not in ww.client("vera").annotation.get_tables()


def test_only_owner_or_admin_change_a_table(ww: WriteWorld) -> None:
    _table(ww, "alice", "admin_guarded", rows=1)
    with pytest.raises(requests.HTTPError) as refused:
        ww.client("bob").annotation.update_metadata("admin_guarded", description="mine now")
    assert _status(refused) == 403
    with pytest.raises(requests.HTTPError) as refused:
        ww.client("bob").annotation.delete_table("admin_guarded")
    assert _status(refused) == 403
    ada = ww.client("ada").annotation
    assert ada.update_metadata("admin_guarded", user_id="carl")["user_id"] == "carl"
    with pytest.raises(requests.HTTPError) as refused:  # alice gave it away (through ada)
        ww.client("alice").annotation.update_metadata("admin_guarded", description="x")
    assert _status(refused) == 403
    assert (
        ww.client("carl").annotation.update_metadata("admin_guarded", description="c")[
            "description"
        ]
        == "c"
    )


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"table_name": "admin_bad", "metadata": {"valid": False}}, 400, "valid"),
        ({"table_name": "admin_bad", "metadata": {"read_permission": "ALL"}}, 400, "PUBLIC"),
        ({"table_name": "admin_bad", "metadata": {"description": 5}}, 400, "string"),
        ({"table_name": "admin_bad", "metadata": {"user_id": ""}}, 400, "user_id"),
        ({"table_name": "admin_bad", "extra": 1}, 400, "extra"),
        ({"metadata": {}}, 400, "table_name"),
        ({"table_name": "no_such_table", "metadata": {}}, 404, "no_such_table"),
    ],
)
def test_bad_updates_are_4xx_and_change_nothing(
    ww: WriteWorld, body: dict[str, object], status: int, says: str
) -> None:
    if ww.store.find_table("admin_bad") is None:
        _table(ww, "alice", "admin_bad", rows=1)
    before = ww.store.get_table("admin_bad")
    got = ww.call("PUT", ww.ann(), "alice", json=body)
    assert got.status_code == status, got.text
    assert says in got.json()["message"]
    assert ww.store.get_table("admin_bad") == before


def test_deleted_table_is_hidden_and_kept(ww: WriteWorld) -> None:
    ids = _table(ww, "alice", "admin_gone", rows=4)
    ww.settle()
    alice = ww.client("alice")
    assert alice.annotation.delete_table("admin_gone") is True
    assert "admin_gone" in deleted_tables(ww.store)
    assert "admin_gone" not in alice.annotation.get_tables()
    assert ww.store.find_table("admin_gone") is None
    for method, url, kw in (
        ("GET", ww.ann("/admin_gone"), {}),
        ("GET", ww.ann("/admin_gone/count"), {}),
        ("GET", ww.ann("/admin_gone/annotations"), {"params": {"annotation_ids": ids[0]}}),
        ("POST", ww.ann("/admin_gone/annotations"), {"json": {"annotations": [{"tag": "x"}]}}),
        ("DELETE", ww.ann("/admin_gone"), {}),
        ("GET", ww.mat("/table/admin_gone/unique_string_values"), {}),
        ("GET", ww.mat("/table/admin_gone/info"), {}),
    ):
        got = ww.call(method, url, "ada", **kw)
        assert got.status_code == 404, (method, url, got.text)
    live = ww.call(
        "POST",
        ww.mat("/query"),
        "ada",
        json={"table": "admin_gone", "timestamp": utc_now().isoformat()},
        params={"return_pyarrow": "False"},
    )
    assert live.status_code == 404, live.text
    with ww.store.engine.connect() as conn:  # the rows are kept
        kept = conn.execute(sa.text("SELECT id FROM admin_gone ORDER BY id")).scalars().all()
    assert list(kept) == sorted(ids)
    again = ww.call(
        "POST",
        ww.ann(),
        "alice",
        json={
            "schema_type": "bound_tag",
            "table_name": "admin_gone",
            "metadata": {f"voxel_resolution_{a}": r for a, r in zip("xyz", RES, strict=True)},
        },
    )
    assert again.status_code == 409, again.text


def test_lookup_svid_links_new_rows(ww: WriteWorld) -> None:
    ids = _table(ww, "alice", "admin_lookup", rows=5)
    mat = ww.client("alice").materialize
    run = mat.lookup_supervoxel_ids("admin_lookup", annotation_ids=ids[:2])
    assert run["kind"] == "ingest"
    assert run["params"]["table"] == "admin_lookup"
    ww.settle()
    now = utc_now()
    want = ww.read.rows_at("admin_lookup", now)
    got = ww.store.annotations_at("admin_lookup", now).to_pandas()
    seg = ww.store.table_object(ww.store.get_table("admin_lookup").segmentation_table)
    with ww.store.read() as conn:
        linked = dict(conn.execute(sa.select(seg.c.id, seg.c.pt_supervoxel_id)).all())
    assert sorted(linked) == sorted(got["id"].tolist())
    assert [linked[i] for i in want["id"]] == want["pt_supervoxel_id"].tolist()
    assert np.all(want["pt_supervoxel_id"] > 0)
    assert isinstance(mat.lookup_supervoxel_ids("admin_lookup"), dict)


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("alice", {"annotation_ids": [2**40]}, 404),
        ("alice", {"annotation_ids": "1"}, 400),
        ("alice", {"ids": [1]}, 400),
        ("vera", {}, 403),
    ],
)
def test_bad_lookups(ww: WriteWorld, who: str, body: dict[str, object], status: int) -> None:
    if ww.store.find_table("admin_lookup_bad") is None:
        _table(ww, "alice", "admin_lookup_bad", rows=1)
    url = f"{ww.url}/materialize/api/v2/materialize/run/lookup_svid/datastack/{ww.datastack}"
    got = ww.call("POST", f"{url}/admin_lookup_bad", who, json=body)
    assert got.status_code == status, got.text
    assert got.json()["message"]


def test_a_referenced_table_is_deleted_after_its_referrers(ww: WriteWorld) -> None:
    _table(ww, "alice", "admin_target", rows=2)
    alice = ww.client("alice").annotation
    alice.create_table(
        "admin_refs", "reference_tag", "tags of targets", RES, reference_table="admin_target"
    )
    refused = ww.call("DELETE", ww.ann("/admin_target"), "alice")
    assert refused.status_code == 409, refused.text
    assert "admin_refs" in refused.json()["message"]
    assert ww.store.find_table("admin_target") is not None
    assert alice.delete_table("admin_refs") is True
    assert alice.delete_table("admin_target") is True
