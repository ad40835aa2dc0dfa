"""What the datastack page shows: the tables the user may read (schema, owner, permissions, row
counts from the latest version, ``last_updated``), every version with its status, and the next
instant of each scheduled workflow. All read from the store's catalogue; no table is scanned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fixative.api.services import HttpServices
from fixative.runner.schedule import next_fire, scheduled_tasks
from fixative.store import TableInfo
from fixative.versions import VersionInfo, list_version_tables, list_versions


@dataclass(frozen=True)
class TableRow:
    info: TableInfo
    row_count: int | None  # in the latest available version; None when it holds no such table
    version: int | None


@dataclass(frozen=True)
class NextRun:
    kind: str
    cron: str
    next_at: datetime


@dataclass(frozen=True)
class Overview:
    datastack: str
    description: str
    tables: list[TableRow]
    versions: list[VersionInfo]  # newest first, every status
    schedules: list[NextRun]
    latest: int | None


def readable_tables(services: HttpServices, datastack: str) -> list[TableInfo]:
    """The datastack's live tables this request's user may read, by name."""
    volume = services.datastack(datastack).aligned_volume
    tables = services.store.list_tables(aligned_volume=volume)
    allowed = set(services.readable(datastack, [t.table_name for t in tables]))
    return sorted((t for t in tables if t.table_name in allowed), key=lambda t: t.table_name)


def latest_available(services: HttpServices, datastack: str) -> int | None:
    found = list_versions(services.store, datastack)
    return found[-1].version if found else None


def overview(services: HttpServices, datastack: str) -> Overview:
    ds = services.datastack(datastack)
    latest = latest_available(services, datastack)
    counts: dict[str, int] = {}
    if latest is not None:
        counts = {
            t.table_name: t.row_count
            for t in list_version_tables(services.store, datastack, latest)
            if t.valid
        }
    tables = [
        TableRow(t, counts.get(t.table_name), latest if t.table_name in counts else None)
        for t in readable_tables(services, datastack)
    ]
    versions = list_versions(services.store, datastack, include_expired=True)
    return Overview(
        datastack=datastack,
        description=ds.description,
        tables=tables,
        versions=sorted(versions, key=lambda v: v.version, reverse=True),
        schedules=next_runs(services, datastack),
        latest=latest,
    )


def next_runs(services: HttpServices, datastack: str) -> list[NextRun]:
    now = services.store.clock()
    found = [
        NextRun(t.kind, t.cron, next_fire(t.cron, now))
        for t in scheduled_tasks(services.settings)
        if t.datastack == datastack
    ]
    return sorted(found, key=lambda r: r.next_at)


def latest_holding(services: HttpServices, datastack: str, table: str) -> int | None:
    """The latest available version that holds ``table`` (None: none; read it live)."""
    latest = latest_available(services, datastack)
    if latest is None:
        return None
    held = {t.table_name for t in list_version_tables(services.store, datastack, latest)}
    return latest if table in held else None


def available_versions(services: HttpServices, datastack: str) -> list[int]:
    """The available version numbers, newest first."""
    return [v.version for v in reversed(list_versions(services.store, datastack))]
