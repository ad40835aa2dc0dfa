"""fixative ingest / update-roots / upload on the demo datastack, checked against the graph."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.demo import datastack
from fixative.store import open_store

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _seg_rows(home: Path) -> tuple[dict[str, np.ndarray], object]:
    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    info = store.get_table("synapses")
    with store.read() as conn:
        table = store._table_object(conn, str(info.segmentation_table))
        rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
    store.dispose()
    cols = {
        name: np.array([r[i] for r in rows], dtype=np.int64)
        for i, name in enumerate(table.c.keys())
    }
    return cols, info.last_updated_at


def test_ingest_then_update_roots(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    env = {"FIXATIVE_HOME": str(home)}
    built = cli(
        ["demo-data", "--synapses", "800", "--max-merges", "40", "--mistakes", "2"], tmp_path, **env
    )
    assert built.returncode == 0, built.stderr
    manifest = json.loads((home / "demo" / "manifest.json").read_text())
    early = as_utc(manifest["edits_from"]) - timedelta(minutes=1)
    ingested = cli(["ingest", "demo", "--at", early.isoformat()], tmp_path, **env)
    assert ingested.returncode == 0, ingested.stderr
    assert "synapses: 800 rows linked" in ingested.stdout
    cols, last = _seg_rows(home)
    assert last is None  # ingest links new rows; only update-roots moves the whole table to T
    assert len(cols["id"]) == 800
    late = as_utc(manifest["edits_until"]) + timedelta(minutes=1)
    updated = cli(["update-roots", "demo", "--at", late.isoformat()], tmp_path, **env)
    assert updated.returncode == 0, updated.stderr
    cols, last = _seg_rows(home)
    assert last == late
    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    for point in ("pre_pt", "post_pt"):
        svids = cols[f"{point}_supervoxel_id"].astype(np.uint64)
        assert (cols[f"{point}_root_id"].astype(np.uint64) == graph.get_roots(svids, late)).all()
    pairs = Counter(
        zip(cols["pre_pt_root_id"].tolist(), cols["post_pt_root_id"].tolist(), strict=True)
    )
    expected = datastack.expected_pairs(datastack.DemoOptions(synapses=800))
    assert sorted(pairs.values()) == sorted(expected.values())
    store.dispose()


def test_upload_and_bad_map(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    env = {"FIXATIVE_HOME": str(home)}
    assert (
        cli(["demo-data", "--synapses", "100", "--max-merges", "5"], tmp_path, **env).returncode
        == 0
    )
    n = 50
    rng = np.random.default_rng(3)
    path = tmp_path / "tags.parquet"
    pq.write_table(
        pa.table(
            {
                "where": pa.array(rng.integers(0, 200, (n, 3)).tolist()),
                "label": [f"t{i}" for i in range(n)],
            }
        ),
        path,
    )
    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    from fixative.store import NewTable

    store.create_table(
        NewTable("tags", "bound_tag", "demo_av", "me", (8, 8, 40), pcg_table_name="demo_pcg")
    )
    store.dispose()
    done = cli(
        [
            "upload",
            "tags",
            str(path),
            "--map",
            "where=pt_position",
            "--map",
            "label=tag",
            "--start-id",
            "1",
        ],
        tmp_path,
        **env,
    )
    assert done.returncode == 0, done.stderr
    assert "50 rows inserted" in done.stdout
    again = cli(
        [
            "upload",
            "tags",
            str(path),
            "--map",
            "where=pt_position",
            "--map",
            "label=tag",
            "--start-id",
            "1",
        ],
        tmp_path,
        **env,
    )
    assert "0 rows inserted, 50 already present" in again.stdout
    bad = cli(["upload", "tags", str(path), "--map", "where"], tmp_path, **env)
    assert bad.returncode == 1
    assert "SOURCE=COLUMN" in bad.stderr


def test_version_commands(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    env = {"FIXATIVE_HOME": str(home)}
    assert (
        cli(["demo-data", "--synapses", "400", "--max-merges", "20"], tmp_path, **env).returncode
        == 0
    )
    manifest = json.loads((home / "demo" / "manifest.json").read_text())
    early = as_utc(manifest["edits_from"]).isoformat()
    first = cli(
        ["version", "create", "demo", "--at", early, "--days-to-expire", "1", "--flat"],
        tmp_path,
        **env,
    )
    assert first.returncode == 0, first.stderr
    assert "AVAILABLE" in first.stdout
    assert cli(["version", "create", "demo", "--flat"], tmp_path, **env).returncode == 0
    assert cli(["version", "create", "demo", "--kind", "flat"], tmp_path, **env).returncode == 0
    listed = cli(["version", "list", "demo"], tmp_path, **env)
    assert [
        line.split()[1]
        for line in listed.stdout.splitlines()
        if line.startswith("│ ") and line.split()[1].isdigit()
    ] == ["1", "2", "3"]
    expired = cli(["version", "expire", "demo"], tmp_path, **env)
    assert expired.returncode == 0, expired.stderr
    assert "expired versions: 1" in expired.stdout
    assert not (home / "versions" / "demo__mat1.sqlite").exists()
    assert (home / "versions" / "demo__mat3.sqlite").exists()
    pinned = cli(["version", "pin", "demo", "2", "--name", "paper-1"], tmp_path, **env)
    assert pinned.returncode == 0, pinned.stderr
    assert "pinned as 'paper-1'" in pinned.stdout
    listed = cli(["version", "list", "demo"], tmp_path, COLUMNS="200", **env)
    assert "pinned (paper-1)" in listed.stdout
    gone = cli(["version", "pin", "demo", "1"], tmp_path, **env)
    assert gone.returncode == 1
    assert "EXPIRED" in gone.stderr
    unpinned = cli(["version", "unpin", "demo", "2"], tmp_path, **env)
    assert unpinned.returncode == 0, unpinned.stderr
    assert "unpinned; expires" in unpinned.stdout
    kept = cli(["version", "create", "demo"], tmp_path, COLUMNS="200", **env)  # the default
    assert kept.returncode == 0, kept.stderr
    assert "AVAILABLE (history)" in kept.stdout
    assert not (home / "versions" / "demo__mat4.sqlite").exists()  # no copy
    bad = cli(["version", "create", "demo", "--kind", "copy"], tmp_path, **env)
    assert bad.returncode == 2
    compacted = cli(["version", "compact", "demo", "--window-days", "0"], tmp_path, **env)
    assert compacted.returncode == 0, compacted.stderr
    found = re.search(r"dropped: cell_types (\d+), nuclei (\d+), synapses (\d+)", compacted.stdout)
    assert found is not None, compacted.stdout
    assert int(found.group(3)) > 0  # intervals closed by the edits' root updates
    earlier = cli(["version", "create", "demo", "--at", early], tmp_path, **env)
    assert earlier.returncode == 1
    assert "earlier instant" in earlier.stderr
    status = cli(["status"], tmp_path, COLUMNS="200", **env)
    assert status.returncode == 0, status.stderr
    lines = [line for line in status.stdout.splitlines() if "create_vers" in line]
    assert len(lines) == 5
    assert "FAILED" in lines[0]  # newest first: the refused earlier instant
    assert all("SUCCEEDED" in line for line in lines[1:])
    failed_id = lines[0].split()[0]
    detail = cli(["status", "--run", failed_id], tmp_path, **env)
    assert "Traceback" in detail.stdout
    assert "Conflict" in detail.stdout


def test_materialize_command(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    env = {"FIXATIVE_HOME": str(home)}
    assert (
        cli(["demo-data", "--synapses", "300", "--max-merges", "10"], tmp_path, **env).returncode
        == 0
    )
    done = cli(["materialize", "demo", "--days-to-expire", "2"], tmp_path, COLUMNS="200", **env)
    assert done.returncode == 0, done.stderr
    assert "AVAILABLE" in done.stdout
    assert "synapses (300)" in done.stdout
    status = cli(["status"], tmp_path, COLUMNS="200", **env)
    assert any("materialize" in line and "SUCCEEDED" in line for line in status.stdout.splitlines())
    assert not (home / "versions" / "demo__mat1.sqlite").exists()  # kept in the history
    flat = cli(["materialize", "demo", "--flat"], tmp_path, COLUMNS="200", **env)
    assert flat.returncode == 0, flat.stderr
    assert (home / "versions" / "demo__mat2.sqlite").exists()
