"""Simultaneous first requests after a start: every thread of a fresh store asks for the same
tables at once (the server's first queries). None may fail, and all must share one definition."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from fixative.store import NewTable, Store, open_store
from fixative.testing.annotations import synapse_columns
from fixative.testing.clock import TickingClock

THREADS = 16
ROUNDS = 5


def _first_use(url: str, names: list[str], at: datetime) -> list[object]:
    fresh = open_store(url, TickingClock())
    barrier = threading.Barrier(THREADS)

    def ask(i: int) -> object:
        barrier.wait()
        name = names[i % len(names)]
        table = fresh.table_object(name)
        assert fresh.count_at(name.split("__")[0], at) == 50
        return table

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(ask, range(THREADS)))
    finally:
        fresh.dispose()


def test_simultaneous_first_requests_share_one_table_definition(
    store: Store, store_url: str
) -> None:
    store.create_table(NewTable("synapses", "synapse", "av", "u", (8, 8, 40), pcg_table_name="pcg"))
    store.insert_annotations("synapses", synapse_columns(50, seed=3))
    names = ["synapses", "synapses__pcg"]
    for _ in range(ROUNDS):
        tables = _first_use(store_url, names, store.clock())
        by_name: dict[str, set[int]] = {}
        for i, table in enumerate(tables):
            by_name.setdefault(names[i % 2], set()).add(id(table))
        assert {k: len(v) for k, v in by_name.items()} == {"synapses": 1, "synapses__pcg": 1}
