"""Read the C. elegans connectome shipped beside the project (Cook et al. 2019)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from fixative.errors import NotFound


@dataclass(frozen=True)
class Cell:
    name: str
    sim_class: str
    wormatlas_class: str
    is_neuron: bool


@dataclass(frozen=True)
class Connection:
    pre: str
    post: str
    weight: int


def data_dir() -> Path:
    """``FIXATIVE_CELEGANS_DIR``, else ``shared/data/celegans`` beside the repository."""
    env = os.environ.get("FIXATIVE_CELEGANS_DIR")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" / "celegans" for p in here.parents]
    candidates.append(Path.cwd().parent / "shared" / "data" / "celegans")
    for path in candidates:
        if (path / "cells.csv").is_file():
            return path
    raise NotFound(
        "C. elegans data not found: set FIXATIVE_CELEGANS_DIR to the folder of cells.csv"
    )


def read_cells(path: Path | None = None) -> list[Cell]:
    with open((path or data_dir()) / "cells.csv", newline="") as fh:
        return [
            Cell(r["cell"], r["sim_class"], r["wormatlas_class"], r["is_neuron"] == "1")
            for r in csv.DictReader(fh)
        ]


def read_connections(path: Path | None = None) -> list[Connection]:
    with open((path or data_dir()) / "chemical_synapses.csv", newline="") as fh:
        return [Connection(r["pre"], r["post"], int(r["weight"])) for r in csv.DictReader(fh)]
