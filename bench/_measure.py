"""Run a command and report wall time and peak resident memory of its process tree."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import psutil

POLL_S = 0.05


@dataclass
class Measurement:
    """Wall time (s) and peak RSS (MiB) of one command."""

    seconds: float
    peak_mib: float
    returncode: int


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run ``cmd``; sample the RSS of it and its children every ``POLL_S`` seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
        except psutil.Error:
            rss = 0
        peak = max(peak, rss)
        time.sleep(POLL_S)
    return Measurement(time.perf_counter() - start, peak / 2**20, proc.returncode)
