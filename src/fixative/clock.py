"""Time: every instant in Fixative is an aware UTC datetime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fixative.errors import InvalidInput

Clock = Callable[[], datetime]


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
