"""Proofreading edits on the embedded chunkedgraph at PyChunkedGraph's paths: merge, split,
undo and redo, each recorded with the requesting user; the answer is PyChunkedGraph's
``{"operation_id", "new_root_ids"}``.

Rows are ``[id, x, y, z]`` with positions in nm. The id may be a supervoxel, or (as caveclient's
``execute_split`` sends) a root id, in which case the supervoxel under the position is read from
the segmentation and must belong to that root."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify

from fixative.api.auth import current_principal
from fixative.api.wire import json_body, whole
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.port import ChunkedGraph, Operation
from fixative.errors import Conflict, FixativeError, InvalidInput, NotFound
from fixative.segmentation.port import SegmentationSource

V1 = "/segmentation/api/v1/table/<table_id>"
MAX_POINTS = 1000
ID_LIMIT = 2**64  # ids are uint64: larger ones overflowed numpy (a 500)
MAX_NM = 1e12  # a position beyond this (or inf, nan: JSON allows them) has no voxel

GraphLookup = Callable[[str], ChunkedGraph]
SegmentationLookup = Callable[[str], SegmentationSource]  # by chunkedgraph table id


def _rows(value: Any, what: str) -> list[tuple[int, tuple[float, float, float]]]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{what} must be a non-empty list of [id, x, y, z] rows")
    if len(value) > MAX_POINTS:
        raise InvalidInput(f"{what} holds {len(value):,} rows; at most {MAX_POINTS} are accepted")
    rows = []
    for i, row in enumerate(value):
        if (
            not isinstance(row, list)
            or len(row) != 4
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in row)
            or not 0 < (whole(row[0]) or 0) < ID_LIMIT  # JSON's 5.0 is the integer 5
        ):
            raise InvalidInput(
                f"{what}[{i}] must be [id, x, y, z] with an integer id in [1, 2**64)"
            )
        if not all(math.isfinite(v) and abs(v) <= MAX_NM for v in row[1:]):
            raise InvalidInput(f"{what}[{i}]: x, y, z must be finite nm within +-{MAX_NM:g}")
        rows.append((int(row[0]), (float(row[1]), float(row[2]), float(row[3]))))
    return rows


def _supervoxels(
    graph: ChunkedGraph,
    seg: Callable[[], SegmentationSource],
    rows: list[tuple[int, tuple[float, float, float]]],
) -> list[int]:
    """Each row's supervoxel: the id itself when it is one, else the one under the point."""
    out = []
    for given, nm in rows:
        try:
            graph.get_roots(np.array([given], dtype=np.uint64))
            out.append(given)
            continue
        except NotFound:
            pass
        source = seg()
        voxel = np.round(np.array(nm) / np.array(source.resolution_nm)).astype(np.int64)
        (sv,) = source.lookup(voxel[None, :], source.resolution_nm, outside="zero")
        if int(sv) == 0:
            raise InvalidInput(f"no supervoxel at {list(nm)} nm for id {given}")
        (root,) = graph.get_roots(np.array([sv], dtype=np.uint64))
        if int(root) != given:
            raise InvalidInput(
                f"id {given} is neither a supervoxel nor the root under {list(nm)} nm "
                f"(that point is in root {int(root)})"
            )
        out.append(int(sv))
    return out


def _coords(
    seg: Callable[[], SegmentationSource],
    rows: dict[str, list[tuple[int, tuple[float, float, float]]]],
) -> dict[str, list[list[float]]] | None:
    """The user's points in the segmentation's voxels, as PyChunkedGraph logs them (None when
    the datastack has no volume to say what a voxel is)."""
    try:
        resolution = np.array(seg().resolution_nm, dtype=float)
    except (FixativeError, OSError, ValueError):
        return None
    return {
        key: [(np.array(nm) / resolution).tolist() for _, nm in points]
        for key, points in rows.items()
    }


def _answer(op: Operation) -> Response:
    return jsonify(
        {
            "operation_id": op.operation_id,
            "new_root_ids": [int(r) for r in op.new_root_ids],
            "old_root_ids": [int(r) for r in op.old_root_ids],
        }
    )


def edits_blueprint(graphs: GraphLookup, segmentations: SegmentationLookup) -> Blueprint:
    bp = Blueprint("edits", __name__)

    def editable(table_id: str) -> EmbeddedChunkedGraph:
        graph = graphs(table_id)
        if not isinstance(graph, EmbeddedChunkedGraph):
            raise Conflict(
                f"chunkedgraph {table_id!r} is not embedded here: send edits to its own server"
            )
        return graph

    @bp.post(f"{V1}/merge")
    def merge(table_id: str) -> Response:
        graph = editable(table_id)
        rows = _rows(json_body(), "the merge body")
        if len(rows) != 2:
            raise InvalidInput("a merge takes exactly two [id, x, y, z] rows")
        seg = lambda: segmentations(table_id)  # noqa: E731
        a, b = _supervoxels(graph, seg, rows)
        coords = _coords(seg, {"source_coords": rows[:1], "sink_coords": rows[1:]})
        return _answer(graph.merge(a, b, current_principal().user_id, coords))

    @bp.post(f"{V1}/split")
    def split(table_id: str) -> Response:
        graph = editable(table_id)
        body = json_body()
        if not isinstance(body, dict) or set(body) - {"sources", "sinks"}:
            raise InvalidInput("a split body is {'sources': [[id, x, y, z]...], 'sinks': [...]}")
        seg = lambda: segmentations(table_id)  # noqa: E731
        source_rows = _rows(body.get("sources"), "sources")
        sink_rows = _rows(body.get("sinks"), "sinks")
        sources = _supervoxels(graph, seg, source_rows)
        sinks = _supervoxels(graph, seg, sink_rows)
        coords = _coords(seg, {"source_coords": source_rows, "sink_coords": sink_rows})
        return _answer(graph.split(sources, sinks, current_principal().user_id, coords))

    def _operation_id() -> int:
        body = json_body()
        op = whole(body.get("operation_id")) if isinstance(body, dict) else None
        if op is None or op <= 0:
            raise InvalidInput("the body must be {'operation_id': <positive integer>}")
        return op

    @bp.post(f"{V1}/undo")
    def undo(table_id: str) -> Response:
        graph = editable(table_id)
        return _answer(graph.undo(_operation_id(), current_principal().user_id))

    @bp.post(f"{V1}/redo")
    def redo(table_id: str) -> Response:
        graph = editable(table_id)
        return _answer(graph.redo(_operation_id(), current_principal().user_id))

    return bp
