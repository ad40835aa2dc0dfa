"""Schedules: the next cron instant (checked against a minute-by-minute walk over Celery's own
crontab sets), the embedded scheduler's decisions, its thread, and beat's schedule."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.schedules import crontab
from hypothesis import given, settings
from hypothesis import strategies as st

from fixative.config import DatastackSettings, Schedule, Settings
from fixative.runner.schedule import (
    EmbeddedScheduler,
    ScheduledTask,
    beat_schedule,
    next_fire,
    scheduled_tasks,
)


def _walk(cron: str, after: datetime) -> datetime:
    minute, hour, dom, month, dow = cron.split()
    tab = crontab(minute, hour, dow, dom, month)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not (
        t.minute in tab.minute
        and t.hour in tab.hour
        and t.day in tab.day_of_month
        and t.month in tab.month_of_year
        and (t.weekday() + 1) % 7 in tab.day_of_week
    ):
        t += timedelta(minutes=1)
    return t


CRONS = st.sampled_from(
    [
        "* * * * *",
        "*/15 * * * *",
        "0 3 * * *",
        "30 */6 * * *",
        "5,35 2-4 * * 1-5",
        "0 0 * * 0",
        "0 12 1 * *",
        "45 23 * * 6",
    ]
)
INSTANTS = st.datetimes(  # hypothesis wants naive bounds; the values it draws carry UTC
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=60, deadline=None)
@given(cron=CRONS, after=INSTANTS)
def test_next_fire_is_the_first_matching_minute(cron: str, after: datetime) -> None:
    fire = next_fire(cron, after)
    assert fire > after
    assert fire == _walk(cron, after)


def test_tick_submits_each_due_task_once() -> None:
    start = datetime(2026, 3, 2, 2, 59, 30, tzinfo=UTC)  # a Monday
    submitted: list[tuple[str, dict[str, Any], str]] = []

    def submit(kind: str, params: Any, datastack: str) -> int:
        submitted.append((kind, dict(params), datastack))
        return len(submitted)

    tasks = [
        ScheduledTask("a", "demo", "materialize", "0 3 * * *", {"days_to_expire": 7}),
        ScheduledTask("b", "demo", "expire", "*/10 * * * *", {}),
    ]
    scheduler = EmbeddedScheduler(tasks, submit, clock=lambda: start)
    assert scheduler.tick(start) == []
    assert scheduler.tick(start.replace(minute=59, second=59)) == []
    assert scheduler.tick(start + timedelta(minutes=1)) == [1, 2]  # 03:00:30: both due
    assert submitted == [
        ("materialize", {"days_to_expire": 7}, "demo"),
        ("expire", {}, "demo"),
    ]
    assert scheduler.tick(start + timedelta(minutes=2)) == []  # once, not every tick
    late = start + timedelta(hours=5)  # a late tick submits once, however much it missed
    assert scheduler.tick(late) == [3]  # "b" only: "a" is next due tomorrow
    assert submitted[-1][0] == "expire"
    assert scheduler.next["a"] == datetime(2026, 3, 3, 3, 0, tzinfo=UTC)


def test_the_thread_submits_when_the_clock_passes_the_instant() -> None:
    now = [datetime(2026, 3, 2, 2, 59, 59, tzinfo=UTC)]
    fired = threading.Event()
    calls: list[str] = []

    def submit(kind: str, params: Any, datastack: str) -> int:
        calls.append(kind)
        fired.set()
        return 1

    task = ScheduledTask("a", "demo", "update_roots", "0 3 * * *", {})
    scheduler = EmbeddedScheduler([task], submit, clock=lambda: now[0])
    now[0] = datetime(2026, 3, 2, 3, 0, 1, tzinfo=UTC)
    scheduler.start()
    try:
        assert fired.wait(timeout=10)
        time.sleep(0.6)  # another loop turn: not due again
    finally:
        scheduler.stop()
    assert calls == ["update_roots"]


def test_settings_become_beat_entries() -> None:
    ds = DatastackSettings(
        name="demo",
        aligned_volume="av",
        schedules=(
            Schedule(cron="0 3 * * *", task="materialize", days_to_expire=5),
            Schedule(cron="30 * * * *", task="update_roots"),
        ),
    )
    config = Settings(datastacks=(ds,))
    names = [t.name for t in scheduled_tasks(config)]
    assert names == ["demo:0:materialize", "demo:1:update_roots"]
    beat = beat_schedule(config)
    assert beat["demo:0:materialize"]["task"] == "fixative.scheduled"
    assert beat["demo:0:materialize"]["args"] == ("materialize", "demo", {"days_to_expire": 5})
    assert beat["demo:1:update_roots"]["args"] == ("update_roots", "demo", {})
    schedule = beat["demo:0:materialize"]["schedule"]
    assert schedule.hour == {3}
    assert schedule.minute == {0}
