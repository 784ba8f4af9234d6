"""The map's server side on the hand-built region: the page, its tile grids, vector tiles, identify, search, overview.

The hand-built region (tests/conftest.py) is four 100 m land-cover quadrants: building (north-west), road_paved
(north-east), green_low (south-west), water (south-east), with one building on the north-west quadrant, and a
``hoogte`` raster whose value is 0.05 m times the column (0.5 m cells).
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image

from services import map_page
from services.app import create_app
from services.settings import ServerSettings
from styles.preview import draw_rules
from styles.vector import LANDCOVER, VectorRule
from tests.conftest import ORIGIN, SIZE_M
from tests.test_server_support import built_catalog, height_at
from tiles.tms import get_tms, tile_at

X0, Y0 = ORIGIN
HALF = SIZE_M / 2


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    root = built_catalog(tmp_path_factory.mktemp("mapsrv"))
    return TestClient(create_app(ServerSettings(catalog=root)))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_map_without_a_bundle_says_how_to_build_it(client: TestClient, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(map_page, "STATIC", tmp_path)
    r = client.get("/map")
    assert r.status_code == 503
    assert "nog niet gebouwd" in r.text and "make web" in r.text


def test_map_page_carries_the_servers_tile_grids(client: TestClient, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "map.js").write_text("// bundle")
    monkeypatch.setattr(map_page, "STATIC", tmp_path)
    r = client.get("/map")
    assert r.status_code == 200
    assert '<html lang="nl">' in r.text and "/map/static/map.js" in r.text
    grids = map_page.tile_grids()
    rd = grids["NetherlandsRDNewQuad"]
    # Geonovum's NetherlandsRDNewQuad: origin (-285401.92, 903401.92), 3440.64 m per pixel at level 0, halving.
    assert rd["origin"] == pytest.approx([-285401.92, 903401.92])
    assert rd["resolutions"][0] == pytest.approx(3440.64)
    assert rd["resolutions"][5] == pytest.approx(3440.64 / 32)
    assert grids["WebMercatorQuad"]["origin"] == pytest.approx([-20037508.342789244, 20037508.342789244])
    assert client.get("/map/static/map.js").text == "// bundle"
    assert client.get("/map/static/..%2Fmap.js").status_code == 404
    assert client.get("/map/static/secret.txt").status_code == 404


def test_vector_layer_tile_in_rd_new_draws_its_rules(client: TestClient) -> None:
    rd = get_tms("NetherlandsRDNewQuad")
    z = 14  # 0.21 m per pixel: a 54 m tile
    x, y = X0 + HALF / 2, Y0 + HALF / 2  # the green_low quadrant
    tile = tile_at(rd, x, y, z)
    r = client.get(f"/map/api/tiles/landcover/NetherlandsRDNewQuad/{z}/{tile.x}/{tile.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    left, bottom, right, top = rd.xy_bounds(tile)
    col = int((x - left) / (right - left) * 256)
    row = int((top - y) / (top - bottom) * 256)
    assert tuple(image[row, col, :3]) == _rgb(LANDCOVER["green_low"][0])
    assert image[row, col, 3] == 255
    far = tile_at(rd, X0 + 5000, Y0 + 5000, z)
    assert client.get(f"/map/api/tiles/landcover/NetherlandsRDNewQuad/{z}/{far.x}/{far.y}.png").status_code == 204
    assert client.get("/map/api/tiles/landcover/NoSuchQuad/1/0/0.png").status_code == 404
    assert client.get("/map/api/tiles/nope/NetherlandsRDNewQuad/1/0/0.png").status_code == 404


def test_a_line_rule_on_polygons_draws_their_outline_only() -> None:
    frame = gpd.GeoDataFrame(geometry=[shapely.box(10, 10, 90, 90)], crs="EPSG:28992")
    rule = VectorRule("zones", "line", "#ff0000", "Grens")
    canvas = draw_rules({"zones": frame}, [rule], (0, 0, 100, 100), (100, 100), background=None)
    assert canvas[50, 50, 3] == 0  # the inside stays empty (the heat-stress preview was one grey square)
    assert tuple(canvas[50, 10, :3]) == (255, 0, 0) and canvas[50, 10, 3] == 255


def test_identify_gives_raster_values_with_units_and_feature_attributes(client: TestClient) -> None:
    x, y = X0 + 30.25, Y0 + HALF + 30.25  # the building quadrant
    r = client.get("/map/api/identify", params={"layers": "hoogte,landcover,basemap", "x": x, "y": y})
    assert r.status_code == 200
    layers = {layer["id"]: layer for layer in r.json()["layers"]}
    (value,) = layers["hoogte"]["values"]
    assert value["value"] == pytest.approx(height_at(x)) and value["unit"] == "m"
    assert value["text"] == f"{height_at(x):.1f} m".replace(".", ",")
    landcover = {a["key"]: a["text"] for f in layers["landcover"]["features"] for a in f["attributes"]}
    assert landcover["class"] == "building"
    raster = {v["output"]: v["text"] for v in layers["landcover"]["values"]}
    assert raster["landcover"] == LANDCOVER["building"][1]  # the class's Dutch label
    (building,) = [f for f in layers["basemap"]["features"] if f["output"] == "buildings"]
    assert building["bag_id"] == "0000100000000001"
    labels = {a["label"] for a in building["attributes"]}
    assert "Bouwjaar" in labels
    assert client.get("/map/api/identify", params={"layers": "geheim", "x": x, "y": y}).status_code == 404


def test_search_without_address_columns_says_so(client: TestClient) -> None:
    r = client.get("/map/api/search", params={"q": "7001 AB 1"})
    assert r.status_code == 200
    assert r.json()["results"] == []
    assert client.get("/map/api/search", params={"q": "x"}).status_code == 400


def test_overview_links_every_layer_into_the_map(client: TestClient) -> None:
    page = client.get("/").text
    assert 'href="/map#l=basemap~100|landcover~80"' in page  # relative: the test client's host is not trusted
    assert page.count("Open in de kaart") == len(client.get("/layers").json())


def test_external_base_map_is_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(map_page.EXTERNAL_BASEMAP_ENV, raising=False)
    assert map_page.map_config("Proefdorp", "")["externalBasemap"] is None
    monkeypatch.setenv(map_page.EXTERNAL_BASEMAP_ENV, "https://wmts.example.nl/brt/{TileMatrixSet}/{z}/{x}/{y}.png")
    monkeypatch.setenv(map_page.EXTERNAL_BASEMAP_NAME_ENV, "BRT-Achtergrondkaart")
    ext = map_page.map_config("Proefdorp", "")["externalBasemap"]
    assert ext == {"url": "https://wmts.example.nl/brt/NetherlandsRDNewQuad/{z}/{x}/{y}.png",
                   "name": "BRT-Achtergrondkaart"}
