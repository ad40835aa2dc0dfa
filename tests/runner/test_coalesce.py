"""The coalescing of writes' ingest runs (``fixative.runner.coalesce``) on both backends: one
QUEUED run per table, the delay that keeps runs ``ingest_min_interval_s`` apart, and the
instant fixed when the run starts, kept by a later attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fixative.clock import as_utc
from fixative.runner.coalesce import MARK, WriteIngest, fix_instant_at_start, queue_ingest
from fixative.runner.records import QUEUED, claim_run, finish_run, get_run
from fixative.runner.tables import workflow_runs
from fixative.store import NewTable, Store
from fixative.testing.clock import TickingClock

INTERVAL_S = 5.0


@pytest.fixture
def tables(store: Store) -> list[str]:
    for name in ("tags_a", "tags_b"):
        store.create_table(NewTable(name, "bound_tag", "av", "u", (8, 8, 40), pcg_table_name="g"))
    return ["tags_a", "tags_b"]


def test_one_queued_run_per_table(store: Store, tables: list[str]) -> None:
    first = queue_ingest(store, "ds", "tags_a", INTERVAL_S)
    again = queue_ingest(store, "ds", "tags_a", INTERVAL_S)
    other = queue_ingest(store, "ds", "tags_b", INTERVAL_S)
    elsewhere = queue_ingest(store, "ds2", "tags_a", INTERVAL_S)
    assert first.new
    assert first.delay_s == 0.0  # the table never ran an ingest: at once
    assert not again.new
    assert again.run_id == first.run_id
    assert len({first.run_id, other.run_id, elsewhere.run_id}) == 3
    run = get_run(store, first.run_id)
    assert run.status == QUEUED
    assert run.params == {"table": "tags_a", MARK: True, "datastack": "ds"}
    assert run.builder is None  # a Celery runner's: waits on the broker
    owned = queue_ingest(store, "ds", "tags_c", INTERVAL_S, owner="host:pid:1")
    assert get_run(store, owned.run_id).builder == "host:pid:1"  # an inline runner's process


def test_the_next_run_waits_the_interval(
    store: Store, tables: list[str], clock: TickingClock
) -> None:
    first = queue_ingest(store, "ds", "tags_a", INTERVAL_S)
    assert claim_run(store, first.run_id) is not None
    running = queue_ingest(store, "ds", "tags_a", INTERVAL_S)  # the first one is running
    assert running.new
    assert running.delay_s == pytest.approx(INTERVAL_S, abs=0.1)
    assert queue_ingest(store, "ds", "tags_a", INTERVAL_S).run_id == running.run_id
    finish_run(store, first.run_id, result={})
    assert claim_run(store, running.run_id) is not None
    finish_run(store, running.run_id, result={})
    clock.advance(timedelta(seconds=2))
    later = queue_ingest(store, "ds", "tags_a", INTERVAL_S)  # 2 s after the last one ended
    assert later.delay_s == pytest.approx(INTERVAL_S - 2, abs=0.1)
    clock.advance(timedelta(seconds=10))
    assert claim_run(store, later.run_id) is not None
    finish_run(store, later.run_id, result={})
    clock.advance(timedelta(seconds=10))
    assert queue_ingest(store, "ds", "tags_a", INTERVAL_S).delay_s == 0.0


def test_the_instant_is_fixed_at_start_and_kept(
    store: Store, tables: list[str], clock: TickingClock
) -> None:
    queued = queue_ingest(store, "ds", "tags_a", INTERVAL_S)
    clock.advance(timedelta(seconds=30))
    ids = store.insert_annotations("tags_a", [{"pt": {"position": [1, 2, 3]}, "tag": "x"}])
    written = store.get_table("tags_a").last_modified_at
    claimed = claim_run(store, queued.run_id)
    assert claimed is not None
    assert claimed.params.get("at") is None
    started = fix_instant_at_start(store, claimed)
    at = as_utc(started.params["at"])
    assert at >= written  # the row written after the run was queued is covered
    assert at > queued.created_at + timedelta(seconds=30)
    assert get_run(store, queued.run_id).params["at"] == started.params["at"]
    clock.advance(timedelta(minutes=10))  # the owner died; a later attempt keeps the instant
    again = fix_instant_at_start(store, get_run(store, queued.run_id))
    assert again.params["at"] == started.params["at"]
    assert len(ids) == 1
    with store.write() as conn:  # the reaper puts a dead owner's run back to QUEUED
        conn.execute(
            workflow_runs.update()
            .where(workflow_runs.c.id == queued.run_id)
            .values(status=QUEUED, builder=None)
        )
    fresh = queue_ingest(store, "ds", "tags_a", INTERVAL_S)  # its instant is past: a new run
    assert fresh.new
    assert fresh.run_id != queued.run_id


class _Recorder:
    def __init__(self) -> None:
        self.handed: list[tuple[int, float]] = []

    def enqueue(self, run_id: int, delay_s: float = 0.0) -> None:
        self.handed.append((run_id, delay_s))


def test_a_run_is_handed_over_once_unless_lost(
    store: Store, tables: list[str], clock: TickingClock
) -> None:
    runner = _Recorder()
    here, there = WriteIngest(store, runner, INTERVAL_S), WriteIngest(store, runner, INTERVAL_S)
    run_id = here("ds", "tags_a")
    assert here("ds", "tags_a") == run_id
    assert there("ds", "tags_a") == run_id  # another process: queued by the first, left alone
    assert runner.handed == [(run_id, 0.0)]
    clock.advance(timedelta(minutes=5))  # still QUEUED long after: its hand-over was lost
    assert there("ds", "tags_a") == run_id
    assert there("ds", "tags_a") == run_id
    assert runner.handed == [(run_id, 0.0), (run_id, 0.0)]
