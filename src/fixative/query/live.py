"""Live queries: the answer a version built at T would give, for any instant T.

Per table of the query (joined tables too), the rows at T are:

1. the base's rows (the newest AVAILABLE version at or before T holding the table, or the
   table's latest recorded instant at or before T when it is later: its root-id history there;
   else the oldest version after T; none when there is no such version), read with every
   non-root filter in
   SQL; ``in``/``equal`` root filters are widened to the roots' past ids at the version's instant
   (``get_past_id_mapping``) when the version is older than T, else not pushed down;
2. minus the ids visible at the version's instant but not at T (one indexed query on the live
   table), plus the live rows visible at T but not at the version's instant, with their
   segmentation rows. Such a row without a segmentation row raises ``Conflict`` (run ingest):
   its supervoxels are unknown; when there is none, nothing is refused;
3. root ids moved to T: roots not latest at T (``is_latest_roots``) are re-resolved from their
   supervoxels (``get_roots(sv, T)``); a NULL root with a supervoxel is resolved too;
4. root filters applied exactly.

Then the tables are joined, ordered by ids, sampled, paged and shaped in memory with Arrow.
When T is exactly the instant of the version every table starts from, the query streams from
that version instead.
The result is built in memory (each table's filtered rows at T, the joined result bounded by the
row cap after paging); it is then sent in batches of ``batch_rows``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from fixative.chunkedgraph.port import ChunkedGraph
from fixative.clock import as_utc
from fixative.errors import Conflict, FixativeError, InvalidInput
from fixative.ids import to_int64, to_uint64
from fixative.query.columns import TableColumns
from fixative.query.compile import filter_clause, int_set, relation
from fixative.query.filters import CheckedFilter
from fixative.query.plan import QueryPlan
from fixative.query.shape import shape, typed
from fixative.store.history import visible_at
from fixative.versions import list_versions
from fixative.versions.model import VersionInfo

if TYPE_CHECKING:
    from fixative.query.engine import OpenVersion, QueryEngine, QueryResult


class LiveRelation:
    """The live annotation table with its segmentation table (for root and supervoxel ids)."""

    def __init__(self, engine: QueryEngine, table: TableColumns) -> None:
        self.store = engine.store
        self.ann = self.store.table_object(table.name)
        seg = table.info.segmentation_table
        self.seg = self.store.table_object(seg) if seg is not None else None

    def col(self, name: str) -> sa.ColumnElement[Any]:
        if self.seg is not None and name in self.seg.c and name != "id":
            return self.seg.c[name]
        return self.ann.c[name]

    def box(self, point: Any, lo: Any, hi: Any) -> Any:
        return self.store.box_clause(self.ann, point.name, lo, hi)


def run_live_query(
    engine: QueryEngine, datastack: str, at: datetime, plan: QueryPlan
) -> QueryResult:
    from fixative.query.engine import QueryResult

    if not isinstance(at, datetime | str | int | float):
        raise InvalidInput(f"bad timestamp {at!r}")
    at = as_utc(at)
    if at > engine.store.clock():
        raise InvalidInput(f"timestamp {at.isoformat()} is in the future")
    needs_graph = any(t.root_columns for t in plan.tables)
    graph = engine.graphs(datastack) if needs_graph else None
    versions = list_versions(engine.store, datastack)
    bases = [_base(engine, versions, t.name, at) for t in plan.tables]
    first = bases[0]
    if first is not None and first.info.time_stamp == at and all(b is first for b in bases):
        return engine.stream(first, plan)  # exactly a version: stream it
    frames = []
    for i, (table, base) in enumerate(zip(plan.tables, bases, strict=True)):
        filters = [f for f in plan.filters if f.index == i]
        rows = _table_at(engine, datastack, table, at, base, filters, graph)
        frames.append(rows.rename_columns([f"{i}:{n}" for n in rows.column_names]))
    combined = _joined(plan, frames)
    order = pc.sort_indices(
        combined, sort_keys=[(f"{i}:id", "ascending") for i in range(len(plan.tables))]
    )
    combined = combined.take(order)
    if plan.sample is not None and plan.sample < combined.num_rows:
        picked = np.sort(np.random.default_rng().choice(combined.num_rows, plan.sample, False))
        combined = combined.take(pa.array(picked))
    combined = combined.slice(plan.offset, plan.limit)
    raw = [combined.column(f"{i}:{c.name}").combine_chunks() for i, c in plan.raw_columns]
    schema = plan.schema
    step = engine.batch_rows
    batches = [
        shape(plan, [a.slice(lo, step) for a in raw], schema)
        for lo in range(0, combined.num_rows, step)
    ]
    return QueryResult(
        schema=schema,
        batches=iter(batches),
        resolution=plan.resolution,
        warnings=list(plan.warnings),
        column_names=plan.column_names,
    )


def _base(
    engine: QueryEngine, versions: list[VersionInfo], table: str, at: datetime
) -> OpenVersion | None:
    """What the table's rows at ``at`` start from (see the module doc): the latest of the
    newest version at or before ``at`` holding it and the table's latest recorded instant at
    or before ``at`` (its root-id history there); else the oldest version after ``at``."""
    past = [v for v in versions if v.time_stamp <= at][::-1]
    future = [v for v in versions if v.time_stamp > at]
    found = _opened_first(engine, past, table)
    recorded = engine.recorded_instant(table, at)
    if recorded is not None and (found is None or recorded > found.info.time_stamp):
        return engine.history_at(table, recorded)
    return found if found is not None else _opened_first(engine, future, table)


def _opened_first(
    engine: QueryEngine, versions: list[VersionInfo], table: str
) -> OpenVersion | None:
    for v in versions:
        try:
            opened = engine.opened_version(v.datastack, v.version, listed=v)
        except Conflict:  # expired since it was listed
            continue
        if table in opened.tables:
            return opened
    return None


def _table_at(
    engine: QueryEngine,
    datastack: str,
    table: TableColumns,
    at: datetime,
    base: OpenVersion | None,
    filters: list[CheckedFilter],
    graph: ChunkedGraph | None,
) -> pa.Table:
    plain = [f for f in filters if f.column is None or not f.column.root]
    roots = [f for f in filters if f.column is not None and f.column.root]
    live = LiveRelation(engine, table)
    parts = []
    since = None
    if base is not None:
        since = base.info.time_stamp
        version_rows = _version_rows(engine, table, base, plain, roots, at, graph)
        # no annotation written between the base and ``at``: nothing gone, nothing new
        untouched = table.info.last_modified_at <= min(since, at)
        gone = np.empty(0, np.int64) if untouched else _gone_ids(engine, live, since, at)
        if gone.size:
            keep = pc.invert(pc.is_in(version_rows.column("id"), value_set=pa.array(gone)))
            version_rows = version_rows.filter(keep)
        parts.append(version_rows)
        if not untouched:
            parts.append(_delta_rows(engine, table, live, since, at, plain, datastack))
    else:
        parts.append(_delta_rows(engine, table, live, since, at, plain, datastack))
    rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if graph is not None:
        rows = _roots_at(table, rows, at, graph)
    for f in roots:
        rows = rows.filter(_mask(rows.column(f.name), f))
    return rows


def _version_rows(
    engine: QueryEngine,
    table: TableColumns,
    base: OpenVersion,
    plain: list[CheckedFilter],
    roots: list[CheckedFilter],
    at: datetime,
    graph: ChunkedGraph | None,
) -> pa.Table:
    db = base.database
    rel = relation(table, "t0", db.dialect_name, base.info.history_at)
    where = [filter_clause(rel, f, db.dialect_name) for f in plain]
    if graph is not None and base.info.time_stamp <= at:
        for f in roots:
            widened = _widened(f, base.info.time_stamp, at, graph)
            if widened is not None:
                assert f.column is not None
                where.append(int_set(rel.col(f.column.name), widened, db.dialect_name))
    cols = [rel.col(c.name).label(f"c{k}") for k, c in enumerate(table.columns)]
    query = sa.select(*cols).where(*[w for w in where if w is not None])
    types = [c.arrow_type for c in table.columns]
    cursor = db.open_cursor(query, types, engine.batch_rows)
    chunks: list[list[pa.Array]] = []
    try:
        while (got := cursor.fetch()) is not None:
            chunks.append(got)
    finally:
        cursor.close()
    arrays = []
    for k, c in enumerate(table.columns):
        pieces = [typed(chunk[k], c.arrow_type) for chunk in chunks]
        arrays.append(pa.concat_arrays(pieces) if pieces else pa.array([], c.arrow_type))
    return pa.Table.from_arrays(arrays, names=[c.name for c in table.columns])


def _widened(
    f: CheckedFilter, past: datetime, at: datetime, graph: ChunkedGraph
) -> list[int] | None:
    """The filter's roots and their ids at ``past``, or None when it cannot be pushed down."""
    if f.op not in ("in", "equal"):
        return None
    values = [f.value] if f.op == "equal" else list(f.value)
    wanted = [v for v in values if v > 0]
    if not wanted:
        return values
    try:
        past_map, _ = graph.get_past_id_mapping(to_uint64(wanted), past, at)
    except FixativeError:
        return None
    found = set(values)
    for ids in past_map.values():
        found.update(int(i) for i in ids)
    return sorted(found)


def _gone_ids(engine: QueryEngine, live: LiveRelation, since: datetime, at: datetime) -> Any:
    """Ids visible at ``since`` but not at ``at``."""
    a = live.ann
    lo, hi = min(since, at), max(since, at)
    window = sa.or_(
        sa.and_(a.c.created > lo, a.c.created <= hi),
        sa.and_(a.c.deleted.is_not(None), a.c.deleted > lo, a.c.deleted <= hi),
    )
    query = sa.select(a.c.id).where(window, visible_at(a, since), sa.not_(visible_at(a, at)))
    with engine.store.read() as conn:
        ids = list(conn.execute(query).scalars())
    return np.asarray(ids, dtype=np.int64)


def _delta_rows(
    engine: QueryEngine,
    table: TableColumns,
    live: LiveRelation,
    since: datetime | None,
    at: datetime,
    plain: list[CheckedFilter],
    datastack: str,
) -> pa.Table:
    """Live rows visible at ``at`` and not at ``since`` (all rows at ``at`` without a base);
    rows not ingested yet get their supervoxels from the volume and NULL roots."""
    a = live.ann
    dialect = engine.store.dialect_name
    where = [visible_at(a, at)]
    if since is not None:
        lo, hi = min(since, at), max(since, at)
        where.append(
            sa.or_(
                sa.and_(a.c.created > lo, a.c.created <= hi),
                sa.and_(a.c.deleted.is_not(None), a.c.deleted > lo, a.c.deleted <= hi),
            )
        )
        where.append(sa.not_(visible_at(a, since)))
    where += [c for c in (filter_clause(live, f, dialect) for f in plain) if c is not None]
    cols = [live.col(c.name) for c in table.columns]
    source: Any = a
    if live.seg is not None:
        source = a.outerjoin(live.seg, live.seg.c.id == a.c.id)
        cols.append(live.seg.c.id.label("fixative_linked"))
    with engine.store.read() as conn:
        rows = conn.execute(sa.select(*cols).select_from(source).where(*where)).all()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
    arrays = [pa.array(list(v), c.arrow_type) for v, c in zip(columns, table.columns, strict=False)]
    found = pa.Table.from_arrays(arrays, names=[c.name for c in table.columns])
    if live.seg is None:
        return found
    unlinked = np.fromiter((v is None for v in columns[-1]), dtype=bool, count=len(rows))
    if not unlinked.any():
        return found
    return _linked_here(engine, datastack, table, found, unlinked, at)


def _linked_here(
    engine: QueryEngine,
    datastack: str,
    table: TableColumns,
    rows: pa.Table,
    unlinked: npt.NDArray[np.bool_],
    at: datetime,
) -> pa.Table:
    """``rows`` with the supervoxels of the ``unlinked`` ones read from the volume (0 outside
    it, or for a missing optional point) and their roots NULL, for ``_roots_at`` to resolve."""
    missing = int(np.count_nonzero(unlinked))
    if engine.volumes is None or missing > engine.unlinked_cap:
        raise Conflict(
            f"table {table.name!r}: {missing} row(s) visible at {at.isoformat()} have no "
            "supervoxel or root ids yet; run ingest on the table first"
        )
    volume = engine.volumes(datastack)
    take = pa.array(np.flatnonzero(unlinked))
    for root in table.root_columns:
        assert root.point is not None
        xyz = [rows.column(c.name).take(take) for c in table.point_columns(root.point)]
        present = np.asarray(xyz[0].is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        points = np.stack(
            [np.asarray(a.fill_null(0).to_numpy(zero_copy_only=False), np.int64) for a in xyz],
            axis=1,
        )
        found = np.zeros(missing, dtype=np.int64)
        if present.any():
            looked = volume.lookup(points[present], table.resolution, outside="zero")
            found[present] = to_int64(looked)
        sv = table.supervoxel_of(root)
        before = rows.column(sv.name).combine_chunks()
        svs = np.array(before.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        svs[unlinked] = found
        kept_nulls = np.asarray(before.is_null().to_numpy(zero_copy_only=False), bool) & ~unlinked
        rows = rows.set_column(
            rows.schema.get_field_index(sv.name),
            sv.name,
            pa.array(svs, pa.int64(), mask=kept_nulls if kept_nulls.any() else None),
        )
        roots = rows.column(root.name).combine_chunks()
        nulls = np.asarray(roots.is_null().to_numpy(zero_copy_only=False), dtype=bool) | unlinked
        values = np.asarray(roots.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        rows = rows.set_column(
            rows.schema.get_field_index(root.name),
            root.name,
            pa.array(values, pa.int64(), mask=nulls),
        )
    return rows


def _roots_at(table: TableColumns, rows: pa.Table, at: datetime, graph: ChunkedGraph) -> pa.Table:
    """Every root column moved to ``at``: stale or missing roots re-resolved from supervoxels."""
    for root in table.root_columns:
        sv_col = table.supervoxel_of(root)
        svs = rows.column(sv_col.name).combine_chunks()
        current = rows.column(root.name).combine_chunks()
        has_sv = np.asarray(svs.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        root_np = np.asarray(current.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        stale = np.asarray(current.is_null().to_numpy(zero_copy_only=False), dtype=bool) & has_sv
        candidates = np.unique(root_np[root_np > 0])
        if candidates.size:
            latest = np.asarray(graph.is_latest_roots(to_uint64(candidates), at), dtype=bool)
            old = candidates[~latest]
            stale |= np.isin(root_np, old) & (root_np > 0)
        if not stale.any():
            continue
        sv_np = np.asarray(svs.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        fresh = to_int64(graph.get_roots(to_uint64(sv_np[stale]), at))
        root_np = root_np.copy()
        root_np[stale] = fresh
        nulls = np.asarray(current.is_null().to_numpy(zero_copy_only=False), dtype=bool) & ~stale
        updated = pa.array(root_np, pa.int64(), mask=nulls if nulls.any() else None)
        rows = rows.set_column(rows.schema.get_field_index(root.name), root.name, updated)
    return rows


def _mask(values: Any, f: CheckedFilter) -> pa.Array:
    """The rows of ``values`` matching a (root-id) filter; NULL never matches."""
    if f.op in ("in", "not_in"):
        if f.op == "not_in" and not f.value:
            return pa.array(np.ones(len(values), dtype=bool))
        inside = pc.is_in(values, value_set=pa.array(list(f.value), pa.int64()))
        hit = inside if f.op == "in" else pc.invert(inside)
    else:
        scalar = pa.scalar(f.value, pa.int64())
        op = {
            "equal": pc.equal,
            "greater": pc.greater,
            "less": pc.less,
            "greater_equal": pc.greater_equal,
            "less_equal": pc.less_equal,
        }[f.op]
        hit = op(values, scalar)
    return pc.and_(pc.fill_null(hit, False), pc.is_valid(values))


def _joined(plan: QueryPlan, frames: list[pa.Table]) -> pa.Table:
    combined = frames[0]
    for new, conds in plan.order:
        left_keys, right_keys = [], []
        for j in conds:
            if j.right == new:
                left_keys.append(f"{j.left}:{j.left_column.name}")
                right_keys.append(f"{j.right}:{j.right_column.name}")
            else:
                left_keys.append(f"{j.right}:{j.right_column.name}")
                right_keys.append(f"{j.left}:{j.left_column.name}")
        combined = combined.join(
            frames[new],
            keys=left_keys,
            right_keys=right_keys,
            join_type="inner",
            coalesce_keys=False,
        )
    return combined
