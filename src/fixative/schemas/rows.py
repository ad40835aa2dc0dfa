"""Turn what clients send (records in the nested EMAnnotationSchemas form, or columns) into one
validated Arrow table with flattened columns: ``id``, ``target_id``, ``{pt}_position_x/_y/_z``
and the scalar fields. Every problem raises ``InvalidInput`` naming the field (and row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fixative.errors import InvalidInput
from fixative.schemas.types import PointField, ScalarField, SchemaType

COORD_MIN = -(2**31)
COORD_MAX = 2**31 - 1
_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
# Keys a client may send back unchanged (e.g. from get_annotation) that carry no data to write.
_IGNORED_KEYS = frozenset({"valid", "created", "deleted", "superceded_id"})


def arrow_schema(schema: SchemaType) -> pa.Schema:
    """The normalized input schema: nullable ``id`` first, then the data columns."""
    fields = [pa.field("id", pa.int64())]
    if schema.reference:
        fields.append(pa.field("target_id", pa.int64(), nullable=False))
    for f in schema.fields:
        if isinstance(f, PointField):
            fields.extend(pa.field(c, pa.int64(), nullable=not f.required) for c in f.xyz_columns)
        else:
            fields.append(pa.field(f.name, _ARROW_TYPES[f.kind], nullable=not f.required))
    return pa.schema(fields)


def from_records(schema: SchemaType, records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Validate records in nested (``{"pt": {"position": [x, y, z]}}``) or flat form."""
    if isinstance(records, Mapping | str | bytes) or not isinstance(records, Sequence):
        raise InvalidInput("annotations must be a list of objects")
    columns: dict[str, list[Any]] = {name: [] for name in arrow_schema(schema).names}
    for row_no, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInput(
                f"annotation {row_no}: expected an object, got {type(record).__name__}"
            )
        _check_keys(schema, record, row_no)
        columns["id"].append(record.get("id"))
        if schema.reference:
            columns["target_id"].append(record.get("target_id"))
        for f in schema.fields:
            if isinstance(f, PointField):
                xyz = _record_point(f, record, row_no)
                for col, value in zip(f.xyz_columns, xyz, strict=True):
                    columns[col].append(value)
            else:
                value = record.get(f.name)
                if isinstance(value, bool) and f.kind != "bool":
                    raise InvalidInput(
                        f"annotation {row_no}: field {f.name!r} expects {f.kind}, got a boolean"
                    )
                columns[f.name].append(value)
    return from_columns(schema, columns, _from_records=True)


def _check_keys(schema: SchemaType, record: Mapping[str, Any], row_no: int) -> None:
    allowed = {"id"} | ({"target_id"} if schema.reference else set())
    for f in schema.fields:
        if isinstance(f, PointField):
            allowed.update((f.name, f.position, *f.xyz_columns))
        else:
            allowed.add(f.name)
    unknown = sorted(str(k) for k in record if k not in allowed and k not in _IGNORED_KEYS)
    if unknown:
        raise InvalidInput(
            f"annotation {row_no}: unknown field(s) {', '.join(map(repr, unknown))} "
            f"for schema {schema.name!r}"
        )


def _record_point(f: PointField, record: Mapping[str, Any], row_no: int) -> list[Any]:
    where = f"annotation {row_no}, field {f.name!r}"
    if f.name in record and record[f.name] is not None:
        nested = record[f.name]
        if not isinstance(nested, Mapping):
            raise InvalidInput(f"{where}: expected an object with a 'position'")
        extra = sorted(set(nested) - {"position", "supervoxel_id", "root_id"})
        if extra:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(map(repr, extra))}")
        if any(nested.get(k) is not None for k in ("supervoxel_id", "root_id")):
            raise InvalidInput(
                f"{where}: supervoxel_id and root_id are looked up by Fixative; "
                "use bulk upload to supply precomputed ids"
            )
        position = nested.get("position")
    elif f.position in record:
        position = record[f.position]
    elif all(c in record for c in f.xyz_columns):
        position = [record[c] for c in f.xyz_columns]
    else:
        position = None
    if position is None:
        return [None, None, None]
    if isinstance(position, str | bytes | Mapping) or not hasattr(position, "__len__"):
        raise InvalidInput(f"{where}: position must be a list of 3 numbers")
    if len(position) != 3:
        raise InvalidInput(f"{where}: position has {len(position)} coordinates, expected 3")
    return list(position)


def from_columns(
    schema: SchemaType, data: pa.Table | Mapping[str, Any], *, _from_records: bool = False
) -> pa.Table:
    """Validate and cast columnar input (Arrow table or a mapping of column -> values)."""
    table_cols = _as_column_mapping(data)
    target = arrow_schema(schema)
    if not _from_records:
        table_cols = _split_positions(schema, table_cols)
        unknown = sorted(set(table_cols) - set(target.names) - _IGNORED_KEYS)
        if unknown:
            raise InvalidInput(
                f"unknown column(s) {', '.join(map(repr, unknown))} for schema {schema.name!r}"
            )
    lengths = {len(v) for v in table_cols.values()}
    if len(lengths) > 1:
        raise InvalidInput("columns have different lengths")
    n_rows = lengths.pop() if lengths else 0
    arrays = [
        _cast_column(schema, fld, table_cols.get(fld.name), n_rows, nan_is_null=not _from_records)
        for fld in target
    ]
    return pa.Table.from_arrays(arrays, schema=target)


def _as_column_mapping(data: pa.Table | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(data, pa.Table):
        return {name: data.column(name) for name in data.column_names}
    if isinstance(data, Mapping):
        return dict(data)
    raise InvalidInput("expected a table or a mapping of columns")


def _split_positions(schema: SchemaType, cols: dict[str, Any]) -> dict[str, Any]:
    """Accept ``{pt}_position`` as an (n, 3) array or list column, besides x/y/z columns."""
    for p in schema.points:
        if p.position not in cols:
            continue
        raw = cols.pop(p.position)
        if isinstance(raw, pa.ChunkedArray | pa.Array):
            raw = raw.to_numpy(zero_copy_only=False)
        try:
            arr = np.asarray(
                raw.tolist() if isinstance(raw, np.ndarray) and raw.dtype == object else raw
            )
        except ValueError:
            raise InvalidInput(
                f"column {p.position!r}: positions must all have 3 coordinates"
            ) from None
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise InvalidInput(f"column {p.position!r}: expected 3 coordinates per row")
        for i, c in enumerate(p.xyz_columns):
            cols[c] = arr[:, i]
    return cols


def _cast_column(
    schema: SchemaType, fld: pa.Field, values: Any, n_rows: int, *, nan_is_null: bool
) -> pa.Array:
    """Cast one column. NaN means missing in columnar (dataframe) input; records refuse it."""
    name = fld.name
    if values is None:
        if not fld.nullable:
            raise InvalidInput(f"missing required field {_field_label(schema, name)}")
        return pa.nulls(n_rows, fld.type)
    try:
        arr = (
            values
            if isinstance(values, pa.ChunkedArray | pa.Array)
            else pa.array(values, from_pandas=nan_is_null)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise InvalidInput(f"field {_field_label(schema, name)}: {_short(exc)}") from None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if nan_is_null and pa.types.is_floating(arr.type) and len(arr):
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)
    arr = _cast(schema, name, arr, fld.type)
    if not fld.nullable and arr.null_count:
        row = int(pc.index(pc.is_null(arr), True).as_py())
        raise InvalidInput(f"annotation {row}: missing required field {_field_label(schema, name)}")
    _check_values(schema, name, arr)
    return arr


def _cast(schema: SchemaType, name: str, arr: pa.Array, to: pa.DataType) -> pa.Array:
    label = _field_label(schema, name)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), to)
    source = arr.type
    if pa.types.is_boolean(source) and not pa.types.is_boolean(to):
        raise InvalidInput(f"field {label}: expected {_kind(to)}, got booleans")
    if pa.types.is_string(to) and not (
        pa.types.is_string(source) or pa.types.is_large_string(source)
    ):
        raise InvalidInput(f"field {label}: expected text, got {source}")
    if pa.types.is_boolean(to) and not pa.types.is_boolean(source):
        raise InvalidInput(f"field {label}: expected true/false, got {source}")
    if (pa.types.is_integer(to) or pa.types.is_floating(to)) and not (
        pa.types.is_integer(source) or pa.types.is_floating(source)
    ):
        raise InvalidInput(f"field {label}: expected {_kind(to)}, got {source}")
    try:
        return pc.cast(arr, to, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(f"field {label}: expected {_kind(to)} ({_short(exc)})") from None


def _check_values(schema: SchemaType, name: str, arr: pa.Array) -> None:
    label = _field_label(schema, name)
    if name == "id" or name == "target_id":
        bad = pc.less_equal(arr, 0)
        if pc.any(bad).as_py():
            row = int(pc.index(bad, True).as_py())
            raise InvalidInput(f"annotation {row}: {name} must be a positive integer")
        return
    if name.endswith(("_position_x", "_position_y", "_position_z")):
        bad = pc.or_(pc.less(arr, COORD_MIN), pc.greater(arr, COORD_MAX))
        if pc.any(bad).as_py():
            row = int(pc.index(bad, True).as_py())
            raise InvalidInput(f"annotation {row}: field {label} is outside the 32-bit voxel range")
        return
    f = schema.field(name)
    if isinstance(f, ScalarField) and f.kind == "float" and len(arr):
        finite = pc.is_finite(arr)
        if pc.any(pc.invert(pc.fill_null(finite, True))).as_py():
            raise InvalidInput(f"field {label}: NaN and infinity are not allowed")
    if isinstance(f, ScalarField) and f.choices:
        bad = pc.invert(pc.is_in(arr, value_set=pa.array(f.choices)))
        bad = pc.and_(bad, pc.is_valid(arr))
        if pc.any(bad).as_py():
            row = int(pc.index(bad, True).as_py())
            raise InvalidInput(
                f"annotation {row}: {label} must be one of {', '.join(f.choices)}, "
                f"got {arr[row].as_py()!r}"
            )


def _field_label(schema: SchemaType, column: str) -> str:
    for p in schema.points:
        if column in p.xyz_columns:
            return f"{p.name!r} (position {column[-1]})"
    return repr(column)


def _kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "integers"
    if pa.types.is_floating(t):
        return "numbers"
    return str(t)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]
