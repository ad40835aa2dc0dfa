"""From a ``QuerySpec`` and the tables' metadata to a checked plan: which tables in which join
order, which filters, which output columns under which names, paging and scaling. Nothing here
touches a database; both the version and the live paths run the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from fixative.errors import InvalidInput
from fixative.query.columns import FlatColumn, TableColumns
from fixative.query.filters import CheckedFilter, check_filter
from fixative.query.spec import QuerySpec

Triple = tuple[float, float, float]
MAX_OFFSET = 2**31 - 1  # SQL OFFSET is bound as a 32-bit integer
CRUD_COLUMNS = frozenset({"created", "deleted", "superceded_id", "valid"})


@dataclass(frozen=True)
class CheckedJoin:
    left: int
    left_column: FlatColumn
    right: int
    right_column: FlatColumn


@dataclass(frozen=True)
class Output:
    """One output item: a point (three sources) or one column, from table ``index``.
    ``scale`` (positions only) multiplies voxel values; None keeps them integers."""

    index: int
    name: str
    sources: tuple[FlatColumn, ...]
    scale: Triple | None
    group: bool

    def names(self, split: bool) -> list[str]:
        if self.group and split:
            return [f"{self.name}_{axis}" for axis in "xyz"]
        return [self.name]

    def fields(self, split: bool) -> list[pa.Field]:
        value = pa.float64() if self.scale is not None else pa.int64()
        if self.group and not split:
            return [pa.field(self.name, pa.list_(value, 3))]
        if self.group or self.sources[0].axis is not None:
            return [pa.field(n, value) for n in self.names(split)]
        return [pa.field(self.name, self.sources[0].arrow_type)]


@dataclass(frozen=True)
class QueryPlan:
    tables: tuple[TableColumns, ...]
    order: tuple[tuple[int, tuple[CheckedJoin, ...]], ...]  # tables after the main, with joins
    filters: tuple[CheckedFilter, ...]
    outputs: tuple[Output, ...]
    split: bool
    offset: int
    limit: int
    sample: int | None
    resolution: Triple
    warnings: tuple[str, ...]
    column_names: dict[str, dict[str, str]]

    @property
    def raw_columns(self) -> list[tuple[int, FlatColumn]]:
        """The columns read from the database, in output order."""
        return [(o.index, s) for o in self.outputs for s in o.sources]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([f for o in self.outputs for f in o.fields(self.split)])


def make_plan(spec: QuerySpec, tables: Sequence[TableColumns], row_cap: int) -> QueryPlan:
    """Check ``spec`` against ``tables`` (the metadata of ``spec.tables``, in order)."""
    names = [t.name for t in tables]
    index = {n: i for i, n in enumerate(names)}
    filters = tuple(
        check_filter(f, _table_index(index, f.table, "filter"), tables[index[f.table]])
        for f in spec.filters
    )
    order = _join_order(spec, tables, index)
    offset, limit, warnings = _paging(spec, row_cap)
    sample = _sample(spec.random_sample)
    resolution, scales = _scales(spec.desired_resolution, tables)
    outputs, column_names, ignored = _outputs(spec, tables, index, scales)
    notices = [f"{t.name}: {t.info.notice_text}" for t in tables if t.info.notice_text]
    if ignored:
        warnings.append(f"not returned (history columns are not kept): {', '.join(ignored)}")
    return QueryPlan(
        tables=tuple(tables),
        order=order,
        filters=filters,
        outputs=outputs,
        split=bool(spec.split_positions),
        offset=offset,
        limit=limit,
        sample=sample,
        resolution=resolution,
        warnings=tuple(warnings + notices),
        column_names=column_names,
    )


def check_table_list(spec: QuerySpec) -> list[str]:
    if not isinstance(spec.tables, Sequence) or isinstance(spec.tables, str) or not spec.tables:
        raise InvalidInput("a query needs at least one table")
    if not all(isinstance(t, str) for t in spec.tables):
        raise InvalidInput("table names must be strings")
    if len(set(spec.tables)) != len(spec.tables):
        raise InvalidInput("a table appears more than once in the query")
    return list(spec.tables)


def _table_index(index: dict[str, int], table: object, what: str) -> int:
    if not isinstance(table, str) or table not in index:
        raise InvalidInput(f"{what} names table {table!r}, which is not a table of the query")
    return index[table]


def _join_order(
    spec: QuerySpec, tables: Sequence[TableColumns], index: dict[str, int]
) -> tuple[tuple[int, tuple[CheckedJoin, ...]], ...]:
    joins = []
    for j in spec.joins:
        left, right = (
            _table_index(index, j.left_table, "a join"),
            _table_index(index, j.right_table, "a join"),
        )
        if left == right:
            raise InvalidInput(f"a join joins table {j.left_table!r} to itself")
        lc, rc = tables[left].column(j.left_column), tables[right].column(j.right_column)
        if lc.kind != rc.kind:
            raise InvalidInput(
                f"cannot join {j.left_table}.{lc.name} ({lc.kind}) to "
                f"{j.right_table}.{rc.name} ({rc.kind})"
            )
        joins.append(CheckedJoin(left, lc, right, rc))
    placed, order, pending = {0}, [], list(joins)
    while pending:
        ready = next((j for j in pending if (j.left in placed) != (j.right in placed)), None)
        if ready is None:
            break
        new = ready.right if ready.left in placed else ready.left
        placed.add(new)
        conds = tuple(j for j in pending if {j.left, j.right} <= placed)
        pending = [j for j in pending if j not in conds]
        order.append((new, conds))
    if pending or len(placed) != len(tables):
        lost = [tables[i].name for i in range(len(tables)) if i not in placed]
        shown = ", ".join(lost) or tables[pending[0].left].name
        raise InvalidInput(f"table(s) {shown} are not joined to the main table {tables[0].name!r}")
    return tuple(order)


def _paging(spec: QuerySpec, row_cap: int) -> tuple[int, int, list[str]]:
    offset, limit = spec.offset, spec.limit
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be an integer in [0, {MAX_OFFSET}], got {offset!r}")
    if limit is None:
        return offset, row_cap, []
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInput(f"limit must be a non-negative integer, got {limit!r}")
    if limit > row_cap:
        return offset, row_cap, [f"Limited query to {row_cap} rows"]
    return offset, limit, []


def _sample(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"random_sample must be a positive integer, got {value!r}")
    return value


def _scales(desired: object, tables: Sequence[TableColumns]) -> tuple[Triple, list[Triple | None]]:
    """The output resolution and, per table, the factor from its voxels (None: unchanged)."""
    main = tables[0].resolution
    if desired is None:
        return main, [None if t.resolution == main else _ratio(t.resolution, main) for t in tables]
    if (
        isinstance(desired, str)
        or not isinstance(desired, Sequence)
        or len(desired) != 3
        or not all(
            not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) and v > 0
            for v in desired
        )
    ):
        raise InvalidInput(f"desired_resolution needs three positive numbers, got {desired!r}")
    target = (float(desired[0]), float(desired[1]), float(desired[2]))
    return target, [_ratio(t.resolution, target) for t in tables]


def _ratio(source: Triple, target: Triple) -> Triple:
    return (source[0] / target[0], source[1] / target[1], source[2] / target[2])


def _selected(
    spec: QuerySpec, table: TableColumns, scale: Triple | None, ignored: list[str]
) -> list[Output]:
    """The table's selected items in table order (points as one item). History columns that
    versions do not keep (``created``, ``valid``, ...) are skipped and named in ``ignored``."""
    if spec.select is None:
        wanted: set[str] | None = None
    else:
        if not isinstance(spec.select, dict):
            raise InvalidInput("select must map table names to lists of columns")
        raw = spec.select.get(table.name, ())
        if isinstance(raw, str) or not isinstance(raw, Sequence):
            raise InvalidInput(f"select of table {table.name!r} must be a list of column names")
        wanted = set()
        for name in raw:
            if name in CRUD_COLUMNS and table.find(name) is None:
                ignored.append(f"{table.name}.{name}")
                continue
            point = table.point(name)
            wanted.add(point.position if point is not None else table.column(name).name)
    items: list[Output] = []
    seen: set[str] = set()
    for c in table.columns:
        if c.point is not None and c.axis is not None:
            pos = c.point.position
            if pos not in seen and (wanted is None or pos in wanted):
                seen.add(pos)
                items.append(Output(0, pos, table.point_columns(c.point), scale, True))
            if wanted is not None and c.name in wanted:
                items.append(Output(0, c.name, (c,), scale, False))
        elif wanted is None or c.name in wanted:
            items.append(Output(0, c.name, (c,), None, False))
    return items


def _outputs(
    spec: QuerySpec,
    tables: Sequence[TableColumns],
    index: dict[str, int],
    scales: list[Triple | None],
) -> tuple[tuple[Output, ...], dict[str, dict[str, str]], list[str]]:
    if spec.select is not None and isinstance(spec.select, dict):
        for name in spec.select:
            _table_index(index, name, "select")
    suffixes = spec.suffixes or {}
    if not isinstance(suffixes, dict):
        raise InvalidInput("suffixes must map table names to strings")
    for name, value in suffixes.items():
        _table_index(index, name, "suffixes")
        if not isinstance(value, str) or len(value) > 64:
            raise InvalidInput(f"suffix of table {name!r} must be a short string")
    ignored: list[str] = []
    per_table = [_selected(spec, t, scales[i], ignored) for i, t in enumerate(tables)]
    holders: dict[str, list[int]] = {}
    for i, items in enumerate(per_table):
        for item in items:
            holders.setdefault(item.name, []).append(i)
    outputs: list[Output] = []
    column_names: dict[str, dict[str, str]] = {t.name: {} for t in tables}
    for i, items in enumerate(per_table):
        name = tables[i].name
        for item in items:
            shared = holders[item.name]
            suffix = ""
            if len(shared) > 1:
                suffix = suffixes.get(name, "" if shared[0] == i else f"_{name}")
            out = Output(i, item.name + suffix, item.sources, item.scale, item.group)
            outputs.append(out)
            column_names[name][item.name] = out.name
    final = [n for o in outputs for n in o.names(bool(spec.split_positions))]
    duplicates = sorted({n for n in final if final.count(n) > 1})
    if duplicates:
        raise InvalidInput(
            f"output column(s) {', '.join(duplicates)} would appear twice: give suffixes"
        )
    if not outputs:
        raise InvalidInput("the query selects no columns")
    return tuple(outputs), column_names, ignored
