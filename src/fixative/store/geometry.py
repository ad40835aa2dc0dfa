"""PostGIS point geometry for the tables that hold annotation points (the live annotation
tables and their root-id histories): a generated ``geometry(POINTZ)`` column per point, from its
x, y, z columns, and an N-D GiST index on each."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fixative.schemas.types import SchemaType
from fixative.store.tables import index_name
from fixative.store.types import PointZ


def position_columns(schema: SchemaType) -> list[sa.Column[Any]]:
    """One generated ``{point}_position`` column per point of the schema."""
    columns: list[sa.Column[Any]] = []
    for p in schema.points:
        x, y, z = p.xyz_columns
        generated = sa.Computed(f'ST_MakePoint("{x}", "{y}", "{z}")', persisted=True)
        columns.append(sa.Column(p.position, PointZ(), generated))
    return columns


def create_gist_indexes(conn: sa.Connection, table: str, schema: SchemaType) -> None:
    """An N-D GiST index on each point's geometry column of ``table``."""
    for p in schema.points:
        name = index_name("idx", table, p.position)
        conn.exec_driver_sql(
            f'CREATE INDEX "{name}" ON "{table}" USING gist ("{p.position}" gist_geometry_ops_nd)'
        )
