"""fixative token / group from the command line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fixative.auth.tokens import authenticate, list_tokens
from fixative.errors import Unauthorized
from fixative.store import open_store

Cli = Callable[..., subprocess.CompletedProcess[str]]

CONFIG = '[[datastacks]]\nname = "demo"\naligned_volume = "demo_av"\n'


def test_token_lifecycle(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "fixative.toml").write_text(CONFIG)
    env = {"FIXATIVE_HOME": str(home)}
    assert cli(["init"], tmp_path, **env).returncode == 0  # token commands create no database
    made = cli(
        ["token", "create", "--user", "alice", "--datastack", "demo", "--permission", "edit"],
        tmp_path,
        **env,
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("fxt_")
    assert "shown only now" in made.stdout

    store = open_store(f"sqlite:///{home / 'live.sqlite'}")
    try:
        assert authenticate(store, secret).permission == "edit"
        listed = cli(["token", "list"], tmp_path, **env)
        assert listed.returncode == 0, listed.stderr
        assert "alice" in listed.stdout
        assert secret not in listed.stdout
        token_id = list_tokens(store)[0].id
        revoked = cli(["token", "revoke", str(token_id)], tmp_path, **env)
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(Unauthorized):
            authenticate(store, secret)
    finally:
        store.dispose()

    unknown = cli(["token", "create", "--user", "bob", "--datastack", "nowhere"], tmp_path, **env)
    assert unknown.returncode == 1
    assert "datastack 'nowhere' is not configured" in unknown.stderr
    grouped = cli(["group", "add", "alice", "lab"], tmp_path, **env)
    assert grouped.returncode == 0, grouped.stderr
    listed_groups = cli(["group", "list"], tmp_path, **env)
    assert "lab: alice" in listed_groups.stdout
