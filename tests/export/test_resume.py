"""An export that dies part-way leaves nothing under the release's name; run again, it goes on
from the partitions it finished and ends with the same files and manifest as an export that
never stopped."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from export_world import ExportWorld

from fixative.export import ExportRequest, export_version, parse_partition, verify_release


class Killed(Exception):
    pass


def _request(world: ExportWorld, to: Path) -> ExportRequest:
    specs = (
        parse_partition("synapses.pre_pt_root_id:hash:6"),
        parse_partition("nuclei.pt_position:morton:1"),
    )
    return ExportRequest(
        world.datastack,
        world.version,
        str(to),
        partition_by=specs,
        row_group_rows=64,
        file_rows=200,
    )


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_killed_export_resumes_to_the_same_release(world: ExportWorld, tmp_path: Path) -> None:
    whole = export_version(world.store, _request(world, tmp_path / "whole"))
    target = tmp_path / "resumed"

    def die_halfway(done: int, total: int) -> None:
        if done > total // 2:
            raise Killed

    with pytest.raises(Killed):
        export_version(world.store, _request(world, target), die_halfway)
    assert not target.exists()  # nothing under the final name
    staged = tmp_path / ".resumed.partial"
    assert any(staged.rglob("*.parquet"))

    state = json.loads((staged / "_export_state.json").read_text())
    finished = [
        f["path"] for t in state["tables"].values() for p in t["pieces"] for f in p["files"]
    ]
    assert finished
    written = {f: (staged / f).stat().st_mtime_ns for f in finished}
    resumed = export_version(world.store, _request(world, target))
    assert {f: (target / f).stat().st_mtime_ns for f in finished} == written  # not written again
    assert resumed == whole
    assert _files(target) == _files(tmp_path / "whole")
    assert not staged.exists()
    assert verify_release(str(target)).ok


def test_another_request_starts_again(world: ExportWorld, tmp_path: Path) -> None:
    """Staged files of a different request are not mixed in."""

    def die(done: int, total: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        export_version(world.store, _request(world, tmp_path / "r"), die)
    other = ExportRequest(world.datastack, world.version, str(tmp_path / "r"), ("cell_types",))
    manifest = export_version(world.store, other)
    assert [t["name"] for t in manifest["tables"]] == ["cell_types"]
    assert not any((tmp_path / "r").rglob("synapses"))
    assert verify_release(str(tmp_path / "r")).ok


def test_sigkilled_command_resumes_to_the_same_release(world: ExportWorld, tmp_path: Path) -> None:
    """``fixative export`` killed outright (SIGKILL, after it finished a few partitions), then
    the same export again: the same files and manifest as an export that never stopped."""
    config = world.write_config(tmp_path / "fixative.toml")
    spec = "pre_pt_root_id:hash:64"
    target, staged = tmp_path / "killed", tmp_path / ".killed.partial"
    command = [sys.executable, "-m", "fixative", "--config", str(config), "export"]
    command += [world.datastack, "--version", "1", "--to", str(target), "--partition-by", spec]
    command += ["--tables", "synapses", "--row-group-rows", "8", "--file-rows", "16"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = staged / "_export_state.json"
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if state.exists() and state.read_text().count('"key"') >= 4:
            break
        time.sleep(0.01)
    process.kill()
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not target.exists()
    request = ExportRequest(
        world.datastack,
        1,
        str(target),
        ("synapses",),
        partition_by=(parse_partition(spec),),
        row_group_rows=8,
        file_rows=16,
    )
    resumed = export_version(world.store, request)
    whole = export_version(world.store, replace(request, to=str(tmp_path / "whole")))
    assert resumed == whole
    assert _files(target) == _files(tmp_path / "whole")
