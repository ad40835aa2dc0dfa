"""Building versions: the content equals the oracle at T, indexes exist and work, counts are
recorded, failures leave nothing behind, interrupted builds are recovered."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from version_world import TABLES, VersionWorld

from fixative.errors import Conflict, InvalidInput
from fixative.store.segmentation import SegmentationTable, set_linked_through
from fixative.store.sqlite import rtree_name
from fixative.testing.annotations import synapse_record
from fixative.versions import (
    create_version,
    database_name,
    get_version,
    list_version_tables,
    list_versions,
    open_version,
    recover_versions,
)
from fixative.versions.tables import versions


def _edit_after(world: VersionWorld) -> None:
    """Updates, deletes and inserts after T (with their segmentation rows)."""
    store = world.store
    store.update_annotations(
        "synapses", [{"id": i, **synapse_record((i, i, i), (i + 1, i, i), 9.0)} for i in (1, 2, 3)]
    )
    store.delete_annotations("synapses", [10, 11])
    store.delete_annotations("nuclei", [4])
    store.update_annotations("tags", [{"id": 2, "target_id": 7, "tag": "changed"}])
    store.insert_annotations("nuclei", [world.nucleus(50)])


def test_version_equals_the_live_tables_at_t(world: VersionWorld) -> None:
    world.store.delete_annotations("synapses", [5, 6])  # deleted before T: absent
    at = world.clock()
    world.segment(at)
    expected = {name: world.oracle(name, at) for name in TABLES}
    _edit_after(world)
    assert {name: world.oracle(name, at) for name in TABLES} == expected
    seen: list[tuple[int, int]] = []
    info = world.version_at(at, report=lambda done, total: seen.append((done, total)))
    assert (info.version, info.status, info.valid, info.time_stamp) == (1, "AVAILABLE", True, at)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    engine = open_version(world.store, world.datastack, 1, version_dir=world.version_dir)
    try:
        for name in TABLES:
            assert world.version_rows(engine, name) == expected[name]
    finally:
        engine.dispose()
    ids = [r[0] for r in expected["synapses"]]
    assert 5 not in ids
    assert 10 in ids
    assert 1 in ids
    assert max(ids) == 60
    counts = {
        t.table_name: t.row_count for t in list_version_tables(world.store, world.datastack, 1)
    }
    assert counts == {name: len(rows) for name, rows in expected.items()}
    assert counts["synapses"] == 58


def _spatial_ids(world: VersionWorld, engine: sa.Engine, lo: int, hi: int) -> list[int]:
    table = sa.table("synapses", sa.column("id"))
    query = sa.select(table.c.id).where(
        world.store.box_clause(table, "pre_pt", (lo, lo, lo), (hi, hi, hi))
    )
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def test_version_has_primary_key_root_and_spatial_indexes(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)
    world.version_at(at)
    engine = open_version(world.store, world.datastack, 1, version_dir=world.version_dir)
    try:
        inspector = sa.inspect(engine)
        indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("synapses")}
        assert {("pre_pt_root_id",), ("post_pt_root_id",)} <= indexed
        assert ("ctr_pt_position_x",) not in indexed
        assert inspector.get_pk_constraint("synapses")["constrained_columns"] == ["id"]
        assert ("target_id",) in {tuple(ix["column_names"]) for ix in inspector.get_indexes("tags")}
        if world.store.dialect_name == "sqlite":
            assert rtree_name("synapses", "pre_pt") in inspector.get_table_names()
        else:
            with engine.connect() as conn:
                gist = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_indexes WHERE tablename = 'synapses' "
                        "AND indexdef LIKE :p"
                    ),
                    {"p": "%gist_geometry_ops_nd%"},
                ).scalar_one()
            assert gist == 3
        brute = sorted(
            r[0] for r in world.oracle("synapses", at) if all(100 <= v <= 300 for v in r[1:4])
        )
        assert brute
        assert _spatial_ids(world, engine, 100, 300) == brute
    finally:
        engine.dispose()


class Boom(RuntimeError):
    pass


def test_failure_mid_build_leaves_nothing_and_a_rerun_succeeds(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)

    def explode(done: int, total: int) -> None:
        if done == 2:
            raise Boom("disk on fire")

    with pytest.raises(Boom):
        world.version_at(at, report=explode)
    failed = get_version(world.store, world.datastack, 1)
    assert (failed.status, failed.valid) == ("FAILED", False)
    assert failed.error is not None
    assert "disk on fire" in failed.error
    assert not world.target.exists(failed.database)
    assert list_versions(world.store, world.datastack) == []
    info = world.version_at(at)
    assert (info.version, info.status) == (2, "AVAILABLE")
    assert world.target.exists(info.database)


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so no cleanup runs."""


def test_an_interrupted_build_is_recovered(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)

    def die(done: int, total: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        world.version_at(at, report=die)
    stuck = get_version(world.store, world.datastack, 1)
    assert stuck.status == "RUNNING"
    assert world.target.exists(stuck.database)
    with pytest.raises(Conflict, match="still being built"):
        world.version_at(at)
    assert (
        recover_versions(world.store, grace=timedelta(hours=1), version_dir=world.version_dir) == []
    )
    world.clock.advance(timedelta(hours=2))
    recovered = recover_versions(
        world.store, grace=timedelta(hours=1), version_dir=world.version_dir
    )
    assert [r.version for r in recovered] == [1]
    assert get_version(world.store, world.datastack, 1).status == "FAILED"
    assert not world.target.exists(stuck.database)
    assert world.version_at(at).version == 2


def test_versions_are_numbered_per_datastack(world: VersionWorld) -> None:
    for expected in (1, 2, 3):
        at = world.clock()
        world.segment(at)
        world.store.insert_annotations("nuclei", [world.nucleus(100 + expected)])
        assert world.version_at(at).version == expected
    assert [v.version for v in list_versions(world.store, world.datastack)] == [1, 2, 3]
    counts = [
        {t.table_name: t.row_count for t in list_version_tables(world.store, world.datastack, v)}
        for v in (1, 2, 3)
    ]
    assert [c["nuclei"] for c in counts] == [20, 21, 22]
    roots = []
    for v in (1, 3):
        engine = open_version(world.store, world.datastack, v, version_dir=world.version_dir)
        try:
            roots.append(world.version_rows(engine, "synapses")[0])
        finally:
            engine.dispose()
    assert roots[0][0] == roots[1][0]
    assert roots[0] != roots[1]  # each version keeps the root ids of its own T


def test_a_build_whose_process_died_is_recovered_at_once(world: VersionWorld) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    at = world.clock()
    with world.store.write() as conn:
        conn.execute(
            versions.insert().values(
                datastack=world.datastack,
                version=1,
                time_stamp=at,
                created=at,
                status="RUNNING",
                valid=False,
                builder=f"{socket.gethostname()}:{int(gone.stdout)}",
            )
        )
    recovered = recover_versions(
        world.store, grace=timedelta(days=1), version_dir=world.version_dir
    )
    assert [r.version for r in recovered] == [1]
    assert get_version(world.store, world.datastack, 1).status == "FAILED"


def test_stale_root_ids_are_refused(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)
    later = world.clock()
    with pytest.raises(Conflict, match=r"'nuclei'.*update root ids to T first"):
        world.version_at(later)
    assert list_versions(world.store, world.datastack, include_expired=True) == []


def test_missing_segmentation_rows_are_refused(world: VersionWorld) -> None:
    world.store.insert_annotations("synapses", [synapse_record((1, 2, 3), (4, 5, 6))] * 3)
    at = world.clock()
    world.segment(at, skip_synapses=3)
    with pytest.raises(Conflict, match=r"'synapses': 3 row\(s\)"):
        world.version_at(at)
    assert list_versions(world.store, world.datastack, include_expired=True) == []


def _mark_linked_through(world: VersionWorld, at: datetime) -> None:
    """Record, as an ingest does, that every annotation created by ``at`` is linked."""
    with world.store.write() as conn:
        for name in ("synapses", "nuclei"):
            set_linked_through(conn, SegmentationTable.of(world.store.get_table(name)), at)


def test_rows_created_since_the_table_was_wholly_linked_are_still_checked(
    world: VersionWorld,
) -> None:
    linked = world.clock()
    world.segment(linked)
    _mark_linked_through(world, linked)
    world.store.insert_annotations("synapses", [synapse_record((1, 2, 3), (4, 5, 6))] * 2)
    at = world.clock()
    world.segment(at, skip_synapses=2)
    with pytest.raises(Conflict, match=r"'synapses': 2 row\(s\)"):
        world.version_at(at)


def test_a_wholly_linked_table_is_not_scanned_for_missing_rows(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)
    _mark_linked_through(world, at)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sa.event.listen(world.store.engine, "before_cursor_execute", seen)
    try:
        assert world.version_at(at).status == "AVAILABLE"
    finally:
        sa.event.remove(world.store.engine, "before_cursor_execute", seen)
    joins = [q for q in statements if "LEFT JOIN" in q]
    assert joins
    assert all("a.created >" in q for q in joins), joins  # bounded by linked_through


def test_live_writes_go_on_during_a_build(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)
    written: list[int] = []

    def write_live(done: int, total: int) -> None:
        written.extend(world.store.insert_annotations("nuclei", [world.nucleus(200 + done)]))

    with world.store.engine.connect() as bystander:  # a live session open across the build
        assert bystander.exec_driver_sql("SELECT 1").scalar_one() == 1
        info = world.version_at(at, report=write_live)
        assert bystander.exec_driver_sql("SELECT 2").scalar_one() == 2
    assert len(written) == 3
    counts = {
        t.table_name: t.row_count
        for t in list_version_tables(world.store, world.datastack, info.version)
    }
    assert counts["nuclei"] == 20


def test_tables_are_chosen_by_name_or_aligned_volume(world: VersionWorld) -> None:
    at = world.clock()
    world.segment(at)
    with pytest.raises(InvalidInput, match="at least one table"):
        world.version_at(at, aligned_volume="elsewhere")
    with pytest.raises(InvalidInput, match="more than once"):
        create_version(world.store, world.datastack, at, ["tags", "tags"], world.options())
    info = create_version(world.store, world.datastack, at, ["synapses"], world.options())
    tables = list_version_tables(world.store, world.datastack, info.version)
    assert [t.table_name for t in tables] == ["synapses"]
    info = world.version_at(at, aligned_volume="av")
    tables = list_version_tables(world.store, world.datastack, info.version)
    assert [t.table_name for t in tables] == ["nuclei", "synapses", "tags"]


def test_a_foreign_database_with_the_next_name_is_refused_not_dropped(
    world: VersionWorld,
) -> None:
    at = world.clock()
    world.segment(at)
    foreign = database_name(world.datastack, 1)
    world.target.create(foreign)
    with pytest.raises(Conflict, match="no version of this catalogue made"):
        world.version_at(at)
    assert world.target.exists(foreign)
    assert list_versions(world.store, world.datastack, include_expired=True) == []
    world.target.drop(foreign)
    assert world.version_at(at).version == 1
