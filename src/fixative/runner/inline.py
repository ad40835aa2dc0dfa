"""The embedded runner: runs in a thread pool of this process. Runs submitted here die with the
process; they are recorded under this process as their owner, so the reaper of the next
``fixative serve`` redoes them and a CLI command marks them FAILED (``runner.reaper``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fixative.runner.execute import execute
from fixative.runner.port import poll_until_finished, record_submission
from fixative.runner.records import RunInfo
from fixative.services import Services
from fixative.versions.builders import builder_id


class InlineRunner:
    def __init__(self, services: Services, workers: int = 2) -> None:
        self.services = services
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fixative-run")
        self._futures: dict[int, Future[RunInfo]] = {}
        self._timers: dict[int, threading.Timer] = {}
        self._closing = threading.Lock()
        self._closed = False

    def submit(self, kind: str, params: Mapping[str, Any], datastack: str | None = None) -> int:
        store = self.services.store
        run_id = record_submission(store, kind, params, datastack, owner=builder_id())
        self.resume(run_id)
        return run_id

    def resume(self, run_id: int) -> None:
        self._futures[run_id] = self._pool.submit(execute, self.services, run_id)

    def enqueue(self, run_id: int, delay_s: float = 0.0) -> None:
        """Run a recorded run in the pool, after ``delay_s`` seconds (a timer until then). A
        run still waiting when the runner closes stays QUEUED for another process."""
        with self._closing:
            self._timers.pop(run_id, None)
            if self._closed:
                return
            if delay_s > 0:
                timer = threading.Timer(delay_s, self.enqueue, args=(run_id,))
                timer.daemon = True
                self._timers[run_id] = timer
                timer.start()
                return
            self._futures[run_id] = self._pool.submit(execute, self.services, run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> RunInfo:
        future = self._futures.get(run_id)
        if future is not None:
            # execute records failures in the run and raises only on bugs; on a timeout the
            # poll below raises Transient naming the run
            with contextlib.suppress(TimeoutError):
                future.result(timeout=timeout)
        return poll_until_finished(self.services.store, run_id, timeout)

    def close(self) -> None:
        with self._closing:
            self._closed = True
            for timer in self._timers.values():
                timer.cancel()
        self._pool.shutdown(wait=True)
