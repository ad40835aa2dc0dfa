"""Raw columns (as read, in ``QueryPlan.raw_columns`` order) to the output batch: ids and ints
as int64, positions scaled to float64 when asked, points split into ``_x/_y/_z`` or packed into
one ``fixed_size_list`` column. Column-wise Arrow and numpy only, never a Python object per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fixative.query.plan import Output, QueryPlan


def raw_schema(plan: QueryPlan) -> pa.Schema:
    """Names ``c0``, ``c1``, ... with each column's natural type (positions int64)."""
    return pa.schema([pa.field(f"c{k}", c.arrow_type) for k, (_, c) in enumerate(plan.raw_columns)])


def typed(array: Any, kind_type: pa.DataType) -> pa.Array:
    """An array read from a driver, cast to its column's Arrow type."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type == kind_type:
        return array
    return array.cast(kind_type)


def shape(plan: QueryPlan, columns: Sequence[pa.Array], schema: pa.Schema) -> pa.RecordBatch:
    """The output batch of raw ``columns``."""
    out: list[pa.Array] = []
    k = 0
    for o in plan.outputs:
        n = len(o.sources)
        out.extend(_item(o, columns[k : k + n], plan.split))
        k += n
    return pa.RecordBatch.from_arrays(out, schema=schema)


def _item(o: Output, raw: Sequence[pa.Array], split: bool) -> list[pa.Array]:
    if not o.group:
        column = o.sources[0]
        array = typed(raw[0], column.arrow_type)
        if column.axis is not None and o.scale is not None:
            return [_scaled(array, o.scale[column.axis])]
        return [array]
    axes = [typed(a, pa.int64()) for a in raw]
    if o.scale is not None:
        axes = [_scaled(a, o.scale[i]) for i, a in enumerate(axes)]
    if split:
        return axes
    return [_packed(axes)]


def _scaled(array: pa.Array, factor: float) -> pa.Array:
    return pc.multiply(array.cast(pa.float64()), pa.scalar(factor, pa.float64()))


def _packed(axes: list[pa.Array]) -> pa.Array:
    """One ``fixed_size_list<_, 3>`` array; a row is null when its point is (x is null)."""
    value_type = axes[0].type
    n = len(axes[0])
    filled = [np.asarray(a.fill_null(0).to_numpy(zero_copy_only=False)) for a in axes]
    flat = np.stack(filled, axis=1).reshape(-1) if n else np.zeros(0)
    values = pa.array(flat, type=value_type)
    mask = None
    if axes[0].null_count:
        mask = pa.array(np.asarray(axes[0].is_null().to_numpy(zero_copy_only=False)))
    return pa.FixedSizeListArray.from_arrays(values, 3, mask=mask)
