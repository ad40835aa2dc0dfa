"""How instants and metadata rows are written for caveclient: naive UTC
``%Y-%m-%dT%H:%M:%S.%f`` strings (it parses them with exactly that format, microseconds
required, no offset)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fixative.versions import VersionInfo

CAVE_TIME = "%Y-%m-%dT%H:%M:%S.%f"
# caveclient turns a null ``expires_on`` into ``pd.Timestamp.max`` and pandas warns on every
# call while doing so; a version that never expires is sent as that same instant instead.
NEVER = "2262-04-11T23:47:16.854775"


def cave_time(value: datetime | None) -> str | None:
    """``value`` (aware) as caveclient's naive-UTC string; None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime(CAVE_TIME)


def version_dict(info: VersionInfo) -> dict[str, Any]:
    """A version's metadata as caveclient reads it (``time_stamp``/``expires_on`` reformatted)."""
    out = info.metadata_dict()
    out["time_stamp"] = cave_time(info.time_stamp)
    out["expires_on"] = NEVER if info.pinned else (cave_time(info.expires_on) or NEVER)
    return out
