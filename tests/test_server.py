"""The served catalog: pages, metadata, vector tiles, downloads, caching headers, CORS; a real uvicorn process."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.settings import ServerSettings
from tests.conftest import ORIGIN, SIZE_M
from tests.test_server_support import built_catalog, running_server


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_catalog(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    settings = ServerSettings(catalog=catalog_dir, cors_origins=["https://geo.example.nl"], max_age=30)
    return TestClient(create_app(settings))


def _centre_tile(zoom: int) -> morecantile.Tile:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(28992, 4326, always_xy=True).transform(
        ORIGIN[0] + SIZE_M / 4, ORIGIN[1] + SIZE_M * 3 / 4
    )
    return morecantile.tms.get("WebMercatorQuad").tile(lon, lat, zoom)


def test_layers_and_metadata(client: TestClient) -> None:
    layers = client.get("/layers").json()
    assert {layer["id"] for layer in layers} == {"landcover", "basemap", "hoogte"}
    meta = client.get("/layers/landcover").json()
    assert meta["title"]["nl"] == "Bodembedekking"
    assert meta["parameter_info"]["raster_resolution_m"]["unit"] == "m"
    assert "/tmp" not in client.get("/layers/landcover").text  # no file-system paths in answers
    assert client.get("/layers/nope").status_code == 404
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["layers"] == 3
    assert (
        client.get("/docs").status_code == 200 and "/layers/{layer_id}" in client.get("/openapi.json").json()["paths"]
    )


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
    for bad in (
        "/layers/landcover/download/..%2Fcatalog.json",
        "/layers/..%2F..%2Fetc/download/passwd",
        "/layers/landcover/download/%2Fetc%2Fpasswd",
    ):
        assert client.get(bad).status_code in (404, 422), bad


def test_real_server_process_serves_tiles(catalog_dir: Path) -> None:
    with running_server(catalog_dir) as base:
        tile = _centre_tile(16)
        # The archive's gzip is passed through as is, marked with Content-Encoding.
        with httpx.stream("GET", f"{base}/layers/basemap/tiles/{tile.z}/{tile.x}/{tile.y}.mvt") as resp:
            raw = b"".join(resp.iter_raw())
            assert resp.headers.get("content-encoding") == "gzip"
        assert "buildings" in mapbox_vector_tile.decode(gzip.decompress(raw))
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_overview_page_lists_layers_with_preview_legend_and_urls(client: TestClient, catalog_dir: Path) -> None:
    page = client.get("/").text
    assert '<html lang="nl">' in page
    for title in ("Bodembedekking", "Basiskaart", "Hoogte"):
        assert title in page
    for url in (
        "/layers/landcover/preview.png",
        "/layers/landcover/legend.png",
        "/wmts/WMTSCapabilities.xml",
        "/layers/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png",
        "/layers/landcover/tiles/NetherlandsRDNewQuad/{z}/{x}/{y}.png",
        "/layers/landcover/tilejson.json",
        "/layers/landcover/style.json",
        "/layers/landcover/export.gpkg",
        "/layers/landcover/download/landcover.parquet",
        "/layers/landcover/download/landcover.tif",
    ):
        assert url in page, url
    assert "Versie" in page and "bijgewerkt" in page and "Licentie" in page
    assert str(catalog_dir) not in page and "/tmp/" not in page
    gpkg = client.get("/layers/landcover/export.gpkg")
    assert gpkg.status_code == 200 and gpkg.content[:16] == b"SQLite format 3\x00"


def test_unversioned_urls_have_short_max_age_and_etag(client: TestClient) -> None:
    tile = _centre_tile(16)
    for url in (
        f"/layers/basemap/tiles/{tile.z}/{tile.x}/{tile.y}.mvt",
        "/layers/basemap/tilejson.json",
        f"/layers/landcover/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png",
        "/layers",
        "/layers/landcover",
        "/layers/landcover/style.json",
        "/layers/landcover/legend.png",
        "/wmts/WMTSCapabilities.xml",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["cache-control"] == "public, max-age=30", url
        etag = resp.headers["etag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, url
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200, url


def test_versioned_urls_are_immutable(client: TestClient) -> None:
    tj = client.get("/layers/basemap/tilejson.json").json()
    version = client.get("/layers/basemap").json()["version"]
    assert f"/layers/basemap/v/{version}/tiles/" in tj["tiles"][0]
    tile = _centre_tile(16)
    for url in (
        f"/layers/basemap/v/{version}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt",
        f"/layers/basemap/v/{version}",
        f"/layers/basemap/v/{version}/download/buildings.parquet",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable", url
    assert client.get("/layers/basemap/v/20000101T000000Z-00000000/tiles/16/0/0.mvt").status_code == 404


def test_cors_origins_are_configurable(client: TestClient) -> None:
    tile = _centre_tile(16)
    url = f"/layers/basemap/tiles/{tile.z}/{tile.x}/{tile.y}.mvt"
    allowed = client.get(url, headers={"Origin": "https://geo.example.nl"})
    assert allowed.headers["access-control-allow-origin"] == "https://geo.example.nl"
    assert "access-control-allow-origin" not in client.get(url, headers={"Origin": "https://evil.example"}).headers
    preflight = client.options(
        "/layers",
        headers={
            "Origin": "https://geo.example.nl",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert preflight.status_code == 200 and "Authorization" in preflight.headers["access-control-allow-headers"]


def test_fast_path_and_fastapi_routes_answer_alike(client: TestClient) -> None:
    # A query string sends the same tile through FastAPI's route instead of the fast path.
    tile = _centre_tile(16)
    for url in (
        f"/layers/basemap/tiles/{tile.z}/{tile.x}/{tile.y}.mvt",
        f"/layers/landcover/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png",
        "/layers/basemap/tiles/16/0/0.mvt",
        "/layers/nope/tiles/1/0/0.mvt",
    ):
        fast, routed = client.get(url), client.get(url + "?via=fastapi")
        assert fast.status_code == routed.status_code, url
        assert fast.content == routed.content or fast.json() == routed.json(), url
        for header in ("etag", "cache-control", "content-type"):
            assert fast.headers.get(header) == routed.headers.get(header), (url, header)
