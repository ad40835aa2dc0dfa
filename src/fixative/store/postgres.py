"""PostgreSQL + PostGIS: generated ``geometry(POINTZ)`` columns with N-D GiST indexes, and
binary COPY."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from fixative.clock import Clock, utc_now
from fixative.errors import SettingsError
from fixative.schemas.types import SchemaType
from fixative.store import pgcopy
from fixative.store.base import Store
from fixative.store.geometry import create_gist_indexes, position_columns
from fixative.store.types import UtcDateTime

COPY_BATCH_ROWS = 200_000


def postgres_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if the server does not have it yet."""
    parsed = sa.make_url(url)
    name = parsed.database
    if not name:
        raise SettingsError("database_url names no database")
    admin = postgres_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


def copy_type(column: sa.Column[Any]) -> pgcopy.PgType:
    ctype = column.type
    if isinstance(ctype, UtcDateTime):
        return "timestamptz"
    if isinstance(ctype, sa.Boolean):
        return "bool"
    if isinstance(ctype, sa.Float):
        return "float8"
    if isinstance(ctype, sa.Text | sa.String):
        return "text"
    if isinstance(ctype, sa.BigInteger):
        return "int8"
    if isinstance(ctype, sa.Integer):
        return "int4"
    return "int8"  # the id variant type is BIGINT here


MIGRATION_LOCK_KEY = 0x46495841  # "FIXA": the advisory lock that serializes migrations


class PostgresStore(Store):
    dialect_name = "postgresql"

    @classmethod
    def open(cls, url: str, clock: Clock = utc_now) -> PostgresStore:
        return cls(postgres_engine(url), clock)

    def _serialize_migrations(self, conn: sa.Connection) -> None:
        """Every process migrates the database it opens (the API's, each worker's, the
        migration job's): a transaction-scoped advisory lock lets one upgrade at a time, and
        the others then find the schema at head."""
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})

    def _decorate_annotation_table(self, table: sa.Table, schema: SchemaType) -> None:
        for column in position_columns(schema):
            table.append_column(column)

    def _create_spatial_index(
        self, conn: sa.Connection, table: sa.Table, schema: SchemaType
    ) -> None:
        create_gist_indexes(conn, table.name, schema)

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None:
        """Binary COPY of numpy-encoded batches."""
        columns = [pgcopy.CopyColumn(n, copy_type(table.c[n])) for n in rows.column_names]
        pgcopy.copy_into(conn, f'"{table.name}"', rows, columns, COPY_BATCH_ROWS)

    def box_clause(
        self, table: sa.Table, point: str, lo: Sequence[int], hi: Sequence[int]
    ) -> sa.ColumnElement[bool]:
        box = sa.func.ST_3DMakeBox(
            sa.func.ST_MakePoint(*(float(v) for v in lo)),
            sa.func.ST_MakePoint(*(float(v) for v in hi)),
        )
        return sa.literal_column(f'"{table.name}"."{point}_position"').op("&&&")(box)
