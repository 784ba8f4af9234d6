"""Server processes for the tile benchmark: start on a free loopback port, wait until ready, stop; CPU and memory.

``server`` is the one way ``bench_tiles`` starts kaartlaag, stock TiTiler and nginx:
it takes a function building the command line for a port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT_S = 60
#: Idle test: poll interval (s) and the CPU share below which the servers count as idle.
IDLE_POLL_S = 0.5
IDLE_CPU_SHARE = 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up within {START_TIMEOUT_S} s")


@contextmanager
def server(command: Callable[[int], list[str]], ready_path: str, log: Path) -> Iterator[tuple[str, int]]:
    """Start a server on a free loopback port and wait until ``ready_path`` answers; yield (base URL, pid).

    ``command`` builds the server's command line for the port. The server runs in its own
    process group, stopped (with its workers) afterwards.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(command(port), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_ready(f"{base}{ready_path}", proc)
            yield base, proc.pid
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def nginx_config(workdir: Path, static: Path, port: int, workers: int) -> Path:
    conf = workdir / "nginx.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            worker_processes {workers};
            daemon off;
            pid {workdir}/nginx.pid;
            error_log {workdir}/nginx-error.log warn;
            user root;
            events {{ worker_connections 1024; }}
            http {{
              access_log off;
              sendfile on;
              tcp_nopush on;
              keepalive_requests 100000;
              open_file_cache max=10000 inactive=60s;
              client_body_temp_path {workdir}/nginx-tmp;
              types {{ application/vnd.mapbox-vector-tile mvt; }}
              server {{
                listen 127.0.0.1:{port};
                location /layers/basemap/tiles/ {{
                  alias {static}/;
                  add_header Content-Encoding gzip;
                }}
              }}
            }}
            """
        )
    )
    return conf


def kaartlaag_command(root: Path, workers: int) -> Callable[[int], list[str]]:
    """``kaartlaag serve`` of the catalog ``root`` (granian, ``workers`` processes), for a port."""

    def command(port: int) -> list[str]:
        serve = ["serve", "--catalog", str(root), "--port", str(port), "--workers", str(workers)]
        return [sys.executable, "-m", "services.cli", *serve]

    return command


def titiler_command(workers: int) -> Callable[[int], list[str]]:
    """Stock ``titiler.application`` under uvicorn with ``workers`` processes, for a port."""

    def command(port: int) -> list[str]:
        options = ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
        return [sys.executable, "-m", "uvicorn", "titiler.application.main:app", *options]

    return command


def nginx_command(workdir: Path, static: Path, workers: int) -> Callable[[int], list[str]]:
    """nginx serving the static tiles under ``static``, for a port."""

    def command(port: int) -> list[str]:
        return ["nginx", "-c", str(nginx_config(workdir, static, port, workers))]

    return command


def _tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn/granian workers)."""
    pids, i = [pid], 0
    while i < len(pids):
        children = Path(f"/proc/{pids[i]}/task/{pids[i]}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        i += 1
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system, s) used so far by the processes."""
    total = 0
    for pid in pids:
        for p in _tree(pid):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def wait_idle(pids: list[int], limit_s: float = 60.0) -> None:
    """Wait until the servers stop working off requests of the last run (TiTiler keeps rendering queued
    tiles after wrk has gone), so that the next contender does not share the cores with it."""
    deadline = time.monotonic() + limit_s
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(IDLE_POLL_S)
        now = cpu_seconds(pids)
        if now - last < IDLE_POLL_S * IDLE_CPU_SHARE:
            return
        last = now


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and its workers."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024
