"""The Celery adapter: workers on a Redis broker run submitted runs by id.

Tasks are acknowledged late and rejected when their worker process is lost, so a run whose
pool process is killed goes back to the queue and the next worker takes the run over. When the
whole worker dies, the reaper of any other worker (``runner.reaper``, on a timer thread in each
worker process) sends the run again once its heartbeat is ``run_stale_after_s`` old, long before
the broker's ``task_visibility_timeout``. The app is built from the settings when asked,
never at import time; each worker process opens its own services on its first task (after the
fork, so no database connection crosses it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown, worker_ready

from fixative.config import Settings
from fixative.errors import Transient
from fixative.runner.execute import execute
from fixative.runner.port import poll_until_finished, record_submission
from fixative.runner.reaper import Reaper, reap_every_s, recover
from fixative.runner.records import RunInfo, finish_run
from fixative.runner.schedule import beat_schedule
from fixative.services import Services
from fixative.store import Store

RUN_TASK = "fixative.run"
SCHEDULED_TASK = "fixative.scheduled"


class _ProcessServices:
    """One ``Services`` per process, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._services: Services | None = None

    def get(self) -> Services:
        with self._lock:
            if self._services is None or self._pid != os.getpid():
                self._services = Services.from_settings(self.settings)
                self._pid = os.getpid()
            return self._services


def make_celery(settings: Settings, reap: Literal["pool", "main"] | None = None) -> Celery:
    """The app; ``reap`` starts a reaper when a worker starts, in each pool process (prefork:
    after the fork, so no database connection crosses it) or in the main process (threads,
    solo)."""
    if not settings.broker_url:
        raise Transient("no broker_url is configured: the Celery runner needs a Redis broker")
    app = Celery("fixative", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        timezone="UTC",
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.task_visibility_timeout},
        beat_schedule=beat_schedule(settings),
    )
    services = _ProcessServices(settings)

    @app.task(name=RUN_TASK)  # type: ignore[untyped-decorator]
    def run(run_id: int) -> str:
        return execute(services.get(), int(run_id)).status

    @app.task(name=SCHEDULED_TASK)  # type: ignore[untyped-decorator]
    def scheduled(kind: str, datastack: str, params: dict[str, Any]) -> str:
        """A beat entry: record the run (its instant is now), then run it here."""
        store = services.get().store
        run_id = record_submission(store, kind, params, datastack)
        return execute(services.get(), run_id).status

    if reap is not None:
        _reap_on_start(app, settings, services, reap)
    return app


def _reap_on_start(
    app: Celery, settings: Settings, services: _ProcessServices, where: Literal["pool", "main"]
) -> None:
    stale_after = timedelta(seconds=settings.run_stale_after_s)
    reapers: list[Reaper] = []

    def resend(run_id: int) -> None:
        app.send_task(RUN_TASK, args=[run_id])

    def start(**_: object) -> None:
        # the services are opened by the reaper's first round, on its thread: a database that
        # is down then costs a logged round, not the worker process's start
        reapers.append(
            Reaper(
                lambda: recover(services.get().store, stale_after=stale_after, redo=resend),
                reap_every_s(stale_after),
            ).start()
        )

    def stop(**_: object) -> None:
        for reaper in reapers:
            reaper.stop()

    signal = worker_process_init if where == "pool" else worker_ready
    signal.connect(start, weak=False)
    worker_process_shutdown.connect(stop, weak=False)


class CeleryRunner:
    """Submits runs to Celery workers; the caller's store records them."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.app = make_celery(settings)
        self.store = store

    def submit(self, kind: str, params: Mapping[str, Any], datastack: str | None = None) -> int:
        run_id = record_submission(self.store, kind, params, datastack)  # committed first
        self.resume(run_id)
        return run_id

    def resume(self, run_id: int) -> None:
        try:
            self.app.send_task(RUN_TASK, args=[run_id])
        except Exception as exc:
            error = Transient(f"the broker refused run {run_id}: {exc}")
            finish_run(self.store, run_id, error=error)
            raise error from exc

    def enqueue(self, run_id: int, delay_s: float = 0.0) -> None:
        """Send a recorded run to the workers, to start after ``delay_s`` seconds (a countdown:
        the worker holds the task until then)."""
        try:
            self.app.send_task(RUN_TASK, args=[run_id], countdown=delay_s if delay_s > 0 else None)
        except Exception as exc:
            error = Transient(f"the broker refused run {run_id}: {exc}")
            finish_run(self.store, run_id, error=error)
            raise error from exc

    def wait(self, run_id: int, timeout: float | None = None) -> RunInfo:
        return poll_until_finished(self.store, run_id, timeout)

    def workers(self, timeout_s: float = 1.0) -> list[str]:
        """The workers that answer a ping on the broker within ``timeout_s``: with none, what
        is submitted waits on the broker (QUEUED) until one starts."""
        try:
            replies = self.app.control.ping(timeout=timeout_s) or []
        except Exception:  # an unreachable broker: nobody can answer
            return []
        return sorted(name for reply in replies for name in reply)

    def close(self) -> None:
        self.app.close()
