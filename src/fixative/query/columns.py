"""The columns of a version table, derived from metadata alone (never from the request).

A version table is flat (see ``fixative.versions.flat``): ``id``, ``target_id`` for reference
schemas, then each field in schema order, a point as its ``_x/_y/_z`` voxel columns followed,
when bound and the table has a segmentation table, by its supervoxel and root ids. Every name a
query uses is looked up here, so SQL identifiers only ever come from this list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from fixative.errors import InvalidInput
from fixative.schemas.types import PointField
from fixative.store.model import TableInfo

Kind = Literal["int", "float", "str", "bool"]
ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True)
class FlatColumn:
    """One column of a version table. ``point``/``axis`` are set for position columns;
    ``root`` marks root-id columns (their values depend on the instant)."""

    name: str
    kind: Kind
    point: PointField | None = None
    axis: int | None = None
    root: bool = False
    supervoxel: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


@dataclass(frozen=True)
class TableColumns:
    """A table's metadata and its flat columns, in version-table order."""

    info: TableInfo
    columns: tuple[FlatColumn, ...]
    _by_name: dict[str, FlatColumn] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def name(self) -> str:
        return self.info.table_name

    @property
    def resolution(self) -> tuple[float, float, float]:
        x, y, z = self.info.voxel_resolution_nm
        return (float(x), float(y), float(z))

    def find(self, name: object) -> FlatColumn | None:
        return self._by_name.get(name) if isinstance(name, str) else None

    def column(self, name: object) -> FlatColumn:
        found = self.find(name)
        if found is None:
            raise InvalidInput(f"table {self.name!r} has no column {_shown(name)}")
        return found

    def point(self, position: object) -> PointField | None:
        """The point whose position name (``pre_pt_position``) is ``position``."""
        for p in self.info.schema.points:
            if p.position == position:
                return p
        return None

    def point_columns(self, point: PointField) -> tuple[FlatColumn, FlatColumn, FlatColumn]:
        x, y, z = (self._by_name[c] for c in point.xyz_columns)
        return (x, y, z)

    @property
    def root_columns(self) -> tuple[FlatColumn, ...]:
        return tuple(c for c in self.columns if c.root)

    def supervoxel_of(self, root: FlatColumn) -> FlatColumn:
        assert root.point is not None
        return self._by_name[root.point.supervoxel_column]


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "..."


def flat_columns(info: TableInfo) -> TableColumns:
    """The version-table columns of ``info`` (segmentation columns only when it has a
    segmentation table), as ``fixative.versions.flat.plan_table`` lays them out."""
    columns = [FlatColumn("id", "int")]
    if info.schema.reference:
        columns.append(FlatColumn("target_id", "int"))
    bound = info.segmentation_table is not None
    for f in info.schema.fields:
        if not isinstance(f, PointField):
            columns.append(FlatColumn(f.name, f.kind))
            continue
        columns.extend(FlatColumn(c, "int", point=f, axis=i) for i, c in enumerate(f.xyz_columns))
        if f.bound and bound:
            columns.append(FlatColumn(f.supervoxel_column, "int", point=f, supervoxel=True))
            columns.append(FlatColumn(f.root_column, "int", point=f, root=True))
    return TableColumns(info, tuple(columns))
