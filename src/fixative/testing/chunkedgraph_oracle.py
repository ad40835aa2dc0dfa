"""A brute-force model of a chunkedgraph's history, to test adapters against.

It keeps the whole edge set after every operation and answers every question by recomputing
connected components with plain Python: no numpy, no index, no incremental updates. Root ids
follow the rules every Fixative chunkedgraph uses, so answers compare exactly:

- the initial roots are the components of the initial edges; every operation mints new roots
  for the components it touched; an untouched component keeps its root id;
- ids are ``(10 << 56) | n`` with n = 1, 2, ... in minting order, and the roots one operation
  mints are ordered by their smallest supervoxel;
- an operation expires the roots holding an endpoint of a changed edge; it is refused
  (``Conflict``) when it cannot apply or would be many-to-many.

Edits take the instant the adapter stamped (``at``); for a minimum-cut split they take the edges
the adapter removed and check that they form a minimum cut (a plain max-flow computes its size).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from fixative.chunkedgraph.port import Operation
from fixative.errors import Conflict, InvalidInput, NotFound

Edge = tuple[int, int]
Component = frozenset[int]
ROOT_BASE = 10 << 56


def _edge(a: int, b: int) -> Edge:
    return (a, b) if a < b else (b, a)


@dataclass
class OracleRoot:
    root_id: int
    created_at: datetime
    operation_id: int  # 0 for the build
    leaves: Component
    formers: tuple[int, ...] = ()
    successors: tuple[int, ...] = ()
    expired_at: datetime | None = None


@dataclass
class Version:
    at: datetime
    edges: frozenset[Edge]
    roots: dict[Component, int] = field(default_factory=dict)


def components(svs: Iterable[int], edges: Iterable[Edge]) -> list[Component]:
    """Connected components by breadth-first search."""
    near: dict[int, list[int]] = {sv: [] for sv in svs}
    for a, b in edges:
        near[a].append(b)
        near[b].append(a)
    seen: set[int] = set()
    found = []
    for start in sorted(near):
        if start in seen:
            continue
        seen.add(start)
        queue, piece = deque([start]), {start}
        while queue:
            for nxt in near[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    piece.add(nxt)
                    queue.append(nxt)
        found.append(frozenset(piece))
    return found


def min_cut_size(edges: Iterable[Edge], sources: Iterable[int], sinks: Iterable[int]) -> int:
    """Maximum flow from sources to sinks with unit capacity per undirected edge."""
    cap: dict[tuple[int, int], int] = {}
    near: dict[int, set[int]] = {}
    edge_list = list(edges)
    unbounded = len(edge_list) + 1

    def link(u: int, v: int, c: int) -> None:
        cap[(u, v)] = cap.get((u, v), 0) + c
        cap.setdefault((v, u), 0)
        near.setdefault(u, set()).add(v)
        near.setdefault(v, set()).add(u)

    for a, b in edge_list:
        link(a, b, 1)
        link(b, a, 1)
    for s in sources:
        link(-1, s, unbounded)
    for t in sinks:
        link(t, -2, unbounded)
    flow = 0
    while True:
        parent = {-1: -1}
        queue = deque([-1])
        while queue and -2 not in parent:
            u = queue.popleft()
            for v in near.get(u, ()):
                if v not in parent and cap[(u, v)] > 0:
                    parent[v] = u
                    queue.append(v)
        if -2 not in parent:
            return flow
        v = -2
        while v != -1:
            u = parent[v]
            cap[(u, v)] -= 1
            cap[(v, u)] += 1
            v = u
        flow += 1


class ChunkedGraphOracle:
    """The edit history as plain Python; see the module docstring."""

    def __init__(
        self, supervoxel_ids: Iterable[int], edges: Iterable[Edge], created_at: datetime
    ) -> None:
        self.supervoxels = frozenset(int(s) for s in supervoxel_ids)
        initial = frozenset(_edge(int(a), int(b)) for a, b in edges)
        self.roots: dict[int, OracleRoot] = {}
        self.operations: list[Operation] = []
        self._minted = 0
        self.versions = [Version(created_at, initial)]
        for piece in sorted(components(self.supervoxels, initial), key=min):
            root_id = self._mint()
            self.roots[root_id] = OracleRoot(root_id, created_at, 0, piece)
            self.versions[0].roots[piece] = root_id

    def _mint(self) -> int:
        self._minted += 1
        return ROOT_BASE | self._minted

    # -- reads -----------------------------------------------------------------------------------

    def version_at(self, at: datetime | None) -> Version | None:
        found = None
        for version in self.versions:
            if at is None or version.at <= at:
                found = version
        return found

    def roots_at(self, supervoxel_ids: Iterable[int], at: datetime | None = None) -> list[int]:
        svs = [int(s) for s in supervoxel_ids]
        unknown = [s for s in svs if s and s not in self.supervoxels]
        if unknown:
            raise NotFound(f"unknown supervoxel(s) {unknown}")
        version = self.version_at(at)
        if version is None:
            return [0] * len(svs)
        which = {sv: c for c in components(self.supervoxels, version.edges) for sv in c}
        return [version.roots[which[s]] if s else 0 for s in svs]

    def _root(self, root_id: int) -> OracleRoot:
        if int(root_id) not in self.roots:
            raise NotFound(f"unknown root {root_id}")
        return self.roots[int(root_id)]

    def is_latest(self, root_ids: Iterable[int], at: datetime | None = None) -> list[bool]:
        out = []
        for root_id in root_ids:
            root = self.roots.get(int(root_id))
            if root is None:
                out.append(False)
            elif at is None:
                out.append(root.expired_at is None)
            else:
                gone = root.expired_at is not None and root.expired_at <= at
                out.append(root.created_at <= at and not gone)
        return out

    def root_timestamps(
        self, root_ids: Iterable[int], latest: bool, at: datetime
    ) -> list[datetime]:
        out = []
        for root_id in root_ids:
            root = self._root(root_id)
            if not latest:
                out.append(root.created_at)
            elif root.expired_at is not None and root.expired_at <= at:
                out.append(root.expired_at)
            else:
                out.append(at)
        return out

    def delta_roots(self, since: datetime, until: datetime | None) -> tuple[list[int], list[int]]:
        old: set[int] = set()
        new: set[int] = set()
        for op in self.operations:
            if since <= op.timestamp and (until is None or op.timestamp <= until):
                old.update(op.old_root_ids)
                new.update(op.new_root_ids)
        return sorted(old), sorted(new)

    def leaves(self, root_id: int) -> list[int]:
        return sorted(self._root(root_id).leaves)

    def list_operations(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[Operation]:
        return [
            op
            for op in self.operations
            if (since is None or since <= op.timestamp) and (until is None or op.timestamp <= until)
        ]

    # -- lineage ---------------------------------------------------------------------------------

    def _closure(self, root_id: int, forward: bool) -> set[int]:
        found: set[int] = set()
        stack = [root_id]
        while stack:
            root = self._root(stack.pop())
            for nxt in root.successors if forward else root.formers:
                if nxt not in found:
                    found.add(nxt)
                    stack.append(nxt)
        return found

    def lineage(
        self, root_ids: Iterable[int], past: datetime | None, future: datetime | None
    ) -> tuple[set[int], set[Edge]]:
        """Nodes and old->new links: each root, its ancestors still alive after ``past`` and
        its descendants created by ``future``."""
        nodes: set[int] = set()
        for root_id in root_ids:
            nodes.add(int(root_id))
            for a in self._closure(int(root_id), forward=False):
                expired = self.roots[a].expired_at
                if past is None or (expired is not None and expired > past):
                    nodes.add(a)
            for d in self._closure(int(root_id), forward=True):
                if future is None or self.roots[d].created_at <= future:
                    nodes.add(d)
        links = {(a, b) for a in nodes for b in self.roots[a].successors if b in nodes}
        return nodes, links

    def past_id_mapping(
        self, root_ids: Iterable[int], past: datetime, future: datetime
    ) -> tuple[dict[int, list[int]], dict[int, int]]:
        past_map = {}
        for root_id in (int(r) for r in root_ids):
            if self._root(root_id).created_at <= past:
                past_map[root_id] = [root_id]
                continue
            found = set()
            for a in self._closure(root_id, forward=False) | {root_id}:
                root = self.roots[a]
                gone = root.expired_at
                existed = root.created_at <= past and gone is not None and gone > past
                before_build = not root.formers and root.created_at > past
                if existed or before_build:
                    found.add(a)
            past_map[root_id] = sorted(found)
        future_map = {}
        for past_id in sorted({p for ids in past_map.values() for p in ids}):
            chain = {past_id} | {
                d
                for d in self._closure(past_id, forward=True)
                if self.roots[d].created_at <= future
            }
            onward = {n: [s for s in self.roots[n].successors if s in chain] for n in chain}
            if all(len(v) <= 1 for v in onward.values()):
                (end,) = [n for n, v in onward.items() if not v]
                future_map[past_id] = end
        return past_map, future_map

    # -- edits -----------------------------------------------------------------------------------

    def _check_known(self, svs: Iterable[int]) -> None:
        svs = list(svs)
        if 0 in svs:
            raise InvalidInput("supervoxel 0 cannot be edited")
        unknown = [s for s in svs if s not in self.supervoxels]
        if unknown:
            raise NotFound(f"unknown supervoxel(s) {unknown}")

    def _component(self, sv: int) -> Component:
        latest = self.versions[-1]
        (piece,) = [c for c in latest.roots if sv in c]
        return piece

    def merge(self, sv_a: int, sv_b: int, user_id: str, at: datetime) -> Operation:
        self._check_known([sv_a, sv_b])
        if self._component(sv_a) == self._component(sv_b):
            raise Conflict("same root")
        return self._apply("merge", user_id, at, added={_edge(sv_a, sv_b)})

    def remove_edges(self, edges: Iterable[Edge], user_id: str, at: datetime) -> Operation:
        pairs = [(int(a), int(b)) for a, b in edges]
        if not pairs:
            raise InvalidInput("no edges")
        self._check_known([sv for pair in pairs for sv in pair])
        keys = {_edge(a, b) for a, b in pairs}
        if any(a == b or (a, b) not in self.versions[-1].edges for a, b in keys):
            raise InvalidInput("no such edge")
        if len({self._component(a) for a, _ in keys}) > 1:
            raise InvalidInput("edges of several roots")
        return self._apply("split", user_id, at, removed=keys)

    def split(
        self,
        source_ids: Iterable[int],
        sink_ids: Iterable[int],
        user_id: str,
        at: datetime,
        removed: Iterable[Edge],
    ) -> Operation:
        """A minimum-cut split; ``removed`` are the edges the adapter cut (checked here)."""
        sources, sinks = {int(s) for s in source_ids}, {int(s) for s in sink_ids}
        if not sources or not sinks:
            raise InvalidInput("sources and sinks are needed")
        self._check_known(sorted(sources | sinks))
        if sources & sinks:
            raise InvalidInput("sources and sinks overlap")
        pieces = {self._component(s) for s in sources | sinks}
        if len(pieces) > 1:
            raise InvalidInput("different roots")
        (piece,) = pieces
        inside = {e for e in self.versions[-1].edges if e[0] in piece}
        cut = {_edge(int(a), int(b)) for a, b in removed}
        left = components(piece, inside - cut)
        if not cut <= inside or any(c & sources and c & sinks for c in left):
            raise AssertionError(f"{sorted(cut)} does not separate {sources} from {sinks}")
        if len(cut) != min_cut_size(inside, sources, sinks):
            raise AssertionError(f"{sorted(cut)} is not a minimum cut")
        return self._apply("split", user_id, at, removed=cut)

    def replay(self, operation_id: int, user_id: str, at: datetime, undo: bool) -> Operation:
        if not 0 < operation_id <= len(self.operations):
            raise NotFound(f"no operation {operation_id}")
        target = self.operations[operation_id - 1]
        added, removed = set(target.added_edges), set(target.removed_edges)
        if undo:
            added, removed = removed, added
        kind = "undo" if undo else "redo"
        return self._apply(kind, user_id, at, added, removed, target=operation_id)

    def _apply(
        self,
        kind: str,
        user_id: str,
        at: datetime,
        added: set[Edge] | None = None,
        removed: set[Edge] | None = None,
        target: int | None = None,
    ) -> Operation:
        added, removed = added or set(), removed or set()
        latest = self.versions[-1]
        if any(e in latest.edges for e in added) or any(e not in latest.edges for e in removed):
            raise Conflict("the edge change cannot apply")
        touched = {sv for e in added | removed for sv in e}
        hit = [c for c in latest.roots if c & touched]
        if removed and len(hit) > 1:
            raise Conflict("edges of several roots")
        edges = frozenset((latest.edges | added) - removed)
        region = frozenset().union(*hit)
        after = components(self.supervoxels, edges)
        fresh = sorted((c for c in after if c & region), key=min)
        if len(hit) > 1 and len(fresh) > 1:
            raise Conflict("many-to-many")
        if at <= latest.at:
            raise AssertionError(f"operation instant {at} does not advance")
        version = Version(at, edges, {c: latest.roots[c] for c in after if not c & region})
        old_ids = tuple(sorted(latest.roots[c] for c in hit))
        new_ids = self._mint_for(version, fresh, old_ids)
        op = Operation(
            len(self.operations) + 1,
            kind,
            user_id,
            at,
            old_ids,
            new_ids,
            tuple(sorted(added)),
            tuple(sorted(removed)),
            target,
        )
        self.operations.append(op)
        self.versions.append(version)
        return op

    def _mint_for(
        self, version: Version, fresh: list[Component], old_ids: tuple[int, ...]
    ) -> tuple[int, ...]:
        """New roots for the touched components; the old roots expire into them."""
        new_ids = []
        for piece in fresh:
            root_id = self._mint()
            new_ids.append(root_id)
            version.roots[piece] = root_id
            self.roots[root_id] = OracleRoot(
                root_id, version.at, len(self.operations) + 1, piece, formers=old_ids
            )
        for old in old_ids:
            self.roots[old].successors = tuple(new_ids)
            self.roots[old].expired_at = version.at
        return tuple(new_ids)
