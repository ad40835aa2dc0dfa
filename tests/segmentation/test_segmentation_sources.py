"""Opening sources (schemes, detection, missing volumes), malformed input, reads per chunk over
HTTP, the chunk cache, other integer dtypes, and sharing one reader between threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import tensorstore as ts
from segvolumes import CHUNK, RESOLUTION, SHAPE, LoopbackServer

from fixative.errors import InvalidInput, NotFound, Transient
from fixative.segmentation import TensorStoreSegmentation
from fixative.segmentation.tensorstore import parse_source
from fixative.segmentation.writer import write_zarr


class TestParseSource:
    @pytest.mark.parametrize(
        ("source", "fmt", "url"),
        [
            ("precomputed:///abs/vol", "precomputed", "file:///abs/vol/"),
            ("precomputed://file:///abs/vol/", "precomputed", "file:///abs/vol/"),
            ("precomputed://http://host:8/a/b", "precomputed", "http://host:8/a/b/"),
            ("precomputed://gs://bucket/seg", "precomputed", "gs://bucket/seg/"),
            ("zarr:///abs/vol", "zarr", "file:///abs/vol/"),
            ("zarr2://https://host/z", "zarr", "https://host/z/"),
            ("zarr3:///abs/vol", "zarr3", "file:///abs/vol/"),
            ("/abs/vol", None, "file:///abs/vol/"),
            ("file:///abs/vol", None, "file:///abs/vol/"),
        ],
    )
    def test_sources(self, source: str, fmt: str | None, url: str) -> None:
        assert parse_source(source) == (fmt, url)

    def test_relative_path_is_made_absolute(self) -> None:
        assert parse_source("some/vol") == (None, f"file://{Path.cwd().resolve()}/some/vol/")

    @pytest.mark.parametrize("source", ["", "precomputed://", "ftp://host/vol", "n5:///a"])
    def test_bad_sources(self, source: str) -> None:
        with pytest.raises(InvalidInput):
            parse_source(source)


class TestOpen:
    @pytest.mark.parametrize(
        ("name", "template"),
        [
            ("raw", "{path}"),
            ("raw", "file://{path}"),
            ("raw", "precomputed://{path}"),
            ("cseg", "precomputed://file://{path}"),
            ("zarr2", "{path}"),
            ("zarr2", "zarr://{path}"),
            ("zarr3", "{path}"),
            ("zarr3", "zarr3://file://{path}"),
        ],
    )
    def test_forms_of_source(
        self, volume_root: Path, labels: npt.NDArray[np.uint64], name: str, template: str
    ) -> None:
        seg = TensorStoreSegmentation.open(template.format(path=volume_root / name))
        assert seg.lookup([[3, 4, 5]], RESOLUTION).tolist() == [labels[3, 4, 5]]
        assert seg.chunk_size_vx == CHUNK

    @pytest.mark.parametrize(
        "template",
        ["{root}/missing", "precomputed://{root}/missing", "zarr://{root}/missing", "{root}/raw/x"],
    )
    def test_missing_volume_is_not_found(self, volume_root: Path, template: str) -> None:
        with pytest.raises(NotFound, match=r"missing|/x"):
            TensorStoreSegmentation.open(template.format(root=volume_root))

    def test_missing_volume_over_http(self, http_server: LoopbackServer) -> None:
        with pytest.raises(NotFound):
            TensorStoreSegmentation.open(f"{http_server.url}/missing")
        with pytest.raises(NotFound):
            TensorStoreSegmentation.open(f"precomputed://{http_server.url}/missing")

    def test_unreachable_server_is_transient(self) -> None:
        with pytest.raises(Transient):
            TensorStoreSegmentation.open("precomputed://http://127.0.0.1:9/vol", retries=1)

    def test_wrong_format_for_directory(self, volume_root: Path) -> None:
        with pytest.raises(NotFound, match=r"\.zarray"):
            TensorStoreSegmentation.open(f"zarr://{volume_root / 'raw'}")

    def test_scale_index_out_of_range(self, volume_root: Path) -> None:
        with pytest.raises(InvalidInput, match="scale"):
            TensorStoreSegmentation.open(str(volume_root / "raw"), scale_index=1)

    @pytest.mark.parametrize("options", [{"cache_bytes": -1}, {"retries": 0}])
    def test_bad_options(self, volume_root: Path, options: dict[str, int]) -> None:
        with pytest.raises(InvalidInput, match="cache_bytes >= 0 and retries >= 1"):
            TensorStoreSegmentation.open(str(volume_root / "raw"), **options)

    def test_zarr_without_units_needs_resolution(
        self, tmp_path: Path, labels: npt.NDArray[np.uint64]
    ) -> None:
        write_zarr(tmp_path / "z", labels, RESOLUTION, CHUNK)
        (tmp_path / "z" / ".zattrs").unlink()
        with pytest.raises(InvalidInput, match="resolution_nm"):
            TensorStoreSegmentation.open(str(tmp_path / "z"))
        seg = TensorStoreSegmentation.open(str(tmp_path / "z"), resolution_nm=(4, 4, 40))
        assert seg.resolution_nm == (4, 4, 40)
        assert seg.lookup([[2, 2, 2]], (4, 4, 40)).tolist() == [labels[2, 2, 2]]

    def test_zarr_axes_follow_their_names(
        self, tmp_path: Path, labels: npt.NDArray[np.uint64]
    ) -> None:
        """A zarr stored [z, y, x] (with ``_ARRAY_DIMENSIONS``) is read by x, y, z."""
        write_zarr(tmp_path / "zyx", labels.transpose(2, 1, 0).copy(), (40, 8, 8), (8, 16, 16))
        attrs = (
            '{"_ARRAY_DIMENSIONS": ["z", "y", "x"], "dimension_units": ["40 nm", "8 nm", "8 nm"]}'
        )
        (tmp_path / "zyx" / ".zattrs").write_text(attrs)
        seg = TensorStoreSegmentation.open(str(tmp_path / "zyx"))
        assert seg.resolution_nm == RESOLUTION
        assert seg.bounds_vx == ((0, 0, 0), SHAPE)
        points = np.array([[1, 2, 3], [69, 0, 19], [45, 33, 2]])
        np.testing.assert_array_equal(
            seg.lookup(points, RESOLUTION), labels[points[:, 0], points[:, 1], points[:, 2]]
        )


@pytest.fixture(scope="module")
def raw(volume_root: Path) -> TensorStoreSegmentation:
    return TensorStoreSegmentation.open(str(volume_root / "raw"))


MALFORMED: list[Any] = [
    [1, 2, 3],
    [[1, 2]],
    [[1, 2, 3, 4]],
    np.zeros((2, 3, 1)),
    [[1, 2, 3], [4, 5]],
    [["a", "b", "c"]],
    [[1, 2, None]],
    [[1.0, float("nan"), 2.0]],
    [[1.0, 2.0, float("inf")]],
    np.array([[True, False, True]]),
    np.array([[1 + 2j, 0, 0]]),
    "1,2,3",
    None,
    np.zeros((3, 0)),
]


@pytest.mark.parametrize("points", MALFORMED, ids=[f"points{i}" for i in range(len(MALFORMED))])
def test_malformed_points(raw: TensorStoreSegmentation, points: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        raw.lookup(points, RESOLUTION)
    assert type(caught.value) is InvalidInput  # not Unprocessable: the input is malformed


@pytest.mark.parametrize(
    "resolution", [(8, 8), (8, 8, 0), (8, -8, 40), (8, 8, float("nan")), ("a", 8, 40), None]
)
def test_malformed_resolution(raw: TensorStoreSegmentation, resolution: Any) -> None:
    with pytest.raises(InvalidInput, match="resolution_nm"):
        raw.lookup([[1, 2, 3]], resolution)


def test_unknown_outside_mode(raw: TensorStoreSegmentation) -> None:
    with pytest.raises(InvalidInput, match="outside"):
        raw.lookup([[1, 2, 3]], RESOLUTION, outside="clip")


def test_point_dtypes(raw: TensorStoreSegmentation, labels: npt.NDArray[np.uint64]) -> None:
    want = labels[5, 6, 7]
    for dtype in (np.int8, np.uint16, np.int32, np.uint64, np.float32, np.float64):
        assert raw.lookup(np.array([[5, 6, 7]], dtype=dtype), RESOLUTION).tolist() == [want]


def _chunk_keys(points: npt.NDArray[np.int64]) -> set[tuple[int, ...]]:
    return {tuple(c) for c in (points // CHUNK).tolist()}


def test_each_chunk_fetched_once_per_lookup(
    http_server: LoopbackServer, labels: npt.NDArray[np.uint64]
) -> None:
    seg = TensorStoreSegmentation.open(f"precomputed://{http_server.url}/cseg")
    points = np.random.default_rng(5).integers(0, SHAPE, size=(5_000, 3)) // [1, 1, 2]
    for _ in range(2):
        before = len(http_server.requested)
        np.testing.assert_array_equal(
            seg.lookup(points, RESOLUTION), labels[points[:, 0], points[:, 1], points[:, 2]]
        )
        fetched = http_server.requested[before:]
        assert all(path.startswith("/cseg/8_8_40/") for path in fetched)
        assert len(fetched) == len(set(fetched)) == len(_chunk_keys(points))


def test_cache_serves_repeated_lookups(http_server: LoopbackServer) -> None:
    seg = TensorStoreSegmentation.open(f"{http_server.url}/zarr2", cache_bytes=64 * 2**20)
    points = np.random.default_rng(6).integers(0, SHAPE, size=(2_000, 3))
    first = seg.lookup(points, RESOLUTION)
    before = len(http_server.requested)
    np.testing.assert_array_equal(seg.lookup(points, RESOLUTION), first)
    assert http_server.requested[before:] == []


def test_one_reader_shared_between_threads(
    raw: TensorStoreSegmentation, labels: npt.NDArray[np.uint64]
) -> None:
    batches = [np.random.default_rng(i).integers(0, SHAPE, size=(3_000, 3)) for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: raw.lookup(p, RESOLUTION), batches))
    for points, got in zip(batches, results, strict=True):
        np.testing.assert_array_equal(got, labels[points[:, 0], points[:, 1], points[:, 2]])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int64])
def test_other_integer_volumes_give_uint64(dtype: type[np.integer[Any]]) -> None:
    data = np.arange(4 * 5 * 6, dtype=dtype).reshape(4, 5, 6)
    seg = TensorStoreSegmentation(ts.array(data), (4, 4, 40))
    got = seg.lookup([[3, 4, 5], [1, 2, 3]], (4, 4, 40))
    assert got.dtype == np.uint64
    assert got.tolist() == [int(data[3, 4, 5]), int(data[1, 2, 3])]


def test_negative_labels_are_refused() -> None:
    seg = TensorStoreSegmentation(ts.array(np.full((2, 2, 2), -1, dtype=np.int64)), (1, 1, 1))
    with pytest.raises(InvalidInput, match="negative"):
        seg.lookup([[0, 0, 0]], (1, 1, 1))


def test_not_a_3d_integer_volume() -> None:
    with pytest.raises(InvalidInput):
        TensorStoreSegmentation(ts.array(np.zeros((2, 2), dtype=np.uint64)), (1, 1, 1))
    with pytest.raises(InvalidInput):
        TensorStoreSegmentation(ts.array(np.zeros((2, 2, 2), dtype=np.float32)), (1, 1, 1))
