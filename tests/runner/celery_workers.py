"""Real Celery worker processes for the runner tests: a settings file naming the world's
datastack and broker, workers started in their own process groups (so a SIGKILL takes the pool
too), and a way to hold a version build at its last step."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from runner_world import RunnerWorld

from fixative.store import Store
from fixative.testing.processes import stop_group

FIXATIVE = str(Path(sys.executable).with_name("fixative"))

Worker = Callable[[], subprocess.Popen[bytes]]


def write_config(world: RunnerWorld, path: Path, broker: str, **extra: int) -> Path:
    """A settings file for worker processes: the world's database and datastack, ``broker``,
    and ``extra`` top-level settings (e.g. ``task_visibility_timeout``)."""
    ds = world.settings.datastacks[0]
    path.write_text(
        f'home = "{world.settings.home}"\n'
        f'database_url = "{world.settings.database_url}"\n'
        f'broker_url = "{broker}"\n'
        + "".join(f"{key} = {value}\n" for key, value in extra.items())
        + "[[datastacks]]\n"
        f'name = "{ds.name}"\n'
        f'aligned_volume = "{ds.aligned_volume}"\n'
        f'segmentation_source = "{ds.segmentation_source}"\n'
        f'chunkedgraph_source = "{ds.chunkedgraph_source}"\n'
        "min_versions_kept = 1\n"
    )
    return path


@contextmanager
def workers(config: Path, logs_dir: Path) -> Iterator[Worker]:
    """``start()`` starts one more worker (concurrency 1); all are stopped on exit."""
    started: list[subprocess.Popen[bytes]] = []
    logs: list[BinaryIO] = []

    def start() -> subprocess.Popen[bytes]:
        log = (logs_dir / f"worker{len(started)}.log").open("wb")
        logs.append(log)
        worker = subprocess.Popen(
            [FIXATIVE, "--config", str(config), "worker", "--concurrency=1", "--loglevel=INFO"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGKILL takes the pool too
        )
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            stop_group(worker)
        for log in logs:
            log.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def hold_version_catalogue(store: Store) -> sa.Connection:
    """Lock the version catalogue's table: a build copies every table into its database, then
    blocks on its last step (the catalogue rows) until the returned connection rolls back."""
    blocker = store.engine.connect()
    blocker.begin()
    blocker.execute(sa.text("LOCK TABLE version_tables IN ACCESS EXCLUSIVE MODE"))
    return blocker


def build_is_waiting(store: Store) -> bool:
    """A version build waits on the held catalogue (PostgreSQL)."""
    with store.read() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'version_tables' AND NOT l.granted"
                )
            ).scalar()
        )
