"""Reads by binary COPY (statements whose only parameters are integers, written in as literals)
against the server-side cursor they replaced: the same rows with the same driver types for
every kind of statement the engine makes, batches still at most ``batch_rows``, a COPY closed
early is cancelled rather than read to its end, and one cut mid-stream fails."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyarrow as pa
import pytest
import sqlalchemy as sa
from query_world import QueryWorld
from sqlalchemy.dialects.postgresql import psycopg
from test_version_query import TAG_CELL, some_values

from fixative.errors import Transient
from fixative.query.columns import flat_columns
from fixative.query.compile import VersionQuery
from fixative.query.engine import QueryEngine
from fixative.query.pgstream import (
    CopyCursor,
    FetchCursor,
    PooledRead,
    PostgresVersion,
    inlined_sql,
)
from fixative.query.plan import make_plan
from fixative.query.spec import Filter, QuerySpec
from fixative.testing.databases import PG_SERVER
from fixative.versions import list_versions

DIALECT = psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def test_only_int64_integer_parameters_are_written_in() -> None:
    t = sa.table("t", sa.column("a", sa.BigInteger()), sa.column("s", sa.Text()))
    base = sa.select(t.c.a).order_by(t.c.a)
    assert inlined_sql(base, DIALECT) == "SELECT t.a \nFROM t ORDER BY t.a"
    paged = base.where(t.c.a > sa.bindparam(None, -5, sa.BigInteger())).offset(3).limit(10)
    assert inlined_sql(paged, DIALECT) == (
        "SELECT t.a \nFROM t \nWHERE t.a > -5 ORDER BY t.a \n LIMIT 10 OFFSET 3"
    )
    refused = [
        base.where(t.c.s == sa.bindparam(None, "x'; DROP TABLE t; --", sa.Text())),
        base.where(t.c.a > sa.bindparam(None, 1.5, sa.Float())),
        base.where(t.c.a > sa.bindparam(None, 2, sa.Float())),  # an int bound as a float
        base.where(t.c.a > sa.bindparam(None, True, sa.BigInteger())),
        base.where(t.c.a > sa.bindparam(None, 2**63, sa.Numeric())),
        base.where(t.c.a > sa.bindparam(None, 2**63, sa.BigInteger())),
    ]
    for query in refused:
        assert inlined_sql(query, DIALECT) is None, query


def _pg(shared: QueryWorld) -> None:
    if shared.store.dialect_name != "postgresql":
        pytest.skip("COPY reads are PostgreSQL's")


def _read(cursor: PooledRead) -> list[list[pa.Array]]:
    out = []
    try:
        while (columns := cursor.fetch()) is not None:
            out.append(columns)
    finally:
        cursor.close()
    return out


def _whole(batches: list[list[pa.Array]], width: int) -> list[pa.ChunkedArray] | None:
    """Each column's batches as one array (None: no batch at all, the empty result)."""
    if not batches:
        return None
    return [pa.chunked_array([b[k] for b in batches]) for k in range(width)]


def _specs(world: QueryWorld) -> list[QuerySpec]:
    roots = some_values(world, "synapses", "pre_pt_root_id")
    ids = some_values(world, "synapses", "id")
    syn = "synapses"
    box = Filter(syn, "pre_pt_position", "spatial", ((0, 0, 0), (100, 150, 200)))
    return [
        QuerySpec((syn,)),
        QuerySpec((syn,), limit=7, offset=3),
        QuerySpec((syn,), filters=(Filter(syn, "pre_pt_root_id", "in", roots[:3]),)),
        QuerySpec((syn,), filters=(Filter(syn, "id", "greater", ids[4]),)),
        QuerySpec((syn,), filters=(Filter(syn, "id", "in", []),)),  # no rows
        QuerySpec((syn,), filters=(box,)),
        QuerySpec(("cells",)),
        QuerySpec(("nuclei",)),  # NULL points
        QuerySpec(("tags", "cells"), joins=(TAG_CELL,)),
    ]


def test_copy_reads_return_what_the_cursor_returned(
    shared: QueryWorld, shared_engine: QueryEngine
) -> None:
    _pg(shared)
    for version in (1, 2):
        opened = shared_engine.opened_version(shared.datastack, version)
        db = opened.database
        assert isinstance(db, PostgresVersion)
        for spec in _specs(shared):
            tables = [flat_columns(shared.store.get_table(n)) for n in spec.tables]
            plan = make_plan(spec, tables, 1000)
            query = VersionQuery(plan, "postgresql", opened.info.history_at).rows()
            inlined = inlined_sql(query, db.dialect)
            assert inlined is not None, spec  # every one of these streams by COPY
            width = len(plan.raw_columns)
            copied = _read(db.open_cursor(query, [], 5))
            db.copy_reads = False
            try:
                fetched = _read(db.open_cursor(query, [], 5))
            finally:
                db.copy_reads = True
            assert all(len(b[0]) <= 5 for b in copied + fetched)
            got, want = _whole(copied, width), _whole(fetched, width)
            if got is None or want is None:
                assert got is want is None, spec
                continue
            assert [c.type for c in got] == [c.type for c in want], spec
            assert got == want, spec
            if spec.tables == ("synapses",) and not spec.filters and spec.limit is None:
                assert sum(len(b[0]) for b in copied) > 5  # more than one batch


@pytest.fixture
def database(shared: QueryWorld) -> Iterator[PostgresVersion]:
    _pg(shared)
    db = PostgresVersion(shared.store, list_versions(shared.store, shared.datastack)[0])
    yield db
    db.dispose()


LONG = sa.select(sa.func.generate_series(1, 30_000_000, type_=sa.BigInteger()).label("c0"))


def _copy_backend() -> list[int]:
    engine = sa.create_engine(f"{PG_SERVER}/postgres")
    try:
        with engine.connect() as conn:
            sql = (
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT generate_series%'"
            )
            return [int(p) for p in conn.execute(sa.text(sql)).scalars()]
    finally:
        engine.dispose()


def test_a_copy_closed_early_is_cancelled(database: PostgresVersion) -> None:
    cursor = database.open_cursor(LONG, [pa.int64()], 1000)
    assert isinstance(cursor, CopyCursor)
    first = cursor.fetch()
    assert first is not None
    assert first[0].to_pylist() == list(range(1, 1001))
    start = time.perf_counter()
    cursor.close()
    assert time.perf_counter() - start < 2  # reading the rest takes several seconds
    assert cursor.fetch() is None
    assert database.scalar(sa.select(sa.literal(3))) == 3  # the database still serves
    short = database.open_cursor(sa.select(sa.literal(4, sa.BigInteger()).label("c0")), [], 10)
    assert [c.to_pylist() for c in _read(short)[0]] == [[4]]


def _count(cursor: PooledRead, arrived: list[int]) -> None:
    while (columns := cursor.fetch()) is not None:
        arrived.append(len(columns[0]))


def test_a_copy_cut_mid_stream_fails(database: PostgresVersion) -> None:
    cursor = database.open_cursor(LONG, [pa.int64()], 100_000)
    assert cursor.fetch() is not None
    pids = _copy_backend()
    assert len(pids) == 1
    engine = sa.create_engine(f"{PG_SERVER}/postgres")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pids[0]})
    finally:
        engine.dispose()
    arrived: list[int] = []
    with pytest.raises(Transient):
        _count(cursor, arrived)  # what arrived before the cut, then the failure
    assert sum(arrived) < 30_000_000
    assert cursor.fetch() is None  # closed
    assert database.scalar(sa.select(sa.literal(5))) == 5


def test_a_cursor_read_still_serves_bound_parameters(database: PostgresVersion) -> None:
    query = sa.select(sa.literal("a'b", sa.Text()).label("c0"))
    cursor = database.open_cursor(query, [], 10)
    assert isinstance(cursor, FetchCursor)
    assert [c.to_pylist() for c in _read(cursor)[0]] == [["a'b"]]
