"""``fixative materialize`` killed with SIGKILL in the middle of its version build leaves its
run and its version RUNNING; the next ``materialize`` recovers both (the run FAILED, the partial
copy dropped and FAILED) and builds a correct version (kept in the root-id history, the
default), on both backends."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixative.demo import datastack
from fixative.runner.records import list_runs
from fixative.store import Store, open_store
from fixative.testing.processes import stop_group
from fixative.versions import list_version_tables, list_versions

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def world(tmp_path: Path, cli: Cli, store_url: str, stack: str) -> dict[str, str]:
    """The environment and settings file of a demo datastack in the test's database."""
    env = {"FIXATIVE_HOME": str(tmp_path / "home"), "FIXATIVE_DATABASE_URL": store_url}
    # SQLite's poll must see the build RUNNING before its copy ends: 20,000 synapses make the
    # copy last a few hundred ms (at 3,000 it took a few ms, and CI once missed it)
    synapses = "20000" if store_url.startswith("sqlite") else "3000"
    built = cli(["demo-data", "--synapses", synapses, "--max-merges", "10"], tmp_path, **env)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "home" / "demo" / "manifest.json").read_text())
    config = tmp_path / "stack.toml"
    config.write_text(
        f'[[datastacks]]\nname = "{stack}"\naligned_volume = "{datastack.ALIGNED_VOLUME}"\n'
        f'segmentation_source = "{manifest["segmentation_source"]}"\n'
        f'chunkedgraph_source = "embedded://{datastack.PCG_TABLE}"\n'
    )
    return {**env, "FIXATIVE_CONFIG": str(config), "COLUMNS": "200"}


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _hold_a_running_build(store: Store, store_url: str, cli: subprocess.Popen[str]) -> object:
    """Block the build once its version is RUNNING, before it can finish; returns the lock."""
    if store_url.startswith("postgresql"):
        blocker = store.engine.connect()
        blocker.begin()
        blocker.execute(sa.text("LOCK TABLE version_tables IN ACCESS EXCLUSIVE MODE"))

        def waiting() -> bool:
            assert cli.poll() is None, "materialize ended"
            with store.read() as conn:
                return bool(
                    conn.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = "
                            "l.relation WHERE c.relname = 'version_tables' AND NOT l.granted"
                        )
                    ).scalar()
                )

        _wait_for(waiting, 120, "the build to reach the catalogue")
        return blocker
    # SQLite: take the write lock again and again until a RUNNING version is seen under it;
    # the build cannot then make it AVAILABLE while the lock is held
    lite = sqlite3.connect(store_url.removeprefix("sqlite:///"), timeout=60, isolation_level=None)
    deadline = time.monotonic() + 120
    while True:
        assert cli.poll() is None, "materialize ended"
        assert time.monotonic() < deadline, "no version build was seen RUNNING"
        lite.execute("BEGIN IMMEDIATE")
        if lite.execute("SELECT count(*) FROM versions WHERE status = 'RUNNING'").fetchone()[0]:
            return lite
        lite.execute("COMMIT")
        time.sleep(0.002)


def test_a_killed_materialize_is_recovered_by_the_next(
    world: dict[str, str], tmp_path: Path, cli: Cli, store_url: str, stack: str
) -> None:
    store = open_store(store_url)
    env = {**os.environ, **world}
    first = subprocess.Popen(
        [sys.executable, "-m", "fixative", "materialize", stack, "--flat"],  # a copy to cut
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        lock = _hold_a_running_build(store, store_url, first)
        try:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if isinstance(lock, sqlite3.Connection):
                lock.execute("ROLLBACK")
                lock.close()
            else:
                assert isinstance(lock, sa.Connection)
                lock.rollback()
                lock.close()
        left = list_versions(store, stack, include_expired=True)
        assert [(v.version, v.status) for v in left] == [(1, "RUNNING")]
        assert [r.status for r in list_runs(store)] == ["RUNNING"]

        again = cli(["--config", world["FIXATIVE_CONFIG"], "materialize", stack], tmp_path, **world)
        assert again.returncode == 0, again.stderr
        assert "recovered: run" in again.stdout
        assert "version 1 of" in again.stdout

        versions = list_versions(store, stack, include_expired=True)
        assert [(v.version, v.status) for v in versions] == [(1, "FAILED"), (2, "AVAILABLE")]
        killed, done = sorted(list_runs(store), key=lambda r: r.id)
        assert killed.status == "FAILED"
        assert killed.error is not None
        assert "died" in killed.error
        assert "resubmit" in killed.error
        assert done.status == "SUCCEEDED", done.error
        made = versions[1]
        counts = {t.table_name: t.row_count for t in list_version_tables(store, stack, 2)}
        assert counts == {
            t: store.annotations_at(t, made.time_stamp).num_rows for t in datastack.TABLES
        }
        assert counts["synapses"] == (20000 if store_url.startswith("sqlite") else 3000)
    finally:
        stop_group(first)
        store.dispose()
