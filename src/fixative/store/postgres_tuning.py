"""The PostgreSQL server settings Fixative's workload needs, and a check of a live server.

The workload is bulk: ingest COPYs chunks into temporary tables and upserts them into the
segmentation tables and their root-id history (``INSERT ... ON CONFLICT``, ``UPDATE ... FROM``);
a version build is ``CREATE TABLE AS`` (a join of each table with its segmentation table) and
then btree and N-D GiST index builds; queries are root-id btree lookups, PostGIS boxes and
whole-table COPY reads, on tables of 10M-300M rows.

``RECOMMENDATIONS`` says what such a server sets, as a function of its memory and cores
(``REFERENCE_HOST``'s when the server does not let us read them), and why. ``check_server``
reads a live server and returns ``Advice`` for every setting that slows this workload down or
endangers its data: advice, never a blocking problem (``fixative doctor`` prints it as
warnings). deploy/compose.yaml and deploy/k8s/base/postgresql.conf set the recommendations for
``REFERENCE_HOST`` (``tests/unit/test_pg_tuning.py`` holds them to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from fixative.store.base import Store

MB = 1024**2
GB = 1024**3
DEFAULT_SHARED_BUFFERS = 128 * MB


@dataclass(frozen=True)
class Host:
    """The database server's memory and cores; None where it did not let us read them."""

    memory_bytes: int | None = None
    cores: int | None = None


REFERENCE_HOST = Host(memory_bytes=16 * GB, cores=4)  # what the deploy files are sized for


class ServerSettings:
    """Settings as ``pg_settings`` holds them (``setting`` in the unit of ``unit``)."""

    def __init__(self, rows: dict[str, tuple[str, str | None]]) -> None:
        self.rows = rows

    def text(self, name: str) -> str:
        return self.rows[name][0]

    def number(self, name: str) -> float:
        """The value in bytes for memory, seconds for time, as is otherwise."""
        setting, unit = self.rows[name]
        return float(setting) * _UNITS.get(unit or "", 1)

    def shown(self, name: str) -> str:
        setting, unit = self.rows[name]
        if unit in _MEMORY_UNITS:
            return size(int(self.number(name)))
        return f"{setting}{unit or ''}"


_MEMORY_UNITS = {"B": 1, "kB": 1024, "8kB": 8192, "MB": MB, "GB": GB}
_UNITS: dict[str, float] = {**_MEMORY_UNITS, "ms": 0.001, "s": 1, "min": 60, "h": 3600}


def size(n_bytes: int) -> str:
    """``n_bytes`` as postgresql.conf takes it: GB when whole, else MB (rounded down)."""
    if n_bytes >= GB and n_bytes % GB == 0:
        return f"{n_bytes // GB}GB"
    return f"{max(1, n_bytes // MB)}MB"


def _round(n_bytes: int) -> int:
    """Rounded down to whole GB from 1GB on, else to whole MB: a value to write down."""
    step = GB if n_bytes >= GB else MB
    return max(step, n_bytes // step * step)


def _gb(n_bytes: int) -> str:
    return f"{n_bytes / GB:.0f} GB"


def _memory(host: Host) -> int:
    return host.memory_bytes or REFERENCE_HOST.memory_bytes or 16 * GB


def _share(fraction: float, low: int, high: int) -> Callable[[Host], str]:
    """A fraction of the server's memory, kept within [low, high]."""
    return lambda host: size(min(high, max(low, _round(int(_memory(host) * fraction)))))


Problem = Callable[[ServerSettings, Host], str | None]


@dataclass(frozen=True)
class Recommendation:
    name: str
    value: Callable[[Host], str]  # as postgresql.conf takes it
    why: str  # what the value does for this workload
    problem: Problem | None = None  # what is wrong with a server's value; None: nothing is
    deployed: bool = True  # set in the deploy files (the others are PostgreSQL's defaults)


@dataclass(frozen=True)
class Advice:
    setting: str
    current: str
    recommended: str
    problem: str

    def describe(self) -> str:
        return f"{self.setting} = {self.current} (recommended: {self.recommended}): {self.problem}"


def _shared_buffers(s: ServerSettings, host: Host) -> str | None:
    have = s.number("shared_buffers")
    if have <= DEFAULT_SHARED_BUFFERS:
        return "PostgreSQL's default or less: too small for a large table's root-id indexes"
    if host.memory_bytes and have < host.memory_bytes / 8:
        return f"less than an eighth of the server's {_gb(host.memory_bytes)}"
    return None


def _effective_cache_size(s: ServerSettings, host: Host) -> str | None:
    have = s.number("effective_cache_size")
    if host.memory_bytes and have < host.memory_bytes / 2:
        return (
            f"the planner counts on less cache than the server's {_gb(host.memory_bytes)} "
            "and underrates index scans on large tables"
        )
    if have < s.number("shared_buffers"):
        return "smaller than shared_buffers"
    return None


def _at_least(name: str, low: float, problem: str) -> Problem:
    return lambda s, host: problem if s.number(name) < low else None


def _when(name: str, bad: str, problem: str) -> Problem:
    return lambda s, host: problem if s.text(name) == bad else None


def _autovacuum(s: ServerSettings, host: Host) -> str | None:
    if s.text("autovacuum") == "on" and s.text("track_counts") == "on":
        return None
    return (
        "bulk-written tables are never vacuumed nor analyzed: update-roots' dead rows bloat "
        "the segmentation tables and the planner misjudges their size"
    )


RECOMMENDATIONS: tuple[Recommendation, ...] = (
    Recommendation(
        "shared_buffers",
        _share(1 / 4, 128 * MB, 64 * GB),
        "a quarter of the memory: the hot pages of ingest's upserts and of root-id indexes",
        _shared_buffers,
    ),
    Recommendation(
        "effective_cache_size",
        _share(3 / 4, 512 * MB, 512 * GB),
        "three quarters of the memory: tells the planner how much of a table the OS caches",
        _effective_cache_size,
    ),
    Recommendation(
        "work_mem",
        _share(1 / 256, 16 * MB, 256 * MB),
        "per sort or hash: version builds join each table with its segmentation table, ingest "
        "anti-joins and upserts chunks; too small and they spill to disk in many batches",
        _at_least("work_mem", 16 * MB, "joins of large tables spill to disk in many batches"),
    ),
    Recommendation(
        "maintenance_work_mem",
        _share(1 / 16, 256 * MB, 2 * GB),
        "index builds after bulk loads and autovacuum of 100M-row tables sort in memory",
        _at_least(
            "maintenance_work_mem",
            512 * MB,
            "index builds on large tables sort on disk and vacuum scans indexes many times",
        ),
    ),
    Recommendation(
        "max_parallel_maintenance_workers",
        lambda host: str(max(1, min(4, (host.cores or REFERENCE_HOST.cores or 4) // 2))),
        "btree builds (primary keys, root-id indexes) use this many more processes",
        _at_least("max_parallel_maintenance_workers", 1, "every btree build uses one process"),
    ),
    Recommendation(
        "max_wal_size",
        lambda host: "16GB",
        "bulk ingest and version builds write GBs of WAL: checkpoints by time, not by WAL size",
        _at_least(
            "max_wal_size",
            4 * GB,
            "bulk writes force a checkpoint at every such amount, then full-page writes",
        ),
    ),
    Recommendation(
        "checkpoint_timeout",
        lambda host: "15min",
        "fewer checkpoints, so fewer full-page images of pages that update-roots rewrites",
    ),
    Recommendation(
        "autovacuum",
        lambda host: "on",
        "vacuums and analyzes the tables ingest and update-roots write in bulk",
        _autovacuum,
        deployed=False,
    ),
    Recommendation(
        "autovacuum_vacuum_scale_factor",
        lambda host: "0.05",
        "vacuum after 5% of a table's rows are dead, not 20% (60M rows of a 300M-row table)",
    ),
    Recommendation(
        "random_page_cost",
        lambda host: "1.1",
        "SSD or cloud block storage: root-id and spatial index scans cost little more than "
        "sequential reads",
        lambda s, host: (
            "PostgreSQL's default, for spinning disks: on SSD the planner then prefers "
            "sequential scans to root-id and spatial index scans"
            if s.number("random_page_cost") >= 4
            else None
        ),
    ),
    Recommendation(
        "effective_io_concurrency",
        lambda host: "200",
        "SSD: bitmap scans (spatial boxes, root-id lists) prefetch pages in parallel",
    ),
    Recommendation(
        "jit",
        lambda host: "off",
        "JIT compiles every query costed above jit_above_cost, which any query on a large "
        "table is: 100 ms or more on root-id and box queries that take a few ms",
        _when("jit", "on", "root-id and box queries on large tables pay for compiling"),
    ),
    Recommendation(
        "fsync",
        lambda host: "on",
        "off: a crash of the server can corrupt the database",
        _when("fsync", "off", "unsafe: a crash of the server can corrupt the database"),
        deployed=False,
    ),
    Recommendation(
        "full_page_writes",
        lambda host: "on",
        "off: a crash can leave torn pages",
        _when("full_page_writes", "off", "unsafe: a crash can leave torn pages"),
        deployed=False,
    ),
    Recommendation(
        "synchronous_commit",
        lambda host: "on",
        "off: a crash loses commits already reported, such as a chunk marked done whose "
        "task the broker then forgets",
        _when(
            "synchronous_commit",
            "off",
            "unsafe: a crash loses commits already reported, such as chunks marked done",
        ),
        deployed=False,
    ),
)


def deployed_settings(host: Host = REFERENCE_HOST) -> dict[str, str]:
    """The settings the deploy files set, for ``host``."""
    return {r.name: r.value(host) for r in RECOMMENDATIONS if r.deployed}


def advise(settings: ServerSettings, host: Host) -> list[Advice]:
    """Advice for each of ``settings`` that has a problem, in ``RECOMMENDATIONS``' order."""
    found = []
    for r in RECOMMENDATIONS:
        problem = r.problem(settings, host) if r.problem is not None else None
        if problem is not None:
            found.append(Advice(r.name, settings.shown(r.name), r.value(host), problem))
    return found


def check_store(store: Store) -> list[Advice]:
    """``check_server`` on the store's server; nothing for SQLite, which has no such settings."""
    if store.dialect_name != "postgresql":
        return []
    with store.read() as conn:
        return check_server(conn)


def check_server(conn: sa.Connection) -> list[Advice]:
    """Advice on the settings of the PostgreSQL server behind ``conn`` (as this session sees
    them), and on PostGIS in its database."""
    host = read_host(conn)
    found = advise(read_settings(conn), host)
    postgis = conn.execute(
        sa.text("SELECT installed_version FROM pg_available_extensions WHERE name = 'postgis'")
    ).first()
    if postgis is None or postgis[0] is None:
        why = "not installed on the server" if postgis is None else "not in this database"
        found.append(
            Advice("postgis", "missing", "installed", f"{why}: spatial queries and versions fail")
        )
    return found


def read_settings(conn: sa.Connection) -> ServerSettings:
    names = {r.name for r in RECOMMENDATIONS} | {"track_counts"}
    rows = conn.execute(
        sa.text("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(:names)"),
        {"names": sorted(names)},
    ).all()
    return ServerSettings({name: (setting, unit) for name, setting, unit in rows})


def read_host(conn: sa.Connection) -> Host:
    """The server's memory and cores from its /proc and cgroup files, when this role may read
    server files (a superuser, or a member of pg_read_server_files) and the server runs on
    Linux; else an unknown ``Host``."""
    allowed = conn.execute(
        sa.text(
            "SELECT rolsuper OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') "
            "FROM pg_roles WHERE rolname = current_user"
        )
    ).scalar()
    if not allowed:
        return Host()

    def read(path: str) -> str:
        text = conn.execute(
            sa.text("SELECT pg_read_file(:path, 0, 1048576, true)"), {"path": path}
        ).scalar()
        return str(text or "")

    memory = _memory_limit(read("/proc/meminfo"), read("/sys/fs/cgroup/memory.max"))
    cores = _cpu_limit(read("/proc/cpuinfo"), read("/sys/fs/cgroup/cpu.max"))
    return Host(memory, cores)


def _memory_limit(meminfo: str, cgroup_max: str) -> int | None:
    """MemTotal, or the cgroup's (v2) limit when lower."""
    total = next(
        (
            int(line.split()[1]) * 1024
            for line in meminfo.splitlines()
            if line.startswith("MemTotal:")
        ),
        None,
    )
    limit = cgroup_max.strip()
    if total is not None and limit.isdigit():
        return min(total, int(limit))
    return total


def _cpu_limit(cpuinfo: str, cgroup_max: str) -> int | None:
    """Processors, or the cgroup's (v2) quota when lower."""
    count = sum(line.startswith("processor") for line in cpuinfo.splitlines()) or None
    quota, _, period = cgroup_max.strip().partition(" ")
    if count is not None and quota.isdigit() and period.isdigit():
        return min(count, max(1, -(-int(quota) // int(period))))
    return count
