"""Strict parsing of caveclient's query bodies into a ``QuerySpec``.

Three shapes arrive: the frozen single-table body, the frozen join body (``tables`` chained or
``join_tables``), and the live body (``table`` + ``timestamp``). Filters are always nested by
table name. Unknown keys and wrong types are refused with a 400 naming the key, so a typo is
never silently ignored (the original server accepted ``filter_notin_dict`` and dropped it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fixative.api.wire import whole
from fixative.clock import as_utc
from fixative.errors import InvalidInput
from fixative.query.spec import Filter, FilterOp, Join, QuerySpec

FILTER_KEYS: dict[str, FilterOp] = {
    "filter_in_dict": "in",
    "filter_notin_dict": "not_in",
    "filter_out_dict": "not_in",
    "filter_equal_dict": "equal",
    "filter_greater_dict": "greater",
    "filter_less_dict": "less",
    "filter_greater_equal_dict": "greater_equal",
    "filter_less_equal_dict": "less_equal",
    "filter_spatial_dict": "spatial",
    "filter_regex_dict": "regex",
}
COMMON_KEYS = frozenset({*FILTER_KEYS, "offset", "limit", "desired_resolution"})
SIMPLE_KEYS = COMMON_KEYS | {"select_columns"}
JOIN_KEYS = COMMON_KEYS | {
    "tables",
    "join_tables",
    "select_columns",
    "select_column_map",
    "suffixes",
    "suffix_map",
}
LIVE_KEYS = COMMON_KEYS | {"table", "timestamp", "join_tables", "select_columns", "suffixes"}

ColumnsOf = Callable[[str], set[str]]


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidInput("the query body must be a JSON object")
    return body


def _check_keys(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    for key in body:
        if key not in allowed:
            raise InvalidInput(
                f"body key {key!r} is not allowed in a {what} query; allowed: "
                + ", ".join(sorted(allowed))
            )


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} must be a non-empty string, not {value!r}")
    return value


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int | str | bool)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{key}: {value!r} is not a finite number")
    return value


def _point(value: Any, key: str) -> tuple[float, float, float]:
    """A box corner, numbers kept as sent (the engine decides what a voxel coordinate is)."""
    if not isinstance(value, list) or len(value) != 3:
        raise InvalidInput(f"{key}: a corner must be [x, y, z], not {value!r}")
    x, y, z = (_number(v, key) for v in value)
    return (x, y, z)


def _filter_value(op: FilterOp, value: Any, key: str) -> Any:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not all(_is_scalar(v) for v in value):
            raise InvalidInput(f"{key} must be a list of numbers or strings, not {value!r}")
        return list(value)
    if op == "spatial":
        if not isinstance(value, list) or len(value) != 2:
            raise InvalidInput(f"{key} must be a box [[x0, y0, z0], [x1, y1, z1]]")
        return (_point(value[0], key), _point(value[1], key))
    if op == "regex":
        if not isinstance(value, str):
            raise InvalidInput(f"{key} must be a string pattern, not {value!r}")
        return value
    if not _is_scalar(value):
        raise InvalidInput(f"{key} must be a number or a string, not {value!r}")
    return value


def parse_filters(body: Mapping[str, Any]) -> tuple[Filter, ...]:
    """Every ``filter_*_dict`` as ``{table: {column: value}}`` -> Filters, in body order."""
    out: list[Filter] = []
    for key, raw in body.items():
        op = FILTER_KEYS.get(key)
        if op is None or raw is None:
            continue
        if not isinstance(raw, dict):
            raise InvalidInput(f"{key} must be an object {{table: {{column: value}}}}")
        for table, columns in raw.items():
            if columns is None:
                continue
            if not isinstance(columns, dict):
                raise InvalidInput(f"{key}[{table!r}] must be an object {{column: value}}")
            for column, value in columns.items():
                where = f"{key}[{table!r}][{column!r}]"
                out.append(Filter(table, column, op, _filter_value(op, value, where)))
    return tuple(out)


def _paging(body: Mapping[str, Any]) -> tuple[int, int | None]:
    raw_offset = body.get("offset")
    offset = 0 if raw_offset is None else whole(raw_offset)  # JSON's 5.0 is the integer 5
    if offset is None or offset < 0:
        raise InvalidInput(f"offset must be a non-negative integer, not {raw_offset!r}")
    raw_limit = body.get("limit")
    limit = None if raw_limit is None else whole(raw_limit)
    if raw_limit is not None and (limit is None or limit < 1):
        raise InvalidInput(f"limit must be a positive integer, not {raw_limit!r}")
    return offset, limit


def _resolution(body: Mapping[str, Any]) -> tuple[float, float, float] | None:
    raw = body.get("desired_resolution")
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 3:
        raise InvalidInput(f"desired_resolution must be [x, y, z] in nm, not {raw!r}")
    x, y, z = (float(_number(v, "desired_resolution")) for v in raw)
    if min(x, y, z) <= 0:
        raise InvalidInput(f"desired_resolution must be positive, not {raw!r}")
    return (x, y, z)


def _column_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f"{key} must be a list of column names, not {value!r}")
    return tuple(_name(c, f"{key} entry") for c in value)


def _column_map(value: Any, key: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{key} must be an object {{table: [columns]}}, not {value!r}")
    return {_name(t, f"{key} table"): _column_list(c, f"{key}[{t!r}]") for t, c in value.items()}


def _suffix_map(value: Any, key: str, tables: tuple[str, ...]) -> dict[str, str]:
    if isinstance(value, list):  # legacy: one suffix per distinct table, in order
        if len(value) > len(tables) or not all(isinstance(s, str) for s in value):
            raise InvalidInput(f"{key} must list at most one string per table, not {value!r}")
        return dict(zip(tables, value, strict=False))
    if not isinstance(value, dict) or not all(isinstance(s, str) for s in value.values()):
        raise InvalidInput(f"{key} must be an object {{table: suffix}}, not {value!r}")
    return {_name(t, f"{key} table"): s for t, s in value.items()}


def _join_tables(value: Any) -> list[Join]:
    if not isinstance(value, list):
        raise InvalidInput("join_tables must be a list of [table, column, table, column]")
    joins = []
    for entry in value:
        if not isinstance(entry, list) or len(entry) != 4:
            raise InvalidInput(
                f"join_tables entry {entry!r} must be [table, column, table, column]"
            )
        t1, c1, t2, c2 = (_name(v, "join_tables entry") for v in entry)
        joins.append(Join(t1, c1, t2, c2))
    return joins


def _chain(value: Any) -> tuple[list[str], list[Join]]:
    """``tables: [[t0, c0], [t1, c1], ...]``: each table joined to the previous one."""
    if not isinstance(value, list) or not value:
        raise InvalidInput("tables must be a non-empty list of [table, column] pairs")
    pairs = []
    for entry in value:
        if not isinstance(entry, list) or len(entry) != 2:
            raise InvalidInput(f"tables entry {entry!r} must be [table, column]")
        pairs.append((_name(entry[0], "tables entry"), _name(entry[1], "tables entry")))
    joins = [Join(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(pairs)]
    return [p[0] for p in pairs], joins


def _tables_of(main: list[str], joins: list[Join]) -> tuple[str, ...]:
    order = list(dict.fromkeys(main))
    for j in joins:
        for t in (j.left_table, j.right_table):
            if t not in order:
                order.append(t)
    return tuple(order)


def _check_tables(spec: QuerySpec) -> QuerySpec:
    named = [f.table for f in spec.filters] + list(spec.select or {}) + list(spec.suffixes)
    for table in named:
        if table not in spec.tables:
            raise InvalidInput(
                f"table {table!r} is named in the body but is not part of the query "
                f"(tables: {', '.join(spec.tables)})"
            )
    return spec


def simple_spec(
    body: Any, table: str, *, split_positions: bool = True, random_sample: int | None = None
) -> QuerySpec:
    """The frozen single-table body (also used for the count)."""
    data = _object(body)
    _check_keys(data, SIMPLE_KEYS, "table")
    offset, limit = _paging(data)
    select = data.get("select_columns")
    return _check_tables(
        QuerySpec(
            tables=(table,),
            filters=parse_filters(data),
            select=None if select is None else {table: _column_list(select, "select_columns")},
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=_resolution(data),
            split_positions=split_positions,
        )
    )


def _select_list(columns: tuple[str, ...], tables: tuple[str, ...], columns_of: ColumnsOf) -> Any:
    """The deprecated flat ``select_columns`` of a join: each name goes to the first table
    that has it."""
    out: dict[str, list[str]] = {t: [] for t in tables}
    known = {t: columns_of(t) for t in tables}
    for column in columns:
        owner = next((t for t in tables if column in known[t]), None)
        if owner is None:
            raise InvalidInput(f"select_columns: no table of the query has column {column!r}")
        out[owner].append(column)
    return {t: tuple(c) for t, c in out.items()}


def join_spec(
    body: Any,
    columns_of: ColumnsOf,
    *,
    split_positions: bool = True,
    random_sample: int | None = None,
) -> QuerySpec:
    """The frozen join body: ``tables`` chained, or ``join_tables``."""
    data = _object(body)
    _check_keys(data, JOIN_KEYS, "join")
    if data.get("tables") is not None:
        main, joins = _chain(data["tables"])
        joins += _join_tables(data.get("join_tables") or [])
    elif data.get("join_tables"):
        joins = _join_tables(data["join_tables"])
        main = [joins[0].left_table]
    else:
        raise InvalidInput("a join query needs 'tables' ([[table, column], ...]) or 'join_tables'")
    tables = _tables_of(main, joins)
    offset, limit = _paging(data)
    select: dict[str, tuple[str, ...]] | None = None
    if data.get("select_column_map") is not None:
        select = _column_map(data["select_column_map"], "select_column_map")
    elif isinstance(data.get("select_columns"), dict):
        select = _column_map(data["select_columns"], "select_columns")
    elif data.get("select_columns") is not None:
        flat = _column_list(data["select_columns"], "select_columns")
        select = _select_list(flat, tables, columns_of)
    suffix_key = "suffix_map" if data.get("suffix_map") is not None else "suffixes"
    raw_suffixes = data.get(suffix_key)
    suffixes = {} if raw_suffixes is None else _suffix_map(raw_suffixes, suffix_key, tables)
    return _check_tables(
        QuerySpec(
            tables=tables,
            joins=tuple(joins),
            filters=parse_filters(data),
            select=select,
            suffixes=suffixes,
            offset=offset,
            limit=limit,
            random_sample=random_sample,
            desired_resolution=_resolution(data),
            split_positions=split_positions,
        )
    )


def live_spec(body: Any, *, split_positions: bool = True) -> tuple[QuerySpec, datetime]:
    """The live body: ``table`` and ``timestamp`` required, ``select_columns``/``suffixes`` by
    table."""
    data = _object(body)
    _check_keys(data, LIVE_KEYS, "live")
    if "table" not in data:
        raise InvalidInput("a live query needs 'table'")
    table = _name(data["table"], "table")
    if data.get("timestamp") is None:
        raise InvalidInput("a live query needs 'timestamp' (ISO-8601, UTC when naive)")
    stamp = data["timestamp"]
    if not isinstance(stamp, str):
        raise InvalidInput(f"timestamp must be an ISO-8601 string, not {stamp!r}")
    try:
        at = as_utc(stamp)
    except InvalidInput as exc:
        raise InvalidInput(f"timestamp: {exc.message}") from None
    joins = _join_tables(data.get("join_tables") or [])
    tables = _tables_of([table], joins)
    offset, limit = _paging(data)
    select = data.get("select_columns")
    suffixes = data.get("suffixes")
    spec = QuerySpec(
        tables=tables,
        joins=tuple(joins),
        filters=parse_filters(data),
        select=None if select is None else _column_map(select, "select_columns"),
        suffixes={} if suffixes is None else _suffix_map(suffixes, "suffixes", tables),
        offset=offset,
        limit=limit,
        desired_resolution=_resolution(data),
        split_positions=split_positions,
    )
    return _check_tables(spec), at
