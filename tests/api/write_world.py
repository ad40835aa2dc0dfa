"""A served world for the write-side API tests: the small demo datastack behind the full app
with ``auth = "tokens"`` (``build_services``: authorizer plus the in-process runner that ingests
after writes), tokens for several users, and helpers to call it over raw HTTP.

The oracle is the read side's (``ReadWorld.rows_at``: annotation log + volume + chunkedgraph at
an instant)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from read_world import ReadWorld

from fixative.api.app import create_app
from fixative.api.services import HttpServices, build_services
from fixative.auth.tokens import add_to_group, create_token
from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.runner.records import RunInfo, list_runs
from fixative.testing.databases import fresh_store
from fixative.testing.server import serve

OPTIONS = datastack.DemoOptions(synapses=300, max_merges=20, mistakes=4, days=2)
AV = datastack.ALIGNED_VOLUME
RES = [8.0, 8.0, 40.0]
MAX_BODY = 200_000
INGEST_INTERVAL_S = 1.0  # ingest_min_interval_s: writes' ingest runs of a table start this apart
# who holds what: user, datastack (None: the world's), level
USERS = {
    "alice": ("alice", None, "edit"),
    "bob": ("bob", None, "edit"),
    "carl": ("carl", None, "edit"),
    "vera": ("vera", None, "view"),
    "ada": ("ada", None, "admin"),
    "other": ("olga", "elsewhere", "admin"),
}


@dataclass
class WriteWorld:
    read: ReadWorld
    services: HttpServices
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Any:
        return self.read.store

    @property
    def datastack(self) -> str:
        return self.read.datastack

    def ann(self, path: str = "") -> str:
        """The annotation API URL of ``path`` (below ``.../aligned_volume/{av}/table``)."""
        return f"{self.url}/annotation/api/v2/aligned_volume/{AV}/table{path}"

    def mat(self, path: str) -> str:
        return f"{self.url}/materialize/api/v3/datastack/{self.datastack}{path}"

    def seg(self, path: str) -> str:
        return f"{self.url}/segmentation/api/v1/table/{datastack.PCG_TABLE}{path}"

    def flow(self, path: str) -> str:
        return f"{self.url}/fixative/api/v1{path}"

    def call(self, method: str, url: str, who: str | None, **kw: Any) -> requests.Response:
        """A request as ``who`` (a key of ``tokens``; None: no token) with a bearer header."""
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return requests.request(method, url, headers=headers, timeout=120, **kw)

    def client(self, who: str) -> Any:
        from caveclient import CAVEclient

        return CAVEclient(
            self.datastack,
            server_address=self.url,
            auth_token=self.tokens[who],
            write_server_cache=False,
        )

    def settle(self, timeout: float = 120) -> list[RunInfo]:
        """Wait for every run submitted so far; returns them (all must have finished)."""
        runner = self.services.runner
        assert runner is not None
        return [runner.wait(r.id, timeout) for r in list_runs(self.store, 500)]

    def visible_ids(self) -> dict[str, list[int]]:
        """Every table with its visible ids: what a refused request must leave as it was."""
        now = utc_now()
        return {
            t.table_name: self.store.annotations_at(t.table_name, now).column("id").to_pylist()
            for t in self.store.list_tables()
        }


def _make_tokens(world: WriteWorld) -> None:
    for key, (user, ds, level) in USERS.items():
        _, secret = create_token(world.store, user, ds or world.datastack, level, key)
        world.tokens[key] = secret
    add_to_group(world.store, "alice", "lab")
    add_to_group(world.store, "bob", "lab")


@contextmanager
def served_write_world(backend: str, home: Path, template: str | None) -> Iterator[WriteWorld]:
    with ExitStack() as stack:
        store = stack.enter_context(fresh_store(backend, home, template))
        manifest = datastack.build(store, home / "demo", OPTIONS)
        ds_name = store.engine.url.database if store.dialect_name == "postgresql" else "demo"
        read = ReadWorld(store, manifest, home, datastack=ds_name or "demo")
        settings = read.settings().model_copy(
            update={
                "auth": "tokens",
                "max_request_bytes": MAX_BODY,
                "ingest_min_interval_s": INGEST_INTERVAL_S,
            }
        )
        services = build_services(settings, store)
        stack.callback(services.close)
        served = stack.enter_context(serve(create_app(services=services)))
        world = WriteWorld(read, services, served)
        read.url, read.services = served, services
        _make_tokens(world)
        yield world


_SHARED: dict[str, WriteWorld] = {}


def shared_world(request: Any, backend: str) -> WriteWorld:
    """One world per backend for the modules that only add their own tables (built once: a
    PostgreSQL world takes ~10 s to build and ~6 s to drop). It is closed when pytest ends,
    after the session's fixtures."""
    world = _SHARED.get(backend)
    if world is None:
        template = request.getfixturevalue("pg_template") if backend == "postgres" else None
        home = request.getfixturevalue("tmp_path_factory").mktemp(f"write_{backend}")
        stack = ExitStack()
        world = stack.enter_context(served_write_world(backend, home, template))
        request.config.add_cleanup(stack.close)
        _SHARED[backend] = world
        world.settle()
        started = world.call(
            "POST", world.flow(f"/datastack/{world.datastack}/workflow/create_version"), "ada"
        )
        assert started.status_code == 202, started.text
        world.settle()
    return world
