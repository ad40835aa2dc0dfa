"""The end of ``fixative demo``: how to serve what it built, connect caveclient to it, and where
its data lives."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rich.console import Console

from fixative.config import Settings
from fixative.demo import install
from fixative.demo.datastack import DATASTACK, DemoManifest
from fixative.store.presence import shown

PORT = 5000  # fixative serve's default


def program() -> str:
    """How a shell here runs this ``fixative``: its name when it is the one on PATH, else its
    path (``make demo`` installs it in ``.venv/bin``, which a new shell does not have on PATH)."""
    mine = Path(sys.executable).parent / "fixative"
    found = shutil.which("fixative")
    if not mine.is_file() or (found is not None and Path(found).resolve() == mine.resolve()):
        return "fixative"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


def serve_command(written: Path | None) -> str:
    """``fixative serve``, naming the settings file when a shell here would not find it."""
    if written is None or install.found_without_environment(written):
        return f"{program()} serve"
    return f"{program()} --config {written} serve"


def lines(
    settings: Settings, manifest: DemoManifest, written: Path | None, listed: bool
) -> list[str]:
    """``written``: the settings file the demo wrote (None: the user's own is in effect);
    ``listed``: whether the user's settings already name the demo datastack."""
    tokens = settings.auth == "tokens"
    said = []
    if written is None and not listed:
        said += ["  add the demo datastack to your settings file:"]
        said += ["    " + line for line in install.config_snippet(manifest).splitlines()]
    said += [
        f"  serve the demo:  {serve_command(written)}"
        + (f"   (settings: {written.resolve()})" if written is not None else "")
    ]
    if tokens:
        said += [
            f"  make yourself a token (auth = tokens): {program()} token create --user YOU "
            f"--datastack {DATASTACK} --permission edit"
        ]
    token = "<your token>" if tokens else "local"
    said += [
        f"  connect caveclient (in Python, while it serves on port {PORT}):",
        "    from caveclient import CAVEclient",
        f'    client = CAVEclient("{DATASTACK}", server_address="http://127.0.0.1:{PORT}", '
        f'auth_token="{token}", write_server_cache=False)',
        '    client.materialize.get_versions(); client.materialize.query_table("synapses")',
        f"  the data lives in {settings.home.resolve()} (the demo's segmentation volume: "
        f"{install.demo_directory(settings)}); live database (tables, chunkedgraph, version "
        f"catalogue): {shown(settings.live_database_url)}",
    ]
    return said


def show(
    console: Console, settings: Settings, manifest: DemoManifest, written: Path | None
) -> None:
    listed = any(ds.name == DATASTACK for ds in settings.datastacks)
    console.rule("[bold]Next steps")
    for line in lines(settings, manifest, written, listed):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
