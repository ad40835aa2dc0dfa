"""Expiry: drop versions past their ``expires_on``, but never a pinned one, never the latest
AVAILABLE one and never so many that fewer than ``min_kept`` remain; clean what FAILED and
EXPIRED versions left on disk. Metadata rows stay (an expired version still answers
``get_version``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fixative.errors import InvalidInput
from fixative.store.base import Store
from fixative.versions.catalog import list_versions
from fixative.versions.model import AVAILABLE, EXPIRED, FAILED, ExpiryResult, VersionInfo
from fixative.versions.tables import versions
from fixative.versions.target import target_for


def expiry_candidates(
    available: list[VersionInfo], now: datetime, min_kept: int
) -> list[VersionInfo]:
    """The AVAILABLE versions to drop, oldest first (``available`` is ordered by version)."""
    if not available:
        return []
    latest = available[-1]
    droppable = max(0, len(available) - max(min_kept, 1))
    due = [
        v
        for v in available
        if v.id != latest.id and not v.pinned and v.expires_on is not None and v.expires_on <= now
    ]
    return due[:droppable]


def expire_versions(
    store: Store,
    datastack: str,
    now: datetime,
    *,
    min_kept: int = 1,
    version_dir: Path | None = None,
) -> ExpiryResult:
    """Drop the due versions of ``datastack`` (status EXPIRED, valid false, database removed) and
    remove any database still left by FAILED or EXPIRED versions."""
    if min_kept < 0:
        raise InvalidInput("min_kept must be zero or more")
    if now.tzinfo is None:
        raise InvalidInput("now must be an aware UTC datetime")
    target = target_for(store, version_dir)
    expired = []
    for v in expiry_candidates(list_versions(store, datastack), now, min_kept):
        with store.write() as conn:
            marked = conn.execute(
                versions.update()
                .where(versions.c.id == v.id, versions.c.status == AVAILABLE, ~versions.c.pinned)
                .values(status=EXPIRED, valid=False)
            ).rowcount
        if marked == 1:
            if v.copied:
                target.drop(v.database)
            expired.append(v.version)
    cleaned = []
    for v in list_versions(store, datastack, include_expired=True):
        if not v.copied:
            continue
        if v.status in (FAILED, EXPIRED) and v.version not in expired and target.exists(v.database):
            target.drop(v.database)
            cleaned.append(v.version)
    return ExpiryResult(tuple(expired), tuple(cleaned))
