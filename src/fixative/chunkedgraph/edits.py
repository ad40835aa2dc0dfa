"""Edits: merge, split (explicit edges or a minimum cut), undo and redo, as pure planning over
the current index and edge set. A plan is a ``Change``; the adapter writes it and applies it.

Rules (PyChunkedGraph's): an operation adds or removes supervoxel edges; the roots holding an
endpoint of a changed edge are *affected* and expire; the affected supervoxels' connected
components after the change get newly minted roots, in order of their smallest supervoxel id
(one new root even when a split leaves the root connected). Unaffected roots keep their ids. An
operation is never many-to-many: removing edges touches one root, and an addition that would
turn several roots into several components is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from fixative.chunkedgraph.index import RootIndex
from fixative.chunkedgraph.port import Operation
from fixative.chunkedgraph.records import U64, Change, as_ids, edge_key, from_ms, mint_root_id
from fixative.errors import Conflict, InvalidInput, NotFound

Edge = tuple[int, int]
_SOURCE, _SINK = -1, -2  # flow terminals; supervoxel ids are positive


class Adjacency:
    """The current supervoxel edge set, as neighbour sets."""

    def __init__(self, edges: Iterable[Edge] = ()) -> None:
        self._near: dict[int, set[int]] = {}
        self.add(edges)

    def has(self, edge: Edge) -> bool:
        return edge[1] in self._near.get(edge[0], ())

    def add(self, edges: Iterable[Edge]) -> None:
        for a, b in edges:
            self._near.setdefault(a, set()).add(b)
            self._near.setdefault(b, set()).add(a)

    def remove(self, edges: Iterable[Edge]) -> None:
        for a, b in edges:
            self._near[a].discard(b)
            self._near[b].discard(a)

    def apply(self, change: Change) -> None:
        self.remove(change.operation.removed_edges)
        self.add(change.operation.added_edges)

    def edges_within(self, svs: Iterable[int]) -> set[Edge]:
        inside = set(svs)
        return {edge_key(a, b) for a in inside for b in self._near.get(a, ()) if b in inside}


@dataclass(frozen=True)
class EditRequest:
    """An edge change asked for, before it is checked against the current graph."""

    kind: str
    user_id: str
    added: frozenset[Edge] = frozenset()
    removed: frozenset[Edge] = frozenset()
    target_operation_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Slot:
    """Where the next operation goes: its id, instant and first root counter."""

    operation_id: int
    timestamp_ms: int
    root_counter: int


def components(svs: Iterable[int], edges: Iterable[Edge]) -> list[list[int]]:
    """Connected components (each sorted), ordered by their smallest supervoxel."""
    parent = {sv: sv for sv in svs}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for sv in sorted(parent):
        groups.setdefault(find(sv), []).append(sv)
    return sorted(groups.values(), key=lambda g: g[0])


def min_cut(edges: set[Edge], source_ids: list[int], sink_ids: list[int]) -> set[Edge]:
    """A minimum set of edges (unit weights) whose removal separates sources from sinks."""
    flow: nx.DiGraph[int] = nx.DiGraph()
    for a, b in edges:
        flow.add_edge(a, b, capacity=1)
        flow.add_edge(b, a, capacity=1)
    for sv in source_ids:
        flow.add_edge(_SOURCE, sv)  # no capacity: unbounded
    for sv in sink_ids:
        flow.add_edge(sv, _SINK)
    _, (reachable, _) = nx.minimum_cut(flow, _SOURCE, _SINK)
    return {e for e in edges if (e[0] in reachable) != (e[1] in reachable)}


def plan(index: RootIndex, adjacency: Adjacency, request: EditRequest, slot: Slot) -> Change:
    """The ``Change`` ``request`` makes; Conflict when it cannot apply to the current graph."""
    for edge in request.added:
        if adjacency.has(edge):
            raise Conflict(f"edge {edge} is already present")
    for edge in request.removed:
        if not adjacency.has(edge):
            raise Conflict(f"edge {edge} is not present")
    changed = request.added | request.removed
    endpoints = np.array(sorted({sv for e in changed for sv in e}), dtype=np.uint64)
    old_roots = [int(r) for r in np.unique(index.roots(endpoints, None))]
    if request.removed and len(old_roots) > 1:
        raise Conflict("the edges to remove no longer lie in one root")
    svs = np.concatenate([index.leaves(r) for r in old_roots]).tolist()
    after = (adjacency.edges_within(svs) | request.added) - request.removed
    pieces = components(svs, after)
    if len(old_roots) > 1 and len(pieces) > 1:
        raise Conflict(f"the edit would turn {len(old_roots)} roots into {len(pieces)}")
    new_roots = tuple(mint_root_id(slot.root_counter + i) for i in range(len(pieces)))
    operation = Operation(
        operation_id=slot.operation_id,
        kind=request.kind,
        user_id=request.user_id,
        timestamp=from_ms(slot.timestamp_ms),
        old_root_ids=tuple(old_roots),
        new_root_ids=new_roots,
        added_edges=tuple(sorted(request.added)),
        removed_edges=tuple(sorted(request.removed)),
        target_operation_id=request.target_operation_id,
        extra=request.extra,
    )
    leaves = tuple(np.array(p, dtype=np.uint64) for p in pieces)
    return Change(operation, slot.timestamp_ms, leaves)


# -- requests --------------------------------------------------------------------------------------


def _known(index: RootIndex, ids: Iterable[int]) -> U64:
    arr = as_ids(list(ids))
    if (arr == 0).any():
        raise InvalidInput("supervoxel 0 is not an editable supervoxel")
    index.positions(arr)
    return arr


def merge_request(index: RootIndex, sv_a: int, sv_b: int, user_id: str) -> EditRequest:
    pair = _known(index, [sv_a, sv_b])
    root_a, root_b = (int(r) for r in index.roots(pair, None))
    if root_a == root_b:
        raise Conflict(f"supervoxels {sv_a} and {sv_b} already belong to root {root_a}")
    return EditRequest(
        "merge",
        user_id,
        added=frozenset([edge_key(int(sv_a), int(sv_b))]),
        extra={"supervoxel_ids": [int(sv_a), int(sv_b)]},
    )


def remove_edges_request(
    index: RootIndex, adjacency: Adjacency, edges: Iterable[Edge], user_id: str
) -> EditRequest:
    pairs = [(int(a), int(b)) for a, b in edges]
    if not pairs:
        raise InvalidInput("a split needs at least one edge to remove")
    _known(index, [sv for pair in pairs for sv in pair])
    keys = frozenset(edge_key(a, b) for a, b in pairs)
    for edge in sorted(keys):
        if edge[0] == edge[1] or not adjacency.has(edge):
            raise InvalidInput(f"there is no edge {edge} to remove")
    ends = np.array(sorted({sv for e in keys for sv in e}), dtype=np.uint64)
    if np.unique(index.roots(ends, None)).size > 1:
        raise InvalidInput("a split removes edges of one root only")
    return EditRequest("split", user_id, removed=keys)


def split_request(
    index: RootIndex,
    adjacency: Adjacency,
    source_ids: Iterable[int],
    sink_ids: Iterable[int],
    user_id: str,
) -> EditRequest:
    sources = sorted({int(s) for s in source_ids})
    sinks = sorted({int(s) for s in sink_ids})
    if not sources or not sinks:
        raise InvalidInput("a split needs at least one source and one sink supervoxel")
    both = _known(index, sources + sinks)
    if set(sources) & set(sinks):
        raise InvalidInput("source and sink supervoxels overlap")
    roots = np.unique(index.roots(both, None))
    if roots.size > 1:
        raise InvalidInput("sources and sinks belong to different roots")
    edges = adjacency.edges_within(index.leaves(int(roots[0])).tolist())
    cut = min_cut(edges, sources, sinks)
    extra = {"source_ids": sources, "sink_ids": sinks}
    return EditRequest("split", user_id, removed=frozenset(cut), extra=extra)


def replay_request(index: RootIndex, operation_id: int, user_id: str, undo: bool) -> EditRequest:
    """Undo (the inverse edge change) or redo (the same change) of an earlier operation."""
    if not 0 < operation_id <= index.last_operation_id:
        raise NotFound(f"operation {operation_id} does not exist")
    target = index.operations[operation_id - 1]
    added, removed = frozenset(target.added_edges), frozenset(target.removed_edges)
    return EditRequest(
        "undo" if undo else "redo",
        user_id,
        added=removed if undo else added,
        removed=added if undo else removed,
        target_operation_id=operation_id,
    )
