"""Trees that count for the 3 (issue 10): seen from the facade, big enough, and found in the AHN canopy.

The terrace: five houses of 6 x 10 m in a row (fronts to the south), the dwelling in the
middle one, and seven trees in a row 6 m in front of the fronts, 6 m apart. From the
address point at the house's centroid a sight line to a tree leaves through the front
wall only when the tree is within 6.6 m (east-west) of the centre: 3 of the 7 trees; the
others cross a neighbour's house. From the front facade every tree is in the open street:
7 of 7.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geo.facades import facade_points
from geo.raster import Raster
from geo.visibility import SightScene, trees_seen_from_facades, visible_trees
from layers.base import BuildContext
from layers.extent import memory_inputs
from layers.green_paved import LAYER as GREEN_PAVED
from layers.green_paved import compute as green_paved
from layers.tree_3_30_300 import LAYER, compute

RD = CRS.from_epsg(28992)
X0, Y0 = 150_000.0, 420_000.0
W, H = 80.0, 60.0
RES = 0.5
HOUSES = [(20.0 + 6 * i, 20.0, 26.0 + 6 * i, 30.0) for i in range(5)]
TREES_X = [17.0 + 6 * i for i in range(7)]
TREES_Y = 14.0


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def gdf(rows: list[dict[str, Any]], geoms: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=RD)


def terrace(trees: list[tuple[float, float, float | None]] | None = None) -> dict[str, Any]:
    trees = [(x, TREES_Y, 5.0) for x in TREES_X] if trees is None else trees
    sources: dict[str, Any] = {
        "buildings": gdf([{"id": f"H{i}", "status": "Pand in gebruik"} for i in range(5)], [box(*h) for h in HOUSES]),
        "addresses": gdf(
            [{"id": "D2", "building_id": "H2", "use": "woonfunctie", "status": "Verblijfsobject in gebruik"}],
            [shapely.Point(X0 + 35.0, Y0 + 25.0)],
        ),
        "neighbourhoods": gdf([{"code": "BU01", "name": "Rij"}], [box(0, 0, W, H)]),
        "landcover": gdf(
            [{"class": "building", "source_class": "t", "source_id": f"b{i}"} for i in range(5)]
            + [{"class": "road_paved", "source_class": "t", "source_id": "street"}],
            [box(*h) for h in HOUSES] + [shapely.difference(box(0, 0, W, H), box(20, 20, 50, 30))],
        ),
    }
    if trees:
        sources["trees"] = gdf(
            [{"id": f"t{i}", "crown_diameter_m": d} for i, (_, _, d) in enumerate(trees)],
            [shapely.Point(X0 + x, Y0 + y) for x, y, _ in trees],
        )
    return sources


def run(sources: dict[str, Any], layer: Any = LAYER, fn: Any = compute, **params: Any) -> Any:
    given = {p.name: p.default for p in layer.params} | params
    inputs = memory_inputs(layer, sources, (X0, Y0, X0 + W, Y0 + H), crs=RD, params=given, name="Rij")
    return fn(inputs, given, BuildContext(workers=1))


def ahn(blobs: list[tuple[float, float, float, float]]) -> dict[str, Raster]:
    """Flat terrain at 1 m NAP, houses 9 m high, and crown blobs (x, y, radius, height) on a 0.5 m grid."""
    rows, cols = np.indices((int(H / RES), int(W / RES)))
    x, y = (cols + 0.5) * RES, H - (rows + 0.5) * RES
    top = np.zeros(x.shape)
    for x0, y0, x1, y1 in HOUSES:
        top[(x >= x0) & (x < x1) & (y >= y0) & (y < y1)] = 9.0
    for cx, cy, r, h in blobs:
        top = np.maximum(top, np.where(np.hypot(x - cx, y - cy) <= r, h, 0.0))
    t = Affine(RES, 0, X0, 0, -RES, Y0 + H)
    return {name: Raster((1.0 + a).astype(np.float32), RD, t, nodata=float("nan"), band_names=(name,), units=("m",))
            for name, a in (("dsm", top), ("dtm", np.zeros(x.shape)))}


def test_terrace_sees_3_from_the_centroid_and_7_from_the_front() -> None:
    src = terrace()
    blds = src["buildings"]
    codes = np.arange(5)
    trees = np.array([[X0 + x, Y0 + TREES_Y] for x in TREES_X])
    scene = SightScene(trees, blds.geometry.values, codes)
    centroid = visible_trees(np.array([[X0 + 35.0, Y0 + 25.0]]), np.array([2]), scene, 30.0)
    assert centroid.tolist() == [3]
    fxy, fcode = facade_points(blds.geometry.values[2:3], codes[2:3], blockers=blds.geometry.values)
    # Party walls carry no facade points: only the front and the back (7 m each with the mitred corners, 0.5 m out).
    assert np.allclose(np.abs(fxy[:, 1] - Y0 - 25.0), 5.5) and len(fxy) == 8  # 4 front, 4 back
    assert trees_seen_from_facades(fxy, fcode, scene, 30.0, 5).tolist() == [0, 0, 7, 0, 0]
    out = run(src)
    row = out.vectors["dwellings"].iloc[0]
    assert row["trees_visible"] == 7 and bool(row["meets_3"])
    assert out.metadata["view_from"] == "facades"


def test_back_garden_tree_is_not_seen_through_the_house_nor_beyond_30_m() -> None:
    # Behind the row at 6 m (seen from the back facade), and one 30.5 m south of the front.
    src = terrace([(35.0, 36.0, 5.0), (35.0, 19.5 - 30.5, 5.0)])
    assert run(src).vectors["dwellings"].iloc[0]["trees_visible"] == 1


def test_small_tree_does_not_count() -> None:
    # A 3 m crown (7.1 m2) below min_crown_area_m2 (10 m2) in front of the door; a 4 m one (12.6 m2) counts.
    src = terrace([(35.0, TREES_Y, 3.0), (29.0, TREES_Y, 4.0)])
    out = run(src)
    assert out.vectors["dwellings"].iloc[0]["trees_visible"] == 1
    assert out.metadata["log"]["counts"]["trees_below_min_crown"] == 1
    assert run(src, min_crown_area_m2=5.0).vectors["dwellings"].iloc[0]["trees_visible"] == 2


def test_canopy_without_a_register_tree_in_green_paved() -> None:
    # One 4 m radius, 10 m high crown in the street and no tree register: canopy from AHN only.
    src = terrace([]) | ahn([(35.0, 10.0, 4.0, 10.0)])
    out = run(src, GREEN_PAVED, green_paved)
    cells = (np.hypot(*np.meshgrid(np.arange(-8, 8) + 0.5, np.arange(-8, 8) + 0.5)) * RES <= 4.0).sum()
    table = out.vectors["neighbourhoods"].iloc[0]
    assert table["canopy_pct"] == pytest.approx(round(cells * RES**2 / (W * H) * 100, 2))
    assert out.metadata["canopy_source"] == "ahn"
    canopy = out.rasters["canopy"]
    assert np.nansum(canopy.data[0] > 0) == cells and np.nanmax(canopy.data[0]) == pytest.approx(10.0)
    # The 9 m houses are no canopy, though higher than 2.5 m.
    assert out.metadata["log"]["counts"]["canopy_cells"] == cells


def test_register_tree_without_crown_takes_its_patch_and_ahn_tops_count() -> None:
    # A register tree without crown size under a 3 m radius crown (28 m2: counts), a 1.5 m radius
    # crown (7 m2: too small) with a register tree, and two unregistered 4 m radius crowns.
    blobs = [(29.0, 14.0, 3.0, 8.0), (35.0, 14.0, 1.5, 6.0), (41.0, 13.0, 4.0, 12.0), (60.0, 8.0, 4.0, 11.0)]
    src = terrace([(29.0, 14.0, None), (35.0, 14.0, None)]) | ahn(blobs)
    out = run(src)
    counts = out.metadata["log"]["counts"]
    assert counts["trees_crown_from_canopy"] == 2 and counts.get("trees_default_crown", 0) == 0
    assert counts["trees_from_ahn_tops"] == 2
    assert counts["trees_below_min_crown"] == 1
    # Seen from the front: the 3 m crown's tree and the two tops (60, 8 is 25.6 m from the front's SE corner).
    assert out.vectors["dwellings"].iloc[0]["trees_visible"] == 3
    assert out.metadata["canopy_source"] == "ahn"
    area = sum(((np.hypot(*np.meshgrid(np.arange(-10, 10) + 0.5, np.arange(-10, 10) + 0.5)) * RES) <= r).sum()
               for *_, r, _ in blobs) * RES**2
    assert out.vectors["dwellings"].iloc[0]["canopy_pct"] == pytest.approx(round(area / (W * H) * 100, 2))
    assert math.isclose(area, sum(math.pi * r * r for *_, r, _ in blobs), rel_tol=0.06)
