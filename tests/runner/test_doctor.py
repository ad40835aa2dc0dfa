"""fixative doctor's checks on both backends: root ids valid in the future (found, refused by the
workflows, resolved again at now), runs and version builds left by dead processes, and no repair
while a live run works on the datastack."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import numpy as np
import pytest
from runner_world import RunnerWorld

from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.errors import Conflict
from fixative.ids import to_uint64
from fixative.runner.doctor import (
    DeadRun,
    FutureRoots,
    MissingIndexes,
    StuckVersion,
    examine,
    repair,
)
from fixative.runner.records import FAILED, QUEUED, RUNNING, get_run, recorded
from fixative.runner.tables import workflow_runs
from fixative.runner.tasks import RECOVER_GRACE
from fixative.services import Services
from fixative.store import bulkindex
from fixative.store.segmentation import SegmentationTable, set_last_updated
from fixative.versions import get_version
from fixative.workflows.materialize import VersionRequest, materialize
from fixative.workflows.refresh import refresh_table

TABLE = "synapses"


@pytest.fixture
def services(world: RunnerWorld) -> Services:
    return Services(world.settings, world.store)


def _into_the_future(world: RunnerWorld, services: Services) -> datetime:
    """The state the old path left: roots resolved, then declared valid a month ahead (and
    changed, so only a real re-resolve restores them)."""
    graph, seg = services.chunkedgraph(world.stack), services.segmentation(world.stack)
    refresh_table(world.store, seg, graph, TABLE, world.after)
    future = utc_now() + timedelta(days=30)
    links = SegmentationTable.of(world.store.get_table(TABLE))
    with world.store.write() as conn:
        set_last_updated(conn, links, future)
        conn.exec_driver_sql(f'UPDATE "{links.name}" SET pre_pt_root_id = pre_pt_root_id + 1')
    return future


def _assert_roots_at(world: RunnerWorld, services: Services, at: datetime) -> None:
    links = SegmentationTable.of(world.store.get_table(TABLE))
    graph = services.chunkedgraph(world.stack)
    with world.store.read() as conn:
        rows = conn.exec_driver_sql(f'SELECT * FROM "{links.name}" ORDER BY id').mappings().all()
    assert rows
    for point in links.points:
        svs = to_uint64(np.array([r[point.supervoxel_column] for r in rows], dtype=np.int64))
        roots = [r[point.root_column] for r in rows]
        assert graph.get_roots(svs, at).astype(np.int64).tolist() == roots, point.name


def test_future_roots_are_found_and_resolved_again_at_now(
    world: RunnerWorld, services: Services
) -> None:
    future = _into_the_future(world, services)
    seg, graph = services.segmentation(world.stack), services.chunkedgraph(world.stack)
    with pytest.raises(Conflict, match="holds root ids valid at"):
        refresh_table(world.store, seg, graph, TABLE, utc_now())

    now = utc_now()
    found = examine(services, world.stack, now)
    assert found == [FutureRoots(TABLE, future)]
    done = repair(services, world.stack, found, now)
    assert [(r.finding, r.repaired) for r in done] == [(found[0], True)]
    assert world.store.get_table(TABLE).last_updated_at == now
    _assert_roots_at(world, services, now)
    assert examine(services, world.stack, utc_now()) == []

    request = VersionRequest(world.stack, datastack.ALIGNED_VOLUME, utc_now())
    assert materialize(world.store, seg, graph, request).version.version == 1


class Killed(BaseException):
    """Stands for the process dying mid-build: no cleanup runs."""


def _insert_run(world: RunnerWorld, status: str, builder: str | None) -> int:
    with world.store.write() as conn:
        key = conn.execute(
            workflow_runs.insert().values(
                kind="materialize",
                datastack=world.stack,
                params="{}",
                status=status,
                created=utc_now(),
                builder=builder,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def test_dead_runs_and_interrupted_builds_are_repaired(
    world: RunnerWorld, services: Services
) -> None:
    def die(done: int, total: int) -> None:
        raise Killed

    seg, graph = services.segmentation(world.stack), services.chunkedgraph(world.stack)
    request = VersionRequest(world.stack, datastack.ALIGNED_VOLUME, world.after, build_report=die)
    with pytest.raises(Killed):
        materialize(world.store, seg, graph, request)
    assert get_version(world.store, world.stack, 1).status == RUNNING
    dead = _insert_run(world, RUNNING, f"{socket.gethostname()}:999999999")
    queued = _insert_run(world, QUEUED, None)

    assert examine(services, world.stack, utc_now()) == [
        DeadRun(dead, "materialize", RUNNING, get_run(world.store, dead).created_at)
    ]  # the build's process (this one) lives, the queued run is young
    later = utc_now() + RECOVER_GRACE + timedelta(minutes=1)
    found = examine(services, world.stack, later)
    assert [type(f) for f in found] == [DeadRun, DeadRun, StuckVersion]
    assert [f.run_id for f in found if isinstance(f, DeadRun)] == [dead, queued]
    done = repair(services, world.stack, found, later)
    assert all(r.repaired for r in done), done
    for run_id in (dead, queued):
        run = get_run(world.store, run_id)
        assert run.status == FAILED
        assert run.error is not None
        assert "fixative doctor" in run.error
    assert get_version(world.store, world.stack, 1).status == FAILED
    assert examine(services, world.stack, later) == []


def test_nothing_is_repaired_while_a_live_run_works_on_the_datastack(
    world: RunnerWorld, services: Services
) -> None:
    _into_the_future(world, services)
    with recorded(world.store, "ingest", {}, world.stack):
        now = utc_now()
        found = examine(services, world.stack, now)
        (done,) = repair(services, world.stack, found, now)
    assert not done.repaired
    assert "is working on" in done.note
    now = utc_now()
    assert all(
        r.repaired for r in repair(services, world.stack, examine(services, world.stack, now), now)
    )


def test_root_indexes_a_killed_bulk_ingest_left_dropped_are_found_and_built(
    world: RunnerWorld, services: Services
) -> None:
    graph, seg = services.chunkedgraph(world.stack), services.segmentation(world.stack)
    refresh_table(world.store, seg, graph, TABLE, world.after)
    links = SegmentationTable.of(world.store.get_table(TABLE))
    with world.store.write() as conn:  # what a bulk ingest killed between its chunks leaves
        bulkindex.drop(conn, links)
    now = utc_now()

    found = [f for f in examine(services, world.stack, now) if isinstance(f, MissingIndexes)]

    assert [f.table for f in found] == [TABLE]
    assert len(found[0].indexes) == 2 * len(links.points)
    assert "root-id indexes" in found[0].describe()
    done = repair(services, world.stack, found, now)
    assert [r.repaired for r in done] == [True]
    assert not [f for f in examine(services, world.stack, now) if isinstance(f, MissingIndexes)]
    with world.store.read() as conn:
        assert bulkindex.missing(conn, links) == []
