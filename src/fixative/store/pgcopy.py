"""Encode Arrow columns as PostgreSQL binary COPY data with numpy, no per-row Python.

Layout (PostgreSQL docs, "COPY ... BINARY"): an 11-byte signature, two int32 (flags, header
extension length), then per row an int16 field count and per field an int32 byte length (-1 for
NULL) followed by the value in network byte order; a trailing int16 -1.

When every column is fixed-width and either entirely NULL or free of NULLs (the usual bulk case),
rows have one layout and the batch is a numpy structured array filled column by column. Otherwise
(text columns, scattered NULLs) cells are scattered into a byte buffer with computed offsets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

PgType = Literal["int8", "int4", "float8", "bool", "text", "timestamptz"]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in microseconds since the Unix epoch

_FIXED: dict[str, str] = {
    "int8": ">i8",
    "int4": ">i4",
    "float8": ">f8",
    "bool": "u1",
    "timestamptz": ">i8",
}


@dataclass(frozen=True)
class CopyColumn:
    name: str
    pg_type: PgType


def _values(arr: pa.Array, pg_type: PgType) -> npt.NDArray[np.generic]:
    """The non-null-filled numpy values of a fixed-width column, in native order."""
    if pg_type == "timestamptz":
        us = pc.cast(arr.cast(pa.timestamp("us", tz="UTC")), pa.int64())
        return np.asarray(us.fill_null(0).to_numpy(zero_copy_only=False)) - PG_EPOCH_US
    if pg_type == "bool":
        return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
    dtype = {"int8": np.int64, "int4": np.int32, "float8": np.float64}[pg_type]
    filled = arr.fill_null(0) if arr.null_count else arr
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=dtype)


def encode(table: pa.Table, columns: list[CopyColumn]) -> bytes:
    """One COPY BINARY payload (signature, rows, trailer) for ``table``."""
    arrays = [table.column(c.name).combine_chunks() for c in columns]
    n_rows = table.num_rows
    uniform = all(
        c.pg_type != "text" and (a.null_count in (0, n_rows))
        for c, a in zip(columns, arrays, strict=True)
    )
    body = (
        _encode_uniform(arrays, columns, n_rows)
        if uniform
        else _encode_scattered(arrays, columns, n_rows)
    )
    return SIGNATURE + body + TRAILER


def _encode_uniform(arrays: list[pa.Array], columns: list[CopyColumn], n_rows: int) -> bytes:
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for i, (c, a) in enumerate(zip(columns, arrays, strict=True)):
        fields.append((f"l{i}", ">i4"))
        if a.null_count != n_rows or n_rows == 0:
            fields.append((f"v{i}", _FIXED[c.pg_type]))
    rows = np.empty(n_rows, dtype=np.dtype(fields))
    rows["n"] = len(columns)
    for i, (c, a) in enumerate(zip(columns, arrays, strict=True)):
        if f"v{i}" in rows.dtype.names:  # type: ignore[operator]
            rows[f"l{i}"] = np.dtype(_FIXED[c.pg_type]).itemsize
            rows[f"v{i}"] = _values(a, c.pg_type)
        else:
            rows[f"l{i}"] = -1
    return rows.tobytes()


def _cell_bytes(
    arr: pa.Array, pg_type: PgType
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Per-row data lengths (-1 for NULL) and the concatenated value bytes of the non-null cells."""
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if pg_type == "text":
        strings = arr.cast(pa.large_string())
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[
            strings.offset : strings.offset + len(strings) + 1
        ]
        lengths = np.diff(offsets)
        data = (
            np.frombuffer(strings.buffers()[2], dtype=np.uint8)
            if strings.buffers()[2]
            else np.zeros(0, np.uint8)
        )
        data = data[offsets[0] : offsets[-1]]
        return np.where(valid, lengths, -1), data
    width = np.dtype(_FIXED[pg_type]).itemsize
    values = _values(arr, pg_type).astype(_FIXED[pg_type])[valid]
    lengths = np.where(valid, width, -1).astype(np.int64)
    return lengths, values.view(np.uint8)


def _encode_scattered(arrays: list[pa.Array], columns: list[CopyColumn], n_rows: int) -> bytes:
    cells = [_cell_bytes(a, c.pg_type) for a, c in zip(arrays, columns, strict=True)]
    row_sizes = np.full(n_rows, 2, dtype=np.int64)
    for lengths, _ in cells:
        row_sizes += 4 + np.maximum(lengths, 0)
    row_starts = np.zeros(n_rows, dtype=np.int64)
    np.cumsum(row_sizes[:-1], out=row_starts[1:])
    buf = np.zeros(int(row_sizes.sum()), dtype=np.uint8)
    _scatter_fixed(buf, row_starts, np.full(n_rows, len(columns), dtype=">i2"))
    cursor = row_starts + 2
    for lengths, data in cells:
        _scatter_fixed(buf, cursor, lengths.astype(">i4"))
        cursor = cursor + 4
        present = lengths > 0
        if data.size:
            starts = cursor[present]
            sizes = lengths[present]
            within = np.arange(data.size, dtype=np.int64) - np.repeat(
                np.cumsum(sizes) - sizes, sizes
            )
            buf[np.repeat(starts, sizes) + within] = data
        cursor = cursor + np.maximum(lengths, 0)
    return buf.tobytes()


def _scatter_fixed(
    buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64], values: npt.NDArray[np.generic]
) -> None:
    width = values.dtype.itemsize
    idx = at[:, None] + np.arange(width, dtype=np.int64)
    buf[idx] = np.ascontiguousarray(values).view(np.uint8).reshape(-1, width)


def copy_into(
    conn: Any, target: str, rows: pa.Table, columns: list[CopyColumn], batch_rows: int = 200_000
) -> None:
    """Binary-COPY ``rows`` into ``target`` (an already quoted, possibly qualified table name)
    on the SQLAlchemy connection's psycopg connection, in encoded batches of ``batch_rows``."""
    names = ", ".join('"' + c.name.replace('"', '""') + '"' for c in columns)
    sql = f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)"
    with conn.connection.driver_connection.cursor() as cur:
        for lo in range(0, rows.num_rows, batch_rows):
            with cur.copy(sql) as copy:
                copy.write(encode(rows.slice(lo, batch_rows), columns))
