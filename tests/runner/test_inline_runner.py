"""The inline runner on both backends: runs recorded QUEUED then claimed, versions equal to the
oracle, duplicate deliveries harmless, dead runs taken over, the datastack lock, failures
recorded."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from runner_world import RunnerWorld

from fixative.chunkedgraph.http import HttpChunkedGraph
from fixative.demo import datastack
from fixative.errors import InvalidInput, Transient
from fixative.runner.execute import execute
from fixative.runner.inline import InlineRunner
from fixative.runner.records import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    claim_run,
    get_run,
    submit_run,
)
from fixative.runner.tables import workflow_runs
from fixative.services import Services
from fixative.testing.failing_graph import failing_chunkedgraph
from fixative.versions import list_versions


@pytest.fixture
def services(world: RunnerWorld) -> Services:
    return Services(world.settings, world.store)


@pytest.fixture
def runner(services: Services) -> Iterator[InlineRunner]:
    pool = InlineRunner(services, workers=2)
    yield pool
    pool.close()


def test_materialize_run_makes_the_oracle_version(world: RunnerWorld, runner: InlineRunner) -> None:
    at = world.midway
    run_id = runner.submit("materialize", {"at": at.isoformat()}, world.stack)
    run = runner.wait(run_id, timeout=120)
    assert run.status == SUCCEEDED, run.error
    assert run.result is not None
    assert run.result["version"] == 1
    assert set(run.result["refreshed"]) == set(datastack.TABLES)
    assert run.attempts == 1
    assert run.done == run.total > 0
    world.assert_version_is_oracle(1, at)


def test_the_instant_is_fixed_at_submission(world: RunnerWorld, runner: InlineRunner) -> None:
    run_id = runner.submit("update_roots", {}, world.stack)
    queued_at = get_run(world.store, run_id).params["at"]
    run = runner.wait(run_id, timeout=60)
    assert run.status == SUCCEEDED, run.error
    assert run.params["at"] == queued_at
    for table in datastack.TABLES:
        assert world.store.get_table(table).last_updated_at is not None


def test_a_run_delivered_twice_runs_once(world: RunnerWorld, services: Services) -> None:
    params = {"datastack": world.stack, "at": world.midway.isoformat()}
    run_id = submit_run(world.store, "create_version", params, world.stack)
    assert get_run(world.store, run_id).status == QUEUED
    first = execute(services, run_id)
    second = execute(services, run_id)
    assert first.status == second.status == SUCCEEDED
    assert second.attempts == 1
    assert [v.version for v in list_versions(world.store, world.stack)] == [1]


def test_a_dead_processes_run_is_taken_over(world: RunnerWorld, services: Services) -> None:
    params = {"datastack": world.stack, "at": world.midway.isoformat()}
    run_id = submit_run(world.store, "materialize", params, world.stack)
    with world.store.write() as conn:  # as a worker that died mid-run leaves it
        conn.execute(
            workflow_runs.update()
            .where(workflow_runs.c.id == run_id)
            .values(status=RUNNING, attempts=1, builder=f"{socket.gethostname()}:999999999")
        )
    run = execute(services, run_id)
    assert run.status == SUCCEEDED, run.error
    assert run.attempts == 2
    world.assert_version_is_oracle(1, world.midway)


def test_a_held_datastack_lock_fails_the_second_run(world: RunnerWorld, services: Services) -> None:
    params = {"datastack": world.stack, "at": world.midway.isoformat()}
    holder = submit_run(world.store, "materialize", params, world.stack)
    assert claim_run(world.store, holder, exclusive=True) is not None  # live: this process
    second = submit_run(world.store, "materialize", params, world.stack)
    run = execute(services, second)
    assert run.status == FAILED
    assert run.error is not None
    assert f"materialize run {holder} is still running" in run.error
    assert list_versions(world.store, world.stack, include_expired=True) == []


def test_unknown_kind_and_bad_parameters_are_refused(
    world: RunnerWorld, runner: InlineRunner, services: Services
) -> None:
    with pytest.raises(InvalidInput, match="unknown workflow 'explode'"):
        runner.submit("explode", {}, world.stack)
    run_id = submit_run(world.store, "create_version", {"datastack": world.stack}, world.stack)
    run = execute(services, run_id)
    assert run.status == FAILED
    assert run.error == "InvalidInput: the task needs an instant 'at'"
    bad_days = runner.submit("materialize", {"days_to_expire": -3}, world.stack)
    failed = runner.wait(bad_days, timeout=60)
    assert failed.status == FAILED
    assert failed.error is not None
    assert "days_to_expire must be a positive integer" in failed.error


def test_waiting_too_long_is_transient(world: RunnerWorld, services: Services) -> None:
    run_id = submit_run(world.store, "expire", {"datastack": world.stack}, world.stack)
    runner = InlineRunner(services, workers=1)  # never handed this run
    try:
        with pytest.raises(Transient, match=f"run {run_id} .* still QUEUED"):
            runner.wait(run_id, timeout=0.3)
    finally:
        runner.close()


@pytest.fixture
def broken_graph() -> Iterator[HttpChunkedGraph]:
    with failing_chunkedgraph(datastack.PCG_TABLE) as graph:
        yield graph


def test_a_failing_chunkedgraph_fails_the_run_and_publishes_nothing(
    world: RunnerWorld, services: Services, runner: InlineRunner, broken_graph: HttpChunkedGraph
) -> None:
    services._graphs[world.stack] = broken_graph  # the real HTTP client on a server answering 500
    run_id = runner.submit("materialize", {"at": world.after.isoformat()}, world.stack)
    run = runner.wait(run_id, timeout=120)
    assert run.status == FAILED
    assert run.error is not None
    assert "bigtable unavailable" in run.error
    assert run.traceback is not None
    assert "Transient" in run.traceback
    assert list_versions(world.store, world.stack, include_expired=True) == []


def test_the_http_side_and_its_runner_share_one_composition(world: RunnerWorld) -> None:
    """One process opens a datastack's chunkedgraph once: the in-process runner the API submits
    to works on the very services the API reads from."""
    from fixative.api.services import build_services

    services = build_services(world.settings, world.store)
    try:
        assert isinstance(services.runner, InlineRunner)
        assert services.runner.services is services
        graph = services.graph(world.stack)
        assert services.runner.services.chunkedgraph(world.stack) is graph
        assert (
            services.graph_by_table(world.settings.datastack(world.stack).pcg_table_name) is graph
        )
        run_id = services.runner.submit("update_roots", {}, world.stack)
        assert services.runner.wait(run_id, timeout=60).status == SUCCEEDED
        assert services.chunkedgraph(world.stack) is graph
    finally:
        services.close()
