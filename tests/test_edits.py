"""What-if edits (geo.edits): hand-built sites with known answers."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine
from shapely.geometry import box, mapping

from geo.canopy import canopy_mask, canopy_raster
from geo.edits import PlantTrees, apply_edits, parse_edits
from geo.errors import InputError
from geo.raster import Raster

#: The site: 100 x 100 m at RD (200000, 450000).
X0, Y0, SIDE = 200_000.0, 450_000.0, 100.0
SITE = box(X0, Y0, X0 + SIDE, Y0 + SIDE)
#: The rasters: 0.5 m cells over the site and a 10 m margin, flat terrain at 1 m NAP.
RES, MARGIN, TERRAIN = 0.5, 10.0, 1.0
CRS = "EPSG:28992"
CRS_RD = pyproj.CRS.from_epsg(28992)


def _raster(value: float, name: str) -> Raster:
    n = int((SIDE + 2 * MARGIN) / RES)
    transform = Affine(RES, 0.0, X0 - MARGIN, 0.0, -RES, Y0 + SIDE + MARGIN)
    return Raster(np.full((n, n), value, dtype=np.float32), CRS_RD, transform, nodata=float("nan"),
                  band_names=(name,), units=("m",))


def _landcover(rows: list[tuple[str, shapely.Geometry]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"class": [c for c, _ in rows], "source_class": [f"test:{c}" for c, _ in rows],
         "source_id": [f"lc{i}" for i in range(len(rows))], "public": [True] * len(rows),
         "function": [None] * len(rows)},
        geometry=[g for _, g in rows], crs=CRS)


def _sources(landcover: gpd.GeoDataFrame | None = None, *, surface: bool = True, buildings=None) -> dict:
    out: dict = {"landcover": landcover if landcover is not None else _landcover([("paved_other", SITE)])}
    out["buildings"] = buildings if buildings is not None else gpd.GeoDataFrame(
        {"id": [], "status": []}, geometry=gpd.GeoSeries([], crs=CRS))
    if surface:
        out["dtm"] = _raster(TERRAIN, "dtm")
        out["dsm"] = _raster(TERRAIN, "dsm")
        out["vegetation"] = _raster(float("nan"), "vegetation")
    return out


def _area(frame: gpd.GeoDataFrame, classes: tuple[str, ...]) -> float:
    return float(frame.geometry.area[frame["class"].isin(classes)].sum())


def _value_at(r: Raster, x: float, y: float) -> float:
    col = int((x - r.transform.c) // RES)
    row = int((r.transform.f - y) // RES)
    return float(r.data[0, row, col])


PAVED = ("road_paved", "paved_other")


def test_unpave_half_by_area():
    out = apply_edits(parse_edits([{"op": "unpave", "share": 0.5}]), _sources(), SITE)
    lc = out.sources["landcover"]
    assert _area(lc, PAVED) == pytest.approx(5000.0, rel=1e-3)
    assert _area(lc, ("green_low",)) == pytest.approx(5000.0, rel=1e-3)
    assert out.summary["unpaved_m2"] == pytest.approx(5000.0, rel=1e-3)
    # The rule: the western half is unpaved (a north-south cut moved by bisection).
    green = lc.geometry[lc["class"] == "green_low"].union_all()
    assert green.bounds[0] == pytest.approx(X0) and green.bounds[2] == pytest.approx(X0 + 50.0, abs=0.01)
    assert out.changed_bounds == pytest.approx((X0, Y0, X0 + 50.0, Y0 + SIDE), abs=0.01)
    assert len(out.drawn["unpaved"]) == 1


def test_unpave_geometry_converts_exactly_the_intersection():
    half = [("paved_other", box(X0, Y0, X0 + 50, Y0 + SIDE)), ("green_low", box(X0 + 50, Y0, X0 + SIDE, Y0 + SIDE))]
    patch = box(X0 + 30, Y0 + 10, X0 + 70, Y0 + 30)  # 40 x 20 m, half over the paving
    edits = parse_edits([{"op": "unpave", "geometry": mapping(patch), "to": "green_shrub"}])
    out = apply_edits(edits, _sources(_landcover(half)), SITE)
    lc = out.sources["landcover"]
    assert _area(lc, ("green_shrub",)) == pytest.approx(20 * 20)
    assert _area(lc, PAVED) == pytest.approx(5000 - 400)
    assert _area(lc, ("green_low",)) == pytest.approx(5000)
    assert lc.geometry.area.sum() == pytest.approx(SIDE * SIDE)


def test_unpave_all_leaves_no_paving():
    out = apply_edits(parse_edits([{"op": "unpave"}]), _sources(), SITE)
    assert _area(out.sources["landcover"], PAVED) == 0.0
    assert out.summary["unpaved_m2"] == pytest.approx(SIDE * SIDE)
    out = apply_edits(parse_edits([{"op": "unpave", "share": 1}]), _sources(), SITE)
    assert _area(out.sources["landcover"], PAVED) == 0.0


def test_plant_three_trees_at_points_become_canopy():
    points = [[X0 + 20, Y0 + 20], [X0 + 50, Y0 + 50], [X0 + 80, Y0 + 30]]
    edits = parse_edits([{"op": "plant_trees", "points": points, "crown_diameter_m": 8, "height_m": 12}])
    out = apply_edits(edits, _sources(), SITE)
    trees = out.sources["trees"]
    assert list(trees["id"]) == ["scenario-1", "scenario-2", "scenario-3"]
    assert list(trees["crown_diameter_m"]) == [8, 8, 8] and list(trees["height_m"]) == [12, 12, 12]
    dsm, dtm = out.sources["dsm"], out.sources["dtm"]
    for x, y in points:
        assert _value_at(dsm, x + 0.1, y + 0.1) == pytest.approx(TERRAIN + 12)
    expected = 3 * math.pi * 4.0**2
    tolerance = 3 * 2 * math.pi * 4.0 * RES  # a cell along each crown's outline
    assert (dsm.data[0] - dtm.data[0] >= 2.5).sum() * RES**2 == pytest.approx(expected, abs=tolerance)
    canopy = canopy_raster(dsm, dtm, vegetation=out.sources["vegetation"])  # the layers' own canopy
    assert canopy_mask(canopy).sum() * RES**2 == pytest.approx(expected, abs=tolerance)
    assert out.summary["trees_added"] == 3
    assert out.summary["crown_area_added_m2"] == pytest.approx(expected, abs=1e-3)
    assert len(out.drawn["crowns"]) == 3


def test_count_too_many_for_a_small_site_says_how_many_fit():
    small = box(X0, Y0, X0 + 20, Y0 + 20)
    sources = _sources(_landcover([("paved_other", small)]))
    with pytest.raises(InputError, match=r"edits\[0\]\.count: only (\d+) of 12 trees") as info:
        apply_edits(parse_edits([{"op": "plant_trees", "count": 12}]), sources, small)
    fit = int(info.value.args[0].split("only ")[1].split(" ")[0])
    # 6 m crowns whose trunks stay 3 m inside a 20 m square: a 14 m square holds rows 0, 5.2, 10.4 m with 3 + 2 + 3.
    assert fit == 8
    out = apply_edits(parse_edits([{"op": "plant_trees", "count": fit}]), sources, small)
    assert len(out.sources["trees"]) == fit


def test_count_placement_is_deterministic_and_avoids_buildings():
    block = box(X0 + 35, Y0 + 35, X0 + 65, Y0 + 65)
    buildings = gpd.GeoDataFrame({"id": ["0503100000000001"], "status": ["Pand in gebruik"]}, geometry=[block],
                                 crs=CRS)
    lc = _landcover([("paved_other", SITE.difference(block)), ("building", block)])
    edits = parse_edits([{"op": "plant_trees", "count": 12}])
    first = apply_edits(edits, _sources(lc, buildings=buildings), SITE)
    again = apply_edits(edits, _sources(lc, buildings=buildings), SITE)
    xy = shapely.get_coordinates(first.sources["trees"].geometry.values)
    assert np.array_equal(xy, shapely.get_coordinates(again.sources["trees"].geometry.values))
    assert len(xy) == 12
    crowns = shapely.buffer(shapely.points(xy), 3.0)
    assert not shapely.intersects(crowns, block).any()
    assert shapely.contains(SITE.buffer(1e-6), crowns).all()
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert gaps[~np.eye(12, dtype=bool)].min() >= 6.0 - 1e-6


def test_count_prefers_open_ground_without_canopy():
    sources = _sources()
    dsm = sources["dsm"]
    dsm.data[0, : dsm.height // 2, :] = TERRAIN + 15  # the northern half is under a wood
    out = apply_edits(parse_edits([{"op": "plant_trees", "count": 5}]), sources, SITE)
    xy = shapely.get_coordinates(out.sources["trees"].geometry.values)
    # All five crowns (3 m radius) clear of the wood, to the cell of the canopy test.
    assert (xy[:, 1] <= Y0 + SIDE / 2 - 3.0 + RES).all()
    assert not out.warnings


def test_tree_in_a_building_names_the_point():
    block = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    buildings = gpd.GeoDataFrame({"id": ["b1"], "status": ["Pand in gebruik"]}, geometry=[block], crs=CRS)
    edits = parse_edits([{"op": "plant_trees", "points": [[X0 + 50, Y0 + 50], [X0 + 20, Y0 + 20]]}])
    inside = r"edits\[0\]\.points\[1\]: \(200020\.00, 450020\.00\) lies inside building b1"
    with pytest.raises(InputError, match=inside):
        apply_edits(edits, _sources(buildings=buildings), SITE)


def test_add_building_cuts_the_land_cover_and_raises_the_dsm():
    half = [("paved_other", box(X0, Y0, X0 + 50, Y0 + SIDE)), ("green_low", box(X0 + 50, Y0, X0 + SIDE, Y0 + SIDE))]
    footprint = box(X0 + 40, Y0 + 40, X0 + 60, Y0 + 50)  # 200 m2, half on each class
    edits = parse_edits([{"op": "add_building", "geometry": mapping(footprint), "height_m": 12}])
    sources = _sources(_landcover(half))
    sources["vegetation"].data[0] = TERRAIN + 5  # vegetation everywhere, to see it cleared
    out = apply_edits(edits, sources, SITE)
    lc = out.sources["landcover"]
    assert _area(lc, ("building",)) == pytest.approx(200.0)
    assert _area(lc, PAVED) == pytest.approx(5000 - 100)
    assert _area(lc, ("green_low",)) == pytest.approx(5000 - 100)
    b = out.sources["buildings"]
    assert list(b["id"]) == ["scenario-building-1"] and list(b["status"]) == ["Pand in gebruik"]
    dsm, veg = out.sources["dsm"], out.sources["vegetation"]
    assert _value_at(dsm, X0 + 50, Y0 + 45) == pytest.approx(TERRAIN + 12)
    assert math.isnan(_value_at(veg, X0 + 50, Y0 + 45))
    assert _value_at(dsm, X0 + 70, Y0 + 45) == pytest.approx(TERRAIN)
    raised = (dsm.data[0] > TERRAIN + 1).sum() * RES**2
    assert raised == pytest.approx(200.0)
    assert out.summary["buildings_added"] == 1 and out.summary["building_area_added_m2"] == pytest.approx(200.0)


def test_add_building_over_another_is_an_error():
    block = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    buildings = gpd.GeoDataFrame({"id": ["b1"], "status": ["Pand in gebruik"]}, geometry=[block], crs=CRS)
    edits = parse_edits([{"op": "unpave"},
                         {"op": "add_building", "geometry": mapping(box(X0 + 20, Y0 + 20, X0 + 40, Y0 + 40)),
                          "height_m": 9}])
    with pytest.raises(InputError, match=r"edits\[1\]\.geometry: overlaps the existing building b1 by 100\.0 m2"):
        apply_edits(edits, _sources(buildings=buildings), SITE)


def test_remove_building_clears_footprint_addresses_and_surface():
    block = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    buildings = gpd.GeoDataFrame({"id": ["b1", "b2"], "status": ["Pand in gebruik"] * 2},
                                 geometry=[block, box(X0 + 60, Y0 + 60, X0 + 70, Y0 + 70)], crs=CRS)
    lc = _landcover([("paved_other", SITE.difference(block)), ("building", block)])
    sources = _sources(lc, buildings=buildings)
    sources["dsm"].data[0, 160:200, 40:80] = TERRAIN + 9  # the roof: the block's rows and columns
    sources["addresses"] = gpd.GeoDataFrame(
        {"id": ["a1", "a2", "a3"], "building_id": ["b1", "b1", "b2"], "use": ["woonfunctie"] * 3,
         "status": ["Verblijfsobject in gebruik"] * 3},
        geometry=shapely.points([[X0 + 15, Y0 + 15], [X0 + 25, Y0 + 25], [X0 + 65, Y0 + 65]]), crs=CRS)
    out = apply_edits(parse_edits([{"op": "remove_building", "id": "b1"}]), sources, SITE)
    assert list(out.sources["buildings"]["id"]) == ["b2"]
    assert list(out.sources["addresses"]["id"]) == ["a3"]
    assert out.summary["addresses_removed"] == 2 and out.summary["buildings_removed"] == 1
    lc_out = out.sources["landcover"]
    assert _area(lc_out, ("building",)) == 0.0
    assert _area(lc_out, ("bare",)) == pytest.approx(400.0)
    assert np.all(out.sources["dsm"].data[0] == TERRAIN)
    assert out.changed_bounds == pytest.approx((X0 + 10, Y0 + 10, X0 + 30, Y0 + 30))


def test_inputs_are_not_changed():
    block = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    buildings = gpd.GeoDataFrame({"id": ["b1"], "status": ["Pand in gebruik"]}, geometry=[block], crs=CRS)
    lc = _landcover([("paved_other", SITE.difference(block)), ("building", block)])
    sources = _sources(lc, buildings=buildings)
    before = {k: (v.copy() if isinstance(v, gpd.GeoDataFrame) else v.data.copy()) for k, v in sources.items()}
    edits = parse_edits([
        {"op": "unpave", "share": 0.3},
        {"op": "plant_trees", "points": [[X0 + 50, Y0 + 50]]},
        {"op": "add_building", "geometry": mapping(box(X0 + 70, Y0 + 70, X0 + 90, Y0 + 90)), "height_m": 15},
        {"op": "remove_building", "id": "b1"},
    ])
    out = apply_edits(edits, sources, SITE)
    for k, v in sources.items():
        if isinstance(v, gpd.GeoDataFrame):
            assert v.equals(before[k]), k
        else:
            assert np.array_equal(v.data, before[k], equal_nan=True), k
    assert "trees" not in sources and len(out.sources["trees"]) == 1
    assert not set(out.sources["landcover"].columns) - set(lc.columns)


def test_without_a_surface_only_vectors_change_with_a_warning():
    out = apply_edits(parse_edits([{"op": "plant_trees", "points": [[X0 + 50, Y0 + 50]]}]),
                      _sources(surface=False), SITE)
    assert len(out.sources["trees"]) == 1 and "dsm" not in out.sources
    assert any("hoogtemodel" in w for w in out.warnings)


def test_points_in_wgs84_are_transformed():
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(X0 + 50, Y0 + 50)
    (edit,) = parse_edits([{"op": "plant_trees", "points": [[lon, lat]]}], crs="EPSG:4326")
    assert isinstance(edit, PlantTrees) and edit.points is not None
    assert edit.points[0] == pytest.approx((X0 + 50, Y0 + 50), abs=1e-3)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"op": "pave"}], r"edits\[0\]\.op: unknown op 'pave'"),
        ([{"op": "unpave"}, {"op": "unpave", "shares": 0.5}], r"edits\[1\]\.shares: unknown key for unpave"),
        ([{"op": "add_building", "geometry": mapping(box(0, 0, 1, 1)), "height_m": -3}],
         r"edits\[0\]\.height_m: must be between 2 and 250 m, got -3"),
        ([{"op": "plant_trees", "count": 2, "height_m": -3}], r"edits\[0\]\.height_m: must be between 3 and 60 m"),
        ([{"op": "unpave", "share": 1.5}], r"edits\[0\]\.share: must be between 0 and 1, got 1\.5"),
        ([{"op": "plant_trees", "count": 501}], r"edits\[0\]\.count: must be a whole number between 1 and 500"),
        ([{"op": "unpave", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}}],
         r"edits\[0\]\.geometry: invalid polygon \(Self-intersection"),
        ({"op": "unpave"}, r"edits: must be a list"),
    ],
)
def test_parse_errors_name_the_path(raw, message):
    with pytest.raises(InputError, match=message):
        parse_edits(raw)


def test_edit_outside_the_site_names_the_edit():
    outside = box(X0 + 90, Y0 + 90, X0 + 120, Y0 + 120)
    edits = parse_edits([{"op": "unpave", "geometry": mapping(outside)}], where="body.edits")
    with pytest.raises(InputError, match=r"body\.edits\[0\]\.geometry: lies outside the site \(800\.0 of 900\.0 m2"):
        apply_edits(edits, _sources(), SITE)
    with pytest.raises(InputError, match=r"edits\[0\]\.points\[0\]: \(200150\.00, 450050\.00\) lies outside"):
        apply_edits(parse_edits([{"op": "plant_trees", "points": [[X0 + 150, Y0 + 50]]}]), _sources(), SITE)
    with pytest.raises(InputError, match=r"edits\[0\]\.id: there is no building 'x'"):
        apply_edits(parse_edits([{"op": "remove_building", "id": "x"}]), _sources(), SITE)


def test_count_under_canopy_when_unavoidable_warns_in_dutch():
    sources = _sources()
    sources["dsm"].data[0] = TERRAIN + 15  # the whole site is a wood
    out = apply_edits(parse_edits([{"op": "plant_trees", "count": 3}]), sources, SITE)
    assert len(out.sources["trees"]) == 3
    assert out.warnings == ["Er passen maar 0 van de 3 bomen op open grond buiten bestaande boomkronen in het "
                            "plangebied; 3 staan onder bestaand bladerdak"]


def test_geometry_just_outside_the_site_is_clipped():
    edge = box(X0 + 50, Y0 - 0.3, X0 + 60, Y0 + 10)  # 0.3 m over the southern edge, within SITE_TOLERANCE_M
    out = apply_edits(parse_edits([{"op": "unpave", "geometry": mapping(edge)}]), _sources(), SITE)
    assert out.summary["unpaved_m2"] == pytest.approx(100.0)


def test_a_building_added_then_removed_leaves_its_ground_and_terrain():
    footprint = box(X0 + 40, Y0 + 40, X0 + 60, Y0 + 50)
    edits = parse_edits([{"op": "add_building", "geometry": mapping(footprint), "height_m": 20},
                         {"op": "remove_building", "id": "scenario-building-1", "to": "green_low"}])
    out = apply_edits(edits, _sources(), SITE)
    assert len(out.sources["buildings"]) == 0
    assert _area(out.sources["landcover"], ("green_low",)) == pytest.approx(200.0)
    assert np.all(out.sources["dsm"].data[0] == TERRAIN)
    assert out.summary["buildings_added"] == 1 and out.summary["buildings_removed"] == 1


def test_trees_without_size_columns_get_them():
    sources = _sources()
    sources["trees"] = gpd.GeoDataFrame({"id": ["t1"]}, geometry=shapely.points([[X0 + 10, Y0 + 10]]), crs=CRS)
    out = apply_edits(parse_edits([{"op": "plant_trees", "points": [[X0 + 50, Y0 + 50]], "height_m": 8}]),
                      sources, SITE)
    trees = out.sources["trees"]
    assert list(trees["id"]) == ["t1", "scenario-1"]
    assert trees["crown_diameter_m"].iloc[1] == 6.0 and trees["height_m"].iloc[1] == 8.0
    assert "crown_diameter_m" not in sources["trees"].columns


def test_remove_building_fills_the_terrain_hole_under_it():
    block = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    buildings = gpd.GeoDataFrame({"id": ["b1"], "status": ["Pand in gebruik"]}, geometry=[block], crs=CRS)
    sources = _sources(_landcover([("paved_other", SITE.difference(block)), ("building", block)]),
                       buildings=buildings)
    sources["dtm"].data[0, 160:200, 40:80] = np.nan  # AHN's unfilled DTM: a hole under the building
    sources["dsm"].data[0, 160:200, 40:80] = TERRAIN + 9
    out = apply_edits(parse_edits([{"op": "remove_building", "id": "b1"}]), sources, SITE)
    assert np.all(out.sources["dtm"].data[0] == TERRAIN) and np.all(out.sources["dsm"].data[0] == TERRAIN)
    assert np.isnan(sources["dtm"].data[0, 180, 60])  # the input keeps its hole


def test_unknown_terrain_leaves_the_surface_with_a_warning():
    sources = _sources()
    sources["dtm"].data[0] = np.nan
    out = apply_edits(parse_edits([{"op": "plant_trees", "points": [[X0 + 50, Y0 + 50]]}]), sources, SITE)
    assert np.all(out.sources["dsm"].data[0] == TERRAIN)
    assert len(out.warnings) == 1 and "maaiveldhoogte (AHN dtm) onbekend" in out.warnings[0]
