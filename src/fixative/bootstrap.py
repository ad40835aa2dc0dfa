"""The composition root: Settings -> adapters -> services. Entry points call this; nothing else
reads settings or builds adapters."""

from __future__ import annotations

from fixative.clock import Clock, utc_now
from fixative.config import Settings
from fixative.store import Store, open_store


def live_store(settings: Settings, clock: Clock = utc_now) -> Store:
    """The live database named by the settings, migrated to the latest schema."""
    settings.home.mkdir(parents=True, exist_ok=True)
    return open_store(settings.live_database_url, clock)
