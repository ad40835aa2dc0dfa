"""The Celery runner with real worker processes on the local Redis, on PostgreSQL: a version made
by a worker equals the inline runner's and the oracle; a worker killed with SIGKILL in the middle
of a version build is replaced by a new worker, which takes the run over and ends in a correct
version, with the partial one cleaned away."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from celery_workers import (
    Worker,
    build_is_waiting,
    hold_version_catalogue,
    wait_for,
    workers,
    write_config,
)
from runner_world import RunnerWorld, build_world

from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.runner.celery_app import CeleryRunner
from fixative.runner.inline import InlineRunner
from fixative.runner.records import SUCCEEDED
from fixative.services import Services
from fixative.store import Store
from fixative.versions import list_versions
from fixative.versions.tables import version_tables

REDIS_DB = 13  # the test suite's own Redis database, flushed around each test
BROKER = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture
def backend_is_postgres(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the Celery runner is tested on PostgreSQL (workers share its database)")


@pytest.fixture
def broker() -> Iterator[None]:
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.fixture
def cworld(
    backend_is_postgres: None, broker: None, store: Store, tmp_path: Path, stack: str
) -> RunnerWorld:
    store.clock = utc_now
    return build_world(store, tmp_path, stack, broker_url=BROKER, task_visibility_timeout=2)


@pytest.fixture
def start_worker(cworld: RunnerWorld, tmp_path: Path) -> Iterator[Worker]:
    config = write_config(cworld, tmp_path / "fixative.toml", BROKER, task_visibility_timeout=2)
    with workers(config, tmp_path) as start:
        yield start


def _table_rows(world: RunnerWorld, version: int) -> dict[str, dict[str, list[object]]]:
    return {t: world.version_rows(version, t) for t in datastack.TABLES}


def test_a_worker_makes_the_same_version_as_the_inline_runner(
    cworld: RunnerWorld, start_worker: Worker
) -> None:
    start_worker()
    at = cworld.midway
    celery = CeleryRunner(cworld.settings, cworld.store)
    try:
        run = celery.wait(celery.submit("materialize", {"at": at.isoformat()}, cworld.stack), 180)
    finally:
        celery.close()
    assert run.status == SUCCEEDED, run.error
    assert run.result is not None
    assert run.result["version"] == 1
    assert run.builder is not None
    assert run.builder.rpartition(":")[2] != str(os.getpid())  # another process ran it
    cworld.assert_version_is_oracle(1, at)

    inline = InlineRunner(Services(cworld.settings, cworld.store))
    try:
        again = inline.wait(inline.submit("create_version", {"at": at.isoformat()}, cworld.stack))
    finally:
        inline.close()
    assert again.status == SUCCEEDED, again.error
    assert _table_rows(cworld, 1) == _table_rows(cworld, 2)


def test_a_worker_killed_mid_build_is_replaced_and_the_version_is_correct(
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
            partial = list_versions(store, cworld.stack, include_expired=True)
            assert [(v.version, v.status) for v in partial] == [(1, "RUNNING")]
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            blocker.rollback()
            blocker.close()
        start_worker()
        run = celery.wait(run_id, timeout=180)
    finally:
        celery.close()

    assert run.status == SUCCEEDED, run.error
    assert run.attempts == 2
    assert run.result is not None
    versions = list_versions(store, cworld.stack, include_expired=True)
    assert [(v.version, v.status) for v in versions] == [(1, "FAILED"), (2, "AVAILABLE")]
    assert versions[0].error is not None
    assert "interrupted" in versions[0].error
    with store.read() as conn:
        leftover = conn.execute(
            sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"),
            {"n": versions[0].database},
        ).scalar()
        catalogued = conn.execute(
            sa.select(sa.func.count())
            .select_from(version_tables)
            .where(version_tables.c.version_id == versions[0].id)
        ).scalar()
    assert leftover == 0
    assert catalogued == 0
    cworld.assert_version_is_oracle(2, at)  # every row once: ids equal the live rows at T
