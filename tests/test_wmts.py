"""WMTS 1.0.0 capabilities read by real clients (GDAL's WMTS driver, OWSLib) from a real uvicorn process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from lxml import etree
from owslib.wmts import WebMapTileService

from styles.raster import RasterStyle
from tests.conftest import ORIGIN, SIZE_M
from tests.test_server_support import catalog_copy, decode_png, hex_rgb, running_server
from tiles.pmtiles import archive_info
from tiles.prerender import STYLE_KEY
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, WEB_MERCATOR_QUAD

X0, Y0 = ORIGIN
HALF = SIZE_M / 2
#: RD points 2 m from the quadrant borders (1 m raster): a misplaced tile would swap their colours.
PROBES = [(X0 + HALF + dx, Y0 + HALF + dy) for dx in (-2.0, 2.0) for dy in (-2.0, 2.0)] + [
    (X0 + 7.5, Y0 + 192.5),
    (X0 + 192.5, Y0 + 7.5),
]


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return catalog_copy(tmp_path_factory, "wmts")


@pytest.fixture(scope="module")
def server(catalog_dir: Path) -> Iterator[str]:
    with running_server(catalog_dir) as base:
        yield base


def _cog(catalog_dir: Path, layer: str) -> Path:
    entry = json.loads((catalog_dir / "catalog.json").read_text())["layers"][layer]
    return catalog_dir / next(f["path"] for f in entry["files"] if f["format"] == "cog")


def _expected_colours(catalog_dir: Path, layer: str, points: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
    """The default-style colour of the COG's value at each RD point."""
    entry_files = json.loads((catalog_dir / "catalog.json").read_text())["layers"][layer]["files"]
    archive = next(f["path"] for f in entry_files if f["name"].endswith(".NetherlandsRDNewQuad.pmtiles"))
    style = RasterStyle.from_json(json.dumps(archive_info(catalog_dir / archive)["metadata"][STYLE_KEY]))
    with rasterio.open(_cog(catalog_dir, layer)) as ds:
        values = [float(v[0]) for v in ds.sample(points)]
    colours = []
    for value in values:
        if style.kind == "classified":
            match = next(c for c in style.classes if c.value == int(value))
        else:
            match = next(c for c in style.classes if (c.lower or -np.inf) <= value < (c.upper or np.inf))
        colours.append(hex_rgb(match.colour))
    return colours


@pytest.mark.parametrize("layer", ["landcover", "hoogte"])
def test_gdal_reads_rd_tiles_at_the_right_place(server: str, catalog_dir: Path, layer: str) -> None:
    url = f"WMTS:{server}/wmts/WMTSCapabilities.xml,layer={layer},tilematrixset={NETHERLANDS_RD_NEW_QUAD}"
    with rasterio.open(url) as ds:
        assert ds.crs.to_epsg() == 28992
        left, bottom, right, top = ds.bounds
        # The layer's RD bounding box, to within one cell of the deepest level.
        assert abs(left - X0) < 0.1 and abs(top - (Y0 + SIZE_M)) < 0.1 and abs(right - (X0 + SIZE_M)) < 0.1
        # Full resolution (level 16, rendered on demand) ...
        got = [tuple(int(v) for v in px[:3]) for px in ds.sample(PROBES)]
        # ... and the overview of level 12 (0.84 m cells, the pre-rendered tiles).
        factor = max(ds.overviews(1))
        shape = (ds.height // factor, ds.width // factor)
        image = ds.read((1, 2, 3), out_shape=(3, *shape))
        cell_x, cell_y = (right - left) / shape[1], (top - bottom) / shape[0]
        assert cell_x == pytest.approx(0.84, rel=0.01)
        overview = [
            tuple(int(v) for v in image[:, int((top - y) / cell_y), int((x - left) / cell_x)]) for x, y in PROBES
        ]
    expected = _expected_colours(catalog_dir, layer, PROBES)
    assert got == expected
    assert overview == expected


def test_gdal_reads_web_mercator_tiles(server: str, catalog_dir: Path) -> None:
    from pyproj import Transformer

    url = f"WMTS:{server}/wmts/WMTSCapabilities.xml,layer=landcover,tilematrixset={WEB_MERCATOR_QUAD}"
    to_merc = Transformer.from_crs(28992, 3857, always_xy=True)
    with rasterio.open(url) as ds:
        assert ds.crs.to_epsg() == 3857
        got = [tuple(int(v) for v in px[:3]) for px in ds.sample([to_merc.transform(x, y) for x, y in PROBES])]
    assert got == _expected_colours(catalog_dir, "landcover", PROBES)


def test_owslib_lists_raster_layers_with_styles_and_bounds(server: str, catalog_dir: Path) -> None:
    wmts = WebMapTileService(f"{server}/wmts/WMTSCapabilities.xml")
    catalog = json.loads((catalog_dir / "catalog.json").read_text())["layers"]
    assert set(wmts.contents) == {"landcover", "hoogte"}  # basemap has no raster output
    assert set(wmts.tilematrixsets) == {WEB_MERCATOR_QUAD, NETHERLANDS_RD_NEW_QUAD}
    rd = wmts.tilematrixsets[NETHERLANDS_RD_NEW_QUAD]
    assert rd.crs == "urn:ogc:def:crs:EPSG::28992"
    assert rd.tilematrix["0"].topleftcorner == (-285401.92, 903401.92)
    assert rd.tilematrix["12"].scaledenominator == pytest.approx(3000.0)
    for layer_id, layer in wmts.contents.items():
        assert layer.boundingBoxWGS84 == pytest.approx(tuple(catalog[layer_id]["bounds"]["EPSG:4326"]))
        style = layer.styles["default"]
        assert style["isDefault"] and style["legend"] == f"{server}/layers/{layer_id}/legend.png?output={layer_id}"
        assert set(layer.tilematrixsetlinks) == {WEB_MERCATOR_QUAD, NETHERLANDS_RD_NEW_QUAD}
    limits = wmts.contents["landcover"].tilematrixsetlinks[NETHERLANDS_RD_NEW_QUAD].tilematrixlimits["12"]
    tile = wmts.gettile(
        layer="landcover",
        tilematrixset=NETHERLANDS_RD_NEW_QUAD,
        tilematrix="12",
        row=int(limits.mintilerow),
        column=int(limits.mintilecol),
        format="image/png",
    )
    assert decode_png(tile.read())[..., 3].max() == 255  # the tile named by the limits holds data


def test_capabilities_are_valid_xml_without_paths(server: str, catalog_dir: Path) -> None:
    resp = httpx.get(f"{server}/wmts/WMTSCapabilities.xml")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert root.tag == "{http://www.opengis.net/wmts/1.0}Capabilities" and root.get("version") == "1.0.0"
    text = resp.text
    assert str(catalog_dir) not in text and str(catalog_dir.resolve()) not in text and ".tif" not in text
    etag = resp.headers["etag"]
    assert httpx.get(f"{server}/wmts/WMTSCapabilities.xml", headers={"If-None-Match": etag}).status_code == 304
