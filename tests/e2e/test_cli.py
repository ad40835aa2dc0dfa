"""The fixative command, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from fixative.auth.tokens import list_tokens
from fixative.store import open_store

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_demo_prints_history(tmp_path: Path, cli: Cli) -> None:
    result = cli(["demo"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "synapses at" in result.stdout
    assert "corrected" in result.stdout
    assert "473 C. elegans cells" in result.stdout
    said = " ".join(result.stdout.split())
    assert "4,879 of 4,879 connections" in said
    assert "(ingest, update roots, version 1, expiry)" in said  # the complete workflow, as a run
    assert "(ingest, update roots, version 2, expiry)" in said
    assert "client.materialize.get_versions() -> [1, 2]" in said  # caveclient against serve
    assert 'client.materialize.get_annotation_count("synapses") -> 28,113' in said
    assert 'query_view("connectivity", filter_equal_dict={"pre_cell": "AVAL"}) ->' in said
    assert "server stopped" in said
    assert (tmp_path / ".fixative" / "demo" / "history.sqlite").is_file()
    _assert_next_steps(result.stdout, tmp_path / ".fixative", 'auth_token="local"')


def _assert_next_steps(stdout: str, home: Path, token: str) -> None:
    """The demo ends saying how to serve what it built, connect caveclient, and where it is."""
    tail = stdout[stdout.index("Next steps") :]
    lines = [line.strip() for line in tail.splitlines()]
    settings = (home / "fixative.toml").resolve()
    serve = next(line for line in lines if line.startswith("serve the demo:  "))
    program = serve.split()[3]  # "fixative" when on PATH, else the installed script's path
    assert program == "fixative" or Path(program).resolve().is_file(), serve
    assert serve == f"serve the demo:  {program} serve   (settings: {settings})"
    assert "from caveclient import CAVEclient" in lines
    assert (
        'client = CAVEclient("demo", server_address="http://127.0.0.1:5000", '
        f"{token}, write_server_cache=False)"
    ) in lines
    assert any(line.startswith(f"the data lives in {home.resolve()}") for line in lines)
    assert f"{home.resolve() / 'live.sqlite'}" in tail


def test_demo_under_token_auth(tmp_path: Path, cli: Cli) -> None:
    """With auth = "tokens" (as "Running with auth" sets it) the demo's caveclient tour uses a
    token of its own, revoked at its end; the users' tokens are kept."""
    env = {"FIXATIVE_AUTH": "tokens", "COLUMNS": "200"}
    result = cli(["demo"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "the tour uses its own token 1 (fixative-demo, edit on demo)" in said
    assert "client.materialize.get_versions() -> [1, 2]" in said
    assert "outgoing synapses" in said  # the live query between the versions
    assert "server stopped" in said
    _assert_next_steps(result.stdout, tmp_path / ".fixative", 'auth_token="<your token>"')
    assert "fixative token create --user YOU --datastack demo --permission edit" in said
    store = open_store(f"sqlite:///{tmp_path / '.fixative' / 'live.sqlite'}", create=False)
    try:
        (tour,) = list_tokens(store, include_revoked=True)
        assert tour.user_id == "fixative-demo"
        assert tour.revoked_at is not None
    finally:
        store.dispose()


def test_schema_show_and_error_line(tmp_path: Path, cli: Cli) -> None:
    shown = cli(["schema", "show", "cell_type_local"], tmp_path)
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["title"] == "cell_type_local"
    bad = cli(["schema", "show", "nope"], tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: unknown schema type 'nope'")
    assert "Traceback" not in bad.stderr


def test_bad_setting_fails_at_start(tmp_path: Path, cli: Cli) -> None:
    result = cli(["init"], tmp_path, FIXATIVE_DATABASE_URL="mysql://x")
    assert result.returncode == 1
    assert "database_url" in result.stderr


def test_init_and_tables(tmp_path: Path, cli: Cli) -> None:
    assert cli(["init"], tmp_path).returncode == 0
    listed = cli(["tables"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert (tmp_path / ".fixative" / "live.sqlite").is_file()
