"""The flat table of a version: annotation and segmentation columns merged, rows visible at T.

Column order: ``id``, ``target_id`` (reference schemas), then each field in schema order, a point
as its x/y/z voxel columns followed (when bound) by its supervoxel and root ids. Column types are
those of the live tables, so a binary COPY from one into the other needs no conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fixative.schemas.types import PointField, SchemaType
from fixative.store.base import Store
from fixative.store.model import TableInfo
from fixative.store.tables import index_name
from fixative.versions.model import quote


@dataclass(frozen=True)
class FlatColumn:
    name: str
    from_segmentation: bool
    type: sa.types.TypeEngine[Any]


@dataclass(frozen=True)
class FlatTable:
    """How one annotation table becomes one version table."""

    name: str
    schema: SchemaType
    segmentation_table: str | None
    columns: tuple[FlatColumn, ...]

    def visible_sql(self, mark: str) -> str:
        """The rows visible at T (``mark`` is the driver's placeholder, used twice)."""
        cols = ", ".join(
            f"{'s' if c.from_segmentation else 'a'}.{quote(c.name)}" for c in self.columns
        )
        source = f"{quote(self.name)} AS a"
        if self.segmentation_table is not None:
            source += f' JOIN {quote(self.segmentation_table)} AS s ON s."id" = a."id"'
        return f"SELECT {cols} FROM {source} WHERE {self._visible(mark)}"

    def count_sql(self, mark: str) -> str:
        return f"SELECT count(*) FROM {quote(self.name)} AS a WHERE {self._visible(mark)}"

    def missing_segmentation_sql(self, mark: str) -> str:
        """Rows visible at T without a segmentation row."""
        assert self.segmentation_table is not None
        return (
            f"SELECT count(*) FROM {quote(self.name)} AS a "
            f'LEFT JOIN {quote(self.segmentation_table)} AS s ON s."id" = a."id" '
            f'WHERE s."id" IS NULL AND {self._visible(mark)}'
        )

    @staticmethod
    def _visible(mark: str) -> str:
        return f'a."created" <= {mark} AND (a."deleted" IS NULL OR a."deleted" > {mark})'

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def version_table(
        self, md: sa.MetaData, schema: str | None = None, *, primary_key: bool = False
    ) -> sa.Table:
        """The version table without indexes, and without primary key unless asked (PostgreSQL
        adds it after the load)."""
        columns = [
            sa.Column(c.name, c.type, primary_key=primary_key and c.name == "id")
            for c in self.columns
        ]
        return sa.Table(self.name, md, *columns, schema=schema)

    def btree_indexes(self) -> list[tuple[str, str]]:
        """(index name, column) for root ids and ``target_id``."""
        cols = [p.root_column for p in self.schema.bound_points]
        if self.schema.reference:
            cols.insert(0, "target_id")
        return [(index_name("ix", self.name, c), c) for c in cols if c in self.column_names()]


def plan_table(store: Store, conn: sa.Connection, info: TableInfo) -> FlatTable:
    """The flat table of ``info`` (segmentation columns only when it has a segmentation table)."""
    live = store._table_object(conn, info.table_name)
    seg = (
        store._table_object(conn, info.segmentation_table)
        if info.segmentation_table is not None
        else None
    )
    columns = [FlatColumn("id", False, live.c.id.type)]
    if info.schema.reference:
        columns.append(FlatColumn("target_id", False, live.c.target_id.type))
    for f in info.schema.fields:
        if not isinstance(f, PointField):
            columns.append(FlatColumn(f.name, False, live.c[f.name].type))
            continue
        columns.extend(FlatColumn(c, False, live.c[c].type) for c in f.xyz_columns)
        if f.bound and seg is not None:
            columns.append(FlatColumn(f.supervoxel_column, True, seg.c[f.supervoxel_column].type))
            columns.append(FlatColumn(f.root_column, True, seg.c[f.root_column].type))
    return FlatTable(info.table_name, info.schema, info.segmentation_table, tuple(columns))
