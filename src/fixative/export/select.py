"""The one statement that reads a table for an export: its columns, each partition level's
number as ``__b0``, ``__b1``, ..., the partitions already written left out, ordered by partition,
then by the sort column (the range or hash column, so each file's row groups hold narrow
min/max ranges), then ``id``. The order is total, so a rerun writes the same files."""

from __future__ import annotations

from collections.abc import Sequence

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
) -> str:
    """``relation``: the ``FROM`` text of the table (``VersionSource.relation``)."""
    picked = [quote(c) for c in columns]
    picked += [f"{b.sql} AS {bucket_name(i)}" for i, b in enumerate(buckets)]
    sql = f"SELECT {', '.join(picked)} FROM {relation}"
    if done and buckets:
        sql += f" WHERE {_not_done(buckets, done)}"
    order = [bucket_name(i) for i in range(len(buckets))]
    if sort is not None and sort != "id":
        order.append(quote(sort))
    order.append(quote("id"))
    return sql + " ORDER BY " + ", ".join(order)


def _not_done(buckets: Sequence[Bucketing], done: Sequence[Key]) -> str:
    if len(buckets) == 1:
        return f"{buckets[0].sql} NOT IN ({', '.join(str(int(k[0])) for k in done)})"
    exprs = ", ".join(b.sql for b in buckets)
    values = ", ".join("(" + ", ".join(str(int(v)) for v in k) + ")" for k in done)
    return f"NOT (({exprs}) IN (VALUES {values}))"
