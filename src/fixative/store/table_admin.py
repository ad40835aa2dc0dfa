"""An annotation table's metadata changed after it was created, and soft deletion.

Deleting a table, as CAVE's annotation engine does, marks its metadata row invalid and stamps
``deleted``: the table disappears from every listing and lookup (``Store.find_table``), is
never served again, and keeps its rows and its name (a new table cannot take it). Neither
touches the annotations, so ``last_modified`` (the instant of the last annotation write) stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput
from fixative.store import tables as t
from fixative.store.base import Store
from fixative.store.model import PERMISSIONS, TableInfo

USER_ID_MAX = 128


@dataclass(frozen=True)
class MetadataChange:
    """The fields to change; None leaves a field as it is. ``clear_notice`` removes the notice
    text (CAVE's client sends ``""`` for that)."""

    description: str | None = None
    flat_segmentation_source: str | None = None
    read_permission: str | None = None
    write_permission: str | None = None
    user_id: str | None = None
    notice_text: str | None = None
    clear_notice: bool = False

    def values(self) -> dict[str, str | None]:
        for key in ("read_permission", "write_permission"):
            value = getattr(self, key)
            if value is not None and value not in PERMISSIONS:
                raise InvalidInput(f"{key} {value!r} must be one of {', '.join(PERMISSIONS)}")
        if self.user_id is not None and not 0 < len(self.user_id) <= USER_ID_MAX:
            raise InvalidInput(f"user_id must be 1 to {USER_ID_MAX} characters")
        out: dict[str, str | None] = {
            key: getattr(self, key)
            for key in (
                "description",
                "flat_segmentation_source",
                "read_permission",
                "write_permission",
                "user_id",
                "notice_text",
            )
            if getattr(self, key) is not None
        }
        if self.clear_notice:
            out["notice_text"] = None
        return out


def update_table_metadata(store: Store, name: str, change: MetadataChange) -> TableInfo:
    """Apply ``change`` to table ``name`` (NotFound for an unknown or deleted table)."""
    values = change.values()
    meta = t.annotation_table_metadata
    with store.write() as conn:
        store._lock_table(conn, name)
        if values:
            conn.execute(meta.update().where(meta.c.table_name == name).values(**values))
    return store.get_table(name)


def delete_table(store: Store, name: str) -> None:
    """Soft-delete table ``name`` now (NotFound for an unknown or deleted table; Conflict
    while a table that is not deleted references it)."""
    meta = t.annotation_table_metadata
    with store.write() as conn:
        store._lock_table(conn, name)
        referring = conn.execute(
            sa.select(meta.c.table_name)
            .where(meta.c.reference_table == name, meta.c.valid)
            .order_by(meta.c.table_name)
        ).scalars()
        users = [str(r) for r in referring]
        if users:
            raise Conflict(
                f"table {name!r} is referenced by {', '.join(users)}: delete those first"
            )
        conn.execute(
            meta.update()
            .where(meta.c.table_name == name)
            .values(valid=False, deleted=store.clock())
        )


def deleted_tables(store: Store) -> list[str]:
    """Names of the soft-deleted tables (for admins and tests: never served)."""
    meta = t.annotation_table_metadata
    query = sa.select(meta.c.table_name).where(sa.not_(meta.c.valid)).order_by(meta.c.table_name)
    with store.read() as conn:
        return [str(n) for n in conn.execute(query).scalars()]
