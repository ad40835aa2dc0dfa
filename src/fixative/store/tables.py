"""One schema for both backends: the metadata tables, and the annotation and segmentation tables
built from a schema type. Backend differences (spatial index, generated geometry) live in the
dialect modules.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import SchemaItem

from fixative.schemas.types import PointField, SchemaType
from fixative.store.types import IdType, UtcDateTime

PG_IDENTIFIER_MAX = 63

metadata = sa.MetaData()

annotation_table_metadata = sa.Table(
    "annotation_table_metadata",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(64), nullable=False, unique=True),
    sa.Column("schema_type", sa.String(64), nullable=False),
    sa.Column("aligned_volume", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("notice_text", sa.Text),
    sa.Column("reference_table", sa.String(64)),
    sa.Column("flat_segmentation_source", sa.Text),
    sa.Column("voxel_resolution_x", sa.Float, nullable=False),
    sa.Column("voxel_resolution_y", sa.Float, nullable=False),
    sa.Column("voxel_resolution_z", sa.Float, nullable=False),
    sa.Column("read_permission", sa.String(16), nullable=False),
    sa.Column("write_permission", sa.String(16), nullable=False),
    sa.Column("valid", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("deleted", UtcDateTime),
    sa.Column("last_modified", UtcDateTime, nullable=False),
)

segmentation_table_metadata = sa.Table(
    "segmentation_table_metadata",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(160), nullable=False, unique=True),
    sa.Column("annotation_table", sa.String(64), nullable=False, index=True),
    sa.Column("pcg_table_name", sa.String(96), nullable=False),
    sa.Column("segmentation_source", sa.Text, nullable=False, server_default=""),
    sa.Column("valid", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("last_updated", UtcDateTime),
    # every annotation created at or before this instant has its segmentation row (ingest)
    sa.Column("linked_through", UtcDateTime),
)


# the instants a table was brought wholly to (``fixative.store.root_history``; migration 0014)
recorded_instants = sa.Table(
    "recorded_instants",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(64), nullable=False),
    sa.Column("instant", UtcDateTime, nullable=False),
    sa.UniqueConstraint("table_name", "instant", name="uq_recorded_instants"),
)


def all_metadata() -> sa.MetaData:
    """The shared metadata with every module's tables registered (chunkedgraph, versions,
    workflow runs, tokens, idempotency keys, view definitions)."""
    import fixative.auth.tables
    import fixative.chunkedgraph.tables
    import fixative.idempotency.tables
    import fixative.runner.tables
    import fixative.versions.tables
    import fixative.views.tables  # noqa: F401

    return metadata


def index_name(prefix: str, table: str, column: str) -> str:
    """``{prefix}_{table}_{column}``, shortened with a hash where PostgreSQL would truncate it."""
    name = f"{prefix}_{table}_{column}"
    if len(name) <= PG_IDENTIFIER_MAX:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: PG_IDENTIFIER_MAX - 11]}_{digest}"


_SCALAR_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "int": sa.BigInteger(),
    "float": sa.Float(precision=53),
    "str": sa.Text(),
    "bool": sa.Boolean(),
}


def annotation_table(
    md: sa.MetaData, name: str, schema: SchemaType, reference_table: str | None = None
) -> sa.Table:
    """The live annotation table: CRUD columns, then the flattened schema fields."""
    columns: list[SchemaItem] = [
        sa.Column("id", IdType, primary_key=True, autoincrement=False),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("deleted", UtcDateTime),
        sa.Column("superceded_id", sa.BigInteger),
        sa.Column("valid", sa.Boolean, nullable=False),
    ]
    if schema.reference:
        if reference_table is None:
            raise ValueError("a reference schema needs a reference table")
        columns.append(
            sa.Column(
                "target_id",
                sa.BigInteger,
                sa.ForeignKey(f"{reference_table}.id"),
                nullable=False,
            )
        )
        columns.append(sa.Index(index_name("ix", name, "target_id"), "target_id"))
    columns.extend(field_columns(schema))
    columns.append(sa.Index(index_name("ix", name, "created"), "created"))
    columns.append(sa.Index(index_name("ix", name, "deleted"), "deleted"))
    return sa.Table(name, md, *columns)


def history_table_name(segmentation_table_name: str) -> str:
    """The root-id history of a segmentation table (shortened like ``index_name``)."""
    name = f"{segmentation_table_name}__history"
    if len(name) <= PG_IDENTIFIER_MAX:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: PG_IDENTIFIER_MAX - 11]}_{digest}"


HISTORY_FILLFACTOR = 90

# Room left on each page of the primary keys of a segmentation table and its history. Every root
# update inserts beside keys already there, at random places: a new interval ``(id, T)`` after
# each rewritten row's last one, and a new version of each rewritten segmentation row (kept until
# VACUUM). Ingest fills these keys in id order, so at PostgreSQL's 90 nearly every page those
# insertions reach splits, for months of versions (at 10M rows: 108 bytes of history key per
# new interval, against 42 at 70, the rate at which randomly inserted keys settle).
KEY_FILLFACTOR = 70


def primary_key_index(conn: sa.Connection, table: str) -> str:
    """The (quoted as needed) name of a PostgreSQL table's primary-key index."""
    return str(
        conn.execute(
            sa.text(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = to_regclass(:t) AND indisprimary"
            ),
            {"t": '"' + table.replace('"', '""') + '"'},
        ).scalar_one()
    )


def leave_key_room(conn: sa.Connection, table: str) -> None:
    """Set ``KEY_FILLFACTOR`` on ``table``'s primary key (PostgreSQL; pages filled from now on,
    and all of them at the next ``REINDEX``). SQLite has no such setting."""
    if conn.dialect.name == "postgresql":
        key = primary_key_index(conn, table)
        conn.exec_driver_sql(f"ALTER INDEX {key} SET (fillfactor = {KEY_FILLFACTOR})")


def field_columns(schema: SchemaType) -> list[SchemaItem]:
    """The flattened schema fields of an annotation table (a point as its x, y, z columns)."""
    columns: list[SchemaItem] = []
    for f in schema.fields:
        if isinstance(f, PointField):
            columns.extend(sa.Column(c, sa.Integer, nullable=not f.required) for c in f.xyz_columns)
        else:
            columns.append(sa.Column(f.name, _SCALAR_TYPES[f.kind], nullable=not f.required))
    return columns


def history_table(md: sa.MetaData, name: str, schema: SchemaType) -> sa.Table:
    """A segmentation table's rows over time, each a whole version row: ``id``, the annotation's
    ``created``/``deleted`` and fields (immutable but for ``deleted``), per bound point its
    supervoxel and root ids, and the interval ``[valid_from, valid_to)`` the ids hold
    (``valid_to`` NULL: still). A version reads this one table, as it would a flat copy."""
    columns: list[SchemaItem] = [
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("created", UtcDateTime, nullable=False),
        sa.Column("deleted", UtcDateTime),
    ]
    if schema.reference:
        columns.append(sa.Column("target_id", sa.BigInteger, nullable=False))
    columns.extend(field_columns(schema))
    for p in schema.bound_points:
        columns.append(sa.Column(p.supervoxel_column, sa.BigInteger))
        columns.append(sa.Column(p.root_column, sa.BigInteger))
        columns.append(sa.Index(index_name("ix", name, p.root_column), p.root_column))
    columns.append(sa.Column("valid_from", UtcDateTime, primary_key=True))
    columns.append(sa.Column("valid_to", UtcDateTime))
    # room on each page, so closing an interval (setting ``valid_to``, which no index holds)
    # is a heap-only update on PostgreSQL: no new index entries, no row moved off its page
    return sa.Table(name, md, *columns, postgresql_with={"fillfactor": HISTORY_FILLFACTOR})


def segmentation_table_name(annotation_table_name: str, pcg_table_name: str) -> str:
    return f"{annotation_table_name}__{pcg_table_name}"


def segmentation_table(md: sa.MetaData, name: str, schema: SchemaType) -> sa.Table:
    """``id`` plus ``X_supervoxel_id`` and ``X_root_id`` (indexed) per bound point."""
    columns: list[SchemaItem] = [sa.Column("id", IdType, primary_key=True, autoincrement=False)]
    for p in schema.bound_points:
        columns.append(sa.Column(p.supervoxel_column, sa.BigInteger))
        columns.append(sa.Column(p.root_column, sa.BigInteger))
        columns.append(sa.Index(index_name("ix", name, p.root_column), p.root_column))
    return sa.Table(name, md, *columns)
