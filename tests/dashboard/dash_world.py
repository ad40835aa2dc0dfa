"""A served world for the dashboard tests and its benchmark: the small demo datastack behind the
full app with ``auth = "tokens"`` and the in-process runner, three versions made by the
complete workflow (so runs have durations), a failed run (so one has a traceback), a private
table only its owner and admins may read, and tokens for an admin, a viewer and the owner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fixative.api.app import create_app
from fixative.api.services import HttpServices, build_services
from fixative.auth.tokens import create_token
from fixative.chunkedgraph.embedded import EmbeddedChunkedGraph
from fixative.clock import as_utc
from fixative.config import DatastackSettings, Schedule, Settings
from fixative.demo import datastack
from fixative.query.spec import Filter, QuerySpec
from fixative.store import NewTable, Store
from fixative.testing.databases import fresh_store
from fixative.testing.server import serve
from fixative.versions import list_versions

OPTIONS = datastack.DemoOptions(synapses=600, max_merges=30, mistakes=4, days=3)
RES = (8.0, 8.0, 40.0)
PRIVATE_TABLE = "secret_marks"
USERS = {"admin": ("ada", "admin"), "viewer": ("vera", "view"), "owner": ("otto", "view")}
RUN_TIMEOUT_S = 300


@dataclass
class DashWorld:
    store: Store
    services: HttpServices
    datastack: str
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    failed_run: int = 0
    root_id: int = 0

    def page(self, path: str = "") -> str:
        return f"{self.url}/dashboard/datastack/{self.datastack}{path}"


def _settings(store: Store, home: Path, name: str, manifest: datastack.DemoManifest) -> Settings:
    ds = DatastackSettings(
        name=name,
        aligned_volume=datastack.ALIGNED_VOLUME,
        segmentation_source=manifest.segmentation_source,
        chunkedgraph_source=f"embedded://{datastack.PCG_TABLE}",
        viewer_resolution=RES,
        synapse_table="synapses",
        soma_table="nuclei",
        description="C. elegans demo",
        schedules=(Schedule(cron="0 3 * * *"), Schedule(cron="30 * * * *", task="update_roots")),
    )
    return Settings(
        home=home,
        database_url=store.engine.url.render_as_string(hide_password=False),
        datastacks=(ds,),
        auth="tokens",
    )


def _private_table(store: Store) -> None:
    store.create_table(
        NewTable(
            PRIVATE_TABLE,
            "bound_tag",
            datastack.ALIGNED_VOLUME,
            USERS["owner"][0],
            RES,
            description="marks nobody else may see",
            read_permission="PRIVATE",
            pcg_table_name=datastack.PCG_TABLE,
        )
    )
    store.insert_annotations(
        PRIVATE_TABLE, [{"pt": {"position": [10, 10, 2]}, "tag": "hidden"} for _ in range(3)]
    )


def _runs(world: DashWorld, manifest: datastack.DemoManifest) -> None:
    """Three versions by the complete workflow (two at instants of the edit history), and one
    run that fails (an ingest of a table that does not exist, submitted past the API's
    checks)."""
    runner = world.services.runner
    assert runner is not None
    first, last = as_utc(manifest.edits_from), as_utc(manifest.edits_until)
    for at in (first + timedelta(minutes=1), first + (last - first) / 2, None):
        params = {} if at is None else {"at": at.isoformat()}
        run_id = runner.submit("materialize", params, world.datastack)
        assert runner.wait(run_id, RUN_TIMEOUT_S).status == "SUCCEEDED"
    world.failed_run = runner.submit("ingest", {"table": "no_such_table"}, world.datastack)
    assert runner.wait(world.failed_run, RUN_TIMEOUT_S).status == "FAILED"


def _presynaptic_roots(world: DashWorld, root_ids: list[int]) -> list[int]:
    """Among ``root_ids``, those with outgoing synapses in the latest version (all roots with
    synapses when ``root_ids`` is empty), in id order."""
    latest = list_versions(world.store, world.datastack)[-1].version
    filters = (Filter("synapses", "pre_pt_root_id", "in", root_ids),) if root_ids else ()
    spec = QuerySpec(
        tables=("synapses",), filters=filters, select={"synapses": ("pre_pt_root_id",)}
    )
    result = world.services.query_engine().version_query(world.datastack, latest, spec)
    try:
        found = {r["pre_pt_root_id"] for batch in result.batches for r in batch.to_pylist()}
    finally:
        result.close()
    return sorted(int(r) for r in found)


def _a_proofread_neuron(world: DashWorld) -> int:
    """A root made by a proofreading edit, still current, with synapses (so the neuron page
    has partners and a change log); else any root with synapses."""
    graph = world.services.chunkedgraph(world.datastack)
    assert isinstance(graph, EmbeddedChunkedGraph)
    made = [r for op in reversed(graph.list_operations()) for r in op.new_root_ids]
    current = [r for r, ok in zip(made, graph.is_latest_roots(made), strict=True) if ok]
    found = _presynaptic_roots(world, current) or _presynaptic_roots(world, [])
    return found[0]


@contextmanager
def served_dash_world(backend: str, home: Path, template: str | None) -> Iterator[DashWorld]:
    with ExitStack() as stack:
        store = stack.enter_context(fresh_store(backend, home, template))
        manifest = datastack.build(store, home / "demo", OPTIONS)
        name = store.engine.url.database if store.dialect_name == "postgresql" else "demo"
        ds_name = name or "demo"
        _private_table(store)
        services = build_services(_settings(store, home, ds_name, manifest), store)
        stack.callback(services.close)
        world = DashWorld(store, services, ds_name)
        for key, (user, level) in USERS.items():
            world.tokens[key] = create_token(store, user, ds_name, level, key)[1]
        _runs(world, manifest)
        world.root_id = _a_proofread_neuron(world)
        world.url = stack.enter_context(serve(create_app(services=services)))
        yield world
