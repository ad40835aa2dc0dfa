"""Map the columns of bulk-upload files onto a schema's flattened columns and turn one chunk of
file rows into validated annotation rows (through ``fixative.schemas.rows``) and, when the file
carries them, segmentation rows (supervoxel and root ids).

Targets: ``id``, ``target_id`` (reference schemas), ``{pt}_position_x/_y/_z``, ``{pt}_position``
(an (n, 3) ``.npy`` array, a list column, or text such as ``"[x, y, z]"``), scalar fields, and
for bound points ``{pt}_supervoxel_id`` and ``{pt}_root_id``. Rows in messages are 0-based data
rows over the whole upload (a CSV header is not a row).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fixative.errors import InvalidInput
from fixative.ids import to_int64
from fixative.schemas import rows as schema_rows
from fixative.schemas.types import PointField, SchemaType
from fixative.workflows.upload_files import FileChunk, Values

_ROW = re.compile(r"^annotation (\d+): ")
_CSV_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}


def target_types(schema: SchemaType) -> dict[str, pa.DataType | str]:
    """Every column a file may map onto, with its type (``"point"``, ``"segment"`` or the Arrow
    type the schema wants)."""
    found: dict[str, pa.DataType | str] = {"id": pa.int64()}
    if schema.reference:
        found["target_id"] = pa.int64()
    for p in schema.points:
        found[p.position] = "point"
        found.update((c, pa.int64()) for c in p.xyz_columns)
        if p.bound:
            found[p.supervoxel_column] = "segment"
            found[p.root_column] = "segment"
    for s in schema.scalars:
        found[s.name] = _CSV_TYPES[s.kind]
    return found


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column (or ``.npy`` stem) feeds which target column."""

    schema: SchemaType
    sources: dict[str, str]
    label: str

    @classmethod
    def build(
        cls,
        schema: SchemaType,
        available: Sequence[str],
        mapping: Mapping[str, str] | None,
        label: str,
    ) -> ColumnMapping:
        """Check a mapping (None: every source column under its own name)."""
        sources = dict(mapping) if mapping is not None else {n: n for n in available}
        targets = target_types(schema)
        for source, target in sources.items():
            if source not in available:
                raise InvalidInput(f"{label}: no column or file named {source!r}")
            if target not in targets:
                raise InvalidInput(
                    f"{label}: column {source!r} maps to {target!r}, which schema "
                    f"{schema.name!r} does not have"
                )
        chosen = list(sources.values())
        for p in schema.points:
            chosen.extend(c for c in p.xyz_columns if p.position in sources.values())
        repeated = sorted({c for c in chosen if chosen.count(c) > 1})
        if repeated:
            raise InvalidInput(f"{label}: more than one source for column {repeated[0]!r}")
        built = cls(schema, sources, label)
        built._check_required()
        built._check_segment_columns()
        return built

    def _check_required(self) -> None:
        targets = set(self.sources.values())
        needed = [s.name for s in self.schema.scalars if s.required]
        needed += ["target_id"] if self.schema.reference else []
        for p in self.schema.points:
            if p.required and p.position not in targets and not set(p.xyz_columns) <= targets:
                needed.append(p.position)
        missing = [n for n in needed if n not in targets]
        if missing:
            raise InvalidInput(
                f"{self.label}: no column maps to required field {missing[0]!r} "
                f"(schema {self.schema.name!r})"
            )

    def _check_segment_columns(self) -> None:
        targets = set(self.sources.values())
        bound = self.schema.bound_points
        with_svs = [p for p in bound if p.supervoxel_column in targets]
        if with_svs and len(with_svs) != len(bound):
            missing = next(p for p in bound if p not in with_svs)
            raise InvalidInput(
                f"{self.label}: supervoxel ids are given for some points but not for "
                f"{missing.supervoxel_column!r}; give them for every bound point or none"
            )
        for p in bound:
            if p.root_column in targets and p.supervoxel_column not in targets:
                raise InvalidInput(
                    f"{self.label}: {p.root_column!r} needs {p.supervoxel_column!r} too "
                    "(root ids are kept up to date from supervoxel ids)"
                )

    @property
    def has_ids(self) -> bool:
        return "id" in self.sources.values()

    @property
    def has_supervoxels(self) -> bool:
        return any(t.endswith("_supervoxel_id") for t in self.sources.values())

    @property
    def has_roots(self) -> bool:
        return any(t.endswith("_root_id") for t in self.sources.values())

    def csv_types(self) -> dict[str, pa.DataType]:
        """Arrow types to read each mapped CSV column as."""
        types: dict[str, pa.DataType] = {}
        for source, target in self.sources.items():
            kind = target_types(self.schema)[target]
            types[source] = (
                pa.string() if kind == "point" else pa.uint64() if kind == "segment" else kind
            )
        return types


@dataclass(frozen=True)
class ChunkRows:
    annotations: pa.Table  # validated: id, then the schema's data columns
    links: pa.Table | None  # id and every supervoxel/root column, int64; roots may be NULL


def convert_chunk(mapping: ColumnMapping, chunk: FileChunk, start_id: int | None) -> ChunkRows:
    """Validate one chunk; ids come from the file or are ``start_id + row``."""
    schema = mapping.schema
    columns: dict[str, Any] = {}
    segments: dict[str, Values] = {}
    for source, target in mapping.sources.items():
        values = chunk.columns[source]
        point = next((p for p in schema.points if p.position == target), None)
        if point is not None:
            columns.update(_split_point(point, values, mapping.label, chunk.first_row))
        elif target.endswith(("_supervoxel_id", "_root_id")):
            segments[target] = values
        else:
            columns[target] = values
    if "id" not in columns:
        assert start_id is not None
        first = start_id + chunk.first_row
        columns["id"] = np.arange(first, first + chunk.rows, dtype=np.int64)
    try:
        annotations = schema_rows.from_columns(schema, columns)
    except InvalidInput as exc:
        raise _located(exc, mapping.label, chunk) from None
    ids = np.asarray(annotations.column("id").to_numpy(), dtype=np.int64)
    _check_unique(ids, mapping.label, chunk)
    links = _links(schema, ids, segments, mapping.label, chunk) if segments else None
    return ChunkRows(annotations, links)


def _located(exc: InvalidInput, label: str, chunk: FileChunk) -> InvalidInput:
    match = _ROW.match(exc.message)
    if match:
        row = chunk.first_row + int(match[1])
        return InvalidInput(f"{label}, row {row}: {exc.message[match.end() :]}")
    last = chunk.first_row + chunk.rows - 1
    return InvalidInput(f"{label}, rows {chunk.first_row}-{last}: {exc.message}")


def _check_unique(ids: np.ndarray[Any, Any], label: str, chunk: FileChunk) -> None:
    order = np.argsort(ids, kind="stable")
    repeats = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if repeats.size:
        row = chunk.first_row + int(order[repeats[0] + 1])
        raise InvalidInput(f"{label}, row {row}: id {int(ids[order][repeats[0]])} repeats")


def _split_point(point: PointField, values: Values, label: str, first_row: int) -> dict[str, Any]:
    """A point column as its x, y, z columns: from an (n, 3) array, a list column, or text."""
    where = f"{label}: column {point.position!r}"
    if isinstance(values, np.ndarray):
        if values.ndim != 2 or values.shape[1] != 3:
            raise InvalidInput(f"{where}: expected an (n, 3) array, got {values.shape}")
        return {c: values[:, i] for i, c in enumerate(point.xyz_columns)}
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.split_pattern_regex(pc.utf8_trim(values, "[]() "), r"[,\s]+")
    if not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)) and not (
        pa.types.is_fixed_size_list(values.type)
    ):
        raise InvalidInput(f"{where}: expected 3 coordinates per row, got {values.type}")
    wrong = pc.fill_null(pc.not_equal(pc.list_value_length(values), 3), False)
    if pc.any(wrong).as_py():
        row = first_row + int(pc.index(wrong, True).as_py())
        raise InvalidInput(f"{label}, row {row}: column {point.position!r} needs 3 coordinates")
    out: dict[str, Any] = {}
    for i, c in enumerate(point.xyz_columns):
        element = pc.list_element(values, i)
        if pa.types.is_string(element.type) or pa.types.is_large_string(element.type):
            try:
                element = pc.cast(element, pa.int64())
            except pa.ArrowInvalid as exc:
                raise InvalidInput(f"{where}: coordinates must be integers ({exc})") from None
        out[c] = element
    return out


def _links(
    schema: SchemaType,
    ids: np.ndarray[Any, Any],
    segments: dict[str, Values],
    label: str,
    chunk: FileChunk,
) -> pa.Table:
    columns: dict[str, pa.Array] = {"id": pa.array(ids, pa.int64())}
    for p in schema.bound_points:
        for name in (p.supervoxel_column, p.root_column):
            given = segments.get(name)
            columns[name] = (
                pa.nulls(len(ids), pa.int64())
                if given is None
                else _segment_ids(given, name, label, chunk)
            )
    return pa.table(columns)


def _segment_ids(values: Values, name: str, label: str, chunk: FileChunk) -> pa.Array:
    """Supervoxel or root ids as int64: integers, not NULL, not negative."""
    where = f"{label}: column {name!r}"
    if not isinstance(values, np.ndarray):
        if not pa.types.is_integer(values.type):
            raise InvalidInput(f"{where}: expected integer ids, got {values.type}")
        if values.null_count:
            row = chunk.first_row + int(pc.index(pc.is_null(values), True).as_py())
            raise InvalidInput(f"{label}, row {row}: column {name!r} is empty")
        values = values.to_numpy()
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise InvalidInput(f"{where}: expected one integer id per row, got {values.dtype}")
    if values.dtype.kind == "i" and values.size and int(values.min()) < 0:
        row = chunk.first_row + int(np.argmin(values))
        raise InvalidInput(f"{label}, row {row}: column {name!r} holds a negative id")
    try:
        return pa.array(to_int64(values.astype(np.uint64)), pa.int64())
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None
