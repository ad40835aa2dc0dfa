"""A table's distinct strings and its Neuroglancer segment properties, asked by the real
caveclient of a live server and compared with the oracle (annotation log + volume +
chunkedgraph at the instant), at a version and live."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from read_world import ReadWorld, client

from fixative.api.app import create_app
from fixative.api.services import HttpServices, make_engine
from fixative.clock import utc_now
from fixative.testing.server import serve

CELL_STRINGS = ["classification_system", "cell_type"]


def decoded(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """root -> {"label", "tags" (a set), number property id -> value}."""
    assert doc["@type"] == "neuroglancer_segment_properties"
    inline = doc["inline"]
    ids = [int(i) for i in inline["ids"]]
    assert all(isinstance(i, str) for i in inline["ids"])
    assert ids == sorted(set(ids))
    out: dict[int, dict[str, Any]] = {i: {"tags": set()} for i in ids}
    kinds = [p["type"] for p in inline["properties"]]
    for prop in inline["properties"]:
        if prop["type"] == "tags":
            assert not any(" " in t or t.startswith("#") for t in prop["tags"])
            assert len(prop["tag_descriptions"]) == len(prop["tags"])
    assert kinds.count("label") == 1
    assert kinds.count("tags") <= 1
    for prop in inline["properties"]:
        assert len(prop["values"]) == len(ids), prop["id"]
        for root, value in zip(ids, prop["values"], strict=True):
            if prop["type"] == "label":
                out[root]["label"] = value
            elif prop["type"] == "tags":
                assert value == sorted(value)
                out[root]["tags"] = {prop["tags"][k] for k in value}
            else:
                assert prop["type"] == "number"
                assert prop["data_type"] in ("int32", "float32")
                out[root][prop["id"]] = value
    return out


def expected(
    frame: pd.DataFrame, key: str, strings: list[str], numbers: list[str]
) -> dict[int, dict[str, Any]]:
    """The oracle's properties: one entry per non-zero root; label and numbers from its first
    row by annotation id, tags from all its rows (prefixed when a value is in two columns)."""
    frame = frame[frame[key] > 0].sort_values("id")
    values_of = {c: set(frame[c].dropna()) for c in strings}
    counts = pd.Series([v for c in strings for v in values_of[c]]).value_counts()
    shared = set(counts[counts > 1].index)
    out: dict[int, dict[str, Any]] = {}
    for root, rows in frame.groupby(key, sort=True):
        first = rows.iloc[0]
        words = [str(first[c]) for c in strings if pd.notna(first[c])]
        entry: dict[str, Any] = {"label": " ".join(words) if words or strings else str(root)}
        entry["tags"] = {
            re.sub(r"\s+", "_", f"{c}:{v}" if v in shared else v).lstrip("#")
            for c in strings
            for v in rows[c].dropna()
        }
        for n in numbers:  # floats travel as float32
            value = first[n].item()
            entry[n] = float(np.float32(value)) if isinstance(value, float) else value
        out[int(root)] = entry
    return out


def positions(point: str) -> list[str]:
    return [f"{point}_position_{a}" for a in "xyz"]


def test_unique_string_values_through_caveclient(world: ReadWorld) -> None:
    cave = client(world)
    now = utc_now()
    for table, columns in (("cell_types", CELL_STRINGS), ("nucleus_tags", ["tag"])):
        got = cave.materialize.get_unique_string_values(table)
        frame = world.store.annotations_at(table, now).to_pandas()
        assert got == {c: sorted(set(frame[c].dropna())) for c in columns}
    assert "relabelled" in cave.materialize.get_unique_string_values("cell_types")["cell_type"]
    assert cave.materialize.get_unique_string_values("synapses") == {}


def _at(world: ReadWorld, table: str, at: datetime) -> pd.DataFrame:
    return world.rows_at(table, at)


def test_segment_properties_at_a_version(world: ReadWorld) -> None:
    cave = client(world)
    at = world.instants["v3"]
    doc = cave.materialize.neuroglancer_segprop_info("cell_types", materialization_version=3)
    want = expected(_at(world, "cell_types", at), "pt_root_id", CELL_STRINGS, positions("pt"))
    assert decoded(doc) == want
    assert len(want) > 50
    synapses = cave.materialize.neuroglancer_segprop_info("synapses", materialization_version=2)
    numbers = ["size", *positions("pre_pt"), *positions("ctr_pt"), *positions("post_pt")]
    frame = _at(world, "synapses", world.instants["v2"])
    assert decoded(synapses) == expected(frame, "pre_pt_root_id", [], numbers)


def test_segment_properties_live(world: ReadWorld) -> None:
    cave = client(world)
    url = cave.materialize.neuroglancer_segprop_path("cell_types", for_neuroglancer=False)
    live = url.split("/version/")[0] + "/table/cell_types/info"
    before = utc_now()
    got = requests.get(live, timeout=60)
    assert got.status_code == 200, got.text
    want = expected(_at(world, "cell_types", before), "pt_root_id", CELL_STRINGS, positions("pt"))
    assert decoded(got.json()) == want
    assert any("relabelled" in e["tags"] for e in want.values())


def test_reference_table_is_keyed_by_its_targets_roots(world: ReadWorld) -> None:
    cave = client(world)
    doc = cave.materialize.neuroglancer_segprop_info("nucleus_tags", materialization_version=3)
    at = world.instants["v3"]
    tags = _at(world, "nucleus_tags", at)
    nuclei = _at(world, "nuclei", at).rename(columns={"id": "target_id"})
    joined = tags.merge(nuclei, on="target_id", suffixes=("", "_ref"))
    numbers = ["volume", *positions("pt"), *positions("bb_start"), *positions("bb_end")]
    got = decoded(doc)
    want = expected(joined, "pt_root_id", ["tag"], [])
    assert {r: (e["label"], e["tags"]) for r, e in got.items()} == {
        r: (e["label"], e["tags"]) for r, e in want.items()
    }
    assert set(next(iter(got.values()))) >= {"volume", *numbers[1:4]}


def test_labels_from_format_and_columns(world: ReadWorld) -> None:
    base = f"{world.url}/materialize/api/v3/datastack/{world.datastack}/version/3/table/cell_types"
    frame = _at(world, "cell_types", world.instants["v3"])
    want = expected(frame, "pt_root_id", CELL_STRINGS, [])
    firsts = frame[frame["pt_root_id"] > 0].sort_values("id").groupby("pt_root_id").first()
    fmt = requests.get(
        base + "/info", params={"label_format": "{cell_type} ({pt_position_x})"}, timeout=60
    ).json()
    labels = {r: e["label"] for r, e in decoded(fmt).items()}
    assert labels == {
        int(r): f"{row.cell_type} ({row.pt_position_x})" for r, row in firsts.iterrows()
    }
    cols = requests.get(base + "/info", params={"label_columns": "cell_type"}, timeout=60).json()
    assert {r: e["label"] for r, e in decoded(cols).items()} == {
        int(r): row.cell_type for r, row in firsts.iterrows()
    }
    assert set(labels) == set(want)


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/version/3/table/cell_types/info", {"label_format": "{nope}"}, 400, "nope"),
        ("/version/3/table/cell_types/info", {"label_format": "{cell_type.upper}"}, 400, "only"),
        ("/version/3/table/cell_types/info", {"label_format": "{cell_type:>999999}"}, 400, "spec"),
        ("/version/3/table/cell_types/info", {"label_columns": "cell_type,,x"}, 400, "comma"),
        ("/version/3/table/nope/info", {}, 404, "nope"),
        ("/version/99/table/cell_types/info", {}, 404, "99"),
        ("/table/nope/info", {}, 404, "nope"),
        ("/table/nope/unique_string_values", {}, 404, "nope"),
    ],
)
def test_bad_requests_are_json_4xx(
    world: ReadWorld, path: str, params: dict[str, str], status: int, says: str
) -> None:
    base = f"{world.url}/materialize/api/v3/datastack/{world.datastack}"
    got = requests.get(base + path, params=params, timeout=60)
    assert got.status_code == status, got.text
    assert says in got.json()["message"]


def test_version_answers_are_tagged(world: ReadWorld) -> None:
    """A version never changes: its properties carry an ETag, a client holding them gets a
    304, and another label is another answer."""
    url = f"{world.url}/materialize/api/v3/datastack/{world.datastack}/version/3/table/nuclei/info"
    first = requests.get(url, timeout=60)
    tag = first.headers["ETag"]
    again = requests.get(url, headers={"If-None-Match": tag}, timeout=60)
    assert again.status_code == 304
    assert again.headers["ETag"] == tag
    other = requests.get(url, params={"label_columns": "volume"}, timeout=60)
    assert other.status_code == 200
    assert other.headers["ETag"] != tag
    assert requests.get(url, timeout=60).json() == first.json()
    assert decoded(first.json()) == expected(
        world.rows_at("nuclei", world.instants["v3"]),
        "pt_root_id",
        [],
        ["volume", *positions("pt"), *positions("bb_start"), *positions("bb_end")],
    )


def test_tables_larger_than_the_row_limit_are_refused(world: ReadWorld) -> None:
    """As the original refuses tables above its query limit: a 400 naming the limit."""
    assert world.services is not None
    base = world.services
    small = base.settings.model_copy(update={"query_row_limit": 50})
    services = HttpServices(small, base.store, base.graph_factory)
    services.engine = make_engine(services)
    ds = f"/materialize/api/v3/datastack/{world.datastack}"
    try:
        with serve(create_app(services=services)) as url:
            for path in ("/version/3/table/synapses/info", "/table/synapses/info"):
                got = requests.get(url + ds + path, timeout=60)
                assert got.status_code == 400, got.text
                assert "query_row_limit" in got.json()["message"]
            assert requests.get(url + ds + "/version/3/table/nucleus_tags/info", timeout=60).ok
    finally:
        services.close()
