"""The one statement that reads a table for an export: its columns, each partition level's
number as ``__b0``, ``__b1``, ..., the partitions already written left out, ordered by partition,
then by the sort column (the range or hash column, so each file's row groups hold narrow
min/max ranges), then ``id``. The order is total, so a rerun writes the same files.

An unpartitioned table is read as consecutive id ranges (``id_parts``), one statement each,
which several connections read at once; in order, they give the same rows as one statement."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from fixative.export.partition import Bucketing
from fixative.versions.model import quote

Key = tuple[int, ...]


def bucket_name(level: int) -> str:
    return f"__b{level}"


def table_statement(
    relation: str,
    columns: Sequence[str],
    buckets: Sequence[Bucketing],
    sort: str | None,
    done: Sequence[Key],
    ids: tuple[int, int] | None = None,
    order_by: Sequence[str] | None = None,
) -> str:
    """``relation``: the ``FROM`` text of the table (``VersionSource.relation``); ``ids``:
    only ``lo <= id < hi``; ``order_by``: in place of ``sort`` then ``id``, these columns,
    NULLs last (a view, which has no ``id``)."""
    picked = [quote(c) for c in columns]
    picked += [f"{b.sql} AS {bucket_name(i)}" for i, b in enumerate(buckets)]
    sql = f"SELECT {', '.join(picked)} FROM {relation}"
    where = [_not_done(buckets, done)] if done and buckets else []
    if ids is not None:
        where.append(f"{quote('id')} >= {int(ids[0])} AND {quote('id')} < {int(ids[1])}")
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = [bucket_name(i) for i in range(len(buckets))]
    if order_by is not None:
        return (
            sql + " ORDER BY " + ", ".join([*order, *(f"{quote(c)} NULLS LAST" for c in order_by)])
        )
    if sort is not None and sort != "id":
        order.append(quote(sort))
    order.append(quote("id"))
    return sql + " ORDER BY " + ", ".join(order)


def id_parts(low: int | None, high: int | None, rows: int, part_rows: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` id ranges covering ``low..high`` in about ``rows / part_rows`` even parts
    (none for an empty table: it is then read whole)."""
    if low is None or high is None or rows <= part_rows:
        return []
    parts = -(-rows // part_rows)
    step = -(-(high - low + 1) // parts)
    cuts = [*range(low, high + 1, step), high + 1]
    return list(pairwise(cuts))


def _not_done(buckets: Sequence[Bucketing], done: Sequence[Key]) -> str:
    if len(buckets) == 1:
        return f"{buckets[0].sql} NOT IN ({', '.join(str(int(k[0])) for k in done)})"
    exprs = ", ".join(b.sql for b in buckets)
    values = ", ".join("(" + ", ".join(str(int(v)) for v in k) + ")" for k in done)
    return f"NOT (({exprs}) IN (VALUES {values}))"
