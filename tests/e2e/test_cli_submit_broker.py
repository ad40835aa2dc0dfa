"""``fixative submit`` with a broker and no worker: it says that no worker answers (naming the
broker, its password masked, and how to start one), leaves the run QUEUED, and does not hang:
``--timeout`` ends the wait, ``--no-wait`` returns at once; with a worker running it says
nothing and the run finishes. Uses its own Redis database (14), flushed before and after
(tests/runner uses 13)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from fixative.config import load_settings
from fixative.runner.celery_app import make_celery
from fixative.testing.processes import stop_group

Cli = Callable[..., subprocess.CompletedProcess[str]]
BROKER = "redis://127.0.0.1:6379/14"
WARNING = "no worker answers on redis://127.0.0.1:6379/14: start one with `fixative worker`"


@pytest.fixture
def broker() -> Iterator[str]:
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield BROKER
    client.flushdb()
    client.close()


def _settings(tmp_path: Path, broker_url: str) -> dict[str, str]:
    path = tmp_path / "fixative.toml"
    path.write_text(
        f'home = "{tmp_path / "home"}"\n'
        f'broker_url = "{broker_url}"\n'
        '[[datastacks]]\nname = "demo"\naligned_volume = "demo_av"\n'
    )
    return {"FIXATIVE_CONFIG": str(path)}


def test_submit_without_a_worker_says_so_and_leaves_the_run_queued(
    tmp_path: Path, cli: Cli, broker: str
) -> None:
    env = _settings(tmp_path, broker)
    assert cli(["init"], tmp_path, **env).returncode == 0
    started = time.monotonic()
    waited = cli(["submit", "expire", "demo", "--timeout", "3"], tmp_path, **env)
    assert time.monotonic() - started < 60
    assert waited.returncode == 1
    assert "run 1: expire of demo submitted" in waited.stdout
    assert WARNING in waited.stderr
    assert "run 1 stays QUEUED until one does" in waited.stderr
    assert "error: run 1 is still QUEUED after 3 s" in waited.stderr

    queued = cli(["submit", "expire", "demo", "--no-wait"], tmp_path, **env)
    assert queued.returncode == 0, queued.stderr
    assert "run 2: expire of demo submitted" in queued.stdout
    assert WARNING in queued.stderr
    for run in ("1", "2"):
        status = cli(["status", "--run", run], tmp_path, **env)
        assert "    status: QUEUED" in status.stdout


def test_the_warning_masks_the_broker_password(tmp_path: Path, cli: Cli, broker: str) -> None:
    env = _settings(tmp_path, broker.replace("redis://", "redis://:secret@"))
    assert cli(["init"], tmp_path, **env).returncode == 0
    queued = cli(["submit", "expire", "demo", "--no-wait"], tmp_path, **env)
    assert "no worker answers on redis://:***@127.0.0.1:6379/14" in queued.stderr
    assert "secret" not in queued.stdout + queued.stderr


def test_with_a_worker_there_is_no_warning(tmp_path: Path, cli: Cli, broker: str) -> None:
    env = _settings(tmp_path, broker)
    assert cli(["init"], tmp_path, **env).returncode == 0
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "fixative", "worker", "--pool=solo", "--loglevel=INFO"],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_a_worker_answers(Path(env["FIXATIVE_CONFIG"]))
        done = cli(["submit", "expire", "demo", "--timeout", "60"], tmp_path, **env)
        assert done.returncode == 0, done.stderr
        assert "run 1 SUCCEEDED" in done.stdout
        assert "no worker answers" not in done.stderr
    finally:
        stop_group(worker)
        log.close()


def _wait_until_a_worker_answers(config: Path, timeout: float = 60) -> None:
    app = make_celery(load_settings(config))
    try:
        deadline = time.monotonic() + timeout
        while not app.control.ping(timeout=1):
            assert time.monotonic() < deadline, "the worker never answered"
    finally:
        app.close()
