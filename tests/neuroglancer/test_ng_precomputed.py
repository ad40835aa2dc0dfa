"""Precomputed annotations read by a decoder written from the specification (``ng_decode``)
and compared with the oracle, the rows the plain query returns: at a version and live, the
info, every cell of every spatial level (each annotation exactly once), ``by_id`` and the
relationship chunks; tags and 304s on versions."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import requests
from ng_decode import Annotation, Spec, read_info, read_list, read_one
from ng_world import NgWorld

VERSIONS = [1, None]  # version 1, and live
GEOMETRY = {"synapses": ("pre_pt", "post_pt"), "nuclei": ("pt",), "cell_types": ("pt",)}


def _get(session: requests.Session, url: str) -> bytes:
    got = session.get(url, timeout=60)
    assert got.status_code == 200, (url, got.text[:300])
    return got.content


def _geometry(row: dict[str, Any], table: str) -> tuple[float, ...]:
    return tuple(float(row[f"{p}_position_{a}"]) for p in GEOMETRY[table] for a in "xyz")


def _by_id(oracle: pa.Table) -> dict[int, dict[str, Any]]:
    return {int(r["id"]): r for r in oracle.to_pylist()}


def _walk(
    session: requests.Session, base: str, doc: dict[str, Any], spec: Spec
) -> list[tuple[int, tuple[int, ...], list[Annotation]]]:
    """Every cell of every level: (level, cell, its annotations)."""
    out = []
    for i, level in enumerate(doc["spatial"]):
        for cell in itertools.product(*(range(n) for n in level["grid_shape"])):
            name = "_".join(str(c) for c in cell)
            got = read_list(spec, _get(session, f"{base}/{level['key']}/{name}"))
            out.append((i, cell, got))
    return out


def _inside(doc: dict[str, Any], level: int, cell: tuple[int, ...], xyz: tuple[float, ...]) -> bool:
    """In the cell's half-open box, edge cells reaching out beyond the bounds."""
    spec = doc["spatial"][level]
    for a in range(3):
        lo = doc["lower_bound"][a] + cell[a] * spec["chunk_size"][a]
        hi = lo + spec["chunk_size"][a]
        low_ok = cell[a] == 0 or xyz[a] >= lo
        high_ok = cell[a] == spec["grid_shape"][a] - 1 or xyz[a] < hi
        if not (low_ok and high_ok):
            return False
    return True


@pytest.mark.parametrize("version", VERSIONS)
def test_info_describes_the_table(ng_world: NgWorld, version: int | None) -> None:
    volume_hi = list(ng_world.manifest.volume_shape)
    for table, kind in (("synapses", "LINE"), ("nuclei", "POINT")):
        doc = requests.get(ng_world.precomputed(table, version) + "/info", timeout=60).json()
        spec = read_info(doc)
        assert spec.kind == kind
        assert doc["dimensions"] == {"x": [8.0, "nm"], "y": [8.0, "nm"], "z": [40.0, "nm"]}
        assert doc["lower_bound"] == [0, 0, 0]
        assert all(u >= v for u, v in zip(doc["upper_bound"], volume_hi, strict=True))
        roots = [f"{p}_root_id" for p in GEOMETRY[table] if table == "synapses" or p == "pt"]
        assert spec.relationships == roots
        assert [r["key"] for r in doc["relationships"]] == roots
        assert len(doc["spatial"]) > 1
    synapses = requests.get(ng_world.precomputed("synapses", version) + "/info", timeout=60)
    assert read_info(synapses.json()).properties == [("size", "float32")]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("table", ["synapses", "nuclei"])
def test_spatial_index_lists_every_annotation_once(
    ng_world: NgWorld, version: int | None, table: str
) -> None:
    base = ng_world.precomputed(table, version)
    oracle = _by_id(ng_world.oracle(table, version))
    with requests.Session() as session:
        doc = requests.get(base + "/info", timeout=60).json()
        spec = read_info(doc)
        walked = _walk(session, base, doc, spec)
    seen = Counter(a.id for _, _, got in walked for a in got)
    assert set(seen) == set(oracle)
    assert max(seen.values()) == 1
    last = len(doc["spatial"]) - 1
    per_level = Counter()
    for level, cell, got in walked:
        per_level[level] += len(got)
        if level < last:
            assert len(got) <= doc["spatial"][level]["limit"]
        for a in got:
            row = oracle[a.id]
            assert a.geometry == _geometry(row, table)
            assert _inside(doc, level, cell, a.geometry[:3])
            if table == "synapses":
                assert a.properties == {"size": float(np.float32(row["size"]))}
    assert all(per_level[level] > 0 for level in range(last))  # subsampled at every level
    first = doc["spatial"][0]
    assert per_level[0] == min(first["limit"], len(oracle))
    assert per_level[0] == len({a.id for a in walked[0][2]})


@pytest.mark.parametrize("version", VERSIONS)
def test_coarse_levels_keep_the_lowest_ids_and_are_stable(
    ng_world: NgWorld, version: int | None
) -> None:
    """Level 0 lists the table's ``limit`` lowest ids; a cell answers the same bytes twice."""
    base = ng_world.precomputed("synapses", version)
    doc = requests.get(base + "/info", timeout=60).json()
    spec = read_info(doc)
    level = doc["spatial"][0]
    url = f"{base}/{level['key']}/0_0_0"
    first = requests.get(url, timeout=60).content
    assert requests.get(url, timeout=60).content == first
    ids = sorted(a.id for a in read_list(spec, first))
    oracle = sorted(_by_id(ng_world.oracle("synapses", version)))
    assert ids == oracle[: level["limit"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_by_id_holds_geometry_properties_and_related_segments(
    ng_world: NgWorld, version: int | None
) -> None:
    base = ng_world.precomputed("synapses", version)
    spec = read_info(requests.get(base + "/info", timeout=60).json())
    oracle = ng_world.oracle("synapses", version).to_pylist()
    with requests.Session() as session:
        for row in oracle[:: max(1, len(oracle) // 40)] + oracle[-3:]:
            got = read_one(spec, _get(session, f"{base}/by_id/{row['id']}"), row["id"])
            assert got.geometry == _geometry(row, "synapses")
            assert got.properties == {"size": float(np.float32(row["size"]))}
            want = {c: [row[c]] if row[c] else [] for c in spec.relationships}
            assert got.related == want


@pytest.mark.parametrize("version", VERSIONS)
def test_relationship_chunks_list_exactly_the_segments_rows(
    ng_world: NgWorld, version: int | None
) -> None:
    base = ng_world.precomputed("synapses", version)
    spec = read_info(requests.get(base + "/info", timeout=60).json())
    oracle = ng_world.oracle("synapses", version)
    rows = _by_id(oracle)
    with requests.Session() as session:
        for column in spec.relationships:
            counts = Counter(oracle.column(column).to_pylist())
            busiest = [root for root, _ in counts.most_common(3) if root]
            for root in [*busiest, min(counts), max(counts) + 12345]:
                got = read_list(spec, _get(session, f"{base}/{column}/{root}"))
                assert sorted(a.id for a in got) == sorted(
                    i for i, r in rows.items() if r[column] == root
                )
                for a in got:
                    assert a.geometry == _geometry(rows[a.id], "synapses")


def test_version_files_are_tagged_and_live_ones_are_not(ng_world: NgWorld) -> None:
    base = ng_world.precomputed("synapses", 1)
    doc = requests.get(base + "/info", timeout=60).json()
    root = ng_world.oracle("synapses", 1).column("pre_pt_root_id")[0].as_py()
    for path in (
        "/info",
        f"/{doc['spatial'][1]['key']}/1_0_1",
        "/by_id/5",
        f"/pre_pt_root_id/{root}",
    ):
        first = requests.get(base + path, timeout=60)
        assert first.status_code == 200
        tag = first.headers["ETag"]
        assert tag.startswith('"')
        assert not tag.startswith("W/")
        assert "immutable" in first.headers["Cache-Control"]
        assert first.headers["Access-Control-Allow-Origin"] == "*"
        again = requests.get(base + path, headers={"If-None-Match": tag}, timeout=60)
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["ETag"] == tag
        other = requests.get(base + path, headers={"If-None-Match": '"nope"'}, timeout=60)
        assert other.status_code == 200
        assert other.content == first.content
        live = requests.get(ng_world.precomputed("synapses", None) + path, timeout=60)
        assert live.status_code == 200
        assert "ETag" not in live.headers
        assert live.headers["Cache-Control"] == "no-store"
