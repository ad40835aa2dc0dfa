"""Running one submitted run, wherever it runs (a thread of this process or a Celery worker):
claim it, run its task with progress and a heartbeat, record the outcome. Running the same run
id twice is harmless: a finished run, or one a live process holds, is left alone; one whose
process died is taken over and redone (tasks are idempotent)."""

from __future__ import annotations

import logging
from datetime import timedelta

from fixative.errors import Conflict
from fixative.runner.coalesce import fix_instant_at_start
from fixative.runner.records import (
    RunInfo,
    RunProgress,
    beat_every_s,
    claim_run,
    finish_run,
    get_run,
    heartbeat,
)
from fixative.runner.tasks import task_kind
from fixative.services import Services

log = logging.getLogger(__name__)


def execute(services: Services, run_id: int) -> RunInfo:
    """Run ``run_id`` to its end here (unless it is finished or held); returns its record.
    A failing task is recorded FAILED and not raised: the record is the outcome."""
    store = services.store
    stale_after = timedelta(seconds=services.settings.run_stale_after_s)
    queued = get_run(store, run_id)
    try:
        kind = task_kind(queued.kind)
        claimed = claim_run(store, run_id, exclusive=kind.exclusive, stale_after=stale_after)
    except Conflict as exc:  # the datastack's lock is held by another live run
        finish_run(store, run_id, error=exc)
        return get_run(store, run_id)
    except Exception as exc:
        finish_run(store, run_id, error=exc)
        return get_run(store, run_id)
    if claimed is None:
        log.info("run %s is finished or held by a live process; nothing to do", run_id)
        return get_run(store, run_id)
    if claimed.attempts > 1:
        log.warning("run %s: attempt %s takes over from a dead process", run_id, claimed.attempts)
    try:
        with heartbeat(store, run_id, beat_every_s(stale_after)):
            claimed = fix_instant_at_start(store, claimed)  # a write-triggered ingest's instant
            summary = kind.fn(services, claimed.params, RunProgress(store, run_id))
    except Exception as exc:
        log.exception("run %s (%s) failed", run_id, claimed.kind)
        finish_run(store, run_id, error=exc)
    else:
        finish_run(store, run_id, result=summary)
    return get_run(store, run_id)
