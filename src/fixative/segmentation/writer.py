"""Write segmentation volumes (neuroglancer precomputed, zarr v2/v3) for tests and the demo.

Writes stream: the volume is written block by block, each block aligned to the store's write
chunks (a chunk, or a shard when sharded), with a bounded number of writes in flight. A volume
built by ``write_volume`` from a block function never sits whole in memory.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorstore as ts

from fixative.errors import Conflict, FixativeError, InvalidInput
from fixative.ids import to_uint64
from fixative.segmentation.tensorstore import chunk_shape, parse_source, status_error

Int3 = tuple[int, int, int]
BlockFn = Callable[[Int3, Int3], npt.ArrayLike]
"""``make_block(origin_vx, shape_vx)`` -> uint64 labels of that shape, indexed [x, y, z];
``origin_vx`` is in the volume's voxels (voxel_offset included)."""

ENCODINGS = ("raw", "compressed_segmentation")
VOLUME_FORMATS = ("precomputed", "zarr", "zarr3")
BLOCK_BUDGET_BYTES = 64 * 2**20
MAX_PENDING_WRITES = 2
CSEG_BLOCK = [8, 8, 8]
BLOSC = {"cname": "lz4", "clevel": 5}


@dataclass(frozen=True)
class VolumeLayout:
    """Shape, voxel size and storage of a uint64 segmentation volume."""

    size_vx: Int3
    resolution_nm: tuple[float, float, float]
    chunk_size: Int3 = (64, 64, 64)
    voxel_offset: Int3 = (0, 0, 0)
    format: str = "precomputed"
    encoding: str = "raw"  # precomputed only
    sharded: bool = False  # precomputed only

    def __post_init__(self) -> None:
        if self.format not in VOLUME_FORMATS:
            raise InvalidInput(f"format must be one of {VOLUME_FORMATS}, got {self.format!r}")
        if self.encoding not in ENCODINGS:
            raise InvalidInput(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        for name in ("size_vx", "chunk_size", "resolution_nm", "voxel_offset"):
            values = getattr(self, name)
            low = 0 if name == "voxel_offset" else 1e-300
            if len(values) != 3 or not all(v >= low for v in values):
                raise InvalidInput(f"{name} must be three positive numbers, got {values!r}")
        if self.format != "precomputed" and (
            any(self.voxel_offset) or self.sharded or self.encoding != "raw"
        ):
            raise InvalidInput("voxel_offset, sharding and encodings apply only to precomputed")

    @property
    def grid(self) -> Int3:
        """Number of chunks along x, y, z."""
        x, y, z = (-(-s // c) for s, c in zip(self.size_vx, self.chunk_size, strict=True))
        return (x, y, z)


def sharding_spec(grid: Int3, encoding: str) -> dict[str, Any]:
    """Identity-hashed sharding: 8 chunks (2x2x2) per minishard, 64 (4x4x4) per shard."""
    bits = sum(max(0, (n - 1).bit_length()) for n in grid)
    preshift = min(bits, 3)
    minishard = min(bits - preshift, 3)
    return {
        "@type": "neuroglancer_uint64_sharded_v1",
        "hash": "identity",
        "preshift_bits": preshift,
        "minishard_bits": minishard,
        "shard_bits": bits - preshift - minishard,
        "minishard_index_encoding": "gzip",
        "data_encoding": "gzip" if encoding == "raw" else "raw",
    }


def _precomputed_spec(url: str, layout: VolumeLayout) -> dict[str, Any]:
    scale: dict[str, Any] = {
        "resolution": list(layout.resolution_nm),
        "size": list(layout.size_vx),
        "voxel_offset": list(layout.voxel_offset),
        "chunk_size": list(layout.chunk_size),
        "encoding": layout.encoding,
    }
    if layout.encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = CSEG_BLOCK
    if layout.sharded:
        scale["sharding"] = sharding_spec(layout.grid, layout.encoding)
    return {
        "driver": "neuroglancer_precomputed",
        "kvstore": url,
        "create": True,
        "multiscale_metadata": {"type": "segmentation", "data_type": "uint64", "num_channels": 1},
        "scale_metadata": scale,
    }


def _units(layout: VolumeLayout) -> list[str]:
    return [f"{r:g} nm" for r in layout.resolution_nm]


def _zarr_spec(url: str, layout: VolumeLayout) -> dict[str, Any]:
    if layout.format == "zarr":
        metadata: dict[str, Any] = {
            "shape": list(layout.size_vx),
            "chunks": list(layout.chunk_size),
            "dtype": "<u8",
            "fill_value": 0,
            "order": "C",
            "dimension_separator": "/",
            "compressor": {"id": "blosc", "shuffle": 1, **BLOSC},
        }
        return {"driver": "zarr", "kvstore": url, "create": True, "metadata": metadata}
    blosc = {"name": "blosc", "configuration": {"shuffle": "shuffle", "typesize": 8, **BLOSC}}
    metadata = {
        "shape": list(layout.size_vx),
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": list(layout.chunk_size)},
        },
        "data_type": "uint64",
        "fill_value": 0,
        "dimension_names": ["x", "y", "z"],
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, blosc],
        "attributes": {"dimension_units": _units(layout)},
    }
    return {"driver": "zarr3", "kvstore": url, "create": True, "metadata": metadata}


def create_volume(path: str | Path, layout: VolumeLayout) -> ts.TensorStore:
    """Create an empty volume at a path or URL; returns it as a 3-D store indexed [x, y, z]."""
    fmt, url = parse_source(str(path))
    if fmt is not None and fmt != layout.format:
        raise InvalidInput(f"{path} names a {fmt} volume but the layout is {layout.format}")
    if layout.format == "precomputed":
        spec = _precomputed_spec(url, layout)
    else:
        spec = _zarr_spec(url, layout)
    try:
        store = ts.open(spec).result()
        if layout.format == "zarr":
            attrs = {"_ARRAY_DIMENSIONS": ["x", "y", "z"], "dimension_units": _units(layout)}
            ts.KvStore.open(url).result().write(".zattrs", json.dumps(attrs)).result()
    except ValueError as exc:
        if str(exc).startswith("ALREADY_EXISTS"):
            raise Conflict(f"a volume already exists at {path}") from exc
        raise status_error(exc, f"cannot create volume at {path}", default=InvalidInput) from exc
    if layout.format == "precomputed":
        store = store[ts.d["channel"][0]]
    return store


def _block_shape(write_chunk: Int3, size: Int3, block_vx: Int3 | None) -> Int3:
    """Write-chunk multiples: ``block_vx`` rounded up, or grown x, y, z within the budget."""
    if block_vx is not None:
        x, y, z = (-(-b // w) * w for b, w in zip(block_vx, write_chunk, strict=True))
        return (x, y, z)
    block = list(write_chunk)
    for axis in range(3):
        while block[axis] < size[axis] and np.prod(block) * 8 * 2 <= BLOCK_BUDGET_BYTES:
            block[axis] *= 2
    return (block[0], block[1], block[2])


def _blocks(layout: VolumeLayout, block: Int3) -> Iterator[tuple[Int3, Int3]]:
    """(origin, shape) of each block, z outermost; edge blocks are clipped to the volume."""
    lo = layout.voxel_offset
    hi = [o + s for o, s in zip(lo, layout.size_vx, strict=True)]
    for z in range(lo[2], hi[2], block[2]):
        for y in range(lo[1], hi[1], block[1]):
            for x in range(lo[0], hi[0], block[0]):
                origin = (x, y, z)
                shape = (
                    min(block[0], hi[0] - x),
                    min(block[1], hi[1] - y),
                    min(block[2], hi[2] - z),
                )
                yield origin, shape


def _checked(labels: npt.ArrayLike, shape: Int3, origin: Int3) -> npt.NDArray[np.uint64]:
    arr = np.asarray(labels)
    if arr.shape != shape:
        raise InvalidInput(f"block at {origin} must have shape {shape}, got {arr.shape}")
    return to_uint64(arr)


def write_volume(
    path: str | Path, layout: VolumeLayout, make_block: BlockFn, *, block_vx: Int3 | None = None
) -> None:
    """Create a volume and fill it block by block from ``make_block(origin_vx, shape_vx)``.
    Blocks are whole write chunks (chunks, or shards when sharded), clipped at the volume's
    edge: ``block_vx`` rounded up to write chunks, or by default write chunks grown to about
    64 MiB."""
    store = create_volume(path, layout)
    block = _block_shape(chunk_shape(store, write=True), layout.size_vx, block_vx)
    pending: deque[ts.WriteFutures] = deque()
    for origin, size in _blocks(layout, block):
        labels = _checked(make_block(origin, size), size, origin)
        box = tuple(slice(o, o + s) for o, s in zip(origin, size, strict=True))
        pending.append(store[box].write(labels))
        while len(pending) > MAX_PENDING_WRITES:
            _finish(pending.popleft(), path)
    while pending:
        _finish(pending.popleft(), path)


def _finish(write: ts.WriteFutures, path: str | Path) -> None:
    try:
        write.result()
    except ValueError as exc:
        raise status_error(exc, f"writing volume at {path}", default=FixativeError) from exc


def _labels_3d(labels: npt.ArrayLike) -> npt.NDArray[Any]:
    arr = np.asarray(labels)
    if arr.ndim != 3 or arr.dtype.kind not in "iu":
        raise InvalidInput(f"labels must be a 3-D integer array, got {arr.dtype} {arr.shape}")
    return arr


def _from_array(arr: npt.NDArray[Any], offset: Int3) -> BlockFn:
    def block(origin: Int3, shape: Int3) -> npt.NDArray[Any]:
        start = [o - v for o, v in zip(origin, offset, strict=True)]
        return arr[tuple(slice(b, b + s) for b, s in zip(start, shape, strict=True))]

    return block


def write_precomputed(
    path: str | Path,
    labels: npt.ArrayLike,
    resolution_nm: tuple[float, float, float],
    chunk_size: Int3 = (64, 64, 64),
    encoding: str = "raw",
    sharded: bool = False,
    voxel_offset: Int3 = (0, 0, 0),
) -> None:
    """Write ``labels`` (uint64, indexed [x, y, z]) as a precomputed segmentation volume."""
    arr = _labels_3d(labels)
    size = (arr.shape[0], arr.shape[1], arr.shape[2])
    layout = VolumeLayout(
        size, resolution_nm, chunk_size, voxel_offset, encoding=encoding, sharded=sharded
    )
    write_volume(path, layout, _from_array(arr, voxel_offset))


def write_zarr(
    path: str | Path,
    labels: npt.ArrayLike,
    resolution_nm: tuple[float, float, float],
    chunk_size: Int3 = (64, 64, 64),
    *,
    zarr_format: int = 2,
) -> None:
    """Write ``labels`` (uint64, indexed [x, y, z]) as a zarr array (v2 or v3, blosc-lz4) with
    axis names x, y, z and ``dimension_units`` giving the voxel size."""
    if zarr_format not in (2, 3):
        raise InvalidInput(f"zarr_format must be 2 or 3, got {zarr_format}")
    arr = _labels_3d(labels)
    size = (arr.shape[0], arr.shape[1], arr.shape[2])
    fmt = "zarr" if zarr_format == 2 else "zarr3"
    layout = VolumeLayout(size, resolution_nm, chunk_size, format=fmt)
    write_volume(path, layout, _from_array(arr, (0, 0, 0)))
