"""Expiry keeps the latest version and ``min_kept``, drops due versions (their databases really
go), marks them EXPIRED and keeps their rows; FAILED leftovers are cleaned."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from version_world import VersionWorld

from fixative.versions import expire_versions, get_version, list_versions
from fixative.versions.tables import versions


def _versions(world: VersionWorld, n: int, days: int | None = 1) -> list[datetime]:
    instants = []
    for _ in range(n):
        at = world.clock()
        world.segment(at)
        world.version_at(at, days_to_expire=days)
        instants.append(at)
    return instants


def _expire(world: VersionWorld, now: datetime, min_kept: int) -> tuple[int, ...]:
    result = expire_versions(
        world.store, world.datastack, now, min_kept=min_kept, version_dir=world.version_dir
    )
    return result.expired


def test_expiry_keeps_min_kept_and_the_latest(world: VersionWorld) -> None:
    instants = _versions(world, 4)
    assert _expire(world, instants[-1] + timedelta(hours=23), min_kept=1) == ()
    later = instants[-1] + timedelta(days=2)
    assert _expire(world, later, min_kept=2) == (1, 2)
    assert [v.version for v in list_versions(world.store, world.datastack)] == [3, 4]
    for gone in (1, 2):
        info = get_version(world.store, world.datastack, gone)
        assert (info.status, info.valid) == ("EXPIRED", False)
        assert not world.target.exists(info.database)
    assert world.target.exists(get_version(world.store, world.datastack, 3).database)
    assert _expire(world, later, min_kept=0) == (3,)
    assert _expire(world, later, min_kept=0) == ()
    latest = get_version(world.store, world.datastack, 4)
    assert latest.status == "AVAILABLE"
    assert world.target.exists(latest.database)
    everything = list_versions(world.store, world.datastack, include_expired=True)
    assert [v.status for v in everything] == ["EXPIRED", "EXPIRED", "EXPIRED", "AVAILABLE"]


def test_versions_without_expiry_stay(world: VersionWorld) -> None:
    instants = _versions(world, 2, days=None)
    assert get_version(world.store, world.datastack, 1).expires_on is None
    assert _expire(world, instants[-1] + timedelta(days=3650), min_kept=0) == ()


def test_expires_on_is_t_plus_the_days(world: VersionWorld) -> None:
    (at,) = _versions(world, 1, days=5)
    assert get_version(world.store, world.datastack, 1).expires_on == at + timedelta(days=5)


def test_failed_leftovers_are_cleaned(world: VersionWorld) -> None:
    (at,) = _versions(world, 1)
    name = get_version(world.store, world.datastack, 1).database
    with world.store.write() as conn:  # a FAILED version whose drop did not happen
        conn.execute(versions.update().values(status="FAILED", valid=False))
    assert world.target.exists(name)
    result = expire_versions(
        world.store, world.datastack, at, min_kept=1, version_dir=world.version_dir
    )
    assert (result.expired, result.cleaned) == ((), (1,))
    assert not world.target.exists(name)
    with world.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one() == 1
