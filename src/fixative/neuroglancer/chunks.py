"""Each file of a table's precomputed annotation directory, from indexed queries through the
query engine (a ``Reader``: a version query, or a live query at one instant):

- ``info``: the ``neuroglancer_annotations_v1`` document;
- a spatial cell: two box queries ordered by id with a limit (``grid``);
- ``by_id``: one query on the id;
- a relationship chunk: one query on the root-id column (its index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fixative.errors import InvalidInput, NotFound
from fixative.ids import to_int64
from fixative.neuroglancer.grid import SpatialGrid, Vec3
from fixative.neuroglancer.layout import (
    Layout,
    encode_list,
    encode_one,
    properties_doc,
    shuffled,
)
from fixative.query.spec import Filter, QuerySpec

Reader = Callable[[QuerySpec], pa.Table]
Taken = Callable[[int, Vec3], pa.Array]  # a cell's lowest ids, from a cache
Keep = Callable[[pa.Array], None]  # told the cell's lowest ids, for its sub-cells
SPATIAL_KEY = "spatial/{limit}/{levels}/{level}"  # the grid's sizing travels in its keys


@dataclass(frozen=True)
class AnnotationSet:
    """A table's annotations at a version or an instant, as Neuroglancer reads them."""

    layout: Layout
    grid: SpatialGrid
    read: Reader

    def spec(
        self, columns: tuple[str, ...], filters: tuple[Filter, ...], limit: int | None
    ) -> QuerySpec:
        """A query of the table's ``columns`` (points split), in id order."""
        table = self.layout.table
        return QuerySpec(
            tables=(table,),
            filters=filters,
            select={table: columns},
            limit=limit,
            split_positions=True,
        )

    def _box(self, box: tuple[Vec3, Vec3] | None) -> tuple[Filter, ...]:
        if box is None:
            return ()
        return (Filter(self.layout.table, self.layout.anchor.position, "spatial", box),)

    def lowest(self, level: int, cell: Vec3, columns: tuple[str, ...]) -> pa.Table:
        """The ``limit`` lowest ids in the cell (every one at the finest level)."""
        found = self.grid.level(level, cell)
        limit = None if found.finest else found.limit
        return self.read(self.spec(columns, self._box(self.grid.box(level, cell)), limit))


def info_doc(aset: AnnotationSet) -> dict[str, Any]:
    layout, grid = aset.layout, aset.grid
    levels = len(grid.levels)
    return {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {a: [r, "nm"] for a, r in zip("xyz", layout.resolution_nm, strict=True)},
        "lower_bound": list(grid.lower_vx),
        "upper_bound": list(grid.upper_vx),
        "annotation_type": layout.kind,
        "properties": properties_doc(layout),
        "relationships": [{"id": name, "key": name} for name in layout.relationships],
        "by_id": {"key": "by_id"},
        "spatial": [
            {
                "key": SPATIAL_KEY.format(limit=level.limit, levels=levels, level=i),
                "grid_shape": list(level.grid),
                "chunk_size": list(level.chunk_vx),
                "limit": level.limit,
            }
            for i, level in enumerate(grid.levels)
        ],
    }


def lowest_ids(aset: AnnotationSet, level: int, cell: Vec3) -> pa.Array:
    """The ids of the cell's ``limit`` lowest (what its sub-cells leave out)."""
    return aset.lowest(level, cell, ("id",)).column("id").combine_chunks()


def spatial_chunk(
    aset: AnnotationSet,
    level: int,
    cell: Vec3,
    taken: Taken | None = None,
    keep: Keep | None = None,
) -> bytes:
    """The annotations the cell lists: its lowest ids less its parent's lowest ids (see
    ``grid``), in a pseudo-random order. ``taken``: the parent's ids when kept elsewhere;
    ``keep``: told this cell's lowest ids (Neuroglancer asks for the sub-cells next)."""
    rows = aset.lowest(level, cell, aset.layout.columns)
    if keep is not None and not aset.grid.levels[level].finest:
        keep(rows.column("id").combine_chunks())
    if level > 0 and rows.num_rows:
        parent = aset.grid.parent(level, cell)
        ids = (taken or (lambda lv, c: lowest_ids(aset, lv, c)))(level - 1, parent)
        rows = rows.filter(pc.invert(pc.is_in(rows.column("id"), value_set=ids)))
    return encode_list(aset.layout, shuffled(rows))


def by_id(aset: AnnotationSet, annotation_id: int) -> bytes:
    layout = aset.layout
    wanted = int(to_int64(np.array([annotation_id], dtype=np.uint64))[0])
    spec = aset.spec(
        (*layout.columns, *layout.relationships),
        (Filter(layout.table, "id", "equal", wanted),),
        1,
    )
    rows = aset.read(spec)
    if rows.num_rows == 0:
        raise NotFound(f"table {layout.table!r} has no annotation {annotation_id}")
    return encode_one(layout, rows)


def related_chunk(aset: AnnotationSet, column: str, segment_id: int) -> bytes:
    """Every annotation whose ``column`` is ``segment_id`` (an empty list for none)."""
    layout = aset.layout
    if column not in layout.relationships:
        raise NotFound(f"table {layout.table!r} has no relationship {column!r}")
    if segment_id == 0:
        raise InvalidInput("segment id 0 is no segment")
    root = int(to_int64(np.array([segment_id], dtype=np.uint64))[0])
    spec = aset.spec(layout.columns, (Filter(layout.table, column, "equal", root),), None)
    return encode_list(layout, aset.read(spec))
