"""The root-id history that ingest, root updates and uploads record, on every backend: at each
recorded instant it holds exactly the oracle's roots (get_roots of the row's supervoxel at that
instant) for the rows linked by then; a row's intervals never overlap; work run again records
nothing new; a database from before the history gets it by migration; on PostgreSQL the primary
keys of the segmentation table and its history leave room for what root updates insert."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from importlib.resources import files

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from workflow_world import POINTS, SEG_TABLE, TABLE, World

from fixative.store import tables as t
from fixative.store.root_history import rows_at
from fixative.store.segmentation import SegmentationTable
from fixative.workflows.refresh import refresh_table
from fixative.workflows.update_roots import update_roots


def _edits(world: World, round_: int) -> None:
    c = world.chains
    k = 6 * round_
    world.cg.merge(int(c[k, 0]), int(c[k + 1, 3]), "ed")
    world.cg.split([int(v) for v in c[k + 2, :3]], [int(v) for v in c[k + 2, 3:]], "ed")
    world.cg.merge(int(c[k + 3, 7]), int(c[k + 4, 0]), "ed")
    world.cg.split([int(c[k + 3, 0])], [int(c[k + 4, 7])], "ed")


def _check_at(world: World, at: datetime) -> None:
    """The intervals holding ``at`` are the oracle's links at ``at``."""
    seg = SegmentationTable.of(world.store.get_table(TABLE))
    with world.store.read() as conn:
        ids, values = rows_at(conn, seg, at)
    np.testing.assert_array_equal(ids, world.ids_created_by(at))
    ann = world.annotations()
    rows = np.searchsorted(np.asarray(ann.column("id").to_numpy()), ids)
    for i, p in enumerate(POINTS):
        xyz = np.stack(
            [np.asarray(ann.column(f"{p}_position_{a}").to_numpy())[rows] for a in "xyz"], axis=1
        )
        svs = values[:, 2 * i].astype(np.uint64)
        np.testing.assert_array_equal(svs, world.expected_supervoxels(xyz))
        np.testing.assert_array_equal(values[:, 2 * i + 1], world.cg.get_roots(svs, at))


def test_every_recorded_instant_holds_the_oracles_roots(world: World) -> None:
    instants = []
    for round_ in range(3):
        world.insert(150, seed=round_)
        if round_:
            _edits(world, round_ - 1)
        at = world.clock()
        refresh_table(world.store, world.seg, world.cg, TABLE, at)
        instants.append(at)
    for at in instants:
        _check_at(world, at)
    history = world.history()
    by_id: dict[int, list[dict[str, object]]] = {}
    for row in history:
        by_id.setdefault(int(row["id"]), []).append(row)  # type: ignore[call-overload]
    changed = 0
    for rows in by_id.values():
        for a, b in itertools.pairwise(rows):
            assert a["valid_to"] == b["valid_from"]  # no gap, no overlap
        assert rows[-1]["valid_to"] is None
        changed += len(rows) - 1
    assert changed > 0  # the edits moved some roots
    assert len(by_id) == 450

    before = world.history()
    update_roots(world.store, world.cg, TABLE, instants[-1])  # run again: nothing new
    refresh_table(world.store, world.seg, world.cg, TABLE, instants[-1])
    assert world.history() == before


def test_a_database_from_before_the_history_gets_it_by_migration(world: World) -> None:
    world.insert(60, seed=9)
    at = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, at)
    cfg = Config()
    cfg.set_main_option("script_location", str(files("fixative.store") / "migrations"))
    with world.store.write() as conn:  # back to the database as it stood at revision 0010
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
        assert t.history_table_name(SEG_TABLE) not in sa.inspect(conn).get_table_names()
    world.store.migrate()
    _check_at(world, at)
    assert {r["valid_from"] for r in world.history()} == {at}


def _key_fillfactors(world: World) -> dict[str, str | None]:
    """The fillfactor set on the primary keys of the segmentation table and its history."""
    found: dict[str, str | None] = {}
    with world.store.read() as conn:
        for table in (SEG_TABLE, t.history_table_name(SEG_TABLE)):
            [options] = conn.execute(
                sa.text(
                    "SELECT c.reloptions FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                    "WHERE x.indrelid = to_regclass(:t) AND x.indisprimary"
                ),
                {"t": f'"{table}"'},
            ).one()
            found[table] = next((o for o in options or [] if o.startswith("fillfactor=")), None)
    return found


def test_the_keys_leave_room_for_root_updates_and_older_databases_get_it(world: World) -> None:
    if world.store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no fillfactor")
    room = f"fillfactor={t.KEY_FILLFACTOR}"
    assert set(_key_fillfactors(world).values()) == {room}
    cfg = Config()
    cfg.set_main_option("script_location", str(files("fixative.store") / "migrations"))
    with world.store.write() as conn:  # back to the database as it stood at revision 0015
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    assert set(_key_fillfactors(world).values()) == {None}
    world.store.migrate()
    assert set(_key_fillfactors(world).values()) == {room}


def test_a_refresh_records_its_instant_only_when_every_row_is_linked(world: World) -> None:
    from fixative.store.root_history import latest_instant
    from fixative.workflows.refresh import _record_if_whole

    world.insert(40, seed=21)
    at = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, at)
    world.insert(5, seed=22)  # written after the refresh, not linked
    later = world.clock()
    _record_if_whole(world.store, TABLE, later)
    with world.store.read() as conn:
        assert latest_instant(conn, TABLE, later) == at  # not ``later``: 5 rows unlinked
        assert latest_instant(conn, TABLE, at - timedelta(microseconds=1)) is None
