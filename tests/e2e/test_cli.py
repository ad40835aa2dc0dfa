"""The fixative command, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_demo_prints_history(tmp_path: Path, cli: Cli) -> None:
    result = cli(["demo"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "synapses at" in result.stdout
    assert "corrected" in result.stdout
    assert "473 C. elegans cells" in result.stdout
    said = " ".join(result.stdout.split())
    assert "4,879 of 4,879 connections" in said
    assert "(ingest, update roots, version 1, expiry)" in said  # the complete workflow, as a run
    assert "(ingest, update roots, version 2, expiry)" in said
    assert "client.materialize.get_versions() -> [1, 2]" in said  # caveclient against serve
    assert 'client.materialize.get_annotation_count("synapses") -> 28,113' in said
    assert "server stopped" in said
    assert (tmp_path / ".fixative" / "demo" / "history.sqlite").is_file()


def test_schema_show_and_error_line(tmp_path: Path, cli: Cli) -> None:
    shown = cli(["schema", "show", "cell_type_local"], tmp_path)
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["title"] == "cell_type_local"
    bad = cli(["schema", "show", "nope"], tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: unknown schema type 'nope'")
    assert "Traceback" not in bad.stderr


def test_bad_setting_fails_at_start(tmp_path: Path, cli: Cli) -> None:
    result = cli(["init"], tmp_path, FIXATIVE_DATABASE_URL="mysql://x")
    assert result.returncode == 1
    assert "database_url" in result.stderr


def test_init_and_tables(tmp_path: Path, cli: Cli) -> None:
    assert cli(["init"], tmp_path).returncode == 0
    listed = cli(["tables"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert (tmp_path / ".fixative" / "live.sqlite").is_file()
