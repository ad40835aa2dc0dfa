"""Annotation writes and reads with full history: rows are never removed; an update inserts a new
row and marks the old one ``deleted`` and ``superceded_id``; a delete marks the row ``deleted``.
At an instant T a row is visible when ``created <= T`` and (``deleted`` is null or ``deleted > T``).

Every write runs in one transaction that locks the table's metadata row, so ids and instants are
allocated without races, and bumps ``last_modified``; a delete also stamps ``deleted`` on the
rows' intervals in the table's root-id history, which carries the annotation's columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.schemas import rows as schema_rows
from fixative.schemas.types import SchemaType
from fixative.store.model import TableInfo
from fixative.store.tables import history_table_name
from fixative.store.types import UtcDateTime

if TYPE_CHECKING:
    from fixative.store.base import Store

ID_CHUNK = 10_000
TIME_TYPE = pa.timestamp("us", tz="UTC")


def normalize(schema: SchemaType, rows: Any) -> pa.Table:
    if isinstance(rows, pa.Table | Mapping):
        return schema_rows.from_columns(schema, rows)
    return schema_rows.from_records(schema, rows)


def insert(store: Store, name: str, rows: Any) -> npt.NDArray[np.int64]:
    """Insert annotations; returns their ids in input order (client-supplied ids are kept)."""
    info = store.get_table(name)
    data = normalize(info.schema, rows)
    if data.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    with store.write() as conn:
        meta_row = store._lock_table(conn, name)
        table = store._table_object(conn, name)
        now = store._next_instant(meta_row.last_modified)
        ids = _assign_ids(conn, table, data.column("id"))
        if info.schema.reference:
            assert info.reference_table is not None
            _check_targets(conn, store._table_object(conn, info.reference_table), data)
        store._bulk_insert(conn, table, _with_crud(data, ids, now))
        store._touch(conn, name, now)
    return ids


def _with_crud(data: pa.Table, ids: npt.NDArray[np.int64], now: datetime) -> pa.Table:
    n = data.num_rows
    full = data.set_column(0, "id", pa.array(ids, pa.int64()))
    full = full.append_column(
        "created", pa.array(np.full(n, now), TIME_TYPE) if n else pa.array([], TIME_TYPE)
    )
    full = full.append_column("deleted", pa.nulls(n, TIME_TYPE))
    full = full.append_column("superceded_id", pa.nulls(n, pa.int64()))
    return full.append_column("valid", pa.array(np.ones(n, dtype=bool)))


def _assign_ids(
    conn: sa.Connection, table: sa.Table, given: pa.ChunkedArray
) -> npt.NDArray[np.int64]:
    """Keep client ids (refusing duplicates and ids in use) and number the rest after the max."""
    n = len(given)
    current_max = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    if given.null_count == n:
        return np.arange(current_max + 1, current_max + 1 + n, dtype=np.int64)
    present = np.asarray(pc.drop_null(given).to_numpy(), dtype=np.int64)
    uniq, counts = np.unique(present, return_counts=True)
    if (counts > 1).any():
        raise InvalidInput(f"annotation id {int(uniq[counts > 1][0])} appears more than once")
    if int(present.min()) <= current_max:
        taken = _existing(conn, table, present)
        if taken:
            shown = ", ".join(map(str, sorted(taken)[:10]))
            raise Conflict(f"annotation id(s) {shown} already exist in table {table.name!r}")
    ids = np.array(given.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    missing = ids == 0
    start = max(current_max, int(present.max())) + 1
    ids[missing] = np.arange(start, start + int(missing.sum()), dtype=np.int64)
    return ids


def _existing(conn: sa.Connection, table: sa.Table, ids: Iterable[int]) -> set[int]:
    found: set[int] = set()
    id_list = [int(i) for i in ids]
    for lo in range(0, len(id_list), ID_CHUNK):
        chunk = id_list[lo : lo + ID_CHUNK]
        found.update(conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    return found


def _check_targets(conn: sa.Connection, ref: sa.Table, data: pa.Table) -> None:
    targets = np.unique(np.asarray(data.column("target_id").to_numpy(), dtype=np.int64))
    missing = sorted(set(targets.tolist()) - _existing(conn, ref, targets))
    if missing:
        shown = ", ".join(map(str, missing[:10]))
        raise InvalidInput(f"target_id(s) {shown} do not exist in reference table {ref.name!r}")


def _current_rows(conn: sa.Connection, table: sa.Table, ids: Sequence[int], action: str) -> None:
    """Refuse unknown ids (NotFound) and rows already deleted or superseded (Conflict)."""
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"an annotation id appears more than once in the {action}")
    rows: dict[int, Any] = {}
    for lo in range(0, len(ids), ID_CHUNK):
        chunk = list(ids[lo : lo + ID_CHUNK])
        for row in conn.execute(
            sa.select(table.c.id, table.c.deleted).where(table.c.id.in_(chunk))
        ):
            rows[row.id] = row.deleted
    unknown = [i for i in ids if i not in rows]
    if unknown:
        shown = ", ".join(map(str, unknown[:10]))
        raise NotFound(f"annotation id(s) {shown} not found in table {table.name!r}")
    gone = [i for i in ids if rows[i] is not None]
    if gone:
        shown = ", ".join(map(str, gone[:10]))
        raise Conflict(
            f"annotation id(s) {shown} in table {table.name!r} are already deleted or superseded"
        )


def _ids_of(values: Any, what: str) -> list[int]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise InvalidInput(f"{what} must be a list of integer ids")
    out: list[int] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or int(v) <= 0:
            raise InvalidInput(f"{what} must be positive integers, got {v!r}")
        out.append(int(v))
    return out


def update(store: Store, name: str, rows: Any) -> dict[int, int]:
    """Replace annotations: each row names the ``id`` it replaces; returns {old id: new id}."""
    info = store.get_table(name)
    data = normalize(info.schema, rows)
    if data.num_rows == 0:
        return {}
    if data.column("id").null_count:
        row = int(pc.index(pc.is_null(data.column("id")), True).as_py())
        raise InvalidInput(
            f"annotation {row}: an update needs the id of the annotation it replaces"
        )
    old_ids = [int(i) for i in data.column("id").to_pylist()]
    with store.write() as conn:
        meta_row = store._lock_table(conn, name)
        table = store._table_object(conn, name)
        _current_rows(conn, table, old_ids, "update")
        now = store._next_instant(meta_row.last_modified)
        if info.schema.reference:
            assert info.reference_table is not None
            _check_targets(conn, store._table_object(conn, info.reference_table), data)
        fresh = data.set_column(0, "id", pa.nulls(data.num_rows, pa.int64()))
        new_ids = _assign_ids(conn, table, fresh.column("id"))
        store._bulk_insert(conn, table, _with_crud(fresh, new_ids, now))
        conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("old_id"))
            .values(deleted=now, superceded_id=sa.bindparam("new_id"), valid=False),
            [{"old_id": o, "new_id": int(n)} for o, n in zip(old_ids, new_ids, strict=True)],
        )
        _stamp_history(conn, info, old_ids, now)
        store._touch(conn, name, now)
    return {o: int(n) for o, n in zip(old_ids, new_ids, strict=True)}


def delete(store: Store, name: str, ids: Any) -> list[int]:
    """Mark annotations deleted now; returns the ids."""
    id_list = _ids_of(ids, "annotation_ids")
    if not id_list:
        return []
    with store.write() as conn:
        meta_row = store._lock_table(conn, name)
        table = store._table_object(conn, name)
        _current_rows(conn, table, id_list, "delete")
        now = store._next_instant(meta_row.last_modified)
        for lo in range(0, len(id_list), ID_CHUNK):
            conn.execute(
                table.update()
                .where(table.c.id.in_(id_list[lo : lo + ID_CHUNK]))
                .values(deleted=now, valid=False)
            )
        _stamp_history(conn, store.get_table(name), id_list, now)
        store._touch(conn, name, now)
    return id_list


def _stamp_history(conn: sa.Connection, info: TableInfo, ids: Sequence[int], now: datetime) -> None:
    """Copy ``deleted`` onto the rows' intervals in the table's root-id history (each interval
    carries the annotation's columns; ``fixative.store.root_history``)."""
    if info.segmentation_table is None or not info.schema.bound_points:
        return
    history = sa.table(
        history_table_name(info.segmentation_table),
        sa.column("id", sa.BigInteger()),
        sa.column("deleted", UtcDateTime()),
    )
    for lo in range(0, len(ids), ID_CHUNK):
        conn.execute(
            history.update().where(history.c.id.in_(ids[lo : lo + ID_CHUNK])).values(deleted=now)
        )


def get(store: Store, name: str, ids: Any) -> pa.Table:
    """Annotations by id, with their history columns; unknown ids raise NotFound."""
    id_list = _ids_of(ids, "annotation_ids")
    with store.read() as conn:
        table = store._table_object(conn, name)
        parts = [
            read_arrow(
                conn, sa.select(table).where(table.c.id.in_(id_list[lo : lo + ID_CHUNK])), table
            )
            for lo in range(0, len(id_list), ID_CHUNK)
        ]
    result = pa.concat_tables(parts) if parts else read_empty(store, name)
    found = set(result.column("id").to_pylist())
    unknown = [i for i in id_list if i not in found]
    if unknown:
        shown = ", ".join(map(str, unknown[:10]))
        raise NotFound(f"annotation id(s) {shown} not found in table {name!r}")
    order = pc.sort_indices(result, sort_keys=[("id", "ascending")])
    return result.take(order)


def read_empty(store: Store, name: str) -> pa.Table:
    table = store.table_object(name)
    return pa.Table.from_pylist([], schema=arrow_schema_of(table))


def visible_at(table: sa.Table, at: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.created <= at, sa.or_(table.c.deleted.is_(None), table.c.deleted > at))


def at_instant(store: Store, name: str, at: datetime) -> pa.Table:
    """The table as it stood at ``at``: id, created and the data columns, ordered by id."""
    with store.read() as conn:
        table = store._table_object(conn, name)
        cols = [c for c in table.c if c.name not in ("deleted", "superceded_id", "valid")]
        query = sa.select(*cols).where(visible_at(table, at)).order_by(table.c.id)
        return read_arrow(conn, query, table)


def count_at(store: Store, name: str, at: datetime) -> int:
    with store.read() as conn:
        table = store._table_object(conn, name)
        query = sa.select(sa.func.count()).select_from(table).where(visible_at(table, at))
        return int(conn.execute(query).scalar_one())


def arrow_schema_of(table: sa.Table, names: Sequence[str] | None = None) -> pa.Schema:
    wanted = names if names is not None else [c.name for c in table.c]
    return pa.schema([pa.field(n, _arrow_type(table.c[n])) for n in wanted])


def _arrow_type(column: sa.Column[Any]) -> pa.DataType:
    from fixative.store.types import UtcDateTime

    ctype = column.type
    if isinstance(ctype, UtcDateTime):
        return TIME_TYPE
    if isinstance(ctype, sa.Boolean):
        return pa.bool_()
    if isinstance(ctype, sa.Float):
        return pa.float64()
    if isinstance(ctype, sa.Integer):
        return pa.int64()
    if isinstance(ctype, sa.String | sa.Text):
        return pa.string()
    return pa.int64()  # the variant id type


def read_arrow(conn: sa.Connection, query: sa.Select[Any], table: sa.Table) -> pa.Table:
    """Run a select over ``table``'s columns and return an Arrow table with typed columns."""
    result = conn.execute(query)
    names = list(result.keys())
    rows = result.all()
    schema = arrow_schema_of(table, names)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=f.type) for col, f in zip(columns, schema, strict=True)],
        schema=schema,
    )
