"""POST /assess, its report and ``kaartlaag assess`` on a built demo catalog (real server, real PDF).

The identity test is the proof that the assessment has no second implementation: assessing a published
buurt as a site gives the published layers' own figures for that buurt.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from PIL import Image

from layers import catalog as cat
from layers.assess_thresholds import FIGURES
from layers.config import load_config
from layers.publish import read_result
from tests.demo_catalog import ASSESSED, REGION_NORM
from tests.test_server_support import running_server

LAYERS = ASSESSED
TIMEOUT_S = 300.0


@pytest.fixture(scope="module")
def built(demo_catalog: Path) -> dict[str, Any]:
    cfg = load_config(demo_catalog)
    catalog = cat.read_catalog(cfg.catalog_dir)
    published = {i: read_result(cfg.catalog_dir, catalog.layers[i].files) for i in LAYERS}
    return {"root": cfg.catalog_dir, "config": demo_catalog, "published": published, "catalog": catalog}


@pytest.fixture(scope="module")
def server(built: dict[str, Any]) -> Any:
    with running_server(built["root"]) as url:
        yield url


def _inner_buurt(built: dict[str, Any]) -> tuple[str, shapely.Geometry]:
    """A published buurt with dwellings, not on the region edge (its code and polygon)."""
    table = built["published"]["green-paved"].vectors["neighbourhoods"]
    dwellings = built["published"]["tree-3-30-300"].vectors["dwellings"]
    counts = dwellings["buurt_code"].value_counts()
    code = str(counts.index[0])
    return code, table[table["code"] == code].geometry.values[0]


def post(url: str, body: dict[str, Any], path: str = "/assess") -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=TIMEOUT_S)


def test_identity_a_published_buurt_assessed_as_a_site(built: dict[str, Any], server: str) -> None:
    code, polygon = _inner_buurt(built)
    r = post(server, {"geometry": shapely.geometry.mapping(polygon), "crs": "EPSG:28992", "buffer_m": 50})
    assert r.status_code == 200, r.text
    got = r.json()
    site = got["site"]
    green = built["published"]["green-paved"].vectors["neighbourhoods"].set_index("code").loc[code]
    for key in ("building_pct", "paved_pct", "green_pct", "water_pct", "canopy_pct"):
        assert site[key] == pytest.approx(float(green[key]), abs=0.05), key
    heat = built["published"]["heat-stress"].vectors["neighbourhoods"].set_index("code").loc[code]
    assert site["uhi_max_mean"] == pytest.approx(float(heat["uhi_max_mean_k"]), abs=0.02)
    assert site["shade_pct"] == pytest.approx(float(heat["walk_shade_pct_1500"]), abs=0.5)
    dwellings = built["published"]["tree-3-30-300"].vectors["dwellings"]
    mine = dwellings[dwellings["buurt_code"] == code]
    assert site["dwellings"] == len(mine) > 0
    for key, column in (("dwellings_meeting_3", "meets_3"), ("dwellings_meeting_30", "meets_30"),
                        ("dwellings_meeting_300", "meets_300")):
        assert site[key] == int(mine[column].sum()), key
    places = built["published"]["cool-places"].vectors["cool-places"]
    if len(places):
        expected = float(shapely.distance(polygon, places.geometry.values).min())
        assert site["nearest_cool_place_m"] == pytest.approx(expected, abs=1.5)
    assert got["version"]["inputs"] == built["catalog"].inputs.version
    assert got["version"]["layers"]["heat-stress"] == built["catalog"].layers["heat-stress"].version
    assert set(site) == set(FIGURES) and set(got["buffer"]) == set(FIGURES)
    # The region's norm follows the national ones, judged and named by its source.
    (own,) = [row for row in got["thresholds"] if row["source"] == REGION_NORM["source"]]
    assert own["figure"] == "paved_pct" and own["threshold"] == 40.0 and own["operator"] == "<="
    assert own["met"] is (site["paved_pct"] <= 40.0)
    assert len(got["thresholds"]) > 1


def _square(built: dict[str, Any], half: float = 50.0) -> shapely.Polygon:
    _, polygon = _inner_buurt(built)
    c = polygon.representative_point()
    return shapely.box(c.x - half, c.y - half, c.x + half, c.y + half)


def test_unpave_all_takes_paving_to_zero_and_lowers_the_heat(built: dict[str, Any], server: str) -> None:
    site = _square(built)
    r = post(server, {"geometry": shapely.geometry.mapping(site), "buffer_m": 100, "edits": [{"op": "unpave"}],
                      "maps": True})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["before"]["site"]["paved_pct"] > 0
    assert got["after"]["site"]["paved_pct"] == 0
    assert got["delta"]["site"]["uhi_max_mean"] < 0
    assert got["edit_summary"]["unpaved_m2"] > 0
    # The change overlays for a web map: uhi_max lower where the paving went, over the site and its buffer.
    uhi, shade = got["maps"]
    assert (uhi["output"], shade["output"], uhi["crs"]) == ("uhi_max", "shade_pct_1500", "EPSG:28992")
    ring = site.buffer(100, join_style="mitre")
    assert uhi["bounds"] == pytest.approx(list(ring.bounds), abs=1.0)  # snapped outward to the 1 m cells
    image = Image.open(io.BytesIO(base64.b64decode(uhi["image"].split(",", 1)[1])))
    assert image.mode == "RGBA" and np.asarray(image)[..., 3].astype(bool).sum() == uhi["changed_cells"] > 0
    decrease = {c["colour"] for c in uhi["legend"][:3]}  # the three classes of a decrease
    colours = {"#{:02x}{:02x}{:02x}".format(*px[:3]) for px in np.asarray(image).reshape(-1, 4) if px[3]}
    assert colours and colours <= decrease | {uhi["legend"][3]["colour"]}


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]}}, 400,
     "elf-intersect"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, "crs": "EPSG:99999"}, 400,
     "crs"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[10, 310000], [110, 310000], [110, 310100],
                                                       [10, 310100], [10, 310000]]]}}, 400, "regio"),
    ({"geometry": {"type": "Point", "coordinates": [0, 0]}}, 400, "olygon"),
    ({"bag_id": "0000000000000000"}, 400, "0000000000000000"),
    ({"geometry": None, "surprise": 1}, 400, "surprise"),
])
def test_bad_sites_get_a_4xx_naming_the_problem(server: str, body: dict[str, Any], status: int,
                                                 needle: str) -> None:
    r = post(server, body)
    assert r.status_code == status, r.text
    assert needle.lower() in r.json()["detail"].lower()


def test_a_100_km2_site_is_refused_with_413(built: dict[str, Any], server: str) -> None:
    c = _square(built).centroid
    big = shapely.box(c.x - 5000, c.y - 5000, c.x + 5000, c.y + 5000)
    r = post(server, {"geometry": shapely.geometry.mapping(big)})
    assert r.status_code == 413, r.text


def test_uploads_malformed_and_without_prj(built: dict[str, Any], server: str, tmp_path: Path) -> None:
    r = httpx.post(server + "/assess", files={"file": ("site.gpkg", b"not a geopackage")}, timeout=TIMEOUT_S)
    assert r.status_code == 400 and "site.gpkg" in r.json()["detail"], r.text
    frame = gpd.GeoDataFrame({"id": [1]}, geometry=[_square(built)], crs="EPSG:28992")
    frame.to_file(tmp_path / "site.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for ext in ("shp", "shx", "dbf"):
            z.write(tmp_path / f"site.{ext}", f"site.{ext}")
    r = httpx.post(server + "/assess", files={"file": ("site.zip", buf.getvalue())}, timeout=TIMEOUT_S)
    assert r.status_code == 400 and ".prj" in r.json()["detail"], r.text
    frame.to_file(tmp_path / "site.gpkg", driver="GPKG")
    r = httpx.post(server + "/assess", files={"file": ("site.gpkg", (tmp_path / "site.gpkg").read_bytes())},
                   data={"buffer_m": "100"}, timeout=TIMEOUT_S)
    assert r.status_code == 200, r.text
    assert r.json()["site"]["area_m2"] == pytest.approx(10_000, rel=1e-6)


def test_the_pdf_report_has_the_map_and_the_table(built: dict[str, Any], server: str, tmp_path: Path) -> None:
    body = {"geometry": shapely.geometry.mapping(_square(built)), "buffer_m": 100}
    r = post(server, body, "/assess/report.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text[:200]
    pdf = tmp_path / "rapport.pdf"
    pdf.write_bytes(r.content)
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    page = next(tmp_path.glob("p*.png"))
    pixels = np.asarray(Image.open(page).convert("RGB")).reshape(-1, 3)
    # The map: many pixels that are neither white nor grey (the uhi_max colours).
    coloured = (pixels.max(axis=1).astype(int) - pixels.min(axis=1)) > 60
    assert coloured.sum() > 2000
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Plangebied" in text and "Verhard" in text and "Kluck" in text


def test_cli_assess_writes_a_report(built: dict[str, Any], tmp_path: Path) -> None:
    site = tmp_path / "site.geojson"
    site.write_text(json.dumps({"type": "Feature", "properties": {},
                                "geometry": shapely.geometry.mapping(_square(built))}))
    edits = tmp_path / "edits.json"
    edits.write_text(json.dumps([{"op": "plant_trees", "count": 4}]))
    out = tmp_path / "rapport.json"
    done = subprocess.run([sys.executable, "-m", "services.cli", "assess", str(site), "--out", str(out),
                           "--edits", str(edits), "--buffer-m", "100", "--config", str(built["config"])],
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    got = json.loads(out.read_text())
    assert got["after"]["site"]["trees_count"] == got["before"]["site"]["trees_count"] + 4
    bad = subprocess.run([sys.executable, "-m", "services.cli", "assess", str(tmp_path / "missing.geojson"),
                          "--out", str(out), "--config", str(built["config"])], capture_output=True, text=True)
    assert bad.returncode != 0 and "missing.geojson" in bad.stderr and "Traceback" not in bad.stderr


def test_vacancy_and_housing_plans_are_read_off_their_published_layers(built: dict[str, Any], server: str) -> None:
    root, catalog = built["root"], cat.read_catalog(built["root"])
    sites = read_result(root, catalog.layers["housing-sites"].files).vectors["housing-sites"]
    squares = read_result(root, catalog.layers["vacancy"].files).vectors["grid"]
    plan = sites.geometry.values[0]
    r = post(server, {"geometry": shapely.geometry.mapping(plan), "buffer_m": 100})
    assert r.status_code == 200, r.text
    got = r.json()
    # By hand: the published dwelling counts of the squares whose centre lies in the site, and the plans it overlaps.
    centres = shapely.centroid(squares.geometry.values)
    inside = shapely.contains(plan, centres)
    assert got["site"]["vacant_dwellings"] == int(squares["vacant_woonfunctie"].fillna(0)[inside].sum())
    overlap = shapely.area(shapely.intersection(plan, sites.geometry.values)) > 0
    assert got["site"]["housing_sites"] == int(overlap.sum()) >= 1
    assert got["site"]["planned_dwellings"] == int(sites["planned_dwellings"][overlap].sum()) > 0
    assert got["version"]["layers"]["vacancy"] == catalog.layers["vacancy"].version
