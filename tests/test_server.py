"""The served catalog: pages, metadata, vector tiles, downloads; a real uvicorn process."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from layers.config import load_config
from layers.engine import build
from services.app import create_app
from services.settings import ServerSettings
from tests.conftest import ORIGIN, SIZE_M


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import write_small_region

    config = write_small_region(tmp_path_factory.mktemp("served") / "region")
    build(load_config(config), console=Console(quiet=True))
    return config.parent / "catalog"


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=catalog_dir)))


def _centre_tile(zoom: int) -> morecantile.Tile:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(28992, 4326, always_xy=True).transform(
        ORIGIN[0] + SIZE_M / 4, ORIGIN[1] + SIZE_M * 3 / 4
    )
    return morecantile.tms.get("WebMercatorQuad").tile(lon, lat, zoom)


def test_layers_and_metadata(client: TestClient) -> None:
    layers = client.get("/layers").json()
    assert {layer["id"] for layer in layers} == {"landcover", "basemap"}
    meta = client.get("/layers/landcover").json()
    assert meta["title"]["nl"] == "Bodembedekking"
    assert meta["parameter_info"]["raster_resolution_m"]["unit"] == "m"
    assert "/tmp" not in client.get("/layers/landcover").text  # no file-system paths in answers
    assert client.get("/layers/nope").status_code == 404
    assert client.get("/healthz").json() == {"status": "ok", "layers": 2}
    page = client.get("/").text
    assert "Bodembedekking" in page and "Basiskaart" in page


def test_vector_tile_holds_the_building(client: TestClient) -> None:
    tile = _centre_tile(16)
    resp = client.get(f"/layers/basemap/tiles/{tile.z}/{tile.x}/{tile.y}.mvt")
    assert resp.status_code == 200
    # TestClient (httpx) decodes gzip per Content-Encoding; decode the MVT itself.
    decoded = mapbox_vector_tile.decode(resp.content)
    assert decoded["buildings"]["features"][0]["properties"]["id"] == "0000100000000001"
    empty = client.get("/layers/basemap/tiles/16/0/0.mvt")
    assert empty.status_code == 204
    assert client.get("/layers/basemap/tiles/3/9/0.mvt").status_code == 404  # x outside the matrix
    assert client.get("/layers/basemap/tiles/99/0/0.mvt").status_code == 422


def test_tilejson_and_range_requests(client: TestClient) -> None:
    tj = client.get("/layers/basemap/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0"
    # The hand-built region has no paving besides roads, so no "paved" tile layer.
    assert {v["id"] for v in tj["vector_layers"]} == {"buildings", "roads", "green", "water"}
    part = client.get("/layers/basemap.pmtiles", headers={"Range": "bytes=0-6"})
    assert part.status_code == 206 and part.content == b"PMTiles"


def test_downloads_and_traversal(client: TestClient) -> None:
    meta = client.get("/layers/landcover").json()
    url = meta["links"]["downloads"]["landcover.tif"]
    resp = client.get(url.replace("http://testserver", ""))
    assert resp.status_code == 200 and resp.content[:2] in (b"II", b"MM")
    for bad in ("/layers/landcover/download/..%2Fcatalog.json", "/layers/..%2F..%2Fetc/download/passwd",
                "/layers/landcover/download/%2Fetc%2Fpasswd"):
        assert client.get(bad).status_code in (404, 422), bad


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_server_process_serves_tiles(catalog_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--catalog", str(catalog_dir), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)
        tile = _centre_tile(16)
        # The archive's gzip is passed through as is, marked with Content-Encoding.
        with httpx.stream("GET", f"{base}/layers/basemap/tiles/{tile.z}/{tile.x}/{tile.y}.mvt") as resp:
            raw = b"".join(resp.iter_raw())
            assert resp.headers.get("content-encoding") == "gzip"
        assert "buildings" in mapbox_vector_tile.decode(gzip.decompress(raw))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
