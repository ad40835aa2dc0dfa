"""The demo's annotation tables: one synapse per unit of C. elegans connection weight (pre and
post points inside the two cells' boxes), a cell type and a nucleus per cell.

Builds larger than the connectome (28,113 synapses) repeat it in tiles of new cells named
``<cell>.<tile>``; smaller builds keep the first connections until the weights add up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fixative.demo.celegans import Cell, Connection
from fixative.demo.layout import Layout


@dataclass(frozen=True)
class Wiring:
    """Cells (index = position in the layout) and synapse counts between them."""

    names: list[str]
    classes: list[str]
    pre: npt.NDArray[np.int64]  # cell index per connection
    post: npt.NDArray[np.int64]
    weight: npt.NDArray[np.int64]

    @property
    def n_synapses(self) -> int:
        return int(self.weight.sum())


def wiring(cells: list[Cell], connections: list[Connection], synapses: int | None) -> Wiring:
    """The first ``synapses`` units of weight, repeating the connectome in tiles as needed."""
    index = {c.name: i for i, c in enumerate(cells)}
    pre = np.array([index[c.pre] for c in connections], np.int64)
    post = np.array([index[c.post] for c in connections], np.int64)
    weight = np.array([c.weight for c in connections], np.int64)
    total = int(weight.sum())
    wanted = total if synapses is None else synapses
    if wanted < 1:
        raise ValueError("the demo needs at least one synapse")
    tiles = -(-wanted // total)
    n = len(cells)
    all_pre = np.concatenate([pre + t * n for t in range(tiles)])
    all_post = np.concatenate([post + t * n for t in range(tiles)])
    all_weight = np.tile(weight, tiles)
    cum = np.cumsum(all_weight)
    keep = int(np.searchsorted(cum, wanted)) + 1
    all_weight = all_weight[:keep].copy()
    all_weight[-1] -= int(cum[keep - 1]) - wanted
    names = [c.name if t == 0 else f"{c.name}.{t}" for t in range(tiles) for c in cells]
    classes = [c.wormatlas_class for _ in range(tiles) for c in cells]
    return Wiring(names, classes, all_pre[:keep], all_post[:keep], all_weight)


def _points_in_boxes(
    layout: Layout, cells: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """One random voxel inside each cell's box (every box voxel belongs to its cell)."""
    offsets = (rng.random((cells.size, 3)) * np.array(layout.box)).astype(np.int64)
    points: npt.NDArray[np.int64] = layout.box_origin(cells) + offsets
    return points


def synapse_table(layout: Layout, wires: Wiring, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    pre_cells = np.repeat(wires.pre, wires.weight)
    post_cells = np.repeat(wires.post, wires.weight)
    pre = _points_in_boxes(layout, pre_cells, rng)
    post = _points_in_boxes(layout, post_cells, rng)
    cols: dict[str, npt.NDArray[np.generic]] = {}
    for name, pts in (("pre_pt", pre), ("ctr_pt", (pre + post) // 2), ("post_pt", post)):
        for i, axis in enumerate("xyz"):
            cols[f"{name}_position_{axis}"] = pts[:, i]
    cols["size"] = np.round(rng.gamma(2.0, 150.0, pre_cells.size), 1)
    return pa.table(cols)


def cell_type_table(layout: Layout, wires: Wiring) -> pa.Table:
    cells = np.arange(len(wires.names), dtype=np.int64)
    centre = layout.box_origin(cells) + np.array(layout.box) // 2
    return pa.table(
        {
            "pt_position": _rows(centre),
            "cell_type": wires.names,
            "classification_system": wires.classes,
        }
    )


def nucleus_table(layout: Layout, wires: Wiring, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed + 1)
    cells = np.arange(len(wires.names), dtype=np.int64)
    origin = layout.box_origin(cells)
    box = np.array(layout.box)
    return pa.table(
        {
            "pt_position": _rows(origin + box // 2),
            "volume": np.round(rng.normal(30.0, 5.0, cells.size), 2),
            "bb_start_position": _rows(origin + box // 4),
            "bb_end_position": _rows(origin + 3 * box // 4),
        }
    )


def _rows(points: npt.NDArray[np.int64]) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(points.ravel(), pa.int64()), 3)


def expected_connectivity(wires: Wiring) -> dict[tuple[str, str], int]:
    """(pre cell, post cell) -> synapse count, the check the finished demo must pass."""
    out: dict[tuple[str, str], int] = {}
    for p, q, w in zip(wires.pre.tolist(), wires.post.tolist(), wires.weight.tolist(), strict=True):
        if w:
            key = (wires.names[p], wires.names[q])
            out[key] = out.get(key, 0) + w
    return out
