"""The Store port: metadata, annotation tables and their history, on SQLAlchemy 2 Core.

Everything here is shared by both backends; ``sqlite.py`` and ``postgres.py`` supply only what
differs (engine set-up, the spatial index, bulk writes, box queries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from fixative.clock import Clock, utc_now
from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.schemas import get_schema
from fixative.schemas.types import SchemaType
from fixative.store import history, memo
from fixative.store import tables as t
from fixative.store.model import TABLE_NAME_RE, NewTable, TableInfo, check_table_name
from fixative.store.root_history import create_history_table

TICK = timedelta(microseconds=1)
STALE_FRACTION = 0.1  # analyze_if_stale: statistics older than this fraction of rows written
# the transaction of a ``Store.shared_write`` block, per thread (and per task)
_SHARED_WRITE: ContextVar[tuple[Store, sa.Connection] | None] = ContextVar(
    "fixative_shared_write", default=None
)


class Store:
    """A live database. Subclasses: ``SqliteStore`` and ``PostgresStore``."""

    dialect_name = ""
    # the namespace of this live database's version databases on a shared server (the
    # ``version_database_prefix`` setting; ``fixative.versions.database_name`` applies it)
    version_database_prefix = ""

    def __init__(self, engine: sa.Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._md = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._tables_lock = threading.Lock()  # the cache and ``_md`` are shared by threads

    # -- connections ---------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (one writer at a time per SQLite file). Inside ``shared_write``
        on the same thread, it is that transaction."""
        shared = _SHARED_WRITE.get()
        if shared is not None and shared[0] is self:
            memo.forget()
            yield shared[1]
            return
        memo.forget()
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(fixative_write=True)
                with conn.begin():
                    yield conn
        finally:
            memo.forget()

    @contextmanager
    def shared_write(self) -> Iterator[sa.Connection]:
        """A write transaction that the store's own writes inside it join, so a caller can
        commit its rows and theirs together (idempotent requests: the write and its answer)."""
        with self.write() as conn:
            token = _SHARED_WRITE.set((self, conn))
            try:
                yield conn
            finally:
                _SHARED_WRITE.reset(token)

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> None:
        """Create or upgrade the metadata tables (alembic migrations)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(files("fixative.store") / "migrations"))
        with self.write() as conn:
            self._serialize_migrations(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _serialize_migrations(self, conn: sa.Connection) -> None:
        """Hold off other processes' migrations until this transaction ends (SQLite's write
        transaction already does: BEGIN IMMEDIATE)."""

    def dispose(self) -> None:
        self.engine.dispose()

    # -- table metadata ------------------------------------------------------------------------

    def create_table(self, spec: NewTable) -> TableInfo:
        """Create an annotation table and, for bound schemas, its segmentation table."""
        spec.validate()
        schema = get_schema(spec.schema_type)
        if schema.reference and not spec.reference_table:
            raise InvalidInput(
                f"schema {schema.name!r} references another table: give reference_table"
            )
        if not schema.reference and spec.reference_table:
            raise InvalidInput(f"schema {schema.name!r} is not a reference schema")
        now = self.clock()
        with self.write() as conn:
            if self._find_row(conn, spec.table_name) is not None:
                raise Conflict(f"table {spec.table_name!r} already exists")
            if spec.reference_table is not None:
                check_table_name(spec.reference_table, "reference table")
                if self._find_row(conn, spec.reference_table) is None:
                    raise NotFound(f"reference table {spec.reference_table!r} does not exist")
            existing = set(sa.inspect(conn).get_table_names())
            if spec.table_name in existing:
                raise Conflict(f"a database table named {spec.table_name!r} already exists")
            table = t.annotation_table(sa.MetaData(), spec.table_name, schema, spec.reference_table)
            self._decorate_annotation_table(table, schema)
            if spec.reference_table is not None:
                self._table_object(conn, spec.reference_table).to_metadata(table.metadata)
            table.create(conn)
            self._create_spatial_index(conn, table, schema)
            conn.execute(
                t.annotation_table_metadata.insert().values(
                    table_name=spec.table_name,
                    schema_type=schema.name,
                    aligned_volume=spec.aligned_volume,
                    user_id=spec.user_id,
                    description=spec.description,
                    notice_text=spec.notice_text,
                    reference_table=spec.reference_table,
                    flat_segmentation_source=spec.flat_segmentation_source,
                    voxel_resolution_x=float(spec.voxel_resolution_nm[0]),
                    voxel_resolution_y=float(spec.voxel_resolution_nm[1]),
                    voxel_resolution_z=float(spec.voxel_resolution_nm[2]),
                    read_permission=spec.read_permission,
                    write_permission=spec.write_permission,
                    valid=True,
                    created=now,
                    last_modified=now,
                )
            )
            if schema.has_segmentation and spec.pcg_table_name:
                self._create_segmentation_table(conn, spec, schema, now, existing)
        with self._tables_lock:
            self._tables.pop(spec.table_name, None)
        return self.get_table(spec.table_name)

    def _create_segmentation_table(
        self,
        conn: sa.Connection,
        spec: NewTable,
        schema: SchemaType,
        now: datetime,
        existing: set[str],
    ) -> None:
        assert spec.pcg_table_name is not None
        seg_name = t.segmentation_table_name(spec.table_name, spec.pcg_table_name)
        if seg_name in existing:
            raise Conflict(f"a database table named {seg_name!r} already exists")
        t.segmentation_table(sa.MetaData(), seg_name, schema).create(conn)
        t.leave_key_room(conn, seg_name)
        create_history_table(conn, seg_name, schema)
        conn.execute(
            t.segmentation_table_metadata.insert().values(
                table_name=seg_name,
                annotation_table=spec.table_name,
                pcg_table_name=spec.pcg_table_name,
                segmentation_source=spec.segmentation_source,
                valid=True,
                created=now,
                last_updated=None,
            )
        )

    def get_table(self, name: str) -> TableInfo:
        info = self.find_table(name)
        if info is None:
            raise NotFound(f"table {name!r} does not exist")
        return info

    def find_table(self, name: str) -> TableInfo | None:
        if not isinstance(name, str) or TABLE_NAME_RE.fullmatch(name) is None:
            return None  # no table has such a name (and NUL would upset PostgreSQL)
        return memo.remembered((id(self), "table", name), lambda: self._read_table(name))

    def _read_table(self, name: str) -> TableInfo | None:
        with self.read() as conn:
            row = self._find_row(conn, name)
            if row is None or not row.valid:  # a deleted table is never served
                return None
            return self._info(conn, row)

    def list_tables(self, aligned_volume: str | None = None) -> list[TableInfo]:
        query = sa.select(t.annotation_table_metadata).where(t.annotation_table_metadata.c.valid)
        if aligned_volume is not None:
            query = query.where(t.annotation_table_metadata.c.aligned_volume == aligned_volume)
        with self.read() as conn:
            rows = conn.execute(query.order_by(t.annotation_table_metadata.c.table_name)).all()
            return [self._info(conn, row) for row in rows]

    def _find_row(self, conn: sa.Connection, name: str) -> sa.Row[Any] | None:
        meta = t.annotation_table_metadata
        return conn.execute(sa.select(meta).where(meta.c.table_name == name)).first()

    def _info(self, conn: sa.Connection, row: sa.Row[Any]) -> TableInfo:
        seg_meta = t.segmentation_table_metadata
        seg = conn.execute(
            sa.select(seg_meta)
            .where(seg_meta.c.annotation_table == row.table_name)
            .order_by(seg_meta.c.id)
        ).first()
        return TableInfo(
            table_name=row.table_name,
            schema=get_schema(row.schema_type),
            aligned_volume=row.aligned_volume,
            user_id=row.user_id,
            description=row.description,
            notice_text=row.notice_text,
            reference_table=row.reference_table,
            flat_segmentation_source=row.flat_segmentation_source,
            voxel_resolution_nm=(
                row.voxel_resolution_x,
                row.voxel_resolution_y,
                row.voxel_resolution_z,
            ),
            read_permission=row.read_permission,
            write_permission=row.write_permission,
            valid=row.valid,
            created_at=row.created,
            last_modified_at=row.last_modified,
            segmentation_table=seg.table_name if seg else None,
            pcg_table_name=seg.pcg_table_name if seg else None,
            segmentation_source=seg.segmentation_source if seg else "",
            last_updated_at=seg.last_updated if seg else None,
        )

    def _table_object(self, conn: sa.Connection, name: str) -> sa.Table:
        """The SQLAlchemy table of an annotation or segmentation table (cached: tables never
        change shape)."""
        cached = self._tables.get(name)
        if cached is not None:
            return cached
        with self._tables_lock:  # two first requests must not both define ``name`` in ``_md``
            cached = self._tables.get(name)
            if cached is None:
                cached = self._tables[name] = self._define_table(conn, name)
            return cached

    def _define_table(self, conn: sa.Connection, name: str) -> sa.Table:
        meta = t.annotation_table_metadata
        row = self._find_row(conn, name)
        if row is not None:
            table = t.annotation_table(
                self._md, name, get_schema(row.schema_type), row.reference_table
            )
        else:
            seg_meta = t.segmentation_table_metadata
            seg = conn.execute(sa.select(seg_meta).where(seg_meta.c.table_name == name)).first()
            if seg is None:
                raise NotFound(f"table {name!r} does not exist")
            ann = conn.execute(
                sa.select(meta).where(meta.c.table_name == seg.annotation_table)
            ).one()
            table = t.segmentation_table(self._md, name, get_schema(ann.schema_type))
        return table

    def table_object(self, name: str) -> sa.Table:
        with self.read() as conn:
            return self._table_object(conn, name)

    def analyze(self, *names: str) -> None:
        """Refresh the planner's statistics of these tables after a bulk write. Without them
        PostgreSQL plans a bulk-loaded table as if it were empty until autovacuum's analyze
        runs (never, where autovacuum is off), and picks plans that read every row."""
        with self.write() as conn:
            for name in names:
                conn.exec_driver_sql(f'ANALYZE "{name.replace(chr(34), chr(34) * 2)}"')

    def vacuum(self, *names: str) -> list[str]:
        """Free the space of these tables' dead rows for their next writes (PostgreSQL's
        VACUUM, each in its own transaction; it never blocks readers or writers); returns the
        tables vacuumed. SQLite reuses a freed page without being asked: nothing to do."""
        if self.engine.dialect.name != "postgresql":
            return []
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for name in names:
                conn.exec_driver_sql(f'VACUUM "{name.replace(chr(34), chr(34) * 2)}"')
        return list(names)

    def analyze_if_stale(self, name: str, changed: float = STALE_FRACTION) -> None:
        """``analyze`` a table whose statistics are missing or older than a ``changed`` fraction
        of its rows (PostgreSQL's own count of rows written since; SQLite: always). For a table
        a workflow only reads, whose statistics a bulk writer may already have refreshed."""
        if self.engine.dialect.name == "postgresql":
            with self.read() as conn:
                found = conn.execute(
                    sa.text(
                        "SELECT n_mod_since_analyze, n_live_tup, last_analyze, last_autoanalyze "
                        "FROM pg_stat_user_tables WHERE relid = to_regclass(:name)"
                    ),
                    {"name": '"' + name.replace('"', '""') + '"'},
                ).first()
            if found is not None and (found[2] or found[3]):
                written, rows = int(found[0]), int(found[1])
                if written <= changed * max(rows, 1):
                    return
        self.analyze(name)

    def _lock_table(self, conn: sa.Connection, name: str) -> sa.Row[Any]:
        """Serialize writers of one table and return its metadata row (FOR UPDATE on PostgreSQL)."""
        meta = t.annotation_table_metadata
        row = conn.execute(
            sa.select(meta).where(meta.c.table_name == name).with_for_update()
        ).first()
        if row is None or not row.valid:
            raise NotFound(f"table {name!r} does not exist")
        return row

    def _next_instant(self, last_modified: datetime) -> datetime:
        """Now, but strictly after the table's last write, so history never ties."""
        return max(self.clock(), last_modified + TICK)

    def _touch(self, conn: sa.Connection, name: str, now: datetime) -> None:
        meta = t.annotation_table_metadata
        conn.execute(meta.update().where(meta.c.table_name == name).values(last_modified=now))

    # -- annotations (see history.py) -------------------------------------------------------

    def insert_annotations(self, name: str, rows: Any) -> npt.NDArray[np.int64]:
        return history.insert(self, name, rows)

    def update_annotations(self, name: str, rows: Any) -> dict[int, int]:
        return history.update(self, name, rows)

    def delete_annotations(self, name: str, ids: Any) -> list[int]:
        return history.delete(self, name, ids)

    def get_annotations(self, name: str, ids: Any) -> pa.Table:
        return history.get(self, name, ids)

    def annotations_at(self, name: str, at: datetime) -> pa.Table:
        return history.at_instant(self, name, at)

    def count_at(self, name: str, at: datetime) -> int:
        return history.count_at(self, name, at)

    # -- backend hooks -------------------------------------------------------------------------

    def _decorate_annotation_table(self, table: sa.Table, schema: SchemaType) -> None:
        """Add backend-only columns (PostGIS geometry) before the table is created."""

    def _create_spatial_index(
        self, conn: sa.Connection, table: sa.Table, schema: SchemaType
    ) -> None:
        raise NotImplementedError

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, rows: pa.Table) -> None:
        raise NotImplementedError

    def box_clause(
        self, table: sa.Table, point: str, lo: Sequence[int], hi: Sequence[int]
    ) -> sa.ColumnElement[bool]:
        """Rows whose ``point`` lies in the box [lo, hi] (voxels), using the spatial index."""
        raise NotImplementedError
