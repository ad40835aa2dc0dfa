"""Driving deploy/compose.yaml for the deploy test: the compose file as a user runs it, plus
deploy/compose.hostnet.yaml (every service on the host's network, listeners on free loopback
ports), rendered once into one file; docker and docker-compose as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
PROJECT = "fixative-deploy-test"
FIXATIVE_SERVICES = ("migrate", "api", "worker", "beat")


def render(out: Path, env: Mapping[str, str]) -> Path:
    """compose.yaml with compose.hostnet.yaml over it, as one file. Ports published by
    compose.yaml go: they mean nothing on the host's network, and docker-compose 1.x refuses
    them there (Docker itself would only discard them)."""
    rendered = subprocess.run(
        [
            compose_binary(),
            "--project-name",
            PROJECT,
            "--file",
            str(DEPLOY_DIR / "compose.yaml"),
            "--file",
            str(DEPLOY_DIR / "compose.hostnet.yaml"),
            "config",
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    config = yaml.safe_load(rendered)
    for name, service in config["services"].items():
        assert service.get("network_mode") == "host", f"{name} is not on the host's network"
        service.pop("ports", None)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def compose_binary() -> str:
    return os.environ.get("DT_DOCKER_COMPOSE", "docker-compose")


def docker_binary() -> str:
    return os.environ.get("DT_DOCKER", "docker")


def wait_for(
    condition: Callable[[], Any], timeout_s: float, what: str, every_s: float = 1.0
) -> Any:
    """``condition()``'s first truthy value, polled until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


@dataclass
class Stack:
    compose_file: Path
    timings: dict[str, float] = field(default_factory=dict)

    def compose(self, *args: str, timeout_s: float = 600) -> str:
        command = [compose_binary(), "--project-name", PROJECT, "--file", str(self.compose_file)]
        return _run([*command, *args], timeout_s)

    def docker(self, *args: str, timeout_s: float = 120) -> str:
        return _run([docker_binary(), *args], timeout_s)

    def fixative(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """``fixative ARGS`` in the API's container: its settings, its data volume."""
        options = [f"--env={k}={v}" for k, v in (env or {}).items()]
        return self.compose("exec", "-T", *options, "api", "fixative", *args)

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def inspect(self, container: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.docker("inspect", container))
        return found[0]

    def state(self, service: str) -> list[dict[str, Any]]:
        return [self.inspect(c)["State"] for c in self.containers(service)]

    def healthy(self, services: Sequence[str]) -> bool:
        for service in services:
            states = self.state(service)
            if not states or any(s.get("Health", {}).get("Status") != "healthy" for s in states):
                return False
        return True

    def running(self, service: str, count: int = 1) -> bool:
        states = self.state(service)
        return len(states) == count and all(s["Running"] and not s["Restarting"] for s in states)

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service)

    def pid_namespace(self, container: str) -> int:
        """The inode of the container's PID namespace, as a builder id names it."""
        return os.stat(f"/proc/{self.inspect(container)['State']['Pid']}/ns/pid").st_ino


def _run(command: list[str], timeout_s: float) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def process_in_namespace(pid_ns: int, pid: int) -> int | None:
    """The host pid of the process that is ``pid`` inside PID namespace ``pid_ns``, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry / "ns" / "pid").st_ino != pid_ns:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == str(pid):
                return int(entry.name)
    return None
