"""The demo datastack: a real volume, an embedded graph with its edit history, and tables that
reproduce the C. elegans connectome exactly once every edit is applied."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fixative.auth.tokens import authenticate, list_groups
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.demo import check, datastack
from fixative.demo.layout import cell_of
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.store import Store, open_store

Cli = Callable[..., subprocess.CompletedProcess[str]]

OPTIONS = datastack.DemoOptions(synapses=2_000, max_merges=80, mistakes=4, days=4)


@pytest.fixture
def demo(store: Store, tmp_path: Path) -> datastack.DemoManifest:
    return datastack.build(store, tmp_path / "demo", OPTIONS)


def test_connectome_is_exact_after_the_edits(store: Store, demo: datastack.DemoManifest) -> None:
    seg = TensorStoreSegmentation.open(demo.segmentation_source)
    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    expected = datastack.expected_pairs(OPTIONS)
    assert sum(expected.values()) == demo.synapses == 2_000
    after = as_utc(demo.edits_until) + timedelta(seconds=1)
    assert check.differences(check.connectivity(store, seg, graph, after), expected) == []
    before = as_utc(demo.edits_from) - timedelta(seconds=1)
    fragmented = check.connectivity(store, seg, graph, before)
    assert check.differences(fragmented, expected), "the start must be over-segmented"
    assert any(pre.startswith("?") or post.startswith("?") for pre, post in fragmented)


def test_mistaken_merges_join_two_cells_until_repaired(
    store: Store, demo: datastack.DemoManifest
) -> None:
    graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
    seg = TensorStoreSegmentation.open(demo.segmentation_source)
    cells = store.annotations_at("cell_types", as_utc(demo.edits_until))
    points = np.stack([cells.column(f"pt_position_{a}").to_numpy() for a in "xyz"], axis=1)
    svids = seg.lookup(points, (8.0, 8.0, 40.0))
    mistakes = [
        op
        for op in graph.list_operations()
        if op.kind == "merge"
        and len(
            {
                int(c)
                for c in cell_of(np.array([e for edge in op.added_edges for e in edge], np.uint64))
            }
        )
        == 2
    ]
    assert len(mistakes) == OPTIONS.mistakes
    during = mistakes[0].timestamp + timedelta(milliseconds=1)
    assert len(set(graph.get_roots(svids, during).tolist())) == demo.cells - 1
    after = as_utc(demo.edits_until) + timedelta(seconds=1)
    assert len(set(graph.get_roots(svids, after).tolist())) == demo.cells


def test_points_lie_on_their_cells(store: Store, demo: datastack.DemoManifest) -> None:
    seg = TensorStoreSegmentation.open(demo.segmentation_source)
    synapses = store.annotations_at("synapses", as_utc(demo.edits_until))
    for point in ("pre_pt", "post_pt"):
        xyz = np.stack([synapses.column(f"{point}_position_{a}").to_numpy() for a in "xyz"], axis=1)
        svids = seg.lookup(xyz, (8.0, 8.0, 40.0))
        assert (svids != 0).all()
    assert seg.resolution_nm == (8.0, 8.0, 40.0)
    assert demo.operations > OPTIONS.mistakes * 2


def test_history_spreads_over_days(store: Store, demo: datastack.DemoManifest) -> None:
    ops = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE).list_operations()
    assert ops[-1].timestamp - ops[0].timestamp > timedelta(days=OPTIONS.days - 3)
    assert {op.kind for op in ops} >= {"merge", "split", "undo"}
    assert len({op.user_id for op in ops}) > 1


def test_demo_data_command(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    first = cli(
        ["demo-data", "--synapses", "500", "--max-merges", "20"],
        home.parent,
        FIXATIVE_HOME=str(home),
    )
    assert first.returncode == 0, first.stderr
    manifest = json.loads((home / "demo" / "manifest.json").read_text())
    assert manifest["synapses"] == 500
    assert "[[datastacks]]" in (home / "fixative.toml").read_text()
    env = {"FIXATIVE_HOME": str(home)}
    made = cli(["token", "create", "--user", "alice", "--datastack", "demo"], home.parent, **env)
    assert made.returncode == 0, made.stderr
    assert cli(["group", "add", "alice", "lab"], home.parent, **env).returncode == 0
    again = cli(["demo-data", "--synapses", "300", "--max-merges", "10"], home.parent, **env)
    assert again.returncode == 0, again.stderr
    assert json.loads((home / "demo" / "manifest.json").read_text())["synapses"] == 300
    # the rebuild replaced the demo, not the users' tokens and groups
    assert "alice" in cli(["token", "list"], home.parent, **env).stdout
    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    try:
        assert authenticate(store, made.stdout.split()[-1]).user_id == "alice"
        assert list_groups(store) == {"lab": ["alice"]}
    finally:
        store.dispose()


def test_demo_data_refuses_a_database_with_other_tables(tmp_path: Path, cli: Cli) -> None:
    from fixative.store import NewTable

    home = tmp_path / "home"
    home.mkdir()
    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    store.create_table(NewTable("precious", "bound_tag", "av", "me", (4, 4, 40)))
    store.dispose()
    result = cli(["demo-data", "--synapses", "100"], home.parent, FIXATIVE_HOME=str(home))
    assert result.returncode == 1
    assert "precious" in result.stderr
    assert (home / "live.sqlite").exists()


def test_demo_data_settings_name_the_database_it_used(tmp_path: Path, cli: Cli) -> None:
    """A new shell (no FIXATIVE_* variables) in the same directory finds the same data."""
    elsewhere = tmp_path / "elsewhere" / "demo.sqlite"
    built = cli(
        ["demo-data", "--synapses", "200", "--max-merges", "10"],
        tmp_path,
        FIXATIVE_DATABASE_URL=f"sqlite:///{elsewhere}",
    )
    assert built.returncode == 0, built.stderr
    assert elsewhere.is_file()
    written = (tmp_path / ".fixative" / "fixative.toml").read_text()
    assert f'database_url = "sqlite:///{elsewhere}"' in written
    assert f'home = "{(tmp_path / ".fixative").resolve()}"' in written
    listed = cli(["tables"], tmp_path, COLUMNS="200")  # no FIXATIVE_DATABASE_URL
    assert listed.returncode == 0, listed.stderr
    for table in ("synapses", "cell_types", "nuclei"):
        assert table in listed.stdout
    assert not (tmp_path / ".fixative" / "live.sqlite").exists()
