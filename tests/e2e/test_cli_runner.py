"""fixative submit / status / worker from the command line (the in-process runner; the Celery
runner's workers are tested in tests/runner)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_submit_runs_a_workflow_and_status_shows_it(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    env = {"FIXATIVE_HOME": str(home)}
    built = cli(["demo-data", "--synapses", "300", "--max-merges", "20"], tmp_path, **env)
    assert built.returncode == 0, built.stderr
    made = cli(["submit", "materialize", "demo", "--days-to-expire", "3"], tmp_path, **env)
    assert made.returncode == 0, made.stderr
    assert "run 1: materialize of demo submitted" in made.stdout
    assert "run 1 SUCCEEDED" in made.stdout
    assert "'version': 1" in made.stdout
    listed = cli(["version", "list", "demo"], tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    assert "AVAILABLE" in listed.stdout
    status = cli(["status", "--run", "1"], tmp_path, **env)
    assert status.returncode == 0, status.stderr
    assert "SUCCEEDED" in status.stdout

    refused = cli(["submit", "explode", "demo"], tmp_path, **env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: unknown workflow 'explode'")
    missing = cli(["submit", "materialize", "nowhere"], tmp_path, **env)
    assert missing.returncode == 1
    assert "datastack 'nowhere' is not configured" in missing.stderr
    manifest = json.loads((home / "demo" / "manifest.json").read_text())
    early = cli(
        ["submit", "create_version", "demo", "--at", manifest["started_at"]], tmp_path, **env
    )
    assert early.returncode == 1  # before the tables' last update: the run fails, said in one line
    assert early.stderr.startswith("error: run 2 FAILED: ")
    assert "Traceback" not in early.stderr


def test_worker_and_beat_need_a_broker(tmp_path: Path, cli: Cli) -> None:
    env = {"FIXATIVE_HOME": str(tmp_path / "home")}
    worker = cli(["worker"], tmp_path, **env)
    assert worker.returncode == 1
    assert "no broker_url is configured" in worker.stderr
    beat = cli(["beat"], tmp_path, **env)
    assert beat.returncode == 1
    assert "no datastack has schedules" in beat.stderr
