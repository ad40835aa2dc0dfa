"""Filter checking: each filter's column is looked up in metadata and its value is checked
against the column's type and normalised, so the SQL builders and the in-memory filter of live
queries only ever see well-typed values.

Semantics shared by every path (SQL on both backends, and live queries in memory): a NULL value
never matches a filter; ``in []`` matches nothing; ``not_in []`` matches everything (it is no
filter at all); spatial boxes are inclusive on every face and given in the table's voxels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fixative.errors import InvalidInput
from fixative.query.columns import FlatColumn, TableColumns
from fixative.query.spec import FILTER_OPS, Filter
from fixative.schemas.types import PointField

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_LIST_VALUES = 1_000_000
MAX_REGEX_CHARS = 1_000
LIST_OPS = ("in", "not_in")
COMPARE_OPS = ("equal", "greater", "less", "greater_equal", "less_equal")


@dataclass(frozen=True)
class CheckedFilter:
    """A filter on table ``index`` of the query, with its column (or point) and a checked
    value: a tuple for in/not_in, ``(lo, hi)`` int triples for spatial, else a scalar."""

    index: int
    table: str
    op: str
    column: FlatColumn | None
    point: PointField | None
    value: Any

    @property
    def name(self) -> str:
        if self.point is not None:
            return self.point.position
        assert self.column is not None
        return self.column.name


def check_filter(f: Filter, index: int, table: TableColumns) -> CheckedFilter:
    if f.op not in FILTER_OPS:
        raise InvalidInput(f"unknown filter {f.op!r} on {table.name}.{f.column}")
    point = table.point(f.column)
    if f.op == "spatial":
        if point is None:
            raise InvalidInput(
                f"spatial filter on {table.name}.{f.column!r}: not a position column"
            )
        box = _box(f.value, table.name, point.position)
        return CheckedFilter(index, table.name, "spatial", None, point, box)
    if point is not None:
        raise InvalidInput(
            f"filter {f.op!r} on position {table.name}.{point.position}: only spatial filters "
            "apply to a position (or filter its _x/_y/_z columns)"
        )
    column = table.column(f.column)
    where = f"{table.name}.{column.name}"
    if f.op == "regex":
        return CheckedFilter(
            index, table.name, "regex", column, None, _regex(f.value, column, where)
        )
    if f.op in LIST_OPS:
        values = _list(f.value, column, where)
        return CheckedFilter(index, table.name, f.op, column, None, values)
    return CheckedFilter(index, table.name, f.op, column, None, scalar(f.value, column, where))


def scalar(value: Any, column: FlatColumn, where: str) -> Any:
    """``value`` as the Python type of ``column`` (ids and other ints: int64)."""
    kind = column.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidInput(f"{where} needs integer values, got {_shown(value)}")
        number = int(value)
        if not INT64_MIN <= number <= INT64_MAX:
            raise InvalidInput(f"{where}: {number} does not fit a signed 64-bit integer")
        return number
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise InvalidInput(f"{where} needs numbers, got {_shown(value)}")
        real = float(value)
        if not math.isfinite(real):
            raise InvalidInput(f"{where} needs finite numbers, got {_shown(value)}")
        return real
    if kind == "str":
        if not isinstance(value, str):
            raise InvalidInput(f"{where} needs strings, got {_shown(value)}")
        return value
    if not isinstance(value, bool | np.bool_):
        raise InvalidInput(f"{where} needs true or false, got {_shown(value)}")
    return bool(value)


def _list(value: Any, column: FlatColumn, where: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes | dict) or not isinstance(value, Sequence | np.ndarray):
        raise InvalidInput(f"{where}: in/not_in filters need a list, got {_shown(value)}")
    if len(value) > MAX_LIST_VALUES:
        raise InvalidInput(f"{where}: at most {MAX_LIST_VALUES} values in one list")
    return tuple(dict.fromkeys(scalar(v, column, where) for v in value))


def _regex(value: Any, column: FlatColumn, where: str) -> str:
    if column.kind != "str":
        raise InvalidInput(f"regex filter on {where}: only string columns take a regex")
    if not isinstance(value, str):
        raise InvalidInput(f"regex filter on {where} needs a string, got {_shown(value)}")
    if len(value) > MAX_REGEX_CHARS:
        raise InvalidInput(f"regex filter on {where} is longer than {MAX_REGEX_CHARS} characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise InvalidInput(f"regex filter on {where}: bad pattern {value!r}: {exc}") from None
    return value


def _box(value: Any, table: str, position: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    where = f"spatial filter on {table}.{position}"
    if (
        isinstance(value, str | bytes | dict)
        or not isinstance(value, Sequence | np.ndarray)
        or len(value) != 2
    ):
        raise InvalidInput(f"{where} needs [[x0, y0, z0], [x1, y1, z1]], got {_shown(value)}")
    corners = []
    for corner in value:
        if isinstance(corner, str | bytes | dict) or not isinstance(corner, Sequence | np.ndarray):
            raise InvalidInput(f"{where}: a corner must be three integers, got {_shown(corner)}")
        if len(corner) != 3:
            raise InvalidInput(f"{where}: a corner must be three integers, got {_shown(corner)}")
        coords = []
        for v in corner:
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise InvalidInput(f"{where}: coordinates must be integers, got {_shown(v)}")
            if not INT64_MIN <= int(v) <= INT64_MAX:
                raise InvalidInput(f"{where}: coordinate {int(v)} is out of range")
            coords.append(int(v))
        corners.append(tuple(coords))
    lo, hi = corners
    for axis, a, b in zip("xyz", lo, hi, strict=True):
        if a > b:
            raise InvalidInput(f"{where}: the box's low {axis} ({a}) is above its high ({b})")
    return lo, hi


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
