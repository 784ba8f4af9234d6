"""Raster tiles in the default style (both tile matrix sets), pre-rendered archives, and the TiTiler mount."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo.canonical import LANDCOVER_CODES
from services.app import create_app
from services.settings import ServerSettings
from styles.palettes import LANDCOVER
from styles.raster import nice_breaks, ramp_colours
from tests.conftest import ORIGIN, SIZE_M
from tests.test_server_support import HEIGHT_PER_CELL, built_catalog, decode_png, height_at, hex_rgb, pixel_in_tile
from tiles.pmtiles import archive_info
from tiles.prerender import archive_name
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, WEB_MERCATOR_QUAD, get_tms

TO_MERCATOR = Transformer.from_crs(28992, 3857, always_xy=True)
TO_WGS84 = Transformer.from_crs(28992, 4326, always_xy=True)
X0, Y0 = ORIGIN
HALF = SIZE_M / 2
#: Points 3 m either side of the quadrant borders (the raster is 1 m): a tile shifted by 3 m or more fails.
NEAR_BORDERS = [
    ((X0 + HALF - 3, Y0 + HALF + 3), "building"),
    ((X0 + HALF + 3, Y0 + HALF + 3), "road_paved"),
    ((X0 + HALF - 3, Y0 + HALF - 3), "green_low"),
    ((X0 + HALF + 3, Y0 + HALF - 3), "water"),
    ((X0 + 10, Y0 + SIZE_M - 10), "building"),
    ((X0 + SIZE_M - 10, Y0 + 10), "water"),
]


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_catalog(tmp_path_factory.mktemp("raster"))


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=catalog_dir)))


def _colour_at(client: TestClient, layer: str, tms_id: str, x: float, y: float, zoom: int) -> tuple[int, ...]:
    """RGBA of the default-style tile at RD point (x, y)."""
    tms = get_tms(tms_id)
    px, py = (x, y) if tms_id == NETHERLANDS_RD_NEW_QUAD else TO_MERCATOR.transform(x, y)
    tile, row, col = pixel_in_tile(tms, px, py, zoom)
    resp = client.get(f"/layers/{layer}/tiles/{tms_id}/{tile.z}/{tile.x}/{tile.y}.png")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    return tuple(int(v) for v in decode_png(resp.content)[row, col])


@pytest.mark.parametrize(("tms_id", "zoom"), [(NETHERLANDS_RD_NEW_QUAD, 12), (WEB_MERCATOR_QUAD, 17)])
def test_landcover_tiles_show_the_class_colour_at_known_points(client: TestClient, tms_id: str, zoom: int) -> None:
    for (x, y), name in NEAR_BORDERS:
        assert _colour_at(client, "landcover", tms_id, x, y, zoom) == (*hex_rgb(LANDCOVER[name][0]), 255), (x, y, name)


def test_overzoom_tiles_are_rendered_from_the_cog(client: TestClient) -> None:
    # z15 in RD (0.105 m cells) is beyond the pre-rendered range (1 m raster -> z12): rendered on demand.
    for (x, y), name in NEAR_BORDERS[:4]:
        assert _colour_at(client, "landcover", NETHERLANDS_RD_NEW_QUAD, x, y, 15)[:3] == hex_rgb(LANDCOVER[name][0])
    assert _colour_at(client, "landcover", WEB_MERCATOR_QUAD, X0 + 30, Y0 + 30, 20)[:3] == hex_rgb(
        LANDCOVER["green_low"][0]
    )


def test_tiles_without_data_are_transparent_and_outside_the_matrix_404(client: TestClient) -> None:
    far = client.get(f"/layers/landcover/tiles/{NETHERLANDS_RD_NEW_QUAD}/12/0/0.png")
    assert far.status_code == 200 and decode_png(far.content)[..., 3].max() == 0
    assert client.get(f"/layers/landcover/tiles/{NETHERLANDS_RD_NEW_QUAD}/3/8/0.png").status_code == 404
    assert client.get(f"/layers/landcover/tiles/{NETHERLANDS_RD_NEW_QUAD}/17/0/0.png").status_code == 404  # no level 17
    assert client.get(f"/layers/landcover/tiles/{WEB_MERCATOR_QUAD}/2/4/0.png").status_code == 404
    unknown = client.get("/layers/landcover/tiles/GoogleCRS84Quad/2/0/0.png")
    assert unknown.status_code == 404 and "NetherlandsRDNewQuad" in unknown.json()["detail"]
    assert client.get("/layers/basemap/tiles/WebMercatorQuad/16/0/0.png").status_code == 404  # no raster output


def test_continuous_raster_uses_the_ramp_class_of_the_value(client: TestClient) -> None:
    breaks = nice_breaks(0.0, 9.95)
    assert breaks == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    colours = ramp_colours(len(breaks) - 1)
    for x in (X0 + 10.5, X0 + 50.5, X0 + 110.5, X0 + 190.5):
        value = height_at(x)
        expected = colours[int(value // 2)]
        got = _colour_at(client, "hoogte", NETHERLANDS_RD_NEW_QUAD, x, Y0 + 100.5, 12)
        assert got == (*hex_rgb(expected), 255), (x, value)


def test_default_tiles_are_read_from_the_prerendered_archive(
    client: TestClient, catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = json.loads((catalog_dir / "catalog.json").read_text())["layers"]["landcover"]
    names = {f["name"] for f in entry["files"]}
    assert {archive_name("landcover", WEB_MERCATOR_QUAD), archive_name("landcover", NETHERLANDS_RD_NEW_QUAD)} <= names
    info = archive_info(
        catalog_dir / next(f["path"] for f in entry["files"] if f["name"].endswith("RDNewQuad.pmtiles"))
    )
    assert (info["minzoom"], info["maxzoom"], info["metadata"]["tileMatrixSet"]) == (12, 12, NETHERLANDS_RD_NEW_QUAD)

    def no_rendering(*args: object, **kwargs: object) -> None:
        raise AssertionError("a default tile in the pre-rendered range was rendered")

    monkeypatch.setattr("services.tiles.render_tile", no_rendering)
    monkeypatch.setattr(client.app.state.store, "raster_reader", no_rendering)  # type: ignore[attr-defined]
    x, y = X0 + 20, Y0 + 20
    assert _colour_at(client, "landcover", NETHERLANDS_RD_NEW_QUAD, x, y, 12)[:3] == hex_rgb(LANDCOVER["green_low"][0])


def test_rendered_tile_equals_the_prerendered_one(catalog_dir: Path) -> None:
    # The same tile from the archive and rendered on demand (archive hidden) must be byte-identical.
    store_client = TestClient(create_app(ServerSettings(catalog=catalog_dir)))
    tms = get_tms(NETHERLANDS_RD_NEW_QUAD)
    tile, _, _ = pixel_in_tile(tms, X0 + 50, Y0 + 50, 12)
    url = f"/layers/landcover/tiles/{NETHERLANDS_RD_NEW_QUAD}/12/{tile.x}/{tile.y}.png"
    stored = store_client.get(url).content
    store = store_client.app.state.store  # type: ignore[attr-defined]
    store.prerendered = lambda *a, **k: None
    assert store_client.get(url).content == stored


def test_readers_opened_once_per_thread_and_file(catalog_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.store

    opened: list[str] = []
    real_reader, real_zoom_reader = services.store.Reader, services.store.zoom_reader

    def counting_reader(path: str, **kwargs: Any) -> object:
        opened.append(path)
        return real_reader(path, **kwargs)

    def counting_zoom_reader(path: Path, tms: object, z: int) -> object:
        opened.append(f"{path}@{z}")
        return real_zoom_reader(path, tms, z)  # type: ignore[arg-type]

    monkeypatch.setattr(services.store, "Reader", counting_reader)
    monkeypatch.setattr(services.store, "zoom_reader", counting_zoom_reader)
    local = TestClient(create_app(ServerSettings(catalog=catalog_dir)))
    store = local.app.state.store  # type: ignore[attr-defined]
    cog = store.raster_file(store.layer("landcover"))
    for _ in range(5):
        store.raster_reader(cog, NETHERLANDS_RD_NEW_QUAD)
    assert len(opened) == 1
    renders = 0
    for z in (14, 15):  # overzoom tiles, rendered in the worker threads
        for dx in range(3):
            _colour_at(local, "landcover", NETHERLANDS_RD_NEW_QUAD, X0 + 40 + dx * 30, Y0 + 60, z)
            renders += 1
    # Every dataset opened is kept (one per thread, file, tile matrix set and level), and the sequential
    # requests reuse an idle worker thread, so the renders opened far fewer datasets than tiles.
    assert len(opened) == len(store._readers) + len(store._zoom_readers)
    assert len(opened) - 1 < renders


def test_titiler_point_and_statistics_by_layer_id(client: TestClient) -> None:
    lon, lat = TO_WGS84.transform(X0 + 150, Y0 + 50)
    point = client.get(f"/titiler/point/{lon},{lat}", params={"layer": "landcover"})
    assert point.status_code == 200 and point.json()["values"] == [LANDCOVER_CODES["water"]]
    height = client.get(f"/titiler/point/{lon},{lat}", params={"layer": "hoogte"}).json()["values"][0]
    assert height == pytest.approx(height_at(X0 + 150))
    # Statistics over the water quadrant (inset 5 m): every cell is water.
    ring = [
        TO_WGS84.transform(x, y)
        for x, y in [
            (X0 + 105, Y0 + 5),
            (X0 + 195, Y0 + 5),
            (X0 + 195, Y0 + 95),
            (X0 + 105, Y0 + 95),
            (X0 + 105, Y0 + 5),
        ]
    ]
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    stats = client.post("/titiler/statistics", params={"layer": "landcover", "categorical": "true"}, json=feature)
    assert stats.status_code == 200, stats.text
    band = stats.json()["properties"]["statistics"]["b1"]
    assert band["min"] == band["max"] == LANDCOVER_CODES["water"]
    height_stats = client.post("/titiler/statistics", params={"layer": "hoogte"}, json=feature).json()
    h = height_stats["properties"]["statistics"]["b1"]
    # The polygon's edges, drawn in WGS84, bend by a fraction of a cell in RD: one cell of slack at each edge.
    assert h["min"] == pytest.approx(height_at(X0 + 105), abs=1.01 * HEIGHT_PER_CELL)
    assert h["max"] == pytest.approx(height_at(X0 + 194.5), abs=1.01 * HEIGHT_PER_CELL)


def test_titiler_custom_rendering_and_default_style(client: TestClient) -> None:
    tms = get_tms(NETHERLANDS_RD_NEW_QUAD)
    tile, row, col = pixel_in_tile(tms, X0 + 150, Y0 + 50, 12)
    path = f"/titiler/tiles/{NETHERLANDS_RD_NEW_QUAD}/12/{tile.x}/{tile.y}.png"
    default = decode_png(client.get(path, params={"layer": "landcover"}).content)
    assert tuple(default[row, col, :3]) == hex_rgb(LANDCOVER["water"][0])
    custom = client.get(path, params={"layer": "landcover", "rescale": "0,10", "colormap_name": "greys"})
    assert custom.status_code == 200
    pixel = decode_png(custom.content)[row, col]
    assert pixel[0] == pixel[1] == pixel[2] and pixel[0] in (0, 255)  # code 10 -> end of the grey ramp
    assert client.get(f"/titiler/tiles/{WEB_MERCATOR_QUAD}/0/0/0.png", params={"layer": "landcover"}).status_code in (
        200,
        404,
    )


def test_titiler_never_opens_a_path_or_url_from_the_request(client: TestClient) -> None:
    for params in (
        {"url": "/etc/passwd"},
        {"layer": "../../etc/passwd"},
        {"layer": "/etc/passwd"},
        {"layer": "landcover", "output": "../landcover"},
        {"layer": "https://example.org/x.tif"},
    ):
        resp = client.get("/titiler/info", params=params)
        assert resp.status_code in (404, 422), params
    served = client.get("/titiler/info", params={"layer": "landcover", "url": "/etc/passwd"})
    assert served.status_code == 200 and served.json()["dtype"] == "uint8"  # url= is ignored, the layer is read
    assert "/tmp" not in served.text and str(Path.home()) not in served.text
    assert client.get("/titiler/info", params={"layer": "nope"}).status_code == 404
