"""Reading and writing a graph's history in the database (the ``cg_`` tables).

One edit is one transaction: ``write_change`` writes the operation, its roots, lineage,
assignments and edge intervals, and advances the graph row's counters. ``load_changes`` reads
operations back, bounded above by the last operation id read first, so a reader never sees half
of an edit that commits while it loads (each statement may see a newer snapshot on PostgreSQL's
READ COMMITTED; the bound makes that harmless). Expiries are derived from lineage rows for the
same reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from fixative.chunkedgraph import tables as t
from fixative.chunkedgraph.port import Operation
from fixative.chunkedgraph.records import I64, U64, Build, Change, floor_ms, from_ms
from fixative.errors import NotFound
from fixative.ids import to_int64, to_uint64

BATCH = 20_000


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for lo in range(0, len(rows), BATCH):
        yield rows[lo : lo + BATCH]


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for chunk in _batches(rows):
        conn.execute(table.insert(), chunk)


def _where(table: sa.Table, table_id: str) -> sa.ColumnElement[bool]:
    return table.c.table_id == table_id


def _in_range(column: sa.Column[Any], after: int, upto: int) -> sa.ColumnElement[bool]:
    return sa.and_(column > after, column <= upto)


# -- the graph row ---------------------------------------------------------------------------------


def find_graph(conn: sa.Connection, table_id: str, lock: bool = False) -> sa.Row[Any] | None:
    query = sa.select(t.cg_graphs).where(_where(t.cg_graphs, table_id))
    return conn.execute(query.with_for_update() if lock else query).first()


def get_graph(conn: sa.Connection, table_id: str, lock: bool = False) -> sa.Row[Any]:
    row = find_graph(conn, table_id, lock)
    if row is None:
        raise NotFound(f"chunkedgraph table {table_id!r} does not exist")
    return row


def last_operation_id(conn: sa.Connection, table_id: str) -> int:
    query = sa.select(t.cg_graphs.c.last_operation_id).where(_where(t.cg_graphs, table_id))
    value = conn.execute(query).scalar()
    if value is None:
        raise NotFound(f"chunkedgraph table {table_id!r} does not exist")
    return int(value)


# -- writes ----------------------------------------------------------------------------------------


def insert_graph(conn: sa.Connection, table_id: str, build: Build, edges: U64) -> None:
    """The graph row, its initial roots and assignments (operation 0) and its edges."""
    at = from_ms(build.created_ms)
    roots = np.unique(build.root_ids)
    conn.execute(
        t.cg_graphs.insert().values(
            table_id=table_id,
            created_at=at,
            user_id=build.user_id,
            last_operation_id=0,
            next_root_counter=roots.size + 1,
        )
    )
    _insert_roots(conn, table_id, to_int64(roots).tolist(), 0, at)
    svs = to_int64(build.supervoxel_ids).tolist()
    _insert_assignments(conn, table_id, svs, to_int64(build.root_ids).tolist(), 0, at)
    pairs = [(a, b) for a, b in to_int64(edges).reshape(-1, 2).tolist()]
    _insert_edges(conn, table_id, pairs, 0)


def _insert_roots(
    conn: sa.Connection, table_id: str, roots: list[int], op_id: int, at: datetime
) -> None:
    rows = [
        {"table_id": table_id, "root_id": r, "operation_id": op_id, "created_at": at} for r in roots
    ]
    _insert(conn, t.cg_roots, rows)


def _insert_assignments(
    conn: sa.Connection, table_id: str, svs: list[int], roots: list[int], op_id: int, at: datetime
) -> None:
    rows = [
        {
            "table_id": table_id,
            "supervoxel_id": sv,
            "operation_id": op_id,
            "root_id": root,
            "valid_from": at,
        }
        for sv, root in zip(svs, roots, strict=True)
    ]
    _insert(conn, t.cg_assignments, rows)


def _insert_edges(
    conn: sa.Connection, table_id: str, edges: Sequence[tuple[int, int]], op_id: int
) -> None:
    rows = [
        {"table_id": table_id, "supervoxel_a": a, "supervoxel_b": b, "added_operation_id": op_id}
        for a, b in edges
    ]
    _insert(conn, t.cg_edges, rows)


def write_change(conn: sa.Connection, table_id: str, change: Change, next_counter: int) -> None:
    op, at = change.operation, from_ms(change.timestamp_ms)
    op_id = op.operation_id
    conn.execute(
        t.cg_operations.insert().values(
            table_id=table_id,
            operation_id=op_id,
            kind=op.kind,
            user_id=op.user_id,
            timestamp=at,
            target_operation_id=op.target_operation_id,
            extra=op.extra,
        )
    )
    _insert_roots(conn, table_id, list(op.new_root_ids), op_id, at)
    roots = t.cg_roots
    conn.execute(
        roots.update()
        .where(_where(roots, table_id), roots.c.root_id.in_(op.old_root_ids))
        .values(expired_operation_id=op_id, expired_at=at)
    )
    lineage = [
        {"table_id": table_id, "old_root_id": a, "new_root_id": b, "operation_id": op_id}
        for a in op.old_root_ids
        for b in op.new_root_ids
    ]
    _insert(conn, t.cg_lineage, lineage)
    counts = [svs.size for svs in change.leaves]
    svs = to_int64(np.concatenate(change.leaves)).tolist()
    _insert_assignments(conn, table_id, svs, np.repeat(op.new_root_ids, counts).tolist(), op_id, at)
    _insert_edges(conn, table_id, op.added_edges, op_id)
    _close_edges(conn, table_id, op)
    graphs = t.cg_graphs
    conn.execute(
        graphs.update()
        .where(_where(graphs, table_id))
        .values(last_operation_id=op_id, next_root_counter=next_counter)
    )


def _close_edges(conn: sa.Connection, table_id: str, op: Operation) -> None:
    if not op.removed_edges:
        return
    edges = t.cg_edges
    close = (
        edges.update()
        .where(
            _where(edges, table_id),
            edges.c.supervoxel_a == sa.bindparam("edge_a"),
            edges.c.supervoxel_b == sa.bindparam("edge_b"),
            edges.c.removed_operation_id.is_(None),
        )
        .values(removed_operation_id=op.operation_id)
    )
    conn.execute(close, [{"edge_a": a, "edge_b": b} for a, b in op.removed_edges])


# -- reads -----------------------------------------------------------------------------------------


def _int_rows(conn: sa.Connection, query: sa.Select[Any], width: int) -> I64:
    """An all-integer result as an (n, width) int64 array, without a Python object per value
    (``np.array`` of Row objects probes each row's attributes and is 10x slower)."""
    rows = conn.execute(query).all()
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width)
    return flat.reshape(-1, width)


def load_build(conn: sa.Connection, table_id: str) -> Build:
    graph = get_graph(conn, table_id)
    a = t.cg_assignments
    pairs = _int_rows(
        conn,
        sa.select(a.c.supervoxel_id, a.c.root_id)
        .where(_where(a, table_id), a.c.operation_id == 0)
        .order_by(a.c.supervoxel_id),
        2,
    )
    return Build(
        created_ms=floor_ms(graph.created_at),
        supervoxel_ids=to_uint64(pairs[:, 0]),
        root_ids=to_uint64(pairs[:, 1]),
        user_id=graph.user_id,
    )


def load_current_edges(conn: sa.Connection, table_id: str) -> list[tuple[int, int]]:
    e = t.cg_edges
    rows = conn.execute(
        sa.select(e.c.supervoxel_a, e.c.supervoxel_b).where(
            _where(e, table_id), e.c.removed_operation_id.is_(None)
        )
    ).all()
    return [(int(a), int(b)) for a, b in rows]


def _per_operation(
    conn: sa.Connection,
    table: sa.Table,
    op_column: str,
    columns: Sequence[str],
    span: tuple[str, int, int],
) -> dict[int, I64]:
    """Rows of ``table`` for the operations in (after, upto], as int64 arrays of ``columns``
    per operation id, each ordered by ``columns``."""
    table_id, after, upto = span
    op = table.c[op_column]
    selected = [op, *(table.c[c] for c in columns)]
    query = (
        sa.select(*selected)
        .where(_where(table, table_id), _in_range(op, after, upto))
        .order_by(*selected)
    )
    rows = _int_rows(conn, query, len(selected))
    if not rows.size:
        return {}
    ops, starts = np.unique(rows[:, 0], return_index=True)
    parts = np.split(rows[:, 1:], starts[1:])
    return {int(o): part for o, part in zip(ops, parts, strict=True)}


def load_changes(conn: sa.Connection, table_id: str, after: int, upto: int) -> list[Change]:
    """Operations ``after < id <= upto`` with everything they changed, in order."""
    if upto <= after:
        return []
    o, e, span = t.cg_operations, t.cg_edges, (table_id, after, upto)
    ops = conn.execute(
        sa.select(o)
        .where(_where(o, table_id), _in_range(o.c.operation_id, after, upto))
        .order_by(o.c.operation_id)
    ).all()
    new = _per_operation(conn, t.cg_roots, "operation_id", ["root_id"], span)
    old = _per_operation(conn, t.cg_lineage, "operation_id", ["old_root_id"], span)
    leaves = _per_operation(
        conn, t.cg_assignments, "operation_id", ["root_id", "supervoxel_id"], span
    )
    ends = ["supervoxel_a", "supervoxel_b"]
    added = _per_operation(conn, e, "added_operation_id", ends, span)
    removed = _per_operation(conn, e, "removed_operation_id", ends, span)
    none = np.zeros((0, 2), dtype=np.int64)
    changes = []
    for row in ops:
        op_id = int(row.operation_id)
        new_roots = new.get(op_id, none)[:, 0]
        rows = leaves.get(op_id, none)
        parts = np.split(rows[:, 1], np.searchsorted(rows[:, 0], new_roots)[1:])
        operation = Operation(
            operation_id=op_id,
            kind=row.kind,
            user_id=row.user_id,
            timestamp=row.timestamp,
            old_root_ids=_ints(np.unique(old.get(op_id, none)[:, 0])),
            new_root_ids=_ints(new_roots),
            added_edges=_pairs(added.get(op_id, none)),
            removed_edges=_pairs(removed.get(op_id, none)),
            target_operation_id=row.target_operation_id,
            extra=dict(row.extra),
        )
        leaf_sets = tuple(to_uint64(p) for p in parts)
        changes.append(Change(operation, floor_ms(row.timestamp), leaf_sets))
    return changes


def _ints(values: I64) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _pairs(rows: I64) -> tuple[tuple[int, int], ...]:
    return tuple((int(a), int(b)) for a, b in rows)
