"""Put the demo datastack into the configured live database, replacing an earlier demo (and
nothing else), and make it part of the settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fixative.auth.tables import api_tokens, user_groups
from fixative.config import DatastackSettings, Settings, active_config_path
from fixative.demo.datastack import ALIGNED_VOLUME, DATASTACK, PCG_TABLE, TABLES, DemoManifest
from fixative.errors import Conflict
from fixative.store import Store, open_store

# what a rebuild of the demo carries over from the database it replaces: the users' tokens and
# groups are theirs, not the demo's
KEPT = (api_tokens, user_groups)


def demo_directory(settings: Settings) -> Path:
    return (settings.home / DATASTACK).resolve()


def fresh_store(settings: Settings) -> Store:
    """The live store, emptied of an earlier demo. Refuses to touch a database holding anything
    but the demo. The users' API tokens and groups survive the rebuild (``KEPT``)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.live_database_url)
    tables = {t.table_name for t in store.list_tables()}
    graphs = _graph_ids(store)
    if not tables and not graphs:
        return store
    foreign = (tables - set(TABLES)) | (graphs - {PCG_TABLE})
    if foreign or store.engine.url.get_backend_name() != "sqlite":
        store.dispose()
        what = ", ".join(sorted(foreign)) or "an earlier demo"
        raise Conflict(
            f"the live database {settings.live_database_url} already holds {what}; "
            "point FIXATIVE_HOME or FIXATIVE_DATABASE_URL at an empty one"
        )
    path = Path(str(store.engine.url.database))
    kept = _kept_rows(store)
    store.dispose()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    for version_file in (path.parent / "versions").glob(f"{DATASTACK}__mat*"):
        version_file.unlink()  # the earlier demo's versions went with its catalogue
    shutil.rmtree(demo_directory(settings), ignore_errors=True)
    fresh = open_store(settings.live_database_url)
    with fresh.write() as conn:
        for table in KEPT:
            if kept[table.name]:
                conn.execute(table.insert(), kept[table.name])
    return fresh


def _kept_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """The rows of the ``KEPT`` tables, to be written back into the rebuilt database."""
    with store.read() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {
            t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))]
            if t.name in present
            else []
            for t in KEPT
        }


def _graph_ids(store: Store) -> set[str]:
    with store.read() as conn:
        if "cg_graphs" not in sa.inspect(conn).get_table_names():
            return set()
        return {row[0] for row in conn.exec_driver_sql("SELECT table_id FROM cg_graphs")}


def datastack_settings(manifest: DemoManifest) -> DatastackSettings:
    """The demo datastack as settings (what ``config_snippet`` writes)."""
    return DatastackSettings(
        name=DATASTACK,
        aligned_volume=ALIGNED_VOLUME,
        segmentation_source=manifest.segmentation_source,
        chunkedgraph_source=f"embedded://{PCG_TABLE}",
        viewer_resolution=manifest.resolution_nm,
        synapse_table="synapses",
        soma_table="nuclei",
        description="C. elegans hermaphrodite connectome (Cook et al. 2019)",
    )


def with_demo(settings: Settings, manifest: DemoManifest) -> Settings:
    """``settings`` with the demo datastack in place of any configured one of that name."""
    others = tuple(ds for ds in settings.datastacks if ds.name != DATASTACK)
    return settings.model_copy(update={"datastacks": (*others, datastack_settings(manifest))})


def config_snippet(manifest: DemoManifest) -> str:
    res = ", ".join(f"{v:g}" for v in manifest.resolution_nm)
    return (
        "[[datastacks]]\n"
        f'name = "{DATASTACK}"\n'
        f'aligned_volume = "{ALIGNED_VOLUME}"\n'
        f'segmentation_source = "{manifest.segmentation_source}"\n'
        f'chunkedgraph_source = "embedded://{PCG_TABLE}"\n'
        f"viewer_resolution = [{res}]\n"
        'synapse_table = "synapses"\n'
        'soma_table = "nuclei"\n'
        'description = "C. elegans hermaphrodite connectome (Cook et al. 2019)"\n'
    )


def register(settings: Settings, manifest: DemoManifest, config_path: Path | None) -> Path | None:
    """Write ``$FIXATIVE_HOME/fixative.toml`` when no settings file exists yet: the data
    directory and live database in effect (so a shell without this one's ``FIXATIVE_*``
    variables finds the same data) and the demo datastack. Returns the path written, or None
    when the user has their own file."""
    if config_path is not None or active_config_path() is not None:
        return None
    target = settings.home / "fixative.toml"
    url = settings.live_database_url
    if sa.make_url(url).password:
        target.touch(mode=0o600)  # the URL's password goes into the file: for this user only
    target.write_text(
        "# written by `fixative demo-data`: the data directory and live database it used, and\n"
        "# the demo datastack\n"
        f"home = {json.dumps(str(settings.home.resolve()))}\n"
        f"database_url = {json.dumps(url)}\n\n" + config_snippet(manifest)
    )
    return target


def found_without_environment(path: Path) -> bool:
    """Whether a shell in this directory with no ``FIXATIVE_*`` variables reads ``path`` (the
    default places: ``./fixative.toml``, ``.fixative/fixative.toml``)."""
    for default in (Path("fixative.toml"), Path(".fixative") / "fixative.toml"):
        if default.is_file():  # the first one found is the one read
            return default.resolve() == path.resolve()
    return False
