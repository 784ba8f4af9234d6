"""Helpers shared by the server tests: a built catalog, extra raster layers, a real uvicorn process, PNG decoding."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import morecantile
import numpy as np
import pytest
from affine import Affine
from PIL import Image
from pyproj import CRS
from rich.console import Console

from geo.raster import Raster
from layers import catalog as cat
from layers.base import LayerDef, LayerResult
from layers.config import load_config
from layers.engine import build
from layers.publish import write_result
from tests.conftest import ORIGIN, SIZE_M, write_small_region

#: Cell size of the continuous test raster (m) and its value gradient (m per cell, along x).
HEIGHT_CELL_M = 1.0
HEIGHT_PER_CELL = 0.05
SERVER_START_S = 60

_BUILT: dict[str, Path] = {}


def built_catalog(base: Path) -> Path:
    """The hand-built region built once per test session (landcover + basemap), plus a continuous raster layer.

    Returns the catalog folder. Tests that change the catalog must work on a copy.
    """
    if "catalog" not in _BUILT:
        config = write_small_region(base / "region")
        build(load_config(config), ["landcover", "basemap"], console=Console(quiet=True))
        root = config.parent / "catalog"
        add_raster_layer(root, "hoogte", height_raster(), title="Hoogte")
        _BUILT["catalog"] = root
    return _BUILT["catalog"]


def catalog_copy(factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of the session's built catalog, for a test module that serves (or changes) it."""
    copy = factory.mktemp(name) / "catalog"
    shutil.copytree(built_catalog(factory.mktemp(f"{name}-src")), copy)
    return copy


def height_raster() -> Raster:
    """A 200 x 200 m float raster over the hand-built region: value = 0.05 m x column (0 to 9.95 m)."""
    cols = int(SIZE_M / HEIGHT_CELL_M)
    data = np.tile(np.arange(cols, dtype="float32") * HEIGHT_PER_CELL, (cols, 1))[None]
    transform = Affine(HEIGHT_CELL_M, 0, ORIGIN[0], 0, -HEIGHT_CELL_M, ORIGIN[1] + SIZE_M)
    return Raster(data, CRS.from_epsg(28992), transform, nodata=float("nan"), band_names=("height",), units=("m",))


def height_at(x: float) -> float:
    """Value of ``height_raster`` at RD easting ``x``."""
    return int((x - ORIGIN[0]) // HEIGHT_CELL_M) * HEIGHT_PER_CELL


def add_raster_layer(
    root: Path, layer_id: str, raster: Raster, *, title: str, access: str = "public", style_id: str | None = None
) -> cat.LayerEntry:
    """Publish a raster-only layer into a catalog the way the engine does (staging, rename, catalog.json)."""
    layer = LayerDef(
        id=layer_id,
        title={"nl": title, "en": title},
        description={"nl": f"Testlaag {title}", "en": f"Test layer {title}"},
        kind="raster",
        inputs=(),
        params=(),
        outputs=(),
        style_id=style_id or layer_id,
        code_version="1",
        compute=lambda *_: LayerResult(),
    )
    version = f"20260101T000000Z-{abs(hash((layer_id, time.time_ns()))) % 16**8:08x}"
    rel = f"{layer_id}/{version}"
    staged = cat.new_staging_dir(root, layer_id)
    files = write_result(layer, LayerResult(rasters={layer_id: raster}), staged, rel, "test")
    catalog = cat.read_catalog(root)
    previous = catalog.layers.get(layer_id)
    bounds = catalog.layers["landcover"].bounds
    entry = cat.LayerEntry(
        id=layer_id,
        title=dict(layer.title),
        description=dict(layer.description),
        kind="raster",
        version=version,
        built_at="2026-01-01T00:00:00Z",
        key=version,
        code_version="1",
        inputs={},
        parameters={},
        bounds=bounds,
        crs="EPSG:28992",
        access=access,  # type: ignore[arg-type]
        style_id=layer.style_id,
        minzoom=12,
        maxzoom=18,
        files=files,  # type: ignore[arg-type]
        versions=[
            *(previous.versions if previous else []),
            cat.VersionEntry(version=version, built_at="2026-01-01T00:00:00Z", key=version, path=rel),
        ],
    )
    cat.write_json(staged / cat.METADATA_FILE, entry.model_dump(mode="json", exclude={"versions"}))
    cat.move_into_place(root, staged, layer_id, version)
    catalog.layers[layer_id] = entry
    cat.write_catalog(root, catalog)
    return entry


def decode_png(data: bytes) -> np.ndarray:
    """A PNG as an RGBA array (rows, cols, 4)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` -> (r, g, b)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def pixel_in_tile(tms: morecantile.TileMatrixSet, x: float, y: float, zoom: int) -> tuple[morecantile.Tile, int, int]:
    """The tile of ``tms`` at ``zoom`` holding the point (x, y) in the TMS CRS, and the point's row and column in it."""
    from tiles.tms import tile_at

    tile = tile_at(tms, x, y, zoom)
    bounds = tms.xy_bounds(tile)
    cell = tms.matrix(zoom).cellSize
    return tile, int((bounds.top - y) // cell), int((x - bounds.left) // cell)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(catalog_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``kaartlaag serve`` as a real uvicorn process on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = free_port()
    log_path = catalog_dir.parent / f"server-{port}.log"  # inside the test's tmp_path
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--catalog", str(catalog_dir), "--port", str(port), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        stop_process(proc)
        log.close()


def stop_process(proc: subprocess.Popen[str], timeout_s: float = 20.0) -> None:
    """Stop a server process: SIGTERM, then SIGKILL if it is still there after ``timeout_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
