"""Reading the version catalogue: list, get, tables with row counts, and opening a version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fixative.errors import Conflict, NotFound
from fixative.store import memo
from fixative.store.base import Store
from fixative.versions.model import (
    AVAILABLE,
    VersionInfo,
    VersionTable,
    check_datastack,
    database_name,
)
from fixative.versions.tables import version_tables, versions
from fixative.versions.target import target_for

VERSION_MIN, VERSION_MAX = -(2**31), 2**31 - 1  # ``versions.version`` is an INTEGER


def info_of(row: sa.Row[Any]) -> VersionInfo:
    return VersionInfo(
        id=row.id,
        datastack=row.datastack,
        version=row.version,
        time_stamp=row.time_stamp,
        created_at=row.created,
        expires_on=row.expires_on,
        status=row.status,
        valid=row.valid,
        is_merged=row.is_merged,
        parent_version=row.parent_version,
        error=row.error,
        builder=row.builder,
        # rows from before names were recorded (migration 0007) were built without a prefix
        database=row.database
        or (database_name(row.datastack, row.version) if row.kind == "flat" else ""),
        pinned=row.pinned,
        pin_name=row.pin_name,
        kind=row.kind,
    )


def list_versions(
    store: Store, datastack: str, *, include_expired: bool = False
) -> list[VersionInfo]:
    """The datastack's versions, oldest first: AVAILABLE ones, or every row when
    ``include_expired`` (running, failed and expired ones too)."""
    query = sa.select(versions).where(versions.c.datastack == check_datastack(datastack))
    if not include_expired:
        query = query.where(versions.c.valid, versions.c.status == AVAILABLE)
    with store.read() as conn:
        return [info_of(r) for r in conn.execute(query.order_by(versions.c.version))]


def find_version(store: Store, datastack: str, version: int) -> VersionInfo | None:
    """The version's row, or None; a number outside the column's 32-bit range is no version
    (asked as it is, PostgreSQL refuses the comparison with an overflow error)."""
    if not VERSION_MIN <= int(version) <= VERSION_MAX:
        return None
    query = sa.select(versions).where(
        versions.c.datastack == check_datastack(datastack), versions.c.version == int(version)
    )

    def read() -> VersionInfo | None:
        with store.read() as conn:
            row = conn.execute(query).first()
        return info_of(row) if row is not None else None

    return memo.remembered((id(store), "version", datastack, int(version)), read)


def get_version(store: Store, datastack: str, version: int) -> VersionInfo:
    """One version's row, whatever its status (expired versions still answer)."""
    found = find_version(store, datastack, version)
    if found is None:
        raise NotFound(f"version {version} of datastack {datastack!r} does not exist")
    return found


def latest_version(store: Store, datastack: str) -> VersionInfo:
    available = list_versions(store, datastack)
    if not available:
        raise NotFound(f"datastack {datastack!r} has no available version")
    return available[-1]


def list_version_tables(store: Store, datastack: str, version: int) -> list[VersionTable]:
    info = get_version(store, datastack, version)
    query = (
        sa.select(version_tables)
        .where(version_tables.c.version_id == info.id)
        .order_by(version_tables.c.table_name)
    )
    with store.read() as conn:
        return [
            VersionTable(r.table_name, r.schema_type, r.row_count, r.valid, r.created)
            for r in conn.execute(query)
        ]


def open_version(
    store: Store, datastack: str, version: int, *, version_dir: Path | None = None
) -> sa.Engine:
    """An engine on an AVAILABLE version's database (read-only file on SQLite). The caller
    disposes it."""
    info = get_version(store, datastack, version)
    if info.status != AVAILABLE or not info.valid:
        raise Conflict(f"version {version} of datastack {datastack!r} is {info.status}")
    if not info.copied:
        raise Conflict(
            f"version {version} of datastack {datastack!r} is kept in the root-id history and "
            "has no database of its own; read it through the query engine"
        )
    return target_for(store, version_dir).open(info.database)
