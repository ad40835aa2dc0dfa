"""A user clones the repository alone: nothing in it may read a path outside it, and the demo's
data ships inside the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixative.demo import celegans

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not name what it looks for.
SHARED = "sha" + "red"
OUTSIDE = ("../" + SHARED, SHARED + "/data", SHARED + "/reference")
CHECKED = ("src", "tests", "bench", "scripts", "deploy", ".ci", "Makefile", "Dockerfile")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


def test_no_file_names_a_path_outside_the_repository() -> None:
    files = _tracked_files()
    assert len(files) > 100  # the walk saw the project, not an empty list
    offenders = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(ROOT)}: {o}" for o in OUTSIDE if o in text]
    assert offenders == []


def test_the_connectome_ships_inside_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIXATIVE_CELEGANS_DIR", raising=False)
    folder = celegans.data_dir()
    assert "site-packages" in str(folder) or str(folder).startswith(str(ROOT / "src"))
    assert folder.joinpath("README.md").read_text(encoding="utf-8").count("Cook") >= 1
    cells = celegans.read_cells()
    connections = celegans.read_connections()
    assert len(cells) == 473
    assert len(connections) == 4879
    assert sum(c.weight for c in connections) == 28113
    names = {c.name for c in cells}
    assert all(c.pre in names and c.post in names for c in connections)


def test_an_override_folder_is_read_and_a_bad_one_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cells.csv").write_text(
        "cell,sim_class,wormatlas_class,is_neuron\nA,Sensory,x,1\nB,Other,y,0\n"
    )
    (tmp_path / "chemical_synapses.csv").write_text("pre,post,weight\nA,B,3\n")
    monkeypatch.setenv("FIXATIVE_CELEGANS_DIR", str(tmp_path))
    assert [c.name for c in celegans.read_cells()] == ["A", "B"]
    assert celegans.read_connections() == [celegans.Connection("A", "B", 3)]
    monkeypatch.setenv("FIXATIVE_CELEGANS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(celegans.NotFound, match=r"cells\.csv.*FIXATIVE_CELEGANS_DIR"):
        celegans.data_dir()


def test_the_data_is_read_from_an_unrelated_working_directory(tmp_path: Path) -> None:
    code = "from fixative.demo.celegans import read_cells; print(len(read_cells()))"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "473"
