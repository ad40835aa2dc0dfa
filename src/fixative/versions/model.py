"""Plain values of the version catalogue: statuses, names, options and what is read back."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fixative.errors import InvalidInput

Status = Literal["RUNNING", "AVAILABLE", "FAILED", "EXPIRED"]
Kind = Literal["flat", "history"]
KINDS: tuple[Kind, ...] = ("flat", "history")
RUNNING: Status = "RUNNING"
AVAILABLE: Status = "AVAILABLE"
FAILED: Status = "FAILED"
EXPIRED: Status = "EXPIRED"

DATASTACK_RE = re.compile(r"^[a-z][a-z0-9_]*$")
DATASTACK_MAX = 48  # "{datastack}__mat{N}" must fit PostgreSQL's 63-character identifiers
IDENTIFIER_RE = re.compile(r"^[a-z][a-z0-9_]*$")
IDENTIFIER_MAX = 63

Report = Callable[[int, int], None]


def check_datastack(name: object) -> str:
    if not isinstance(name, str) or not DATASTACK_RE.fullmatch(name) or len(name) > DATASTACK_MAX:
        raise InvalidInput(
            f"datastack name {name!r} must be at most {DATASTACK_MAX} characters of a-z, 0-9 "
            "and _, starting with a letter"
        )
    return name


def quote(identifier: str) -> str:
    """A double-quoted identifier, refusing anything that is not a plain lowercase name."""
    if not IDENTIFIER_RE.fullmatch(identifier) or len(identifier) > IDENTIFIER_MAX:
        raise InvalidInput(f"identifier {identifier!r} is not allowed")
    return f'"{identifier}"'


def database_name(datastack: str, version: int, prefix: str = "") -> str:
    """``{prefix}{datastack}__mat{N}``: the PostgreSQL database, or the SQLite file's stem. The
    only place the name is made; builds record it in the catalogue, and everything after reads
    it from there (``VersionInfo.database``), so expiry and recovery drop only what was made."""
    if prefix and not IDENTIFIER_RE.fullmatch(prefix):
        raise InvalidInput(
            f"version database prefix {prefix!r} must start with a lowercase letter and hold "
            "only a-z, 0-9 and _"
        )
    name = f"{prefix}{check_datastack(datastack)}__mat{int(version)}"
    if len(name) > IDENTIFIER_MAX:
        raise InvalidInput(
            f"version database name {name!r} is longer than PostgreSQL's {IDENTIFIER_MAX} "
            "characters: shorten the version_database_prefix or the datastack name"
        )
    return name


def version_of_database(name: str, datastack: str, prefix: str = "") -> int | None:
    """The version number when ``name`` is ``database_name(datastack, N, prefix)``, else None
    (a database of another datastack, another prefix, or no version at all)."""
    head = f"{prefix}{datastack}__mat"
    number = name[len(head) :] if name.startswith(head) else ""
    if not (number.isascii() and number.isdigit()) or number != str(int(number)):
        return None
    return int(number)


def _no_report(done: int, total: int) -> None:
    """The default progress callback: nothing."""


@dataclass(frozen=True)
class VersionOptions:
    """How to build a version.

    ``days_to_expire``: None or <= 0 means it never expires. ``version_dir``: where SQLite version
    files go (default: a ``versions`` directory next to the live file); ignored on PostgreSQL, whose
    versions are databases on the live database's server. ``report(done, total)`` is called after
    each table. ``aligned_volume`` picks the tables when none are named. ``kind``: ``flat``
    copies every table into a version database; ``history`` copies nothing: the version is its
    catalogue row, answered from the live tables and their root-id histories.
    """

    days_to_expire: int | None = None
    aligned_volume: str | None = None
    version_dir: Path | None = None
    report: Report = _no_report
    kind: Kind = "history"


@dataclass(frozen=True)
class VersionInfo:
    """One row of the catalogue."""

    id: int
    datastack: str
    version: int
    time_stamp: datetime
    created_at: datetime
    expires_on: datetime | None
    status: Status
    valid: bool
    is_merged: bool
    parent_version: int | None
    error: str | None
    builder: str | None
    database: str  # the version database (or SQLite file stem), as recorded when it was built
    pinned: bool = False  # never expired
    pin_name: str | None = None
    kind: Kind = "flat"  # history: no database; read from the live root-id histories

    @classmethod
    def uncatalogued(cls, at: datetime, datastack: str = "") -> VersionInfo:
        """A history version at ``at`` that is in no catalogue: the live tables read from their
        root-id histories at an instant (a live query's base, an export at an instant)."""
        return cls(
            id=0,
            datastack=datastack,
            version=0,
            time_stamp=at,
            created_at=at,
            expires_on=None,
            status=AVAILABLE,
            valid=True,
            is_merged=True,
            parent_version=None,
            error=None,
            builder=None,
            database="",
            kind="history",
        )

    @property
    def copied(self) -> bool:
        """Whether the version is a database of its own (``flat``)."""
        return self.kind == "flat"

    @property
    def history_at(self) -> datetime | None:
        """The instant its tables are read at from the live root-id histories (None: it is a
        copy, read as it is)."""
        return None if self.copied else self.time_stamp

    def metadata_dict(self) -> dict[str, Any]:
        """The version metadata caveclient reads (ISO strings for instants)."""
        return {
            "id": self.id,
            "datastack": self.datastack,
            "version": self.version,
            "time_stamp": self.time_stamp.isoformat(),
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
            "status": self.status,
            "valid": self.valid,
            "is_merged": self.is_merged,
            "parent_version": self.parent_version,
            "pinned": self.pinned,
            "pin_name": self.pin_name,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class VersionTable:
    """A table of a version, with the row count checked at build time."""

    table_name: str
    schema_type: str
    row_count: int
    valid: bool
    created_at: datetime


@dataclass(frozen=True)
class TableCopy:
    """What one table's copy found: rows visible at T in the live table, rows in the version."""

    table_name: str
    schema_type: str
    live_count: int
    version_count: int


@dataclass(frozen=True)
class ExpiryResult:
    """Versions dropped by expiry, and FAILED or EXPIRED versions whose leftovers were removed."""

    expired: tuple[int, ...]
    cleaned: tuple[int, ...]
