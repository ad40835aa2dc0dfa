"""Time: every instant in Fixative is an aware UTC datetime."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fixative.errors import InvalidInput

Clock = Callable[[], datetime]

# How far ahead of this machine's clock an instant may be and still count as "now": the clock
# of the machine that fixed it (a submitting client, another worker) may run a little ahead.
MAX_CLOCK_SKEW = timedelta(seconds=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str | float | int) -> datetime:
    """Parse an instant: aware datetime, ISO-8601 string, or epoch seconds. Naive means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise InvalidInput(f"bad timestamp {value!r}")
    elif isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInput(f"bad timestamp {value!r}: {exc}") from None
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"bad timestamp {value!r}: expected ISO-8601") from None
    else:
        raise InvalidInput(f"bad timestamp {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def refuse_future(
    at: datetime, now: datetime, what: str = "instant", *, skew: timedelta = MAX_CLOCK_SKEW
) -> datetime:
    """``at``, unless it lies more than ``skew`` after ``now`` (InvalidInput). Root ids resolved
    at a future instant claim a validity that edits made before it can still break, and every
    later workflow at "now" is refused as "earlier" than them."""
    if at.tzinfo is None:
        raise InvalidInput(f"{what} {at!r} has no time zone; use aware UTC datetimes")
    if at > now + skew:
        raise InvalidInput(
            f"{what} {at.isoformat()} is in the future (now is {now.isoformat()}); "
            "workflows only run at instants up to now"
        )
    return at


def await_instant(at: datetime, clock: Clock, what: str = "instant") -> datetime:
    """``at`` once it has come by ``clock``: refused (``refuse_future``) when it is more than
    ``MAX_CLOCK_SKEW`` ahead, and a smaller lead (the clock that fixed it runs a little ahead of
    this one) waited out, so work "at T" starts only after T here."""
    now = clock()
    refuse_future(at, now, what)
    ahead = (at - now).total_seconds()
    if ahead > 0:
        time.sleep(ahead)
    return at
