"""Checked filters and plans to SQLAlchemy Core. Identifiers come only from metadata (through
``TableColumns``); every value is a bound parameter.

A ``Relation`` is where a table's columns are read from: a version table (``VersionRelation``),
a history version's table (``HistoryRelation``: the live table and its root-id history at T)
or, for live queries, the live annotation table joined with its segmentation table. Spatial
filters use each backend's index: PostGIS ``&&&`` against ``ST_3DMakeBox`` on the generated
geometry column, or the SQLite R*Tree (``rtree_i32``, so box bounds are clamped to int32, the
range of the stored coordinates).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from fixative.query.columns import FlatColumn, TableColumns
from fixative.query.filters import CheckedFilter
from fixative.query.plan import QueryPlan
from fixative.schemas.types import PointField
from fixative.store.sqlite import rtree_name
from fixative.store.tables import history_table_name
from fixative.store.types import UtcDateTime, sqlite_time

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SAMPLE_BITS = 20  # SQLite samples with (random() & (2**20 - 1)) < p * 2**20
SQL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "int": sa.BigInteger(),
    "float": sa.Float(precision=53),
    "str": sa.Text(),
    "bool": sa.Boolean(),
}
Box = tuple[tuple[int, ...], tuple[int, ...]]


class Relation(Protocol):
    def col(self, name: str) -> sa.ColumnElement[Any]: ...

    def box(self, point: PointField, lo: Sequence[int], hi: Sequence[int]) -> Any: ...


def clamp_box(lo: Sequence[int], hi: Sequence[int]) -> Box | None:
    """The box within int32 coordinates (what the tables store), or None when empty there."""
    a = tuple(max(v, INT32_MIN) for v in lo)
    b = tuple(min(v, INT32_MAX) for v in hi)
    if any(x > y for x, y in zip(a, b, strict=True)):
        return None
    return a, b


def postgis_box(geometry: sa.ColumnElement[Any], lo: Sequence[int], hi: Sequence[int]) -> Any:
    """The corners are bound as integers (clamped to int32 already), which PostgreSQL widens to
    ``ST_MakePoint``'s doubles, so a box query has only integer parameters and streams by COPY
    (``pgstream``)."""
    box = sa.func.ST_3DMakeBox(
        sa.func.ST_MakePoint(*(sa.bindparam(None, int(v), sa.BigInteger()) for v in lo)),
        sa.func.ST_MakePoint(*(sa.bindparam(None, int(v), sa.BigInteger()) for v in hi)),
    )
    return geometry.op("&&&")(box)


def rtree_box(
    rtree_table: str, ids: sa.ColumnElement[Any], lo: Sequence[int], hi: Sequence[int]
) -> Any:
    rtree = sa.table(
        rtree_table,
        *(sa.column(c, sa.BigInteger()) for c in ("id", "x0", "x1", "y0", "y1", "z0", "z1")),
    )
    inside = sa.select(rtree.c.id).where(
        rtree.c.x0 >= lo[0],
        rtree.c.x1 <= hi[0],
        rtree.c.y0 >= lo[1],
        rtree.c.y1 <= hi[1],
        rtree.c.z0 >= lo[2],
        rtree.c.z1 <= hi[2],
    )
    return ids.in_(inside)


class VersionRelation:
    """A version table under an alias (``t0``, ``t1``, ...)."""

    def __init__(self, table: TableColumns, alias: str, dialect: str) -> None:
        self.table = table
        self.dialect = dialect
        cols = [sa.column(c.name, SQL_TYPES[c.kind]) for c in table.columns]
        if dialect == "postgresql":
            cols += [sa.column(p.position) for p in table.info.schema.points]
        self.clause = sa.table(table.name, *cols).alias(alias)

    def col(self, name: str) -> sa.ColumnElement[Any]:
        return self.clause.c[name]

    def box(self, point: PointField, lo: Sequence[int], hi: Sequence[int]) -> Any:
        if self.dialect == "postgresql":
            return postgis_box(self.clause.c[point.position], lo, hi)
        return rtree_box(rtree_name(self.table.name, point.name), self.clause.c.id, lo, hi)


class HistoryRelation:
    """A table as it stood at T, read from the live database (a ``history`` version): the rows
    of its root-id history whose interval holds T and whose annotation is visible at T. Each
    history row carries the annotation's columns, so this is one table, read through its own
    root index as a flat copy is; a box goes through the annotation table's spatial index (a
    point never moves) and keeps the history rows of the ids it finds. A table with no
    segmentation reads its annotation table."""

    def __init__(self, table: TableColumns, alias: str, dialect: str, at: datetime) -> None:
        self.table = table
        self.dialect = dialect
        info = table.info
        when = instant_literal(at, dialect)
        cols = [sa.column(c.name, SQL_TYPES[c.kind]) for c in table.columns]
        cols += [sa.column("created", UtcDateTime()), sa.column("deleted", UtcDateTime())]
        linked = any(c.root or c.supervoxel for c in table.columns)
        self.historical = linked and info.segmentation_table is not None
        source: Any
        where: list[Any] = []
        if self.historical:
            assert info.segmentation_table is not None
            cols += [sa.column("valid_from", UtcDateTime()), sa.column("valid_to", UtcDateTime())]
            name = history_table_name(info.segmentation_table)
            source = sa.table(name, *cols).alias(f"{alias}_h")
            where += [
                source.c.valid_from <= when,
                sa.or_(source.c.valid_to.is_(None), source.c.valid_to > when),
            ]
        else:
            if dialect == "postgresql":
                cols += [sa.column(p.position) for p in info.schema.points]
            source = sa.table(table.name, *cols).alias(f"{alias}_a")
        where += [
            source.c.created <= when,
            sa.or_(source.c.deleted.is_(None), source.c.deleted > when),
        ]
        picked: list[Any] = [source.c[c.name] for c in table.columns]
        if dialect == "postgresql" and not self.historical:
            picked += [source.c[p.position] for p in info.schema.points]
        self.clause = sa.select(*picked).select_from(source).where(*where).subquery(alias)

    def col(self, name: str) -> sa.ColumnElement[Any]:
        return self.clause.c[name]

    def box(self, point: PointField, lo: Sequence[int], hi: Sequence[int]) -> Any:
        if self.dialect != "postgresql":
            return rtree_box(rtree_name(self.table.name, point.name), self.clause.c.id, lo, hi)
        if not self.historical:
            return postgis_box(self.clause.c[point.position], lo, hi)
        ann = sa.table(self.table.name, sa.column("id", sa.BigInteger()), sa.column(point.position))
        inside = sa.select(ann.c.id).where(postgis_box(ann.c[point.position], lo, hi))
        return self.clause.c.id.in_(inside)


def instant_literal(at: datetime, dialect: str) -> sa.ColumnElement[Any]:
    """An instant as a SQL literal, in the form the live tables store it (rendered from a
    datetime, never from request text): the version statements are compiled to a string with
    their parameters, and a datetime parameter would skip the column type's conversion."""
    if at.tzinfo is None:
        raise ValueError("an aware instant is needed")
    if dialect == "postgresql":
        text = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
        return sa.literal_column(f"'{text}'::timestamptz", UtcDateTime())
    return sa.literal_column(f"'{sqlite_time(at)}'", UtcDateTime())


def relation(
    table: TableColumns, alias: str, dialect: str, history_at: datetime | None
) -> VersionRelation | HistoryRelation:
    """Where a version's table is read: its flat copy, or (``history_at``, a history version's
    instant) the live table and its root-id history."""
    if history_at is None:
        return VersionRelation(table, alias, dialect)
    return HistoryRelation(table, alias, dialect, history_at)


def int_set(column: sa.ColumnElement[Any], values: Sequence[int], dialect: str) -> Any:
    """``column IN values`` for ids: ``= ANY('{...}'::bigint[])`` on PostgreSQL, which probes
    the column's index. The array is a literal built from Python ints (nothing else can reach
    it): a text parameter cast to bigint[] is not a plan-time constant, and where it landed in a
    filter PostgreSQL parsed the whole array again for every row (9 s for 100 roots at 1M)."""
    if dialect == "postgresql":
        literal = "{" + ",".join(str(int(v)) for v in values) + "}"
        return column == sa.any_(
            sa.literal_column(f"'{literal}'::bigint[]", ARRAY(sa.BigInteger()))
        )
    return value_set(column, [int(v) for v in values], "int", dialect)


def value_set(column: sa.ColumnElement[Any], values: Sequence[Any], kind: str, dialect: str) -> Any:
    """``column IN values`` with the values as one JSON-array parameter, whatever their number
    (``json_each`` on SQLite, ``jsonb_array_elements_text`` cast to the column type on
    PostgreSQL)."""
    param = sa.bindparam(None, json.dumps(list(values)), sa.Text())
    if dialect == "postgresql":
        if kind == "int":
            return int_set(column, values, dialect)
        each = sa.func.jsonb_array_elements_text(sa.cast(param, JSONB()))
        return column.in_(sa.select(sa.cast(each, SQL_TYPES[kind])))
    return column.in_(sa.select(sa.column("value")).select_from(sa.func.json_each(param)))


def filter_clause(rel: Relation, f: CheckedFilter, dialect: str) -> Any:
    """The SQL condition of one checked filter (None: no condition)."""
    if f.op == "spatial":
        assert f.point is not None
        clamped = clamp_box(*f.value)
        return sa.false() if clamped is None else rel.box(f.point, *clamped)
    assert f.column is not None
    column = rel.col(f.column.name)
    if f.op in ("in", "not_in"):
        values = list(f.value)
        if not values:
            return sa.false() if f.op == "in" else None
        inside = value_set(column, values, f.column.kind, dialect)
        return inside if f.op == "in" else sa.and_(column.is_not(None), sa.not_(inside))
    if f.op == "regex":
        return column.regexp_match(f.value)
    value = sa.bindparam(None, f.value, SQL_TYPES[f.column.kind])
    ops = {
        "equal": column.__eq__,
        "greater": column.__gt__,
        "less": column.__lt__,
        "greater_equal": column.__ge__,
        "less_equal": column.__le__,
    }
    return ops[f.op](value)


def sample_clause(fraction: float, dialect: str) -> Any:
    """Keep each row with probability ``fraction``."""
    if dialect == "postgresql":
        return sa.func.random() < sa.bindparam(None, fraction, sa.Float(precision=53))
    threshold = round(fraction * 2**SAMPLE_BITS)
    return sa.func.random().op("&")(2**SAMPLE_BITS - 1) < sa.bindparam(
        None, threshold, sa.BigInteger()
    )


class VersionQuery:
    """The plan over a version's tables: FROM with joins, WHERE, ORDER BY, paging."""

    def __init__(self, plan: QueryPlan, dialect: str, history_at: datetime | None = None) -> None:
        self.plan = plan
        self.dialect = dialect
        self.rels = [relation(t, f"t{i}", dialect, history_at) for i, t in enumerate(plan.tables)]

    def _from(self) -> Any:
        joined: Any = self.rels[0].clause
        for new, conds in self.plan.order:
            on = [
                self._col(j.left, j.left_column) == self._col(j.right, j.right_column)
                for j in conds
            ]
            joined = joined.join(self.rels[new].clause, sa.and_(*on))
        return joined

    def _col(self, index: int, column: FlatColumn) -> sa.ColumnElement[Any]:
        return self.rels[index].col(column.name)

    def _where(self) -> list[Any]:
        found = [filter_clause(self.rels[f.index], f, self.dialect) for f in self.plan.filters]
        return [c for c in found if c is not None]

    def count(self) -> sa.Select[Any]:
        return sa.select(sa.func.count()).select_from(self._from()).where(*self._where())

    def rows(self, fraction: float | None = None) -> sa.Select[Any]:
        cols = [self._col(i, c).label(f"c{k}") for k, (i, c) in enumerate(self.plan.raw_columns)]
        where = self._where()
        if fraction is not None:
            where.append(sample_clause(fraction, self.dialect))
        order = [r.col("id") for r in self.rels]
        query = sa.select(*cols).select_from(self._from()).where(*where).order_by(*order)
        if self.plan.offset:
            query = query.offset(self.plan.offset)
        return query.limit(self.plan.limit)
