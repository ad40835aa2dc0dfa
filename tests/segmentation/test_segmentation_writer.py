"""The volume writer: metadata neuroglancer and CloudVolume read, contents read back through
plain TensorStore, block-by-block streaming, and refused input."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import tensorstore as ts
from segvolumes import CHUNK, OFFSET, PRECOMPUTED, RESOLUTION, SHAPE

from fixative.errors import Conflict, InvalidInput
from fixative.segmentation.writer import (
    VolumeLayout,
    sharding_spec,
    write_precomputed,
    write_volume,
    write_zarr,
)

Int3 = tuple[int, int, int]


def _plain_read(path: Path, driver: str = "neuroglancer_precomputed") -> npt.NDArray[Any]:
    store = ts.open({"driver": driver, "kvstore": f"file://{path}"}).result()
    data = store.read().result()
    return data[..., 0] if driver == "neuroglancer_precomputed" else data


@pytest.mark.parametrize("kind", list(PRECOMPUTED))
def test_precomputed_metadata_and_contents(
    volume_root: Path, labels: npt.NDArray[np.uint64], kind: str
) -> None:
    info = json.loads((volume_root / kind / "info").read_text())
    assert info["type"] == "segmentation"
    assert info["data_type"] == "uint64"
    assert info["num_channels"] == 1
    (scale,) = info["scales"]
    options = PRECOMPUTED[kind]
    assert scale["resolution"] == list(RESOLUTION)
    assert scale["size"] == list(SHAPE)
    assert scale["voxel_offset"] == list(options.get("voxel_offset", (0, 0, 0)))
    assert scale["chunk_sizes"] == [list(options.get("chunk_size", CHUNK))]
    assert scale["encoding"] == options.get("encoding", "raw")
    if scale["encoding"] == "compressed_segmentation":
        assert scale["compressed_segmentation_block_size"] == [8, 8, 8]
    assert ("sharding" in scale) == options.get("sharded", False)
    np.testing.assert_array_equal(_plain_read(volume_root / kind), labels)


def test_sharded_volume_is_in_shard_files(volume_root: Path) -> None:
    files = sorted(p.name for p in (volume_root / "sharded_raw" / "8_8_40").iterdir())
    assert files
    assert all(name.endswith(".shard") for name in files)
    assert len(files) > 1


@pytest.mark.parametrize(("kind", "driver"), [("zarr2", "zarr"), ("zarr3", "zarr3")])
def test_zarr_metadata_and_contents(
    volume_root: Path, labels: npt.NDArray[np.uint64], kind: str, driver: str
) -> None:
    np.testing.assert_array_equal(_plain_read(volume_root / kind, driver), labels)
    if kind == "zarr2":
        attrs = json.loads((volume_root / kind / ".zattrs").read_text())
        zarray = json.loads((volume_root / kind / ".zarray").read_text())
        assert zarray["dtype"] == "<u8"
        assert zarray["chunks"] == list(CHUNK)
    else:
        meta = json.loads((volume_root / kind / "zarr.json").read_text())
        attrs = {"_ARRAY_DIMENSIONS": meta["dimension_names"], **meta["attributes"]}
        assert meta["data_type"] == "uint64"
    assert attrs["_ARRAY_DIMENSIONS"] == ["x", "y", "z"]
    assert attrs["dimension_units"] == ["8 nm", "8 nm", "40 nm"]


class Recorder:
    """A block function, ``id = x + 1000 y + 1000000 z``, that records every block asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[Int3, Int3]] = []

    def __call__(self, origin: Int3, shape: Int3) -> npt.NDArray[np.uint64]:
        self.calls.append((origin, shape))
        x, y, z = np.meshgrid(
            *(np.arange(o, o + s, dtype=np.uint64) for o, s in zip(origin, shape, strict=True)),
            indexing="ij",
        )
        return x + np.uint64(1000) * y + np.uint64(1_000_000) * z

    def volume(self, lo: Int3, size: Int3) -> npt.NDArray[np.uint64]:
        return self(lo, size)


@pytest.mark.parametrize(
    ("layout", "block_vx", "block"),
    [
        (VolumeLayout(SHAPE, RESOLUTION, CHUNK, OFFSET), (20, 16, 8), (32, 16, 8)),
        (VolumeLayout(SHAPE, RESOLUTION, (8, 8, 4), sharded=True), (1, 1, 1), (32, 32, 16)),
        (VolumeLayout(SHAPE, RESOLUTION, CHUNK, format="zarr3"), (16, 16, 8), (16, 16, 8)),
    ],
    ids=["offset", "sharded", "zarr3"],
)
def test_write_volume_streams_aligned_blocks(
    tmp_path: Path, layout: VolumeLayout, block_vx: Int3 | None, block: Int3
) -> None:
    """Blocks are write-chunk multiples (shards when sharded), aligned to the grid, clipped at
    the edge, and tile the volume exactly once."""
    make = Recorder()
    write_volume(tmp_path / "v", layout, make, block_vx=block_vx)
    covered = np.zeros(SHAPE, dtype=np.int64)
    for origin, shape in make.calls:
        rel = [o - v for o, v in zip(origin, layout.voxel_offset, strict=True)]
        assert all(r % b == 0 for r, b in zip(rel, block, strict=True))
        assert all(s <= b for s, b in zip(shape, block, strict=True))
        covered[tuple(slice(r, r + s) for r, s in zip(rel, shape, strict=True))] += 1
    assert (covered == 1).all()
    driver = "neuroglancer_precomputed" if layout.format == "precomputed" else "zarr3"
    want = make.volume(layout.voxel_offset, SHAPE)
    np.testing.assert_array_equal(_plain_read(tmp_path / "v", driver), want)


def test_block_writes_never_hold_the_volume(tmp_path: Path) -> None:
    """A 32 MiB volume written from 256 KiB blocks: Python never allocates near the volume."""
    layout = VolumeLayout((256, 256, 64), (8, 8, 40), (32, 32, 32), encoding="raw")
    tracemalloc.start()
    try:
        write_volume(tmp_path / "big", layout, Recorder(), block_vx=(32, 32, 32))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_default_blocks_grow_within_budget(tmp_path: Path) -> None:
    make = Recorder()
    layout = VolumeLayout((300, 40, 20), (8, 8, 40), (16, 16, 8))
    write_volume(tmp_path / "v", layout, make)
    assert make.calls[0] == ((0, 0, 0), (300, 40, 20))


def test_block_function_errors_propagate(tmp_path: Path) -> None:
    def failing(origin: Int3, shape: Int3) -> npt.NDArray[np.uint64]:
        raise ValueError("generator bug")

    with pytest.raises(ValueError, match="generator bug"):
        write_volume(tmp_path / "v", VolumeLayout((8, 8, 8), (8, 8, 40), (8, 8, 8)), failing)


@pytest.mark.parametrize("prefix", ["zarr://", "zarr3://"])
def test_source_prefix_must_match_layout(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(InvalidInput, match="names a zarr"):
        write_precomputed(f"{prefix}{tmp_path / 'v'}", np.ones((4, 4, 4), np.uint64), RESOLUTION)


def test_writes_to_a_file_url(tmp_path: Path, labels: npt.NDArray[np.uint64]) -> None:
    write_precomputed(f"precomputed://file://{tmp_path / 'v'}", labels, RESOLUTION, CHUNK)
    np.testing.assert_array_equal(_plain_read(tmp_path / "v"), labels)


def test_existing_volume_is_a_conflict(tmp_path: Path, labels: npt.NDArray[np.uint64]) -> None:
    write_precomputed(tmp_path / "v", labels, RESOLUTION, CHUNK)
    with pytest.raises(Conflict):
        write_precomputed(tmp_path / "v", labels, RESOLUTION, CHUNK)


@pytest.mark.parametrize(
    "block",
    [np.zeros((16, 16, 7), dtype=np.uint64), np.full((16, 16, 8), -3), np.zeros((16, 16, 8, 1))],
)
def test_bad_blocks_are_refused(tmp_path: Path, block: npt.NDArray[Any]) -> None:
    layout = VolumeLayout((16, 16, 8), (8, 8, 40), (16, 16, 8))
    with pytest.raises(InvalidInput):
        write_volume(tmp_path / "v", layout, lambda origin, shape: block)


@pytest.mark.parametrize(
    "options",
    [
        {"encoding": "jpeg"},
        {"format": "n5"},
        {"format": "zarr", "voxel_offset": (1, 0, 0)},
        {"format": "zarr3", "sharded": True},
        {"format": "zarr", "encoding": "compressed_segmentation"},
        {"size_vx": (0, 4, 4)},
        {"chunk_size": (8, 8)},
        {"resolution_nm": (8, 0, 40)},
        {"voxel_offset": (-1, 0, 0)},
    ],
)
def test_bad_layouts(options: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"size_vx": (8, 8, 8), "resolution_nm": (8, 8, 40), **options}
    with pytest.raises(InvalidInput):
        VolumeLayout(**fields)


def test_bad_labels(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        write_precomputed(tmp_path / "a", np.zeros((4, 4), dtype=np.uint64), RESOLUTION)
    with pytest.raises(InvalidInput):
        write_precomputed(tmp_path / "b", np.zeros((4, 4, 4), dtype=np.float32), RESOLUTION)
    with pytest.raises(InvalidInput):
        write_zarr(tmp_path / "c", np.zeros((4, 4, 4), dtype=np.uint64), RESOLUTION, zarr_format=4)


@pytest.mark.parametrize(
    ("grid", "bits"),
    [
        ((1, 1, 1), (0, 0, 0)),
        ((2, 2, 1), (2, 0, 0)),
        ((9, 7, 5), (3, 3, 4)),
        ((4, 4, 4), (3, 3, 0)),
    ],
)
def test_sharding_bits(grid: Int3, bits: Int3) -> None:
    spec = sharding_spec(grid, "raw")
    assert (spec["preshift_bits"], spec["minishard_bits"], spec["shard_bits"]) == bits
    assert spec["hash"] == "identity"


@pytest.mark.parametrize("kind", list(PRECOMPUTED))
def test_cloudvolume_reads_what_we_write(
    volume_root: Path, labels: npt.NDArray[np.uint64], kind: str
) -> None:
    """CloudVolume (the field's reader, a dev dependency) reads every layout."""
    import cloudvolume

    cv = cloudvolume.CloudVolume(f"file://{volume_root / kind}", progress=False)
    lo = PRECOMPUTED[kind].get("voxel_offset", (0, 0, 0))
    hi = [o + s for o, s in zip(lo, SHAPE, strict=True)]
    cutout = np.asarray(cv[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])[..., 0]
    np.testing.assert_array_equal(cutout, labels)
    assert cv.scattered_points([(lo[0] + 5, lo[1] + 7, lo[2] + 3)]).popitem()[1] == labels[5, 7, 3]
