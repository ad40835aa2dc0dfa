"""The multi-level spatial index: a grid per level over the segmentation volume's bounds (in
the table's voxels), each level's cells halving the previous level's along the axes that keep
them most nearly isotropic in nm, so every cell of level ``l + 1`` lies in one cell of level
``l`` (its parent).

Which annotations a cell lists (``chunks.spatial_chunk``): the ``limit`` lowest ids among the
annotations in the cell, less those its parent cell listed or inherited; the finest level lists
every remaining one. An annotation in the ``limit`` lowest of a cell is in the ``limit`` lowest
of each of its sub-cells too, so every annotation is listed at exactly one level (the coarsest
whose cell holds it among its ``limit`` lowest ids), and a cell is answered by two indexed
queries: a box ordered by id with a limit, and the same for its parent. Cells on the grid's
edge reach out to the end of the coordinate range, so annotations outside the volume are
listed too. The finest level may list more than ``limit`` (Neuroglancer uses the limit only to
estimate density).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fixative.errors import NotFound

Vec3 = tuple[int, int, int]
EDGE_LO, EDGE_HI = -(2**31), 2**31 - 1  # the range of the stored coordinates
SPARE = 4  # the finest level has room for SPARE times the rows at ``limit`` per cell
MAX_LEVELS = 12


@dataclass(frozen=True)
class Level:
    chunk_vx: Vec3
    grid: Vec3
    limit: int
    finest: bool


@dataclass(frozen=True)
class SpatialGrid:
    lower_vx: Vec3
    levels: tuple[Level, ...]

    @property
    def upper_vx(self) -> Vec3:
        top = self.levels[0]
        return _vec(self.lower_vx[a] + top.chunk_vx[a] * top.grid[a] for a in range(3))

    def level(self, level: int, cell: Vec3) -> Level:
        """The level of a cell (NotFound for a level or cell outside the grid)."""
        if not 0 <= level < len(self.levels):
            raise NotFound(f"the spatial index has no level {level}")
        found = self.levels[level]
        if any(not 0 <= cell[a] < found.grid[a] for a in range(3)):
            raise NotFound(f"cell {cell} is outside level {level}'s grid {found.grid}")
        return found

    def box(self, level: int, cell: Vec3) -> tuple[Vec3, Vec3] | None:
        """The cell's inclusive box in voxels (edge cells reaching out); None: everywhere."""
        found = self.level(level, cell)
        lo, hi = [], []
        for a in range(3):
            start = self.lower_vx[a] + cell[a] * found.chunk_vx[a]
            lo.append(EDGE_LO if cell[a] == 0 else start)
            hi.append(EDGE_HI if cell[a] == found.grid[a] - 1 else start + found.chunk_vx[a] - 1)
        if all(v == EDGE_LO for v in lo) and all(v == EDGE_HI for v in hi):
            return None
        return _vec(lo), _vec(hi)

    def parent(self, level: int, cell: Vec3) -> Vec3:
        child, up = self.levels[level], self.levels[level - 1]
        return _vec(cell[a] * child.chunk_vx[a] // up.chunk_vx[a] for a in range(3))


def _vec(values: Iterable[int]) -> Vec3:
    x, y, z = (int(v) for v in values)
    return (x, y, z)


def _depths(size_vx: Vec3, resolution_nm: tuple[float, float, float], levels: int) -> list[Vec3]:
    """Per level, how many times each axis has been halved (at most ``levels`` levels; fewer
    when no axis can be halved again)."""
    depth = [0, 0, 0]
    out = [_vec(depth)]
    while len(out) < levels:
        nm = [size_vx[a] * resolution_nm[a] / 2 ** depth[a] for a in range(3)]
        halve = [a for a in range(3) if 2 ** depth[a] < size_vx[a] and nm[a] > max(nm) / 2]
        if not halve:
            break
        for a in halve:
            depth[a] += 1
        out.append(_vec(depth))
    return out


def _size(lower_vx: Vec3, upper_vx: Vec3) -> Vec3:
    return _vec(max(1, upper_vx[a] - lower_vx[a]) for a in range(3))


def level_count(
    lower_vx: Vec3, upper_vx: Vec3, resolution_nm: tuple[float, float, float], rows: int, limit: int
) -> int:
    """Levels enough for ``rows`` annotations at ``limit`` per cell (with room to spare)."""
    depths = _depths(_size(lower_vx, upper_vx), resolution_nm, MAX_LEVELS)
    for i, depth in enumerate(depths):
        if 2 ** sum(depth) * limit >= rows * SPARE:
            return i + 1
    return len(depths)


def make_grid(
    lower_vx: Vec3,
    upper_vx: Vec3,
    resolution_nm: tuple[float, float, float],
    levels: int,
    limit: int,
) -> SpatialGrid:
    """``levels`` levels over ``[lower_vx, upper_vx)`` (fewer when the volume is too small)."""
    size = _size(lower_vx, upper_vx)
    depths = _depths(size, resolution_nm, levels)
    finest = depths[-1]
    finest_chunk = [-(-size[a] // 2 ** finest[a]) for a in range(3)]  # ceil
    out = []
    for i, depth in enumerate(depths):
        chunk = _vec(finest_chunk[a] * 2 ** (finest[a] - depth[a]) for a in range(3))
        grid = _vec(2 ** depth[a] for a in range(3))
        out.append(Level(chunk, grid, limit, i == len(depths) - 1))
    return SpatialGrid(lower_vx, tuple(out))
