"""Bulk insert through the Store versus the raw limit, on both backends.

    python bench/bulk_insert.py --rows 1000000 [--backends sqlite,postgres]

PostgreSQL: the Store's insert (validation, id allocation, numpy COPY encoding, binary COPY)
against a raw binary COPY of the same rows, pre-encoded, into an identical table (same DDL and
indexes). SQLite: the Store's insert against a raw ``executemany`` of the same pre-built tuples
into an identical table. The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fixative.store import NewTable, Store, open_store
from fixative.store.postgres import copy_type
from fixative.store.sqlite import SqliteStore
from fixative.store.types import sqlite_time
from fixative.testing.annotations import synapse_columns
from fixative.testing.databases import drop_pg_database, pg_url


def _new_table(store: Store, name: str) -> None:
    store.create_table(
        NewTable(name, "synapse", "bench_av", "bench", (8, 8, 40), pcg_table_name="pcg")
    )


def _full_rows(data: pa.Table, store: Store) -> pa.Table:
    """The rows as the Store writes them (ids, CRUD columns), built outside the timed region."""
    from fixative.store.history import _with_crud

    ids = np.arange(1, data.num_rows + 1, dtype=np.int64)
    with_id = pa.table({"id": pa.array(ids), **{n: data.column(n) for n in data.column_names}})
    return _with_crud(with_id, ids, store.clock())


def _alternate(
    rounds: int, raw: Callable[[str], None], ours: Callable[[str], None]
) -> tuple[float, float]:
    """Median seconds of each path over ``rounds``, alternating which goes first (each into a
    fresh table), so neither gains from running second on warm caches."""
    raw_s: list[float] = []
    store_s: list[float] = []
    for r in range(rounds):
        order = [(raw, raw_s, f"raw_{r}"), (ours, store_s, f"via_store_{r}")]
        for fn, times, table in order if r % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            fn(table)
            times.append(time.perf_counter() - start)
    return statistics.median(store_s), statistics.median(raw_s)


def bench_postgres(data: pa.Table, rounds: int) -> tuple[float, float]:
    from fixative.store import pgcopy

    name = f"fixative_bench_{int(time.time())}"
    store = open_store(pg_url(name))
    try:
        for r in range(rounds):
            _new_table(store, f"raw_{r}")
            _new_table(store, f"via_store_{r}")
        rows = _full_rows(data, store)
        table = store.table_object("raw_0")
        columns = [pgcopy.CopyColumn(n, copy_type(table.c[n])) for n in rows.column_names]
        payloads = [
            pgcopy.encode(rows.slice(lo, 200_000), columns)
            for lo in range(0, rows.num_rows, 200_000)
        ]

        def raw_copy(target: str) -> None:
            sql = f"COPY {target} ({', '.join(c.name for c in columns)}) FROM STDIN (FORMAT BINARY)"
            raw = store.engine.raw_connection()
            with raw.cursor() as cur:  # type: ignore[attr-defined]
                for payload in payloads:
                    with cur.copy(sql) as copy:
                        copy.write(payload)
            raw.commit()
            raw.close()

        return _alternate(rounds, raw_copy, lambda t: _insert(store, t, data))
    finally:
        store.dispose()
        drop_pg_database(name)


def _insert(store: Store, table: str, data: pa.Table) -> None:
    store.insert_annotations(table, data)
    assert store.count_at(table, store.clock()) == data.num_rows


def bench_sqlite(data: pa.Table, workdir: Path, rounds: int) -> tuple[float, float]:
    store = open_store(f"sqlite:///{workdir / 'bench.sqlite'}")
    assert isinstance(store, SqliteStore)
    try:
        for r in range(rounds):
            _new_table(store, f"raw_{r}")
            _new_table(store, f"via_store_{r}")
        rows = _full_rows(data, store)
        names = [n for n in rows.column_names if n not in ("deleted", "superceded_id")]
        created = sqlite_time(rows.column("created")[0].as_py())
        values: list[list[Any]] = [
            [created] * rows.num_rows if n == "created" else rows.column(n).to_pylist()
            for n in names
        ]
        tuples = list(zip(*values, strict=True))

        def raw_rows(target: str) -> None:
            marks = ", ".join("?" for _ in names)
            raw = store.engine.raw_connection()
            cur = raw.cursor()
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany(f"INSERT INTO {target} ({', '.join(names)}) VALUES ({marks})", tuples)
            cur.execute("COMMIT")
            raw.close()

        return _alternate(rounds, raw_rows, lambda t: _insert(store, t, data))
    finally:
        store.dispose()


def _figure(backend: str, rows: int, store_s: float, raw_s: float, baseline: str) -> dict[str, Any]:
    ours, limit = rows / store_s, rows / raw_s
    print(
        f"{backend}: store {store_s:.2f} s ({ours:,.0f} rows/s); "
        f"{baseline} {raw_s:.2f} s ({limit:,.0f} rows/s)"
    )
    return {
        "figure": f"{backend}_bulk_insert_rows_per_s",
        "value": round(ours),
        "unit": "rows/s",
        "baseline": f"{baseline} {round(limit)} rows/s",
        "ratio": round(ours / limit, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; medians")
    args = parser.parse_args()
    data = synapse_columns(args.rows, seed=1)
    print(f"bulk insert of {args.rows:,} synapse rows (3 points, 1 float, spatial indexes on)")
    figures = []
    backends = args.backends.split(",")
    if "postgres" in backends:
        store_s, raw_s = bench_postgres(data, args.rounds)
        figures.append(_figure("postgres", args.rows, store_s, raw_s, "raw binary COPY"))
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            store_s, raw_s = bench_sqlite(data, Path(tmp), args.rounds)
        figures.append(_figure("sqlite", args.rows, store_s, raw_s, "raw executemany"))
    for fig in figures:
        print(json.dumps(fig))


if __name__ == "__main__":
    main()
