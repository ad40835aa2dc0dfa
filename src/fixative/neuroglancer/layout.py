"""A table as Neuroglancer annotations, and their binary encoding (the precomputed annotation
specification, ``src/datasource/precomputed/annotations.md`` in Neuroglancer).

- Geometry: a LINE from ``pre_pt`` to ``post_pt`` when the schema has both (synapses), else a
  POINT at the schema's first point; coordinates are the table's voxels (float32).
- Properties: every scalar column that is a number or a boolean (``int32``, ``float32``,
  ``uint8``; nulls are 0, integers beyond int32 are clipped). Strings are not properties.
  Neuroglancer lays them out by alignment (4-byte types first, then 1-byte), each group in
  declaration order, then pads to a multiple of 4 bytes.
- Relationships: one per ``*_root_id`` column, keyed by the column's name.

Encodings (all little-endian): one annotation (``by_id``) is geometry, properties, padding,
then per relationship a uint32 count and that many uint64 ids; a list (spatial and relationship
chunks) is a uint64 count, each annotation's geometry, properties and padding, then every id as
uint64.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fixative.errors import InvalidInput
from fixative.ids import to_uint64
from fixative.query.columns import TableColumns
from fixative.schemas.types import PointField

PROPERTY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
NUMPY_TYPES = {"int32": "<i4", "float32": "<f4", "uint8": "u1"}
TYPE_OF_KIND = {"int": "int32", "float": "float32", "bool": "uint8"}
INT32 = np.iinfo(np.int32)


@dataclass(frozen=True)
class Property:
    name: str  # the column, and the property's id
    type: str  # int32, float32 or uint8


@dataclass(frozen=True)
class Layout:
    """What a table's annotations hold: geometry points, properties, relationships."""

    table: str
    kind: str  # POINT or LINE
    points: tuple[PointField, ...]  # one for a point, two for a line
    properties: tuple[Property, ...]  # in declaration order
    relationships: tuple[str, ...]  # the root-id columns
    resolution_nm: tuple[float, float, float]

    @property
    def anchor(self) -> PointField:
        """The point the spatial index files an annotation under."""
        return self.points[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns a chunk reads, with ``id`` first."""
        xyz = [c for p in self.points for c in p.xyz_columns]
        return ("id", *xyz, *(p.name for p in self.properties))

    @property
    def record(self) -> np.dtype[Any]:
        """One annotation's bytes (geometry, properties by alignment, padding) as a dtype."""
        fields: list[Any] = [("geometry", "<f4", (3 * len(self.points),))]
        by_alignment = sorted(
            self.properties, key=lambda p: -np.dtype(NUMPY_TYPES[p.type]).itemsize
        )
        fields += [(f"p_{p.name}", NUMPY_TYPES[p.type]) for p in by_alignment]
        size = 12 * len(self.points) + sum(
            np.dtype(NUMPY_TYPES[p.type]).itemsize for p in by_alignment
        )
        if size % 4:
            fields.append(("padding", f"V{4 - size % 4}"))
        return np.dtype(fields)


def layout_of(table: TableColumns) -> Layout:
    """The annotation layout of a table (InvalidInput when it has no point to draw)."""
    points = table.info.schema.points
    if not points:
        raise InvalidInput(f"table {table.name!r} has no position column to draw as annotations")
    named = {p.name: p for p in points}
    geometry: tuple[PointField, ...] = (points[0],)
    kind = "POINT"
    if "pre_pt" in named and "post_pt" in named:
        kind, geometry = "LINE", (named["pre_pt"], named["post_pt"])
    properties = tuple(
        Property(c.name, TYPE_OF_KIND[c.kind])
        for c in table.columns
        if c.point is None
        and c.kind in TYPE_OF_KIND
        and c.name not in ("id", "target_id")
        and PROPERTY_ID.match(c.name)
    )
    return Layout(
        table=table.name,
        kind=kind,
        points=geometry,
        properties=properties,
        relationships=tuple(c.name for c in table.root_columns),
        resolution_nm=table.resolution,
    )


def _numbers(rows: pa.Table, name: str, kind: str) -> npt.NDArray[Any]:
    column = pc.fill_null(rows.column(name), 0 if kind != "uint8" else False)
    values: npt.NDArray[Any] = np.asarray(column.to_numpy(zero_copy_only=False))
    if kind == "int32":
        values = np.clip(values.astype(np.int64), INT32.min, INT32.max)
    return values.astype(NUMPY_TYPES[kind])


def records(layout: Layout, rows: pa.Table) -> npt.NDArray[Any]:
    """Each row's geometry, properties and padding (no ids, no relationships)."""
    out = np.zeros(rows.num_rows, dtype=layout.record)
    xyz = [c for p in layout.points for c in p.xyz_columns]
    if rows.num_rows:
        out["geometry"] = np.stack(
            [rows.column(c).to_numpy(zero_copy_only=False).astype("<f4") for c in xyz], axis=1
        )
    for p in layout.properties:
        out[f"p_{p.name}"] = _numbers(rows, p.name, p.type)
    return out


def ids_of(rows: pa.Table) -> npt.NDArray[np.uint64]:
    return to_uint64(rows.column("id").to_numpy(zero_copy_only=False)).astype("<u8")


def encode_list(layout: Layout, rows: pa.Table) -> bytes:
    """The multiple-annotation encoding of ``rows``, in their order."""
    count = np.array([rows.num_rows], dtype="<u8").tobytes()
    return count + records(layout, rows).tobytes() + ids_of(rows).tobytes()


def encode_one(layout: Layout, rows: pa.Table) -> bytes:
    """The single-annotation encoding of the one row of ``rows``, with its related ids (a
    null or 0 root is no related id)."""
    parts = [records(layout, rows).tobytes()]
    for name in layout.relationships:
        value = rows.column(name)[0].as_py()
        related = [] if not value else [value]
        parts.append(np.array([len(related)], dtype="<u4").tobytes())
        parts.append(to_uint64(np.array(related, dtype=np.int64)).astype("<u8").tobytes())
    return b"".join(parts)


def shuffled(rows: pa.Table) -> pa.Table:
    """``rows`` in a pseudo-random order fixed by their ids (Neuroglancer draws the first
    part of a chunk when it shows a fraction of it)."""
    ids = rows.column("id").to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        keys = ids * np.uint64(0x9E3779B97F4A7C15)
    return rows.take(pa.array(np.argsort(keys, kind="stable"), pa.int64()))


def properties_doc(layout: Layout) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in layout.properties:
        doc: dict[str, Any] = {"id": p.name, "type": p.type, "description": p.name}
        if p.type == "uint8":
            doc |= {"enum_values": [0, 1], "enum_labels": ["false", "true"]}
        out.append(doc)
    return out
