"""Read integer query results column by column, as numpy arrays, with no Python object per row.

A driver's ``fetchall`` builds one tuple and several ints per row. Instead, every output column
of the query is folded into one value by an aggregate over the same rows, so all columns come
back aligned in one result row:

- PostgreSQL: ``string_agg(int8send(c), '')``, the big-endian 8-byte values, read with
  ``np.frombuffer``;
- SQLite: ``group_concat(c)``, decimal text parsed by ``np.fromstring``.

Aggregates of one query see the input rows in one sequence, so row i of every column belongs
together; the order itself is not promised (callers sort when they need to). Columns must be
non-NULL integers (aggregates skip NULLs): select ``COALESCE(x, 0)`` and a null flag instead.
Measured on 200k rows x 7 columns: SQLite 0.06 s against 0.21 s for ``fetchall`` and
``np.array``; PostgreSQL 0.12 s against 0.13-0.2 s (the server side dominates there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

I64 = npt.NDArray[np.int64]


def read_int64(
    conn: sa.Connection,
    inner_sql: str,
    width: int,
    params: Mapping[str, Any] | None = None,
    binds: Sequence[sa.BindParameter[Any]] = (),
) -> I64:
    """Rows of ``inner_sql`` (a SELECT whose ``width`` output columns are named ``c0``,
    ``c1``, ... and are non-NULL integers) as an (n, width) int64 array."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        aggs = [
            f"string_agg(int8send(CAST(q.c{i} AS BIGINT)), CAST('' AS BYTEA))" for i in range(width)
        ]
    else:
        aggs = [f"group_concat(q.c{i})" for i in range(width)]
    query = sa.text(f"SELECT {', '.join(aggs)} FROM ({inner_sql}) AS q")
    if binds:
        query = query.bindparams(*binds)
    row = conn.execute(query, dict(params or {})).one()
    if row[0] is None:
        return np.zeros((0, width), dtype=np.int64)
    if postgres:
        columns = [np.frombuffer(bytes(v), dtype=">i8").astype(np.int64) for v in row]
    else:
        columns = [np.fromstring(str(v), dtype=np.int64, sep=",") for v in row]
    return np.stack(columns, axis=1)


def id_set_sql(conn: sa.Connection, param: str) -> str:
    """A SQL set expression for ``column IN <this>`` over the ids bound as ``param`` (see
    ``id_set_param``): one parameter whatever the number of ids, probed through the column's
    index."""
    if conn.dialect.name == "postgresql":
        return f"(SELECT unnest(CAST(:{param} AS BIGINT[])))"
    return f"(SELECT value FROM json_each(:{param}))"


def id_set_param(conn: sa.Connection, ids: npt.ArrayLike) -> str:
    """The value to bind for ``id_set_sql``: an array literal (PostgreSQL) or a JSON array."""
    values = np.asarray(ids, dtype=np.int64).tolist()
    if conn.dialect.name == "postgresql":
        return "{" + ",".join(map(str, values)) + "}"
    return json.dumps(values)
