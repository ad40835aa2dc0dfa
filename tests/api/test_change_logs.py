"""The chunkedgraph's edit-history reads (change logs, merge log, operation details, a user's
operations, children, valid nodes, latest roots) served from the embedded graph, asked by the
real caveclient and by our HTTP adapter (which must pass them through unchanged), and compared
with a plain-Python model of the edit history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import requests
from caveclient.chunkedgraph import ChunkedGraphClient

from fixative.api.app import create_app
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.http import HttpChunkedGraph
from fixative.chunkedgraph.port import ChunkedGraph, Operation
from fixative.errors import NotFound
from fixative.store import open_store
from fixative.testing.clock import TickingClock
from fixative.testing.databases import pg_database, sqlite_url
from fixative.testing.server import serve

TABLE = "logs_pcg"


@dataclass
class Served:
    url: str
    graph: EmbeddedChunkedGraph
    ops: list[Operation]

    @property
    def base(self) -> str:
        return f"{self.url}/segmentation/api/v1/table/{TABLE}"


@pytest.fixture(scope="module")
def served(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Served]:
    """Four objects {1,2} {3,4} {5,6} {7,8}; merges, splits, and an undone then redone merge
    by three users ("42" is numeric, as caveclient's get_user_operations wants); three
    objects in the end. Built once per backend: the tests only read."""
    stack = ExitStack()
    if backend == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("logs"))
    else:
        url = stack.enter_context(pg_database(request.getfixturevalue("pg_template")))
    store = open_store(url, TickingClock())
    stack.callback(store.dispose)
    graph = EmbeddedChunkedGraph.create(
        store, TABLE, list(range(1, 9)), [(1, 2), (3, 4), (5, 6), (7, 8)]
    )
    ops = [
        graph.merge(2, 3, "alice"),
        graph.merge(4, 5, "bob"),
        graph.split([1], [2], "alice"),
        graph.merge(6, 7, "42"),
    ]
    ops.append(graph.undo(ops[3].operation_id, "alice"))
    ops.append(graph.redo(ops[3].operation_id, "42"))
    ops.append(graph.split([7], [8], "42"))

    def lookup(table_id: str) -> ChunkedGraph:
        if table_id != TABLE:
            raise NotFound(f"chunkedgraph table {table_id!r} does not exist")
        return graph

    with stack:
        yield Served(stack.enter_context(serve(create_app(graphs=lookup))), graph, ops)


# -- the model: the edit history as plain Python --------------------------------------------


def ancestors(ops: list[Operation], root: int) -> set[int]:
    made_by = {new: op for op in ops for new in op.new_root_ids}
    found: set[int] = set()
    todo = [root]
    while todo:
        op = made_by.get(todo.pop())
        if op is not None:
            fresh = set(op.old_root_ids) - found
            found |= fresh
            todo.extend(fresh)
    return found


def history_rows(s: Served, root: int, filtered: bool) -> list[dict[str, Any]]:
    before = ancestors(s.ops, root)
    made_at = s.graph.get_root_timestamps([root])[0]
    start = s.graph.get_oldest_timestamp()
    rows = []
    for op in s.ops:
        retired = sorted(set(op.old_root_ids) & before)
        if not retired:
            continue
        pair = op.extra.get("supervoxel_ids")
        if pair is not None:
            svs = [pair[1], pair[0]]
        elif "source_ids" in op.extra:
            svs = [*op.extra["sink_ids"], *op.extra["source_ids"]]
        else:
            svs = [sv for e in (op.added_edges or op.removed_edges) for sv in e]
        then = s.graph.get_roots(svs, made_at).tolist()
        merge = bool(op.added_edges)
        if merge:
            relevant = len(set(s.graph.get_roots(svs, start).tolist())) != 1
            inside = all(r == root for r in then)
        else:
            relevant = len(set(then)) != 1
            inside = any(r == root for r in then)
        if filtered and not (relevant and inside):
            continue
        row = {
            "operation_id": op.operation_id,
            "timestamp": op.timestamp,
            "user_id": op.user_id,
            "before_root_ids": retired,
            "after_root_ids": [r for r in op.new_root_ids if r in before | {root}],
            "is_merge": merge,
        }
        if not filtered:
            row.update(in_neuron=inside, is_relevant=relevant)
        rows.append(row)
    return rows


def latest(s: Served) -> list[int]:
    made = {r for op in s.ops for r in op.new_root_ids}
    gone = {r for op in s.ops for r in op.old_root_ids}
    return sorted(made - gone)


# -- the tests -------------------------------------------------------------------------------


def test_change_logs_through_caveclient(served: Served) -> None:
    cave = ChunkedGraphClient(server_address=served.url, table_name=TABLE)
    roots = latest(served)
    assert len(roots) >= 2
    tables = cave.get_tabular_change_log(roots)
    for root in roots:
        want = history_rows(served, root, filtered=True)
        got = tables[root]
        assert got["operation_id"].tolist() == [r["operation_id"] for r in want]
        assert got["before_root_ids"].tolist() == [r["before_root_ids"] for r in want]
        assert got["after_root_ids"].tolist() == [r["after_root_ids"] for r in want]
        assert got["is_merge"].tolist() == [r["is_merge"] for r in want]
        stamps = [datetime.fromtimestamp(ms / 1000, UTC) for ms in got["timestamp"]]
        assert stamps == [r["timestamp"] for r in want]
        assert got["user_name"].tolist() == [r["user_id"] for r in want]
        summary = cave.get_change_log(root, filtered=True)
        merges = sum(r["is_merge"] for r in want)
        assert summary["n_mergers"] == merges
        assert summary["n_splits"] == len(want) - merges
        assert summary["operations_ids"] == [r["operation_id"] for r in want]
        assert summary["past_ids"] == [i for r in want for i in r["before_root_ids"]]
        users = {r["user_id"] for r in want}
        assert set(summary["user_info"]) == users
        unfiltered = cave.get_change_log(root, filtered=False)
        assert unfiltered["operations_ids"] == [
            r["operation_id"] for r in history_rows(served, root, filtered=False)
        ]
    assert any(history_rows(served, r, True) for r in roots)


def test_unfiltered_table_has_the_flags(served: Served) -> None:
    root = latest(served)[0]
    got = requests.get(
        f"{served.base}/root/{root}/tabular_change_log", params={"filtered": "False"}, timeout=30
    ).json()
    want = history_rows(served, root, filtered=False)
    assert [got["in_neuron"][str(i)] for i in range(len(want))] == [r["in_neuron"] for r in want]
    assert [got["is_relevant"][str(i)] for i in range(len(want))] == [
        r["is_relevant"] for r in want
    ]
    assert list(got) == [
        "operation_id",
        "timestamp",
        "user_id",
        "before_root_ids",
        "after_root_ids",
        "is_merge",
        "in_neuron",
        "is_relevant",
        "user_name",
        "user_affiliation",
    ]


def test_merge_log_operation_details_and_user_operations(served: Served) -> None:
    cave = ChunkedGraphClient(server_address=served.url, table_name=TABLE)
    for root in latest(served):
        merges = [
            op
            for op in served.ops
            if op.added_edges and set(op.old_root_ids) & ancestors(served.ops, root)
        ]
        log = cave.get_merge_log(root)
        assert log["merge_edges"] == [[list(e) for e in op.added_edges] for op in merges]
    ids = [op.operation_id for op in served.ops] + [999]
    details = cave.get_operation_details(ids)
    assert sorted(details, key=int) == [str(op.operation_id) for op in served.ops]
    for op in served.ops:
        got = details[str(op.operation_id)]
        assert got["user"] == op.user_id
        assert got["roots"] == list(op.new_root_ids)
        assert got.get("added_edges", []) == [list(e) for e in op.added_edges]
        assert got.get("removed_edges", []) == [list(e) for e in op.removed_edges]
        if op.kind in ("undo", "redo"):
            assert got[f"{op.kind}_operation_id"] == op.target_operation_id
    start = served.ops[0].timestamp - timedelta(seconds=1)
    mine = cave.get_user_operations(42, start)
    # "42" merged (op 4, undone by alice, redone by 42) and split: the redo itself is not
    # listed, the redone merge is
    assert mine["operation_id"].tolist() == [served.ops[3].operation_id, served.ops[6].operation_id]
    assert [t.to_pydatetime() for t in mine["timestamp"]] == [
        served.ops[3].timestamp,
        served.ops[6].timestamp,
    ]
    alice = requests.get(
        f"{served.base}/user_operations",
        params={"user_id": "alice", "include_undone": "True"},
        timeout=30,
    ).json()
    assert list(alice["operation_id"].values()) == [
        op.operation_id for op in served.ops if op.user_id == "alice"
    ]


def test_children_valid_nodes_and_latest_roots(served: Served) -> None:
    cave = ChunkedGraphClient(server_address=served.url, table_name=TABLE)
    graph = served.graph
    for root in latest(served):
        assert cave.get_children(root).tolist() == graph.get_leaves(root).tolist()
    assert cave.get_children(3).tolist() == []
    first = served.ops[0]
    original = first.old_root_ids[0]
    assert sorted(cave.get_latest_roots(original).tolist()) == sorted(
        r for r in latest(served) if original in ancestors(served.ops, r)
    )
    now_roots = graph.get_roots(graph.get_leaves(original)).tolist()
    assert cave.suggest_latest_roots(original) == max(set(now_roots), key=now_roots.count)
    # valid in a window: roots made or retired then, supervoxels whose root changed then
    split = served.ops[2]
    window = (split.timestamp, split.timestamp)
    made, retired = set(split.new_root_ids), set(split.old_root_ids)
    moved = {sv for r in made for sv in graph.get_leaves(r).tolist()}
    candidates = [original, *made, *retired, 1, 2, 7, 8, 10**6]
    got = cave.is_valid_nodes(candidates, start_timestamp=window[0], end_timestamp=window[1])
    want = [c in made | retired | moved for c in candidates]
    assert 0 < sum(want) < len(want)
    assert got.tolist() == want
    everything = cave.is_valid_nodes(candidates, start_timestamp=datetime(2000, 1, 1, tzinfo=UTC))
    assert everything.tolist() == [c != 10**6 for c in candidates]


def test_http_adapter_passes_the_history_through(served: Served) -> None:
    remote = HttpChunkedGraph(served.url, TABLE)
    graph = served.graph
    roots = [*latest(served), served.ops[0].old_root_ids[0]]
    assert remote.get_tabular_change_logs(roots) == graph.get_tabular_change_logs(roots)
    assert remote.get_tabular_change_logs(roots, False) == graph.get_tabular_change_logs(
        roots, False
    )
    for root in roots:
        assert remote.get_change_log(root, True) == json.loads(
            json.dumps(graph.get_change_log(root, True))
        )
        assert remote.get_merge_log(root) == json.loads(json.dumps(graph.get_merge_log(root)))
    ids = [op.operation_id for op in served.ops]
    local = {k: json.loads(json.dumps(v)) for k, v in graph.get_operation_details(ids).items()}
    assert remote.get_operation_details(ids) == local
    for user in ("alice", "bob", "42"):
        for undone in (False, True):
            assert remote.get_user_operations(user, None, None, undone) == (
                graph.get_user_operations(user, None, None, undone)
            )
    assert remote.get_children(roots[0]).tolist() == graph.get_children(roots[0]).tolist()
    nodes = [*roots, 1, 5, 10**6]
    at = served.ops[3].timestamp
    assert remote.get_valid_nodes(nodes, at, at).tolist() == (
        graph.get_valid_nodes(nodes, at, at).tolist()
    )


@pytest.mark.parametrize(
    ("path", "kw", "status"),
    [
        ("/root/3/change_log", {}, 404),  # a supervoxel is no root
        ("/root/999999/tabular_change_log", {}, 404),
        ("/root/999999/merge_log", {}, 404),
        ("/node/999999/children", {}, 404),
        ("/operation_details", {"params": {"operation_ids": "[1, x]"}}, 400),
        ("/operation_details", {"params": {"operation_ids": "[1.0]"}}, 400),
        ("/tabular_change_log_many", {"data": b'{"root_ids": "abc"}'}, 400),
        ("/tabular_change_log_many", {}, 400),
        ("/valid_nodes", {"data": b"{}"}, 400),
        ("/valid_nodes", {"params": {"is_binary": "True"}, "data": b"123"}, 400),
        ("/user_operations", {"params": {"start_time": "soon"}}, 400),
    ],
)
def test_bad_requests_are_json_4xx(
    served: Served, path: str, kw: dict[str, Any], status: int
) -> None:
    got = requests.get(served.base + path, timeout=30, **kw)
    assert got.status_code == status, got.text
    assert got.json()["message"]


def test_binary_valid_nodes(served: Served) -> None:
    body = np.array([1, 2, 10**6], "<u8").tobytes()
    got = requests.get(
        f"{served.base}/valid_nodes", params={"is_binary": "True"}, data=body, timeout=30
    )
    assert got.json() == {"valid_roots": [1, 2]}


def test_edits_log_the_users_points(backend: str, request: pytest.FixtureRequest) -> None:
    """A merge and a split sent through caveclient keep their points (in the volume's voxels)
    in the log: the merge log and the operation details show them, as PyChunkedGraph's do."""
    from write_world import RES, shared_world

    ww = shared_world(request, backend)
    rows = ww.read.rows_at("synapses", datetime.now(UTC))
    first = rows.iloc[0]
    other = rows[rows["pre_pt_root_id"] != first["pre_pt_root_id"]].iloc[0]
    svs = [int(first["pre_pt_supervoxel_id"]), int(other["pre_pt_supervoxel_id"])]
    voxels = [[float(r[f"pre_pt_position_{a}"]) for a in "xyz"] for r in (first, other)]
    cave = ww.client("alice").chunkedgraph
    answer = cave.do_merge(svs, np.array(voxels), resolution=RES)
    (merged,) = answer["new_root_ids"]
    log = cave.get_merge_log(merged)
    assert log["merge_edges"][-1] == [sorted(svs)]
    assert log["merge_edge_coords"][-1] == [[voxels[0]], [voxels[1]]]
    details = cave.get_operation_details([answer["operation_id"]])[str(answer["operation_id"])]
    assert details["source_coords"] == [voxels[0]]
    assert details["sink_coords"] == [voxels[1]]
    assert details["source_ids"] == [svs[0]]
    assert details["user"] == "alice"
    nm = [[v * r for v, r in zip(p, RES, strict=True)] for p in voxels]
    op_id, _ = ww.client("bob").chunkedgraph.execute_split(
        [nm[0]], [nm[1]], merged, [svs[0]], [svs[1]]
    )
    split = cave.get_operation_details([op_id])[str(op_id)]
    assert split["source_coords"] == [voxels[0]]
    assert split["sink_coords"] == [voxels[1]]
    assert split["removed_edges"]


def test_user_operations_are_for_admins(backend: str, request: pytest.FixtureRequest) -> None:
    """As PyChunkedGraph: who edited what, across the graph, only for datastack admins."""
    from write_world import shared_world

    ww = shared_world(request, backend)
    url = ww.seg("/user_operations")
    for who in ("alice", "vera"):
        refused = ww.call("GET", url, who, params={"user_id": "alice"})
        assert refused.status_code == 403, refused.text
    got = ww.call("GET", url, "ada", params={"user_id": "alice", "include_undone": "True"})
    assert got.status_code == 200, got.text
    graph = ww.read.graph
    assert list(got.json()["operation_id"].values()) == [
        op.operation_id for op in graph.list_operations() if op.user_id == "alice"
    ]


def test_demo_neurons_history_matches_the_model(world: Any) -> None:
    """The demo's week of proofreading (merges, mistaken merges split or undone): the change
    logs caveclient reads for the most edited neurons equal the model's."""
    from read_world import client

    graph = world.graph
    model = Served(world.url, graph, list(graph.list_operations()))
    roots = latest(model)
    edited = sorted(roots, key=lambda r: len(ancestors(model.ops, r)), reverse=True)[:5]
    cave = client(world).chunkedgraph
    tables = cave.get_tabular_change_log(edited, filtered=False)
    for root in edited:
        want = history_rows(model, root, filtered=False)
        assert len(want) > 0
        got = tables[root]
        assert got["operation_id"].tolist() == [r["operation_id"] for r in want]
        assert got["before_root_ids"].tolist() == [r["before_root_ids"] for r in want]
        assert got["in_neuron"].tolist() == [r["in_neuron"] for r in want]
        assert got["is_relevant"].tolist() == [r["is_relevant"] for r in want]
        summary = cave.get_change_log(root, filtered=True)
        kept = history_rows(model, root, filtered=True)
        assert summary["operations_ids"] == [r["operation_id"] for r in kept]


def test_a_server_over_the_http_adapter_answers_the_same(served: Served) -> None:
    """caveclient -> our server -> HttpChunkedGraph -> our server -> embedded graph: every
    history read answers what the embedded graph's own server answers."""
    remote = HttpChunkedGraph(served.url, TABLE)
    with serve(create_app(graphs=lambda table_id: remote)) as outer_url:
        inner = ChunkedGraphClient(server_address=served.url, table_name=TABLE)
        outer = ChunkedGraphClient(server_address=outer_url, table_name=TABLE)
        roots = latest(served)
        for filtered in (True, False):
            a = inner.get_tabular_change_log(roots, filtered=filtered)
            b = outer.get_tabular_change_log(roots, filtered=filtered)
            assert {k: v.to_dict() for k, v in a.items()} == {k: v.to_dict() for k, v in b.items()}
        for root in roots:
            assert inner.get_change_log(root) == outer.get_change_log(root)
            assert inner.get_merge_log(root) == outer.get_merge_log(root)
            assert inner.get_children(root).tolist() == outer.get_children(root).tolist()
        ids = [op.operation_id for op in served.ops]
        assert inner.get_operation_details(ids) == outer.get_operation_details(ids)
        start = served.ops[0].timestamp
        assert inner.get_user_operations(42, start).to_dict() == (
            outer.get_user_operations(42, start).to_dict()
        )
        nodes = [*roots, 1, 2, 10**6]
        assert inner.is_valid_nodes(nodes).tolist() == outer.is_valid_nodes(nodes).tolist()
