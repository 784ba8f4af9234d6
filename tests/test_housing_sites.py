"""Housing sites: validation of the monitor fields (geo.housing_sites) and the enrichment of layer housing-sites.

The enrichment runs on a small hand-built region whose every value is worked out by hand in the comments.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString, Point, box

from geo.errors import SourceError
from geo.housing_sites import parse_phasing
from geo.io import read_vector_source
from geo.raster import Raster
from layers.base import LayerResult
from layers.extent import run_in_memory
from layers.housing_sites import LAYER, sample_points

RD = CRS.from_epsg(28992)
X0, Y0 = 200_000.0, 450_000.0
W, H = 1200.0, 1000.0


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def pt(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def site_frame(**overrides: object) -> gpd.GeoDataFrame:
    row: dict[str, object] = {
        "id": "WL01", "name": "Esch-West", "municipality": "Eschveld", "status": "Vastgesteld",
        "planned_dwellings": 100, "sociale_huur": 30, "middelduur": 40, "duur": 30,
        "dwellings_grondgebonden": 60, "dwellings_gestapeld": 40, "phasing": "2027:40; 2028:60",
        "inside_built_up": "ja",
    }
    row.update(overrides)
    return gpd.GeoDataFrame({k: [v] for k, v in row.items()}, geometry=[rect(400, 400, 500, 500)], crs=RD)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("driver,suffix", [("GPKG", ".gpkg"), ("GeoJSON", ".geojson")])
def test_valid_site_is_normalised(tmp_path: Path, driver: str, suffix: str) -> None:
    path = tmp_path / f"sites{suffix}"
    site_frame(phase_2029=0).to_file(path, driver=driver)
    sites = read_vector_source("housing_sites", path, RD)
    row = sites.iloc[0]
    assert row["status"] == "vastgesteld"
    assert bool(row["hard"]) is True  # vastgesteld is hard plan capacity
    assert row["phasing"] == "2027:40;2028:60;2029:0"
    assert (row["first_year"], row["last_year"]) == (2027, 2029)
    assert bool(row["inside_built_up"]) is True
    assert int(row["sociale_huur"]) == 30


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"planned_dwellings": -5}, "planned_dwellings -5 is negative"),
        ({"planned_dwellings": 12.5}, "planned_dwellings 12.5 is not a whole number"),
        ({"status": "idee"}, "unknown status 'idee'; allowed: onherroepelijk, vastgesteld"),
        ({"sociale_huur": -1}, "sociale_huur -1 is negative"),
        ({"duur": 50}, "price segments add up to 120 dwellings, more than planned_dwellings 100"),
        ({"phasing": "2027:40; 2028:70"}, "the phasing add up to 110"),
        ({"phasing": "in 2027"}, "'in 2027' is not 'year:dwellings'"),
        ({"inside_built_up": "misschien"}, "inside_built_up 'misschien' is not true or false"),
    ],
)
def test_invalid_site_is_refused_naming_file_and_site(tmp_path: Path, overrides: dict, message: str) -> None:
    path = tmp_path / "sites.geojson"
    site_frame(**overrides).to_file(path, driver="GeoJSON")
    with pytest.raises(SourceError) as err:
        read_vector_source("housing_sites", path, RD)
    text = str(err.value)
    assert message in text
    assert str(path) in text and "WL01 (Esch-West)" in text


def test_text_count_in_geojson_is_read_or_refused(tmp_path: Path) -> None:
    path = tmp_path / "sites.geojson"
    site_frame(planned_dwellings="80", sociale_huur=None, middelduur=None, duur=None, dwellings_grondgebonden=None,
               dwellings_gestapeld=None, phasing=None).to_file(path, driver="GeoJSON")
    assert int(read_vector_source("housing_sites", path, RD)["planned_dwellings"].iloc[0]) == 80
    site_frame(planned_dwellings="tachtig").to_file(path, driver="GeoJSON")
    with pytest.raises(SourceError, match="'tachtig' is not a whole number"):
        read_vector_source("housing_sites", path, RD)


def test_hard_follows_the_status_unless_given() -> None:
    from geo.housing_sites import validate_housing_sites

    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "name": ["A", "B", "C"], "status": ["potentie", "onherroepelijk", "visie"],
         "planned_dwellings": [1, 2, 3], "hard": [None, None, True]},
        geometry=[rect(0, 0, 1, 1), rect(2, 0, 3, 1), rect(4, 0, 5, 1)], crs=RD)
    out = validate_housing_sites(frame, "x.gpkg")
    assert out["hard"].tolist() == [False, True, True]


def test_phasing_text_and_json() -> None:
    assert parse_phasing("2027:40, 2028:60") == {2027: 40, 2028: 60}
    assert parse_phasing('{"2030": 12}') == {2030: 12}
    with pytest.raises(ValueError, match="year 2027 is given twice"):
        parse_phasing("2027:1;2027:2")
    with pytest.raises(ValueError, match="not a whole number"):
        parse_phasing("2027:1.5")


# --- enrichment on a hand-built region ---------------------------------------------------------
#
# Region 1200 x 1000 m. Site S = (400..500, 400..500): west half green_low, east half paved_other.
# A building (600..700, 400..500) lies 100-200 m east of it; a park (400..600, 850..950) 350 m north;
# everything else is agriculture (a green class of green-paved).
# Streets: y = 515 across the region, and x = 450 from y = 515 up to y = 840 (10 m below the park).


SITE = rect(400, 400, 500, 500)
BUILDING = rect(600, 400, 700, 500)
PARK = rect(400, 850, 600, 950)
RES = 10.0


def landcover() -> gpd.GeoDataFrame:
    west, east = rect(400, 400, 450, 500), rect(450, 400, 500, 500)
    rest = rect(0, 0, W, H).difference(shapely.union_all([SITE, BUILDING, PARK]))
    rows = [("green_low", west), ("paved_other", east), ("building", BUILDING), ("green_trees", PARK),
            ("agriculture", rest)]
    return gpd.GeoDataFrame(
        {"class": [r[0] for r in rows], "source_class": [f"test:{r[0]}" for r in rows],
         "source_id": [f"lc{i}" for i in range(len(rows))], "public": [True] * len(rows)},
        geometry=[r[1] for r in rows], crs=RD)


def grid_raster(values: np.ndarray, name: str) -> Raster:
    return Raster(values.astype(np.float32), RD, Affine(RES, 0, X0, 0, -RES, Y0 + H), nodata=float("nan"),
                  band_names=(name,))


def heat_result() -> LayerResult:
    """uhi_max 2 K everywhere, 3 K on the east half of the site: mean 2.5 K, max 3 K on the site."""
    uhi = np.full((int(H / RES), int(W / RES)), 2.0)
    uhi[50:60, 45:50] = 3.0  # rows 50-59 are y 500..400, columns 45-49 are x 450..500
    return LayerResult(rasters={"uhi_max": grid_raster(uhi, "uhi_max")})


def flood_raster() -> Raster:
    """0.5 m on the site's southern 20 m (rows 58-59), no value (dry) elsewhere."""
    depth = np.full((int(H / RES), int(W / RES)), np.nan)
    depth[58:60, 40:50] = 0.5
    return grid_raster(depth, "flood")


def sources(with_streets: bool = True) -> dict[str, object]:
    from geo.housing_sites import validate_housing_sites

    sites = validate_housing_sites(site_frame(), "sites.gpkg")
    amenities = gpd.GeoDataFrame(
        {"id": ["a1", "a2", "a3"], "type": ["supermarket", "Primary school", "pt_stop"]},
        geometry=[pt(460, 700), pt(1100, 515), pt(200, 515)], crs=RD)
    out: dict[str, object] = {
        "housing_sites": sites, "landcover": landcover(), "amenities": amenities, "flood": flood_raster(),
        "parks": gpd.GeoDataFrame({"id": ["p1"], "name": ["Park"]}, geometry=[PARK], crs=RD),
    }
    if with_streets:
        out["streets"] = gpd.GeoDataFrame(
            {"id": ["s1", "s2"]},
            geometry=[LineString([(X0, Y0 + 515), (X0 + W, Y0 + 515)]),
                      LineString([(X0 + 450, Y0 + 515), (X0 + 450, Y0 + 840)])], crs=RD)
    return out


def run(with_streets: bool = True, **params: object) -> gpd.GeoDataFrame:
    result = run_in_memory(LAYER, sources(with_streets), (X0, Y0, X0 + W, Y0 + H), crs=RD,
                           params={"max_park_distance_m": 400.0, **params},
                           dependencies={"heat-stress": heat_result()})
    return result.vectors["housing-sites"]


@pytest.fixture(scope="module")
def enriched() -> gpd.GeoDataFrame:
    return run()


def test_heat_green_and_flood_by_hand(enriched: gpd.GeoDataFrame) -> None:
    row = enriched.iloc[0]
    assert row["area_m2"] == 10_000.0
    assert (row["uhi_max_mean"], row["uhi_max_max"]) == (2.5, 3.0)
    assert row["green_pct_site"] == 50.0  # the west half
    band = shapely.buffer(SITE, 300.0).area - SITE.area  # the band holds the building, the rest is green
    assert row["green_pct_300m"] == pytest.approx(100 * (band - BUILDING.area) / band, abs=0.05)
    assert (row["flood_depth_mean_m"], row["flood_depth_max_m"], row["flood_share_pct"]) == (0.1, 0.5, 20.0)


def test_park_walk_share_by_hand(enriched: gpd.GeoDataFrame) -> None:
    """Point (x, y) walks 515 - y to the street, |x - 450| along it, 315 m up the side street to 20 m below
    the park: within 400 m when (515 - y) + |x - 450| <= 85; on the 10 x 10 lattice that holds for
    10 + 10 + 10 + 8 + 6 + 4 + 2 = 50 of 100 points."""
    xs = np.arange(405, 500, 10.0)
    count = sum((515 - y) + abs(x - 450) <= 85 for x in xs for y in xs)
    assert count == 50
    assert enriched.iloc[0]["park_walk_share_pct"] == 50.0
    # Straight lines: 850 - y <= 400 for the five northern rows.
    assert run(with_streets=False).iloc[0]["park_walk_share_pct"] == 50.0
    assert run(with_streets=False, max_park_distance_m=380.0).iloc[0]["park_walk_share_pct"] == 30.0


def test_amenity_walks_by_hand(enriched: gpd.GeoDataFrame) -> None:
    """The walk leaves the site where the streets come within 20 m of it: the side street at y = 520 and the
    main street (15 m from the site) up to x = 500 + sqrt(20^2 - 15^2)."""
    row = enriched.iloc[0]
    corner = math.sqrt(20**2 - 15**2)
    assert row["dist_supermarket_m"] == pytest.approx(700 - 520 + 10, abs=0.05)  # up the side street, 10 m leg
    assert row["dist_primary_school_m"] == pytest.approx(1100 - 500 - corner, abs=0.05)
    assert row["dist_pt_stop_m"] == pytest.approx(400 - corner - 200, abs=0.05)
    assert np.isnan(row["dist_gp_m"])  # no GP within reach
    straight = run(with_streets=False).iloc[0]
    assert straight["dist_supermarket_m"] == 200.0
    assert straight["dist_primary_school_m"] == pytest.approx(math.hypot(600, 15), abs=0.05)


def test_a_site_without_a_street_within_reach_walks_from_its_nearest_street() -> None:
    """With amenity_access_m 5 the main street (15 m off) is out of reach: the walk starts on it at y = 515 and
    the 15 m leg to the site counts."""
    row = run(amenity_access_m=5.0).iloc[0]
    assert row["dist_supermarket_m"] == pytest.approx(15 + (700 - 515) + 10, abs=0.05)
    assert row["dist_primary_school_m"] == pytest.approx(15 + (1100 - 500), abs=0.05)


def test_suitability_is_the_weighted_sum_of_shown_scores(enriched: gpd.GeoDataFrame) -> None:
    row = enriched.iloc[0]
    expected = {
        "heat": (2.5 - 3) / (1 - 3), "green": 1.0, "park": 0.5, "supermarket": 1.0,
        "primary_school": (row["dist_primary_school_m"] - 1500) / (500 - 1500), "gp": 0.0, "pt_stop": 1.0,
        "flood": (0.5 - 0.8) / (0 - 0.8),
    }
    for name, value in expected.items():
        assert row[f"score_{name}"] == pytest.approx(value, abs=1e-3), name
    weights = {"heat": 2, "flood": 2}
    total = sum(weights.get(n, 1) * v for n, v in expected.items()) / sum(weights.get(n, 1) for n in expected)
    assert row["suitability"] == pytest.approx(100 * total, abs=0.05)
    assert row["criteria_used"] == "heat,green,park,supermarket,primary_school,gp,pt_stop,flood"
    # Weights from the config change the score, not the criteria.
    heat_only = run(weight_green=0.0, weight_park=0.0, weight_supermarket=0.0, weight_primary_school=0.0,
                    weight_gp=0.0, weight_pt_stop=0.0, weight_flood=0.0).iloc[0]
    assert heat_only["suitability"] == 25.0
    assert heat_only["dist_supermarket_m"] == row["dist_supermarket_m"]


def test_missing_optional_inputs_leave_criteria_out() -> None:
    src = sources()
    for name in ("flood", "amenities"):
        del src[name]
    result = run_in_memory(LAYER, src, (X0, Y0, X0 + W, Y0 + H), crs=RD, params={"max_park_distance_m": 400.0})
    row = result.vectors["housing-sites"].iloc[0]
    assert row["criteria_used"] == "green,park"
    assert np.isnan(row["uhi_max_mean"]) and np.isnan(row["flood_depth_max_m"])
    assert row["suitability"] == pytest.approx(100 * (1.0 + 0.5) / 2, abs=0.05)
    assert any("no flood raster" in n for n in result.metadata["log"]["notes"])


def test_sample_points_lattice() -> None:
    assert len(sample_points(SITE, 10.0)) == 100
    tiny = rect(401, 401, 403, 403)
    assert len(sample_points(tiny, 10.0)) == 1


# --- vacant dwellings within 500 m, read off the vacancy layer's published squares -------------------------

IN_USE = "Verblijfsobject in gebruik"


def vacancy_sources(n_near: int, n_far: int = 6) -> dict[str, object]:
    """``n_near`` vacant dwellings 50 m east of the site and 6 occupied ones beside them (one 100 m square), and
    ``n_far`` vacant plus 6 occupied dwellings 600 m east of the site (another square); one buurt over the region.
    (A vacant shop beside the near dwellings would make the vacancy layer suppress their square's dwelling
    count: with the shop's count suppressed, it would follow from the square's total.)"""
    rows: list[tuple[str, str, Point]] = []
    rows += [(f"near-vacant-{i}", "woonfunctie", pt(550, 402 + 10 * i)) for i in range(n_near)]
    rows += [(f"near-occupied-{i}", "woonfunctie", pt(560, 402 + 10 * i)) for i in range(6)]
    rows += [(f"far-vacant-{i}", "woonfunctie", pt(1150, 402 + 10 * i)) for i in range(n_far)]
    rows += [(f"far-occupied-{i}", "woonfunctie", pt(1160, 402 + 10 * i)) for i in range(6)]
    addresses = gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "building_id": [f"b-{r[0]}" for r in rows], "use": [r[1] for r in rows],
         "status": IN_USE, "floor_area_m2": 80.0}, geometry=[r[2] for r in rows], crs=RD)
    occupied = [r[0] for r in rows if "occupied" in r[0]]
    # The first vacant one moved out in 2024: its registration ended before the reference date.
    occupancy = gpd.pd.DataFrame({
        "address_id": [*occupied, "near-vacant-0"], "registration": "resident",
        "since": ["2001-05-01"] * len(occupied) + ["2010-01-01"],
        "until": [None] * len(occupied) + ["2024-06-30"],
    })
    src = sources()
    buurt = gpd.GeoDataFrame({"code": ["BU00000001"], "name": ["Proefbuurt"]}, geometry=[rect(0, 0, W, H)], crs=RD)
    src.update(addresses=addresses, occupancy=occupancy, neighbourhoods=buurt)
    return src


def vacancy_layer(src: dict[str, object]) -> LayerResult:
    from layers.vacancy import LAYER as VACANCY

    return run_in_memory(VACANCY, src, (X0, Y0, X0 + W, Y0 + H), crs=RD, params={"reference_date": "2026-01-01"})


def run_vacancy(n_near: int, n_far: int = 6, **params: object) -> gpd.GeoDataFrame:
    src = vacancy_sources(n_near, n_far)
    result = run_in_memory(LAYER, src, (X0, Y0, X0 + W, Y0 + H), crs=RD, params=params,
                           dependencies={"heat-stress": heat_result(), "vacancy": vacancy_layer(src)})
    return result.vectors["housing-sites"]


def test_vacant_dwellings_within_500m_are_the_published_squares_of_the_vacancy_layer() -> None:
    from layers.vacancy_tables import GRID_OUTPUT as VACANCY_GRID
    from layers.vacancy_tables import VACANT_DWELLINGS

    grid = vacancy_layer(vacancy_sources(7)).vectors[VACANCY_GRID]
    assert VACANT_DWELLINGS in grid.columns
    # 7 vacant dwellings in the near square publish as 5 (rounded), the 6 of the far one as 5.
    assert sorted(grid[VACANT_DWELLINGS].dropna().astype(int)) == [5, 5]
    assert run_vacancy(7).iloc[0]["vacant_dwellings_500m"] == 5
    assert run_vacancy(8).iloc[0]["vacant_dwellings_500m"] == 10  # 8 publish as 10
    # The far square's centre (650 m from the site's edge) counts once the radius reaches it.
    assert run_vacancy(7, vacancy_radius_m=700.0).iloc[0]["vacant_dwellings_500m"] == 10


def test_a_difference_of_sites_tells_nothing_the_published_squares_do_not() -> None:
    """One vacant dwelling more or less, or moved inside its square, changes the site figure only through
    the published squares: 7 and 6 vacant near the site both publish 5, and so give the same site value."""
    assert run_vacancy(7).iloc[0]["vacant_dwellings_500m"] == run_vacancy(6).iloc[0]["vacant_dwellings_500m"]
    assert run_vacancy(4, n_far=6).iloc[0]["vacant_dwellings_500m"] == 0  # 4: suppressed in the square


def test_without_the_vacancy_layer_the_figure_is_null_and_left_out_of_the_score() -> None:
    result = run_in_memory(LAYER, vacancy_sources(7), (X0, Y0, X0 + W, Y0 + H), crs=RD,
                           dependencies={"heat-stress": heat_result()})
    row = result.vectors["housing-sites"].iloc[0]
    assert gpd.pd.isna(row["vacant_dwellings_500m"]) and "vacancy" not in row["criteria_used"]


def test_public_site_table_carries_no_address_ids() -> None:
    table = run_vacancy(7)
    ids = set(vacancy_sources(7)["addresses"]["id"])  # type: ignore[index]
    for col in table.columns.drop("geometry"):
        assert not ids & set(table[col].astype(str)), col
    assert not {"address_id", "dwelling_id", "vacant_since"} & set(table.columns)


def test_an_extent_of_the_site_alone_gives_the_answers_of_the_whole_region(enriched: gpd.GeoDataFrame) -> None:
    """The declared reach reads every input the site needs, so the site's own extent gives the same row."""
    part = run_in_memory(LAYER, sources(), SITE.bounds, crs=RD, boundary=SITE, params={"max_park_distance_m": 400.0},
                         dependencies={"heat-stress": heat_result()}).vectors["housing-sites"]
    whole = enriched.drop(columns="geometry").iloc[0]
    got = part.drop(columns="geometry").iloc[0]
    for col in whole.index:
        assert (pd.isna(whole[col]) and pd.isna(got[col])) or whole[col] == got[col], col
