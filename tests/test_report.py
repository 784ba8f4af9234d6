"""The printable assessment report: figure labels, map images and the Dutch HTML/PDF report (pdftoppm, pdftotext)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from lxml import html as lxml_html
from PIL import Image
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import Point, box

from geo.raster import Raster
from services.report import (
    describe_edit,
    offline_url_fetcher,
    render_report_html,
    render_report_pdf,
    report_date,
)
from styles.assess_labels import (
    NO_VALUE,
    change_mark,
    dutch_number,
    figure,
    format_value,
    norm_text,
    ordered_keys,
    with_unit,
)
from styles.heat import UHI_COLOURS
from styles.palettes import LANDCOVER, hex_to_rgba
from styles.raster import landcover_style
from styles.report_map import (
    EXTRA_COLOURS,
    SITE_OUTLINE,
    before_after_image,
    colour_raster,
    map_image,
    resolve_style,
    scale_length,
)
from styles.vector import BACKGROUND

#: The hand-made raster: 400 x 400 cells of 2 m (800 m square) at RD (200000, 450000), uhi_max 0 to 5 K west to east.
X0, Y0, CELL, CELLS, UHI_TOP = 200_000.0, 450_000.0, 2.0, 400, 5.0
#: The square site (100 m) in the middle and its 300 m buffer.
SITE = box(X0 + 350, Y0 + 350, X0 + 450, Y0 + 450)
BUFFER = SITE.buffer(300)
RD = CRS.from_epsg(28992)
VIEW = (X0, Y0, X0 + CELLS * CELL, Y0 + CELLS * CELL)
#: Map pixels of the tests: one per raster cell.
SIZE_PX = CELLS

needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")


def gradient() -> Raster:
    """uhi_max rising linearly from 0 K in the westernmost column to 5 K in the easternmost."""
    data = np.tile(np.linspace(0.0, UHI_TOP, CELLS, dtype="float32"), (CELLS, 1))
    transform = Affine(CELL, 0, X0, 0, -CELL, Y0 + CELLS * CELL)
    return Raster(data, RD, transform, nodata=-9999.0, band_names=("uhi_max",), units=("K",))


FIGURES: dict[str, Any] = {
    "area_m2": 10000.0, "building_pct": 12.5, "paved_pct": 60.1, "green_pct": 20.0, "water_pct": 0.0,
    "canopy_pct": 8.2, "uhi_max_mean": 2.31, "uhi_max_max": 3.9, "shade_pct": 21.0, "trees_count": 4,
    "crown_area_m2": 113.1, "dwellings": 0, "dwellings_meeting_3": 0, "dwellings_meeting_30": 0,
    "dwellings_meeting_300": 0, "nearest_park_m": 210.0, "nearest_cool_place_m": None,
}


def assessment() -> dict[str, Any]:
    """An assessment without edits, as ``POST /assess`` returns it."""
    return {
        "version": {"catalog": "20261201T120000Z", "inputs": "20261201T115900Z-ab12cd34",
                    "layers": {"green-paved": "20261201T115000Z-1a2b3c4d", "heat-stress": "20261201T115500Z-5e6f7a8b"}},
        "region": {"name": "Demo Achterhoek", "crs": "EPSG:28992"},
        "created": "2026-12-01T12:00:00Z",
        "site": dict(FIGURES),
        "buffer": {**FIGURES, "area_m2": 372743.2, "paved_pct": 41.37, "nearest_cool_place_m": float("nan"),
                   "vacancy_nearby": 3.14159},
        "buffer_m": 300,
        "thresholds": [
            {"figure": "shade_pct", "zone": "site", "value": 21.0, "threshold": 30.0, "operator": ">=", "met": False,
             "source": "Kluck et al. 2020, De hittebestendige stad"},
            {"figure": "canopy_pct", "zone": "buffer", "value": 31.4, "threshold": 30.0, "operator": ">=",
             "met": True, "source": "3-30-300-regel"},
        ],
        "warnings": ["Het plangebied overlapt 4 boomkronen (310 m²)"],
        "edits": [], "before": None, "after": None, "delta": None,
        "references": ["Theeuwes et al. 2017, A diagnostic equation for the daily maximum urban heat island effect, "
                       "https://doi.org/10.1002/joc.4717"],
        "sources": ["BGT: Kadaster / PDOK (CC0)", "AHN4: Rijkswaterstaat (CC0)"],
    }


def scenario() -> dict[str, Any]:
    """The assessment after unpaving half the paving and planting 12 trees."""
    data = assessment()
    after_site = {**FIGURES, "paved_pct": 30.0, "green_pct": 50.2, "uhi_max_mean": 1.92}
    data["edits"] = [{"op": "unpave", "share": 0.5},
                     {"op": "plant_trees", "count": 12, "crown_diameter_m": 6, "height_m": 10}]
    data["before"] = {"site": dict(FIGURES), "buffer": dict(data["buffer"])}
    data["after"] = {"site": after_site, "buffer": dict(data["buffer"])}
    data["delta"] = {"site": {"paved_pct": -30.1, "green_pct": 30.2, "uhi_max_mean": -0.39}, "buffer": {}}
    return data


def rgb(colour: str) -> np.ndarray:
    return np.array(hex_to_rgba(colour)[:3])


def near(image: np.ndarray, colour: str, tolerance: int = 0) -> np.ndarray:
    """Mask of the pixels within ``tolerance`` (per channel) of ``colour``."""
    return np.abs(image[..., :3].astype(int) - rgb(colour)).max(axis=2) <= tolerance


def site_box(image: np.ndarray, tolerance: int = 0) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the largest connected patch of the site outline's colour.

    The largest patch is the outline on the map; the legend's swatch of the same colour is smaller.
    """
    patches, count = ndimage.label(near(image, SITE_OUTLINE, tolerance), structure=np.ones((3, 3)))
    assert count > 0, "no site outline on the image"
    largest = 1 + int(np.argmax(ndimage.sum_labels(np.ones_like(patches), patches, range(1, count + 1))))
    rows, cols = np.nonzero(patches == largest)
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# --- labels -------------------------------------------------------------------------------------------------------


def test_dutch_numbers_units_and_marks() -> None:
    assert dutch_number(1234.56, 1) == "1.234,6"
    assert dutch_number(-0.04, 1, signed=True) == "0,0"
    assert dutch_number(2.5, 1, signed=True) == "+2,5"
    assert dutch_number(-30.1, 1, signed=True) == "-30,1"
    assert with_unit("paved_pct", 60.1) == "60,1 %"
    assert with_unit("area_m2", 372743.2) == "372.743 m²"
    assert with_unit("trees_count", 4) == "4"
    assert format_value("paved_pct", None) == NO_VALUE == "–"
    assert format_value("paved_pct", float("nan")) == "–"
    assert with_unit("nearest_park_m", None) == "–"
    assert format_value("meets", True) == "ja"
    assert norm_text("shade_pct", ">=", 30.0) == "≥ 30,0 %"
    assert change_mark("paved_pct", -3.0) == "beter"
    assert change_mark("nearest_cool_place_m", 12.0) == "slechter"
    assert change_mark("canopy_pct", 0.01) == ""  # rounds to 0,0
    assert change_mark("area_m2", 50.0) == ""  # no preferred direction
    assert change_mark("green_pct", None) == ""


def test_unknown_keys_render_with_their_key() -> None:
    assert figure("vacancy_nearby").label == "vacancy_nearby"
    assert figure("vacancy_nearby").unit == ""
    assert format_value("vacancy_nearby", 3.14159) == "3,14"
    assert figure("paved_pct").label == "Verhard"
    keys = ordered_keys({"zzz": 1, "paved_pct": 2}, {"area_m2": 3, "aaa": None})
    assert keys == ["area_m2", "paved_pct", "zzz", "aaa"]


def test_report_date_and_edits() -> None:
    try:
        ZoneInfo("Europe/Amsterdam")
        winter, summer = "1 december 2026, 13:00", "1 juli 2026, 14:00"
    except ZoneInfoNotFoundError:
        winter, summer = "1 december 2026, 12:00 UTC", "1 juli 2026, 12:00 UTC"
    assert report_date("2026-12-01T12:00:00Z") == winter
    assert report_date("2026-07-01T12:00:00+00:00") == summer
    assert describe_edit({"op": "unpave", "share": 0.5}) == "Onthard: 50 % van de verharding"
    assert describe_edit({"op": "unpave", "geometry": {}}) == "Onthard: getekend vlak"
    assert describe_edit({"op": "plant_trees", "points": [[1, 2], [3, 4]], "crown_diameter_m": 6.5,
                          "height_m": 10}) == "Bomen geplant: 2 (kroon 6,5 m, 10 m hoog)"
    assert describe_edit({"op": "add_building", "height_m": 12}) == "Gebouw toegevoegd van 12 m hoog"
    assert describe_edit({"op": "remove_building", "id": "0200100000012345"}) == "Gebouw verwijderd: 0200100000012345"
    assert describe_edit({"op": "paint_it_green"}) == "paint_it_green"


# --- map images ---------------------------------------------------------------------------------------------------


def test_styles_and_colours() -> None:
    uhi = resolve_style("uhi_max", [gradient()])
    assert uhi is not None and uhi.title == "Maximaal hitte-eilandeffect (K)"
    assert resolve_style("heat-stress/uhi_max", [None]) == uhi
    canopy = resolve_style("canopy", [None])
    assert canopy is not None and canopy.title.startswith("Boomkroon")
    # Unregistered: one data-range ramp over both rasters (0-10 and 0-20 -> breaks 0, 5, ..., 20).
    low, high = gradient(), gradient()
    high = Raster(high.data * 4, high.crs, high.transform, nodata=-9999.0)
    ramp = resolve_style(None, [low, high])
    assert ramp is not None and [c.lower for c in ramp.classes] == [0, 5, 10, 15]
    assert resolve_style(None, [None]) is None
    values = Raster(np.array([[0.5, 2.2], [4.5, -9999.0]], dtype="float32"), RD, Affine.identity(),
                    nodata=-9999.0)
    rgba = colour_raster(values, uhi)
    assert tuple(rgba[0, 0]) == hex_to_rgba(UHI_COLOURS[0])
    assert tuple(rgba[0, 1]) == hex_to_rgba(UHI_COLOURS[3])  # 2 tot 2,5 K
    assert tuple(rgba[1, 0]) == hex_to_rgba(UHI_COLOURS[-1])
    assert rgba[1, 1, 3] == 0  # nodata stays transparent
    codes = Raster(np.array([[1, 10]], dtype="uint8"), RD, Affine.identity(), nodata=0)
    classes = colour_raster(codes, landcover_style())
    assert tuple(classes[0, 0]) == hex_to_rgba(LANDCOVER["building"][0])
    assert tuple(classes[0, 1]) == hex_to_rgba(LANDCOVER["water"][0])
    assert [scale_length(w) for w in (800, 1000, 3000, 90)] == [200, 200, 500, 20]


def test_map_image_draws_raster_classes_site_and_extras() -> None:
    trees = gpd.GeoDataFrame(geometry=[Point(X0 + 380, Y0 + 380).buffer(6)], crs="EPSG:28992")
    image = decode(map_image(gradient(), "uhi_max", SITE, BUFFER, VIEW, title="Hitte", extra={"plant_trees": trees},
                             size_px=SIZE_PX))
    top, left, bottom, right = site_box(image)
    # One pixel per 2 m: the 100 m site is 50 px across, plus the line width (3 px at 400 px).
    assert 50 <= right - left <= 55 and 50 <= bottom - top <= 55
    # Along the row through the site's centre, the raster classes are as wide as the gradient says:
    # 0-1 K is 160 m (80 px), each half-kelvin class 80 m (40 px); site and buffer lines take a few pixels.
    row = image[(top + bottom) // 2 : (top + bottom) // 2 + 1]
    widths = [int(near(row, colour).sum()) for colour in UHI_COLOURS]
    assert widths[0] == pytest.approx(80, abs=4)
    assert all(w == pytest.approx(40, abs=4) for w in widths[1:-1])
    assert widths[-1] == pytest.approx(80, abs=4)
    # The new tree crown's outline is drawn inside the site, in the first extra colour.
    extra_rows, extra_cols = np.nonzero(near(image, EXTRA_COLOURS[0]))
    inside = (extra_cols > left) & (extra_cols < right) & (extra_rows > top) & (extra_rows < bottom)
    assert inside.sum() > 10


def test_map_image_nodata_shows_background() -> None:
    raster = gradient()
    data = raster.data.copy()
    data[0, : CELLS // 2] = -9999.0  # the north half has no data
    image = decode(map_image(Raster(data, raster.crs, raster.transform, nodata=-9999.0), "uhi_max", SITE, BUFFER,
                             VIEW, title="Hitte", size_px=SIZE_PX))
    # About half of the 400 x 400 map shows the paper background (minus outlines, north arrow, scale bar).
    assert near(image, BACKGROUND).sum() == pytest.approx(CELLS * CELLS / 2, rel=0.1)


def test_before_after_has_two_maps_and_one_style() -> None:
    before = gradient()
    after = Raster(before.data * 0.5, before.crs, before.transform, nodata=-9999.0)  # 0 to 2,5 K
    image = decode(before_after_image(before, after, "uhi_max", SITE, BUFFER, VIEW, title="Voor en na",
                                      size_px=2 * SIZE_PX))
    middle = image.shape[1] // 2
    left, right = image[:, :middle], image[:, middle:]
    boxes = site_box(left), site_box(right)
    assert boxes[0][0] == boxes[1][0] and boxes[0][2] == boxes[1][2]  # the site at the same height on both maps
    # Along the row through the site's centre (392 px for 800 m): before, >= 4 K is the easternmost 160 m
    # (78 px) and 0-1 K the westernmost 160 m; after (half the values) there is no >= 4 K and 0-1 K is 320 m.
    centre = (boxes[0][0] + boxes[0][2]) // 2
    counts = [[int(near(half[centre : centre + 1], UHI_COLOURS[i]).sum()) for i in (0, -1)] for half in (left, right)]
    assert counts[0] == [pytest.approx(78, abs=4), pytest.approx(78, abs=4)]
    assert counts[1] == [pytest.approx(157, abs=4), 0]


# --- the report ---------------------------------------------------------------------------------------------------


def table_row(page: Any, label: str, table: str | None = None) -> list[str]:
    """The cell texts of the first table row whose first cell is ``label`` (in the table of class ``table``)."""
    scope = page.find_class(table)[0] if table else page
    for tr in scope.iter("tr"):
        cells = [c.text_content().strip() for c in tr.iter("td")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r}")


def test_html_is_self_contained_and_prints_dashes() -> None:
    png = map_image(gradient(), "uhi_max", SITE, BUFFER, VIEW, title="Hitte", size_px=SIZE_PX)
    text = render_report_html(assessment(), [("Hitte-eilandeffect", png)])
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text, re.IGNORECASE)
    assert "https://doi.org/10.1002/joc.4717" in text  # only as reference text
    page = lxml_html.fromstring(text)
    images = page.findall(".//img")
    assert len(images) == 1
    src = images[0].get("src")
    assert src.startswith("data:image/png;base64,") and base64.b64decode(src.split(",", 1)[1]) == png
    assert table_row(page, "Verhard") == ["Verhard", "%", "60,1", "41,4"]
    assert table_row(page, "Afstand tot de dichtstbijzijnde koele plek") == [
        "Afstand tot de dichtstbijzijnde koele plek", "m", "–", "–"]  # None and NaN
    assert table_row(page, "vacancy_nearby") == ["vacancy_nearby", "", "–", "3,14"]
    assert table_row(page, "Schaduw om 15 uur op 1 juli")[:4] == ["Schaduw om 15 uur op 1 juli", "%", "21,0", "21,0"]
    assert table_row(page, "Boomkroon") == ["Boomkroon", "%", "8,2", "8,2"]  # the figures table comes first
    verdicts = [td.text_content().strip() for td in page.find_class("oordeel")]
    assert verdicts == ["✗ voldoet niet", "✓ voldoet"]
    assert "Huidig" not in text  # no scenario table without edits


def test_html_of_a_sparse_assessment() -> None:
    text = render_report_html({"site": {"paved_pct": None}}, [])
    page = lxml_html.fromstring(text)
    assert table_row(page, "Verhard") == ["Verhard", "%", "–", "–"]
    assert "Omgeving" in text and "Beoordeling plangebied" in text and "<img" not in text


def test_offline_fetcher_refuses_everything_but_data() -> None:
    fetch = offline_url_fetcher()
    for url in ("https://example.org/font.woff2", "http://example.org/a.png", "file:///etc/hostname"):
        with pytest.raises(ValueError):
            fetch(url)
    response = fetch("data:text/plain;base64," + base64.b64encode(b"kaart").decode())
    body = response.read() if hasattr(response, "read") else response["string"]
    assert body == b"kaart"


def pdf_pages(pdf: bytes, folder: Path) -> tuple[list[np.ndarray], str]:
    """The PDF's pages as RGB arrays (pdftoppm at 50 dpi) and its text (pdftotext)."""
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(folder / "page")], check=True, timeout=60)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True, timeout=60).stdout
    pages = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("page-*.png"))]
    return pages, text


@needs_poppler
def test_pdf_shows_map_figures_thresholds_and_sources(tmp_path: Path) -> None:
    png = map_image(gradient(), "uhi_max", SITE, BUFFER, VIEW, title="Maximaal hitte-eilandeffect")
    pdf = render_report_pdf(assessment(), [("Hitte-eilandeffect van plangebied en omgeving", png)])
    assert pdf.startswith(b"%PDF")
    pages, text = pdf_pages(pdf, tmp_path)
    first = pages[0]
    assert first.shape[:2] == (585, 414)  # A4 at 50 dpi
    # The map is on the first page: the site outline, and bands of the raster's coolest and hottest classes.
    top, left, bottom, right = site_box(first, tolerance=24)
    assert 15 < right - left < 30 and abs((right - left) - (bottom - top)) <= 2  # a square, not stray pixels
    coolest, hottest = near(first, UHI_COLOURS[0], 6), near(first, UHI_COLOURS[-1], 6)
    assert coolest.sum() > 1000 and hottest.sum() > 1000
    assert np.nonzero(coolest)[1].mean() < left < right < np.nonzero(hottest)[1].mean()  # west cool, east hot
    for expected in ("Beoordeling plangebied", "1 december 2026", "Demo Achterhoek", "20261201T120000Z",
                     "Plangebied", "Omgeving (300 m)", "Kenmerk", "Eenheid", "Verhard", "60,1", "41,4", "372.743",
                     "Toetsing aan normen", "voldoet niet", "≥ 30,0 %", "Kluck et al. 2020", "Let op",
                     "overlapt 4 boomkronen", "Theeuwes et al. 2017", "BGT: Kadaster / PDOK (CC0)",
                     "heat-stress", "20261201T115500Z-5e6f7a8b", "Pagina 1 van"):
        assert expected in text, expected
    assert "Huidig" not in text


@needs_poppler
def test_pdf_of_a_scenario(tmp_path: Path) -> None:
    before = gradient()
    after = Raster(before.data - 1.0, before.crs, before.transform, nodata=-9999.0)
    png = before_after_image(before, after, "uhi_max", SITE, BUFFER, VIEW, title="Hitte-eilandeffect")
    data = scenario()
    pdf = render_report_pdf(data, [("Huidig en scenario", png)])
    pages, text = pdf_pages(pdf, tmp_path)
    middle = pages[0].shape[1] // 2
    before_box, after_box = site_box(pages[0][:, :middle], 24), site_box(pages[0][:, middle:], 24)
    assert abs(before_box[0] - after_box[0]) <= 1  # before and after maps side by side
    for expected in ("Scenario", "Huidig", "Verschil", "Onthard: 50 % van de verharding",
                     "Bomen geplant: 12 (kroon 6 m, 10 m hoog)", "30,0", "-30,1", "+30,2", "-0,4", "beter"):
        assert expected in text, expected
    page = lxml_html.fromstring(render_report_html(data, []))
    paved = table_row(page, "Verhard", "scenario")
    assert paved == ["Verhard", "%", "60,1", "30,0", "-30,1beter", "41,4", "41,4", "0,0"]
    # Without the given differences the report computes them (scenario minus current).
    data["delta"] = None
    page = lxml_html.fromstring(render_report_html(data, []))
    assert table_row(page, "Groen", "scenario") == ["Groen", "%", "20,0", "50,2", "+30,2beter", "20,0", "20,0", "0,0"]
    assert table_row(page, "Hitte-eilandeffect, gemiddeld", "scenario")[4] == "-0,4beter"
    assert table_row(page, "Afstand tot de dichtstbijzijnde koele plek", "scenario")[2:5] == ["–", "–", "–"]
