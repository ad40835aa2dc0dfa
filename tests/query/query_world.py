"""A small world for the query tests, and the oracle.

Tables: ``synapses`` (bound pre/post points, unbound ctr point, a float), ``cells``
(``cell_type_local``: two strings and a bound point, another resolution) and ``tags``
(``reference_tag`` pointing at cells), ``nuclei`` (``nucleus_detection``: optional, often NULL
bounding-box points, a third resolution). An embedded chunkedgraph over 64 supervoxels, chains of
four. A point's supervoxel is a fixed function of its position (``sv_of``), as a segmentation
volume would give; ``bring_to`` plays ingest + update-roots at an instant by writing the
segmentation rows directly.

Timeline (``build``): rows, version 1 at ``t1``; merges, a split, inserts, updates, deletes;
version 2 at ``t2``; more edits and changes, ingested at ``t3`` (no version). ``mid`` lies
between the versions (after some edits), ``before`` before version 1.

The oracle reads ``store.annotations_at(T)`` and ``cg.get_roots(sv_of(pos), T)`` and answers a
``QuerySpec`` in plain Python, never through the engine's SQL.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.query.spec import QuerySpec
from fixative.store import NewTable, Store
from fixative.store import tables as t
from fixative.store.root_history import record_instant, record_intervals
from fixative.store.segmentation import SegmentationTable
from fixative.testing.clock import TickingClock
from fixative.versions import VersionOptions, create_version
from fixative.versions.model import Kind

GRAPH = "cg"
N_SV = 64
SYN_RES = (4.0, 4.0, 40.0)
CELL_RES = (8.0, 8.0, 40.0)
NUC_RES = (16.0, 16.0, 40.0)
BOUND = {"synapses": ("pre_pt", "post_pt"), "cells": ("pt",), "tags": (), "nuclei": ("pt",)}
POINTS = {
    "synapses": ("pre_pt", "ctr_pt", "post_pt"),
    "cells": ("pt",),
    "tags": (),
    "nuclei": ("pt", "bb_start", "bb_end"),
}
CELL_TYPES = ("pyr", "basket", "chandelier", "martinotti")
Row = dict[str, Any]


def sv_of(x: int, y: int, z: int) -> int:
    return 1 + (7 * x + 3 * y + z) % N_SV


class PositionVolume:
    """The world's segmentation as the ``SegmentationSource`` port: ``sv_of`` of each point in
    its table's voxels (a stand-in for a volume on disk, named as such: it answers exactly
    what ``bring_to`` links, which is what the oracle assumes)."""

    resolution_nm = SYN_RES

    def lookup(
        self, points: Any, resolution_nm: tuple[float, float, float], *, outside: str = "error"
    ) -> Any:
        pts = np.asarray(points, dtype=np.int64).reshape(-1, 3)
        return np.array([sv_of(int(x), int(y), int(z)) for x, y, z in pts], dtype=np.uint64)


def flat_order(table: str) -> list[str]:
    """The version table's columns, written out by hand from the schema types."""
    cols = ["id"] + (["target_id"] if table == "tags" else [])
    if table == "cells":
        cols += ["classification_system", "cell_type"]
    for p in POINTS[table]:
        cols += [f"{p}_position_{a}" for a in "xyz"]
        if p in BOUND[table]:
            cols += [f"{p}_supervoxel_id", f"{p}_root_id"]
        if table == "nuclei" and p == "pt":
            cols.append("volume")
    if table == "synapses":
        cols.append("size")
    if table == "tags":
        cols.append("tag")
    return cols


@dataclass
class QueryWorld:
    store: Store
    clock: TickingClock
    datastack: str
    cg: EmbeddedChunkedGraph = field(init=False)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    times: dict[str, datetime] = field(default_factory=dict)
    cache: dict[tuple[str, datetime], list[Row]] = field(default_factory=dict)
    kind: Kind = "flat"  # how its versions are kept: copies, or rows of the root-id history

    # -- building ----------------------------------------------------------------------------

    def synapse(self) -> Row:
        pre = self.rng.integers(0, 200, 3).tolist()
        post = self.rng.integers(0, 200, 3).tolist()
        ctr = [(a + b) // 2 for a, b in zip(pre, post, strict=True)]
        return {
            "pre_pt": {"position": pre},
            "ctr_pt": {"position": ctr},
            "post_pt": {"position": post},
            "size": float(self.rng.integers(0, 1000)) / 10,
        }

    def cell(self) -> Row:
        return {
            "classification_system": str(self.rng.choice(["aibs", "ext"])),
            "cell_type": str(self.rng.choice(CELL_TYPES)),
            "pt": {"position": self.rng.integers(0, 100, 3).tolist()},
        }

    def nucleus(self) -> Row:
        """Half of the nuclei have a bounding box (optional points: NULL otherwise)."""
        row: Row = {
            "pt": {"position": self.rng.integers(0, 60, 3).tolist()},
            "volume": float(self.rng.integers(0, 100)),
        }
        if self.rng.random() < 0.5:
            lo = self.rng.integers(0, 60, 3)
            row["bb_start"] = {"position": lo.tolist()}
            row["bb_end"] = {"position": (lo + self.rng.integers(1, 9, 3)).tolist()}
        return row

    def insert(self, table: str, n: int) -> list[int]:
        if table == "tags":
            cells = self.live_ids("cells")
            rows = [
                {"target_id": int(self.rng.choice(cells)), "tag": f"tag {self.rng.integers(99)}"}
                for _ in range(n)
            ]
        else:
            rows = [self.maker(table)() for _ in range(n)]
        return [int(i) for i in self.store.insert_annotations(table, rows)]

    def maker(self, table: str) -> Any:
        return {"synapses": self.synapse, "cells": self.cell, "nuclei": self.nucleus}[table]

    def live_ids(self, table: str) -> list[int]:
        rows = self.store.annotations_at(table, self.store.clock())
        return [int(i) for i in rows.column("id").to_pylist()]

    def change(self, table: str, n_update: int, n_delete: int) -> None:
        ids = self.live_ids(table)
        chosen = self.rng.choice(ids, n_update + n_delete, replace=False).tolist()
        if n_update:
            if table == "tags":
                rows = [
                    {"id": i, "target_id": self.live_ids("cells")[0], "tag": "new"}
                    for i in chosen[:n_update]
                ]
            else:
                rows = [{"id": i, **self.maker(table)()} for i in chosen[:n_update]]
            self.store.update_annotations(table, rows)
        if n_delete:
            self.store.delete_annotations(table, chosen[n_update:])

    def edit_graph(self, merges: int, splits: int) -> None:
        for _ in range(merges):
            while True:
                a, b = (int(v) for v in self.rng.integers(1, N_SV + 1, 2))
                roots = self.cg.get_roots([a, b])
                if roots[0] != roots[1]:
                    self.cg.merge(a, b, "u")
                    break
        for _ in range(splits):
            for _attempt in range(50):
                a = int(self.rng.integers(1, N_SV))
                if a % 4 and self.cg.get_roots([a])[0] == self.cg.get_roots([a + 1])[0]:
                    try:
                        self.cg.remove_edges([(a, a + 1)], "u")
                    except Exception:  # not an edge any more
                        continue
                    break

    def bring_to(self, at: datetime) -> None:
        """Segmentation rows for rows created by ``at``, all roots at ``at``, recorded in
        the root-id histories at ``at`` and ``at`` recorded, as a refresh does."""
        segs = {
            name: SegmentationTable.of(self.store.get_table(name))
            for name in ("synapses", "cells", "nuclei")
        }
        with self.store.write() as conn:
            for name in ("synapses", "cells", "nuclei"):
                live = self.store._table_object(conn, name)
                seg = self.store._table_object(conn, f"{name}__{GRAPH}")
                have = set(conn.execute(sa.select(seg.c.id)).scalars())
                rows = conn.execute(sa.select(live).where(live.c.created <= at)).all()
                links = []
                for r in rows:
                    link: Row = {"id": r.id}
                    for p in BOUND[name]:
                        xyz = [getattr(r, f"{p}_position_{a}") for a in "xyz"]
                        sv = sv_of(*xyz)
                        link[f"{p}_supervoxel_id"] = sv
                        link[f"{p}_root_id"] = int(self.cg.get_roots([sv], at)[0])
                    links.append(link)
                conn.execute(seg.delete().where(seg.c.id.in_(have)))
                if links:
                    conn.execute(seg.insert(), links)
                    record_intervals(conn, segs[name], [row["id"] for row in links], at)
                record_instant(conn, name, at)
            meta = t.segmentation_table_metadata
            conn.execute(meta.update().values(last_updated=at))

    def version(self, at: datetime) -> int:
        self.bring_to(at)
        options = VersionOptions(kind=self.kind)
        return create_version(self.store, self.datastack, at, None, options).version

    def build(self) -> QueryWorld:
        self.cg = EmbeddedChunkedGraph.create(
            self.store,
            GRAPH,
            np.arange(1, N_SV + 1),
            [(a, a + 1) for a in range(1, N_SV) if a % 4],
        )
        s = self.store
        s.create_table(NewTable("synapses", "synapse", "av", "u", SYN_RES, pcg_table_name=GRAPH))
        s.create_table(
            NewTable(
                "cells",
                "cell_type_local",
                "av",
                "u",
                CELL_RES,
                pcg_table_name=GRAPH,
                notice_text="cells are provisional",
            )
        )
        s.create_table(
            NewTable("tags", "reference_tag", "av", "u", CELL_RES, reference_table="cells")
        )
        s.create_table(
            NewTable("nuclei", "nucleus_detection", "av", "u", NUC_RES, pcg_table_name=GRAPH)
        )
        self.insert("cells", 20)
        self.insert("nuclei", 16)
        self.insert("synapses", 60)
        self.insert("tags", 12)
        self.times["before"] = self.clock()
        self.insert("synapses", 5)
        self.times["t1"] = self.clock()
        self.version(self.times["t1"])
        self.edit_graph(merges=3, splits=1)
        self.insert("synapses", 10)
        self.change("synapses", 4, 3)
        self.change("cells", 2, 1)
        self.change("nuclei", 2, 2)
        self.insert("tags", 3)
        self.times["mid"] = self.clock()
        self.edit_graph(merges=2, splits=2)
        self.insert("synapses", 5)
        self.change("synapses", 2, 2)
        self.times["t2"] = self.clock()
        self.version(self.times["t2"])
        self.edit_graph(merges=2, splits=1)
        self.insert("synapses", 6)
        self.change("synapses", 2, 2)
        self.change("tags", 1, 1)
        self.insert("nuclei", 3)
        self.times["after"] = self.clock()
        self.edit_graph(merges=1, splits=0)
        self.times["t3"] = self.clock()
        self.bring_to(self.times["t3"])
        return self

    # -- the oracle --------------------------------------------------------------------------

    def rows_at(self, table: str, at: datetime) -> list[Row]:
        """The flat rows at ``at`` (cached: history before the clock never changes)."""
        key = (table, at)
        if key not in self.cache:
            data = self.store.annotations_at(table, at).to_pylist()
            out = [{c: r.get(c) for c in flat_order(table)} for r in data]
            for p in BOUND[table]:
                svs = [sv_of(*(r[f"{p}_position_{a}"] for a in "xyz")) for r in data]
                roots = self.cg.get_roots(np.array(svs, dtype=np.uint64), at).tolist()
                for row, sv, root in zip(out, svs, roots, strict=True):
                    row[f"{p}_supervoxel_id"] = sv
                    row[f"{p}_root_id"] = int(root)
            self.cache[key] = out
        return [dict(r) for r in self.cache[key]]

    def oracle(self, spec: QuerySpec, at: datetime) -> list[Row]:
        """The rows the engine must return, as dicts keyed by output column, in order."""
        per = {
            name: [r for r in self.rows_at(name, at) if _keep(r, name, spec)]
            for name in spec.tables
        }
        combos: list[dict[str, Row]] = [{spec.tables[0]: r} for r in per[spec.tables[0]]]
        placed = {spec.tables[0]}
        pending = list(spec.joins)
        while pending:
            j = next(j for j in pending if (j.left_table in placed) != (j.right_table in placed))
            pending.remove(j)
            new = j.right_table if j.left_table in placed else j.left_table
            old_t, old_c, new_c = (
                (j.left_table, j.left_column, j.right_column)
                if new == j.right_table
                else (j.right_table, j.right_column, j.left_column)
            )
            combos = [
                {**c, new: r}
                for c in combos
                for r in per[new]
                if c[old_t][old_c] is not None and c[old_t][old_c] == r[new_c]
            ]
            placed.add(new)
        combos.sort(key=lambda c: tuple(c[n]["id"] for n in spec.tables))
        stop = None if spec.limit is None else spec.offset + spec.limit
        combos = combos[spec.offset : stop]
        return [_output(c, spec, self.resolutions()) for c in combos]

    def resolutions(self) -> dict[str, tuple[float, float, float]]:
        return {"synapses": SYN_RES, "cells": CELL_RES, "tags": CELL_RES, "nuclei": NUC_RES}


def _keep(row: Row, table: str, spec: QuerySpec) -> bool:
    for f in spec.filters:
        if f.table != table:
            continue
        if f.op == "spatial":
            lo, hi = f.value
            xyz = [row[f"{f.column}_{a}"] for a in "xyz"]
            if xyz[0] is None or not all(a <= v <= b for a, v, b in zip(lo, xyz, hi, strict=True)):
                return False
            continue
        v = row[f.column]
        if f.op == "not_in" and not f.value:
            continue
        if v is None:
            return False
        if not _matches(f.op, v, f.value):
            return False
    return True


def _matches(op: str, v: Any, value: Any) -> bool:
    if op == "in":
        return v in value
    if op == "not_in":
        return v not in value
    if op == "regex":
        return re.search(value, v) is not None
    compare = {
        "equal": v == value,
        "greater": v > value,
        "less": v < value,
        "greater_equal": v >= value,
        "less_equal": v <= value,
    }
    return bool(compare[op])


def _output(combo: dict[str, Row], spec: QuerySpec, res: dict[str, Any]) -> Row:
    """Selected columns named as the spec's suffix rule says, positions scaled."""
    items: dict[str, list[tuple[str, Any]]] = {}
    for name in spec.tables:
        row = combo[name]
        wanted = None if spec.select is None else set(spec.select.get(name, ()))
        points = {f"{p}_position": p for p in POINTS[name]}
        seen = set()
        for col in flat_order(name):
            base = col[:-2] if col[:-2] in points else None
            if base is not None:
                if base in seen or (wanted is not None and base not in wanted):
                    continue
                seen.add(base)
                items.setdefault(name, []).append((base, [row[f"{base}_{a}"] for a in "xyz"]))
            elif wanted is None or col in wanted:
                items.setdefault(name, []).append((col, row[col]))
    counts: dict[str, list[str]] = {}
    for name in spec.tables:
        for base, _ in items.get(name, []):
            counts.setdefault(base, []).append(name)
    out: Row = {}
    main_res = res[spec.tables[0]]
    for name in spec.tables:
        for base, value in items.get(name, []):
            holders = counts[base]
            suffix = ""
            if len(holders) > 1:
                suffix = spec.suffixes.get(name, "" if holders[0] == name else f"_{name}")
            if isinstance(value, list):
                target = spec.desired_resolution or main_res
                scaled = value
                if spec.desired_resolution is not None or res[name] != main_res:
                    scaled = [
                        None if v is None else v * res[name][i] / target[i]
                        for i, v in enumerate(value)
                    ]
                if spec.split_positions:
                    for a, v in zip("xyz", scaled, strict=True):
                        out[f"{base}{suffix}_{a}"] = v
                else:
                    out[f"{base}{suffix}"] = None if scaled[0] is None else scaled
            else:
                out[f"{base}{suffix}"] = value
    return out


def close_rows(a: list[Row], b: list[Row]) -> bool:
    """Equal, floats compared with a tolerance."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            return False
        for k in x:
            u, v = x[k], y[k]
            if isinstance(u, float) or isinstance(v, float):
                if not math.isclose(u, v, rel_tol=1e-9):
                    return False
            elif isinstance(u, list) and isinstance(v, list):
                if not all(math.isclose(p, q, rel_tol=1e-9) for p, q in zip(u, v, strict=True)):
                    return False
            elif u != v:
                return False
    return True
