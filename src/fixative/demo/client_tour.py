"""The end of ``make demo``: the API served on a free loopback port, and the field's own client,
caveclient, asking it what a user would ask (versions, tables, one neuron's partners at the
latest version, the same neuron at an instant between versions through a live query)."""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from fixative.api.app import create_app
from fixative.api.background import serve
from fixative.api.services import build_services
from fixative.auth.tokens import create_token, revoke_token
from fixative.config import Settings
from fixative.demo.datastack import DATASTACK
from fixative.store import Store

TOUR_USER = "fixative-demo"
TOUR_PERMISSION = "edit"
TOUR_TOKEN_NOTE = "the demo's caveclient tour; revoked when it ends"


def run(settings: Settings, store: Store, console: Console, neuron: str, past: datetime) -> None:
    try:
        from caveclient import CAVEclient
    except ImportError:  # the client is a development dependency
        console.print("caveclient is not installed: skipping the client tour")
        return
    console.rule("[bold]fixative serve, asked by caveclient")
    services = build_services(settings, store)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log lines
    home = os.environ.get("HOME")
    with (
        _tour_token(settings, store, console) as token,
        tempfile.TemporaryDirectory() as scratch,
        serve(create_app(services=services)) as url,
    ):
        os.environ["HOME"] = scratch  # caveclient keeps a server cache under ~/.cloudvolume
        try:
            client = CAVEclient(
                DATASTACK, server_address=url, auth_token=token, write_server_cache=False
            )
            _tour(client, console, url, neuron, past)
        finally:
            if home is not None:
                os.environ["HOME"] = home
            services.close()
    console.print("server stopped")


@contextmanager
def _tour_token(settings: Settings, store: Store, console: Console) -> Iterator[str]:
    """The token caveclient sends: with ``auth = "tokens"`` one made for the tour alone and
    revoked when it ends; without auth any string does. The tour only reads, but the server
    counts the POST that resolves roots for a live query (``roots_binary``) as a write, so the
    token holds edit."""
    if settings.auth != "tokens":
        yield "local"
        return
    info, secret = create_token(store, TOUR_USER, DATASTACK, TOUR_PERMISSION, TOUR_TOKEN_NOTE)
    console.print(
        f"auth: tokens; the tour uses its own token {info.id} ({TOUR_USER}, {TOUR_PERMISSION} "
        f"on {DATASTACK}), revoked when the tour ends",
        highlight=False,
    )
    try:
        yield secret
    finally:
        revoke_token(store, info.id)


def _tour(client: Any, console: Console, url: str, neuron: str, past: datetime) -> None:
    mat = client.materialize
    versions = mat.get_versions()
    latest = max(versions)
    console.print(f"served at {url}; caveclient {client.__class__.__name__}")
    console.print(f"client.materialize.get_versions() -> {versions}")
    console.print(f"client.materialize.get_tables() -> {mat.get_tables()}")
    count = mat.get_annotation_count("synapses")
    console.print(f'client.materialize.get_annotation_count("synapses") -> {count:,}')

    cells = mat.query_table("cell_types", filter_equal_dict={"cell_type": neuron})
    (root,) = cells["pt_root_id"].unique()
    console.print(
        f'query_table("cell_types", filter_equal_dict={{"cell_type": "{neuron}"}}) -> '
        f"root {root} at version {latest}"
    )
    synapses = mat.synapse_query(pre_ids=int(root))
    console.print(f"synapse_query(pre_ids={root}) -> {len(synapses):,} synapses")
    names = _names(mat, synapses["post_pt_root_id"].unique())
    partners = Counter(names.get(int(r), f"?{r}") for r in synapses["post_pt_root_id"])

    cells_then = mat.query_table(
        "cell_types", filter_equal_dict={"cell_type": neuron}, timestamp=past
    )
    roots_then = [int(r) for r in cells_then["pt_root_id"].unique()]
    then = mat.query_table(
        "synapses", filter_in_dict={"pre_pt_root_id": roots_then}, timestamp=past
    )
    console.print(
        f"live at {past:%Y-%m-%d %H:%M} (query_table(..., timestamp=...), between versions): "
        f"{neuron} was root(s) {roots_then}, with {len(then):,} outgoing synapses"
    )
    wired = mat.query_view("connectivity", filter_equal_dict={"pre_cell": neuron})
    console.print(
        f'query_view("connectivity", filter_equal_dict={{"pre_cell": "{neuron}"}}) -> '
        f"{len(wired)} partners, {int(wired['n_synapses'].sum()):,} synapses (the demo's view)"
    )
    table = Table(title=f"{neuron}'s strongest partners, read through caveclient")
    table.add_column("partner")
    table.add_column(f"synapses (version {latest})", justify="right")
    for name, n in partners.most_common(6):
        table.add_row(name, str(n))
    console.print(table)


def _names(mat: Any, roots: Any) -> dict[int, str]:
    cells = mat.query_table("cell_types", filter_in_dict={"pt_root_id": [int(r) for r in roots]})
    return {int(r): str(n) for r, n in zip(cells["pt_root_id"], cells["cell_type"], strict=True)}
