"""Building a version: check the preconditions, number it, copy every table as it stood at T,
check the row counts, and only then make it AVAILABLE (a ``history`` version copies nothing: it
counts the rows at T and becomes AVAILABLE). A failure marks it FAILED and drops the
partial database; an interrupted build is found and cleaned by ``recover_versions``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput
from fixative.store.base import Store
from fixative.store.model import TableInfo
from fixative.store.root_history import latest_instant
from fixative.store.segmentation import SegmentationTable, has_unlinked, linked_through
from fixative.store.types import sqlite_time
from fixative.versions.builders import builder_id, builder_is_dead
from fixative.versions.catalog import info_of
from fixative.versions.flat import FlatTable, plan_table
from fixative.versions.model import (
    AVAILABLE,
    FAILED,
    RUNNING,
    TableCopy,
    VersionInfo,
    VersionOptions,
    check_datastack,
    database_name,
)
from fixative.versions.tables import version_tables, versions
from fixative.versions.target import VersionTarget, target_for

ERROR_MAX = 4000


def create_version(
    store: Store,
    datastack: str,
    at: datetime,
    tables: Sequence[str] | None = None,
    options: VersionOptions | None = None,
) -> VersionInfo:
    """Build version N+1 of ``datastack`` holding ``tables`` as at ``at`` (default: every table
    of ``options.aligned_volume``, or of the whole live database when that is None).

    Every table with a segmentation table must have its root ids updated to exactly ``at`` and a
    segmentation row for every row visible at ``at`` (else Conflict, and no version is started).
    """
    options = options or VersionOptions()
    check_datastack(datastack)
    if at.tzinfo is None:
        raise InvalidInput("the version instant must be an aware UTC datetime")
    if at > store.clock():
        raise InvalidInput(f"cannot build a version at {at.isoformat()}: it is in the future")
    if tables is not None and len(set(tables)) != len(tables):
        raise InvalidInput("a table is named more than once")
    infos = (
        [store.get_table(n) for n in tables]
        if tables is not None
        else store.list_tables(options.aligned_volume)
    )
    if not infos:
        raise InvalidInput("a version needs at least one table")
    target = target_for(store, options.version_dir)
    plans = _plans(store, infos, at, past_ok=options.kind == "history")
    row = _start(store, target, datastack, at, options)
    if not row.copied:
        try:
            return _finish(store, row, _counts(store, plans, at, options))
        except Exception as exc:
            _mark_failed(store, row.id, f"{type(exc).__name__}: {exc}")
            raise
    try:
        target.create(row.database)
    except Exception as exc:  # never drop a database this build did not create
        _mark_failed(store, row.id, f"{type(exc).__name__}: {exc}")
        raise
    try:
        copies = target.copy(row.database, plans, at, options.report)
        _check_counts(copies)
        return _finish(store, row, copies)
    except Exception as exc:
        _fail(store, target, row, exc)
        raise


def _counts(
    store: Store, plans: Sequence[FlatTable], at: datetime, options: VersionOptions
) -> list[TableCopy]:
    """A history version copies nothing: its tables' rows at T are counted in the live
    database (the segmentation checks already passed, so each has its interval at T)."""
    counts = []
    for i, plan in enumerate(plans):
        n = store.count_at(plan.name, at)
        counts.append(TableCopy(plan.name, plan.schema.name, n, n))
        options.report(i + 1, len(plans))
    return counts


def _plans(
    store: Store, infos: Sequence[TableInfo], at: datetime, *, past_ok: bool = False
) -> list[FlatTable]:
    """``past_ok``: a history version may also be made at an earlier instant that every table
    was brought wholly to (a recorded instant its history is exact at, not compacted yet)."""
    with store.read() as conn:
        plans = [plan_table(store, conn, info) for info in infos]
        for info, plan in zip(infos, plans, strict=True):
            _check_segmentation(conn, store, info, plan, at, past_ok)
    return plans


def _check_segmentation(
    conn: sa.Connection,
    store: Store,
    info: TableInfo,
    plan: FlatTable,
    at: datetime,
    past_ok: bool = False,
) -> None:
    if plan.segmentation_table is None:
        return
    recorded = past_ok and latest_instant(conn, info.table_name, at) == at
    if info.last_updated_at != at and not recorded:
        held = info.last_updated_at.isoformat() if info.last_updated_at else "never"
        raise Conflict(
            f"table {info.table_name!r}: root ids are valid at {held}, not at {at.isoformat()}; "
            "update root ids to T first"
            + ("" if not past_ok else " (or give an instant it was brought to and still holds)")
        )
    links = SegmentationTable.of(info)
    if not has_unlinked(conn, links, at, linked_through(conn, links)):
        return  # rows created since the table was last wholly linked: an index range, not a scan
    mark, params = _bind(store, at)
    missing = conn.exec_driver_sql(plan.missing_segmentation_sql(mark), params).scalar_one()
    if missing:
        raise Conflict(
            f"table {info.table_name!r}: {missing} row(s) visible at {at.isoformat()} have no "
            "supervoxel or root ids yet; ingest them first"
        )


def _bind(store: Store, at: datetime) -> tuple[str, Any]:
    """The driver's placeholder and the parameters binding ``at`` (twice) as stored."""
    if store.dialect_name == "sqlite":
        return "?", (sqlite_time(at), sqlite_time(at))
    return "%(at)s", {"at": at}


def _start(
    store: Store, target: VersionTarget, datastack: str, at: datetime, options: VersionOptions
) -> VersionInfo:
    """Number the version (never reusing a number) and insert it RUNNING. A database of that
    name that the catalogue does not know (another deployment's?) is refused, never dropped."""
    now = store.clock()
    days = options.days_to_expire
    expires = at + timedelta(days=days) if days is not None and days > 0 else None
    with store.write() as conn:
        if store.dialect_name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(datastack))))
        mine = versions.c.datastack == datastack
        running = conn.execute(
            sa.select(versions.c.version).where(mine, versions.c.status == RUNNING)
        ).first()
        if running is not None:
            raise Conflict(
                f"version {running.version} of datastack {datastack!r} is still being built "
                "(recover_versions cleans an interrupted build)"
            )
        last = conn.execute(sa.select(sa.func.max(versions.c.version)).where(mine)).scalar()
        name: str | None = None
        if options.kind == "flat":
            name = database_name(datastack, (last or 0) + 1, store.version_database_prefix)
            if target.exists(name):
                raise Conflict(f"a database {name!r} exists that no version of this catalogue made")
        values = {
            "datastack": datastack,
            "version": (last or 0) + 1,
            "database": name,
            "kind": options.kind,
            "time_stamp": at,
            "created": now,
            "expires_on": expires,
            "status": RUNNING,
            "valid": False,
            "is_merged": True,
            "builder": builder_id(),
        }
        key = conn.execute(versions.insert().values(**values)).inserted_primary_key
        assert key is not None
        new_id = key[0]
        row = conn.execute(sa.select(versions).where(versions.c.id == new_id)).one()
    return info_of(row)


def _check_counts(copies: Sequence[TableCopy]) -> None:
    for c in copies:
        if c.live_count != c.version_count:
            raise Conflict(
                f"table {c.table_name!r}: {c.version_count} rows copied but {c.live_count} "
                "are visible at T in the live database"
            )


def _finish(store: Store, row: VersionInfo, copies: Sequence[TableCopy]) -> VersionInfo:
    """AVAILABLE and the version tables with their counts, in one transaction."""
    now = store.clock()
    with store.write() as conn:
        updated = conn.execute(
            versions.update()
            .where(versions.c.id == row.id, versions.c.status == RUNNING)
            .values(status=AVAILABLE, valid=True)
        ).rowcount
        if updated != 1:
            raise Conflict(f"version {row.version} of {row.datastack!r} is no longer RUNNING")
        conn.execute(
            version_tables.insert(),
            [
                {
                    "version_id": row.id,
                    "table_name": c.table_name,
                    "schema_type": c.schema_type,
                    "row_count": c.version_count,
                    "valid": True,
                    "created": now,
                }
                for c in copies
            ],
        )
        return info_of(conn.execute(sa.select(versions).where(versions.c.id == row.id)).one())


def _fail(store: Store, target: VersionTarget, row: VersionInfo, exc: BaseException) -> None:
    """Drop the partial database and mark the version FAILED with the error."""
    error = f"{type(exc).__name__}: {exc}"
    try:
        target.drop(row.database)
    except Exception as drop_exc:  # the row must say FAILED even when the drop fails
        error += f" (and dropping {row.database} failed: {drop_exc})"
    _mark_failed(store, row.id, error)


def _mark_failed(store: Store, version_id: int, error: str) -> None:
    with store.write() as conn:
        conn.execute(
            versions.update()
            .where(versions.c.id == version_id, versions.c.status == RUNNING)
            .values(status=FAILED, valid=False, error=error[:ERROR_MAX])
        )


def recover_versions(
    store: Store,
    *,
    grace: timedelta,
    now: datetime | None = None,
    version_dir: Path | None = None,
) -> list[VersionInfo]:
    """Interrupted builds: RUNNING versions started before ``now - grace``, or whose builder
    process is gone, lose their partial database and become FAILED. Returns them."""
    now = now or store.clock()
    with store.read() as conn:
        rows = [
            info_of(r)
            for r in conn.execute(sa.select(versions).where(versions.c.status == RUNNING))
        ]
    stale = [r for r in rows if r.created_at <= now - grace or builder_is_dead(r.builder)]
    target = target_for(store, version_dir)
    for r in stale:
        if r.copied:
            target.drop(r.database)
        _mark_failed(store, r.id, f"interrupted: the build by {r.builder} never finished")
    return stale
