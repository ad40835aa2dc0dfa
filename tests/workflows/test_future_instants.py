"""Every workflow refuses an instant later than now (beyond MAX_CLOCK_SKEW) before it writes
anything, on every backend; a lead within the skew is waited out. Before, update-roots at a
future instant moved the table's roots there and every later workflow at "now" was refused."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from workflow_world import TABLE, World

from fixative.clock import MAX_CLOCK_SKEW, utc_now
from fixative.errors import InvalidInput
from fixative.runner.port import prepare_params
from fixative.workflows.bulk_upload import UploadRequest, bulk_upload
from fixative.workflows.ingest import ingest_table
from fixative.workflows.materialize import VersionRequest, materialize
from fixative.workflows.refresh import refresh_table
from fixative.workflows.update_roots import update_roots

BEYOND = MAX_CLOCK_SKEW + timedelta(seconds=1)


def test_workflows_refuse_a_future_instant_and_write_nothing(world: World) -> None:
    world.insert(50, seed=1)
    first = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, first)
    world.insert(20, seed=2)
    links_before = world.links()
    future = world.clock.now + BEYOND
    for run in (
        lambda: ingest_table(world.store, world.seg, world.cg, TABLE, future),
        lambda: update_roots(world.store, world.cg, TABLE, future),
        lambda: refresh_table(world.store, world.seg, world.cg, TABLE, future),
        lambda: materialize(world.store, world.seg, world.cg, VersionRequest("ds", "av", future)),
    ):
        with pytest.raises(InvalidInput, match="is in the future"):
            run()
    assert world.store.get_table(TABLE).last_updated_at == first
    assert world.links().equals(links_before)
    with world.store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM versions").scalar_one() == 0
    now = world.clock()
    refresh_table(world.store, world.seg, world.cg, TABLE, now)  # now still works
    world.assert_linked(now)


def test_a_lead_within_the_clock_skew_is_waited_out(world: World) -> None:
    world.insert(10, seed=3)
    world.store.clock = utc_now  # real time: the wait is real
    ahead = utc_now() + timedelta(seconds=1)
    started = time.monotonic()
    update_roots(world.store, world.cg, TABLE, ahead)
    assert time.monotonic() - started >= 0.9  # roots "at T" only once T has come here
    assert world.store.get_table(TABLE).last_updated_at == ahead


def test_submissions_and_uploads_refuse_a_future_instant(world: World, tmp_path: Path) -> None:
    now = world.clock.now
    with pytest.raises(InvalidInput, match="is in the future"):
        prepare_params("update_roots", {"at": (now + BEYOND).isoformat()}, "ds", now)
    assert prepare_params("update_roots", {"at": now.isoformat()}, "ds", now)["at"] == (
        now.isoformat()
    )
    path = tmp_path / "rows.npy"
    np.save(path, np.zeros((1, 3), dtype=np.int64))
    request = UploadRequest(TABLE, [path], roots_valid_at=world.clock.now + BEYOND)
    with pytest.raises(InvalidInput, match=r"roots_valid_at .* is in the future"):
        bulk_upload(world.store, request)
