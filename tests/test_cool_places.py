"""Layer cool-places and its raster steps (geo.cool) on hand-built cases with known answers."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS
from rich.console import Console
from scipy import ndimage
from shapely.geometry import LineString, Point, box

from geo.cool import merge_patches, patch_sources, shade_at, shaded_patches, window_patches
from geo.errors import ConfigError
from geo.raster import Raster
from geo.solar import SunPosition
from layers.base import BuildContext
from layers.config import load_config
from layers.cool_places import DWELLING_COLUMNS, LAYER
from layers.engine import build
from layers.extent import run_in_memory

RD = CRS.from_epsg(28992)
X0, Y0 = 200_000.0, 450_000.0
WIDTH, HEIGHT = 400, 200
RES = 1.0
IN_USE = "Verblijfsobject in gebruik"


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def raster(data: np.ndarray, name: str) -> Raster:
    return Raster(data, RD, Affine(RES, 0, X0, 0, -RES, Y0 + HEIGHT), nodata=float("nan"), band_names=(name,))


def raise_block(dsm: np.ndarray, x0: float, y0: float, x1: float, y1: float, height: float) -> None:
    """Set the DSM to ``height`` on the cells of a box in local metres (row 0 is the north edge)."""
    dsm[round(HEIGHT - y1) : round(HEIGHT - y0), round(x0) : round(x1)] = height


# --- geo.cool: exact cases with a given sun ---------------------------------------------------


def test_box_shadow_on_a_square_is_selected_with_its_exact_area() -> None:
    """Sun due south at 45 degrees: a 15 m box casts exactly 15 m of shadow north of it."""
    dsm = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    raise_block(dsm, 40, 40, 60, 50, 15.0)  # shadow x 40-60, y 50-65: 300 m2
    raise_block(dsm, 5, 10, 15, 20, 4.0)  # shadow x 5-15, y 20-24: 40 m2
    raise_block(dsm, 75, 40, 95, 50, 15.0)  # shadow x 75-95, y 50-65 on a garden and water
    shaded = shade_at(raster(dsm, "dsm"), SunPosition(45.0, 180.0))
    eligible = np.zeros_like(shaded)
    eligible[HEIGHT - 80 : HEIGHT - 50, 30:70] = True  # public square x 30-70, y 50-80
    eligible[HEIGHT - 35 : HEIGHT - 20, 0:20] = True  # public square x 0-20, y 20-35
    # x 70-100, y 50-70 (garden, water) is not eligible: nothing to add.
    assert shaded[HEIGHT - 70 : HEIGHT - 50, 75:95].sum() == 15 * 20  # the garden and water are shaded ...
    patches = shaded_patches(shaded & eligible, Affine(RES, 0, X0, 0, -RES, Y0 + HEIGHT), 200.0)
    assert patches.area_m2.tolist() == [300.0]  # ... but only the square's shadow is a cool place
    assert patches.too_small == 1  # the 40 m2 patch
    assert patches.geoms[0].equals(rect(40, 50, 60, 65))
    assert patches.geoms[0].area == pytest.approx(300.0)


def test_patch_of_exactly_the_minimum_area_is_kept_and_one_cell_less_is_not() -> None:
    mask = np.zeros((30, 30), dtype=bool)
    mask[0:10, 0:20] = True  # 200 cells
    mask[15:25, 0:19] = True  # 190 cells
    patches = shaded_patches(mask, Affine(1, 0, 0, 0, -1, 30), 200.0)
    assert patches.cells.tolist() == [200] and patches.too_small == 1
    half = shaded_patches(mask, Affine(0.5, 0, 0, 0, -0.5, 15), 50.0)  # 0.5 m cells: 200 cells = 50 m2
    assert half.area_m2.tolist() == [50.0]


def test_connectivity_four_splits_a_corner_contact_and_eight_joins_it() -> None:
    mask = np.zeros((20, 20), dtype=bool)
    mask[0:10, 0:10] = True
    mask[10:20, 10:20] = True  # touches the first block at one corner only
    four = shaded_patches(mask, Affine(1, 0, 0, 0, -1, 20), 150.0, connectivity=4)
    eight = shaded_patches(mask, Affine(1, 0, 0, 0, -1, 20), 150.0, connectivity=8)
    assert four.area_m2.tolist() == [] and four.too_small == 2
    assert eight.area_m2.tolist() == [200.0]
    assert eight.geoms[0].area == pytest.approx(200.0) and eight.geoms[0].is_valid
    with pytest.raises(ValueError, match="connectivity"):
        shaded_patches(mask, Affine(1, 0, 0, 0, -1, 20), 1.0, connectivity=6)


def test_ground_under_a_crown_is_shaded_only_with_a_dtm() -> None:
    from geo.cool import SHADED_SHARE
    from geo.ground_view import ground_view

    dsm = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    raise_block(dsm, 100, 100, 110, 110, 6.0)
    sun = SunPosition(60.0, 200.0)
    without = shade_at(raster(dsm, "dsm"), sun)
    crown = (slice(HEIGHT - 110, HEIGHT - 100), slice(100, 110))
    canopy = np.zeros(dsm.shape, dtype=bool)
    canopy[crown] = True
    view = ground_view(dsm, np.zeros_like(dsm), np.zeros(dsm.shape, dtype=bool), canopy, 1.0, [[sun]])
    with_dtm = view.shades[0] >= SHADED_SHARE
    assert not without[crown].any() and with_dtm[crown].all()
    # The crown's shadow on the ground is the ground view's too: from 1.5 m it is a little shorter.
    assert without.sum() > 0 and (with_dtm & ~without).sum() >= 100


def test_patch_sources_counts_cells_per_polygon() -> None:
    labels = np.array([[1, 1, 0], [1, 2, 2]], dtype=np.int32)
    polygons = np.array([[3, 1, 1], [3, 2, 2]], dtype=np.int32)
    patch, poly, cells = patch_sources(labels, polygons)
    assert list(zip(patch.tolist(), poly.tolist(), cells.tolist(), strict=True)) == [(0, 2, 2), (0, 0, 1), (1, 1, 2)]


# --- the layer: selection, distances and tables ------------------------------------------------


def scene(with_dtm: bool = True, with_streets: bool = True) -> dict[str, Any]:
    """A 400 x 200 m hand-built region (local metres).

    * P: a 20 x 15 m tree crown block (5 m) over public green at x 10-30, y 115-130 (a park):
      300 m2 of shade under the crown, with only unmapped ground around it.
    * Q: a 30 m building at x 210-230, y 150-160 casting its shadow on a public square at
      x 200-260, y 160-190; the square is 40 m from every street, beyond the 20 m access.
    * R: a 3 m shed next to a public square at x 290-320, y 155-190: a shadow under 200 m2.
    * G: a 30 m building whose shadow falls on a private garden and on public water.
    * Streets: y = 100 (x 0-400) and x = 100 (y 0-200). Dwellings D1, D1b (one point, two flats)
      at (150, 90), D2 at (390, 95); a shop at (50, 90) and a dwelling not in use at (60, 90).
    """
    dsm = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    raise_block(dsm, 10, 115, 30, 130, 5.0)
    raise_block(dsm, 210, 150, 230, 160, 30.0)
    raise_block(dsm, 300, 150, 305, 155, 3.0)
    raise_block(dsm, 210, 20, 230, 30, 30.0)
    dtm = np.zeros_like(dsm)
    # The two 30 m blocks are buildings: the dtm below them stays 0, but they are not eligible land cover.
    cover = [
        ("green_trees", "begroeidterreindeel:loofbos", True, rect(10, 115, 30, 130)),
        ("paved_other", "onbegroeidterreindeel:gesloten verharding", True, rect(200, 160, 260, 190)),
        ("paved_other", "onbegroeidterreindeel:gesloten verharding", True, rect(290, 155, 320, 190)),
        ("building", "pand", False, rect(210, 150, 230, 160)),
        ("green_low", "begroeidterreindeel:groenvoorziening", False, rect(200, 30, 222, 60)),
        ("water", "waterdeel:watervlakte", True, rect(222, 30, 260, 60)),
        ("road_paved", "wegdeel:gesloten verharding", True, rect(0, 95, 400, 105)),
    ]
    addresses = [
        ("D1", "woonfunctie", IN_USE, (150, 90)),
        ("D1b", "woonfunctie", IN_USE, (150, 90)),
        ("D2", "woonfunctie", IN_USE, (390, 95)),
        ("S1", "winkelfunctie", IN_USE, (50, 90)),
        ("N1", "woonfunctie", "Verblijfsobject gevormd", (60, 90)),
    ]
    sources: dict[str, Any] = {
        "dsm": raster(dsm, "dsm"),
        "landcover": gpd.GeoDataFrame(
            [{"class": c, "source_class": s, "source_id": f"lc{i}", "public": p}
             for i, (c, s, p, _) in enumerate(cover)],
            geometry=[g for *_, g in cover], crs=RD,
        ),
        "addresses": gpd.GeoDataFrame(
            [{"id": a, "building_id": "b", "use": u, "status": s} for a, u, s, _ in addresses],
            geometry=[Point(X0 + x, Y0 + y) for *_, (x, y) in addresses], crs=RD,
        ),
        "neighbourhoods": gpd.GeoDataFrame(
            {"code": ["BU01", "BU02"], "name": ["West", "Oost"]},
            geometry=[rect(0, 0, 200, 200), rect(200, 0, 400, 200)], crs=RD,
        ),
        "parks": gpd.GeoDataFrame({"id": ["p1"], "name": ["Boschje"]}, geometry=[rect(0, 110, 40, 140)], crs=RD),
    }
    if with_dtm:
        sources["dtm"] = raster(dtm, "dtm")
    if with_streets:
        lines = [LineString([(X0, Y0 + 100), (X0 + 400, Y0 + 100)]), LineString([(X0 + 100, Y0), (X0 + 100, Y0 + 200)])]
        sources["streets"] = gpd.GeoDataFrame({"id": ["s1", "s2"]}, geometry=lines, crs=RD)
    return sources


def run(sources: dict[str, Any], **params: Any) -> Any:
    given = {p.name: p.default for p in LAYER.params} | params
    return run_in_memory(LAYER, sources, (X0, Y0, X0 + WIDTH, Y0 + HEIGHT), crs=RD, params=given,
                         name="Proefdorp", ctx=BuildContext(workers=1))


@pytest.fixture(scope="module")
def result() -> Any:
    return run(scene())


def test_selected_places_crown_and_square_shadow(result: Any) -> None:
    places = result.vectors["cool-places"].set_index("kind")
    assert sorted(places.index) == ["park", "paved"]  # R too small; the garden and water are never places
    park = places.loc["park"]
    assert park["area_m2"] == 300.0 and park.geometry.equals(rect(10, 115, 30, 130))
    assert park["source_classes"] == "begroeidterreindeel:loofbos" and park["green_pct"] == 100.0
    # Q by hand: the shadow of the 30 m box is the sweep of its footprint away from the sun over
    # 30 / tan(elevation) m, i.e. the convex hull of the footprint and its shifted copy.
    sun = result.metadata["sun_position_deg"]
    length = 30.0 / math.tan(math.radians(sun["elevation"]))
    away = math.radians(sun["azimuth"] + 180.0)
    foot = rect(210, 150, 230, 160)
    swept = shapely.convex_hull(shapely.union(foot, shapely.affinity.translate(
        foot, length * math.sin(away), length * math.cos(away))))
    expected = swept.intersection(rect(200, 160, 260, 190))
    square = places.loc["paved"]
    # Cells are taken by their centres: the area agrees within half a cell along the shadow's edge.
    assert abs(square["area_m2"] - expected.area) <= 0.5 * RES * expected.length
    assert square["source_classes"] == "onbegroeidterreindeel:gesloten verharding"
    assert square["green_pct"] == 0.0
    counts = result.metadata["log"]["counts"]
    assert counts["cool_places"] == 2 and counts["shaded_patches_too_small"] >= 1
    assert counts["landcover_private"] == 1


def test_sun_and_date_are_in_the_metadata(result: Any) -> None:
    meta = result.metadata
    assert meta["shade_time"] == "2025-07-01T15:00:00+02:00"
    assert 50.0 < meta["sun_position_deg"]["elevation"] < 62.0  # 15:00 CEST on 1 July at 52 N
    assert 200.0 < meta["sun_position_deg"]["azimuth"] < 235.0  # south-west
    assert "Kluck" in meta["reference"] and meta["view"]["kind"] == "person on the ground"


def test_network_distance_to_the_crown_place(result: Any) -> None:
    table = result.vectors["dwellings"].set_index("dwelling_id")
    assert list(result.vectors["dwellings"].columns) == [*DWELLING_COLUMNS, "geometry"]
    assert sorted(table.index) == ["D1", "D1b", "D2"]  # no shop, no dwelling not in use
    # The 20 m access zone of P (bottom edge at y = 115) meets the street y = 100 up to
    # x = 30 + sqrt(20^2 - 15^2); D1 walks 10 m to the street and then along it.
    reach = 30.0 + math.sqrt(20.0**2 - 15.0**2)
    d1 = 10.0 + 150.0 - reach
    assert table.loc["D1", "cool_distance_m"] == pytest.approx(d1, abs=0.05)
    assert table.loc["D1b", "cool_distance_m"] == table.loc["D1", "cool_distance_m"]
    assert table.loc["D2", "cool_distance_m"] == pytest.approx(5.0 + 390.0 - reach, abs=0.05)
    assert table["meets_cool_300"].tolist() == [True, True, False]
    assert table.loc["D1", "cool_place_id"] == table.loc["D2", "cool_place_id"]
    assert result.metadata["distance_method"].startswith("network")


def test_neighbourhood_shares_and_places_served(result: Any) -> None:
    buurten = result.vectors["neighbourhoods"].set_index("code")
    assert buurten["dwellings"].tolist() == [2, 1]
    assert buurten["dwellings_within_300"].tolist() == [2, 0]
    assert buurten["share_pct"].tolist() == [100.0, 0.0]
    places = result.vectors["cool-places"].set_index("kind")
    assert places.loc["park", "dwellings_nearest"] == 3 and places.loc["park", "dwellings_within"] == 2
    assert places.loc["paved", "dwellings_nearest"] == 0


def test_without_dtm_the_crown_is_sunlit_and_without_streets_distance_is_straight() -> None:
    no_dtm = run(scene(with_dtm=False))
    assert no_dtm.vectors["cool-places"]["kind"].tolist() == ["paved"]
    assert any("no dtm" in n for n in no_dtm.metadata["log"]["notes"])
    straight = run(scene(with_streets=False))
    table = straight.vectors["dwellings"].set_index("dwelling_id")
    places = straight.vectors["cool-places"].set_index("id")
    # As the crow flies D1 is nearer the square (about 92 m) than the crown place (hypot(120, 25) m).
    assert table.loc["D1", "cool_distance_m"] < math.hypot(150 - 30, 115 - 90)
    for dwelling in ("D1", "D2"):
        point = Point(X0 + (150 if dwelling == "D1" else 390), Y0 + (90 if dwelling == "D1" else 95))
        nearest = places.geometry.distance(point)
        assert table.loc[dwelling, "cool_place_id"] == nearest.idxmin()
        assert table.loc[dwelling, "cool_distance_m"] == pytest.approx(nearest.min(), abs=0.05)
    assert straight.metadata["distance_method"].startswith("straight")


def test_parameters_change_the_answer() -> None:
    big = run(scene(), min_area_m2=301.0)  # P is 300 m2
    assert "park" not in big.vectors["cool-places"]["kind"].tolist()
    near = run(scene(), max_distance_m=100.0)
    assert not near.vectors["dwellings"]["meets_cool_300"].any()
    unknown = scene()
    unknown["landcover"]["public"] = None
    assert len(run(unknown, public_unknown="exclude").vectors["cool-places"]) == 0
    assert len(run(unknown, public_unknown="include").vectors["cool-places"]) >= 2


def test_bad_parameters_name_themselves() -> None:
    with pytest.raises(ConfigError, match="shade_date"):
        run(scene(), shade_date="1 juli")
    with pytest.raises(ConfigError, match="excluded_source_pattern"):
        run(scene(), excluded_source_pattern="rijbaan(")
    with pytest.raises(ConfigError, match="connectivity"):
        LAYER.resolve_params({"connectivity": 6}, "layers.cool-places")


def test_carriageway_source_classes_are_excluded() -> None:
    sources = scene()
    square = sources["landcover"]["source_class"] == "onbegroeidterreindeel:gesloten verharding"
    sources["landcover"].loc[square, "source_class"] = "wegdeel:rijbaan lokale weg"
    assert run(sources).vectors["cool-places"]["kind"].tolist() == ["park"]


def test_road_parts_count_by_their_bgt_function() -> None:
    # The two squares registered as BGT road parts: a pedestrian area stays a place, a carriageway is none.
    sources = scene()
    lc = sources["landcover"]
    square = lc["source_class"] == "onbegroeidterreindeel:gesloten verharding"
    lc.loc[square, "class"] = "road_paved"
    lc.loc[square, "source_class"] = "wegdeel:gesloten verharding"
    lc["function"] = None
    lc.loc[square, "function"] = "voetgangersgebied"
    pedestrian = run(sources).vectors["cool-places"]
    assert sorted(pedestrian["kind"]) == ["park", "paved"]
    lc.loc[square, "function"] = "rijbaan lokale weg"
    assert run(sources).vectors["cool-places"]["kind"].tolist() == ["park"]
    lc.loc[square, "function"] = "voetgangersgebied"
    assert run(sources, place_road_functions=[]).vectors["cool-places"]["kind"].tolist() == ["park"]


def test_map_rules_name_real_outputs_and_columns() -> None:
    from styles.cool import cool_place_rules, register
    from styles.vector import vector_legend, vector_rules

    register()
    register()  # a second call is harmless
    outputs = {o.name for o in LAYER.outputs}
    for rule in cool_place_rules():
        assert rule.source_layer in outputs
        assert rule.field in (None, *DWELLING_COLUMNS)
    drawn = vector_rules("cool-places", [{"id": "cool-places"}, {"id": "dwellings"}])
    labels = [item["label"] for item in vector_legend("Koele plekken", drawn)["items"]]
    assert labels == [
        "Koele plek (schaduw ≥ 200 m²)", "Woning binnen 300 m van koele plek", "Woning verder dan 300 m van koele plek"
    ]


def test_demo_region_builds_cool_places_through_the_engine(tmp_path: Path, demo_catalog: Path) -> None:
    # The session's 1 km demo built cool-places through the engine in one window (``tests.demo_catalog``).
    root = load_config(demo_catalog).catalog_dir
    entry = json.loads((root / "catalog.json").read_text())["layers"]["cool-places"]
    files = {f["output"]: root / f["path"] for f in entry["files"] if f["format"] == "parquet"}
    places = gpd.read_parquet(files["cool-places"])
    assert len(places) == entry["metadata"]["log"]["counts"]["cool_places"] > 0
    assert (places["area_m2"] >= 200.0).all()
    assert np.allclose(places.geometry.area, places["area_m2"], atol=0.1)
    dwellings = gpd.read_parquet(files["dwellings"])
    assert len(dwellings) == entry["metadata"]["log"]["counts"]["dwellings"] > 0
    assert (dwellings["meets_cool_300"] == (dwellings["cool_distance_m"] <= 300)).all()
    per_buurt = gpd.read_parquet(files["neighbourhoods"])
    assert per_buurt["dwellings_within_300"].sum() == dwellings["meets_cool_300"].sum()
    assert entry["parameters"]["min_area_m2"] == 200.0 and entry["parameters"]["shade_hour"] == 15.0
    assert entry["metadata"]["distance_method"].startswith("network")
    assert any(f["format"] == "pmtiles" for f in entry["files"])
    assert entry["metadata"]["windows"] == 1

    # The same region in 300-cell windows: the same places (joined across the window edges) and distances.
    # Built from a copy of the demo's sources into a catalog of its own (the shared one is only read).
    config = tmp_path / "demo" / demo_catalog.name
    shutil.copytree(demo_catalog.parent, config.parent, ignore=shutil.ignore_patterns(root.name))
    summary = build(load_config(config), ["cool-places"], ctx=BuildContext(window_cells=300),
                    console=Console(quiet=True))
    assert summary.built == ["cool-places"]
    root = load_config(config).catalog_dir
    assert root != load_config(demo_catalog).catalog_dir
    entry = json.loads((root / "catalog.json").read_text())["layers"]["cool-places"]
    assert entry["metadata"]["windows"] == 16
    files = {f["output"]: root / f["path"] for f in entry["files"] if f["format"] == "parquet"}
    windowed = gpd.read_parquet(files["cool-places"])
    assert sorted(windowed["area_m2"]) == sorted(places["area_m2"])
    assert windowed.union_all().symmetric_difference(places.union_all()).area < 1e-6
    again = gpd.read_parquet(files["dwellings"]).set_index("dwelling_id")
    one = dwellings.set_index("dwelling_id")
    assert np.allclose(again.loc[one.index, "cool_distance_m"], one["cool_distance_m"], equal_nan=True)


def test_patches_joined_across_windows_equal_one_window() -> None:
    rng = np.random.default_rng(11)
    # Blobs of shade: a smoothed random field, cut into 3 x 3 windows that split many patches.
    field = ndimage.uniform_filter(rng.random((90, 120)), 7)
    mask = field > np.quantile(field, 0.55)
    polygons = (np.arange(mask.size).reshape(mask.shape) // 37 % 5 + 1).astype(np.int32)
    transform = Affine(1.0, 0, 0, 0, -1.0, 90.0)
    for connectivity in (4, 8):
        whole = shaded_patches(mask, transform, 30.0, connectivity)
        pieces = []
        for r0 in (0, 30, 60):
            for c0 in (0, 40, 80):
                part = (slice(r0, r0 + 30), slice(c0, c0 + 40))
                pieces.append(window_patches(mask[part], polygons[part], transform * Affine.translation(c0, r0),
                                             30.0, connectivity))
        merged = merge_patches(pieces, 1.0, 30.0, connectivity)
        assert sum(p.border.sum() for p in pieces) > 20  # many patches really were cut by the windows
        assert sorted(merged.cells) == sorted(whole.cells)
        assert merged.too_small == whole.too_small
        assert np.isclose(sum(shapely.area(merged.geoms)), sum(shapely.area(whole.geoms)))
        # The same land-cover cells under the places in all.
        _, poly, cells = merged.pairs
        _, poly_w, cells_w = patch_sources(whole.labels, polygons)
        assert np.array_equal(np.bincount(poly, cells, 6), np.bincount(poly_w, cells_w, 6))
