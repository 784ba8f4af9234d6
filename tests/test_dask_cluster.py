"""Raster work on a real Dask cluster gives the same pixels as a local run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import rasterio
from rich.console import Console

from layers import catalog as cat
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from tests.conftest import write_small_region


def _landcover_pixels(config: Path) -> np.ndarray:
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["landcover"]
    with rasterio.open(root / entry.file("landcover", "raster").path) as ds:
        return ds.read(1)


def test_scheduler_build_matches_local(tmp_path: Path, dask_scheduler: str) -> None:
    local_cfg = write_small_region(tmp_path / "local")
    remote_cfg = write_small_region(tmp_path / "remote")
    # Small chunks so the raster really is split over the workers.
    ctx = BuildContext(workers=2, chunk_size=64)
    build(load_config(local_cfg), ["landcover"], ctx=ctx, console=Console(quiet=True))

    remote_ctx = BuildContext(workers=2, chunk_size=64, scheduler=dask_scheduler)
    build(load_config(remote_cfg), ["landcover"], ctx=remote_ctx, console=Console(quiet=True))
    local, remote = _landcover_pixels(local_cfg), _landcover_pixels(remote_cfg)
    assert local.shape == (200, 200)
    assert hashlib.sha256(local.tobytes()).digest() == hashlib.sha256(remote.tobytes()).digest()
