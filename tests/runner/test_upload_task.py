"""Bulk upload as a runner task (``upload``): run through the inline runner it writes the rows
once with its progress in the run; a run killed part-way and run again skips what it wrote; its
parameters are checked (files only under the data directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from runner_world import RunnerWorld

from fixative.clock import utc_now
from fixative.demo import datastack
from fixative.errors import InvalidInput
from fixative.runner.inline import InlineRunner
from fixative.runner.tasks import upload, upload_request
from fixative.services import Services
from fixative.store import NewTable

ROWS, CHUNK = 250, 100


@pytest.fixture
def services(world: RunnerWorld) -> Services:
    return Services(world.settings, world.store)


@pytest.fixture
def runner(services: Services) -> Iterator[InlineRunner]:
    pool = InlineRunner(services, workers=2)
    yield pool
    pool.close()


def write_tags_csv(world: RunnerWorld, name: str, rows: int) -> dict[str, Any]:
    """A table of bound tags and a CSV of ``rows`` points inside cells under the data
    directory; returns the upload's parameters."""
    world.store.create_table(
        NewTable(name, "bound_tag", datastack.ALIGNED_VOLUME, "ada", (8, 8, 40), pcg_table_name="x")
    )
    synapses = world.store.annotations_at("synapses", utc_now()).slice(0, rows).to_pylist()
    points = [
        f"[{s['pre_pt_position_x']}, {s['pre_pt_position_y']}, {s['pre_pt_position_z']}]"
        for s in synapses
    ]
    path = world.settings.home / "uploads" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tags = [f"t{i}" for i in range(rows)]
    pacsv.write_csv(pa.table({"where": points, "tag": tags}), path)
    return {
        "table": name,
        "files": [f"uploads/{name}.csv"],
        "map": {"where": "pt_position", "tag": "tag"},
        "start_id": 1,
        "chunk_rows": CHUNK,
    }


def _ids(world: RunnerWorld, table: str) -> list[int]:
    return sorted(world.store.annotations_at(table, utc_now()).column("id").to_pylist())


def test_an_upload_run_writes_the_rows_once(world: RunnerWorld, runner: InlineRunner) -> None:
    params = write_tags_csv(world, "up_tags", ROWS)
    run = runner.wait(runner.submit("upload", params, world.stack), timeout=120)
    assert run.status == "SUCCEEDED", run.error
    assert run.result is not None
    assert run.result["rows_inserted"] == ROWS
    assert run.result["chunks"] == 3
    assert (run.done, run.total) == (ROWS, ROWS)
    assert _ids(world, "up_tags") == list(range(1, ROWS + 1))
    again = runner.wait(runner.submit("upload", params, world.stack), timeout=120)
    assert again.result is not None
    assert (again.result["rows_inserted"], again.result["rows_skipped"]) == (0, ROWS)
    assert _ids(world, "up_tags") == list(range(1, ROWS + 1))


class Killed(Exception):
    pass


def test_a_killed_upload_run_again_skips_what_it_wrote(
    world: RunnerWorld, services: Services, runner: InlineRunner
) -> None:
    params = {**write_tags_csv(world, "cut_tags", ROWS), "datastack": world.stack}

    def die_after_the_first_chunk(done: int, total: int) -> None:
        if done >= CHUNK:
            raise Killed

    with pytest.raises(Killed):  # the first chunk committed, then the process died
        upload(services, params, die_after_the_first_chunk)
    assert _ids(world, "cut_tags") == list(range(1, CHUNK + 1))
    run = runner.wait(runner.submit("upload", params, world.stack), timeout=120)
    assert run.status == "SUCCEEDED", run.error
    assert run.result is not None
    assert (run.result["rows_inserted"], run.result["rows_skipped"]) == (ROWS - CHUNK, CHUNK)
    assert _ids(world, "cut_tags") == list(range(1, ROWS + 1))
    rows = world.store.annotations_at("cut_tags", utc_now()).sort_by("id")
    assert rows.column("tag").to_pylist() == [f"t{i}" for i in range(ROWS)]


def test_upload_parameters_are_checked(world: RunnerWorld, tmp_path: Path) -> None:
    params = {**write_tags_csv(world, "bad_tags", 3), "datastack": world.stack}
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("where,tag\n")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"files": [str(outside)]}, "under the data directory"),
        ({"files": ["../../etc/passwd"]}, "under the data directory"),
        ({"files": ["uploads/none.csv"]}, "no such upload file"),
        ({"files": []}, "non-empty list"),
        ({"table": "synapses_nope"}, "has no table"),
        ({"map": {"where": 3}}, "map must be"),
        ({"start_id": 0}, "start_id"),
        ({"chunk_rows": True}, "chunk_rows"),
        ({"at": "2026-01-01T00:00:00Z"}, "takes no parameter"),
    ]
    for change, message in cases:
        with pytest.raises(InvalidInput, match=message):
            upload_request(world.store, world.settings, {**params, **change})
    assert upload_request(world.store, world.settings, params).table == "bad_tags"
