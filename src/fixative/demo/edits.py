"""The demo's proofreading story: an over-segmented start and the edits that repair it.

Some cells start in fragments (their supervoxels grouped by Voronoi seed, so a fragment is a
real piece of the cell); the history merges the fragments back along true contacts, and now and
then a proofreader merges two different cells by mistake and repairs it later (a min-cut split,
or an undo). After the whole history every cell is exactly one root again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from fixative.demo.layout import cell_of, seed_of

EditKind = Literal["merge", "split", "undo"]


@dataclass(frozen=True)
class Edit:
    kind: EditKind
    at: datetime
    sv_a: int  # merge: the two supervoxels; split: source and sink
    sv_b: int
    wrong: bool = False  # a mistaken merge, repaired later
    repairs: int | None = None  # index of the mistaken merge this edit repairs


@dataclass(frozen=True)
class Plan:
    initial_edges: npt.NDArray[np.uint64]  # (n, 2)
    edits: list[Edit]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


def plan_history(
    contacts: npt.NDArray[np.uint64],
    start: datetime,
    *,
    max_merges: int,
    wrong_merges: int,
    days: int = 8,
    seed: int = 0,
) -> Plan:
    """Split cells into fragments until ``max_merges`` repairs are needed; spread the repairs
    and ``wrong_merges`` mistakes (each repaired a day or so later) over ``days`` days."""
    rng = np.random.default_rng(seed)
    cells = cell_of(contacts[:, 0])
    order = rng.permutation(np.unique(cells))
    fragment = np.zeros(len(contacts), dtype=bool)  # True: the contact is cut at the start
    repairs: list[tuple[int, int]] = []
    for cell in order.tolist():
        if len(repairs) >= max_merges:
            break
        mine = np.nonzero(cells == cell)[0]
        group = seed_of(contacts[mine]) // 2  # seeds {0,1} vs {2,3}
        cut = mine[group[:, 0] != group[:, 1]]
        fragment[cut] = True
        repairs.extend(_spanning_repairs(contacts, mine, fragment))
    initial = contacts[~fragment]
    story: list[tuple[EditKind, int, int, bool]] = [("merge", a, b, False) for a, b in repairs]
    story += _mistakes(contacts, rng, wrong_merges)
    rng.shuffle(story)
    return Plan(initial, _schedule(story, start, days, rng))


def _spanning_repairs(
    contacts: npt.NDArray[np.uint64], mine: npt.NDArray[np.intp], cut: npt.NDArray[np.bool_]
) -> list[tuple[int, int]]:
    """The fewest true contacts that reconnect one cell's fragments."""
    uf = _UnionFind()
    for a, b in contacts[mine[~cut[mine]]].tolist():
        uf.union(a, b)
    return [(a, b) for a, b in contacts[mine[cut[mine]]].tolist() if uf.union(a, b)]


def _mistakes(
    contacts: npt.NDArray[np.uint64], rng: np.random.Generator, count: int
) -> list[tuple[EditKind, int, int, bool]]:
    """Mistaken merges between different cells; no cell takes part in two, so every mistake is
    a bridge that one minimum cut (or an undo) removes exactly."""
    svs = np.unique(contacts)
    used: set[int] = set()
    out: list[tuple[EditKind, int, int, bool]] = []
    for _ in range(100 * count):
        if len(out) >= count or svs.size < 2:
            break
        a, b = (int(v) for v in rng.choice(svs, size=2, replace=False))
        cells = {int(c) for c in cell_of(np.array([a, b], np.uint64))}
        if len(cells) == 2 and not cells & used:
            used |= cells
            out.append(("merge", a, b, True))
    return out


def _schedule(
    story: list[tuple[EditKind, int, int, bool]],
    start: datetime,
    days: int,
    rng: np.random.Generator,
) -> list[Edit]:
    """Edits at working hours over ``days`` days; each mistake repaired 6 to 30 hours later."""
    offsets = np.sort(rng.random(len(story))) * (days - 2) * 86_400 + 86_400
    edits: list[Edit] = []
    for i, ((kind, a, b, wrong), offset) in enumerate(zip(story, offsets.tolist(), strict=True)):
        at = start + timedelta(seconds=offset)
        edits.append(Edit(kind, at, a, b, wrong=wrong))
        if wrong:
            later = at + timedelta(hours=6 + 24 * float(rng.random()))
            repair: EditKind = "undo" if i % 3 == 0 else "split"
            edits.append(Edit(repair, later, a, b, repairs=len(edits) - 1))
    order = sorted(range(len(edits)), key=lambda k: edits[k].at)
    remap = {old: new for new, old in enumerate(order)}
    return [
        Edit(e.kind, e.at, e.sv_a, e.sv_b, e.wrong, None if e.repairs is None else remap[e.repairs])
        for e in (edits[k] for k in order)
    ]
