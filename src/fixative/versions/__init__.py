"""Time-locked versions: immutable databases holding every table as it stood at one instant."""

from __future__ import annotations

from fixative.versions.build import create_version, recover_versions
from fixative.versions.catalog import (
    find_version,
    get_version,
    latest_version,
    list_version_tables,
    list_versions,
    open_version,
)
from fixative.versions.expiry import expire_versions
from fixative.versions.model import (
    ExpiryResult,
    VersionInfo,
    VersionOptions,
    VersionTable,
    database_name,
    version_of_database,
)

__all__ = [
    "ExpiryResult",
    "VersionInfo",
    "VersionOptions",
    "VersionTable",
    "create_version",
    "database_name",
    "expire_versions",
    "find_version",
    "get_version",
    "latest_version",
    "list_version_tables",
    "list_versions",
    "open_version",
    "recover_versions",
    "version_of_database",
]
