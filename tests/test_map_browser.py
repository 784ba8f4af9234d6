"""The DIY map (/map) in a real browser: Playwright drives Debian's chromium against a real server.

One demo catalog is built for the module (every layer, plus a second version of ``landcover`` for the swipe),
served by ``kaartlaag serve``; one browser for the module. Screenshots go to ``test-artifacts/map/`` (gitignored).
The tests run in file order and share one page where a test builds on the one before (draw, then scenario, then
report, then the shared link).

Set ``KAARTLAAG_MAP_TEST_CATALOG`` to an already built demo catalog folder to skip the build while developing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from layers import catalog as cat
from layers.config import load_config
from layers.inputs_store import PublishedInputs
from services.map_page import BUNDLE, STATIC
from tests.test_server_support import running_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [test] extras")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "map"
#: Longest wait for one assessment in the browser (ms); one scenario takes ~10 s on this machine.
ASSESS_MS = 90_000
VIEWPORT = {"width": 1400, "height": 900}
#: Buffer (m) of the sites drawn here: smaller than the default 300 m to keep each assessment short.
BUFFER_M = 100


@pytest.fixture(scope="module")
def catalog_dir(demo_catalog: Path) -> Path:
    """The shared 1 km demo (``tests.demo_catalog``: cool-places internal, two land-cover versions)."""
    assert (STATIC / BUNDLE).is_file(), "the map bundle is missing: run `make web` (npm ci and esbuild in web/)"
    given = os.environ.get("KAARTLAAG_MAP_TEST_CATALOG")
    return Path(given) if given else load_config(demo_catalog).catalog_dir


@pytest.fixture(scope="module")
def server(catalog_dir: Path) -> Iterator[str]:
    with running_server(catalog_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`, see .ci/run)")
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """Everything a page asked for and complained about."""

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.responses: list[tuple[int, str]] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("response", lambda r: self.responses.append((r.status, r.url)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def tiles(self, needle: str) -> list[int]:
        return [s for s, u in self.responses if needle in u and u.endswith(".png")]


@pytest.fixture(scope="module")
def session(browser: Any, server: str) -> Iterator[dict[str, Any]]:
    """One page shared by the tests that build on each other, and every request the module made."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    everything: list[str] = []
    context.on("request", lambda r: everything.append(r.url))
    page = context.new_page()
    watch = Watch(page)
    yield {"context": context, "page": page, "watch": watch, "all": everything, "server": server}
    context.close()


@pytest.fixture(scope="module")
def facts(catalog_dir: Path) -> dict[str, Any]:
    """Known answers from the published inputs: a building, an address, a buurt, a street point."""
    inputs = PublishedInputs(catalog_dir)
    buurten = inputs.load("neighbourhoods")
    centrum = buurten[buurten["name"] == "Centrum"].iloc[0]
    buildings = inputs.load("buildings")
    inside = buildings[buildings.geometry.within(centrum.geometry)]
    building = inside.loc[inside.geometry.area.idxmax()]
    addresses = inputs.load("addresses")
    address = addresses[addresses["house_letter"].isna()].iloc[0]
    streets = inputs.load("streets")
    # A point on a street in the Centrum buurt, away from every building (a raster cell of open space).
    lines = streets[streets.geometry.intersects(centrum.geometry)].geometry
    point = None
    for line in lines:
        candidate = line.interpolate(0.5, normalized=True)
        if buildings.sindex.query(candidate.buffer(4.0)).size == 0:
            point = candidate
            break
    assert point is not None
    c = centrum.geometry.representative_point()
    site = shapely.box(c.x - 40, c.y - 40, c.x + 40, c.y + 40)
    return {"buurt": centrum, "building": building, "address": address, "street_point": point, "site": site,
            "inputs": inputs}


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-klaar='1']", timeout=30_000)
    _idle(page)


def _idle(page: Any, ms: int = 400) -> None:
    """Wait until the map has rendered and no tile is loading any more."""
    page.wait_for_timeout(ms)
    page.wait_for_function("() => window.kaart.loading.tiles === 0", timeout=30_000)
    page.wait_for_timeout(100)


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _pixel(page: Any, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of an RD New position on the map."""
    px, py = page.evaluate("([x, y]) => window.kaart.pixelOf(x, y)", [x, y])
    box = page.locator("#kaart").bounding_box()
    return box["x"] + px, box["y"] + py


def _centre_on(page: Any, x: float, y: float, resolution: float) -> None:
    """Centre the map on an RD New position at ``resolution`` (m per pixel in RD New)."""
    page.evaluate("([x, y, r]) => window.kaart.centreOn(x, y, r)", [x, y, resolution])
    _idle(page)


def _draw(page: Any, polygon: shapely.Polygon) -> None:
    page.click("#teken")
    points = list(polygon.exterior.coords)[:-1]
    for x, y in [*points, points[0]]:
        page.mouse.click(*_pixel(page, x, y))
        page.wait_for_timeout(120)


def _wait_assessed(page: Any) -> None:
    page.wait_for_function("() => !document.body.dataset.bezig", timeout=ASSESS_MS)


def _figure(page: Any, zone: str, key: str, column: str = "") -> float:
    cell = page.locator(f"table.kengetallen[data-zone={zone}] td{column}[data-key={key}]").first
    return float(cell.get_attribute("data-value"))


def _drawn(page: Any, kind: str) -> int:
    """Features of ``kind`` the map draws for the scenario (unpaved, crowns, ...)."""
    return int(page.evaluate(
        "(k) => window.kaart.assessment.source.getFeatures().filter(f => f.get('kind') === k).length", kind))


# -- the tests -------------------------------------------------------------------------------------------------


def test_loads_in_rd_new_then_web_mercator(session: dict[str, Any]) -> None:
    page, watch = session["page"], session["watch"]
    _open(page, session["server"] + "/map")
    assert page.title().startswith("Doe-het-zelf-kaart")
    for theme, layer in (("Klimaat", "heat-stress"), ("Groen", "landcover"), ("Wonen", "housing-sites")):
        assert page.locator(f"section.thema[aria-label={theme}] div.laag[data-layer={layer}]").count() == 1
    assert page.evaluate("window.kaart.map.getView().getProjection().getCode()") == "EPSG:28992"
    rd = watch.tiles("/NetherlandsRDNewQuad/")
    assert rd and set(rd) <= {200, 204} and 200 in rd
    _shot(page, "01-rd-new")
    page.check("input[name=projectie][value=WebMercatorQuad]")
    _idle(page)
    assert page.evaluate("window.kaart.map.getView().getProjection().getCode()") == "EPSG:3857"
    wm = watch.tiles("/WebMercatorQuad/")
    assert wm and set(wm) <= {200, 204} and 200 in wm
    assert "p=wm" in page.url
    _shot(page, "02-web-mercator")
    page.check("input[name=projectie][value=NetherlandsRDNewQuad]")
    _idle(page)
    assert not watch.errors, watch.errors


@pytest.mark.parametrize("layer", ["heat-stress", "green-paved", "tree-3-30-300"])
def test_toggle_a_layer_and_its_tiles_answer(session: dict[str, Any], layer: str) -> None:
    page, watch = session["page"], session["watch"]
    before = len(watch.responses)
    page.check(f"#laag-{layer}")
    _idle(page)
    statuses = [s for s, u in watch.responses[before:] if f"/{layer}/" in u and u.endswith(".png")]
    assert statuses and set(statuses) <= {200, 204} and 200 in statuses, statuses
    assert page.evaluate(f"window.kaart.state.layers.find(s => s.id === '{layer}').on")
    assert layer in page.url
    assert not watch.errors, watch.errors
    _shot(page, f"03-layer-{layer}")


def test_opacity_and_order(session: dict[str, Any]) -> None:
    page = session["page"]
    page.locator("div.laag[data-layer=heat-stress] summary").click()
    page.fill("#dekking-heat-stress", "40")
    page.dispatch_event("#dekking-heat-stress", "input")
    opacity = page.evaluate("""() => window.kaart.map.getLayers().getArray()
        .find(l => l.get('layerId') === 'heat-stress' && l.getVisible()).getOpacity()""")
    assert opacity == pytest.approx(0.4)
    assert "heat-stress~40" in page.url.replace("%7E", "~")
    z = "() => window.kaart.state.layers.map(s => s.id)"
    order = page.evaluate(z)
    page.click("#omhoog-heat-stress")
    moved = page.evaluate(z)
    i = order.index("heat-stress")
    assert moved.index("heat-stress") == i + 1
    zindex = page.evaluate("""() => Object.fromEntries(window.kaart.map.getLayers().getArray()
        .filter(l => l.get('layerId')).map(l => [l.get('layerId'), l.getZIndex()]))""")
    # The map draws the layers that are on in the panel's order (a higher z-index is drawn on top).
    drawn = [layer for layer in moved if layer in zindex]
    assert sorted(drawn, key=lambda layer: zindex[layer]) == drawn and len(drawn) >= 4
    # Keyboard: the focus stays on the button, which is visibly outlined.
    assert page.evaluate("document.activeElement.id") == "omhoog-heat-stress"
    page.keyboard.press("Enter")
    assert page.evaluate(z).index("heat-stress") == i + 2
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_swipe_two_versions(session: dict[str, Any], catalog_dir: Path) -> None:
    page, watch = session["page"], session["watch"]
    entry = cat.read_catalog(catalog_dir).layers["landcover"]
    old = next(v.version for v in entry.versions if v.version != entry.version)
    page.select_option("#vergelijk-laag", "landcover")
    page.select_option("#vergelijk-versie", old)
    before = len(watch.responses)
    page.click("#vergelijk-aan")
    _idle(page)
    versioned = [s for s, u in watch.responses[before:] if f"/landcover/v/{old}/" in u]
    assert versioned and set(versioned) <= {200, 204} and 200 in versioned
    page.fill("#schuif", "25")
    page.dispatch_event("#schuif", "input")
    assert page.evaluate("window.kaart.state.swipe") == 25
    assert f"cmp=landcover~{old}~25" in page.url.replace("%7E", "~")
    _shot(page, "04-swipe")
    page.click("#vergelijk-uit")
    assert page.evaluate("window.kaart.state.compare") is None
    assert not watch.errors, watch.errors


def test_identify_a_building_and_a_raster_cell(session: dict[str, Any], facts: dict[str, Any]) -> None:
    page = session["page"]
    c = facts["building"].geometry.representative_point()
    _centre_on(page, c.x, c.y, 0.5)
    page.mouse.click(*_pixel(page, c.x, c.y))
    page.wait_for_selector("#info section.info-laag[data-layer=basemap]")
    text = page.inner_text("#info")
    assert facts["building"]["id"] in text
    assert "Dit pand beoordelen" in text
    _shot(page, "05-identify-building")
    page.click("#info-sluit")
    p = facts["street_point"]
    page.mouse.click(*_pixel(page, p.x, p.y))
    page.wait_for_selector("#info section.info-laag[data-layer=heat-stress]")
    section = page.inner_text("#info section.info-laag[data-layer=heat-stress]")
    assert "Maximaal hitte-eilandeffect (K)" in section
    assert re.search(r"Maximaal hitte-eilandeffect \(K\)\s+\d+,\d K", section), section
    assert "Centrum" in section and "Buurt" in section  # the buurt row of the heat-stress table
    _shot(page, "06-identify-raster")
    page.click("#info-sluit")


def test_search_an_address_and_a_buurt(session: dict[str, Any], facts: dict[str, Any]) -> None:
    page = session["page"]
    a = facts["address"]
    page.fill("#zoekterm", f"{a['postcode'][:4]} {a['postcode'][4:]} {a['house_number']}")
    page.press("#zoekterm", "Enter")
    # One hit: the map flies there at once and the search field shows the address.
    label = f"{a['street']} {a['house_number']}, {a['postcode']}"
    page.wait_for_function("(t) => document.getElementById('zoekterm').value === t", arg=label)
    page.wait_for_timeout(600)
    centre = page.evaluate("window.kaart.map.getView().getCenter()")
    assert abs(centre[0] - a.geometry.x) < 2 and abs(centre[1] - a.geometry.y) < 2
    # Street and house number find the same address.
    page.fill("#zoekterm", f"{a['street']} {a['house_number']}")
    page.press("#zoekterm", "Enter")
    page.wait_for_function("(t) => document.getElementById('zoekterm').value === t", arg=label)
    # Several hits give a list (the demo's buurten Esch-Noord, Esch-West, Esch-Zuid); choosing one flies there.
    page.fill("#zoekterm", "Esch-")
    page.press("#zoekterm", "Enter")
    page.wait_for_selector("#zoekresultaten .resultaat")
    assert page.locator("#zoekresultaten .resultaat").count() == 3
    page.locator("#zoekresultaten .resultaat").first.click()
    page.wait_for_function("() => document.getElementById('zoekterm').value.includes('Esch-')")
    page.fill("#zoekterm", "Centrum")
    page.press("#zoekterm", "Enter")
    page.wait_for_function("() => document.getElementById('zoekterm').value.includes('buurt')")
    page.wait_for_timeout(600)
    centre = page.evaluate("window.kaart.map.getView().getCenter()")
    minx, miny, maxx, maxy = facts["buurt"].geometry.bounds
    assert abs(centre[0] - (minx + maxx) / 2) < 2 and abs(centre[1] - (miny + maxy) / 2) < 2
    _shot(page, "07-search-buurt")


def test_draw_a_site_and_read_the_panel(session: dict[str, Any], facts: dict[str, Any], catalog_dir: Path) -> None:
    page = session["page"]
    site = facts["site"]
    _centre_on(page, site.centroid.x, site.centroid.y, 0.5)
    page.fill("#buffer", str(BUFFER_M))
    _draw(page, site)
    _wait_assessed(page)
    page.wait_for_selector("table.kengetallen[data-zone=site]")
    # Known answers from the published layers, computed here: the exact paved share of the land cover in the
    # site, and the dwellings of the 3-30-300 layer standing in it (docs/assessment.md, identity tolerances).
    catalog = cat.read_catalog(catalog_dir)
    landcover = gpd.read_parquet(catalog_dir / catalog.layers["landcover"].file("landcover", "vector").path)
    pieces = gpd.clip(landcover, site)
    paved = pieces[pieces["class"].isin(["road_paved", "paved_other"])].area.sum() / site.area * 100
    assert _figure(page, "site", "paved_pct") == pytest.approx(paved, abs=0.05)
    dwellings = gpd.read_parquet(catalog_dir / catalog.layers["tree-3-30-300"].file("dwellings", "vector").path)
    assert _figure(page, "site", "dwellings") == int(dwellings.within(site).sum())
    assert _figure(page, "site", "area_m2") == pytest.approx(site.area, rel=1e-3)
    shares = sum(_figure(page, "site", k) for k in ("building_pct", "paved_pct", "green_pct", "water_pct"))
    assert shares <= 100.05
    norms = page.locator("table.normen tbody tr")
    assert norms.count() >= 3
    classes = {norms.nth(i).get_attribute("class") for i in range(norms.count())}
    assert classes <= {"goed", "bijna", "fout"}
    assert "Kluck" in page.inner_text("table.normen") and "3-30-300" in page.inner_text("table.normen")
    assert "site=" in page.url
    _shot(page, "08-assessment")


def test_unpave_half_and_plant_five_trees(session: dict[str, Any]) -> None:
    page, watch = session["page"], session["watch"]
    page.fill("#onthard-aandeel", "50")
    page.dispatch_event("#onthard-aandeel", "input")
    page.click("#onthard")
    _wait_assessed(page)
    page.wait_for_selector("#uitkomst[data-scenario='1']")
    paved_before = _figure(page, "site", "paved_pct")
    paved_after = _figure(page, "site", "paved_pct", ".na")
    assert paved_after == pytest.approx(paved_before / 2, abs=0.5)
    assert _figure(page, "site", "green_pct", ".na") > _figure(page, "site", "green_pct")
    # Less paving, more vegetation in F_veg: a lower heat-island effect (Theeuwes et al. 2017).
    assert _figure(page, "site", "uhi_max_mean", ".verschil") < 0
    assert _drawn(page, "unpaved") > 0
    page.fill("#bomen-aantal", "5")
    page.click("#bomen")
    _wait_assessed(page)
    page.wait_for_function("() => window.kaart.assessment.edits.length === 2")
    page.wait_for_selector("#uitkomst[data-scenario='1']")
    assert _figure(page, "site", "trees_count", ".na") == _figure(page, "site", "trees_count") + 5
    assert _figure(page, "site", "canopy_pct", ".na") > _figure(page, "site", "canopy_pct")
    assert _figure(page, "site", "shade_pct", ".na") >= _figure(page, "site", "shade_pct")
    assert _drawn(page, "crowns") == 5
    # The change of the heat island and the shade on the map: one overlay each, the first shown, with its legend.
    page.wait_for_selector("#verandering ul.legenda[data-output='shade_pct_1500'] li")
    overlays = page.evaluate("""() => window.kaart.map.getLayers().getArray()
        .filter((l) => String(l.get('kaartlaag') || '').startsWith('verandering-'))
        .map((l) => [l.get('kaartlaag'), l.getVisible(), l.getSource().getState()])""")
    assert [o[0] for o in overlays] == ["verandering-uhi_max", "verandering-shade_pct_1500"]
    assert [o[1] for o in overlays] == [True, False]
    changed = page.locator("#verandering label").all_inner_texts()
    assert len(changed) == 2 and all("cellen veranderd" in t for t in changed)
    page.check("#verandering-shade_pct_1500")
    assert page.evaluate("""() => window.kaart.map.getLayers().getArray()
        .filter((l) => l.get('kaartlaag') === 'verandering-shade_pct_1500')[0].getVisible()""")
    assert "sc=" in page.url
    _shot(page, "09-scenario")
    # Undo takes the trees away again (the earlier answer, without a new request).
    page.click("#ongedaan")
    page.wait_for_function("() => window.kaart.assessment.edits.length === 1")
    assert _figure(page, "site", "trees_count", ".na") == _figure(page, "site", "trees_count")
    page.click("#bomen")  # and plant them again for the report and the link
    page.wait_for_function("() => window.kaart.assessment.edits.length === 2")
    _wait_assessed(page)
    assert not watch.errors, watch.errors


def test_download_the_pdf_report(session: dict[str, Any]) -> None:
    page = session["page"]
    with page.expect_download(timeout=ASSESS_MS) as info:
        page.click("#pdf")
    path = info.value.path()
    data = Path(path).read_bytes()
    assert data.startswith(b"%PDF")
    assert info.value.suggested_filename.endswith(".pdf")
    (ARTIFACTS / "rapport.pdf").write_bytes(data)


def test_reload_the_shared_url_gives_the_same_state(session: dict[str, Any]) -> None:
    page = session["page"]
    page.click("#kopieer")
    link = page.input_value("#deel-link")
    assert link == page.url
    state = page.evaluate("""() => ({layers: window.kaart.state.layers, tms: window.kaart.state.tms,
        centre: window.kaart.map.getView().getCenter(), resolution: window.kaart.map.getView().getResolution(),
        edits: window.kaart.assessment.edits, site: window.kaart.assessment.site})""")
    other = session["context"].new_page()
    watch = Watch(other)
    _open(other, link)
    _wait_assessed(other)
    other.wait_for_selector("#uitkomst[data-scenario='1']", timeout=ASSESS_MS)
    again = other.evaluate("""() => ({layers: window.kaart.state.layers, tms: window.kaart.state.tms,
        centre: window.kaart.map.getView().getCenter(), resolution: window.kaart.map.getView().getResolution(),
        edits: window.kaart.assessment.edits, site: window.kaart.assessment.site})""")
    assert again["layers"] == state["layers"]
    assert again["tms"] == state["tms"]
    assert again["centre"] == pytest.approx(state["centre"], abs=0.01)
    assert again["resolution"] == pytest.approx(state["resolution"], rel=1e-4)
    assert again["edits"] == state["edits"]
    assert again["site"] == state["site"]
    assert other.is_checked("#laag-heat-stress")
    assert other.evaluate("document.querySelectorAll('table.normen').length") == 2
    _shot(other, "10-shared-link")
    assert not watch.errors, watch.errors
    other.close()


def test_bad_inputs_give_dutch_messages_and_leave_the_map_usable(session: dict[str, Any], facts: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    page = session["page"]
    _open(page, session["server"] + "/map")
    site = facts["site"]
    c = site.centroid
    _centre_on(page, c.x, c.y, 0.5)
    # A bow tie: the ring crosses itself.
    bow = shapely.Polygon([(c.x - 30, c.y - 30), (c.x + 30, c.y + 30), (c.x + 30, c.y - 30), (c.x - 30, c.y + 30)])
    _draw(page, bow)
    _wait_assessed(page)
    message = page.inner_text("#melding")
    assert "snijdt zichzelf" in message
    assert page.evaluate("window.kaart.assessment.site") is None
    _shot(page, "11-self-intersecting")
    # A file that is not a site.
    not_a_site = tmp_path / "punt.geojson"
    not_a_site.write_text(json.dumps({"type": "Point", "coordinates": [c.x, c.y]}))
    page.set_input_files("#upload", str(not_a_site))
    page.wait_for_function("() => !document.getElementById('melding').hidden && !document.body.dataset.bezig")
    assert "geen bruikbaar plangebied" in page.inner_text("#melding")
    junk = tmp_path / "plan.gpkg"
    junk.write_bytes(b"dit is geen geopackage")
    page.set_input_files("#upload", str(junk))
    page.wait_for_timeout(300)
    _wait_assessed(page)
    assert "geen bruikbaar plangebied" in page.inner_text("#melding")
    # A site outside the region (drawn 3 km east of it).
    _centre_on(page, c.x + 3000, c.y, 0.5)
    far = shapely.box(c.x + 2980, c.y - 20, c.x + 3020, c.y + 20)
    _draw(page, far)
    _wait_assessed(page)
    assert "buiten de regio" in page.inner_text("#melding")
    _shot(page, "12-outside-region")
    # The map still works: a layer toggles and answers, and a click identifies.
    _centre_on(page, c.x, c.y, 0.5)
    page.check("#laag-landcover")
    _idle(page)
    assert page.evaluate("window.kaart.state.layers.find(s => s.id === 'landcover').on")
    page.mouse.click(*_pixel(page, c.x, c.y))
    page.wait_for_selector("#info section.info-laag[data-layer=landcover]")
    page.click("#info-sluit")
    page.click("#teken")  # and a new drawing can start
    assert page.evaluate("document.body.dataset.tekenen") == "site"
    page.keyboard.press("Escape")


def test_no_request_leaves_the_origin(session: dict[str, Any]) -> None:
    origin = session["server"]
    outside = [u for u in session["all"] if not (u.startswith(origin) or u.startswith(("data:", "blob:")))]
    assert session["all"] and not outside, outside[:5]


def test_internal_layers_need_a_key(browser: Any, server: str, catalog_dir: Path) -> None:
    """``cool-places`` is internal in this catalog: shown only with a key, held in sessionStorage, sent as header."""
    name = f"kaarttest-{uuid.uuid4().hex[:8]}"
    key = subprocess.run([sys.executable, "-m", "services.cli", "apikey", "create", name, "--catalog",
                          str(catalog_dir)], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    page = browser.new_page(viewport=VIEWPORT)
    watch = Watch(page)
    _open(page, server + "/map")
    assert "alleen openbare lagen" in page.inner_text("#sleutel-status")
    assert page.locator("#laag-cool-places").count() == 0
    page.fill("#api-sleutel", "geen-echte-sleutel")
    page.click("#sleutel-gebruik")
    page.wait_for_function("() => document.getElementById('sleutel-status').textContent.includes('geen interne')")
    assert page.locator("#laag-cool-places").count() == 0
    page.fill("#api-sleutel", key)
    page.click("#sleutel-gebruik")
    page.wait_for_selector("#laag-cool-places")
    assert "1 interne laag" in page.inner_text("#sleutel-status")
    assert page.evaluate("sessionStorage.getItem('kaartlaag-api-sleutel')") == key
    before = len(watch.responses)
    page.check("#laag-cool-places")
    _idle(page)
    statuses = [s for s, u in watch.responses[before:] if "/cool-places/" in u and u.endswith(".png")]
    assert statuses and set(statuses) <= {200, 204} and 200 in statuses, statuses
    assert key not in page.url
    _shot(page, "13-internal-layer")
    page.click("#sleutel-wis")
    page.wait_for_function("() => !document.getElementById('laag-cool-places')")
    assert not watch.errors, watch.errors
    page.close()
