"""Views through the real caveclient against a live server, on both backends, each compared
with a plain computation (pandas) over the oracle's rows at the version's instant: the demo's
``connectivity``, a view with points (filters, spatial boxes, resolutions, paging, samples,
counts), a live view at an instant, the admin endpoints and commands, and bad SQL refused
with nothing stored."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import requests
from click.testing import CliRunner
from read_world import OPTIONS, ReadWorld, client

from fixative.api.app import create_app
from fixative.api.auth import Authorizer
from fixative.api.services import HttpServices, make_engine
from fixative.auth.tokens import create_token
from fixative.cli.main import cli
from fixative.demo import datastack
from fixative.demo.views import CONNECTIVITY, CONNECTIVITY_SQL
from fixative.store.table_admin import MetadataChange, update_table_metadata
from fixative.views.definitions import create_view, delete_view, find_view, list_views
from fixative.views.model import NewView

POINTS = "big_synapses"
POINTS_SQL = (
    "SELECT id, pre_pt_position_x, pre_pt_position_y, pre_pt_position_z, pre_pt_root_id, "
    "post_pt_root_id, size FROM synapses WHERE size > 300 AND id % 1 = 0 AND '%' LIKE '%%'"
)
PAIR = ["pre_pt_root_id", "post_pt_root_id"]


def _define(world: ReadWorld, name: str, sql: str, live: bool) -> bool:
    """Define the view unless it is there; True when this call made it."""
    if find_view(world.store, world.datastack, name) is not None:
        return False
    new = NewView(world.datastack, name, sql, "tests", (8.0, 8.0, 40.0), live_compatible=live)
    create_view(world.store, datastack.ALIGNED_VOLUME, new)
    return True


@pytest.fixture(scope="module")
def views(world: ReadWorld) -> Iterator[ReadWorld]:
    """``connectivity`` (the demo build defines it for ``demo``; on PostgreSQL the datastack is
    named after the database) and ``big_synapses``, dropped again at the end."""
    made = [
        n
        for n, s, live in ((CONNECTIVITY, CONNECTIVITY_SQL, True), (POINTS, POINTS_SQL, False))
        if _define(world, n, s, live)
    ]
    yield world
    for name in made:
        delete_view(world.store, world.datastack, name)


def connectivity_oracle(world: ReadWorld, at: datetime) -> pd.DataFrame:
    syn = world.rows_at("synapses", at)
    syn = syn[(syn.pre_pt_root_id > 0) & (syn.post_pt_root_id > 0)]
    pairs = syn.groupby(PAIR).size().rename("n_synapses").reset_index()
    cells = world.rows_at("cell_types", at).groupby("pt_root_id")["cell_type"].min()
    pairs["pre_cell"] = pairs.pre_pt_root_id.map(cells)
    pairs["post_cell"] = pairs.post_pt_root_id.map(cells)
    return _ordered(pairs)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["pre_pt_root_id", "post_pt_root_id", "pre_cell", "post_cell", "n_synapses"]
    return frame[cols].sort_values(PAIR).reset_index(drop=True)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got[list(want.columns)].sort_values(PAIR).reset_index(drop=True)
    assert len(got) == len(want)
    for c in want.columns:
        a, b = got[c].to_numpy(), want[c].to_numpy()
        if a.dtype.kind in "iuf":
            assert np.array_equal(a, b), c
        else:
            assert [None if pd.isna(x) else x for x in a] == [
                None if pd.isna(x) else x for x in b
            ], c


def test_connectivity_at_each_version(views: ReadWorld) -> None:
    cave = client(views)
    for n in (2, 3):
        got = cave.materialize.query_view(CONNECTIVITY, materialization_version=n)
        _same(got, connectivity_oracle(views, views.instants[f"v{n}"]))
        assert got["pre_pt_root_id"].dtype == np.int64
        assert got.attrs["dataframe_resolution"] == [8.0, 8.0, 40.0]
    # after proofreading the view, labelled by cell names, is the published wiring
    labelled = got.groupby(["pre_cell", "post_cell"])["n_synapses"].sum()
    assert labelled.to_dict() == datastack.expected_pairs(OPTIONS)


def test_catalogue_metadata_and_schemas(views: ReadWorld) -> None:
    cave = client(views)
    listed = cave.materialize.get_views()
    assert {CONNECTIVITY, POINTS} <= set(listed)
    meta = listed[CONNECTIVITY]
    assert meta["live_compatible"] is True
    assert (meta["voxel_resolution_x"], meta["voxel_resolution_z"]) == (8.0, 40.0)
    assert cave.materialize.get_view_metadata(CONNECTIVITY) == meta
    assert cave.materialize.get_view_schema(CONNECTIVITY) == {
        "pre_pt_root_id": {"type": "integer"},
        "post_pt_root_id": {"type": "integer"},
        "pre_cell": {"type": "string"},
        "post_cell": {"type": "string"},
        "n_synapses": {"type": "integer"},
    }
    schemas = cave.materialize.get_view_schemas()
    assert schemas[POINTS]["pre_pt_position"] == {"type": "SpatialPoint"}
    assert schemas[POINTS]["size"] == {"type": "float"}
    manager = cave.materialize.views
    assert CONNECTIVITY in manager
    name = cave.materialize.query_view(CONNECTIVITY, limit=1).pre_cell.iloc[0]
    got = manager[CONNECTIVITY](pre_cell=name).query()
    assert len(got) > 0
    assert set(got["pre_cell"]) == {name}


def test_filters_columns_and_counts(views: ReadWorld) -> None:
    cave = client(views)
    want = connectivity_oracle(views, views.instants["v3"])
    name = want.pre_cell.value_counts().index[0]
    strong = cave.materialize.query_view(CONNECTIVITY, filter_greater_dict={"n_synapses": 5})
    _same(strong, _ordered(want[want.n_synapses > 5]))
    some = want.pre_pt_root_id.unique()[:4].tolist()
    picked = cave.materialize.query_view(
        CONNECTIVITY,
        filter_in_dict={"pre_pt_root_id": some},
        filter_out_dict={"post_cell": [name]},
        filter_regex_dict={"pre_cell": "^[A-Z]"},
    )
    keep = want.pre_pt_root_id.isin(some) & want.post_cell.notna() & (want.post_cell != name)
    keep &= want.pre_cell.fillna("").str.match("^[A-Z]")
    _same(picked, _ordered(want[keep]))
    narrow = cave.materialize.query_view(
        CONNECTIVITY,
        select_columns=["pre_cell", "n_synapses"],
        filter_equal_dict={"pre_cell": name},
    )
    assert list(narrow.columns) == ["pre_cell", "n_synapses"]
    assert sorted(narrow.n_synapses) == sorted(want[want.pre_cell == name].n_synapses)
    count = cave.materialize.query_view(CONNECTIVITY, get_counts=True)
    assert int(count["count"].iloc[0]) == len(want)


def test_pages_and_samples(views: ReadWorld) -> None:
    cave = client(views)
    whole = cave.materialize.query_view(CONNECTIVITY)
    pages = [
        cave.materialize.query_view(CONNECTIVITY, offset=k, limit=100)
        for k in range(0, len(whole), 100)
    ]
    assert pd.concat(pages, ignore_index=True).equals(whole)
    sample = cave.materialize.query_view(CONNECTIVITY, random_sample=50)
    assert 0 < len(sample) < len(whole)
    assert set(map(tuple, sample[PAIR].to_numpy())) <= set(map(tuple, whole[PAIR].to_numpy()))


def test_points_boxes_and_resolution(views: ReadWorld) -> None:
    cave = client(views)
    syn = views.rows_at("synapses", views.instants["v3"])
    want = syn[syn["size"] > 300].reset_index(drop=True)
    got = cave.materialize.query_view(POINTS, split_positions=True)
    assert sorted(got.id) == sorted(want.id)
    assert list(got.columns[1:4]) == [f"pre_pt_position_{a}" for a in "xyz"]
    packed = cave.materialize.query_view(POINTS, limit=3)
    assert isinstance(packed["pre_pt_position"].iloc[0], np.ndarray)
    lo = want[[f"pre_pt_position_{a}" for a in "xyz"]].quantile(0.25).astype(int).tolist()
    hi = want[[f"pre_pt_position_{a}" for a in "xyz"]].quantile(0.75).astype(int).tolist()
    boxed = cave.materialize.query_view(
        POINTS, filter_spatial_dict={"pre_pt_position": [lo, hi]}, split_positions=True
    )
    inside = np.ones(len(want), bool)
    for i, a in enumerate("xyz"):
        col = want[f"pre_pt_position_{a}"]
        inside &= (col >= lo[i]) & (col <= hi[i])
    assert sorted(boxed.id) == sorted(want[inside].id)
    scaled = cave.materialize.query_view(
        POINTS, desired_resolution=[4, 4, 40], split_positions=True
    ).sort_values("id")
    plain = got.sort_values("id")
    assert np.allclose(scaled.pre_pt_position_x, plain.pre_pt_position_x * 2)
    assert np.allclose(scaled.pre_pt_position_z, plain.pre_pt_position_z)
    assert scaled.attrs["dataframe_resolution"] == [4.0, 4.0, 40.0]


def _live(world: ReadWorld, view: str, at: datetime, body: dict[str, Any]) -> requests.Response:
    url = f"{world.url}/materialize/api/v3/datastack/{world.datastack}/views/{view}/query"
    return requests.post(url, params={"timestamp": at.isoformat()}, json=body, timeout=60)


def test_live_at_an_instant(views: ReadWorld) -> None:
    """After the last version: new and deleted synapses and a relabelled cell are seen."""
    at = views.instants["after"]
    response = _live(views, CONNECTIVITY, at, {})
    assert response.status_code == 200, response.text
    got = pa.ipc.open_stream(io.BytesIO(response.content)).read_pandas()
    want = connectivity_oracle(views, at)
    _same(got, want)
    assert "relabelled" in set(want.pre_cell) | set(want.post_cell)
    counted = _live(
        views, CONNECTIVITY, at, {"filter_equal_dict": {CONNECTIVITY: {"pre_cell": "relabelled"}}}
    )
    assert counted.status_code == 200
    cave = client(views)
    through = cave.materialize.live_live_query(CONNECTIVITY, at, metadata=False)
    _same(through, want)
    narrowed = cave.materialize.live_live_query(
        CONNECTIVITY,
        at,
        filter_equal_dict={CONNECTIVITY: {"pre_cell": "relabelled"}},
        select_columns={CONNECTIVITY: ["pre_cell", "n_synapses"]},
        metadata=False,
    )
    assert list(narrowed.columns) == ["pre_cell", "n_synapses"]
    assert sorted(narrowed.n_synapses) == sorted(want[want.pre_cell == "relabelled"].n_synapses)
    refused = _live(views, POINTS, at, {})
    assert refused.status_code == 422
    assert "live_compatible" in refused.json()["message"]


def _admin(world: ReadWorld) -> str:
    return f"{world.url}/materialize/api/v3/datastack/{world.datastack}/views"


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("DROP TABLE synapses", "DROP"),
        ("DELETE FROM synapses WHERE id > 0", "DELETE"),
        ("SELECT id FROM synapses; DROP TABLE synapses", "2 statements"),
        ("SELECT id FROM secrets", "'secrets'"),
        ("SELECT nope FROM synapses", "'nope'"),
        ("SELECT pg_sleep(30) AS z FROM synapses", "'pg_sleep'"),
        ("SELECT id FROM synapses -- ; DELETE FROM synapses", "comments"),
    ],
)
def test_bad_sql_is_refused_and_nothing_is_stored(views: ReadWorld, sql: str, needle: str) -> None:
    before = list_views(views.store, views.datastack)
    response = requests.post(_admin(views), json={"name": "bad_view", "sql": sql}, timeout=30)
    assert response.status_code == 400, response.text
    assert needle in response.json()["message"]
    assert list_views(views.store, views.datastack) == before


def test_admin_endpoints_and_refusals(views: ReadWorld) -> None:
    body = {"name": "cell_count", "sql": "SELECT count(*) AS n FROM cell_types", "description": "d"}
    made = requests.post(_admin(views), json=body, timeout=30)
    assert made.status_code == 200, made.text
    try:
        again = requests.post(_admin(views), json=body, timeout=30)
        assert again.status_code == 409
        clash = requests.post(_admin(views), json={**body, "name": "synapses"}, timeout=30)
        assert clash.status_code == 409
        listed = {d["table_name"]: d for d in requests.get(_admin(views), timeout=30).json()}
        assert listed["cell_count"]["sql"] == body["sql"]
        assert listed["cell_count"]["tables"] == ["cell_types"]
        got = client(views).materialize.query_view("cell_count")
        assert int(got.n.iloc[0]) == len(views.rows_at("cell_types", views.instants["v3"]))
    finally:
        gone = requests.delete(_admin(views) + "/cell_count", timeout=30)
    assert gone.status_code == 200
    assert find_view(views.store, views.datastack, "cell_count") is None
    base = f"{_admin(views).rsplit('/views', 1)[0]}/version/3/views"
    assert requests.get(base + "/nope/metadata", timeout=30).status_code == 404
    assert requests.post(base + "/nope/query", json={}, timeout=30).status_code == 404


def _config(world: ReadWorld, path: Path) -> Path:
    settings = world.settings()
    ds = settings.datastacks[0]
    path.write_text(
        f'home = "{settings.home}"\ndatabase_url = "{settings.database_url}"\n\n'
        f'[[datastacks]]\nname = "{ds.name}"\naligned_volume = "{ds.aligned_volume}"\n'
    )
    return path


def test_commands(views: ReadWorld, tmp_path: Path) -> None:
    config = str(_config(views, tmp_path / "fixative.toml"))
    run = CliRunner()
    sql = "SELECT cell_type, count(*) AS n FROM cell_types GROUP BY cell_type"
    base = ["--config", config, "view"]
    made = run.invoke(
        cli,
        [
            *base,
            "create",
            views.datastack,
            "per_type",
            "--sql",
            sql,
            "--voxel-resolution",
            "4,4,40",
        ],
    )
    assert made.exit_code == 0, made.output
    try:
        listed = run.invoke(cli, [*base, "list", views.datastack])
        assert "per_type" in listed.output
        shown = run.invoke(cli, [*base, "show", views.datastack, "per_type"])
        assert "cell_type (str), n (int)" in shown.output
        info = find_view(views.store, views.datastack, "per_type")
        assert info is not None
        assert info.voxel_resolution_nm == (4.0, 4.0, 40.0)
        bad = run.invoke(cli, [*base, "create", views.datastack, "worse", "--sql", "DROP TABLE x"])
        assert bad.exit_code != 0
        assert find_view(views.store, views.datastack, "worse") is None
    finally:
        gone = run.invoke(cli, [*base, "delete", views.datastack, "per_type"])
    assert gone.exit_code == 0, gone.output


def test_database_refusals_are_422(views: ReadWorld) -> None:
    """PostgreSQL refuses to divide by zero when it runs the view (planning it passed); SQLite
    answers NULL. Either way, never a 500."""
    assert _define(views, "any_big", "SELECT id / (id - id) AS boom FROM synapses", False)
    try:
        url = f"{views.url}/materialize/api/v3/datastack/{views.datastack}/version/3/views"
        response = requests.post(url + "/any_big/query", json={}, timeout=30)
        if views.store.dialect_name == "postgresql":
            assert response.status_code == 422, response.text
            assert "failed in the database" in response.json()["message"]
        else:
            assert response.status_code == 200, response.text
    finally:
        delete_view(views.store, views.datastack, "any_big")


def test_reading_a_view_takes_every_table_it_reads(views: ReadWorld) -> None:
    """With auth on: a user who may not read cell_types neither sees nor reads connectivity,
    still reads big_synapses, and may not define views; an admin does all of it."""
    assert views.services is not None
    settings = views.settings().model_copy(update={"auth": "tokens"})
    services = HttpServices(settings, views.store, views.services.graph_factory)
    services.engine = make_engine(services)
    services.authorizer = Authorizer(views.store, settings, "tokens")
    app = create_app(services=services).test_client()
    tokens = {
        who: create_token(views.store, who, views.datastack, level)[1]
        for who, level in (("viv", "view"), ("adam", "admin"))
    }

    ds = f"/materialize/api/v3/datastack/{views.datastack}"

    def call(method: str, path: str, who: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return app.open(ds + path, method=method, headers=headers, **kw)

    at3 = "/version/3/views"
    update_table_metadata(views.store, "cell_types", MetadataChange(read_permission="PRIVATE"))
    try:
        seen = call("GET", at3, "viv").json
        assert POINTS in seen
        assert CONNECTIVITY not in seen
        assert call("POST", f"{at3}/{CONNECTIVITY}/query", "viv", json={}).status_code == 403
        assert call("POST", f"{at3}/{POINTS}/query", "viv", json={}).status_code == 200
        made = call("POST", "/views", "viv", json={"name": "mine", "sql": "SELECT id FROM nuclei"})
        assert made.status_code == 403
        assert CONNECTIVITY in call("GET", at3, "adam").json
        assert call("POST", f"{at3}/{CONNECTIVITY}/query", "adam", json={}).status_code == 200
    finally:
        update_table_metadata(views.store, "cell_types", MetadataChange(read_permission="PUBLIC"))
        services.engine.close()


def test_notices_of_the_tables_read_are_warnings(views: ReadWorld) -> None:
    sql = "SELECT tag, count(*) AS n FROM nucleus_tags GROUP BY tag"
    assert _define(views, "tag_counts", sql, False)
    try:
        url = f"{views.url}/materialize/api/v3/datastack/{views.datastack}/version/3/views"
        response = requests.post(
            url + "/tag_counts/query?return_pyarrow=false", json={}, timeout=30
        )
        assert response.status_code == 200, response.text
        assert "tags are provisional" in response.headers["Warning"]
        want = views.rows_at("nucleus_tags", views.instants["v3"]).groupby("tag").size()
        assert {r["tag"]: r["n"] for r in response.json()} == want.to_dict()
    finally:
        delete_view(views.store, views.datastack, "tag_counts")
