"""What a query asks for, independent of the wire: tables and joins, filters, columns, paging,
resolution. The API parses caveclient's bodies into a ``QuerySpec``; the engine checks every name
against metadata and runs it on a version (or live at an instant).

Names are as caveclient writes them: a point is named by its position column (``pre_pt_position``)
and comes back as three adjacent ``_x/_y/_z`` columns; root and supervoxel ids are plain columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FilterOp = Literal[
    "in",  # value: list of scalars
    "not_in",  # value: list of scalars
    "equal",  # value: scalar
    "greater",
    "less",
    "greater_equal",
    "less_equal",
    "spatial",  # value: ((x0, y0, z0), (x1, y1, z1)) in the table's voxels; column: a position
    "regex",  # value: str (string columns only)
]
FILTER_OPS: tuple[str, ...] = (
    "in",
    "not_in",
    "equal",
    "greater",
    "less",
    "greater_equal",
    "less_equal",
    "spatial",
    "regex",
)


@dataclass(frozen=True)
class Filter:
    """``table.column <op> value``. ``table`` is a table of the query. A NULL value never
    matches; ``in []`` matches nothing and ``not_in []`` everything (see ``filters.py``)."""

    table: str
    column: str
    op: FilterOp
    value: Any


@dataclass(frozen=True)
class Join:
    """An inner join ``left_table.left_column = right_table.right_column``."""

    left_table: str
    left_column: str
    right_table: str
    right_column: str


@dataclass(frozen=True)
class QuerySpec:
    """One query. ``tables[0]`` is the main table; every other table is reached by ``joins``.

    ``select``: per table, the columns to return (None: every column of every table; a table
    absent from a non-None mapping returns none of its columns). A name selected from more than
    one table gets a suffix: ``suffixes[table]`` when given, else ``""`` for the first such table
    and ``_{table}`` for the others; a point's suffix goes before its axis
    (``pt_position_ref_x``) so the three columns stay a group.
    ``limit`` None means the server's cap. Rows come in a deterministic order: by the main
    table's ``id``, then each joined table's ``id``; ``offset``/``limit`` apply to that order.
    ``random_sample``: about that many rows, chosen uniformly, still in id order.
    ``desired_resolution``: nm per unit of the returned positions (None: the table's voxels).
    ``split_positions``: points as ``_x/_y/_z`` columns (True) or one list column.
    """

    tables: tuple[str, ...]
    joins: tuple[Join, ...] = ()
    filters: tuple[Filter, ...] = ()
    select: dict[str, tuple[str, ...]] | None = None
    suffixes: dict[str, str] = field(default_factory=dict)
    offset: int = 0
    limit: int | None = None
    random_sample: int | None = None
    desired_resolution: tuple[float, float, float] | None = None
    split_positions: bool = True

    @property
    def main(self) -> str:
        return self.tables[0]
