"""Exporting the live tables as they stood at an instant T, with no version built: each table is
read from its root-id history at T, as a history version made at T would read it, and the
export refuses T where such a version would be refused (Conflict):

- a table with root ids must have its history exact at T: its root ids updated to exactly T
  (its ``last_updated``) or T one of its recorded instants;
- every annotation visible at T must have its segmentation row (else it would be missing from
  the history, and from the release): the history's rows at T are counted against the visible
  annotations, and the count is what the release is checked against.

The release's manifest names no version (``"version": null``), only the instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.export.source import relation_sql
from fixative.store.base import Store
from fixative.store.root_history import latest_instant
from fixative.versions.model import VersionInfo


def live_info(datastack: str, at: datetime) -> VersionInfo:
    """A history version at ``at`` that is not in the catalogue (what the export reads)."""
    return VersionInfo.uncatalogued(at, datastack)


def live_counts(store: Store, info: VersionInfo, names: Sequence[str] | None) -> dict[str, int]:
    """Each chosen table's rows at the instant (every live table when ``names`` is None);
    NotFound for an unknown table, InvalidInput for an instant in the future, Conflict where
    the history is not exact at the instant."""
    at = info.time_stamp
    if at > store.clock():
        raise InvalidInput(f"cannot export the tables at {at.isoformat()}: it is in the future")
    known = {t.table_name: t for t in store.list_tables()}
    chosen = sorted(known) if names is None else list(dict.fromkeys(names))
    missing = [n for n in chosen if n not in known]
    if missing:
        raise NotFound(
            f"table(s) {', '.join(map(repr, missing))} do not exist in datastack "
            f"{info.datastack!r}; it has {', '.join(sorted(known))}"
        )
    counts = {}
    with store.read() as conn:
        for name in chosen:
            table = known[name]
            if table.segmentation_table is not None:
                exact = table.last_updated_at == at or latest_instant(conn, name, at) == at
                if not exact:
                    held = table.last_updated_at.isoformat() if table.last_updated_at else "never"
                    raise Conflict(
                        f"table {name!r}: root ids are valid at {held}, not at {at.isoformat()}; "
                        "update root ids to that instant, or give one the table was brought to"
                    )
            counts[name] = _count(store, conn, info, name)
    return counts


def _count(store: Store, conn: sa.Connection, info: VersionInfo, name: str) -> int:
    """The table's rows at the instant, checked against its annotations visible then."""
    relation = relation_sql(store, info, name, conn.dialect)
    rows = int(conn.exec_driver_sql(f"SELECT count(*) FROM {relation}").scalar_one())
    ann = store.table_object(name)
    when = info.time_stamp
    visible = sa.select(sa.func.count()).where(
        ann.c.created <= when, sa.or_(ann.c.deleted.is_(None), ann.c.deleted > when)
    )
    expected = int(conn.execute(visible).scalar_one())
    if rows != expected:
        raise Conflict(
            f"table {name!r}: {expected - rows} row(s) visible at {when.isoformat()} have no "
            "supervoxel or root ids yet; ingest them first"
        )
    return rows
