"""Write the demo's segmentation as a neuroglancer precomputed volume, one layer of cells (one
chunk deep) at a time, collecting the supervoxels and their contacts on the way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fixative.demo.layout import Layout, contacts
from fixative.segmentation.writer import VolumeLayout
from fixative.segmentation.writer import write_volume as write_blocks


def write_volume(
    path: Path, layout: Layout, encoding: str, report: Callable[[str, int, int], None]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Write the whole volume; returns (all supervoxel ids, their contact pairs (n, 2))."""
    if layout.pitch[2] != layout.chunk[2]:
        raise ValueError("a layer of cells must be exactly one chunk deep")
    x, y, z = layout.shape
    depth = int(layout.chunk[2])
    svids: list[npt.NDArray[np.uint64]] = []
    pairs: list[npt.NDArray[np.uint64]] = []
    layers = z // depth

    def layer_labels(
        origin: tuple[int, int, int], shape: tuple[int, int, int]
    ) -> npt.NDArray[np.uint64]:
        hi = (origin[0] + shape[0], origin[1] + shape[1], origin[2] + shape[2])
        labels = layout.labels(origin, hi)
        uniq = np.unique(labels)
        svids.append(uniq[uniq != 0])
        pairs.append(contacts(labels))  # a cell never spans two layers: its contacts are all here
        report("volume", len(svids), layers)
        return labels

    spec = VolumeLayout(layout.shape, layout.resolution_nm, layout.chunk, encoding=encoding)
    path.mkdir(parents=True, exist_ok=True)
    write_blocks(path, spec, layer_labels, block_vx=(x, y, depth))
    all_pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.uint64)
    return np.concatenate(svids), all_pairs
