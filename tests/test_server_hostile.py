"""Hostile requests, as an attacker tried them on the demo catalog: each one answered 4xx, bounded in time and size.

Every request of issue 9's list is a regression test with the status and the
parameter its message must name. A generated sweep then sends a list of hostile
values to every query parameter of every TiTiler route, and asserts no 5xx, no
answer beyond the size limits and none slower than the time budget. Caching
headers follow a layer's access now, also on kept versions, and absolute URLs
never come from an untrusted ``Host``.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from layers import catalog as cat
from services.access import create_key
from services.app import create_app
from services.limits import RequestLimits
from services.settings import ServerSettings
from tests.conftest import ORIGIN
from tests.test_server_support import add_raster_layer, catalog_copy, height_raster

LIMITS = RequestLimits()
#: Largest answer body any request may produce: an RGBA image of the largest allowed side.
MAX_BODY = LIMITS.max_image_size**2 * 4
#: A tile of the hand-built region at zoom 16 (WebMercatorQuad) and a point inside it.
TILE = "/titiler/tiles/WebMercatorQuad/16/33868/21636.png"
POINT = "/titiler/point/6.0445,52.0374"
#: A 100 x 100 m square inside the region, in RD New.
X0, Y0 = ORIGIN[0] + 20, ORIGIN[1] + 20
SQUARE = [[[X0, Y0], [X0 + 100, Y0], [X0 + 100, Y0 + 100], [X0, Y0 + 100], [X0, Y0]]]


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built catalog plus an internal raster layer ``geheim``."""
    root = catalog_copy(tmp_path_factory, "hostile")
    add_raster_layer(root, "geheim", height_raster(), title="Geheim", access="internal")
    return root


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=catalog_dir)), raise_server_exceptions=False)


#: (url, expected status, text the message must contain), from the attacker's list.
HOSTILE_GETS = [
    ("/titiler/statistics?layer=landcover&histogram_bins=100000000", 413, "histogram_bins"),
    (f"{TILE}?layer=hoogte&tilesize=%2B100000", 413, "tilesize"),
    (f"{TILE}?layer=hoogte&tilesize=100000.0", 413, "tilesize"),
    (f"{TILE}?layer=hoogte&tilesize=4097.0", 413, "tilesize"),
    (f"{TILE}?layer=hoogte&bidx=0", 400, "bidx"),
    (f"{TILE}?layer=hoogte&bidx=-1", 400, "bidx"),
    (f"{TILE}?layer=hoogte&bidx=2", 400, "bidx"),
    (f"{POINT}?layer=hoogte&bidx=9", 400, "bidx"),
    (f"{TILE}?layer=hoogte&expression=b99", 400, "b99"),
    (f"{TILE}?layer=hoogte&expression=b1;b2", 400, "b2"),
    (f"{TILE}?layer=landcover&nodata=nan", 400, "nodata"),
    (f"{TILE}?layer=hoogte&nodata=1e400", 400, "nodata"),
    (f"{TILE}?layer=landcover&nodata=300", 400, "nodata"),
    (f"{TILE}?layer=hoogte&color_formula=gamma r 0", 400, "color_formula"),
    (f"{TILE}?layer=hoogte&color_formula=gamma r nan", 400, "color_formula"),
    (f"{TILE}?layer=hoogte&color_formula=saturation 1e9", 400, "color_formula"),
    (f"{TILE}?layer=hoogte&color_formula=saturation 1.2", 400, "color_formula"),  # needs 3 bands
    (f"{TILE}?layer=hoogte&colormap=%7B%22a%22%3A1%7D", 400, "colormap"),
    (f"{TILE}?layer=hoogte&colormap=%7B%221%22%3A%5B1%5D%7D", 400, "colormap"),
    (f"{TILE}?layer=hoogte&colormap=%5B1%5D", 400, "colormap"),
    (f"{TILE}?layer=hoogte&colormap=%7B%221%22%3A%5B300%2C0%2C0%5D%7D", 400, "colormap"),
    ("/titiler/statistics?layer=hoogte&histogram_bins=0", 400, "histogram_bins"),
    ("/titiler/statistics?layer=hoogte&histogram_range=1,0", 400, "histogram_range"),
    ("/titiler/statistics?layer=hoogte&p=200", 400, "p=200"),
    ("/titiler/statistics?layer=hoogte&width=100000", 413, "width"),
    ("/titiler/point/1e9,1e9?layer=hoogte&coord_crs=EPSG:28992", 400, "area of use"),
    ("/titiler/point/-1e9,-1e9?layer=hoogte&coord_crs=EPSG:3857", 400, "area of use"),
    ("/titiler/point/6,52?layer=hoogte&coord_crs=EPSG:999999", 400, "coord_crs"),
    ("/titiler/tiles/WebMercatorQuad/-1/0/0.png?layer=hoogte", 404, "level -1"),
    ("/titiler/tiles/WebMercatorQuad/2/4/0.png?layer=hoogte", 404, "outside"),
    (f"{TILE}?layer=hoogte&expression=" + "b1%2B" * 100 + "b1", 413, "expression"),
    (f"{TILE}?layer=hoogte&expression=__import__('os')", 400, "expression"),
    (f"{TILE}?layer=hoogte&rescale=0,nan", 400, "rescale"),
    (f"{TILE}?layer=hoogte&buffer=65", 413, "buffer"),
]


@pytest.mark.parametrize(("url", "status", "named"), HOSTILE_GETS)
def test_hostile_get_is_refused_naming_the_parameter(client: TestClient, url: str, status: int, named: str) -> None:
    started = time.monotonic()
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code, resp.text[:300])
    assert named in resp.json()["detail"], resp.json()
    assert time.monotonic() - started < 1.0  # refused before anything is read


def test_the_same_parameters_within_bounds_are_served(client: TestClient) -> None:
    for url in (
        f"{TILE}?layer=hoogte&bidx=1",
        f"{TILE}?layer=hoogte&expression=b1*2",
        f"{TILE}?layer=hoogte&color_formula=gamma r 1.5&rescale=0,10",
        f"{TILE}?layer=hoogte&colormap=%7B%221%22%3A%5B255%2C0%2C0%5D%7D",
        f"{TILE}?layer=hoogte&tilesize=512.0",
        "/titiler/statistics?layer=hoogte&histogram_bins=1024&histogram_range=0,10&p=50",
        f"{POINT}?layer=hoogte",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.text[:300])
    image = Image.open(io.BytesIO(client.get(f"{TILE}?layer=hoogte&tilesize=512.0").content))
    assert image.size == (512, 512)


def _feature(rings: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": rings}}


def _post(client: TestClient, body: Any, **params: str) -> Any:
    return client.post(
        "/titiler/statistics",
        params={"layer": "hoogte", "coord_crs": "EPSG:28992", **params},
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )


def test_statistics_post_bounds_features_vertices_area_and_body(client: TestClient) -> None:
    many = {"type": "FeatureCollection", "features": [_feature(SQUARE)] * 2000}  # the attacker's 338 KB
    started = time.monotonic()
    resp = _post(client, many)
    assert resp.status_code == 413 and "at most 50" in resp.json()["detail"]
    assert time.monotonic() - started < 1.0
    assert _post(client, _feature([])).status_code == 400
    assert "empty" in _post(client, _feature([])).json()["detail"]
    dense = [[[X0 + i * 1e-3, Y0 + (i % 2)] for i in range(LIMITS.max_vertices + 1)]]
    assert _post(client, _feature(dense)).status_code == 413
    huge = [[[100_000, 400_000], [250_000, 400_000], [250_000, 500_000], [100_000, 500_000], [100_000, 400_000]]]
    resp = _post(client, _feature(huge))
    assert resp.status_code == 413 and "km2" in resp.json()["detail"]
    flat = [[[X0, Y0], [X0 + 10, Y0], [X0 + 20, Y0], [X0, Y0]]]
    assert "no area" in _post(client, _feature(flat)).json()["detail"]
    padded = json.dumps(_feature(SQUARE)) + " " * LIMITS.max_body_bytes
    resp = client.post("/titiler/statistics?layer=hoogte&coord_crs=EPSG:28992", content=padded)
    assert resp.status_code == 413
    ok = _post(client, {"type": "FeatureCollection", "features": [_feature(SQUARE)] * 3})
    assert ok.status_code == 200 and len(ok.json()["features"]) == 3


def test_a_request_past_its_budget_is_cancelled_with_retry_after(catalog_dir: Path) -> None:
    budget = 0.3
    limits = RequestLimits(request_budget_s=budget, retry_after_s=7)
    slow = TestClient(create_app(ServerSettings(catalog=catalog_dir, limits=limits)), raise_server_exceptions=False)
    body = {"type": "FeatureCollection", "features": [_feature(SQUARE)] * LIMITS.max_features}
    started = time.monotonic()
    resp = _post(slow, body, max_size="1024")
    elapsed = time.monotonic() - started
    assert resp.status_code == 503, resp.text[:200]
    assert resp.headers["retry-after"] == "7" and "budget" in resp.json()["detail"]
    # Stopped at the first read past the budget, not after all 50 polygons (each takes ~0.1 s here).
    assert elapsed < budget + 2.0
    assert _post(slow, _feature(SQUARE)).status_code == 200  # one polygon fits the budget


#: Values an attacker sends to any parameter.
HOSTILE_VALUES = [
    "0", "-1", "2", "9", "1e400", "-1e400", "nan", "inf", "+100000", "100000.0", "4097.0", "1e9", "-1e9",
    "", " ", "b99", "b1;b2", "gamma r 0", '{"a":1}', "[1]", "1,0", "0,0", "200", "a" * 5000, "%00", "'; DROP",
]
#: The routes swept, with a valid value for each path parameter.
SWEPT_ROUTES = [
    "/titiler/info", "/titiler/info.geojson", "/titiler/statistics", TILE, POINT,
    "/titiler/tiles/WebMercatorQuad", "/titiler/WebMercatorQuad/tilejson.json",
]


def _query_parameters(client: TestClient) -> dict[str, list[str]]:
    """Route -> its query parameters from ``/openapi.json`` (every TiTiler route of the sweep)."""
    spec = client.get("/openapi.json").json()
    templates = {
        TILE: "/titiler/tiles/{tileMatrixSetId}/{z}/{x}/{y}.{format}",
        POINT: "/titiler/point/{lon},{lat}",
        "/titiler/tiles/WebMercatorQuad": "/titiler/tiles/{tileMatrixSetId}",
        "/titiler/WebMercatorQuad/tilejson.json": "/titiler/{tileMatrixSetId}/tilejson.json",
    }
    out = {}
    for route in SWEPT_ROUTES:
        op = spec["paths"][templates.get(route, route)]["get"]
        out[route] = [p["name"] for p in op["parameters"] if p["in"] == "query" and p["name"] != "layer"]
    return out


@pytest.mark.slow
def test_hostile_values_on_every_parameter_give_no_5xx(client: TestClient) -> None:
    """Every hostile value in every query parameter of every TiTiler route: 4xx or 2xx, bounded, in time."""
    count, slowest = 0, (0.0, "")
    for route, names in _query_parameters(client).items():
        for name in names:
            for value in HOSTILE_VALUES:
                started = time.monotonic()
                resp = client.get(route, params={"layer": "hoogte", name: value})
                elapsed = time.monotonic() - started
                count += 1
                slowest = max(slowest, (elapsed, f"{route}?{name}={value[:20]}"))
                assert resp.status_code < 500, (route, name, value[:40], resp.status_code, resp.text[:200])
                assert len(resp.content) <= MAX_BODY, (route, name, value[:40])
                assert elapsed < LIMITS.request_budget_s, (route, name, value[:40], elapsed)
    print(f"\nhostile sweep: {count} requests, 0 answers 5xx, slowest {slowest[0]:.2f} s ({slowest[1]})")
    assert count > 1000


def _publish(root: Path, access: str) -> cat.LayerEntry:
    return add_raster_layer(root, "wissel", height_raster(), title="Wissel", access=access)


def test_caching_follows_access_now_on_every_route_and_kept_version(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = catalog_copy(tmp_path_factory, "hostile-access")
    old = _publish(root, "public")
    new = _publish(root, "internal")  # the layer has since been made internal
    key = create_key(root, "portaal")
    client = TestClient(create_app(ServerSettings(catalog=root)))
    urls = [
        f"/layers/wissel/v/{old.version}/tiles/WebMercatorQuad/16/33868/21636.png",
        f"/layers/wissel/v/{old.version}/download/wissel.tif",
        f"/layers/wissel/v/{old.version}/legend.json",
        f"/layers/wissel/v/{old.version}",
        f"/layers/wissel/v/{new.version}/download/wissel.tif",
        "/layers/wissel/download/wissel.tif",
        "/layers/wissel/tiles/WebMercatorQuad/16/33868/21636.png",
        "/layers/wissel/tilejson.json",
        "/titiler/info?layer=wissel",
        f"{TILE}?layer=wissel",
        "/titiler/statistics?layer=wissel",
        "/layers",
    ]
    for url in urls:
        assert client.get(url).status_code in (200, 404) and "wissel" not in client.get("/layers").text
        if url != "/layers":
            assert client.get(url).status_code == 404, url
        resp = client.get(url, headers={"X-API-Key": key})
        assert resp.status_code == 200, (url, resp.text[:200])
        assert resp.headers["cache-control"] == "private, no-store", url
        assert {"Authorization", "X-API-Key"} <= {v.strip() for v in resp.headers["vary"].split(",")}, url
    public = client.get("/titiler/info?layer=hoogte")
    assert public.headers["cache-control"] == "public, max-age=60"
    download = client.get(f"/layers/hoogte/v/{cat.read_catalog(root).layers['hoogte'].version}/download/hoogte.tif")
    assert download.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_absolute_urls_never_come_from_an_untrusted_host(catalog_dir: Path) -> None:
    plain = TestClient(create_app(ServerSettings(catalog=catalog_dir)))
    evil = {"Host": "evil.example"}
    documents = ["/layers/hoogte/tilejson.json", "/layers/landcover/style.json", "/layers"]
    documents.append("/wmts/WMTSCapabilities.xml")
    for url in documents:
        resp = plain.get(url, headers=evil)
        assert resp.status_code == 200 and "evil.example" not in resp.text, url
    tiles = plain.get("/layers/hoogte/tilejson.json", headers=evil).json()["tiles"][0]
    assert tiles.startswith("/layers/hoogte/v/")
    loopback = plain.get("/layers/hoogte/tilejson.json", headers={"Host": "127.0.0.1:8000"}).json()["tiles"][0]
    assert loopback.startswith("http://127.0.0.1:8000/layers/hoogte/")
    public = TestClient(create_app(ServerSettings(catalog=catalog_dir, public_url="https://geo.example.nl/kaart/")))
    tiles = public.get("/layers/hoogte/tilejson.json", headers=evil).json()["tiles"][0]
    assert tiles.startswith("https://geo.example.nl/kaart/layers/hoogte/v/")
    trusted = TestClient(create_app(ServerSettings(catalog=catalog_dir, trusted_hosts=["kaart.gemeente.nl"])))
    resp = trusted.get("/layers/hoogte/tilejson.json", headers={"Host": "kaart.gemeente.nl"})
    assert resp.json()["tiles"][0].startswith("http://kaart.gemeente.nl/layers/")


def test_a_public_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="public_url"):
        ServerSettings(public_url="javascript:alert(1)")
