"""Builder ids name one process, so a dead owner of a run or a version build is told from a live
one even when processes share a host name and pid numbers (containers on the host network)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest

from fixative.runner.records import RUNNING, STALE_AFTER, claim_run, submit_run
from fixative.runner.tables import workflow_runs
from fixative.store import Store
from fixative.versions import get_version, recover_versions
from fixative.versions.builders import ProcessIdentity, builder_id, builder_is_dead, parse_builder
from fixative.versions.tables import versions

PRINT_ID_AND_WAIT = (
    "import sys; from fixative.versions.builders import builder_id; "
    "print(builder_id(), flush=True); sys.stdin.read()"
)


def _me() -> ProcessIdentity:
    me = parse_builder(builder_id())
    if me is None:
        pytest.skip("no /proc here: builder ids are host:pid")
    return me


@contextmanager
def _process(*prefix: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A Python process (under ``prefix``, e.g. unshare) that prints its builder id and lives
    until its stdin closes."""
    command = [*prefix, sys.executable, "-c", PRINT_ID_AND_WAIT]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        yield proc.stdout.readline().strip(), proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


def _end(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def _other_pid_namespace() -> tuple[str, ...]:
    """The prefix running a command in a new PID namespace, or a skip."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare command")
    prefix = (unshare, "--pid", "--fork", "--mount-proc")
    if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("creating a PID namespace is not permitted here")
    return prefix


def test_the_id_names_this_process_and_it_lives() -> None:
    me = _me()
    assert builder_id() == me.text()  # stable for the process's life
    assert me.pid == os.getpid()
    assert me.host == socket.gethostname()
    assert me.net_ns != 0  # it holds its liveness socket
    assert not builder_is_dead(builder_id())


def test_a_process_that_exited_is_dead_and_a_live_one_is_not() -> None:
    with _process() as (other, proc):
        assert parse_builder(other) is not None
        assert not builder_is_dead(other)
        _end(proc)
        assert builder_is_dead(other)


def test_a_pid_taken_by_a_later_process_is_dead() -> None:
    me = _me()
    assert builder_is_dead(replace(me, started=me.started - 1).text())  # an earlier me
    with _process() as (other, _):
        parsed = parse_builder(other)
        assert parsed is not None
        assert builder_is_dead(replace(parsed, started=parsed.started - 1).text())


def test_another_pid_namespace_is_judged_by_its_socket_not_by_the_pid() -> None:
    prefix = _other_pid_namespace()
    with _process(*prefix) as (other, proc):
        parsed = parse_builder(other)
        assert parsed is not None
        assert parsed.pid_ns != _me().pid_ns
        assert parsed.pid == 1  # a pid that exists here too, but is not this process
        assert not builder_is_dead(other)
        _end(proc)
        assert builder_is_dead(other)  # at once, no heartbeat wait


def test_a_pid_in_another_pid_namespace_is_not_trusted() -> None:
    me = _me()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    foreign = replace(me, pid_ns=me.pid_ns + 1, pid=int(gone.stdout))
    assert builder_is_dead(foreign.text())  # nobody holds its socket in this network
    unreachable = replace(foreign, net_ns=me.net_ns + 1)  # another container's own network
    assert not builder_is_dead(unreachable.text())
    silent = replace(foreign, net_ns=0)  # it had no socket: nothing to tell from here
    assert not builder_is_dead(silent.text())


def test_another_machine_or_boot_is_never_judged_from_here() -> None:
    me = _me()
    other_boot = "0" * 12 if me.boot != "0" * 12 else "1" * 12
    assert not builder_is_dead(replace(me, boot=other_boot, pid=999_999_999).text())


def test_untokened_ids_are_judged_by_host_and_pid() -> None:
    host = socket.gethostname()
    assert builder_is_dead(f"{host}:999999999")
    assert not builder_is_dead(f"not-{host}:999999999")
    assert not builder_is_dead(f"{host}:{os.getpid()}")
    assert not builder_is_dead(None)
    assert not builder_is_dead("")
    assert parse_builder(f"{host}:12") is None


def _child_report(queue: multiprocessing.Queue[tuple[str, bool]], parent: str) -> None:
    queue.put((builder_id(), builder_is_dead(parent)))


def test_a_forked_child_has_its_own_id_and_the_parent_stays_alive() -> None:
    parent = builder_id()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[str, bool]] = context.Queue()
    child = context.Process(target=_child_report, args=(queue, parent))
    child.start()
    child_id, parent_dead = queue.get(timeout=60)
    child.join(timeout=60)
    assert child_id != parent
    assert not parent_dead
    assert builder_is_dead(child_id)
    assert not builder_is_dead(parent)  # the child closed only its copy of the socket
    queue.close()


def test_a_run_whose_owner_died_in_another_pid_namespace_is_taken_over(store: Store) -> None:
    prefix = _other_pid_namespace()
    run_id = submit_run(store, "materialize", {}, "demo")
    with _process(*prefix) as (other, proc):
        with store.write() as conn:  # as a worker container on the host network leaves it
            conn.execute(
                workflow_runs.update()
                .where(workflow_runs.c.id == run_id)
                .values(status=RUNNING, attempts=1, builder=other, heartbeat=store.clock())
            )
        assert claim_run(store, run_id, exclusive=True) is None  # its owner lives
        _end(proc)
    claimed = claim_run(store, run_id, exclusive=True)  # its heartbeat is fresh, yet it is dead
    assert claimed is not None
    assert claimed.attempts == 2
    assert claimed.builder == builder_id()


def test_taking_over_from_a_silent_owner_recovers_its_version_build(store: Store) -> None:
    me, unique = _me(), uuid.uuid4()
    other_boot = "0" * 12 if me.boot != "0" * 12 else "1" * 12
    elsewhere = replace(me, boot=other_boot, pid=unique.int % 4_000_000).text()
    datastack = f"takeover_{unique.hex[:8]}"  # names the version database it would drop
    now = store.clock()
    run_id = submit_run(store, "materialize", {}, datastack)
    with store.write() as conn:  # a worker on another machine went silent mid-build
        conn.execute(
            workflow_runs.update()
            .where(workflow_runs.c.id == run_id)
            .values(status=RUNNING, attempts=1, builder=elsewhere, heartbeat=now - STALE_AFTER * 2)
        )
        conn.execute(
            versions.insert().values(
                datastack=datastack,
                version=1,
                time_stamp=now,
                created=now,
                status=RUNNING,
                valid=False,
                builder=elsewhere,
            )
        )
    grace = timedelta(hours=6)
    assert not builder_is_dead(elsewhere)
    assert recover_versions(store, grace=grace) == []  # nothing tells it is dead yet
    claimed = claim_run(store, run_id, exclusive=True)  # its heartbeat is stale: taken over
    assert claimed is not None
    assert claimed.attempts == 2
    assert [v.version for v in recover_versions(store, grace=grace)] == [1]
    assert get_version(store, datastack, 1).status == "FAILED"
