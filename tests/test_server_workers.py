"""Worker processes of a real ``kaartlaag serve`` (granian): memory ceiling, restart of a dead worker, SIGTERM.

One request must never take the server down: a request beyond the worker's
memory ceiling fails alone (503) while the worker and the others keep serving;
a worker that dies anyway (killed, as the kernel's OOM killer would) is started
again by the master while the other one serves; and SIGTERM stops the server
within a few seconds even in the middle of a long request.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from services.app import SHUTDOWN_GRACE_S
from tests.conftest import ORIGIN
from tests.test_server_support import SERVER_START_S, catalog_copy, free_port, stop_process

#: Memory ceiling (MiB) of the workers in these tests: a worker at rest uses about 450 MiB of data segment
#: (with the compiled kernels and dask's thread pool, loaded before the ceiling applies), statistics at
#: 4096 x 4096 cells need more than 500 MiB on top.
CEILING_MB = 650
HEAVY = "/titiler/statistics?layer=hoogte&width=4096&height=4096"
#: Seconds the master waits before starting a worker again (granian's respawn interval) plus start-up.
RESPAWN_S = 30


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return catalog_copy(tmp_path_factory, "workers")


def _serve(catalog_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    log = (catalog_dir.parent / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--catalog", str(catalog_dir), "--port", str(port),
         "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200 and len(_workers(proc)) == 2:
                return proc
        except httpx.TransportError:
            pass
        assert proc.poll() is None, (catalog_dir.parent / f"serve-{port}.log").read_text()[-2000:]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start")


def _workers(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return [c for c in psutil.Process(proc.pid).children() if c.is_running()]


@pytest.fixture(scope="module")
def server(catalog_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = _serve(catalog_dir, port, KAARTLAAG_LIMIT_WORKER_MEMORY_MB=str(CEILING_MB))
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop_process(proc)


@pytest.mark.slow
def test_a_request_beyond_the_memory_ceiling_fails_alone(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, proc = server
    before = {w.pid for w in _workers(proc)}
    served: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            while not stop.is_set():
                served.append(http.get("/layers/hoogte").status_code)

    poller = threading.Thread(target=keep_asking)
    poller.start()
    try:
        heavy = [httpx.get(f"{base}{HEAVY}", timeout=60) for _ in range(3)]
    finally:
        stop.set()
        poller.join()
    for resp in heavy:
        assert resp.status_code == 503 and "memory" in resp.json()["detail"]
        assert resp.headers["retry-after"]
    assert served and set(served) == {200}  # the other requests went on being served
    assert {w.pid for w in _workers(proc)} == before  # no worker died
    assert httpx.get(f"{base}/layers/hoogte", timeout=10).status_code == 200


@pytest.mark.slow
def test_a_killed_worker_is_started_again_while_the_other_serves(server: tuple[str, subprocess.Popen[str]]) -> None:
    base, proc = server
    victim, survivor = _workers(proc)
    victim.send_signal(signal.SIGKILL)
    statuses = []
    with httpx.Client(base_url=base, timeout=10) as http:
        deadline = time.monotonic() + RESPAWN_S
        while time.monotonic() < deadline:
            statuses.append(http.get("/healthz").status_code)
            pids = {w.pid for w in _workers(proc)}
            if len(pids) == 2 and victim.pid not in pids:
                break
            time.sleep(0.05)
    pids = {w.pid for w in _workers(proc)}
    assert len(pids) == 2 and victim.pid not in pids and survivor.pid in pids, pids
    assert statuses and set(statuses) == {200}
    assert proc.poll() is None


@pytest.mark.slow
def test_sigterm_stops_the_server_within_seconds_mid_request(catalog_dir: Path) -> None:
    port = free_port()
    proc = _serve(catalog_dir, port, KAARTLAAG_LIMIT_REQUEST_BUDGET_S="120")
    x0, y0 = ORIGIN[0] + 20, ORIGIN[1] + 20
    square = [[[x0, y0], [x0 + 100, y0], [x0 + 100, y0 + 100], [x0, y0 + 100], [x0, y0]]]
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": square}}
    body = json.dumps({"type": "FeatureCollection", "features": [feature] * 50})
    # 50 polygons each read at 2048 x 2048 cells: tens of seconds of work on one core.
    url = f"http://127.0.0.1:{port}/titiler/statistics?layer=hoogte&coord_crs=EPSG:28992&width=2048&height=2048"
    answers: list[int] = []

    def long_request() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server goes away mid-request
            resp = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=120)
            answers.append(resp.status_code)

    client = threading.Thread(target=long_request, daemon=True)
    try:
        client.start()
        time.sleep(1.5)  # the request is being worked on
        busy = [w.cpu_percent(interval=0.5) for w in _workers(proc)]
        assert max(busy) > 0 and not answers, f"the long request is not being worked on ({answers})"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=SHUTDOWN_GRACE_S + 10)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server ignored SIGTERM") from None
        assert time.monotonic() - started < SHUTDOWN_GRACE_S + 5
    finally:
        if proc.poll() is None:
            stop_process(proc)
