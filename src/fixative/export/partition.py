"""Partition specs resolved against a version table's data: each becomes a SQL expression giving
a row's partition number (never NULL: rows without a value go to -1), a directory key (Hive
style, ``key=value``) and what a reader needs to find a row's partition again (kept in the
manifest).

- range: cut points at the column's quantiles (``percentile_disc`` on PostgreSQL, one indexed
  ``OFFSET`` read per cut on SQLite); partition k holds ``cuts[k-1] <= value < cuts[k]``.
- hash: ``value mod N`` (non-negative).
- morton: each axis of the point quantized to 2**B cells over the table's bounding box,
  ``q = (v - lo) * 2**B // (hi - lo + 1)``, the three cell indexes' bits interleaved (x lowest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fixative.export.source import VersionSource
from fixative.export.spec import PartitionSpec, TablePartitioning
from fixative.query.columns import TableColumns
from fixative.versions.model import quote


@dataclass(frozen=True)
class Bucketing:
    spec: PartitionSpec
    key: str
    sql: str
    detail: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "column": self.spec.column,
            "strategy": self.spec.strategy,
            **self.detail,
        }


def resolve(
    parts: TablePartitioning, columns: TableColumns, source: VersionSource
) -> list[Bucketing]:
    """The table's partition levels, outermost first (range or hash, then Morton)."""
    out = []
    if parts.key is not None:
        out.append(_key_bucketing(parts.key, columns, source))
    if parts.morton is not None:
        out.append(_morton_bucketing(parts.morton, columns, source))
    return out


def _key_bucketing(spec: PartitionSpec, columns: TableColumns, source: VersionSource) -> Bucketing:
    col = quote(spec.column)
    if spec.strategy == "hash":
        n = spec.n
        sql = f"COALESCE((({col} % {n}) + {n}) % {n}, -1)"
        return Bucketing(spec, f"{spec.column}_bucket", sql, {"modulus": n})
    cuts = quantile_cuts(source, columns.name, spec.column, spec.n)
    whens = " ".join(f"WHEN {col} < {c} THEN {k}" for k, c in enumerate(cuts))
    sql = f"(CASE WHEN {col} IS NULL THEN -1 {whens} ELSE {len(cuts)} END)"
    return Bucketing(spec, f"{spec.column}_range", sql, {"cuts": cuts})


def quantile_cuts(source: VersionSource, table: str, column: str, n: int) -> list[int]:
    """Up to n-1 distinct cut points splitting the column's non-null values into n even parts."""
    if n < 2:
        return []
    t, col = source.relation(table), quote(column)
    if source.dialect_name == "postgresql":
        fractions = ",".join(f"{k / n!r}" for k in range(1, n))
        (row,) = source.rows(
            f"SELECT percentile_disc(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY {col}) "
            f"FROM {t} WHERE {col} IS NOT NULL"
        )
        found = [int(v) for v in (row[0] or []) if v is not None]
    else:
        (count,) = source.rows(f"SELECT count({col}) FROM {t}")[0]
        found = []
        for k in range(1, n):
            offset = int(count) * k // n
            got = source.rows(
                f"SELECT {col} FROM {t} WHERE {col} IS NOT NULL ORDER BY {col} "
                f"LIMIT 1 OFFSET {offset}"
            )
            if got:
                found.append(int(got[0][0]))
    cuts = sorted(set(found))
    return cuts[1:] if cuts and cuts[0] == _minimum(source, t, col) else cuts


def _minimum(source: VersionSource, table: str, col: str) -> int | None:
    (low,) = source.rows(f"SELECT min({col}) FROM {table}")[0]
    return None if low is None else int(low)


def _morton_bucketing(
    spec: PartitionSpec, columns: TableColumns, source: VersionSource
) -> Bucketing:
    assert spec.strategy == "morton"
    point = next(p for p in columns.info.schema.points if spec.column in (p.name, p.position))
    axes = [quote(c) for c in point.xyz_columns]
    (bounds,) = source.rows(
        "SELECT "
        + ", ".join(f"min({a}), max({a})" for a in axes)
        + f" FROM {source.relation(columns.name)}"
    )
    box = [(int(bounds[2 * i] or 0), int(bounds[2 * i + 1] or 0)) for i in range(3)]
    bits = spec.n
    cells = [
        f"(((CAST({a} AS BIGINT) - {lo}) * {1 << bits}) / {hi - lo + 1})"
        for a, (lo, hi) in zip(axes, box, strict=True)
    ]
    terms = [
        f"((({cell} >> {i}) & 1) << {3 * i + j})"
        for i in range(bits)
        for j, cell in enumerate(cells)
    ]
    sql = f"COALESCE({' + '.join(terms)}, -1)"
    detail = {
        "bits_per_axis": bits,
        "box_vx": [list(b) for b in box],
        "axes": list(point.xyz_columns),
    }
    return Bucketing(spec, f"{point.name}_morton", sql, detail)


def morton_code(xyz_vx: tuple[int, int, int], box_vx: list[list[int]], bits: int) -> int:
    """The Morton cell of a point, as the SQL expression computes it (for readers and tests)."""
    code = 0
    for j, (v, (lo, hi)) in enumerate(zip(xyz_vx, box_vx, strict=True)):
        cell = ((v - lo) * (1 << bits)) // (hi - lo + 1)
        for i in range(bits):
            code |= ((cell >> i) & 1) << (3 * i + j)
    return code
