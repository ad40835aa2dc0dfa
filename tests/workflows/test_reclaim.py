"""Reclaiming the space of rewritten rows, on every backend: a version whose root update
rewrote enough rows vacuums that table's segmentation table and history once the version is
published (PostgreSQL's statistics count the VACUUM), a smaller one leaves them to autovacuum,
and a compaction vacuums what it dropped intervals from. SQLite has nothing to do."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from workflow_world import SEG_TABLE, TABLE, World

from fixative.store import Store
from fixative.store.tables import history_table_name
from fixative.workflows import reclaim as reclaim_module
from fixative.workflows.materialize import VersionRequest, materialize
from fixative.workflows.reclaim import reclaim

HISTORY = history_table_name(SEG_TABLE)


def _vacuums(store: Store) -> dict[str, int]:
    """PostgreSQL's count of manual VACUUMs per table (SQLite: none)."""
    if store.engine.dialect.name != "postgresql":
        return {}
    with store.read() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname IN (:a, :b)"
            ),
            {"a": SEG_TABLE, "b": HISTORY},
        )
        return {str(name): int(count) for name, count in rows}


def _edit(world: World) -> None:
    c = world.chains
    world.cg.merge(int(c[0, 0]), int(c[1, 3]), "ed")
    world.cg.split([int(v) for v in c[2, :3]], [int(v) for v in c[2, 3:]], "ed")


def _version(world: World) -> Any:
    return materialize(world.store, world.seg, world.cg, VersionRequest("ds", "av", world.clock()))


@pytest.fixture
def vacuumed(world: World, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What each ``Store.vacuum`` call was asked to vacuum."""
    calls: list[list[str]] = []
    real = world.store.vacuum

    def vacuum(*names: str) -> list[str]:
        calls.append(list(names))
        return real(*names)

    monkeypatch.setattr(world.store, "vacuum", vacuum)
    return calls


def test_a_version_vacuums_the_tables_its_root_update_rewrote(
    world: World, vacuumed: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reclaim_module, "RECLAIM_AFTER_ROWS", 50)
    world.insert(3000, seed=3)
    _version(world)  # the first: every row ingested, none rewritten
    before = _vacuums(world.store)
    _edit(world)

    made = _version(world)

    rewritten = made.refreshed[TABLE].roots.rows_touched
    assert rewritten >= 50
    assert vacuumed == [[], [SEG_TABLE, HISTORY]]
    after = _vacuums(world.store)
    if world.store.engine.dialect.name == "postgresql":
        assert {name: after[name] - before[name] for name in after} == {SEG_TABLE: 1, HISTORY: 1}
    else:
        assert after == {}
    assert made.version.status == "AVAILABLE"


def test_a_small_root_update_leaves_the_tables_to_autovacuum(
    world: World, vacuumed: list[list[str]]
) -> None:
    world.insert(500, seed=4)
    _version(world)
    _edit(world)

    made = _version(world)

    assert 0 < made.refreshed[TABLE].roots.rows_touched < reclaim_module.RECLAIM_AFTER_ROWS
    assert vacuumed == [[], []]


def test_reclaim_vacuums_the_tables_at_its_threshold(world: World) -> None:
    world.insert(100, seed=5)
    _version(world)
    store = world.store
    expected = [SEG_TABLE, HISTORY] if store.engine.dialect.name == "postgresql" else []

    assert reclaim(store, {TABLE: 99}, min_rows=100) == []
    assert reclaim(store, {TABLE: 100}, min_rows=100) == expected
