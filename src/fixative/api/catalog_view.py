"""Reading the version catalogue for the materialize endpoints: which versions and tables a
datastack shows, and each table's metadata as caveclient expects it (every key it reads,
``reference_table`` always present, times as naive-UTC strings)."""

from __future__ import annotations

from typing import Any

from fixative.api.formats import cave_time
from fixative.api.services import HttpServices
from fixative.errors import NotFound
from fixative.versions import VersionInfo, VersionTable, get_version, list_version_tables
from fixative.versions import list_versions as catalogue_versions

SHOWN = ("AVAILABLE", "EXPIRED")  # RUNNING and FAILED builds are never served


def list_versions(services: HttpServices, datastack: str, *, expired: bool) -> list[VersionInfo]:
    """AVAILABLE versions, plus EXPIRED ones when ``expired``, oldest first."""
    services.datastack(datastack)
    if not expired:
        return catalogue_versions(services.store, datastack)
    found = catalogue_versions(services.store, datastack, include_expired=True)
    return [v for v in found if v.status in SHOWN]


def version(services: HttpServices, datastack: str, number: int) -> VersionInfo:
    services.datastack(datastack)
    info = get_version(services.store, datastack, number)
    if info.status not in SHOWN:
        raise NotFound(f"version {number} of datastack {datastack!r} is {info.status}")
    return info


def _all_tables(services: HttpServices, datastack: str, number: int) -> list[VersionTable]:
    version(services, datastack, number)
    return [t for t in list_version_tables(services.store, datastack, number) if t.valid]


def version_tables(services: HttpServices, datastack: str, number: int) -> list[VersionTable]:
    """The version's tables this request's user may read."""
    tables = _all_tables(services, datastack, number)
    allowed = set(services.readable(datastack, [t.table_name for t in tables]))
    return [t for t in tables if t.table_name in allowed]


def version_table(services: HttpServices, datastack: str, number: int, table: str) -> VersionTable:
    """One table of the version: 404 when it is not there, 403 when the user may not read it."""
    for t in _all_tables(services, datastack, number):
        if t.table_name == table:
            services.require_read(datastack, table)
            return t
    raise NotFound(f"table {table!r} is not in version {number} of datastack {datastack!r}")


def table_metadata(
    services: HttpServices, datastack: str, number: int, table: VersionTable, table_id: int
) -> dict[str, Any]:
    """The live table's metadata overlaid with the version's row (what the version holds)."""
    ds = services.datastack(datastack)
    live = services.store.find_table(table.table_name)
    if live is not None:
        meta = live.metadata_dict()
        meta["created"] = cave_time(live.created_at)
        meta["last_modified"] = cave_time(live.last_modified_at)
        meta["last_updated"] = cave_time(live.last_updated_at)
        meta["pcg_table_name"] = live.pcg_table_name or ds.pcg_table_name
    else:  # dropped from the live database since; the version still holds it
        res = ds.viewer_resolution
        meta = {
            "table_name": table.table_name,
            "schema": table.schema_type,
            "schema_type": table.schema_type,
            "aligned_volume": ds.aligned_volume,
            "user_id": "",
            "description": "",
            "notice_text": None,
            "reference_table": None,
            "flat_segmentation_source": None,
            "voxel_resolution_x": res[0],
            "voxel_resolution_y": res[1],
            "voxel_resolution_z": res[2],
            "read_permission": "PUBLIC",
            "write_permission": "PRIVATE",
            "last_modified": cave_time(table.created_at),
            "pcg_table_name": ds.pcg_table_name,
            "segmentation_source": ds.segmentation_source,
            "last_updated": None,
        }
    meta.update(
        {
            "id": table_id,
            "valid": table.valid,
            "created": cave_time(table.created_at),
            "annotation_table": table.table_name,
            "row_count": table.row_count,
            "version": number,
            "datastack": datastack,
        }
    )
    if meta.get("reference_table") is None:
        meta["reference_table"] = None
    return meta


def all_table_metadata(services: HttpServices, datastack: str, number: int) -> list[dict[str, Any]]:
    tables = _all_tables(services, datastack, number)
    allowed = set(services.readable(datastack, [t.table_name for t in tables]))
    return [
        table_metadata(services, datastack, number, t, i + 1)
        for i, t in enumerate(tables)
        if t.table_name in allowed
    ]


def one_table_metadata(
    services: HttpServices, datastack: str, number: int, table: str
) -> dict[str, Any]:
    for i, t in enumerate(_all_tables(services, datastack, number)):
        if t.table_name == table:
            services.require_read(datastack, table)
            return table_metadata(services, datastack, number, t, i + 1)
    raise NotFound(f"table {table!r} is not in version {number} of datastack {datastack!r}")
