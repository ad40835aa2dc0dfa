"""Pins: a version a paper, a tutorial or a release cites is kept for good. A pinned version is
never expired (``expiry.py`` skips it) and may carry a name, unique per datastack; unpinning
lets the expiry policy take it again at its ``expires_on``."""

from __future__ import annotations

import re

import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput
from fixative.store.base import Store
from fixative.versions.catalog import get_version
from fixative.versions.model import AVAILABLE, VersionInfo
from fixative.versions.tables import versions

PIN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def pin_version(store: Store, datastack: str, version: int, name: str | None = None) -> VersionInfo:
    """Pin an AVAILABLE version (again: a new name replaces the old one)."""
    if name is not None and PIN_NAME_RE.fullmatch(name) is None:
        raise InvalidInput(
            f"bad pin name {name!r}: 1 to 128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    info = get_version(store, datastack, version)
    if info.status != AVAILABLE:
        raise Conflict(f"version {version} of datastack {datastack!r} is {info.status}")
    with store.write() as conn:
        if name is not None:
            taken = conn.execute(
                sa.select(versions.c.version).where(
                    versions.c.datastack == info.datastack,
                    versions.c.pin_name == name,
                    versions.c.id != info.id,
                )
            ).scalar()
            if taken is not None:
                raise Conflict(f"pin name {name!r} already names version {taken}")
        changed = conn.execute(
            versions.update()
            .where(versions.c.id == info.id, versions.c.status == AVAILABLE)
            .values(pinned=True, pin_name=name)
        ).rowcount
    if changed != 1:
        raise Conflict(f"version {version} of datastack {datastack!r} expired meanwhile")
    return get_version(store, datastack, version)


def unpin_version(store: Store, datastack: str, version: int) -> VersionInfo:
    """Let the expiry policy take the version again (its name is dropped)."""
    info = get_version(store, datastack, version)
    with store.write() as conn:
        conn.execute(
            versions.update().where(versions.c.id == info.id).values(pinned=False, pin_name=None)
        )
    return get_version(store, datastack, version)
