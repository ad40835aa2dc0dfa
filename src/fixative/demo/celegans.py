"""Read the C. elegans connectome (Cook et al. 2019) that ships inside the package.

The files live in ``fixative/demo/data/celegans`` (with their citation and licence) and are read
through ``importlib.resources``, so an installed wheel, a clone or a container image all find
them. ``FIXATIVE_CELEGANS_DIR`` names another folder holding the same two files."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from fixative.errors import NotFound

FILES = ("cells.csv", "chemical_synapses.csv")


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


def data_dir() -> Traversable:
    """``FIXATIVE_CELEGANS_DIR`` when set, else the copy inside the package."""
    env = os.environ.get("FIXATIVE_CELEGANS_DIR")
    folder: Traversable = (
        Path(env) if env else resources.files("fixative.demo").joinpath("data", "celegans")
    )
    missing = [name for name in FILES if not folder.joinpath(name).is_file()]
    if missing:
        where = f"FIXATIVE_CELEGANS_DIR={env}" if env else "the installed package"
        raise NotFound(f"C. elegans data not found: {', '.join(missing)} missing in {where}")
    return folder


def _rows(name: str, folder: Traversable | None) -> list[dict[str, str]]:
    text = (folder or data_dir()).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def read_cells(folder: Traversable | None = None) -> list[Cell]:
    return [
        Cell(r["cell"], r["sim_class"], r["wormatlas_class"], r["is_neuron"] == "1")
        for r in _rows("cells.csv", folder)
    ]


def read_connections(folder: Traversable | None = None) -> list[Connection]:
    return [
        Connection(r["pre"], r["post"], int(r["weight"]))
        for r in _rows("chemical_synapses.csv", folder)
    ]
