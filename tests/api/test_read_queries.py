"""Frozen and live queries through the real caveclient against a live server, each compared
with the oracle (annotation log + volume + chunkedgraph at the instant)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import requests
from read_world import ReadWorld, client

from fixative.api.app import create_app
from fixative.api.services import HttpServices
from fixative.query.engine import QueryEngine
from fixative.testing.server import serve

SYN_KEYS = ("pre_pt_root_id", "post_pt_root_id", "pre_pt_supervoxel_id", "size")


def same_rows(got: pd.DataFrame, want: pd.DataFrame, columns: list[str] | None = None) -> None:
    """``got`` holds exactly ``want``'s rows (by id) with equal values in ``columns``."""
    cols = columns or [c for c in want.columns if c in got.columns and c != "created"]
    got = got.sort_values("id").reset_index(drop=True)
    want = want.sort_values("id").reset_index(drop=True)
    assert got["id"].tolist() == want["id"].tolist()
    for c in cols:
        assert np.array_equal(got[c].to_numpy(), want[c].to_numpy()), c


def v(world: ReadWorld, n: int) -> datetime:
    return world.instants[f"v{n}"]


def test_whole_tables_at_each_version(world: ReadWorld) -> None:
    cave = client(world)
    for n in (2, 3):
        for table in ("synapses", "cell_types", "nuclei"):
            got = cave.materialize.query_table(
                table, materialization_version=n, split_positions=True
            )
            want = world.rows_at(table, v(world, n))
            same_rows(got, want)
            assert len(want) > 0
            for c in got.columns:
                if c.endswith(("_root_id", "_supervoxel_id")) or c == "id":
                    assert got[c].dtype == np.int64, c
            assert got.attrs["dataframe_resolution"] == [8.0, 8.0, 40.0]


def test_full_columns_and_position_groups(world: ReadWorld) -> None:
    cave = client(world)
    got = cave.materialize.query_table("synapses", limit=3)
    assert isinstance(got["pre_pt_position"].iloc[0], np.ndarray)
    want = world.rows_at("synapses", v(world, 3)).head(3)
    for i in range(3):
        xyz = [want[f"pre_pt_position_{a}"].iloc[i] for a in "xyz"]
        assert got["pre_pt_position"].iloc[i].tolist() == xyz


def _frozen(world: ReadWorld, **kw: Any) -> pd.DataFrame:
    return client(world).materialize.query_table(
        "synapses", materialization_version=2, split_positions=True, **kw
    )


def test_each_filter_kind(world: ReadWorld) -> None:
    want = world.rows_at("synapses", v(world, 2))
    roots = want["pre_pt_root_id"].value_counts().index[:3].tolist()
    size = float(want["size"].median())
    one = int(roots[0])
    cases: list[tuple[dict[str, Any], pd.Series]] = [
        ({"filter_in_dict": {"pre_pt_root_id": roots}}, want["pre_pt_root_id"].isin(roots)),
        ({"filter_out_dict": {"pre_pt_root_id": roots}}, ~want["pre_pt_root_id"].isin(roots)),
        ({"filter_equal_dict": {"pre_pt_root_id": one}}, want["pre_pt_root_id"] == one),
        ({"filter_greater_dict": {"size": size}}, want["size"] > size),
        ({"filter_less_dict": {"size": size}}, want["size"] < size),
        ({"filter_greater_equal_dict": {"size": size}}, want["size"] >= size),
        ({"filter_less_equal_dict": {"size": size}}, want["size"] <= size),
    ]
    lo, hi = [20, 10, 0], [120, 60, 5]
    x, y, z = (want[f"pre_pt_position_{a}"] for a in "xyz")
    box = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]) & (z >= lo[2]) & (z <= hi[2])
    cases.append(({"filter_spatial_dict": {"pre_pt_position": [lo, hi]}}, box))
    for kwargs, mask in cases:
        got = _frozen(world, **kwargs)
        assert 0 < mask.sum() < len(want), kwargs
        same_rows(got, want[mask])


def test_select_resolution_and_paging(world: ReadWorld) -> None:
    want = world.rows_at("synapses", v(world, 2))
    got = _frozen(world, select_columns=["id", "pre_pt_root_id", "pre_pt_position"])
    assert list(got.columns) == [
        "id",
        "pre_pt_position_x",
        "pre_pt_position_y",
        "pre_pt_position_z",
        "pre_pt_root_id",
    ] or set(got.columns) == {
        "id",
        "pre_pt_position_x",
        "pre_pt_position_y",
        "pre_pt_position_z",
        "pre_pt_root_id",
    }
    same_rows(got, want)
    scaled = _frozen(world, desired_resolution=[4, 4, 40])
    assert scaled.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]
    same_rows(scaled, want, ["pre_pt_root_id"])
    assert (scaled["pre_pt_position_x"].to_numpy() == 2 * want["pre_pt_position_x"]).all()
    assert (scaled["pre_pt_position_z"].to_numpy() == want["pre_pt_position_z"]).all()
    page = _frozen(world, offset=7, limit=11)
    same_rows(page, want.iloc[7:18])


def test_json_records(world: ReadWorld) -> None:
    want = world.rows_at("synapses", v(world, 3)).head(4)
    got = client(world).materialize.query_table("synapses", limit=4, return_df=False)
    assert isinstance(got, list)
    assert [r["id"] for r in got] == want["id"].tolist()
    assert [r["pre_pt_root_id"] for r in got] == want["pre_pt_root_id"].tolist()
    assert all(isinstance(r["pre_pt_root_id"], int) for r in got)


def test_reference_table_merges_its_target(world: ReadWorld) -> None:
    got = client(world).materialize.query_table("nucleus_tags", split_positions=True)
    tags = world.rows_at("nucleus_tags", v(world, 3))
    nuclei = world.rows_at("nuclei", v(world, 3))
    want = tags.merge(nuclei, left_on="target_id", right_on="id", suffixes=("", "_ref"))
    same_rows(got, want, ["target_id", "tag", "pt_root_id", "pt_position_x"])
    assert (got["id_ref"].to_numpy() == got["target_id"].to_numpy()).all()


def test_join_query(world: ReadWorld) -> None:
    cave = client(world)
    got = cave.materialize.join_query(
        [["synapses", "pre_pt_root_id"], ["cell_types", "pt_root_id"]],
        filter_in_dict={"cell_types": {"classification_system": ["interneuron", "motor neuron"]}},
        select_columns={"synapses": ["id", "size"], "cell_types": ["cell_type", "id"]},
        suffixes={"synapses": "_syn", "cell_types": "_ct"},
        materialization_version=3,
    )
    syn = world.rows_at("synapses", v(world, 3))
    cells = world.rows_at("cell_types", v(world, 3))
    cells = cells[cells["classification_system"].isin(["interneuron", "motor neuron"])]
    want = syn.merge(cells, left_on="pre_pt_root_id", right_on="pt_root_id")
    assert len(want) > 0
    key = sorted(zip(got["id_syn"], got["id_ct"], strict=True))
    assert key == sorted(zip(want["id_x"], want["id_y"], strict=True))
    assert set(got.columns) == {"id_syn", "size", "cell_type", "id_ct"}


def test_synapse_query(world: ReadWorld) -> None:
    want = world.rows_at("synapses", v(world, 3))
    pre = int(want["pre_pt_root_id"].value_counts().index[0])
    got = client(world).materialize.synapse_query(pre_ids=pre, split_positions=True)
    mask = (want["pre_pt_root_id"] == pre) & (want["pre_pt_root_id"] != want["post_pt_root_id"])
    same_rows(got, want[mask])


def test_client_side_live_query(world: ReadWorld) -> None:
    """``query_table(timestamp=T)``: the client picks the version before T and moves root ids
    to T through the chunkedgraph API (annotation edits after the version are not its job)."""
    cave = client(world)
    between = v(world, 2) + (v(world, 3) - v(world, 2)) / 3
    for at, rows_from in ((between, v(world, 2)), (world.instants["after"], v(world, 3))):
        want = world.rows_at("synapses", rows_from, roots_at=at)
        got = cave.materialize.query_table("synapses", timestamp=at, split_positions=True)
        same_rows(got, want, list(SYN_KEYS))
        root = int(want["post_pt_root_id"].value_counts().index[0])
        got = cave.materialize.query_table(
            "synapses",
            timestamp=at,
            filter_equal_dict={"post_pt_root_id": root},
            split_positions=True,
        )
        same_rows(got, want[want["post_pt_root_id"] == root], list(SYN_KEYS))


def test_live_live_query_sees_edits(world: ReadWorld) -> None:
    cave = client(world)
    at = world.instants["after"]
    want = world.rows_at("synapses", at)
    got = cave.materialize.live_live_query("synapses", at, split_positions=True)
    same_rows(got, want, list(SYN_KEYS))
    assert (want["size"] == 999).sum() == 12  # the rows written after the last version
    root = int(want["pre_pt_root_id"].value_counts().index[0])
    got = cave.materialize.live_live_query(
        "synapses",
        at,
        filter_equal_dict={"synapses": {"pre_pt_root_id": root}},
        split_positions=True,
    )
    same_rows(got, want[want["pre_pt_root_id"] == root], list(SYN_KEYS))


def test_live_live_query_regex_and_join(world: ReadWorld) -> None:
    cave = client(world)
    at = world.instants["after"]
    cells = world.rows_at("cell_types", at)
    got = cave.materialize.live_live_query(
        "cell_types",
        at,
        filter_regex_dict={"cell_types": {"cell_type": "^relab|^AV"}},
        split_positions=True,
    )
    want = cells[cells["cell_type"].map(lambda s: re.match("^relab|^AV", s) is not None)]
    assert "relabelled" in set(want["cell_type"])
    same_rows(got, want, ["cell_type", "pt_root_id"])
    syn = world.rows_at("synapses", at)
    joined = cave.materialize.live_live_query(
        "synapses",
        at,
        joins=[["synapses", "post_pt_root_id", "cell_types", "pt_root_id"]],
        filter_equal_dict={"cell_types": {"cell_type": "relabelled"}},
        suffixes={"synapses": "", "cell_types": "_ct"},
        split_positions=True,
    )
    target = cells[cells["cell_type"] == "relabelled"]
    want_join = syn.merge(target, left_on="post_pt_root_id", right_on="pt_root_id")
    assert sorted(joined["id"]) == sorted(want_join["id_x"])


@pytest.mark.parametrize("hours", [-1, 5])
def test_live_query_between_and_after(world: ReadWorld, hours: int) -> None:
    at = world.instants["after"] + timedelta(hours=hours)
    at = min(at, datetime.now(at.tzinfo))
    got = client(world).materialize.live_live_query("cell_types", at, split_positions=True)
    same_rows(got, world.rows_at("cell_types", at), ["cell_type", "pt_root_id"])


def test_random_sample(world: ReadWorld) -> None:
    want = world.rows_at("synapses", v(world, 2))
    got = _frozen(world, random_sample=200)
    ids = got["id"].tolist()
    assert 0 < len(ids) < len(want)
    assert ids == sorted(ids)
    assert set(ids) <= set(want["id"])


@pytest.mark.parametrize("encoding", ["zstd", "lz4", "gzip"])
def test_raw_wire_v2_and_v3(world: ReadWorld, encoding: str) -> None:
    """The v2 query path answers like v3; the body is an Arrow IPC stream compressed inside
    (never HTTP Content-Encoding), with the exact content type and headers caveclient reads."""
    want = world.rows_at("synapses", v(world, 3)).head(50)
    for api in ("v2", "v3"):
        path = f"/materialize/api/{api}/datastack/{world.datastack}/version/3/table/synapses/query"
        response = requests.post(
            world.url + path + "?return_pyarrow=True&split_positions=True",
            data=json.dumps({"limit": 50}),
            headers={"Accept-Encoding": encoding},
            timeout=60,
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "data.arrow"
        assert "Content-Encoding" not in response.headers
        assert response.headers["dataframe_resolution"] == "8.0, 8.0, 40.0"
        assert "synapses" in json.loads(response.headers["column_names"])
        table = pa.ipc.open_stream(response.content).read_all()
        assert table.column("id").to_pylist() == want["id"].tolist()
        assert table.schema.field("pre_pt_root_id").type == pa.int64()


def test_warnings_become_warning_headers(world: ReadWorld) -> None:
    path = f"/materialize/api/v3/datastack/{world.datastack}/version/3/table/synapses/query"
    response = requests.post(
        world.url + path,
        data=json.dumps({"select_columns": ["id", "deleted"], "limit": 3}),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert "deleted" in response.headers["Warning"]
    assert pa.ipc.open_stream(response.content).read_all().column_names == ["id"]


def test_legacy_join_body(world: ReadWorld) -> None:
    """The deprecated join shape: a flat ``select_columns`` (each name to the first table that
    has it) and a ``suffixes`` list, on the v2 path."""
    path = f"/materialize/api/v2/datastack/{world.datastack}/version/3/query"
    body = {
        "tables": [["nucleus_tags", "target_id"], ["nuclei", "id"]],
        "select_columns": ["id", "tag", "volume"],
        "suffixes": ["", "_n"],
        "filter_in_dict": {"nucleus_tags": {"tag": ["tag 1"]}},
    }
    response = requests.post(world.url + path, data=json.dumps(body), timeout=60)
    assert response.status_code == 200, response.text
    got = pa.ipc.open_stream(response.content).read_pandas()
    tags = world.rows_at("nucleus_tags", v(world, 3))
    nuclei = world.rows_at("nuclei", v(world, 3))
    want = tags[tags["tag"] == "tag 1"].merge(nuclei, left_on="target_id", right_on="id")
    assert list(got.columns) == ["id", "tag", "volume"]
    assert got["id"].tolist() == want["id_x"].tolist()
    assert got["volume"].tolist() == want["volume"].tolist()


def test_results_stream_in_batches(world: ReadWorld) -> None:
    """Small engine batches: the Arrow body holds many record batches and the JSON array many
    chunks, and both still equal the oracle."""
    assert world.services is not None
    base = world.services
    services = HttpServices(base.settings, base.store, base.graph_factory)
    services.engine = QueryEngine(base.store, services.graph, batch_rows=97)
    want = world.rows_at("synapses", v(world, 3))
    path = f"/materialize/api/v3/datastack/{world.datastack}/version/3/table/synapses/query"
    try:
        with serve(create_app(services=services)) as url:
            arrow = requests.post(url + path, data="{}", timeout=60)
            reader = pa.ipc.open_stream(arrow.content)
            batches = list(reader)
            records = requests.post(url + path + "?return_pyarrow=False", data="{}", timeout=60)
    finally:
        services.close()
    assert arrow.headers.get("Transfer-Encoding") == "chunked"
    assert len(batches) == -(-len(want) // 97)
    got = pa.Table.from_batches(batches).to_pandas()
    same_rows(got, want, list(SYN_KEYS))
    assert [r["id"] for r in records.json()] == want["id"].tolist()


def test_concurrent_queries(world: ReadWorld) -> None:
    want = world.rows_at("synapses", v(world, 2))
    cave = client(world)

    def one(offset: int) -> list[int]:
        got = cave.materialize.query_table(
            "synapses", materialization_version=2, offset=offset, limit=100
        )
        return [int(i) for i in got["id"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(one, range(0, 1_200, 100)))
    assert [i for page in pages for i in page] == want["id"].tolist()[:1_200]
