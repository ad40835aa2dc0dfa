"""Stopping the processes tests start (servers, Celery workers) with all their children."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], grace_s: float = 20
) -> None:
    """SIGTERM to the process group ``process`` leads (started with ``start_new_session``), then
    SIGKILL after ``grace_s`` seconds; returns once it has exited."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
