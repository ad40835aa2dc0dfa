"""The in-memory versioned index of a chunkedgraph: supervoxel -> root at any instant, and each
root's lifetime, all in sorted numpy arrays.

Representation (why): every supervoxel's history is a short list of (operation, root) intervals.
They are packed into one sorted int64 key array, ``(supervoxel position << 32) | operation id``,
so "root of sv at T" is one ``searchsorted`` for a whole batch (T becomes the last operation id
at or before T, an integer, because operation instants strictly increase with the id). The
latest roots are also kept dense (``current``), so reads at "now" are a plain ``take``. Roots
are minted in increasing order, so the root arrays and the per-root leaf arrays are append-only
and stay sorted. A ``RootIndex`` is immutable: edits build a new one (``extend``), so a reader
holding the old one is never disturbed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fixative.chunkedgraph.port import Operation
from fixative.chunkedgraph.positions import SupervoxelPositions
from fixative.chunkedgraph.records import I64, U64, Build, Change
from fixative.errors import InvalidInput, NotFound

OP_BITS = 32
OP_LIMIT = 1 << OP_BITS
Bools = npt.NDArray[np.bool_]
NEVER = np.iinfo(np.int64).max  # "not expired": an operation id / instant after everything
MAX_SHOWN = 5
SNAPSHOT_RATIO = 8  # a lookup of >= 1/8 of all supervoxels at a past instant builds a snapshot
SNAPSHOTS_KEPT = 4


def _unknown(kind: str, ids: U64) -> NotFound:
    shown = ", ".join(str(int(i)) for i in ids[:MAX_SHOWN])
    more = f" and {ids.size - MAX_SHOWN} more" if ids.size > MAX_SHOWN else ""
    return NotFound(f"unknown {kind} id(s): {shown}{more}")


class Snapshots:
    """A few whole-graph root arrays at past operations (thread-safe, oldest dropped first).

    Materializing at an instant asks for roots at the same past instant many times; one
    snapshot makes each later lookup a plain ``take``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, U64] = {}

    def get(self, op_id: int) -> U64 | None:
        with self._lock:
            return self._held.get(op_id)

    def put(self, op_id: int, roots: U64) -> U64:
        with self._lock:
            while len(self._held) >= SNAPSHOTS_KEPT:
                self._held.pop(next(iter(self._held)))
            self._held[op_id] = roots
        return roots


@dataclass(frozen=True)
class RootIndex:
    sv_ids: U64  # sorted supervoxel ids; a supervoxel's position is its index here
    sv_positions: SupervoxelPositions  # id -> position, vectorized
    current: U64  # latest root of each supervoxel position
    iv_keys: I64  # (position << 32) | operation id, sorted: one row per (sv, root) interval
    iv_roots: U64
    leaf_roots: U64  # the same intervals ordered by (root, sv): a root's leaves are a slice
    leaf_svs: U64
    op_ms: I64  # instant of operation i; op_ms[0] is the build
    root_ids: U64  # every root ever minted, sorted (= minting order)
    root_op: I64  # operation that created the root (0 = build); non-decreasing
    root_created_ms: I64
    root_expired_op: I64  # operation that superseded it, NEVER while latest
    root_expired_ms: I64
    formers: Mapping[int, tuple[int, ...]]  # new root -> old roots
    successors: Mapping[int, tuple[int, ...]]  # old root -> new roots
    operations: tuple[Operation, ...]  # operations[i] has operation id i + 1
    snapshots: Snapshots = field(default_factory=Snapshots, compare=False, repr=False)

    # -- construction ----------------------------------------------------------------------------

    @classmethod
    def build(cls, build: Build) -> RootIndex:
        svs, roots = build.supervoxel_ids, build.root_ids
        n = svs.size
        if n >= 1 << (63 - OP_BITS):
            raise InvalidInput(f"{n} supervoxels is more than one graph can index")
        by_root = np.lexsort((svs, roots))
        unique_roots = np.unique(roots)
        k = unique_roots.size
        return cls(
            sv_ids=svs,
            sv_positions=SupervoxelPositions(svs),
            current=roots.copy(),
            iv_keys=np.arange(n, dtype=np.int64) << OP_BITS,
            iv_roots=roots.copy(),
            leaf_roots=roots[by_root],
            leaf_svs=svs[by_root],
            op_ms=np.array([build.created_ms], dtype=np.int64),
            root_ids=unique_roots,
            root_op=np.zeros(k, dtype=np.int64),
            root_created_ms=np.full(k, build.created_ms, dtype=np.int64),
            root_expired_op=np.full(k, NEVER, dtype=np.int64),
            root_expired_ms=np.full(k, NEVER, dtype=np.int64),
            formers={},
            successors={},
            operations=(),
        )

    def extend(self, changes: Sequence[Change]) -> RootIndex:
        """A new index with ``changes`` (consecutive operations after the last one) applied."""
        if not changes:
            return self
        grown = _Growth(self.current.copy(), dict(self.formers), dict(self.successors))
        for offset, change in enumerate(changes):
            op_id = self.last_operation_id + 1 + offset
            if change.operation_id != op_id or op_id >= OP_LIMIT:
                raise InvalidInput(f"operation {change.operation_id} does not follow {op_id - 1}")
            op = change.operation
            for root, svs in zip(op.new_root_ids, change.leaves, strict=True):
                pos = self.positions(svs)
                grown.current[pos] = root
                grown.keys.append((pos << OP_BITS) | op_id)
                grown.leaf_roots.append(np.full(svs.size, root, dtype=np.uint64))
                grown.leaf_svs.append(svs)
                grown.formers[root] = op.old_root_ids
            grown.minted.extend((r, op_id, change.timestamp_ms) for r in op.new_root_ids)
            grown.expired.extend((r, op_id, change.timestamp_ms) for r in op.old_root_ids)
            for old_id in op.old_root_ids:
                grown.successors[old_id] = op.new_root_ids
        return self._grown(changes, grown)

    def _grown(self, changes: Sequence[Change], grown: _Growth) -> RootIndex:
        keys = np.concatenate(grown.keys) if grown.keys else np.zeros(0, np.int64)
        roots = np.concatenate(grown.leaf_roots) if grown.leaf_roots else np.zeros(0, np.uint64)
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.iv_keys, keys[order])
        minted = np.array(grown.minted, dtype=np.int64).reshape(-1, 3)
        root_ids = np.concatenate([self.root_ids, minted[:, 0].astype(np.uint64)])
        if (np.diff(root_ids[self.root_ids.size - 1 :].astype(np.int64)) <= 0).any():
            raise InvalidInput("new root ids must be minted in increasing order")
        never = np.full(minted.shape[0], NEVER, dtype=np.int64)
        expired_op = np.concatenate([self.root_expired_op, never])
        expired_ms = np.concatenate([self.root_expired_ms, never])
        if grown.expired:
            gone = np.array(grown.expired, dtype=np.int64)
            rows = _rows_of(root_ids, gone[:, 0].astype(np.uint64))
            expired_op[rows], expired_ms[rows] = gone[:, 1], gone[:, 2]
        stamps = np.array([c.timestamp_ms for c in changes], dtype=np.int64)
        if (np.diff(np.concatenate([self.op_ms[-1:], stamps])) <= 0).any():
            raise InvalidInput("operation instants must strictly increase")
        return RootIndex(
            sv_ids=self.sv_ids,
            sv_positions=self.sv_positions,
            current=grown.current,
            iv_keys=np.insert(self.iv_keys, at, keys[order]),
            iv_roots=np.insert(self.iv_roots, at, roots[order]),
            leaf_roots=np.concatenate([self.leaf_roots, *grown.leaf_roots]),
            leaf_svs=np.concatenate([self.leaf_svs, *grown.leaf_svs]),
            op_ms=np.concatenate([self.op_ms, stamps]),
            root_ids=root_ids,
            root_op=np.concatenate([self.root_op, minted[:, 1]]),
            root_created_ms=np.concatenate([self.root_created_ms, minted[:, 2]]),
            root_expired_op=expired_op,
            root_expired_ms=expired_ms,
            formers=grown.formers,
            successors=grown.successors,
            operations=self.operations + tuple(c.operation for c in changes),
            snapshots=self.snapshots,  # the past does not change: snapshots stay valid
        )

    # -- supervoxels -----------------------------------------------------------------------------

    @property
    def last_operation_id(self) -> int:
        return int(self.op_ms.size - 1)

    @property
    def created_ms(self) -> int:
        return int(self.op_ms[0])

    def positions(self, svs: U64) -> I64:
        """Position of each supervoxel; NotFound if one is unknown (or 0)."""
        pos, zero = self.positions_or_zero(svs)
        if zero is not None:
            raise _unknown("supervoxel", svs[zero])
        return pos

    def positions_or_zero(self, svs: U64) -> tuple[I64, Bools | None]:
        """Positions, with id 0 given position 0 and reported in the mask (None: no zeros).
        Zeros are looked for only when some id missed, so the common path is one lookup."""
        pos, bad = self.sv_positions.lookup(svs)
        if bad is None:
            return pos, None
        zero = svs == 0
        if (bad & ~zero).any():
            raise _unknown("supervoxel", svs[bad & ~zero])
        pos[zero] = 0
        return pos, zero

    def operation_at(self, at_ms: int | None) -> int:
        """The last operation at or before ``at_ms`` (None: the latest); -1 before the build."""
        if at_ms is None:
            return self.last_operation_id
        return int(np.searchsorted(self.op_ms, at_ms, side="right")) - 1

    def roots(self, svs: U64, at_ms: int | None) -> U64:
        """Root of each supervoxel at ``at_ms`` (0 for id 0, and everywhere before the build)."""
        pos, zero = self.positions_or_zero(svs)
        op_id = self.operation_at(at_ms)
        if op_id < 0:
            return np.zeros(svs.size, dtype=np.uint64)
        if op_id == self.last_operation_id:
            found = self.current[pos]
        else:
            snapshot = self.snapshots.get(op_id)
            if snapshot is None and pos.size * SNAPSHOT_RATIO >= self.sv_ids.size:
                snapshot = self.snapshots.put(op_id, self._snapshot(op_id))
            if snapshot is not None:
                found = snapshot[pos]
            else:
                hit = np.searchsorted(self.iv_keys, (pos << OP_BITS) | op_id, side="right") - 1
                found = self.iv_roots[hit]
        if zero is not None:
            found[zero] = 0
        return found

    def _snapshot(self, op_id: int) -> U64:
        """The root of every supervoxel after operation ``op_id``."""
        every = (np.arange(self.sv_ids.size, dtype=np.int64) << OP_BITS) | op_id
        roots: U64 = self.iv_roots[np.searchsorted(self.iv_keys, every, side="right") - 1]
        return roots

    def leaves(self, root_id: int) -> U64:
        """The supervoxels of a root, sorted (a root's leaves never change)."""
        key = np.uint64(root_id)
        start = int(np.searchsorted(self.leaf_roots, key, side="left"))
        stop = int(np.searchsorted(self.leaf_roots, key, side="right"))
        if start == stop:
            raise _unknown("root", np.array([root_id], dtype=np.uint64))
        return self.leaf_svs[start:stop].copy()

    # -- roots -----------------------------------------------------------------------------------

    def root_rows(self, root_ids: U64) -> tuple[I64, Bools]:
        """Row of each root in the root arrays, and where the root is known."""
        n = self.root_ids.size
        rows = np.minimum(np.searchsorted(self.root_ids, root_ids), max(n - 1, 0))
        found = (self.root_ids[rows] == root_ids) if n else np.zeros(root_ids.size, dtype=bool)
        return rows.astype(np.int64), found

    def known_root_rows(self, root_ids: U64) -> I64:
        rows, found = self.root_rows(root_ids)
        if not found.all():
            raise _unknown("root", root_ids[~found])
        return rows

    def is_latest(self, root_ids: U64, at_ms: int | None) -> Bools:
        rows, found = self.root_rows(root_ids)
        if at_ms is None:
            latest: Bools = found & (self.root_expired_op[rows] == NEVER)
            return latest
        alive: Bools = (self.root_created_ms[rows] <= at_ms) & (self.root_expired_ms[rows] > at_ms)
        return found & alive

    def created_ms_of(self, root_id: int) -> int:
        return int(self.root_created_ms[self.known_root_rows(np.array([root_id], np.uint64))[0]])

    def delta_roots(self, since_ms: int, until_ms: int | None) -> tuple[U64, U64]:
        """(old, new) roots of the operations in [since, until]; the build is not one."""
        first = max(1, int(np.searchsorted(self.op_ms, since_ms, side="left")))
        stop = self.operation_at(until_ms) + 1
        if stop <= first:
            empty = np.zeros(0, dtype=np.uint64)
            return empty, empty.copy()
        lo, hi = np.searchsorted(self.root_op, [first, stop], side="left")
        new = self.root_ids[lo:hi].copy()
        expired = (self.root_expired_op >= first) & (self.root_expired_op < stop)
        return self.root_ids[expired].copy(), new


@dataclass
class _Growth:
    """What a batch of changes adds to an index, gathered before the arrays are rebuilt."""

    current: U64
    formers: dict[int, tuple[int, ...]]
    successors: dict[int, tuple[int, ...]]
    keys: list[I64] = field(default_factory=list)
    leaf_roots: list[U64] = field(default_factory=list)
    leaf_svs: list[U64] = field(default_factory=list)
    minted: list[tuple[int, int, int]] = field(default_factory=list)  # (root, op id, ms)
    expired: list[tuple[int, int, int]] = field(default_factory=list)


def _rows_of(sorted_ids: U64, ids: U64) -> I64:
    rows = np.searchsorted(sorted_ids, ids)
    if ids.size and (rows.max() >= sorted_ids.size or (sorted_ids[rows] != ids).any()):
        raise InvalidInput("an operation expires a root that does not exist")
    return rows.astype(np.int64)
