"""Raster work on a real Dask cluster gives the same pixels as a local run."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from rich.console import Console

from layers import catalog as cat
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from tests.conftest import write_small_region

DASK = Path(sys.executable).parent / "dask"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _landcover_pixels(config: Path) -> np.ndarray:
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["landcover"]
    with rasterio.open(root / entry.file("landcover", "raster").path) as ds:
        return ds.read(1)


def test_scheduler_build_matches_local(tmp_path: Path) -> None:
    local_cfg = write_small_region(tmp_path / "local")
    remote_cfg = write_small_region(tmp_path / "remote")
    # Small chunks so the raster really is split over the workers.
    ctx = BuildContext(workers=2, chunk_size=64)
    build(load_config(local_cfg), ["landcover"], ctx=ctx, console=Console(quiet=True))

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(1)
        for _ in range(2):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--local-directory", str(tmp_path / "dask")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        remote_ctx = BuildContext(workers=2, chunk_size=64, scheduler=address)
        build(load_config(remote_cfg), ["landcover"], ctx=remote_ctx, console=Console(quiet=True))
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    local, remote = _landcover_pixels(local_cfg), _landcover_pixels(remote_cfg)
    assert local.shape == (200, 200)
    assert hashlib.sha256(local.tobytes()).digest() == hashlib.sha256(remote.tobytes()).digest()
