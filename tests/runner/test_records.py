"""Workflow run records on both backends."""

from __future__ import annotations

import pytest

from fixative.errors import Conflict, NotFound
from fixative.runner.records import FAILED, RUNNING, SUCCEEDED, get_run, list_runs, recorded
from fixative.store import Store


def test_success_records_progress_and_timing(store: Store) -> None:
    with recorded(store, "ingest", {"table": "synapses", "at": "2026-01-01"}, "demo") as progress:
        running = list_runs(store)[0]
        assert running.status == RUNNING
        for done in range(0, 1001, 100):
            progress(done, 1000)
    run = get_run(store, running.id)
    assert run.status == SUCCEEDED
    assert (run.done, run.total) == (1000, 1000)
    assert run.params == {"table": "synapses", "at": "2026-01-01"}
    assert run.datastack == "demo"
    assert run.seconds is not None
    assert run.seconds > 0


def test_failure_records_error_and_traceback(store: Store) -> None:
    with pytest.raises(Conflict), recorded(store, "create_version", {}):
        raise Conflict("update root ids to T first")
    run = list_runs(store)[0]
    assert run.status == FAILED
    assert run.error == "Conflict: update root ids to T first"
    assert run.traceback is not None
    assert "Traceback" in run.traceback
    assert run.finished_at is not None


def test_listing_order_and_unknown_run(store: Store) -> None:
    for kind in ("a", "b", "c"):
        with recorded(store, kind, {}):
            pass
    assert [r.kind for r in list_runs(store, limit=2)] == ["c", "b"]
    with pytest.raises(NotFound, match="999"):
        get_run(store, 999)


def test_exclusive_runs_hold_the_datastack_lock(store: Store) -> None:
    with recorded(store, "materialize", {}, "demo", exclusive=True):
        with pytest.raises(Conflict, match="still running"):  # noqa: SIM117
            with recorded(store, "materialize", {}, "demo", exclusive=True):
                pass
        with recorded(store, "materialize", {}, "other", exclusive=True):
            pass  # another datastack is not blocked
    with recorded(store, "materialize", {}, "demo", exclusive=True):
        pass  # released when the first run finished
    statuses = [r.status for r in list_runs(store) if r.datastack == "demo"]
    assert statuses == [SUCCEEDED, SUCCEEDED]  # a refused claim writes no row


def test_a_dead_runs_lock_is_taken_over(store: Store) -> None:
    import socket

    from fixative.runner.tables import workflow_runs

    with store.write() as conn:
        conn.execute(
            workflow_runs.insert().values(
                kind="materialize",
                datastack="demo",
                params="{}",
                status=RUNNING,
                created=store.clock(),
                builder=f"{socket.gethostname()}:999999999",
            )
        )
    with recorded(store, "materialize", {}, "demo", exclusive=True):
        pass
    runs = list_runs(store)
    assert [r.status for r in runs] == [SUCCEEDED, FAILED]
    assert runs[1].error == "its process died"
