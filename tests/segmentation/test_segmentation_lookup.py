"""Lookups against known volumes, in every layout: exact ids, chunk borders, random points
against numpy indexing, resolution conversion, voxel offsets and points outside."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from segvolumes import CHUNK, RESOLUTION, SHAPE, Volume

from fixative.errors import Unprocessable
from fixative.segmentation import SegmentationSource, TensorStoreSegmentation

Opened = tuple[Volume, TensorStoreSegmentation]


def expected(labels: npt.NDArray[np.uint64], voxels: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    v = np.asarray(voxels)
    return labels[v[:, 0], v[:, 1], v[:, 2]]


def test_exact_ids_at_known_points(opened: Opened) -> None:
    vol, seg = opened
    points = np.array([[0, 0, 0], [1, 2, 3], [39, 49, 19], [12, 34, 5]]) + vol.offset
    got = seg.lookup(points, RESOLUTION)
    assert got.dtype == np.uint64
    want = [2**40, 2**40 + 1 + 2000 + 3_000_000, 2**40 + 39 + 49_000 + 19_000_000]
    assert got[:3].tolist() == want
    assert got[3] == 2**40 + 12 + 34_000 + 5_000_000


def test_metadata(opened: Opened) -> None:
    vol, seg = opened
    assert seg.resolution_nm == RESOLUTION
    lo, hi = seg.bounds_vx
    assert lo == vol.offset
    assert hi == tuple(o + s for o, s in zip(vol.offset, SHAPE, strict=True))


def _border_voxels() -> npt.NDArray[np.int64]:
    """Every combination of chunk-border coordinates (last voxel of a chunk, first of the next)
    and the volume's first and last voxels, per axis."""
    axes = []
    for n, c in zip(SHAPE, CHUNK, strict=True):
        coords = {0, n - 1}
        for edge in range(c, n, c):
            coords |= {edge - 1, edge}
        axes.append(sorted(coords))
    return np.array(list(itertools.product(*axes)), dtype=np.int64)


def test_chunk_borders_and_corners(opened: Opened, labels: npt.NDArray[np.uint64]) -> None:
    vol, seg = opened
    voxels = _border_voxels()
    assert len(voxels) == 480  # 10 x 8 x 6 border coordinates
    got = seg.lookup(voxels + vol.offset, RESOLUTION)
    np.testing.assert_array_equal(got, expected(labels, voxels))


def test_many_random_points_match_numpy(opened: Opened, labels: npt.NDArray[np.uint64]) -> None:
    vol, seg = opened
    rng = np.random.default_rng(3)
    voxels = rng.integers(0, SHAPE, size=(20_000, 3))
    got = seg.lookup(voxels + vol.offset, RESOLUTION)
    np.testing.assert_array_equal(got, expected(labels, voxels))


RESOLUTIONS = [(8, 8, 40), (4, 4, 40), (16, 16, 80), (1, 1, 1), (2.5, 8, 20)]


@st.composite
def points_at(draw: st.DrawFn) -> tuple[tuple[float, float, float], npt.NDArray[np.float64]]:
    """A resolution and up to 300 points inside the volume, given in that resolution."""
    res = draw(st.sampled_from(RESOLUTIONS))
    limits = [n * v / r for n, v, r in zip(SHAPE, RESOLUTION, res, strict=True)]
    coord = [st.integers(0, int(np.ceil(lim)) - 1) for lim in limits]
    rows = draw(st.lists(st.tuples(*coord), min_size=1, max_size=300))
    return (res[0], res[1], res[2]), np.array(rows, dtype=np.float64)


@given(case=points_at())
@settings(max_examples=30, deadline=None)
def test_random_points_at_any_resolution(
    opened: Opened, labels: npt.NDArray[np.uint64], case: tuple[tuple[float, ...], npt.NDArray]
) -> None:
    vol, seg = opened
    res, points = case
    voxels = np.floor(points * np.array(res) / np.array(RESOLUTION)).astype(np.int64)
    # integer points at a coarser resolution can land past the last voxel: skip those
    keep = (voxels < SHAPE).all(axis=1)
    if not keep.any():
        return
    native = points[keep] + np.array(vol.offset) * np.array(RESOLUTION) / np.array(res)
    got = seg.lookup(native, (res[0], res[1], res[2]))
    np.testing.assert_array_equal(got, expected(labels, voxels[keep]))


class TestResolutionConversion:
    def test_finer_points_halve(self, opened: Opened, labels: npt.NDArray[np.uint64]) -> None:
        vol, seg = opened
        off = np.array(vol.offset)
        points_4nm = np.array([[0, 0, 0], [1, 1, 1], [2, 3, 4], [79, 99, 19], [21, 40, 7]])
        got = seg.lookup(points_4nm + off * [2, 2, 1], (4, 4, 40))
        voxels = [[0, 0, 0], [0, 0, 1], [1, 1, 4], [39, 49, 19], [10, 20, 7]]
        np.testing.assert_array_equal(got, expected(labels, voxels))

    def test_nanometre_float_points(self, opened: Opened, labels: npt.NDArray[np.uint64]) -> None:
        vol, seg = opened
        off_nm = np.array(vol.offset) * RESOLUTION
        points_nm = np.array([[7.999, 8.0, 39.99], [80.5, 15.9, 40.0], [0.0, 399.0, 799.9]])
        got = seg.lookup(points_nm + off_nm, (1, 1, 1))
        np.testing.assert_array_equal(got, expected(labels, [[0, 1, 0], [10, 1, 1], [0, 49, 19]]))

    def test_coarser_points_double(self, opened: Opened, labels: npt.NDArray[np.uint64]) -> None:
        vol, seg = opened
        off = np.array(vol.offset)
        got = seg.lookup(np.array([[3, 5, 2], [19, 24, 9]]) + off // [2, 2, 2], (16, 16, 80))
        np.testing.assert_array_equal(got, expected(labels, [[6, 10, 4], [38, 48, 18]]))

    def test_fractional_voxel_points_floor(
        self, opened: Opened, labels: npt.NDArray[np.uint64]
    ) -> None:
        vol, seg = opened
        points = np.array([[10.9, 3.2, 4.99], [0.0, 0.999, 19.5]]) + vol.offset
        np.testing.assert_array_equal(
            seg.lookup(points, RESOLUTION), expected(labels, [[10, 3, 4], [0, 0, 19]])
        )


class TestOutside:
    def test_error_names_point_and_bounds(self, opened: Opened) -> None:
        vol, seg = opened
        lo = np.array(vol.offset)
        points = np.array([[1, 1, 1], [70, 0, 0], [-1, 0, 0]]) + lo
        bad = points[1].tolist()
        with pytest.raises(Unprocessable, match=rf"point \[{bad[0]}, {bad[1]}, {bad[2]}\]") as e:
            seg.lookup(points, RESOLUTION)
        assert str(lo.tolist()) in e.value.message
        assert str((lo + SHAPE).tolist()) in e.value.message

    @pytest.mark.parametrize(
        "voxel", [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (70, 0, 0), (0, 50, 0), (0, 0, 20)]
    )
    def test_each_face(self, opened: Opened, voxel: tuple[int, int, int]) -> None:
        vol, seg = opened
        with pytest.raises(Unprocessable, match="outside the segmentation volume"):
            seg.lookup([np.add(voxel, vol.offset)], RESOLUTION)

    def test_negative_fraction_is_outside(self, opened: Opened) -> None:
        vol, seg = opened
        with pytest.raises(Unprocessable):
            seg.lookup(np.array([[-0.5, 0, 0]]) + vol.offset, RESOLUTION)

    def test_zero_fills_outside(self, opened: Opened, labels: npt.NDArray[np.uint64]) -> None:
        vol, seg = opened
        voxels = np.array([[5, 6, 7], [70, 0, 0], [69, 49, 19], [0, 0, -3], [10**12, 0, 0]])
        got = seg.lookup(voxels + vol.offset, RESOLUTION, outside="zero")
        assert got.tolist() == [labels[5, 6, 7], 0, labels[69, 49, 19], 0, 0]

    def test_zero_with_all_outside(self, opened: Opened) -> None:
        _, seg = opened
        got = seg.lookup([[-5, -5, -5], [1e15, 0, 0]], RESOLUTION, outside="zero")
        assert got.tolist() == [0, 0]
        assert got.dtype == np.uint64


def test_empty_input_gives_empty_uint64(opened: Opened) -> None:
    _, seg = opened
    for empty in ([], np.zeros((0, 3)), np.zeros((0,), dtype=np.int64)):
        got = seg.lookup(empty, RESOLUTION)
        assert got.dtype == np.uint64
        assert got.shape == (0,)


def test_is_a_segmentation_source(opened: Opened) -> None:
    _, seg = opened
    source: SegmentationSource = seg
    assert source.resolution_nm == RESOLUTION
