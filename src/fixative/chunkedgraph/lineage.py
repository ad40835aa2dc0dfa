"""Lineage queries over a ``RootIndex``: the lineage graph of some roots between two instants,
and PyChunkedGraph's past/future id mapping built on it.

Walks (PyChunkedGraph ``lineage_graph``): backwards from each root, a node's former roots are
followed while the node was created after ``past``; forwards, a node's successors are followed
while they were created at or before ``future``. Lineage graphs are small (one neuron's edits),
so plain Python sets and dicts are the right tool here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fixative.chunkedgraph.index import RootIndex
from fixative.chunkedgraph.records import U64

Link = tuple[int, int]


@dataclass
class LineageGraph:
    nodes: set[int] = field(default_factory=set)
    links: set[Link] = field(default_factory=set)

    def node_link_data(self, index: RootIndex) -> dict[str, Any]:
        """networkx ``node_link_data`` with the ``links`` key (what caveclient reads)."""
        nodes = []
        for node in sorted(self.nodes):
            row = int(index.known_root_rows(_ids([node]))[0])
            op_id = int(index.root_op[row])
            nodes.append(
                {
                    "id": node,
                    "timestamp": int(index.root_created_ms[row]) / 1000.0,
                    "operation_id": op_id if op_id > 0 else None,
                }
            )
        links = [{"source": a, "target": b} for a, b in sorted(self.links)]
        return {"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}


def walk_back(
    index: RootIndex, roots: Iterable[int], past_ms: int | None, graph: LineageGraph
) -> None:
    stack = list(roots)
    graph.nodes.update(stack)
    while stack:
        node = stack.pop()
        if past_ms is not None and index.created_ms_of(node) <= past_ms:
            continue
        for former in index.formers.get(node, ()):
            graph.links.add((former, node))
            if former not in graph.nodes:
                graph.nodes.add(former)
                stack.append(former)


def walk_forward(
    index: RootIndex, roots: Iterable[int], future_ms: int | None, graph: LineageGraph
) -> None:
    stack = list(roots)
    graph.nodes.update(stack)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for successor in _successors(index, node, future_ms):
            graph.links.add((node, successor))
            if successor not in seen:
                seen.add(successor)
                graph.nodes.add(successor)
                stack.append(successor)


def _successors(index: RootIndex, node: int, future_ms: int | None) -> tuple[int, ...]:
    """A node's successors created at or before ``future`` (all of them, or none: one operation
    creates them together)."""
    found = index.successors.get(node, ())
    if found and future_ms is not None and index.created_ms_of(found[0]) > future_ms:
        return ()
    return found


def lineage_graph(
    index: RootIndex, roots: Iterable[int], past_ms: int | None, future_ms: int | None
) -> LineageGraph:
    roots = list(roots)
    index.known_root_rows(_ids(roots))
    graph = LineageGraph()
    walk_back(index, roots, past_ms, graph)
    walk_forward(index, roots, future_ms, graph)
    return graph


def _ids(roots: list[int]) -> U64:
    return np.array(roots, dtype=np.uint64)


def past_id_mapping(
    index: RootIndex, roots: Iterable[int], past_ms: int, future_ms: int
) -> tuple[dict[int, list[int]], dict[int, int]]:
    """(past_id_map, future_id_map).

    ``past_id_map[root]``: the in-degree-0 nodes of the root's backward walk to ``past``: its
    ancestors that existed at ``past`` (or the root itself, if it did).
    ``future_id_map[past_id]``: the single latest descendant at ``future`` when the chain of
    descendants from ``past_id`` never splits; omitted otherwise.
    """
    roots = [int(r) for r in roots]
    index.known_root_rows(_ids(roots))
    past_map: dict[int, list[int]] = {}
    for root in roots:
        back = LineageGraph()
        walk_back(index, [root], past_ms, back)
        targets = {b for _, b in back.links}
        past_map[root] = sorted(n for n in back.nodes if n not in targets)
    future_map: dict[int, int] = {}
    for past_id in sorted({p for ids in past_map.values() for p in ids}):
        latest = _single_descendant(index, past_id, future_ms)
        if latest is not None:
            future_map[past_id] = latest
    return past_map, future_map


def _single_descendant(index: RootIndex, root: int, future_ms: int) -> int | None:
    node = root
    while True:
        after = _successors(index, node, future_ms)
        if not after:
            return node
        if len(after) > 1:
            return None
        node = after[0]
