"""Who may read precomputed annotations (as for segment properties: the table's read
permission, checked before any 304), and bad requests answered with the one JSON error shape."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from ng_world import NgWorld

from fixative.api.app import create_app
from fixative.api.auth import Authorizer
from fixative.api.services import HttpServices, make_engine
from fixative.auth.tokens import create_token
from fixative.store.table_admin import MetadataChange, update_table_metadata


def _files(world: NgWorld, table: str, version: int | None, root: int) -> list[str]:
    base = world.precomputed(table, version).removeprefix(world.url)
    return [
        base + "/info",
        base + "/spatial/16/2/1/0_0_0",
        base + "/by_id/1",
        base + f"/pt_root_id/{root}",
    ]


def test_read_permission_is_enforced(ng_world: NgWorld) -> None:
    settings = ng_world.settings(auth="tokens")
    services = HttpServices(settings, ng_world.store, ng_world.services.graph_factory)
    services.engine = make_engine(services)
    services.authorizer = Authorizer(ng_world.store, settings, "tokens")
    app = create_app(services=services).test_client()
    tokens = {
        who: create_token(ng_world.store, who, ng_world.datastack, level)[1]
        for who, level in (("viv", "view"), ("adam", "admin"))
    }
    root = ng_world.oracle("nuclei", 1).column("pt_root_id")[0].as_py()

    def call(path: str, who: str | None, **headers: str) -> Any:
        if who is not None:
            headers["Authorization"] = f"Bearer {tokens[who]}"
        return app.get(path, headers=headers)

    try:
        version_files = _files(ng_world, "nuclei", 1, root)
        tags = {path: call(path, "viv").headers["ETag"] for path in version_files}
        update_table_metadata(ng_world.store, "nuclei", MetadataChange(read_permission="PRIVATE"))
        for path in [*version_files, *_files(ng_world, "nuclei", None, root)]:
            assert call(path, None).status_code == 401, path
            refused = call(path, "viv")
            assert refused.status_code == 403, path
            assert refused.json["error"] == "Forbidden"
            assert call(path, "adam").status_code == 200, path
        for path, tag in tags.items():  # a tag the user kept is no way around the check
            assert call(path, "viv", **{"If-None-Match": tag}).status_code == 403
            assert call(path, "adam", **{"If-None-Match": tag}).status_code == 304
    finally:
        update_table_metadata(ng_world.store, "nuclei", MetadataChange(read_permission="PUBLIC"))
        services.engine.close()


BAD = [
    ("/spatial/16/2/0/0_0", 400),
    ("/spatial/16/2/0/a_b_c", 400),
    ("/spatial/16/2/0/-1_0_0", 400),
    ("/spatial/5/2/0/0_0_0", 400),
    ("/spatial/16/0/0/0_0_0", 400),
    ("/spatial/16/99/0/0_0_0", 400),
    ("/spatial/16/2/2/0_0_0", 404),
    ("/spatial/16/2/1/2_0_0", 404),
    ("/by_id/999999999", 404),
    ("/by_id/18446744073709551616", 404),
    ("/size/1", 404),
    ("/nope_root_id/1", 404),
    ("/pre_pt_root_id/0", 400),
]


@pytest.mark.parametrize("version", [1, None])
def test_bad_requests_are_json_4xx(ng_world: NgWorld, version: int | None) -> None:
    base = ng_world.precomputed("synapses", version)
    cases = [(base + path, status) for path, status in BAD]
    cases += [
        (ng_world.precomputed("no_such_table", version) + "/info", 404),
        (
            f"{ng_world.url}/materialize/api/v3/datastack/nowhere/table/synapses/precomputed/info",
            404,
        ),
    ]
    if version is not None:
        cases.append((ng_world.precomputed("synapses", 7) + "/info", 404))
    for url, status in cases:
        got = requests.get(url, timeout=60)
        assert got.status_code == status, (url, got.text[:200])
        body = got.json()
        assert set(body) == {"error", "message"}, url
