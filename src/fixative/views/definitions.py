"""Storing view definitions: create (checked first; nothing is written when the check fails),
list, get, delete, and checking a stored definition again against today's tables."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.query.columns import TableColumns, flat_columns
from fixative.query.compile import SQL_TYPES
from fixative.store.base import Store
from fixative.views.check import CheckedView, check_view_sql
from fixative.views.model import NewView, ViewInfo
from fixative.views.tables import view_definitions


def known_tables(store: Store, aligned_volume: str) -> dict[str, TableColumns]:
    """The annotation tables a view of a datastack on ``aligned_volume`` may read, with the
    columns their version tables hold."""
    return {t.table_name: flat_columns(t) for t in store.list_tables(aligned_volume)}


def check_definition(store: Store, aligned_volume: str, sql: str) -> CheckedView:
    return check_view_sql(sql, known_tables(store, aligned_volume))


def _info(row: sa.Row[Any]) -> ViewInfo:
    return ViewInfo(
        id=int(row.id),
        datastack=row.datastack,
        name=row.name,
        sql=row.sql,
        description=row.description,
        notice_text=row.notice_text,
        voxel_resolution_nm=(
            float(row.voxel_resolution_x),
            float(row.voxel_resolution_y),
            float(row.voxel_resolution_z),
        ),
        live_compatible=bool(row.live_compatible),
        user_id=row.user_id,
        created_at=row.created,
    )


def _dry_run(store: Store, checked: CheckedView, known: dict[str, TableColumns]) -> None:
    """Plan the view on empty tables of the version tables' columns: in memory on SQLite
    (where live views run) and, on PostgreSQL, in a rolled-back transaction on temporary
    tables, so SQL the parser allows but a backend refuses (``max(boolean)`` on PostgreSQL)
    is refused now, not at the first query."""
    targets = [("sqlite", sa.create_engine("sqlite://"))]
    if store.dialect_name == "postgresql":
        targets.append(("postgresql", store.engine))
    for dialect, engine in targets:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                for name in checked.tables:
                    md = sa.MetaData()
                    cols = [sa.Column(c.name, SQL_TYPES[c.kind]) for c in known[name].columns]
                    sa.Table(name, md, *cols, prefixes=["TEMPORARY"]).create(conn)
                sql = checked.compiled(dialect)
                if dialect == "postgresql":  # psycopg's placeholders: a literal % is %%
                    sql = sql.replace("%", "%%")
                conn.exec_driver_sql("EXPLAIN " + sql)
            except sa.exc.DBAPIError as exc:
                first = str(exc.orig).splitlines()[0][:300]
                raise InvalidInput(f"view SQL fails on {dialect}: {first}") from None
            finally:
                tx.rollback()
        if dialect == "sqlite":
            engine.dispose()


def create_view(store: Store, aligned_volume: str, new: NewView) -> ViewInfo:
    """Check ``new`` (its name, its SQL against the tables of ``aligned_volume``, a plan on
    each backend) and store it. A name taken by another view of the datastack or by an
    annotation table is a Conflict."""
    new.validate()
    known = known_tables(store, aligned_volume)
    _dry_run(store, check_view_sql(new.sql, known), known)
    if store.find_table(new.name) is not None:
        raise Conflict(f"{new.name!r} is the name of an annotation table; choose another")
    v = view_definitions
    x, y, z = (float(r) for r in new.voxel_resolution_nm)
    with store.write() as conn:
        taken = conn.execute(
            sa.select(v.c.id).where(v.c.datastack == new.datastack, v.c.name == new.name)
        ).first()
        if taken is not None:
            raise Conflict(f"view {new.name!r} already exists in datastack {new.datastack!r}")
        conn.execute(
            v.insert().values(
                datastack=new.datastack,
                name=new.name,
                sql=new.sql,
                description=new.description,
                notice_text=new.notice_text,
                voxel_resolution_x=x,
                voxel_resolution_y=y,
                voxel_resolution_z=z,
                live_compatible=new.live_compatible,
                user_id=new.user_id,
                created=store.clock(),
            )
        )
    return get_view(store, new.datastack, new.name)


def list_views(store: Store, datastack: str) -> list[ViewInfo]:
    v = view_definitions
    with store.read() as conn:
        rows = conn.execute(sa.select(v).where(v.c.datastack == datastack).order_by(v.c.name))
        return [_info(r) for r in rows]


def find_view(store: Store, datastack: str, name: str) -> ViewInfo | None:
    v = view_definitions
    with store.read() as conn:
        row = conn.execute(sa.select(v).where(v.c.datastack == datastack, v.c.name == name)).first()
    return _info(row) if row is not None else None


def get_view(store: Store, datastack: str, name: str) -> ViewInfo:
    found = find_view(store, datastack, name)
    if found is None:
        raise NotFound(f"view {name!r} does not exist in datastack {datastack!r}")
    return found


def delete_view(store: Store, datastack: str, name: str) -> ViewInfo:
    found = get_view(store, datastack, name)
    with store.write() as conn:
        conn.execute(view_definitions.delete().where(view_definitions.c.id == found.id))
    return found
