"""``fixative demo``: what exists today, run for real on the embedded default.

1. Annotation history: a table written, corrected and deleted, read back at several instants.
2. The demo datastack: a segmentation volume, an embedded chunkedgraph with days of edits, and
   the C. elegans tables; the complete workflow (ingest, update roots, version, expiry) run by the
   task runner halfway through proofreading and after it; one neuron's partners before and after,
   and the whole connectome checked against the published file.
3. ``fixative serve`` on a free loopback port, queried with caveclient (``demo.client_tour``).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.chunkedgraph.port import ChunkedGraph
from fixative.cli.versions import print_versions
from fixative.clock import as_utc
from fixative.config import Settings
from fixative.demo import check, client_tour, datastack, history, install, next_steps
from fixative.demo.datastack import DATASTACK
from fixative.demo.progress import ProgressReport
from fixative.query.engine import QueryEngine
from fixative.runner.inline import InlineRunner
from fixative.runner.records import get_run
from fixative.segmentation.port import SegmentationSource
from fixative.segmentation.tensorstore import TensorStoreSegmentation
from fixative.services import Services
from fixative.store import Store
from fixative.versions import list_versions
from fixative.workflows.refresh import refresh_table

NEURON = "AVAL"


def run(settings: Settings, console: Console, config_path: Path | None = None) -> None:
    """``config_path``: the settings file given with ``--config``, if any."""
    history.run(settings.home, console)
    console.rule("[bold]The demo datastack: C. elegans on a proofread segmentation")
    store = install.fresh_store(settings)
    try:
        options = datastack.DemoOptions()
        with ProgressReport(console) as report:
            manifest = datastack.build(store, install.demo_directory(settings), options, report)
        datastack.write_manifest(install.demo_directory(settings), manifest)
        written = install.register(settings, manifest, config_path)
        console.print(
            f"{manifest.cells} cells in {manifest.supervoxels:,} supervoxels "
            f"(volume {manifest.volume_shape} voxels at {manifest.resolution_nm} nm), "
            f"{manifest.synapses:,} synapses, {manifest.operations} proofreading edits "
            f"from {manifest.edits_from[:10]} to {manifest.edits_until[:10]}"
        )
        seg = TensorStoreSegmentation.open(manifest.segmentation_source)
        graph = EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE)
        expected = datastack.expected_pairs(options)
        instants = [
            ("before proofreading", as_utc(manifest.edits_from) - timedelta(minutes=1)),
            ("halfway", _halfway(manifest)),
            ("after proofreading", as_utc(manifest.edits_until) + timedelta(minutes=1)),
        ]
        results = []
        demo_settings = install.with_demo(settings, manifest)
        runner = InlineRunner(Services(demo_settings, store))
        try:
            for label, at in instants:
                if label == "before proofreading":
                    _refresh(store, seg, graph, at, label, console)
                else:
                    _complete_workflow(runner, at, label, console)
                got = check.connectivity_from_tables(store, at)
                if got != check.connectivity(store, seg, graph, at):
                    raise AssertionError(f"{label}: the tables disagree with direct lookups")
                if label != "before proofreading":
                    got = _from_version(store, at, got)
                results.append((label, at, got))
        finally:
            runner.close()
        print_versions(
            console, store, DATASTACK, [v.version for v in list_versions(store, DATASTACK)]
        )
        console.print(_partners_table(results))
        for label, at, got in results:
            exact = sum(got.get(pair, 0) == n for pair, n in expected.items())
            console.print(
                f"{label} ({at:%Y-%m-%d %H:%M}): {exact:,} of {len(expected):,} connections of "
                f"the published connectome reproduced exactly; "
                f"{len(check.differences(got, expected)):,} (pre, post) pairs differ"
            )
        between = _halfway(manifest) + timedelta(hours=1)  # after version 1, before 2
        client_tour.run(demo_settings, store, console, NEURON, between)
    finally:
        store.dispose()
    next_steps.show(console, settings, manifest, written)


def _refresh(
    store: Store,
    seg: SegmentationSource,
    graph: ChunkedGraph,
    at: datetime,
    label: str,
    console: Console,
) -> None:
    """Ingest new annotations and move every table's root ids to ``at``."""
    notes = []
    for table in datastack.TABLES:
        done = refresh_table(store, seg, graph, table, at)
        cells = store.count_at(table, at) * len(store.get_table(table).schema.bound_points)
        notes.append(
            f"{table} +{done.ingest.rows:,} linked, "
            f"{done.roots.rows_touched:,} of {cells:,} root ids rewritten"
        )
    console.print(f"{label}: ingest and update-roots to {at:%Y-%m-%d %H:%M}: " + "; ".join(notes))


def _complete_workflow(runner: InlineRunner, at: datetime, label: str, console: Console) -> None:
    """The complete workflow at ``at`` as a recorded run, followed with a progress bar."""
    run_id = runner.submit("materialize", {"at": at.isoformat(), "days_to_expire": 30}, DATASTACK)
    store = runner.services.store
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(f"run {run_id}: complete workflow ({label})", total=None)
        while not (run := get_run(store, run_id)).finished:
            bar.update(task, completed=run.done, total=run.total or None)
            time.sleep(0.1)
        bar.update(task, completed=run.done, total=run.total or 1)
    if run.status != "SUCCEEDED" or run.result is None:
        raise AssertionError(f"run {run_id} {run.status}: {run.error}")
    notes = [
        f"{table} +{done['ingested']:,} linked, {done['roots_rewritten']:,} root ids rewritten"
        for table, done in run.result["refreshed"].items()
    ]
    console.print(
        f"{label}: run {run_id} (ingest, update roots, version {run.result['version']}, "
        f"expiry) at {at:%Y-%m-%d %H:%M} in {run.seconds:.1f} s: " + "; ".join(notes)
    )


def _from_version(
    store: Store, at: datetime, live: Counter[tuple[str, str]]
) -> Counter[tuple[str, str]]:
    """Read the connectivity back from the version made at ``at``."""
    (info,) = [v for v in list_versions(store, DATASTACK) if v.time_stamp == at]
    engine = QueryEngine(store, lambda _ds: EmbeddedChunkedGraph.open(store, datastack.PCG_TABLE))
    try:
        got = check.connectivity_from_version(engine, DATASTACK, info.version)
    finally:
        engine.close()
    if got != live:
        raise AssertionError(f"version {info.version} disagrees with the live tables")
    return got


def _halfway(manifest: datastack.DemoManifest) -> datetime:
    start, end = as_utc(manifest.edits_from), as_utc(manifest.edits_until)
    return start + (end - start) / 2


def _partners_table(results: list[tuple[str, datetime, Counter[tuple[str, str]]]]) -> Table:
    table = Table(
        title=f"{NEURON}'s strongest postsynaptic partners at each instant "
        "(halfway and after: read back from versions 1 and 2)"
    )
    table.add_column("partner")
    for label, _, _ in results:
        table.add_column(label, justify="right")
    final = results[-1][2]
    partners = sorted(
        ((post, n) for (pre, post), n in final.items() if pre == NEURON), key=lambda kv: -kv[1]
    )[:8]
    for post, _ in partners:
        table.add_row(post, *(str(got.get((NEURON, post), 0)) for _, _, got in results))
    return table
