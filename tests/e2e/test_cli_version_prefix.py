"""``version_database_prefix`` from the environment reaches every version build the command line
makes (``fixative materialize`` in this process, ``fixative submit`` through the task runner):
the version files are ``versions/{prefix}demo__mat{N}.sqlite`` and are listed as usual. (Both
backends, queries and expiry are tested below the CLI: tests/versions/test_version_prefix.py.)"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_versions_built_from_the_cli_carry_the_prefix(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    plain = {"FIXATIVE_HOME": str(home)}
    built = cli(["demo-data", "--synapses", "300", "--max-merges", "10"], tmp_path, **plain)
    assert built.returncode == 0, built.stderr
    env = {**plain, "FIXATIVE_VERSION_DATABASE_PREFIX": "lab_a_"}
    first = cli(["materialize", "demo", "--days-to-expire", "1", "--flat"], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    second = cli(["submit", "create_version", "demo", "--flat"], tmp_path, **env)
    assert second.returncode == 0, second.stderr
    versions = home / "versions"
    assert sorted(p.name for p in versions.glob("*.sqlite")) == [
        "lab_a_demo__mat1.sqlite",
        "lab_a_demo__mat2.sqlite",
    ]
    listed = cli(["version", "list", "demo"], tmp_path, **env)
    assert listed.stdout.count("AVAILABLE") == 2
    # the prefix may change later: built versions keep the names they were built under
    third = cli(["version", "create", "demo", "--flat"], tmp_path, **plain)
    assert third.returncode == 0, third.stderr
    assert (versions / "demo__mat3.sqlite").exists()
    assert (versions / "lab_a_demo__mat2.sqlite").exists()
    fourth = cli(["version", "create", "demo"], tmp_path, **env)  # history: no file at all
    assert fourth.returncode == 0, fourth.stderr
    assert not list(versions.glob("*mat4*"))
