"""A reader of Neuroglancer precomputed annotations written from the specification
(``src/datasource/precomputed/annotations.md``), independent of Fixative's encoder: the info
file, the single-annotation encoding (``by_id``) and the multiple-annotation encoding
(spatial and relationship chunks)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

# property type -> (struct code, bytes, alignment class: 4, 2 or 1)
TYPES = {
    "uint32": ("I", 4, 4),
    "int32": ("i", 4, 4),
    "float32": ("f", 4, 4),
    "uint16": ("H", 2, 2),
    "int16": ("h", 2, 2),
    "uint8": ("B", 1, 1),
    "int8": ("b", 1, 1),
    "rgb": ("3B", 3, 1),
    "rgba": ("4B", 4, 1),
}
GEOMETRY_POINTS = {"POINT": 1, "LINE": 2, "AXIS_ALIGNED_BOUNDING_BOX": 2, "ELLIPSOID": 2}


@dataclass
class Annotation:
    id: int
    geometry: tuple[float, ...]
    properties: dict[str, Any]
    related: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Spec:
    """What an info file says about the encoding."""

    rank: int
    kind: str
    properties: list[tuple[str, str]]  # (id, type) in the info's order
    relationships: list[str]

    @property
    def ordered(self) -> list[tuple[str, str]]:
        """Properties as encoded: 32-bit types, then 16-bit, then 8-bit (info order within)."""
        return sorted(self.properties, key=lambda p: -TYPES[p[1]][2])

    @property
    def record_bytes(self) -> int:
        size = 4 * self.rank * GEOMETRY_POINTS[self.kind]
        size += sum(TYPES[t][1] for _, t in self.properties)
        return size + (-size) % 4


def read_info(doc: dict[str, Any]) -> Spec:
    assert doc["@type"] == "neuroglancer_annotations_v1"
    rank = len(doc["dimensions"])
    for scale, unit in doc["dimensions"].values():
        assert scale > 0
        assert unit == "nm"
    assert len(doc["lower_bound"]) == rank == len(doc["upper_bound"])
    assert all(lo < hi for lo, hi in zip(doc["lower_bound"], doc["upper_bound"], strict=True))
    assert doc["annotation_type"] in GEOMETRY_POINTS
    for p in doc["properties"]:
        assert p["type"] in TYPES
        assert p["id"][0].islower()
        assert p["id"].replace("_", "a").isalnum()
    extent = [hi - lo for lo, hi in zip(doc["lower_bound"], doc["upper_bound"], strict=True)]
    previous = None
    for level in doc["spatial"]:
        assert level["limit"] > 0
        covered = [g * c for g, c in zip(level["grid_shape"], level["chunk_size"], strict=True)]
        assert covered == extent
        if previous is not None:  # each chunk size divides the coarser one
            assert all(p % c == 0 for p, c in zip(previous, level["chunk_size"], strict=True))
        previous = level["chunk_size"]
    assert doc["spatial"][0]["grid_shape"] == [1] * rank
    assert doc["by_id"]["key"]
    return Spec(
        rank,
        doc["annotation_type"],
        [(p["id"], p["type"]) for p in doc["properties"]],
        [r["id"] for r in doc["relationships"]],
    )


def _record(spec: Spec, data: bytes, at: int) -> tuple[tuple[float, ...], dict[str, Any], int]:
    n = spec.rank * GEOMETRY_POINTS[spec.kind]
    geometry = struct.unpack_from(f"<{n}f", data, at)
    offset = at + 4 * n
    values: dict[str, Any] = {}
    for name, kind in spec.ordered:
        code, size, _ = TYPES[kind]
        got = struct.unpack_from("<" + code, data, offset)
        values[name] = got if len(got) > 1 else got[0]
        offset += size
    padding = (-(offset - at)) % 4
    assert data[offset : offset + padding] == b"\0" * padding, "padding bytes must be 0"
    return geometry, values, offset + padding


def read_list(spec: Spec, data: bytes) -> list[Annotation]:
    """The multiple-annotation encoding: count, records, then ids; nothing after."""
    (count,) = struct.unpack_from("<Q", data, 0)
    assert len(data) == 8 + count * (spec.record_bytes + 8), "wrong length for the count"
    out, offset = [], 8
    records = []
    for _ in range(count):
        geometry, values, offset = _record(spec, data, offset)
        records.append((geometry, values))
    ids = struct.unpack_from(f"<{count}Q", data, offset)
    for annotation_id, (geometry, values) in zip(ids, records, strict=True):
        out.append(Annotation(annotation_id, geometry, values))
    return out


def read_one(spec: Spec, data: bytes, annotation_id: int) -> Annotation:
    """The single-annotation encoding: record, then per relationship a count and ids."""
    geometry, values, offset = _record(spec, data, 0)
    related = {}
    for name in spec.relationships:
        (count,) = struct.unpack_from("<I", data, offset)
        related[name] = list(struct.unpack_from(f"<{count}Q", data, offset + 4))
        offset += 4 + 8 * count
    assert offset == len(data), "bytes left after the last relationship"
    return Annotation(annotation_id, geometry, values, related)
