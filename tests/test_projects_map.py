"""Layer projects-map: pairs of housing sites and projects that meet in space and in time, by hand."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import LineString, box

from geo.errors import SourceError
from geo.housing_sites import validate_housing_sites
from geo.projects import read_projects, validate_projects
from layers.extent import run_in_memory
from layers.projects_map import LAYER

RD = CRS.from_epsg(28992)
X0, Y0 = 200_000.0, 450_000.0
BOUNDS = (X0, Y0, X0 + 2000, Y0 + 1000)


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def line(x0: float, y0: float, x1: float, y1: float) -> LineString:
    return LineString([(X0 + x0, Y0 + y0), (X0 + x1, Y0 + y1)])


def sites() -> gpd.GeoDataFrame:
    """S1 builds 2027-2028; S2 (no phasing) lies far east; S3 touches S1 and builds in 2027 too."""
    frame = gpd.GeoDataFrame(
        {"id": ["S1", "S2", "S3"], "name": ["Esch-West", "Kampveld", "Beekzicht"],
         "status": ["vastgesteld", "visie", "onherroepelijk"], "planned_dwellings": [100, 50, 20],
         "phasing": ["2027:40;2028:60", None, "2027:20"]},
        geometry=[rect(100, 100, 300, 300), rect(1500, 100, 1700, 300), rect(300, 100, 400, 200)], crs=RD)
    return validate_housing_sites(frame, "sites.gpkg")


def projects() -> gpd.GeoDataFrame:
    """P1: a sewer along S1's north side, 30 m off, 2026-2027 (meets S1 in space and time).
    P2: cables 30 m north of P1, 60 m north of S1, 2027.
    P3: crossing S2, 2025 (meets S2 in space; S2 has no years).
    P4: fibre running north from 22 m above P1's east end, 52 m from S1's corner, 2030."""
    frame = gpd.GeoDataFrame(
        {"id": ["P1", "P2", "P3", "P4"], "name": ["Riolering", "Kabels", "Weg", "Glasvezel"],
         "kind": ["riolering", "kabels", "reconstructie weg", "glasvezel"],
         "start": ["2026-09-01", "2027", "2025-01-01", "2030-01-01"], "end": ["2027-03-31", "2027", "2025-12-31",
                                                                              "2030-06-30"]},
        geometry=[line(100, 330, 300, 330), line(100, 360, 200, 360), line(1600, 0, 1600, 400),
                  line(300, 352, 300, 450)], crs=RD)
    return validate_projects(frame, "projects.gpkg")


def run(**params: object) -> dict[str, gpd.GeoDataFrame]:
    return run_in_memory(LAYER, {"housing_sites": sites(), "projects": projects()}, BOUNDS, crs=RD,
                         params=params).vectors


def pair_set(overlaps: gpd.GeoDataFrame) -> dict[frozenset[str], tuple[float, object]]:
    return {frozenset((a, b)): (d, t) for a, b, d, t in
            zip(overlaps["a_id"], overlaps["b_id"], overlaps["distance_m"], overlaps["overlap_time"], strict=True)}


def test_pairs_in_space_and_time_by_hand() -> None:
    out = run()
    found = pair_set(out["overlaps"])
    # P1-S1: 30 m apart, 2026-2027 and 2027-2028 share 2027. P1-P2: 30 m, P1 (2026-2027) and P2 (2027) share 2027.
    # P1-S3: S3's corner (300, 200) to P1's end (300, 330) is 130 m: too far. P1-P4: 22 m, 2030 vs 2027: no.
    # P4-S1: 52 m, too far.
    # P3 crosses S2 (0 m); S2 has no phasing: time unknown. S1-S3 touch but sites are not compared.
    assert set(found) == {frozenset(p) for p in (("P1", "S1"), ("P1", "P2"), ("P1", "P4"), ("P3", "S2"))}
    assert found[frozenset(("P1", "S1"))] == (30.0, True)
    assert found[frozenset(("P1", "P2"))] == (30.0, True)
    assert found[frozenset(("P1", "P4"))] == (22.0, False)
    assert found[frozenset(("P3", "S2"))][0] == 0.0 and pd.isna(found[frozenset(("P3", "S2"))][1])
    row = out["overlaps"].set_index(["a_id", "b_id"])
    assert row.loc[("S1", "P1"), "shared_years"] == "2027-2027"
    assert out["overlaps"]["overlap_space"].all()
    # The pair point is the middle of the shortest line: between S1's edge (y 300) and P1 (y 330).
    p = out["overlaps"][(out["overlaps"]["a_id"] == "S1") & (out["overlaps"]["b_id"] == "P1")].geometry.iloc[0]
    assert p.y == pytest.approx(Y0 + 315)


def test_feature_table_counts_pairs() -> None:
    feats = run()["projects-map"].set_index("id")
    assert list(feats.index) == ["S1", "S2", "S3", "P1", "P2", "P3", "P4"]
    assert feats.loc["S1", "category"] == "woningbouw" and feats.loc["S1", "kind"] == "vastgesteld"
    assert (feats.loc["S1", "start_year"], feats.loc["S1", "end_year"]) == (2027, 2028)
    assert feats.loc["P1", "pairs_space"] == 3 and feats.loc["P1", "pairs_space_time"] == 2
    assert feats.loc["P1", "pair_ids"] == "P2, S1"
    assert feats.loc["S2", "pairs_space"] == 1 and feats.loc["S2", "pairs_space_time"] == 0
    assert pd.isna(feats.loc["S3", "pair_ids"])


def test_parameters_move_the_flags() -> None:
    near = pair_set(run(distance_m=10.0)["overlaps"])
    assert set(near) == {frozenset(("P3", "S2"))}
    wide = pair_set(run(distance_m=140.0, time_margin_years=3)["overlaps"])
    assert wide[frozenset(("P1", "P4"))] == (22.0, True)  # 2030 is 3 years after 2027
    assert wide[frozenset(("P4", "S1"))] == (52.0, True)
    assert wide[frozenset(("P1", "S3"))] == (130.0, True)
    with_sites = pair_set(run(compare_sites=True)["overlaps"])
    assert with_sites[frozenset(("S1", "S3"))] == (0.0, True)


def test_extent_reports_each_pair_once() -> None:
    """Two extents side by side at x = 1000: every feature and pair lands in exactly one."""
    west = run_in_memory(LAYER, {"housing_sites": sites(), "projects": projects()},
                         (X0, Y0, X0 + 1000, Y0 + 1000), crs=RD).vectors
    east = run_in_memory(LAYER, {"housing_sites": sites(), "projects": projects()},
                         (X0 + 1000, Y0, X0 + 2000, Y0 + 1000), crs=RD).vectors
    assert set(east["projects-map"]["id"]) == {"S2", "P3"}
    whole = run()
    assert len(west["overlaps"]) + len(east["overlaps"]) == len(whole["overlaps"])
    assert sorted([*west["projects-map"]["id"], *east["projects-map"]["id"]]) == sorted(whole["projects-map"]["id"])


@pytest.mark.parametrize("start,end,message", [
    ("2027-05-01", "2026-01-01", "end '2026-01-01' is before start '2027-05-01'"),
    ("volgend jaar", "2027", "start 'volgend jaar' is not an ISO date"),
])
def test_bad_project_dates_are_refused(tmp_path: Path, start: str, end: str, message: str) -> None:
    path = tmp_path / "projects.geojson"
    gpd.GeoDataFrame({"id": ["P9"], "name": ["Brug"], "kind": ["kunstwerk"], "start": [start], "end": [end]},
                     geometry=[line(0, 0, 10, 0)], crs=RD).to_file(path, driver="GeoJSON")
    with pytest.raises(SourceError) as err:
        read_projects("projects", path, RD)
    assert message in str(err.value) and "P9 (Brug)" in str(err.value) and str(path) in str(err.value)
