"""Where the demo's cells and supervoxels lie in the volume, as pure functions of coordinates.

Each cell (a C. elegans cell, repeated in tiles for larger builds) owns a box of voxels on a
regular grid, with background (label 0) between boxes. Inside its box a cell is split into
Voronoi regions around a few seeds, and every region is cut again at chunk borders, as
PyChunkedGraph's supervoxels are. A voxel's label is computed from its coordinates alone, so any
block of the volume can be produced independently (the writer streams the volume block by block).

Supervoxel ids carry PyChunkedGraph's layer byte (1):
``1 << 56 | cell << 12 | seed << 3 | dz << 2 | dy << 1 | dx``, where (dx, dy, dz) is the chunk of
the box the piece lies in, relative to the box's first chunk (a box is never larger than a chunk,
so it touches at most two chunks per axis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LAYER_1 = np.uint64(1 << 56)
CELLS_PER_AXIS = 8  # a tile is 8 x 8 x 8 cell slots (512 >= the 473 cells)
SEEDS_PER_CELL = 4


@dataclass(frozen=True)
class Layout:
    """The geometry of the demo volume (all sizes in voxels)."""

    n_cells: int
    box: tuple[int, int, int] = (24, 24, 6)
    gap: tuple[int, int, int] = (4, 4, 2)
    chunk: tuple[int, int, int] = (32, 32, 8)
    resolution_nm: tuple[float, float, float] = (8.0, 8.0, 40.0)
    seed: int = 7

    def __post_init__(self) -> None:
        if any(b > c for b, c in zip(self.box, self.chunk, strict=True)):
            raise ValueError("a cell box must fit in one chunk")

    @property
    def pitch(self) -> npt.NDArray[np.int64]:
        return np.array(self.box, np.int64) + np.array(self.gap, np.int64)

    @property
    def grid(self) -> npt.NDArray[np.int64]:
        """Cell slots per axis: 8 x 8 per tile layer, tiles stacked along z."""
        layers = -(-self.n_cells // (CELLS_PER_AXIS * CELLS_PER_AXIS))
        return np.array([CELLS_PER_AXIS, CELLS_PER_AXIS, layers], np.int64)

    @property
    def shape(self) -> tuple[int, int, int]:
        size = self.grid * self.pitch
        return (int(size[0]), int(size[1]), int(size[2]))

    def box_origin(self, cells: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Lowest voxel of each cell's box, shape (n, 3)."""
        g = self.grid
        slot = np.stack([cells % g[0], (cells // g[0]) % g[1], cells // (g[0] * g[1])], axis=1)
        return slot * self.pitch + np.array(self.gap, np.int64) // 2

    def seeds(self, cells: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Voronoi seeds per cell, shape (n, SEEDS_PER_CELL, 3), inside the box (box-relative):
        a splitmix64 hash of (layout seed, cell, seed, axis), so any cell's seeds are computed
        without the others'."""
        k = np.arange(SEEDS_PER_CELL * 3, dtype=np.uint64)
        keys = (cells.astype(np.uint64)[:, None] * np.uint64(64) + k[None, :]) ^ np.uint64(
            self.seed
        )
        unit = (_splitmix64(keys) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        return unit.reshape(cells.size, SEEDS_PER_CELL, 3) * np.array(self.box, np.float64)

    def labels(self, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> npt.NDArray[np.uint64]:
        """Supervoxel labels of the block [lo, hi) (indexed [x, y, z])."""
        axes = [np.arange(a, b, dtype=np.int64) for a, b in zip(lo, hi, strict=True)]
        pitch, gap_lo = self.pitch, np.array(self.gap, np.int64) // 2
        slot = [(ax // p) for ax, p in zip(axes, pitch, strict=True)]
        inside = [
            ((ax % p) >= g) & ((ax % p) < g + b)
            for ax, p, g, b in zip(axes, pitch, gap_lo, self.box, strict=True)
        ]
        g = self.grid
        cell = slot[0][:, None, None] + g[0] * (
            slot[1][None, :, None] + g[1] * slot[2][None, None, :]
        )
        mask = inside[0][:, None, None] & inside[1][None, :, None] & inside[2][None, None, :]
        mask &= (
            (cell < self.n_cells)
            & (slot[0][:, None, None] < g[0])
            & (slot[1][None, :, None] < g[1])
        )
        return self._label_voxels(axes, cell, mask)

    def _label_voxels(
        self,
        axes: list[npt.NDArray[np.int64]],
        cell: npt.NDArray[np.int64],
        mask: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.uint64]:
        out = np.zeros(cell.shape, dtype=np.uint64)
        if not mask.any():
            return out
        idx = np.nonzero(mask)
        cells = cell[idx]
        uniq, inverse = np.unique(cells, return_inverse=True)
        origins, seeds = self.box_origin(uniq), self.seeds(uniq)
        xyz = np.stack([axes[0][idx[0]], axes[1][idx[1]], axes[2][idx[2]]], axis=1)
        rel = (xyz - origins[inverse]).astype(np.float64) + 0.5
        dist = ((seeds[inverse] - rel[:, None, :]) ** 2).sum(axis=2)
        seed = dist.argmin(axis=1).astype(np.uint64)
        chunk = np.array(self.chunk, np.int64)
        dchunk = (xyz // chunk - origins[inverse] // chunk).astype(np.uint64)
        code = dchunk[:, 0] | (dchunk[:, 1] << np.uint64(1)) | (dchunk[:, 2] << np.uint64(2))
        out[idx] = (
            LAYER_1 | (cells.astype(np.uint64) << np.uint64(12)) | (seed << np.uint64(3)) | code
        )
        return out

    def cell_block(self, cell: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        origin = self.box_origin(np.array([cell], np.int64))[0]
        lo = (int(origin[0]), int(origin[1]), int(origin[2]))
        return lo, (lo[0] + self.box[0], lo[1] + self.box[1], lo[2] + self.box[2])


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def cell_of(supervoxel_ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    return ((supervoxel_ids & ~LAYER_1) >> np.uint64(12)).astype(np.int64)


def seed_of(supervoxel_ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    return ((supervoxel_ids >> np.uint64(3)) & np.uint64(0x1FF)).astype(np.int64)


def contacts(labels: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Pairs (a < b) of different nonzero labels touching along an axis, shape (n, 2), unique."""
    pairs = []
    for axis in range(3):
        a = np.moveaxis(labels, axis, 0)[:-1].ravel()
        b = np.moveaxis(labels, axis, 0)[1:].ravel()
        keep = (a != b) & (a != 0) & (b != 0)
        pairs.append(np.stack([np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])], axis=1))
    both = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.uint64)
    return np.unique(both, axis=0) if both.size else both.reshape(0, 2)
