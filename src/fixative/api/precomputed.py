"""Precomputed annotations for Neuroglancer (``neuroglancer_annotations_v1``), at a version and
live, mirroring the segment-properties paths (``api/segprops.py``); Neuroglancer reads them as
``precomputed://{server}/materialize/api/v3/datastack/{ds}[/version/{v}]/table/{t}/precomputed``:

- ``.../precomputed/info``: the document (bounds from the segmentation volume);
- ``.../precomputed/spatial/{limit}/{levels}/{level}/{x}_{y}_{z}``: a spatial index cell;
- ``.../precomputed/by_id/{annotation_id}``: one annotation with its related segments;
- ``.../precomputed/{root_column}/{segment_id}``: the annotations of one segment.

Read permission as for segment properties. A version's files never change: they are kept (a
byte budget per process) and tagged (``ETag``), so a client that has one gets a 304. Every
response allows any origin (Neuroglancer runs on another origin than the data it reads).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from datetime import datetime

import pyarrow as pa
from flask import Blueprint, Response, request

from fixative.api import catalog_view as cat
from fixative.api.materialize import DS, PREFIXES, VERSION
from fixative.api.services import HttpServices, QueryOutput
from fixative.errors import InvalidInput, Unprocessable
from fixative.neuroglancer.cache import Kept
from fixative.neuroglancer.chunks import (
    AnnotationSet,
    Reader,
    by_id,
    info_doc,
    lowest_ids,
    related_chunk,
    spatial_chunk,
)
from fixative.neuroglancer.grid import MAX_LEVELS, Vec3, level_count, make_grid
from fixative.neuroglancer.layout import layout_of
from fixative.query.columns import flat_columns
from fixative.query.spec import QuerySpec
from fixative.versions import VersionTable

V3 = PREFIXES["v3"]
ROOT = "/table/<table>/precomputed"
CELL = re.compile(r"([0-9]{1,9})_([0-9]{1,9})_([0-9]{1,9})")
MIN_LIMIT, MAX_LIMIT = 16, 2_000  # annotations per spatial cell
CACHE_BYTES = 256 * 1024 * 1024
PARENTS_BYTES = 32 * 1024 * 1024  # parent cells' id lists
BINARY = "application/octet-stream"
IMMUTABLE = "private, max-age=86400, immutable"


def cell_limit(rows: int) -> int:
    """Per cell: a 64th of the table, within [MIN_LIMIT, MAX_LIMIT]."""
    return max(MIN_LIMIT, min(MAX_LIMIT, rows // 64))


def _cell(text: str) -> Vec3:
    found = CELL.fullmatch(text)
    if found is None:
        raise InvalidInput(f"a spatial index cell is named x_y_z (decimal), got {text[:40]!r}")
    x, y, z = (int(v) for v in found.groups())
    return (x, y, z)


def _collect(result: QueryOutput) -> pa.Table:
    try:
        return pa.Table.from_batches(list(result.batches), schema=result.schema)
    finally:
        result.close()


class Sets:
    """A table's ``AnnotationSet`` at a version or live, after the permission checks."""

    def __init__(self, services: HttpServices) -> None:
        self.services = services

    def _bounds(self, datastack: str, resolution: tuple[float, float, float]) -> tuple[Vec3, Vec3]:
        volume = self.services.segmentation(datastack)
        bounds = getattr(volume, "bounds_vx", None)
        if bounds is None:
            raise Unprocessable(f"the segmentation volume of {datastack!r} has no bounds")
        lo, hi = bounds
        scale = [v / t for v, t in zip(volume.resolution_nm, resolution, strict=True)]
        lower = tuple(math.floor(lo[a] * scale[a]) for a in range(3))
        upper = tuple(math.ceil(hi[a] * scale[a]) for a in range(3))
        return (lower[0], lower[1], lower[2]), (upper[0], upper[1], upper[2])

    def make(
        self,
        datastack: str,
        table: str,
        rows: int | None,
        sizing: tuple[int, int] | None,
        read: Reader,
    ) -> AnnotationSet:
        columns = flat_columns(self.services.store.get_table(table))
        layout = layout_of(columns)
        lower, upper = self._bounds(datastack, layout.resolution_nm)
        if sizing is None:
            assert rows is not None
            limit = cell_limit(rows)
            levels = level_count(lower, upper, layout.resolution_nm, rows, limit)
        else:
            limit, levels = sizing
            if not MIN_LIMIT <= limit <= MAX_LIMIT or not 1 <= levels <= MAX_LEVELS:
                raise InvalidInput(
                    f"a spatial index has {MIN_LIMIT} to {MAX_LIMIT} annotations per cell and "
                    f"1 to {MAX_LEVELS} levels, not {limit} and {levels}"
                )
        grid = make_grid(lower, upper, layout.resolution_nm, levels, limit)
        return AnnotationSet(layout, grid, read)

    def version(
        self, datastack: str, version: int, found: VersionTable, sizing: tuple[int, int] | None
    ) -> AnnotationSet:
        """``found``: the version's table, after the permission check (``cat.version_table``)."""
        engine = self.services.query_engine()

        def read(spec: QuerySpec) -> pa.Table:
            return _collect(engine.version_query(datastack, version, spec))

        return self.make(datastack, found.table_name, found.row_count, sizing, read)

    def live(self, datastack: str, table: str, sizing: tuple[int, int] | None) -> AnnotationSet:
        services = self.services
        services.datastack(datastack)
        services.store.get_table(table)
        services.require_read(datastack, table)
        now: datetime = services.store.clock()
        engine = services.query_engine()

        def read(spec: QuerySpec) -> pa.Table:
            return _collect(engine.live_query(datastack, now, spec))

        rows = services.store.count_at(table, now) if sizing is None else None
        return self.make(datastack, table, rows, sizing, read)


def _json(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def precomputed_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("precomputed", __name__)
    sets = Sets(services)
    kept: Kept[bytes] = Kept(CACHE_BYTES, len)
    parents: Kept[pa.Array] = Kept(PARENTS_BYTES, lambda a: int(a.nbytes))

    @bp.after_request
    def _any_origin(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    def at_version(
        datastack: str,
        version: int,
        table: str,
        sizing: tuple[int, int] | None,
        build: Callable[[AnnotationSet], bytes],
        mimetype: str,
    ) -> Response:
        """A version's file: 304 when the client has it, else kept or built (after the same
        permission checks either way)."""
        info = cat.version(services, datastack, version)
        found = cat.version_table(services, datastack, version, table)
        key = (datastack, info.id, info.status, table, request.path)
        tag = '"' + hashlib.sha256(repr(key).encode()).hexdigest()[:32] + '"'
        headers = {"ETag": tag, "Cache-Control": IMMUTABLE}
        if tag.strip('"') in request.if_none_match:
            return Response(status=304, headers=headers)
        body = kept.get(key)
        if body is None:
            body = build(sets.version(datastack, version, found, sizing))
            kept.put(key, body)
        return Response(body, mimetype=mimetype, headers=headers)

    def live(
        datastack: str,
        table: str,
        sizing: tuple[int, int] | None,
        build: Callable[[AnnotationSet], bytes],
        mimetype: str,
    ) -> Response:
        body = build(sets.live(datastack, table, sizing))
        return Response(body, mimetype=mimetype, headers={"Cache-Control": "no-store"})

    def info_of(aset: AnnotationSet) -> bytes:
        return _json(info_doc(aset))

    @bp.get(V3 + VERSION + ROOT + "/info")
    def version_info(datastack: str, version: int, table: str) -> Response:
        return at_version(datastack, version, table, None, info_of, "application/json")

    @bp.get(V3 + DS + ROOT + "/info")
    def live_info(datastack: str, table: str) -> Response:
        return live(datastack, table, None, info_of, "application/json")

    spatial = "/spatial/<int:limit>/<int:levels>/<int:level>/<cell>"

    @bp.get(V3 + VERSION + ROOT + spatial)
    def version_spatial(
        datastack: str, version: int, table: str, limit: int, levels: int, level: int, cell: str
    ) -> Response:
        at = _cell(cell)
        info = cat.version(services, datastack, version)

        def build(aset: AnnotationSet) -> bytes:
            def key(up: int, of: Vec3) -> tuple[object, ...]:
                return (datastack, info.id, table, limit, levels, up, of)

            def taken(up: int, parent: Vec3) -> pa.Array:
                """A parent's ids, kept: its sub-cells need them."""
                found = parents.get(key(up, parent))
                if found is None:
                    found = lowest_ids(aset, up, parent)
                    parents.put(key(up, parent), found)
                return found

            def keep(ids: pa.Array) -> None:
                parents.put(key(level, at), ids)

            return spatial_chunk(aset, level, at, taken, keep)

        return at_version(datastack, version, table, (limit, levels), build, BINARY)

    @bp.get(V3 + DS + ROOT + spatial)
    def live_spatial(
        datastack: str, table: str, limit: int, levels: int, level: int, cell: str
    ) -> Response:
        at = _cell(cell)
        return live(
            datastack, table, (limit, levels), lambda s: spatial_chunk(s, level, at), BINARY
        )

    @bp.get(V3 + VERSION + ROOT + "/by_id/<int:annotation_id>")
    def version_by_id(datastack: str, version: int, table: str, annotation_id: int) -> Response:
        build = lambda s: by_id(s, annotation_id)  # noqa: E731
        return at_version(datastack, version, table, (MIN_LIMIT, 1), build, BINARY)

    @bp.get(V3 + DS + ROOT + "/by_id/<int:annotation_id>")
    def live_by_id(datastack: str, table: str, annotation_id: int) -> Response:
        return live(datastack, table, (MIN_LIMIT, 1), lambda s: by_id(s, annotation_id), BINARY)

    @bp.get(V3 + VERSION + ROOT + "/<column>/<int:segment_id>")
    def version_related(
        datastack: str, version: int, table: str, column: str, segment_id: int
    ) -> Response:
        build = lambda s: related_chunk(s, column, segment_id)  # noqa: E731
        return at_version(datastack, version, table, (MIN_LIMIT, 1), build, BINARY)

    @bp.get(V3 + DS + ROOT + "/<column>/<int:segment_id>")
    def live_related(datastack: str, table: str, column: str, segment_id: int) -> Response:
        build = lambda s: related_chunk(s, column, segment_id)  # noqa: E731
        return live(datastack, table, (MIN_LIMIT, 1), build, BINARY)

    return bp
