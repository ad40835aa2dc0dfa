"""The distinct strings of each string column of a live annotation table, over the rows visible
now (CAVE's ``unique_string_values``): one ``SELECT DISTINCT`` per column, on the live table,
sorted here by code point so both backends give the same order whatever their collation."""

from __future__ import annotations

import sqlalchemy as sa

from fixative.store import Store
from fixative.store.history import visible_at


def unique_string_values(store: Store, table: str) -> dict[str, list[str]]:
    """``{column: sorted distinct non-null strings}`` for every string field of ``table``'s
    schema type (NotFound for an unknown or deleted table)."""
    info = store.get_table(table)
    columns = [f.name for f in info.schema.scalars if f.kind == "str"]
    now = store.clock()
    out: dict[str, list[str]] = {}
    sql_table = store.table_object(table)
    with store.read() as conn:
        for name in columns:
            column = sql_table.c[name]
            query = (
                sa.select(column)
                .distinct()
                .where(visible_at(sql_table, now))
                .where(column.is_not(None))
            )
            out[name] = sorted(str(v) for v in conn.execute(query).scalars())
    return out
