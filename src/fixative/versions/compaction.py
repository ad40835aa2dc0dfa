"""Compaction of the root-id histories: intervals that no retained history version and no
instant of the any-instant window still need are dropped.

A history version at V needs, per table it holds, the intervals holding V; live queries at any
instant after ``now - window`` need every interval that ends after that cutoff (and the recorded
instants there, as bases). Everything else (intervals that ended at or before the cutoff and
hold no retained instant, recorded instants before it) goes. Flat versions need no history.
Answers at retained versions and inside the window never change; a live query older than the
window starts from a retained version instead of a recorded instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from fixative.errors import InvalidInput
from fixative.store.base import Store
from fixative.store.root_history import compact
from fixative.store.segmentation import SegmentationTable
from fixative.versions.model import AVAILABLE, RUNNING
from fixative.versions.tables import version_tables, versions


def retained_instants(store: Store) -> dict[str, list[datetime]]:
    """Per table, the instants of the history versions (of any datastack) that hold it and are
    AVAILABLE or still being built."""
    query = (
        sa.select(version_tables.c.table_name, versions.c.time_stamp)
        .join(versions, versions.c.id == version_tables.c.version_id)
        .where(versions.c.kind == "history", versions.c.status.in_((AVAILABLE, RUNNING)))
    )
    kept: dict[str, list[datetime]] = {}
    with store.read() as conn:
        for name, instant in conn.execute(query):
            kept.setdefault(name, []).append(instant)
        running = conn.execute(
            sa.select(versions.c.time_stamp).where(
                versions.c.kind == "history", versions.c.status == RUNNING
            )
        ).scalars()
        building = list(running)  # its tables are not listed yet: keep its instant everywhere
    if building:
        for instants in kept.values():
            instants.extend(building)
        kept["*"] = building
    return kept


def compact_histories(
    store: Store, aligned_volume: str | None, now: datetime, window: timedelta
) -> dict[str, int]:
    """Compact the histories of the tables of ``aligned_volume`` (every table when None);
    returns the intervals dropped per table."""
    if now.tzinfo is None:
        raise InvalidInput("now must be an aware UTC datetime")
    if window < timedelta(0):
        raise InvalidInput("the any-instant window cannot be negative")
    cutoff = now - window
    kept = retained_instants(store)
    dropped: dict[str, int] = {}
    for info in store.list_tables(aligned_volume):
        if info.segmentation_table is None or not info.schema.bound_points:
            continue
        seg = SegmentationTable.of(info)
        keep = kept.get(info.table_name, []) + kept.get("*", [])
        with store.write() as conn:
            dropped[info.table_name] = compact(conn, seg, cutoff, keep)
    return dropped
