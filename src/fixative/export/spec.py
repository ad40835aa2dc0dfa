"""What an export asks for: a version's tables, a target URL, a file format and how each table is
partitioned. Partition specs are plain strings, checked against the tables' columns before any
byte is read or written:

- ``COLUMN`` or ``COLUMN:range[:N]``: N ranges (default 16) of an integer column (a root id
  column, usually) cut at the column's quantiles; files sorted by the column.
- ``COLUMN:hash[:N]``: bucket ``COLUMN mod N``, so a reader who knows the ids knows the buckets.
- ``POINT:morton[:B]``: a Morton (z-order) code of a point's position, B bits per axis (default 2,
  so 64 cells) over the table's bounding box.
- ``TABLE.SPEC``: the spec for that table only; an unqualified spec applies to every chosen table
  that has the column (and at least one must).

A table takes at most one range/hash spec and at most one Morton spec.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from fixative.errors import InvalidInput
from fixative.query.columns import TableColumns
from fixative.schemas.types import PointField

Strategy = Literal["range", "hash", "morton"]
Format = Literal["parquet", "delta"]
FORMATS: tuple[Format, ...] = ("parquet", "delta")
DEFAULT_PARTS = 16
DEFAULT_MORTON_BITS = 2
DEFAULT_ROW_GROUP_ROWS = 131_072  # a few MB compressed: one range read per row group
DEFAULT_FILE_ROWS = 4_194_304


@dataclass(frozen=True)
class PartitionSpec:
    """One parsed ``--partition-by`` value. ``n``: ranges or buckets, or Morton bits per axis."""

    column: str
    strategy: Strategy
    n: int
    table: str | None = None

    @property
    def text(self) -> str:
        head = f"{self.table}." if self.table else ""
        return f"{head}{self.column}:{self.strategy}:{self.n}"


@dataclass(frozen=True)
class ExportRequest:
    """An export of ``version`` of ``datastack`` to ``to`` (a directory, ``s3://`` or ``gs://``
    URL), or (``version`` None) of the live tables at the instant ``at``
    (``fixative.export.live``). ``tables``: None for every table of the version (of the live
    database). ``view``: instead of tables, the rows of this view (``fixative.export.view``)."""

    datastack: str
    version: int | None
    to: str
    tables: tuple[str, ...] | None = None
    format: Format = "parquet"
    partition_by: tuple[PartitionSpec, ...] = ()
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS
    file_rows: int = DEFAULT_FILE_ROWS
    at: datetime | None = None
    view: str | None = None

    def params(self) -> dict[str, object]:
        """JSON parameters (a run's record; the task rebuilds the request from them)."""
        head: dict[str, object] = (
            {"version": self.version} if self.at is None else {"at": self.at.isoformat()}
        )
        if self.view is not None:
            head["view"] = self.view
        return {
            **head,
            "to": self.to,
            "tables": list(self.tables) if self.tables is not None else None,
            "format": self.format,
            "partition_by": [p.text for p in self.partition_by],
            "row_group_rows": self.row_group_rows,
            "file_rows": self.file_rows,
        }


SPEC_RE = re.compile(
    r"^(?:(?P<table>[a-z][a-z0-9_]*)\.)?(?P<column>[a-z][a-z0-9_]*)"
    r"(?::(?P<key>range|hash)(?::(?P<parts>[1-9][0-9]{0,3}))?"
    r"|:(?P<morton>morton)(?::(?P<bits>[1-6]))?)?$"
)


SPEC_PATTERN = re.sub(r"\?P<[a-z]+>", "", SPEC_RE.pattern)  # the same, for the OpenAPI document


def parse_partition(text: str) -> PartitionSpec:
    """``[TABLE.]COLUMN[:range|hash[:N]]`` or ``[TABLE.]POINT[:morton[:B]]`` (N from 1 to
    9999, B from 1 to 6; InvalidInput otherwise). Without a strategy a ``*_position`` column
    takes Morton and any other column ranges."""
    found = SPEC_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise InvalidInput(
            f"partition spec {text!r} must be [TABLE.]COLUMN[:range|hash[:N]] "
            "or [TABLE.]POINT[:morton[:B]], N from 1 to 9999, B from 1 to 6"
        )
    column = found["column"]
    if found["morton"] or (found["key"] is None and column.endswith("_position")):
        bits = int(found["bits"] or DEFAULT_MORTON_BITS)
        return PartitionSpec(column, "morton", bits, found["table"])
    strategy: Strategy = "hash" if found["key"] == "hash" else "range"
    return PartitionSpec(column, strategy, int(found["parts"] or DEFAULT_PARTS), found["table"])


@dataclass(frozen=True)
class TablePartitioning:
    """A table's specs, checked: ``key`` (range or hash, on ``column``) then ``morton``."""

    key: PartitionSpec | None = None
    morton: PartitionSpec | None = None
    point: PointField | None = field(default=None, compare=False)

    @property
    def specs(self) -> tuple[PartitionSpec, ...]:
        return tuple(s for s in (self.key, self.morton) if s is not None)


def _point_of(columns: TableColumns, name: str) -> PointField | None:
    for p in columns.info.schema.points:
        if name in (p.name, p.position):
            return p
    return None


def _applies(spec: PartitionSpec, columns: TableColumns) -> bool:
    if spec.strategy == "morton":
        return _point_of(columns, spec.column) is not None
    found = columns.find(spec.column)
    return found is not None and found.kind == "int"


def partitioning(
    specs: Sequence[PartitionSpec], tables: Sequence[TableColumns]
) -> dict[str, TablePartitioning]:
    """Each table's partitioning; InvalidInput for a column no chosen table has, a spec naming a
    table not exported, or two specs of one kind on one table."""
    names = {t.name for t in tables}
    chosen: dict[str, TablePartitioning] = {t.name: TablePartitioning() for t in tables}
    for spec in specs:
        if spec.table is not None and spec.table not in names:
            raise InvalidInput(
                f"partition spec {spec.text!r}: the export has no table {spec.table!r}"
            )
        targets = [t for t in tables if spec.table in (None, t.name)]
        hits = [t for t in targets if _applies(spec, t)]
        if not hits or (spec.table is not None and len(hits) != len(targets)):
            what = "a point" if spec.strategy == "morton" else "an integer column"
            where = f"table {spec.table!r}" if spec.table else "each exported table"
            raise InvalidInput(
                f"partition spec {spec.text!r}: {where} has no column {spec.column!r} ({what})"
            )
        for t in hits:
            chosen[t.name] = _add(chosen[t.name], spec, t)
    return chosen


def _add(
    current: TablePartitioning, spec: PartitionSpec, columns: TableColumns
) -> TablePartitioning:
    if spec.strategy == "morton":
        if current.morton is not None:
            raise InvalidInput(
                f"table {columns.name!r} must list at most one Morton partition spec"
            )
        return TablePartitioning(current.key, spec, _point_of(columns, spec.column))
    if current.key is not None:
        raise InvalidInput(
            f"table {columns.name!r} must list at most one range or hash partition spec"
        )
    return TablePartitioning(spec, current.morton, current.point)


def check_format(value: object) -> Format:
    if value not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {value!r}")
    return value
