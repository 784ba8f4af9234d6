"""Styles: class breaks, Dutch labels, colour maps, legends (JSON, PNG), MapLibre styles, QGIS styles, previews."""

from __future__ import annotations

import io
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from fastapi.testclient import TestClient
from lxml import etree
from PIL import Image
from pyproj import CRS

from geo.canonical import LANDCOVER_CODES
from geo.raster import Raster
from services.app import create_app
from services.settings import ServerSettings
from styles.legend import legend_png
from styles.maplibre import layer_style
from styles.palettes import LANDCOVER, landcover_colormap
from styles.preview import vector_preview
from styles.qgis import raster_qml, vector_qml
from styles.raster import (
    RasterStyle,
    format_number,
    interval_label,
    landcover_style,
    nice_breaks,
    raster_style_for,
    resolve_raster_style,
    unit_label,
)
from styles.vector import basemap_rules, landcover_rules, vector_legend, vector_rules
from tests.conftest import ORIGIN, SIZE_M, small_landcover
from tests.test_server_support import built_catalog, hex_rgb


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 9.95, [0, 2, 4, 6, 8, 10]),
        (0.0, 100.0, [0, 20, 40, 60, 80, 100]),
        (-3.2, 12.7, [-5, 0, 5, 10, 15]),
        (18.3, 31.9, [17.5, 20, 22.5, 25, 27.5, 30, 32.5]),  # width 13.6 / 6 = 2.27 -> 2.5
        (0.0, 0.013, [0, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015]),
        (5.0, 5.0, [5, 5.2, 5.4, 5.6, 5.8, 6]),
    ],
)
def test_nice_breaks(low: float, high: float, expected: list[float]) -> None:
    breaks = nice_breaks(low, high)
    assert breaks == pytest.approx(expected)
    assert breaks[0] <= low and breaks[-1] >= high


def test_dutch_numbers_and_labels() -> None:
    assert [format_number(v) for v in (2.5, 2500.5, 1000, -0.5, 0.25)] == ["2,5", "2.500,5", "1.000", "-0,5", "0,25"]
    assert interval_label(0, 2.5, "m") == "0 tot 2,5 m"
    assert interval_label(None, 20, "degC") == "onder 20 °C"
    assert interval_label(30, None, "degC") == "vanaf 30 °C"
    assert unit_label("m2") == "m²" and unit_label("m NAP") == "m NAP" and unit_label("lux") == "lux"


def test_landcover_style_matches_the_palette_and_the_embedded_colour_table() -> None:
    style = landcover_style()
    cmap = style.colormap()
    embedded = landcover_colormap()
    assert isinstance(cmap, dict) and set(cmap) == set(LANDCOVER_CODES.values())
    for code, rgba in cmap.items():
        assert rgba == embedded[code]
    legend = style.legend()
    assert legend["title"] == "Bodembedekking" and legend["items"][0]["label"] == "Gebouw"
    assert RasterStyle.from_json(style.to_json()) == style


def test_continuous_style_from_a_raster_and_its_intervals() -> None:
    data = np.linspace(18.0, 31.0, 100, dtype="float32").reshape(1, 10, 10)
    data[0, 0, 0] = np.nan
    raster = Raster(
        data, CRS.from_epsg(28992), Affine(1, 0, 0, 0, -1, 10), nodata=float("nan"), band_names=("t",), units=("degC",)
    )
    style = raster_style_for(raster, "hitte", "t", "Hitte")
    assert style is not None and style.kind == "continuous" and style.title == "Hitte (°C)"
    lows = [c.lower for c in style.classes]
    assert lows == [17.5, 20, 22.5, 25, 27.5, 30] and style.classes[-1].upper == 32.5
    assert style.classes[0].label == "17,5 tot 20 °C"
    intervals = style.colormap()
    assert isinstance(intervals, list) and intervals[0][0] == (17.5, 20)
    back = RasterStyle.from_json(style.to_json())
    assert back.colormap() == intervals
    # Open-ended classes come back as +-inf intervals for rio-tiler.
    open_style = RasterStyle(
        kind="continuous",
        title="x",
        classes=(
            *style.classes[:1],
            type(style.classes[0])(colour="#000000", label="vanaf 32", lower=32.0, upper=None),
        ),
    )
    assert open_style.colormap()[-1][0] == (32.0, math.inf)
    # No registered style, no colour table, no valid cell: no default style.
    empty = Raster(
        np.full((1, 2, 2), np.nan, "float32"), CRS.from_epsg(28992), Affine(1, 0, 0, 0, -1, 2), nodata=float("nan")
    )
    assert raster_style_for(empty, "x", "y", "X") is None
    assert (
        resolve_raster_style("x", "y", title="Klassen", embedded_colormap={0: (0, 0, 0, 0), 3: (1, 2, 3, 255)})
        .classes[0]
        .label
        == "Klasse 3"
    )


def test_legend_png_draws_swatches_in_the_item_colours() -> None:
    legend = vector_legend("Basiskaart", basemap_rules())
    assert [i["label"] for i in legend["items"]] == ["Water", "Groen", "Verharding", "Wegen", "Gebouwen"]
    image = np.asarray(Image.open(io.BytesIO(legend_png(legend))).convert("RGB"))
    assert image.shape[1] > 60 and image.shape[0] > 5 * 14
    colours = {tuple(int(v) for v in px) for px in image.reshape(-1, 3)}
    for item in legend["items"]:
        assert hex_rgb(item["colour"]) in colours, item


def test_maplibre_style_uses_only_the_given_sources_and_filters_classes() -> None:
    style = layer_style(
        name="Bodembedekking",
        layer_id="landcover",
        bounds=[6.0, 52.0, 6.1, 52.1],
        zoom=12,
        metadata={},
        vector_tilejson="http://h/layers/landcover/tilejson.json",
        rules=landcover_rules(),
        basemap_tilejson="http://h/layers/basemap/tilejson.json",
        basemap_rules=basemap_rules(),
    )
    assert style["version"] == 8 and "glyphs" not in style and "sprite" not in style
    assert {s["url"] for s in style["sources"].values()} == {
        "http://h/layers/landcover/tilejson.json",
        "http://h/layers/basemap/tilejson.json",
    }
    assert all(layer["type"] != "symbol" for layer in style["layers"])
    water = next(layer for layer in style["layers"] if layer.get("filter") == ["==", ["get", "class"], "water"])
    assert water["paint"]["fill-color"] == LANDCOVER["water"][0] and water["source-layer"] == "landcover"
    # The base map is drawn first (under the layer).
    ids = [layer["id"] for layer in style["layers"]]
    assert ids.index("ondergrond-water-0") < ids.index(water["id"])


def test_generic_vector_rules_follow_the_geometry_of_each_tile_layer() -> None:
    stats = {"layers": [{"layer": "trees", "geometry": "Point"}, {"layer": "paths", "geometry": "LineString"}]}
    rules = vector_rules("unknown", [{"id": "trees"}, {"id": "paths"}, {"id": "areas"}], stats)
    assert [(r.source_layer, r.geometry) for r in rules] == [("trees", "circle"), ("paths", "line"), ("areas", "fill")]
    assert len({r.colour for r in rules}) == 3
    assert [r.source_layer for r in vector_rules("basemap", [{"id": "water"}])] == ["water"]


def test_qml_documents() -> None:
    paletted = etree.fromstring(raster_qml(landcover_style()).split(b"\n", 1)[1])
    entries = paletted.findall(".//paletteEntry")
    assert [int(e.get("value")) for e in entries] == list(range(1, 11))
    assert entries[0].get("color") == LANDCOVER["building"][0] and entries[0].get("label") == "Gebouw"
    height = RasterStyle.from_json(
        resolve_raster_style("h", "h", title="Hoogte", unit="m", value_range=(0.0, 9.9)).to_json()
    )
    pseudo = etree.fromstring(raster_qml(height).split(b"\n", 1)[1])
    items = pseudo.findall(".//colorrampshader/item")
    assert [float(i.get("value")) for i in items] == [2, 4, 6, 8, 10]
    assert pseudo.find(".//colorrampshader").get("colorRampType") == "DISCRETE"
    categorized = etree.fromstring(vector_qml(landcover_rules()).split(b"\n", 1)[1])
    renderer = categorized.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "class"
    assert len(renderer.findall("categories/category")) == 10
    single = etree.fromstring(vector_qml(basemap_rules()[:1]).split(b"\n", 1)[1])
    assert single.find("renderer-v2").get("type") == "singleSymbol"


def test_vector_preview_places_the_classes() -> None:
    frame = small_landcover()
    x0, y0 = ORIGIN
    png = vector_preview({"landcover": frame}, landcover_rules(), (x0, y0, x0 + SIZE_M, y0 + SIZE_M), size=100)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape == (100, 100, 3)
    assert tuple(image[10, 10]) == hex_rgb(LANDCOVER["building"][0])  # top left
    assert tuple(image[90, 90]) == hex_rgb(LANDCOVER["water"][0])  # bottom right
    assert isinstance(frame, gpd.GeoDataFrame)


def test_style_routes(tmp_path_factory: pytest.TempPathFactory) -> None:
    root: Path = built_catalog(tmp_path_factory.mktemp("styles"))
    client = TestClient(create_app(ServerSettings(catalog=root)))
    style = client.get("/layers/landcover/style.json").json()
    assert style["sources"]["landcover"]["url"].endswith("/layers/landcover/tilejson.json")
    assert style["sources"]["basemap"]["url"].endswith("/layers/basemap/tilejson.json")
    raster = client.get("/layers/hoogte/style.json").json()
    assert raster["sources"]["hoogte"]["type"] == "raster"
    assert "/layers/hoogte/v/" in raster["sources"]["hoogte"]["tiles"][0]
    legend = client.get("/layers/hoogte/legend.json").json()
    assert legend["unit"] == "m" and legend["items"][0]["label"] == "0 tot 2 m"
    assert client.get("/layers/landcover/legend.json", params={"output": "landcover"}).json()["type"] == "classified"
    assert client.get("/layers/landcover/legend.json").json()["type"] == "vector"
    assert client.get("/layers/landcover/legend.json", params={"output": "nope"}).status_code == 404
    png = client.get("/layers/landcover/legend.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    qml = client.get("/layers/landcover/qml/landcover.tif")
    assert qml.status_code == 200 and "paletted" in qml.text
    assert qml.headers["content-disposition"].endswith('-landcover.qml"')
    assert client.get("/layers/basemap/qml/water.parquet").status_code == 200
    assert client.get("/layers/landcover/qml/..%2Fcatalog.json").status_code in (404, 422)
    preview = client.get("/layers/landcover/preview.png")
    assert preview.status_code == 200 and preview.content[:4] == b"\x89PNG"


def test_heat_stress_styles_have_fixed_dutch_classes() -> None:
    from styles.heat import SHADE_BREAKS, UHI_BREAKS, buurt_rules
    from styles.raster import registered_style

    uhi = registered_style("heat-stress", "uhi_max")
    shade = registered_style("heat-stress", "shade_pct_1500")
    assert uhi is not None and shade is not None
    labels = [c.label for c in uhi.classes]
    assert labels[0] == "0 tot 1 K" and labels[1] == "1 tot 1,5 K" and labels[-1] == "vanaf 4 K"
    assert len(uhi.classes) == len(UHI_BREAKS) and uhi.title == "Maximaal hitte-eilandeffect (K)"
    # 100 % shade (a cell in shadow all afternoon) falls in the top class, which is labelled up to 100.
    (low, high), _ = shade.colormap()[-1]  # type: ignore[index]
    assert low == SHADE_BREAKS[-2] and high > 100.0 and shade.classes[-1].label == "80 tot 100 %"
    rules = buurt_rules()
    assert {r.value for r in rules if r.field == "meets_shade_neighbourhood"} == {True, False}
