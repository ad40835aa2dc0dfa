"""A deterministic clock for tests: each call returns the next instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class TickingClock:
    """Returns ``start``, ``start + step``, ... ; ``now`` peeks without advancing."""

    def __init__(
        self,
        start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
        step: timedelta = timedelta(milliseconds=1),
    ) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + self.step
        return current

    def advance(self, delta: timedelta) -> None:
        self.now += delta
