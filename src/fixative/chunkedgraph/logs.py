"""A root's edit history as PyChunkedGraph reports it (``SegmentHistory``), computed from a
``RootIndex``: change logs (summary and tabular), the merge log, operation details, a user's
operations, a node's children and which nodes have rows in a time window.

The operations in a root's history are those that retired one of its ancestors (the roots
its backward lineage walk reaches). For each: the ancestors it retired (``before_root_ids``),
the roots it made that lead to the root (``after_root_ids``), whether it added edges
(``is_merge``), and the two flags the filtered log keeps (both true):

- ``is_relevant``: a merge joined supervoxels that were apart when the graph was built; a split
  separated supervoxels that were apart when the root was made;
- ``in_neuron``: a merge's supervoxels all belong to the root when it was made; some of a
  split's do.

The supervoxels of an operation are its sources and sinks when it has them (merge, split),
else the endpoints of its edges (undo, redo, edge removal), as PyChunkedGraph's
``edges_failsafe``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from fixative.chunkedgraph.index import NEVER, OP_BITS, RootIndex
from fixative.chunkedgraph.lineage import LineageGraph, walk_back
from fixative.chunkedgraph.port import Operation
from fixative.chunkedgraph.records import U64


def _ids(values: Iterable[int]) -> U64:
    return np.array(list(values), dtype=np.uint64)


def ancestors(index: RootIndex, root: int, past_ms: int | None = None) -> set[int]:
    """The roots ``root`` descends from (not itself), back to ``past``."""
    graph = LineageGraph()
    walk_back(index, [root], past_ms, graph)
    return graph.nodes - {root}


def _expired_op(index: RootIndex, root: int) -> int:
    row = int(index.known_root_rows(_ids([root]))[0])
    return int(index.root_expired_op[row])


def _edit_supervoxels(op: Operation) -> U64:
    sources = op.extra.get("source_ids")
    sinks = op.extra.get("sink_ids")
    pair = op.extra.get("supervoxel_ids")
    if sources is not None and sinks is not None:
        return _ids([*sinks, *sources])
    if pair is not None:
        return _ids([pair[1], pair[0]])
    edges = op.added_edges if op.added_edges else op.removed_edges
    return _ids(sv for edge in edges for sv in edge)


def is_merge(op: Operation) -> bool:
    return bool(op.added_edges)


def tabular_change_log(
    index: RootIndex, root: int, filtered: bool, past_ms: int | None = None
) -> list[dict[str, Any]]:
    """One row per operation of the root's history, oldest first (NotFound for an id that
    is not a root)."""
    index.known_root_rows(_ids([root]))
    before = ancestors(index, root, past_ms)
    by_op: dict[int, list[int]] = {}
    for node in before:
        by_op.setdefault(_expired_op(index, node), []).append(node)
    path = before | {root}
    made_ms = index.created_ms_of(root)
    rows = []
    for op_id in sorted(by_op):
        op = index.operations[op_id - 1]
        retired = sorted(by_op[op_id])
        svs = _edit_supervoxels(op)
        now_roots = index.roots(svs, made_ms)
        merge = is_merge(op)
        if merge:
            relevant = np.unique(index.roots(svs, index.created_ms)).size != 1
            in_neuron = bool(np.all(now_roots == root))
        else:
            relevant = np.unique(now_roots).size != 1
            in_neuron = bool(np.any(now_roots == root))
        if filtered and not (relevant and in_neuron):
            continue
        row: dict[str, Any] = {
            "operation_id": op_id,
            "timestamp": op.timestamp,
            "user_id": op.user_id,
            "before_root_ids": retired,
            "after_root_ids": [r for r in index.successors.get(retired[0], ()) if r in path],
            "is_merge": merge,
        }
        if not filtered:
            row["in_neuron"] = in_neuron
            row["is_relevant"] = relevant
        rows.append(row)
    return rows


def change_log(
    index: RootIndex, root: int, filtered: bool, past_ms: int | None = None
) -> dict[str, Any]:
    """PyChunkedGraph's ``change_log_summary`` (its key ``operations_ids`` included)."""
    rows = tabular_change_log(index, root, filtered, past_ms)
    users: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = users.setdefault(row["user_id"], {"n_splits": 0, "n_mergers": 0})
        counts["n_mergers" if row["is_merge"] else "n_splits"] += 1
    mergers = sum(1 for r in rows if r["is_merge"])
    return {
        "n_splits": len(rows) - mergers,
        "n_mergers": mergers,
        "user_info": users,
        "operations_ids": [r["operation_id"] for r in rows],
        "past_ids": [i for r in rows for i in r["before_root_ids"]],
    }


def merge_log(index: RootIndex, root: int) -> dict[str, Any]:
    """The added edges (and, when recorded, the user's two points) of every merge in the
    root's history."""
    index.known_root_rows(_ids([root]))
    edges, coords = [], []
    for op_id in sorted({_expired_op(index, a) for a in ancestors(index, root)}):
        op = index.operations[op_id - 1]
        if not is_merge(op):
            continue
        edges.append([list(e) for e in op.added_edges])
        points = [op.extra.get("source_coords"), op.extra.get("sink_coords")]
        coords.append(points if all(p is not None for p in points) else [])
    return {"merge_edges": edges, "merge_edge_coords": coords}


def operation_details(op: Operation) -> dict[str, Any]:
    """One operation's log row under PyChunkedGraph's attribute names."""
    stamp = str(op.timestamp)
    out: dict[str, Any] = {
        "user": op.user_id,
        "roots": list(op.new_root_ids),
        "operation_status": 0,
        "operation_ts": stamp,
        "timestamp": stamp,
    }
    if op.added_edges:
        out["added_edges"] = [list(e) for e in op.added_edges]
    if op.removed_edges:
        out["removed_edges"] = [list(e) for e in op.removed_edges]
    pair = op.extra.get("supervoxel_ids")
    if pair is not None:
        out["source_ids"], out["sink_ids"] = [pair[0]], [pair[1]]
    for key in ("source_ids", "sink_ids", "source_coords", "sink_coords"):
        if key in op.extra:
            out[key] = op.extra[key]
    if op.kind in ("undo", "redo"):
        out[f"{op.kind}_operation_id"] = op.target_operation_id
    return out


def user_operations(
    operations: Sequence[Operation], user_id: str | None, include_undone: bool
) -> list[tuple[int, datetime]]:
    """(operation id, instant) of ``user_id``'s operations among ``operations`` (oldest
    first). Unless ``include_undone``: not undos or redos themselves, and not operations
    undone (and not redone since) within ``operations``."""
    mine = [op for op in operations if user_id is not None and op.user_id == user_id]
    if include_undone:
        return [(op.operation_id, op.timestamp) for op in mine]
    undone: list[int] = []
    for op in operations:
        if op.kind == "undo" and op.target_operation_id is not None:
            undone.append(op.target_operation_id)
        elif op.kind == "redo" and op.target_operation_id in undone:
            undone = [u for u in undone if u != op.target_operation_id]
    return [
        (op.operation_id, op.timestamp)
        for op in mine
        if op.kind not in ("undo", "redo") and op.operation_id not in undone
    ]


def children(index: RootIndex, node_id: int) -> U64:
    """A root's children are its supervoxels (the embedded graph has no layers between); a
    supervoxel has none. NotFound for an unknown id."""
    ids = _ids([node_id])
    _, found = index.root_rows(ids)
    if bool(found[0]):
        return index.leaves(node_id)
    index.positions(ids)  # NotFound unless it is a supervoxel
    return np.zeros(0, dtype=np.uint64)


def valid_nodes(index: RootIndex, node_ids: U64, since_ms: int | None, until_ms: int | None) -> U64:
    """The ids among ``node_ids`` with a row written in [since, until] (PyChunkedGraph
    ``valid_nodes``): a root made or retired then, a supervoxel given its root then (at the
    build or by an operation). Unknown ids are left out."""
    lo = -(2**62) if since_ms is None else since_ms
    hi = 2**62 if until_ms is None else until_ms
    rows, is_root = index.root_rows(node_ids)
    made = index.root_created_ms[rows]
    gone = index.root_expired_ms[rows]
    retired = (gone != NEVER) & (gone >= lo) & (gone <= hi)
    root_ok = is_root & (((made >= lo) & (made <= hi)) | retired)
    first_op = int(np.searchsorted(index.op_ms, lo, side="left"))
    last_op = int(np.searchsorted(index.op_ms, hi, side="right")) - 1
    sv_ok = np.zeros(node_ids.size, dtype=bool)
    pos, bad = index.sv_positions.lookup(node_ids)
    known = ~is_root if bad is None else ~is_root & ~bad & (node_ids != 0)
    if last_op >= first_op and known.any():
        p = pos[known].astype(np.int64) << OP_BITS
        start = np.searchsorted(index.iv_keys, p | first_op, side="left")
        stop = np.searchsorted(index.iv_keys, p | last_op, side="right")
        sv_ok[known] = stop > start
    valid: U64 = node_ids[root_ok | sv_ok]
    return valid
