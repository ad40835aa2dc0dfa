"""``fixative status`` at 80 columns: queue time (submitted to started) and run time (started to
finished) apart, fixed fields whole, long names and errors cut with an ellipsis; ``--run N``
shows both times and the whole error."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fixative.clock import utc_now
from fixative.errors import Conflict
from fixative.runner.records import claim_run, finish_run, submit_run
from fixative.store import open_store
from fixative.testing.clock import TickingClock

Cli = Callable[..., subprocess.CompletedProcess[str]]
LONG_ERROR = "table 'synapses': root ids are valid at 2026-01-01T00:00:00+00:00, not later " * 3
LONG_STACK = "a_datastack_with_a_rather_long_name"


def _record_runs(home: Path) -> None:
    """Runs in every state, their instants set by a clock the test controls."""
    home.mkdir()
    clock = TickingClock(utc_now() - timedelta(hours=2))
    store = open_store(f"sqlite:///{home / 'live.sqlite'}", clock)
    try:
        done = submit_run(store, "ingest", {}, "demo")  # run 1: queued 65 s, ran 1 h 2 min
        clock.advance(timedelta(seconds=65))
        claim_run(store, done)
        clock.advance(timedelta(seconds=3725))
        finish_run(store, done, result={"rows": 3})
        failed = submit_run(store, "create_version", {}, LONG_STACK)  # run 2
        clock.advance(timedelta(seconds=2))
        claim_run(store, failed)
        clock.advance(timedelta(seconds=12))
        try:
            raise Conflict(LONG_ERROR)
        except Conflict as exc:
            finish_run(store, failed, error=exc)
        running = submit_run(store, "materialize", {}, "demo")  # run 3
        claim_run(store, running)
        submit_run(store, "update_roots", {}, "demo")  # run 4: waits for a worker
    finally:
        store.dispose()


def test_status_fits_80_columns(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    _record_runs(home)
    shown = cli(["status"], tmp_path, COLUMNS="80", FIXATIVE_HOME=str(home))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == [
        "run", "kind", "datastack", "status", "when", "queued", "ran", "error"
    ]  # fmt: skip
    rows = {line.split()[0]: line for line in lines[2:] if line[:1].isdigit()}
    assert rows["1"].split()[1:4] == ["ingest", "demo", "SUCCEEDED"]
    assert re.fullmatch(r"\d\d[:-]\d\d", rows["1"].split()[4])  # 14:05 today, else 11-27
    assert rows["1"].split()[5:] == ["1m05s", "1h02m"]
    assert "create_version" in rows["2"]
    assert " a_datasta… " in rows["2"]
    assert "FAILED" in rows["2"]
    assert "14.0s" not in rows["2"]
    assert " 2.0s " in rows["2"]
    assert " 12.0s " in rows["2"]
    assert "Conflict" in rows["2"]
    assert rows["2"].rstrip().endswith("…")
    assert "RUNNING" in rows["3"]
    assert "QUEUED" in rows["4"]
    assert "--run N" in shown.stdout


def test_status_of_one_run_shows_both_times_and_the_whole_error(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    _record_runs(home)
    shown = cli(["status", "--run", "2"], tmp_path, COLUMNS="80", FIXATIVE_HOME=str(home))
    assert shown.returncode == 0, shown.stderr
    fields = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in shown.stdout.splitlines()[:15])
    }
    assert fields["queued"] == "2.0s"
    assert fields["ran"] == "12.0s"
    assert fields["datastack"] == LONG_STACK
    assert fields["error"] == f"Conflict: {LONG_ERROR}".strip()
    assert "Traceback" in shown.stdout
    first = cli(["status", "--run", "1"], tmp_path, FIXATIVE_HOME=str(home))
    assert "    queued: 1m05s" in first.stdout
    assert "       ran: 1h02m" in first.stdout
