"""Build the demo datastack: a precomputed segmentation volume, an embedded chunkedgraph with an
edit history spread over simulated days, and the annotation tables, on the real C. elegans
connectome (repeated in tiles for larger builds).

Timeline (all in the past, so versions can be cut at any instant of it): the graph is built
over-segmented and the annotations are written at ``start``; proofreading then runs for
``days`` days and ends a day before now.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.port import Operation
from fixative.clock import utc_now
from fixative.demo import annotations as ann
from fixative.demo.celegans import read_cells, read_connections
from fixative.demo.edits import Edit, plan_history
from fixative.demo.layout import Layout
from fixative.demo.views import define_views
from fixative.demo.volume import write_volume
from fixative.store import NewTable, Store
from fixative.testing.clock import TickingClock

DATASTACK = "demo"
ALIGNED_VOLUME = "demo_av"
PCG_TABLE = "demo_pcg"
TABLES = ("synapses", "cell_types", "nuclei")
PROOFREADERS = ("ada", "ben", "chloe", "dev")
Report = Callable[[str, int, int], None]  # (step, done, total)


@dataclass(frozen=True)
class DemoOptions:
    synapses: int | None = None  # None: the whole connectome, 28,113
    max_merges: int = 600
    mistakes: int = 12
    days: int = 8
    encoding: str = "compressed_segmentation"
    seed: int = 0


@dataclass
class DemoManifest:
    """What was built, written beside the volume as ``manifest.json``."""

    datastack: str
    aligned_volume: str
    pcg_table: str
    segmentation_source: str
    resolution_nm: tuple[float, float, float]
    volume_shape: tuple[int, int, int]
    cells: int
    supervoxels: int
    synapses: int
    operations: int
    started_at: str
    edits_from: str
    edits_until: str
    seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    seconds[step] = round(time.perf_counter() - start, 2)


def build(
    store: Store, directory: Path, options: DemoOptions, report: Report | None = None
) -> DemoManifest:
    """Write the volume under ``directory``, and the graph and tables into ``store``."""
    report = report or (lambda step, done, total: None)
    wires = ann.wiring(read_cells(), read_connections(), options.synapses)
    layout = Layout(len(wires.names))
    start = (utc_now() - timedelta(days=options.days + 2)).replace(microsecond=0)
    seconds: dict[str, float] = {}
    seg_path = directory / "segmentation"
    with _timed(seconds, "volume"):
        svids, contacts = write_volume(seg_path, layout, options.encoding, report)
    plan = plan_history(
        contacts,
        start,
        max_merges=options.max_merges,
        wrong_merges=options.mistakes,
        days=options.days,
        seed=options.seed,
    )
    clock = TickingClock(start, timedelta(0))
    live_clock, store.clock = store.clock, clock  # the history is written at simulated instants
    try:
        with _timed(seconds, "graph"):
            graph = EmbeddedChunkedGraph.create(
                store,
                PCG_TABLE,
                svids,
                plan.initial_edges,
                at=start,
                user_id="segmentation",
                clock=clock,
            )
        clock.now = start + timedelta(minutes=10)
        with _timed(seconds, "annotations"):
            _write_tables(store, layout, wires, options.seed, f"precomputed://file://{seg_path}")
        with _timed(seconds, "edits"):
            operations = apply_edits(graph, plan.edits, clock, report)
    finally:
        store.clock = live_clock
    define_views(store, DATASTACK, ALIGNED_VOLUME, layout.resolution_nm)
    return DemoManifest(
        DATASTACK,
        ALIGNED_VOLUME,
        PCG_TABLE,
        f"precomputed://file://{seg_path}",
        layout.resolution_nm,
        layout.shape,
        len(wires.names),
        int(svids.size),
        wires.n_synapses,
        len(operations),
        start.isoformat(),
        plan.edits[0].at.isoformat() if plan.edits else start.isoformat(),
        plan.edits[-1].at.isoformat() if plan.edits else start.isoformat(),
        seconds,
    )


def _write_tables(store: Store, layout: Layout, wires: ann.Wiring, seed: int, source: str) -> None:
    specs = {
        "synapses": (
            "synapse",
            "Chemical synapses of the C. elegans connectome (Cook et al. 2019)",
        ),
        "cell_types": ("cell_type_local", "Every cell's name and WormAtlas class"),
        "nuclei": ("nucleus_detection", "One nucleus per cell"),
    }
    for name, (schema, description) in specs.items():
        store.create_table(
            NewTable(
                name,
                schema,
                ALIGNED_VOLUME,
                "demo",
                layout.resolution_nm,
                description=description,
                read_permission="PUBLIC",
                write_permission="PRIVATE",
                pcg_table_name=PCG_TABLE,
                segmentation_source=source,
            )
        )
    store.insert_annotations("cell_types", ann.cell_type_table(layout, wires))
    store.insert_annotations("nuclei", ann.nucleus_table(layout, wires, seed))
    store.insert_annotations("synapses", ann.synapse_table(layout, wires, seed))


def apply_edits(
    graph: EmbeddedChunkedGraph, edits: list[Edit], clock: TickingClock, report: Report
) -> list[Operation]:
    """Play the proofreading story at its simulated instants."""
    done: list[Operation] = []
    by_edit: dict[int, Operation] = {}
    for i, edit in enumerate(edits):
        clock.now = edit.at
        user = PROOFREADERS[i % len(PROOFREADERS)]
        if edit.kind == "merge":
            op = graph.merge(edit.sv_a, edit.sv_b, user)
        elif edit.kind == "split":
            op = graph.split([edit.sv_a], [edit.sv_b], user)
        else:
            assert edit.repairs is not None
            op = graph.undo(by_edit[edit.repairs].operation_id, user)
        by_edit[i] = op
        done.append(op)
        if i % 25 == 0 or i == len(edits) - 1:
            report("edits", i + 1, len(edits))
    return done


def write_manifest(directory: Path, manifest: DemoManifest) -> Path:
    path = directory / "manifest.json"
    path.write_text(json.dumps(asdict(manifest), indent=2))
    return path


def expected_pairs(options: DemoOptions) -> dict[tuple[str, str], int]:
    wires = ann.wiring(read_cells(), read_connections(), options.synapses)
    return ann.expected_connectivity(wires)
