"""The reaper (``runner.reaper``): runs left by dead processes are redone or failed, never left
QUEUED or RUNNING. A QUEUED inline run whose submitting process died is failed (nothing here
can run it) or redone by an inline runner; a RUNNING run whose heartbeat stopped is failed; a
whole Celery worker killed with SIGKILL mid-build (main process and pool) has its run redone by
another worker's reaper within seconds, not after the broker's visibility timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery_workers import (
    FIXATIVE,
    Worker,
    build_is_waiting,
    hold_version_catalogue,
    wait_for,
    workers,
    write_config,
)
from runner_world import RunnerWorld, build_world

from fixative.clock import utc_now
from fixative.runner.celery_app import CeleryRunner
from fixative.runner.inline import InlineRunner
from fixative.runner.reaper import recover
from fixative.runner.records import FAILED, QUEUED, RUNNING, SUCCEEDED, get_run, submit_run
from fixative.runner.tables import workflow_runs
from fixative.services import Services
from fixative.store import Store
from fixative.testing.processes import stop_group
from fixative.versions import list_versions
from fixative.versions.builders import builder_id

REDIS_DB = 11  # this file's own Redis database, flushed around each test
BROKER = f"redis://127.0.0.1:6379/{REDIS_DB}"
STALE = timedelta(seconds=120)

SUBMIT_AND_DIE = """
import sys
from fixative.runner.port import record_submission
from fixative.store import open_store
from fixative.versions.builders import builder_id
store = open_store(sys.argv[1])
print(record_submission(store, "expire", {}, sys.argv[2], owner=builder_id()))
"""


def _submitted_by_a_dead_process(world: RunnerWorld) -> int:
    """A run recorded QUEUED for its own inline runner by a process that then ended."""
    url = world.settings.database_url
    done = subprocess.run(
        [sys.executable, "-c", SUBMIT_AND_DIE, url, world.stack],
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = int(done.stdout.strip())
    assert get_run(world.store, run_id).status == QUEUED
    return run_id


def test_a_queued_inline_run_of_a_dead_process_is_failed_without_a_runner(
    world: RunnerWorld,
) -> None:
    run_id = _submitted_by_a_dead_process(world)
    mine = submit_run(world.store, "expire", {}, world.stack, owner=builder_id())
    found = recover(world.store, stale_after=STALE)
    assert [r.run.id for r in found.runs] == [run_id]
    run = get_run(world.store, run_id)
    assert run.status == FAILED
    assert run.error is not None
    assert "died" in run.error
    assert "resubmit" in run.error
    assert get_run(world.store, mine).status == QUEUED  # its owner (this process) lives


def test_a_queued_inline_run_of_a_dead_process_is_redone_by_an_inline_runner(
    world: RunnerWorld,
) -> None:
    run_id = _submitted_by_a_dead_process(world)
    runner = InlineRunner(Services(world.settings, world.store))
    try:
        found = recover(world.store, stale_after=STALE, redo=runner.resume, owner=builder_id())
        assert [(r.run.id, r.redone) for r in found.runs] == [(run_id, True)]
        run = runner.wait(run_id, timeout=60)
    finally:
        runner.close()
    assert run.status == SUCCEEDED, run.error
    assert recover(world.store, stale_after=STALE).runs == []  # nothing left to do


def _foreign() -> str:
    """A builder on another machine (never provably dead from here), new to this process."""
    return f"elsewhere-{uuid.uuid4().hex[:8]}/0123456789ab.1.2.3:42"


def test_serve_redoes_the_runs_a_killed_process_left(world: RunnerWorld, tmp_path: Path) -> None:
    """A QUEUED inline run of a dead process is picked up by the next ``fixative serve``."""
    run_id = _submitted_by_a_dead_process(world)
    ds = world.settings.datastacks[0]
    config = tmp_path / "serve.toml"
    config.write_text(
        f'home = "{world.settings.home}"\n'
        f'database_url = "{world.settings.database_url}"\n'
        "[[datastacks]]\n"
        f'name = "{ds.name}"\n'
        f'aligned_volume = "{ds.aligned_volume}"\n'
        f'segmentation_source = "{ds.segmentation_source}"\n'
        f'chunkedgraph_source = "{ds.chunkedgraph_source}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIXATIVE_")}
    server = subprocess.Popen(
        [FIXATIVE, "--config", str(config), "serve", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: get_run(world.store, run_id).finished, 60, "serve to redo the run")
    finally:
        stop_group(server)
    run = get_run(world.store, run_id)
    assert run.status == SUCCEEDED, run.error
    assert run.builder is not None
    assert run.builder.rpartition(":")[2] == str(server.pid)


def _running(store: Store, run_id: int, beat_age: timedelta) -> str:
    beat, builder = store.clock() - beat_age, _foreign()
    with store.write() as conn:
        conn.execute(
            workflow_runs.update()
            .where(workflow_runs.c.id == run_id)
            .values(status=RUNNING, builder=builder, started=beat, heartbeat=beat)
        )
    return builder


def test_a_running_run_whose_heartbeat_stopped_is_failed(store: Store) -> None:
    silent = submit_run(store, "expire", {}, "ds")
    beating = submit_run(store, "expire", {}, "ds")
    owner = _running(store, silent, STALE * 2)
    _running(store, beating, STALE / 4)
    found = recover(store, stale_after=STALE)
    assert [r.run.id for r in found.runs] == [silent]
    error = get_run(store, silent).error
    assert error is not None
    assert "heartbeat stopped" in error
    assert owner in error
    assert get_run(store, beating).status == RUNNING
    # another reaper that read the same row before the first one acted does nothing
    assert recover(store, stale_after=STALE / 8).runs[0].run.id == beating


# --- a whole Celery worker killed ----------------------------------------------------------


@pytest.fixture
def cworld(backend: str, store: Store, tmp_path: Path, stack: str) -> Iterator[RunnerWorld]:
    if backend != "postgres":
        pytest.skip("the Celery runner is tested on PostgreSQL (workers share its database)")
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    store.clock = utc_now
    yield build_world(
        store,
        tmp_path,
        stack,
        broker_url=BROKER,
        task_visibility_timeout=3600,  # the broker alone would wait an hour
        run_stale_after_s=4,
    )
    client.flushdb()
    client.close()


@pytest.fixture
def start_worker(cworld: RunnerWorld, tmp_path: Path) -> Iterator[Worker]:
    config = write_config(
        cworld,
        tmp_path / "fixative.toml",
        BROKER,
        task_visibility_timeout=3600,
        run_stale_after_s=4,
    )
    with workers(config, tmp_path) as start:
        yield start


def test_a_killed_worker_s_run_is_redone_by_another_worker_s_reaper(
    cworld: RunnerWorld, start_worker: Worker
) -> None:
    store, at = cworld.store, cworld.after
    first = start_worker()
    blocker = hold_version_catalogue(store)  # the build blocks on its last step

    celery = CeleryRunner(cworld.settings, store)
    try:
        run_id = celery.submit("materialize", {"at": at.isoformat()}, cworld.stack)
        try:
            wait_for(
                lambda: build_is_waiting(store), 180, "the version build to reach the catalogue"
            )
            start_worker()
            wait_for(lambda: len(celery.workers()) == 2, 60, "the second worker")
            os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool
            killed_at = time.monotonic()
            first.wait(timeout=10)
        finally:
            blocker.rollback()
            blocker.close()
        run = celery.wait(run_id, timeout=90)
        redone_s = time.monotonic() - killed_at
    finally:
        celery.close()

    print(f"\nthe killed worker's run was redone and finished {redone_s:.1f} s after the kill")
    assert run.status == SUCCEEDED, run.error
    assert run.attempts == 2
    assert redone_s < 60  # the broker would have waited task_visibility_timeout (an hour)
    versions = list_versions(store, cworld.stack, include_expired=True)
    assert [(v.version, v.status) for v in versions] == [(1, "FAILED"), (2, "AVAILABLE")]
    cworld.assert_version_is_oracle(2, at)
