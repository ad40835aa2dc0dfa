"""Recovering what dead processes left behind, on every entry point and periodically.

A process killed outright (SIGKILL, a lost machine) leaves its run RUNNING, an inline runner's
submissions QUEUED, and a version build RUNNING with its partial database. ``recover`` finds them
with ``fixative doctor``'s checks (``doctor.open_runs``, ``doctor.run_is_dead``: the owner's
process is provably gone, or its heartbeat is older than ``run_stale_after_s``) and:

- hands each dead run to ``redo`` when there is one (a Celery runner sends its id again; an
  inline runner runs it in its pool): the run goes back to QUEUED first, in one conditional
  update, so of several reapers only one redoes it, and the next ``claim_run`` takes it;
- marks it FAILED ("owner ... died; resubmit") when nothing here can redo it (a CLI command);
- cleans the version builds of the dead owners (``recover_versions``), before any redo, so the
  new attempt is not refused by its predecessor's build.

``Reaper`` repeats ``recover`` on a timer thread: in every Celery worker process, in
``fixative serve`` and in each of its gunicorn workers (``serving_reaper``). A QUEUED run of a
Celery runner waits on the broker and is left alone (``fixative doctor`` reports one queued for
longer than the visibility timeout).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fixative.runner.doctor import open_runs, run_is_dead
from fixative.runner.port import TaskRunner
from fixative.runner.records import FAILED, QUEUED, RunInfo
from fixative.runner.tables import workflow_runs
from fixative.runner.tasks import RECOVER_GRACE
from fixative.store import Store
from fixative.versions import VersionInfo, recover_versions
from fixative.versions.builders import builder_is_dead, note_dead

log = logging.getLogger(__name__)

Redo = Callable[[int], None]  # hands a recorded (QUEUED) run over to whoever runs it


@dataclass(frozen=True)
class Reaped:
    run: RunInfo
    redone: bool  # False: marked FAILED

    def describe(self) -> str:
        what = "handed over again" if self.redone else "marked FAILED (resubmit it)"
        return f"run {self.run.id} ({self.run.kind}) {self.run.status} under a dead owner: {what}"


@dataclass(frozen=True)
class Recovered:
    runs: list[Reaped]
    versions: list[VersionInfo]

    def lines(self) -> list[str]:
        found = [r.describe() for r in self.runs]
        return found + [
            f"version {v.version} of {v.datastack} was left RUNNING by a dead build: "
            "its partial database is dropped, it is marked FAILED"
            for v in self.versions
        ]


def recover(
    store: Store,
    *,
    stale_after: timedelta,
    redo: Redo | None = None,
    owner: str | None = None,
    now: datetime | None = None,
) -> Recovered:
    """Redo (or fail) every run of a dead owner and clean the dead builds. ``owner``: the builder
    id a redone run is QUEUED under (the inline runner's process; None for the broker)."""
    now = now or store.clock()
    dead = [r for r in open_runs(store) if run_is_dead(r, now, None, stale_after=stale_after)]
    gone = {r.id: builder_is_dead(r.builder) for r in dead}  # else silent: heartbeat too old
    for run in dead:
        if run.builder:
            note_dead(run.builder)  # its version builds are recovered below, wherever it ran
    versions = recover_versions(store, grace=RECOVER_GRACE, now=now)
    reaped = [
        r
        for r in (_reap(store, run, gone[run.id], redo, owner, now) for run in dead)
        if r is not None
    ]
    return Recovered(reaped, versions)


def _reap(
    store: Store, run: RunInfo, gone: bool, redo: Redo | None, owner: str | None, now: datetime
) -> Reaped | None:
    """Requeue or fail ``run`` unless another process moved it on since it was read."""
    runs = workflow_runs
    values: dict[str, object]
    if redo is not None:
        values = {"status": QUEUED, "builder": owner, "heartbeat": now}
    else:
        why = "its process is gone" if gone else "its heartbeat stopped"
        error = f"owner {run.builder or 'unknown'} died ({why}) while {run.status}; resubmit"
        values = {"status": FAILED, "error": error, "finished": now}
    with store.write() as conn:
        changed = conn.execute(
            runs.update()
            .where(
                runs.c.id == run.id,
                runs.c.status == run.status,
                runs.c.builder.is_not_distinct_from(run.builder),
                runs.c.heartbeat.is_not_distinct_from(run.heartbeat),
            )
            .values(**values)
        ).rowcount
    if not changed:
        return None
    if redo is not None:
        log.warning("run %s (%s) of dead owner %s: redoing it", run.id, run.kind, run.builder)
        redo(run.id)
    else:
        log.warning("run %s (%s) of dead owner %s: marked FAILED", run.id, run.kind, run.builder)
    return Reaped(run, redo is not None)


class Reaper:
    """``recover`` at once, then every ``every_s`` seconds, on a daemon thread until ``stop``."""

    def __init__(self, recover_once: Callable[[], Recovered], every_s: float) -> None:
        self._recover, self.every_s = recover_once, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fixative-reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while True:
            try:
                for line in self._recover().lines():
                    log.warning("reaper: %s", line)
            except Exception:  # a database hiccup: the next round tries again
                log.exception("the reaper's round failed")
            if self._stop.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.every_s + 5)


def reap_every_s(stale_after: timedelta) -> float:
    """How often to look: a quarter of the stale threshold, between 1 s and 30 s."""
    return min(30.0, max(1.0, stale_after.total_seconds() / 4))


def serving_reaper(store: Store, runner: TaskRunner, stale_after: timedelta) -> Reaper:
    """The reaper of a serving process (``fixative serve``, and each gunicorn worker): dead
    processes' runs redone by ``runner`` (this process's inline pool, or the workers behind a
    broker) and their version builds cleaned, now and then every few seconds."""
    from fixative.runner.inline import InlineRunner
    from fixative.versions.builders import builder_id

    owner = builder_id() if isinstance(runner, InlineRunner) else None

    def once() -> Recovered:
        return recover(store, stale_after=stale_after, redo=runner.resume, owner=owner)

    return Reaper(once, reap_every_s(stale_after)).start()
