"""``EmbeddedChunkedGraph``: our own versioned supervoxel graph, persisted in the live database.

The database (``cg_`` tables, see ``tables.py``) is the truth; memory holds an immutable
``RootIndex`` loaded at open, so reads never touch the disk except one tiny query per read that
asks whether another process has appended operations (then the new ones are loaded and applied).
Edits run in one write transaction that locks the graph row (``FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), catches up, plans the change, writes it, and only after commit
swaps in the new index. The current edge set, needed only by edits, is loaded on the first edit.

Operation instants come from the clock, rounded down to the millisecond and kept at least 1 ms
after the previous operation, as PyChunkedGraph stamps them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from fixative.chunkedgraph import edits, lineage, logs, persist
from fixative.chunkedgraph.edits import Adjacency, EditRequest, Slot
from fixative.chunkedgraph.index import NEVER, RootIndex
from fixative.chunkedgraph.port import U64, Operation
from fixative.chunkedgraph.records import (
    SUPERVOXEL_LIMIT,
    Build,
    RootInfo,
    as_ids,
    ceil_ms,
    floor_ms,
    from_ms,
    mint_root_id,
)
from fixative.chunkedgraph.tables import TABLE_ID_LENGTH, cg_graphs
from fixative.clock import Clock
from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.store import Store, memo

USER_ID_LENGTH = 128
Coords = dict[str, list[list[float]]]  # "source_coords"/"sink_coords" -> [[x, y, z], ...]

Planner = Callable[[RootIndex, Adjacency], EditRequest]


def _ms(at: datetime | None) -> int | None:
    return None if at is None else floor_ms(at)


def _noting(request: EditRequest, coords: Coords | None) -> EditRequest:
    """``request`` with the user's points in its log (PyChunkedGraph's ``source_coords`` and
    ``sink_coords``: lists of [x, y, z] in the segmentation's voxels)."""
    if not coords:
        return request
    unknown = set(coords) - {"source_coords", "sink_coords"}
    if unknown:
        raise InvalidInput(f"unknown coordinate key(s): {', '.join(sorted(unknown))}")
    return dataclasses.replace(request, extra={**request.extra, **coords})


def _one(node_id: int) -> int:
    (value,) = as_ids([node_id]).tolist()
    return int(value)


def _check_table_id(table_id: str) -> None:
    if not isinstance(table_id, str) or not 0 < len(table_id) <= TABLE_ID_LENGTH:
        raise InvalidInput(f"chunkedgraph table id {table_id!r} must be 1-{TABLE_ID_LENGTH} chars")


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not 0 < len(user_id) <= USER_ID_LENGTH:
        raise InvalidInput(f"user id {user_id!r} must be 1-{USER_ID_LENGTH} characters")


def initial_build(
    supervoxel_ids: npt.ArrayLike, edges: npt.ArrayLike, at_ms: int, user_id: str
) -> tuple[Build, U64]:
    """The build record (initial roots = connected components of ``edges``) and the edges as an
    (n, 2) uint64 array, smaller id first, de-duplicated."""
    svs = np.unique(as_ids(supervoxel_ids))
    if svs.size == 0 or svs.size != np.asarray(supervoxel_ids).size:
        raise InvalidInput("supervoxel ids must be a non-empty list without repeats")
    if svs[0] == 0 or int(svs[-1]) >= SUPERVOXEL_LIMIT:
        raise InvalidInput(f"supervoxel ids must lie in [1, {SUPERVOXEL_LIMIT})")
    raw = np.asarray(edges)
    if raw.size and (raw.ndim != 2 or raw.shape[1] != 2):
        raise InvalidInput("edges must be pairs of supervoxel ids")
    pairs = as_ids(edges).reshape(-1, 2)
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    if (pairs[:, 0] == pairs[:, 1]).any():
        raise InvalidInput("an edge joins a supervoxel to itself")
    known = np.isin(pairs, svs)
    if not known.all():
        raise NotFound(f"edge endpoint {int(pairs[~known][0])} is not a listed supervoxel")
    pieces = edits.components(svs.tolist(), [(a, b) for a, b in pairs.tolist()])
    roots = np.zeros(svs.size, dtype=np.uint64)
    for counter, piece in enumerate(pieces, start=1):
        roots[np.searchsorted(svs, np.array(piece, dtype=np.uint64))] = mint_root_id(counter)
    return Build(at_ms, svs, roots, user_id), pairs


class EmbeddedChunkedGraph:
    """A chunkedgraph with full edit history in the Store's database (see the module doc)."""

    def __init__(self, store: Store, table_id: str, index: RootIndex, clock: Clock) -> None:
        self._store = store
        self._table_id = table_id
        self._index = index
        self._clock = clock
        self._lock = threading.RLock()
        self._adjacency: Adjacency | None = None
        self._adjacency_at = -1  # the operation id the edge set reflects

    @classmethod
    def create(
        cls,
        store: Store,
        table_id: str,
        supervoxel_ids: npt.ArrayLike,
        edges: npt.ArrayLike = (),
        *,
        at: datetime | None = None,
        user_id: str = "fixative",
        clock: Clock | None = None,
    ) -> EmbeddedChunkedGraph:
        """Build a new graph; its initial roots are the components of ``edges``, created at
        ``at`` (default: now). Conflict if ``table_id`` exists."""
        _check_table_id(table_id)
        _check_user_id(user_id)
        clock = clock or store.clock
        build, pairs = initial_build(supervoxel_ids, edges, floor_ms(at or clock()), user_id)
        exists = Conflict(f"chunkedgraph table {table_id!r} already exists")
        try:
            with store.write() as conn:
                if persist.find_graph(conn, table_id) is not None:
                    raise exists
                persist.insert_graph(conn, table_id, build, pairs)
        except sa.exc.IntegrityError:  # created concurrently by another writer
            raise exists from None
        graph = cls(store, table_id, RootIndex.build(build), clock)
        graph._adjacency = Adjacency((int(a), int(b)) for a, b in pairs.tolist())
        graph._adjacency_at = 0
        return graph

    @classmethod
    def open(
        cls, store: Store, table_id: str, *, clock: Clock | None = None
    ) -> EmbeddedChunkedGraph:
        """Load an existing graph (NotFound if there is none)."""
        with store.read() as conn:
            upto = persist.last_operation_id(conn, table_id)
            build = persist.load_build(conn, table_id)
            changes = persist.load_changes(conn, table_id, 0, upto)
        index = RootIndex.build(build).extend(changes)
        return cls(store, table_id, index, clock or store.clock)

    @staticmethod
    def list_table_ids(store: Store) -> list[str]:
        """The embedded graphs held in ``store``'s database."""
        with store.read() as conn:
            query = sa.select(cg_graphs.c.table_id).order_by(cg_graphs.c.table_id)
            return [str(v) for v in conn.execute(query).scalars()]

    @property
    def table_id(self) -> str:
        return self._table_id

    # -- freshness -------------------------------------------------------------------------------

    def refresh(self) -> RootIndex:
        """The index, after loading operations another process committed since (one query;
        once per read scope, ``fixative.store.memo``: a request or a query sees one graph)."""
        index = self._index
        upto = memo.remembered((id(self), "cg_last_operation"), self._last_operation_id)
        if upto > index.last_operation_id:
            with self._store.read() as conn:
                index = self._catch_up(conn, upto)
        return index

    def _last_operation_id(self) -> int:
        with self._store.read() as conn:
            return persist.last_operation_id(conn, self._table_id)

    def _catch_up(self, conn: sa.Connection, upto: int) -> RootIndex:
        with self._lock:
            index = self._index
            if upto > index.last_operation_id:
                changes = persist.load_changes(conn, self._table_id, index.last_operation_id, upto)
                index = index.extend(changes)
                if (
                    self._adjacency is not None
                    and self._adjacency_at == changes[0].operation_id - 1
                ):
                    for change in changes:
                        self._adjacency.apply(change)
                    self._adjacency_at = changes[-1].operation_id
                self._index = index
            return index

    # -- reads -----------------------------------------------------------------------------------

    def get_roots(self, supervoxel_ids: npt.ArrayLike, at: datetime | None = None) -> U64:
        return self.refresh().roots(as_ids(supervoxel_ids), _ms(at))

    def get_delta_roots(self, since: datetime, until: datetime | None = None) -> tuple[U64, U64]:
        return self.refresh().delta_roots(ceil_ms(since), _ms(until))

    def is_latest_roots(
        self, root_ids: npt.ArrayLike, at: datetime | None = None
    ) -> npt.NDArray[np.bool_]:
        return self.refresh().is_latest(as_ids(root_ids), _ms(at))

    def get_root_timestamps(
        self, root_ids: npt.ArrayLike, latest: bool = False, at: datetime | None = None
    ) -> list[datetime]:
        index = self.refresh()
        rows = index.known_root_rows(as_ids(root_ids))
        if not latest:
            return [from_ms(ms) for ms in index.root_created_ms[rows].tolist()]
        at = at or self._clock()
        at_ms = floor_ms(at)
        return [from_ms(ms) if ms <= at_ms else at for ms in index.root_expired_ms[rows].tolist()]

    def get_past_id_mapping(
        self, root_ids: npt.ArrayLike, past: datetime, future: datetime
    ) -> tuple[dict[int, list[int]], dict[int, int]]:
        roots = as_ids(root_ids).tolist()
        return lineage.past_id_mapping(self.refresh(), roots, floor_ms(past), floor_ms(future))

    def get_lineage_graph(
        self, root_ids: npt.ArrayLike, past: datetime | None = None, future: datetime | None = None
    ) -> dict[str, Any]:
        index = self.refresh()
        graph = lineage.lineage_graph(index, as_ids(root_ids).tolist(), _ms(past), _ms(future))
        return graph.node_link_data(index)

    def get_leaves(self, root_id: int) -> U64:
        (root,) = as_ids([root_id]).tolist()
        return self.refresh().leaves(root)

    def get_oldest_timestamp(self) -> datetime:
        return from_ms(self._index.created_ms)

    def get_root_info(self, root_id: int) -> RootInfo:
        """When a root was created and expired, by which operations, and its neighbours in the
        lineage graph (NotFound for an unknown id)."""
        index = self.refresh()
        (root_id,) = as_ids([root_id]).tolist()
        row = int(index.known_root_rows(np.array([root_id], dtype=np.uint64))[0])
        expired_op = int(index.root_expired_op[row])
        latest = expired_op == NEVER
        return RootInfo(
            root_id=root_id,
            created_at=from_ms(int(index.root_created_ms[row])),
            operation_id=int(index.root_op[row]) or None,
            expired_at=None if latest else from_ms(int(index.root_expired_ms[row])),
            expired_operation_id=None if latest else expired_op,
            former_root_ids=index.formers.get(root_id, ()),
            new_root_ids=index.successors.get(root_id, ()),
        )

    def list_operations(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[Operation]:
        """Operations with ``since <= timestamp <= until``, oldest first."""
        index = self.refresh()
        first = 1 if since is None else max(1, int(np.searchsorted(index.op_ms, ceil_ms(since))))
        stop = index.operation_at(_ms(until)) + 1
        return list(index.operations[first - 1 : max(first, stop) - 1])

    def get_operation(self, operation_id: int) -> Operation:
        index = self.refresh()
        if not 0 < int(operation_id) <= index.last_operation_id:
            raise NotFound(f"operation {operation_id} does not exist in {self._table_id!r}")
        return index.operations[int(operation_id) - 1]

    # -- edit history (``logs.py``) ---------------------------------------------------------------

    def get_change_log(
        self, root_id: int, filtered: bool = False, past: datetime | None = None
    ) -> dict[str, Any]:
        return logs.change_log(self.refresh(), _one(root_id), filtered, _ms(past))

    def get_tabular_change_logs(
        self, root_ids: npt.ArrayLike, filtered: bool = True
    ) -> dict[int, list[dict[str, Any]]]:
        index = self.refresh()
        roots = dict.fromkeys(as_ids(root_ids).tolist())
        return {r: logs.tabular_change_log(index, r, filtered) for r in roots}

    def get_merge_log(self, root_id: int) -> dict[str, Any]:
        return logs.merge_log(self.refresh(), _one(root_id))

    def get_operation_details(self, operation_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        ops = self.refresh().operations
        wanted = dict.fromkeys(int(i) for i in operation_ids)
        return {i: logs.operation_details(ops[i - 1]) for i in wanted if 0 < i <= len(ops)}

    def get_user_operations(
        self,
        user_id: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_undone: bool = False,
    ) -> list[tuple[int, datetime]]:
        return logs.user_operations(self.list_operations(since, until), user_id, include_undone)

    def get_children(self, node_id: int) -> U64:
        return logs.children(self.refresh(), _one(node_id))

    def get_valid_nodes(
        self, node_ids: npt.ArrayLike, since: datetime | None = None, until: datetime | None = None
    ) -> U64:
        return logs.valid_nodes(self.refresh(), as_ids(node_ids), _ms(since), _ms(until))

    # -- edits -----------------------------------------------------------------------------------

    def merge(self, sv_a: int, sv_b: int, user_id: str, coords: Coords | None = None) -> Operation:
        """Join the roots of two supervoxels with an edge between them (Conflict if they
        already share a root). ``coords``: the user's points, kept in the operation's log."""
        return self._edit(
            user_id,
            lambda ix, _: _noting(edits.merge_request(ix, sv_a, sv_b, user_id), coords),
        )

    def split(
        self,
        source_ids: Iterable[int],
        sink_ids: Iterable[int],
        user_id: str,
        coords: Coords | None = None,
    ) -> Operation:
        """Remove a minimum cut between sources and sinks (one root; InvalidInput otherwise).
        ``coords``: the user's points, kept in the operation's log."""
        sources, sinks = list(source_ids), list(sink_ids)
        return self._edit(
            user_id,
            lambda ix, adj: _noting(edits.split_request(ix, adj, sources, sinks, user_id), coords),
        )

    def remove_edges(self, edges: Iterable[tuple[int, int]], user_id: str) -> Operation:
        """Split by removing explicit edges of one root (one new root if it stays connected)."""
        pairs = list(edges)
        return self._edit(
            user_id, lambda ix, adj: edits.remove_edges_request(ix, adj, pairs, user_id)
        )

    def undo(self, operation_id: int, user_id: str) -> Operation:
        """Apply the inverse edge change of an operation as a new operation (new root ids)."""
        op_id = int(operation_id)
        return self._edit(user_id, lambda ix, _: edits.replay_request(ix, op_id, user_id, True))

    def redo(self, operation_id: int, user_id: str) -> Operation:
        """Apply an operation's edge change again as a new operation (new root ids)."""
        op_id = int(operation_id)
        return self._edit(user_id, lambda ix, _: edits.replay_request(ix, op_id, user_id, False))

    def _edit(self, user_id: str, planner: Planner) -> Operation:
        _check_user_id(user_id)
        with self._lock:
            with self._store.write() as conn:
                graph = persist.get_graph(conn, self._table_id, lock=True)
                index = self._catch_up(conn, int(graph.last_operation_id))
                adjacency = self._edges(conn, index)
                request = planner(index, adjacency)
                stamp = max(floor_ms(self._clock()), int(index.op_ms[-1]) + 1)
                slot = Slot(index.last_operation_id + 1, stamp, int(graph.next_root_counter))
                change = edits.plan(index, adjacency, request, slot)
                next_counter = slot.root_counter + len(change.leaves)
                persist.write_change(conn, self._table_id, change, next_counter)
            self._index = index.extend([change])
            adjacency.apply(change)
            self._adjacency_at = change.operation_id
            return change.operation

    def _edges(self, conn: sa.Connection, index: RootIndex) -> Adjacency:
        """The current edge set (loaded once, inside the locked transaction)."""
        if self._adjacency is None or self._adjacency_at != index.last_operation_id:
            self._adjacency = Adjacency(persist.load_current_edges(conn, self._table_id))
            self._adjacency_at = index.last_operation_id
        return self._adjacency
