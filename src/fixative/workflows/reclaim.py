"""Reclaim the space of rows a workflow rewrote or removed.

A root update rewrites a row of the segmentation table and closes an interval of its history
for every root id that expired; a compaction deletes intervals. On PostgreSQL each of these
leaves the row's old version behind, dead, until a VACUUM frees its space for the next writes.
Autovacuum would do it only after a fifth of a table is dead (and not at all where it is off),
so between two versions a table would grow by the dead rows as well as the new intervals. The
workflows that wrote them vacuum the tables themselves, after the version is published, so each
version costs the disk of its new intervals only. SQLite reuses freed pages without help.
"""

from __future__ import annotations

from collections.abc import Mapping

from fixative.store import Store
from fixative.store.segmentation import SegmentationTable

RECLAIM_AFTER_ROWS = 10_000  # fewer dead rows than this are left to autovacuum


def reclaim(store: Store, rewritten: Mapping[str, int], min_rows: int | None = None) -> list[str]:
    """VACUUM the segmentation table and root-id history of every annotation table with at
    least ``min_rows`` rows rewritten or removed (``rewritten``: per annotation table); returns
    the tables vacuumed (none on SQLite)."""
    threshold = RECLAIM_AFTER_ROWS if min_rows is None else min_rows
    names: list[str] = []
    for table, rows in rewritten.items():
        if rows < threshold:
            continue
        info = store.get_table(table)
        if info.segmentation_table is None or not info.schema.bound_points:
            continue
        links = SegmentationTable.of(info)
        names += [links.name, links.history]
    return store.vacuum(*names)
