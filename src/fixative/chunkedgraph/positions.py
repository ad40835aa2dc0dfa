"""Supervoxel id -> position in the sorted supervoxel array, vectorized, for any id layout.

Three layouts, chosen once from the ids:

- contiguous ids (1..N from a flat watershed): position = id - first id;
- dense ids with gaps (id range at most ``TABLE_SPAN`` times the count): one int32 table over
  the range, -1 for holes;
- sparse ids (PyChunkedGraph-shaped: layer and chunk bits on top): an open-addressing hash
  table with linear probing (load at most 1/2: 32-64 bytes per supervoxel), probed for the
  whole batch at once. One round resolves most ids; later rounds touch only the few that
  collided. ``searchsorted`` over the sorted array costs one cache-missing binary search per id
  (about 5x slower at 100k supervoxels).

``lookup`` returns the positions and a mask of ids that are not supervoxels (None if all are).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fixative.chunkedgraph.records import I64, U64

Bools = npt.NDArray[np.bool_]
I32 = npt.NDArray[np.int32]
TABLE_SPAN = 4
MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
SHIFT_33 = np.uint64(33)
EMPTY = np.uint64(0)  # supervoxel 0 does not exist, so 0 marks a free slot


class SupervoxelPositions:
    def __init__(self, sorted_ids: U64) -> None:
        self.size = int(sorted_ids.size)
        self._first = int(sorted_ids[0]) if self.size else 0
        self._span = int(sorted_ids[-1]) - self._first + 1 if self.size else 0
        self._table = np.zeros(0, dtype=np.int64)
        self._keys = np.zeros(0, dtype=np.uint64)
        self._values = np.zeros(0, dtype=np.int64)
        self._shift = np.uint64(64)
        if self._span == self.size:
            self.layout = "contiguous"
        elif self._span <= TABLE_SPAN * self.size:
            self.layout = "table"
            self._table = np.full(self._span, -1, dtype=np.int64)
            offsets = (sorted_ids - np.uint64(self._first)).astype(np.int64)
            self._table[offsets] = np.arange(self.size, dtype=np.int64)
        else:
            self.layout = "hash"
            self._build_hash(sorted_ids)

    def lookup(self, ids: U64) -> tuple[I64, Bools | None]:
        """Positions of ``ids``, and where they are not supervoxels (None: all are)."""
        if self.layout == "hash":
            return self._probe(ids)
        offset = ids.view(np.int64) - self._first
        outside = offset.view(np.uint64) >= self._span  # below the first id wraps to huge
        if self.layout == "contiguous":
            return offset, (outside if outside.any() else None)
        if outside.any():
            offset[outside] = 0
        pos = self._table[offset]
        bad = (pos < 0) | outside
        return pos, (bad if bad.any() else None)

    # -- hashing ---------------------------------------------------------------------------------

    def _slots(self, ids: U64) -> I64:
        """Home slots: the top bits of MurmurHash3's 64-bit finalizer, computed in place.
        (A bare multiplicative hash clusters badly on ids built from bit fields.)"""
        h = ids >> SHIFT_33
        h ^= ids
        h *= MIX_1
        t = h >> SHIFT_33
        h ^= t
        h *= MIX_2
        np.right_shift(h, SHIFT_33, out=t)
        h ^= t
        h >>= self._shift
        return h.view(np.int64)

    def _build_hash(self, ids: U64) -> None:
        bits = max(4, int(2 * self.size - 1).bit_length())  # capacity >= 2n: load <= 1/2
        capacity = 1 << bits
        self._shift = np.uint64(64 - bits)
        keys = np.zeros(capacity, dtype=np.uint64)
        values = np.zeros(capacity, dtype=np.int64)
        pending = np.arange(ids.size, dtype=np.int64)
        slots = self._slots(ids)
        while pending.size:
            free = np.flatnonzero(keys[slots] == EMPTY)
            claimed, first = np.unique(slots[free], return_index=True)
            winners = free[first]  # one pending id per free slot claimed this round
            keys[claimed] = ids[pending[winners]]
            values[claimed] = pending[winners]
            rest = np.ones(pending.size, dtype=bool)
            rest[winners] = False
            pending = pending[rest]
            slots = (slots[rest] + 1) & (capacity - 1)  # linear probing
        self._keys, self._values = keys, values

    def _probe(self, ids: U64) -> tuple[I64, Bools | None]:
        """Probe every id at once; later rounds carry on only with ids that met another key."""
        slots = self._slots(ids)
        keys = self._keys.take(slots)
        pos = self._values.take(slots)
        open_ = np.flatnonzero((keys != ids) | (keys == EMPTY))
        if not open_.size:
            return pos, None
        mask = self._keys.size - 1
        bad = np.zeros(ids.size, dtype=bool)
        wanted, slots, keys = ids.take(open_), slots.take(open_), keys.take(open_)
        while open_.size:
            empty = keys == EMPTY  # a free slot ends the probe: not a supervoxel
            bad[open_[empty]] = True
            onward = ~empty
            open_, wanted = open_[onward], wanted[onward]
            slots = (slots[onward] + 1) & mask  # linear probing
            keys = self._keys.take(slots)
            hit = (keys == wanted) & (keys != EMPTY)
            pos[open_[hit]] = self._values.take(slots[hit])
            onward = ~hit
            open_, wanted, slots, keys = open_[onward], wanted[onward], slots[onward], keys[onward]
        return pos, (bad if bad.any() else None)
