"""Pins: expiry never drops a pinned version, whatever its expires_on and min_kept; names are
unique per datastack and checked; only AVAILABLE versions are pinned; unpinning hands a version
back to the policy; caveclient sees a pinned version as never expiring."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from version_world import VersionWorld

from fixative.api.formats import NEVER, version_dict
from fixative.errors import Conflict, InvalidInput, NotFound
from fixative.versions import expire_versions, get_version
from fixative.versions.pins import pin_version, unpin_version


def _versions(world: VersionWorld, n: int) -> list[datetime]:
    instants = []
    for _ in range(n):
        at = world.clock()
        world.segment(at)
        world.version_at(at, days_to_expire=1)
        instants.append(at)
    return instants


def _expire(world: VersionWorld, now: datetime) -> tuple[int, ...]:
    result = expire_versions(
        world.store, world.datastack, now, min_kept=0, version_dir=world.version_dir
    )
    return result.expired


def test_a_pinned_version_is_never_expired(world: VersionWorld) -> None:
    instants = _versions(world, 3)
    pinned = pin_version(world.store, world.datastack, 1, "paper-2026.v1")
    assert (pinned.pinned, pinned.pin_name) == (True, "paper-2026.v1")
    assert version_dict(pinned)["expires_on"] == NEVER
    assert version_dict(pinned)["pinned"] is True
    later = instants[-1] + timedelta(days=30)
    assert _expire(world, later) == (2,)  # 1 pinned, 3 the latest
    kept = get_version(world.store, world.datastack, 1)
    assert (kept.status, kept.pinned) == ("AVAILABLE", True)
    assert world.target.exists(kept.database)

    again = unpin_version(world.store, world.datastack, 1)
    assert (again.pinned, again.pin_name) == (False, None)
    assert version_dict(again)["expires_on"] != NEVER
    assert _expire(world, later) == (1,)
    assert not world.target.exists(get_version(world.store, world.datastack, 1).database)


def test_pin_names_and_states_are_checked(world: VersionWorld) -> None:
    instants = _versions(world, 3)
    pin_version(world.store, world.datastack, 1, "release")
    with pytest.raises(Conflict, match="already names version 1"):
        pin_version(world.store, world.datastack, 2, "release")
    assert not get_version(world.store, world.datastack, 2).pinned
    for bad in ("", "has space", "-lead", "x" * 129, "semi;colon"):
        with pytest.raises(InvalidInput, match="bad pin name"):
            pin_version(world.store, world.datastack, 2, bad)
    renamed = pin_version(world.store, world.datastack, 1, "release-b")  # a new name replaces
    assert renamed.pin_name == "release-b"
    pin_version(world.store, world.datastack, 2, "release")  # the old name is free again
    with pytest.raises(NotFound):
        pin_version(world.store, world.datastack, 99)
    assert _expire(world, instants[-1] + timedelta(days=30)) == ()
    unpin_version(world.store, world.datastack, 2)
    assert _expire(world, instants[-1] + timedelta(days=30)) == (2,)
    with pytest.raises(Conflict, match="EXPIRED"):
        pin_version(world.store, world.datastack, 2)
