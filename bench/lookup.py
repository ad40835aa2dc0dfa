"""Supervoxel lookup at scattered points: our reader against the limit and against CloudVolume.

    python bench/lookup.py --points 1000000 [--cv-sample 5000] [--repeats 5]
        [--encodings raw,compressed_segmentation] [--workdir DIR]

Builds (or reuses, in the temp dir) a 1024x1024x256 uint64 precomputed volume with 64^3 chunks
and blocky supervoxels (about 20x20x6 voxels, boundaries shifted per z-slab, cut at chunk
borders), once per encoding. Then, in one process, with the page cache warm and each store
opened once beforehand, on the same uniformly random points (8x8x40 nm voxels):
  (a) ours: ``TensorStoreSegmentation.lookup`` (validation, bounds check, one vindex read);
  (b) CloudVolume ``scattered_points`` (CAVE's path; LRU of 100 MB as CAVE configures it) on a
      sample of the points, scaled to points/s (labelled "sampled");
  (c) the limit asked for: TensorStore whole-chunk reads of exactly the chunks the points touch,
      64 in flight, each chunk indexed with numpy as it arrives;
  (d) bare TensorStore vindex on pre-split int64 columns (our reader minus our own work).
Every result is checked against the labels' formula. (a), (c), (d) run in interleaved rounds;
times are the median of --repeats rounds.
The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorstore as ts

from fixative.segmentation import TensorStoreSegmentation
from fixative.segmentation.writer import VolumeLayout, write_volume

SHAPE = (1024, 1024, 256)
CHUNK = (64, 64, 64)
RESOLUTION = (8.0, 8.0, 40.0)
SUPERVOXEL = (20, 20, 6)
WINDOW = 64
U = np.uint64


def labels_at(x: npt.NDArray[Any], y: npt.NDArray[Any], z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Supervoxel id at broadcastable coordinate arrays: the chunk in the high 32 bits, the
    supervoxel box within the chunk (x/y boundaries shifted by 7 voxels per z-slab) below."""
    x, y, z = (np.asarray(a, dtype=np.int64) for a in (x, y, z))
    slab = z // SUPERVOXEL[2]
    shift = (slab * 7) % SUPERVOXEL[0]
    bx = (x % CHUNK[0] + shift) // SUPERVOXEL[0]
    by = (y % CHUNK[1] + shift) // SUPERVOXEL[1]
    chunk = (x // CHUNK[0]) * 4096 + (y // CHUNK[1]) * 16 + z // CHUNK[2]
    local = bx + 16 * by + 256 * (slab % 16) + 1
    return (chunk.astype(U) << U(32)) | local.astype(U)


def _block(origin: tuple[int, int, int], shape: tuple[int, int, int]) -> npt.NDArray[Any]:
    x, y, z = (np.arange(o, o + s) for o, s in zip(origin, shape, strict=True))
    return labels_at(x[:, None, None], y[None, :, None], z[None, None, :])


def ensure_volume(workdir: Path, encoding: str) -> Path:
    path = workdir / f"{encoding}-{'x'.join(map(str, SHAPE))}"
    if (path / "COMPLETE").exists():
        print(f"reusing {path}")
        return path
    shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    write_volume(path, VolumeLayout(SHAPE, RESOLUTION, CHUNK, encoding=encoding), _block)
    (path / "COMPLETE").write_text("written by bench/lookup.py\n")
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    return path


def timed_rounds(
    fns: dict[str, Callable[[], npt.NDArray[np.uint64]]], want: npt.NDArray[np.uint64], rounds: int
) -> dict[str, float]:
    """Median seconds of each function, run in interleaved rounds; every result is checked."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            got = fn()
            times[name].append(time.perf_counter() - start)
            assert np.array_equal(got, want), f"{name} returned wrong labels"
    return {name: statistics.median(t) for name, t in times.items()}


def whole_chunk_reads(store: ts.TensorStore, vox: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """The limit: group points by chunk, read each touched chunk whole (``WINDOW`` in flight),
    index it with numpy."""
    chunk = np.array(CHUNK)
    grid = np.array(SHAPE) // chunk
    cell = vox // chunk
    chunk_id = (cell[:, 0] * grid[1] + cell[:, 1]) * grid[2] + cell[:, 2]
    order = np.argsort(chunk_id, kind="stable")
    ordered = chunk_id[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    out = np.empty(len(vox), dtype=U)
    pending: deque[tuple[Any, npt.NDArray[Any], npt.NDArray[Any]]] = deque()

    def finish(future: Any, idx: npt.NDArray[Any], lo: npt.NDArray[Any]) -> None:
        block = future.result()
        local = vox[idx] - lo
        out[idx] = block[local[:, 0], local[:, 1], local[:, 2]]

    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        idx = order[a:b]
        lo = cell[idx[0]] * chunk
        hi = lo + chunk
        pending.append((store[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].read(), idx, lo))
        if len(pending) >= WINDOW:
            finish(*pending.popleft())
    while pending:
        finish(*pending.popleft())
    return out


def cloudvolume_sample(path: Path, vox: npt.NDArray[np.int64]) -> tuple[float, bool]:
    """Seconds for ``scattered_points`` on these points, and whether every label was right."""
    from cloudvolume import CloudVolume

    cv = CloudVolume(
        f"file://{path}", progress=False, fill_missing=True, bounded=False, lru_bytes=100 * 2**20
    )
    pts = [tuple(p) for p in vox.tolist()]
    start = time.perf_counter()
    got = cv.scattered_points(pts, coord_resolution=RESOLUTION)
    seconds = time.perf_counter() - start
    want = labels_at(vox[:, 0], vox[:, 1], vox[:, 2])
    ok = [int(got[p]) for p in pts] == want.tolist()
    return seconds, ok


def _fig(name: str, n: int, ours_s: float, base: str, base_rate: float) -> dict[str, Any]:
    ours = n / ours_s
    return {
        "figure": name,
        "value": round(ours),
        "unit": "points/s",
        "baseline": f"{base} {round(base_rate)} points/s",
        "ratio": round(ours / base_rate, 3),
    }


def bench_encoding(path: Path, encoding: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    n = args.points
    rng = np.random.default_rng(args.seed)
    vox = np.stack([rng.integers(0, s, n) for s in SHAPE], axis=1)
    want = labels_at(vox[:, 0], vox[:, 1], vox[:, 2])
    seg = TensorStoreSegmentation.open(str(path))
    store = ts.open({"driver": "neuroglancer_precomputed", "kvstore": f"file://{path}"}).result()
    store3 = store[ts.d["channel"][0]]
    cols = [np.ascontiguousarray(vox[:, i]) for i in range(3)]
    whole_chunk_reads(store3, vox)  # warm the page cache

    fine = vox * [2, 2, 1] + rng.integers(0, 2, size=(n, 3)) * [1, 1, 0]
    median = timed_rounds(
        {
            "ours": lambda: seg.lookup(vox, RESOLUTION),
            "ours_4nm": lambda: seg.lookup(fine, (4.0, 4.0, 40.0)),
            "bare": lambda: store3.vindex[cols[0], cols[1], cols[2]].read().result(),
            "limit": lambda: whole_chunk_reads(store3, vox),
        },
        want,
        args.repeats,
    )
    ours_s, fine_s, bare_s, limit_s = (median[k] for k in ("ours", "ours_4nm", "bare", "limit"))
    sample = min(args.cv_sample, n)
    cv_s, cv_ok = cloudvolume_sample(path, vox[:sample])
    assert cv_ok, "CloudVolume returned wrong labels"

    chunks = len(np.unique((vox // CHUNK) @ [1 << 40, 1 << 20, 1]))
    print(f"\n{encoding}: {n:,} uniform points over {chunks} chunks of 64^3 (median of rounds)")
    print(f"  ours, lookup at 8x8x40      {ours_s:7.3f} s  {n / ours_s:12,.0f} points/s")
    print(f"  ours, lookup at 4x4x40      {fine_s:7.3f} s  {n / fine_s:12,.0f} points/s")
    print(f"  bare TensorStore vindex     {bare_s:7.3f} s  {n / bare_s:12,.0f} points/s")
    print(f"  whole-chunk reads (limit)   {limit_s:7.3f} s  {n / limit_s:12,.0f} points/s")
    print(
        f"  CloudVolume scattered_points, sampled {sample:,} points: {cv_s:.2f} s "
        f"= {sample / cv_s:,.0f} points/s (scaled)"
    )
    name = f"lookup_points_per_s_{encoding}"
    return [
        _fig(name, n, ours_s, "tensorstore_whole_chunk_limit", n / limit_s),
        _fig(name, n, ours_s, f"cloudvolume_scattered_points (sampled {sample})", sample / cv_s),
        _fig(name, n, ours_s, "tensorstore_bare_vindex", n / bare_s),
        _fig(f"{name}_at_4x4x40", n, fine_s, "tensorstore_bare_vindex", n / bare_s),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--cv-sample", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--encodings", default="raw,compressed_segmentation")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "fixative-bench-lookup"
    )
    args = parser.parse_args()
    print(f"volume {SHAPE} uint64, chunks {CHUNK}, {RESOLUTION} nm; workdir {args.workdir}")
    figures = []
    for encoding in args.encodings.split(","):
        figures += bench_encoding(ensure_volume(args.workdir, encoding), encoding, args)
    print()
    for fig in figures:
        print(json.dumps(fig))


if __name__ == "__main__":
    main()
