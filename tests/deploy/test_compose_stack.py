"""deploy/compose.yaml end to end, as `make deploy-test` runs it (scripts/deploy-test.sh starts
its own dockerd, builds the image and local stand-ins for postgis/postgis and redis from Debian's
packages, then runs this with FIXATIVE_DEPLOY_TEST=1; anywhere else it is skipped).

The stack: PostgreSQL + PostGIS, Redis, the migration, the API (gunicorn, 2 processes), two
worker containers and beat, every one on the host's network with its listener on a free loopback
port (deploy/compose.hostnet.yaml), so no Docker network exists. The demo datastack is loaded
into it, the complete workflow started through the API, and the worker container building the
version is killed: the other worker must take the run over (the killed one's partial version
dropped) and make the version the inline runner makes at the same instant, which caveclient then
reads from the API.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from compose_stack import (
    FIXATIVE_SERVICES,
    PROJECT,
    Stack,
    process_in_namespace,
    render,
    wait_for,
)

from fixative.versions.builders import parse_builder

pytestmark = pytest.mark.skipif(
    os.environ.get("FIXATIVE_DEPLOY_TEST") != "1",
    reason="make deploy-test runs it (its own dockerd and images; scripts/deploy-test.sh)",
)

DEMO = "demo"
SYNAPSES = 28_113
RUNS = "/fixative/api/v1"
IMAGE = "fixative:latest"
# Redis hands a dead worker's task on after the visibility timeout, at its next sweep (kombu
# scans every 100 s); then the takeover and a rebuild
SWEEP_S = 100
REBUILD_S = 180
# a schedule for beat to hold (the demo's settings have none): 03:00 on 1 January
SCHEDULE = '\n[[datastacks.schedules]]\ncron = "0 3 1 1 *"\ntask = "expire"\n'


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(f"{name} is not set: run make deploy-test")
    return value


def _record(stack: Stack, what: str, seconds: float) -> None:
    stack.timings[what] = seconds
    line = f"deploy-test: {what}: {seconds:.1f} s"
    print(line)
    report = os.environ.get("DT_TIMINGS")
    if report:
        with Path(report).open("a") as out:
            out.write(line + "\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    names = ("POSTGRES_PASSWORD", "DT_DB_PORT", "DT_REDIS_PORT", "DT_API_PORT")
    env = {name: _setting(name) for name in (*names, "DT_VISIBILITY_TIMEOUT")}
    stack = Stack(render(tmp_path_factory.mktemp("compose") / "compose.yaml", env))
    started = time.monotonic()
    try:
        stack.compose("up", "--detach", "--scale", "worker=2")
        wait_for(
            lambda: stack.healthy(("db", "redis", "api")) and stack.running("worker", 2),
            300,
            "db, redis and the API healthy and two workers running",
        )
        _record(stack, "compose up to healthy", time.monotonic() - started)
        yield stack
    finally:
        logs = os.environ.get("DT_LOGS")
        if logs:
            Path(logs).write_text(stack.compose("logs", "--no-color", "--timestamps"))
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")


def _db_url(database: str = "fixative_live") -> str:
    password, port = _setting("POSTGRES_PASSWORD"), _setting("DT_DB_PORT")
    return f"postgresql://fixative:{password}@127.0.0.1:{port}/{database}"


def _api_url() -> str:
    return f"http://127.0.0.1:{_setting('DT_API_PORT')}"


def test_no_docker_network_exists_but_host_and_none(stack: Stack) -> None:
    assert set(stack.docker("network", "ls", "--format", "{{.Name}}").split()) == {"host", "none"}
    ids = stack.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}")
    modes = {stack.inspect(c)["HostConfig"]["NetworkMode"] for c in ids.split()}
    assert modes == {"host"}
    assert stack.state("migrate")[0]["ExitCode"] == 0


def test_the_image_runs_as_a_user_without_compilers(stack: Stack) -> None:
    probe = "id -u; for c in cc gcc g++ c++ clang make; do command -v $c; done; true"
    out = stack.docker("run", "--rm", "--network=none", "--entrypoint=sh", IMAGE, "-c", probe)
    assert out.split() == ["10001"]
    health = stack.docker("image", "inspect", "--format={{json .Config.Healthcheck}}", IMAGE)
    assert "/health/live" in health
    assert "fixative" in stack.docker("run", "--rm", "--network=none", IMAGE)  # its --help


def _load_demo(stack: Stack) -> None:
    """`fixative demo-data` in the API's container writes /data/fixative.toml on the shared
    volume; the services read it when they start again."""
    out = stack.fixative("demo-data")
    assert f"{SYNAPSES:,} synapses" in out, out
    assert "settings written to /data/fixative.toml" in out, out
    stack.compose("exec", "-T", "api", "sh", "-c", f"printf '{SCHEDULE}' >> /data/fixative.toml")
    stack.compose("restart", "api", "worker", "beat")
    wait_for(lambda: stack.healthy(("api",)) and stack.running("worker", 2), 180, "the restart")
    wait_for(lambda: "beat: Starting" in stack.logs("beat"), 120, "beat to start")


def _admin_token(stack: Stack) -> str:
    out = stack.fixative("token", "create", "--user", "ci", "--datastack", DEMO,
                         "--permission", "admin")  # fmt: skip
    found = re.search(r"^(fxt_\S+)$", out, flags=re.MULTILINE)
    assert found, out
    return found[1]


@contextmanager
def _version_tables_locked() -> Iterator[None]:
    """Hold the version catalogue's table list: a build then waits at its very end, with its
    version database written, until the block ends (and its transaction is rolled back)."""
    with psycopg.connect(_db_url()) as gate:
        gate.execute("LOCK TABLE version_tables IN ACCESS EXCLUSIVE MODE")
        yield
        gate.rollback()


def _query(sql: str, database: str = "fixative_live") -> list[tuple[Any, ...]]:
    with psycopg.connect(_db_url(database), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _waiting_on_the_gate() -> bool:
    return bool(
        _query(
            "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'version_tables' AND NOT l.granted"
        )
    )


def _versions() -> dict[int, tuple[str, str | None, str | None]]:
    rows = _query(
        f"SELECT version, status, builder, error FROM versions WHERE datastack = '{DEMO}'"
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _container_holding(stack: Stack, builder: str) -> str:
    """The worker container whose PID namespace holds the builder's process."""
    owner = parse_builder(builder)
    assert owner is not None, builder
    holders = [c for c in stack.containers("worker") if stack.pid_namespace(c) == owner.pid_ns]
    assert len(holders) == 1, (builder, holders)
    assert process_in_namespace(owner.pid_ns, owner.pid) is not None  # and the pid is there
    return holders[0]


def _rows(database: str, table: str) -> tuple[int, str]:
    """Count and a digest of every row in id order."""
    sql = f'SELECT count(*), md5(string_agg(t::text, chr(10) ORDER BY t.id)) FROM "{table}" t'
    count, digest = _query(sql, database)[0]
    return int(count), str(digest)


def _same_version(made: int, inline: int) -> None:
    tables = "SELECT t.table_name, t.row_count FROM version_tables t JOIN versions v ON "
    tables += f"v.id = t.version_id WHERE v.datastack = '{DEMO}' AND v.version = %d ORDER BY 1"
    listed = {v: _query(tables % v) for v in (made, inline)}
    assert listed[made] == listed[inline]
    assert ("synapses", SYNAPSES) in listed[made]
    for table, _ in listed[made]:
        ours, theirs = (_rows(f"{DEMO}__mat{v}", table) for v in (made, inline))
        assert ours == theirs, table


def test_a_killed_workers_run_is_finished_by_the_other_worker(stack: Stack) -> None:
    _load_demo(stack)
    token = _admin_token(stack)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"

    def run(run_id: int) -> dict[str, Any]:
        answer = http.get(f"{_api_url()}{RUNS}/runs/{run_id}", timeout=30)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    with _version_tables_locked():
        started = http.post(f"{_api_url()}{RUNS}/datastack/{DEMO}/workflow/materialize",
                            json={"kind": "flat"}, timeout=30)  # fmt: skip  # a copy to cut
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        building = wait_for(
            lambda: (r := run(run_id))["status"] == "RUNNING" and _waiting_on_the_gate() and r,
            240,
            "the run to reach the end of its version build",
            every_s=0.5,
        )
        builder = building["worker"]
        assert _versions() == {1: ("RUNNING", builder, None)}
        assert _query(f"SELECT 1 FROM pg_database WHERE datname = '{DEMO}__mat1'")
        victim = _container_holding(stack, builder)
        stack.docker("kill", victim)
        killed_at = time.monotonic()
    print(f"deploy-test: killed worker {victim[:12]} holding run {run_id} ({builder})")

    timeout = float(_setting("DT_VISIBILITY_TIMEOUT")) + SWEEP_S + REBUILD_S
    taken = wait_for(lambda: (r := run(run_id))["attempts"] >= 2 and r, timeout, "a takeover")
    _record(stack, "worker killed -> run taken over", time.monotonic() - killed_at)
    done = wait_for(lambda: (r := run(run_id))["finished"] and r, REBUILD_S, "the run to end")
    _record(stack, "worker killed -> version AVAILABLE", time.monotonic() - killed_at)
    assert done["status"] == "SUCCEEDED", done
    assert done["attempts"] == 2
    assert done["result"]["version"] == 2  # version 1 was the killed build's
    old_owner, new_owner = parse_builder(builder), parse_builder(taken["worker"])
    assert old_owner is not None
    assert new_owner is not None
    assert new_owner.pid_ns != old_owner.pid_ns
    assert not stack.inspect(victim)["State"]["Running"]  # a killed container stays down
    running = [c for c in stack.containers("worker") if stack.inspect(c)["State"]["Running"]]
    assert [stack.pid_namespace(c) for c in running] == [new_owner.pid_ns]  # the other worker
    versions = _versions()
    assert versions[1][0] == "FAILED"
    assert "interrupted" in str(versions[1][2])
    assert versions[2][0] == "AVAILABLE"
    assert not _query(f"SELECT 1 FROM pg_database WHERE datname = '{DEMO}__mat1'")

    # the inline runner (no broker) at the same instant, in the API's container
    inline = stack.fixative("submit", "create_version", DEMO, "--at", done["params"]["at"],
                            "--flat", env={"FIXATIVE_BROKER_URL": ""})  # fmt: skip
    assert "SUCCEEDED" in inline, inline
    status, inline_builder, _ = _versions()[3]
    assert status == "AVAILABLE"
    inline_owner = parse_builder(str(inline_builder))
    assert inline_owner is not None
    assert inline_owner.pid_ns == stack.pid_namespace(stack.containers("api")[0])  # not a worker
    _same_version(2, 3)
    listing = stack.fixative("version", "list", DEMO)
    assert re.search(r"\b2\b", listing)
    assert re.search(r"\b3\b", listing)

    _caveclient_reads_the_versions(token)


def _caveclient_reads_the_versions(token: str) -> None:
    from caveclient import CAVEclient

    client = CAVEclient(DEMO, server_address=_api_url(), auth_token=token,
                        write_server_cache=False)  # fmt: skip
    assert sorted(client.materialize.get_versions()) == [2, 3]
    assert client.materialize.get_annotation_count("synapses", version=2) == SYNAPSES
    synapses = client.materialize.query_table("synapses", materialization_version=3)
    assert len(synapses) == SYNAPSES


def test_every_fixative_service_shares_the_data_volume(stack: Stack) -> None:
    for service in FIXATIVE_SERVICES:
        for container in stack.containers(service):
            mounts = {m["Destination"]: m.get("Name") for m in stack.inspect(container)["Mounts"]}
            assert mounts.get("/data") == f"{PROJECT}_fixative-data", (service, mounts)
