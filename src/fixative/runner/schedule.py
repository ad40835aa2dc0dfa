"""Schedules: each datastack's cron entries (UTC), run by Celery beat in distributed mode and by
``EmbeddedScheduler`` (a thread inside ``fixative serve``) in embedded mode. Both read the same
entries; ``next_fire`` follows Celery's crontab semantics (day of month AND day of week)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fixative.clock import Clock, utc_now
from fixative.config import Schedule, Settings

log = logging.getLogger(__name__)
MAX_SLEEP_S = 30.0
SEARCH_DAYS = 366 * 5  # far enough for "29 2 *" style entries


@dataclass(frozen=True)
class ScheduledTask:
    name: str
    datastack: str
    kind: str
    cron: str
    params: dict[str, Any]


def scheduled_tasks(settings: Settings) -> list[ScheduledTask]:
    tasks = []
    for ds in settings.datastacks:
        for i, entry in enumerate(ds.schedules):
            tasks.append(
                ScheduledTask(
                    f"{ds.name}:{i}:{entry.task}", ds.name, entry.task, entry.cron, _params(entry)
                )
            )
    return tasks


def _params(entry: Schedule) -> dict[str, Any]:
    return {"days_to_expire": entry.days_to_expire} if entry.task == "materialize" else {}


def _crontab(cron: str) -> Any:
    from celery.schedules import crontab

    minute, hour, day_of_month, month, day_of_week = cron.split()
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
    )


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery beat's ``beat_schedule``: one entry per cron line, sending the scheduled task."""
    return {
        t.name: {
            "task": "fixative.scheduled",
            "schedule": _crontab(t.cron),
            "args": (t.kind, t.datastack, t.params),
        }
        for t in scheduled_tasks(settings)
    }


def next_fire(cron: str, after: datetime) -> datetime:
    """The first whole minute strictly after ``after`` (aware UTC) that ``cron`` names."""
    tab = _crontab(cron)
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    hours, minutes = sorted(tab.hour), sorted(tab.minute)
    for _ in range(SEARCH_DAYS):
        weekday = (day.weekday() + 1) % 7  # crontab counts from Sunday = 0
        if (
            day.month in tab.month_of_year
            and day.day in tab.day_of_month
            and weekday in tab.day_of_week
        ):
            for h in hours:
                for m in minutes:
                    candidate = day.replace(hour=h, minute=m)
                    if candidate >= start:
                        return candidate
        day += timedelta(days=1)
    raise ValueError(f"cron {cron!r} never fires within {SEARCH_DAYS} days of {after}")


Submit = Callable[[str, Mapping[str, Any], str], int]


class EmbeddedScheduler:
    """Submits each scheduled task when its next instant comes; ``tick(now)`` is the whole
    decision (the thread only calls it), so it is tested without waiting."""

    def __init__(self, tasks: list[ScheduledTask], submit: Submit, clock: Clock = utc_now) -> None:
        self.tasks, self.submit, self.clock = tasks, submit, clock
        now = clock()
        self.next: dict[str, datetime] = {t.name: next_fire(t.cron, now) for t in tasks}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime) -> list[int]:
        """Submit every task due at ``now`` (once, however late); returns the run ids."""
        runs = []
        for t in self.tasks:
            if now >= self.next[t.name]:
                try:
                    runs.append(self.submit(t.kind, t.params, t.datastack))
                except Exception:
                    log.exception("scheduled %s could not be submitted", t.name)
                self.next[t.name] = next_fire(t.cron, now)
        return runs

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick(self.clock())
            soonest = min(self.next.values(), default=None)
            wait = MAX_SLEEP_S
            if soonest is not None:
                wait = min(MAX_SLEEP_S, max(0.5, (soonest - self.clock()).total_seconds()))
            self._stop.wait(wait)

    def start(self) -> None:
        if self.tasks and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="fixative-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
