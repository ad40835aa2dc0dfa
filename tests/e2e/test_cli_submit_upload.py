"""fixative submit upload: a bulk upload as a recorded run of the task runner; run again, it
skips every row it wrote; a file outside the data directory is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

Cli = Callable[..., subprocess.CompletedProcess[str]]
ROWS = 30


def test_submit_upload_writes_once(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    env = {"FIXATIVE_HOME": str(home)}
    built = cli(["demo-data", "--synapses", "300", "--max-merges", "20"], tmp_path, **env)
    assert built.returncode == 0, built.stderr
    path = home / "uploads" / "types.csv"
    path.parent.mkdir(parents=True)
    where = [f"[{100 + i}, {200 + i}, 10]" for i in range(ROWS)]
    kinds = [f"k{i}" for i in range(ROWS)]
    pacsv.write_csv(pa.table({"where": where, "kind": kinds, "sys": ["cli"] * ROWS}), path)
    args = ["submit", "upload", "demo", "--table", "cell_types", "--file", str(path)]
    args += ["--map", "where=pt_position", "--map", "kind=cell_type"]
    args += ["--map", "sys=classification_system", "--start-id", "5000000"]

    first = cli(args, tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "upload of demo submitted" in first.stdout
    assert "SUCCEEDED" in first.stdout
    assert f"'rows_inserted': {ROWS}" in first.stdout
    again = cli(args, tmp_path, **env)
    assert again.returncode == 0, again.stderr
    assert "'rows_inserted': 0" in again.stdout
    assert f"'rows_skipped': {ROWS}" in again.stdout

    outside = tmp_path / "outside.csv"
    outside.write_bytes(path.read_bytes())
    refused = cli([*args[:6], str(outside), *args[7:]], tmp_path, **env)
    assert refused.returncode == 1
    assert "under the data directory" in refused.stderr
