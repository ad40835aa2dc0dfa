"""Demo of annotation history: C. elegans cells and one neuron's synapses written, corrected and
deleted in an embedded datastack, then read back as they stood at several instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fixative.demo.celegans import read_cells, read_connections
from fixative.store import NewTable, Store, open_store
from fixative.testing.annotations import synapse_record

NEURON = "AVAL"
SPACING_VX = 400


@dataclass(frozen=True)
class Instant:
    label: str
    at: datetime


def _positions(names: list[str]) -> dict[str, tuple[int, int, int]]:
    """Lay the cells out on a grid (voxels), 24 per row, 4 layers deep."""
    return {
        n: ((i % 24) * SPACING_VX, (i // 24 % 5) * SPACING_VX, (i // 120) * 10)
        for i, n in enumerate(names)
    }


def _write_history(store: Store) -> tuple[list[Instant], dict[int, str]]:
    cells = read_cells()
    where = _positions([c.name for c in cells])
    for name, schema in (("cell_types", "cell_type_local"), ("synapses", "synapse")):
        store.create_table(
            NewTable(name, schema, "celegans", "demo", (8.0, 8.0, 40.0), pcg_table_name="demo_pcg")
        )
    store.insert_annotations(
        "cell_types",
        [
            {
                "pt": {"position": list(where[c.name])},
                "cell_type": c.name,
                "classification_system": c.wormatlas_class,
            }
            for c in cells
        ],
    )
    instants = [Instant("cells labelled", store.get_table("cell_types").last_modified_at)]
    targets = [c for c in read_connections() if c.pre == NEURON][:6]
    records, partner = [], []
    for conn in targets:
        for unit in range(min(conn.weight, 3)):
            pre = tuple(v + 20 * unit for v in where[conn.pre])
            post = tuple(v - 20 * unit for v in where[conn.post])
            records.append(synapse_record(pre, post, size=float(10 + unit)))  # type: ignore[arg-type]
            partner.append(conn.post)
    ids = store.insert_annotations("synapses", records).tolist()
    names = dict(zip(ids, partner, strict=True))
    instants.append(Instant(f"{len(ids)} synapses of {NEURON}", _modified(store)))
    fixed = store.update_annotations(
        "synapses",
        [{"id": ids[0], **synapse_record(where[NEURON], where[partner[0]], size=42.0)}],
    )
    names[fixed[ids[0]]] = partner[0]
    instants.append(Instant(f"synapse {ids[0]} corrected -> {fixed[ids[0]]}", _modified(store)))
    store.delete_annotations("synapses", ids[1:3])
    instants.append(Instant(f"synapses {ids[1]}, {ids[2]} deleted", _modified(store)))
    return instants, names


def _modified(store: Store) -> datetime:
    return store.get_table("synapses").last_modified_at


def _table_at(store: Store, instant: Instant, names: dict[int, str]) -> Table:
    rows = store.annotations_at("synapses", instant.at).to_pylist()
    table = Table(title=f"synapses at {instant.at:%H:%M:%S.%f} ({instant.label}): {len(rows)} rows")
    for col in ("id", "pre_pt_position", "post_pt_position", "post cell", "size"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            str(row["id"]),
            _xyz(row, "pre_pt"),
            _xyz(row, "post_pt"),
            names.get(row["id"], "?"),
            f"{row['size']:.0f}",
        )
    return table


def _xyz(row: dict[str, Any], point: str) -> str:
    return ", ".join(str(row[f"{point}_position_{a}"]) for a in "xyz")


def run(home: Path, console: Console) -> None:
    path = home / "demo" / "history.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("history.sqlite*"):
        stale.unlink()
    store = open_store(f"sqlite:///{path}")
    try:
        console.rule("[bold]Annotation history (embedded SQLite store)")
        instants, names = _write_history(store)
        cells = store.count_at("cell_types", instants[-1].at)
        console.print(f"cell_types: {cells} C. elegans cells; database {path}")
        for instant in instants[1:]:
            console.print(_table_at(store, instant, names))
    finally:
        store.dispose()
