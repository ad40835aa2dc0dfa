"""Which process builds a version or runs a workflow (its builder id), and whether a recorded
builder has died.

A builder id is ``host/token:pid``. The token names the kernel boot, the process's PID and
network namespaces and its start time, because a host name and a pid alone do not name a
process: containers on the host network share the host's name, and each has its own PID
namespace, so two worker containers may both run as pid 7. A recorded builder is judged dead:

- same boot and PID namespace: when its pid is gone, or belongs to a process started later;
- same boot and network namespace, another PID namespace (another container on the host
  network): each process holds an abstract Unix socket named after its id while it lives, and
  the kernel frees the name when the process dies, so a refused connection means dead;
- anywhere else (another machine, a container with its own network): never from here; a run's
  heartbeat decides (``fixative.runner.records.STALE_AFTER``), and a process that takes a run
  over from a silent owner notes the owner dead (``note_dead``), so the version build that owner
  left is recovered too instead of blocking the next one.

Ids without a token (``host:pid``: older rows, or systems without ``/proc``) are judged as before:
dead when written on this host under a pid that no longer exists.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from dataclasses import dataclass, replace
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
BOOT_CHARS = 12  # 48 random bits of the boot id: enough to tell boots and machines apart
TOKENED = re.compile(
    r"^(?P<host>.*)/(?P<boot>[0-9a-f]{12})\.(?P<pid_ns>\d+)\.(?P<net_ns>\d+)\.(?P<started>\d+)"
    r":(?P<pid>\d+)$"
)


@dataclass(frozen=True)
class ProcessIdentity:
    """One process on one boot of one kernel. ``net_ns`` is 0 when the process holds no liveness
    socket (then only its own PID namespace can tell that it died)."""

    host: str
    boot: str
    pid_ns: int
    net_ns: int
    started: int  # clock ticks after boot (field 22 of /proc/PID/stat)
    pid: int

    def text(self) -> str:
        token = f"{self.boot}.{self.pid_ns}.{self.net_ns}.{self.started}"
        return f"{self.host}/{token}:{self.pid}"

    @property
    def socket_name(self) -> bytes:
        """The abstract socket address held while the process lives (leading NUL: no file)."""
        return f"\0fixative-builder/{self.boot}.{self.pid_ns}.{self.started}.{self.pid}".encode()


@dataclass(frozen=True)
class _Held:
    identity: ProcessIdentity | None
    net_ns: int  # this process's network namespace, even when it holds no socket
    fd: int | None  # the liveness socket, open until the process ends
    own_proc: bool  # /proc shows this PID namespace (not so after a bare unshare)


_lock = threading.Lock()
_held: dict[int, _Held] = {}  # by pid, so a forked child makes its own
_noted_dead: set[str] = set()  # builders this process took a run over from


def parse_builder(builder: str) -> ProcessIdentity | None:
    """The identity in a tokened builder id; None for ``host:pid`` ids."""
    match = TOKENED.fullmatch(builder)
    if match is None:
        return None
    return ProcessIdentity(
        match["host"],
        match["boot"],
        int(match["pid_ns"]),
        int(match["net_ns"]),
        int(match["started"]),
        int(match["pid"]),
    )


def builder_id() -> str:
    """This process as a builder: ``host/token:pid``, or ``host:pid`` without ``/proc``."""
    me = _current().identity
    return me.text() if me is not None else f"{socket.gethostname()}:{os.getpid()}"


def note_dead(builder: str) -> None:
    """Remember that ``builder`` is dead: this process took over its run (the run's heartbeat
    stopped). A builder id names one process, so it stays dead."""
    with _lock:
        _noted_dead.add(builder)


def builder_is_dead(builder: str | None) -> bool:
    """True only when this process can tell for sure that ``builder`` no longer runs, or has
    taken a run over from it."""
    if not builder:
        return False
    with _lock:
        if builder in _noted_dead:
            return True
    other = parse_builder(builder)
    if other is None:
        return _untokened_is_dead(builder)
    held = _current()
    me = held.identity
    if me is None or other.boot != me.boot:
        return False
    if other.pid_ns == me.pid_ns:
        if other.pid == me.pid:
            return other.started != me.started  # an earlier process under this pid
        return _pid_is_gone(other.pid, other.started if held.own_proc else None)
    if other.net_ns != 0 and other.net_ns == held.net_ns:
        return _socket_is_gone(other.socket_name)
    return False


def _current() -> _Held:
    pid = os.getpid()
    with _lock:
        held = _held.get(pid)
        if held is None:
            for inherited in _held.values():  # a fork's copy of the parent's socket
                if inherited.fd is not None:
                    os.close(inherited.fd)  # this process's descriptor only
            _held.clear()
            held = _held[pid] = _establish(pid)
        return held


def _establish(pid: int) -> _Held:
    try:
        boot = BOOT_ID.read_text().strip().replace("-", "")[:BOOT_CHARS]
        pid_ns = os.stat("/proc/self/ns/pid").st_ino
        net_ns = os.stat("/proc/self/ns/net").st_ino
        started = _start_ticks(Path("/proc/self/stat"))
        own_proc = os.readlink("/proc/self") == str(pid)
    except (OSError, ValueError, IndexError):
        return _Held(None, 0, None, own_proc=False)
    if len(boot) != BOOT_CHARS:
        return _Held(None, 0, None, own_proc=False)
    identity = ProcessIdentity(socket.gethostname(), boot, pid_ns, 0, started, pid)
    fd = _liveness_socket(identity.socket_name)
    if fd is None:
        return _Held(identity, net_ns, None, own_proc)
    return _Held(replace(identity, net_ns=net_ns), net_ns, fd, own_proc)


def _liveness_socket(name: bytes) -> int | None:
    """A bound socket's descriptor, kept (never closed) for the rest of the process's life."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(name)
    except OSError:
        sock.close()
        return None
    return sock.detach()


def _socket_is_gone(name: bytes) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(name)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
    return False


def _start_ticks(stat: Path) -> int:
    fields = stat.read_text().rpartition(")")[2].split()
    return int(fields[19])  # field 22 of the whole line; fields[0] is field 3 (state)


def _pid_is_gone(pid: int, started: int | None) -> bool:
    """Gone, or (when ``started`` is known) taken by a process that started later."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    if started is None:
        return False
    try:
        return _start_ticks(Path(f"/proc/{pid}/stat")) != started  # the pid was reused
    except FileNotFoundError:
        return True
    except (OSError, ValueError, IndexError):
        return False


def _untokened_is_dead(builder: str) -> bool:
    """``host:pid``: dead when written on this host under a pid that no longer exists."""
    host, _, pid_text = builder.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
