"""Exact overlay of land cover and crowns per zone (geo.fractions, geo.crowns): hand-computed areas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from pyproj import CRS
from shapely.geometry import box

from geo.crowns import canopy_area, uncovered_arcs
from geo.fractions import (
    Crowns,
    burn_discs,
    crown_discs,
    disc_canopy_pct,
    fraction_raster,
    overlay_areas,
    public_flags,
    zone_surface_areas,
)
from geo.grid import Grid

X0, Y0 = 200_000.0, 450_000.0


def lens(r: float, d: float) -> float:
    """Area of the overlap of two circles of radius r whose centres are d apart."""
    return 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)


def test_overlay_areas_cut_and_whole_pieces() -> None:
    zones = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)])
    polys = np.array([box(2, 2, 4, 4), box(8, 0, 12, 10), box(30, 30, 31, 31)])
    zi, pi, area, pieces = overlay_areas(zones, polys, pieces=True)
    got = {(int(z), int(p)): a for z, p, a in zip(zi, pi, area, strict=True)}
    # A polygon on a shared border goes 20 m2 to each side; one far away to none; touching adds nothing.
    assert got == {(0, 0): pytest.approx(4.0), (0, 1): pytest.approx(20.0), (1, 1): pytest.approx(20.0)}
    assert pieces is not None and shapely.area(pieces).sum() == pytest.approx(44.0)


def test_crown_disc_polygon_has_the_circle_area() -> None:
    discs = crown_discs(shapely.points([[0, 0], [100, 0]]), np.array([6.0, 12.0]))
    assert shapely.area(discs) == pytest.approx([math.pi * 9, math.pi * 36], rel=1e-12)


def test_canopy_overlapping_crowns_count_once() -> None:
    zone = np.array([box(X0, Y0, X0 + 100, Y0 + 100)])
    r = 5.0
    # One crown alone, two overlapping at 6 m, and an identical duplicate of the lone one.
    x = np.array([X0 + 20, X0 + 60, X0 + 66, X0 + 20])
    y = np.array([Y0 + 20, Y0 + 50, Y0 + 50, Y0 + 20])
    area = canopy_area(x, y, np.full(4, 2 * r), zone)
    expected = math.pi * r * r + (2 * math.pi * r * r - lens(r, 6.0))
    assert area[0] == pytest.approx(expected, rel=1e-12)


def test_canopy_crown_inside_another_and_tangent() -> None:
    zone = np.array([box(X0 - 50, Y0 - 50, X0 + 50, Y0 + 50)])
    # A 2 m crown inside a 10 m crown adds nothing; a crown touching it from outside adds its full area.
    area = canopy_area(np.array([X0, X0 + 1, X0 + 8]), np.array([Y0, Y0, Y0]), np.array([10.0, 2.0, 6.0]), zone)
    assert area[0] == pytest.approx(math.pi * 25 + math.pi * 9, rel=1e-12)


def test_canopy_split_by_zone_edges_and_holes() -> None:
    # A crown centred on the border of two zones: half in each. A zone with a hole under another crown.
    left, right = box(X0 - 50, Y0 - 50, X0, Y0 + 50), box(X0, Y0 - 50, X0 + 50, Y0 + 50)
    holed = box(X0 + 100, Y0, X0 + 200, Y0 + 100).difference(box(X0 + 140, Y0 + 40, X0 + 160, Y0 + 60))
    x = np.array([X0, X0 + 150])
    y = np.array([Y0, Y0 + 50])
    area = canopy_area(x, y, np.array([8.0, 30.0]), np.array([left, right, holed]))
    assert area[0] == pytest.approx(math.pi * 8, rel=1e-12)
    assert area[1] == pytest.approx(math.pi * 8, rel=1e-12)
    assert area[2] == pytest.approx(math.pi * 225 - 400, rel=1e-12)


def test_canopy_matches_a_fine_polygon_union() -> None:
    rng = np.random.default_rng(7)
    n = 250
    x, y = X0 + rng.uniform(0, 150, n), Y0 + rng.uniform(0, 150, n)
    d = rng.uniform(2, 14, n)
    zones = np.array(
        [
            box(X0, Y0, X0 + 75, Y0 + 75),
            shapely.Point(X0 + 75, Y0 + 75).buffer(50, quad_segs=8),
            shapely.MultiPolygon([box(X0 + 80, Y0, X0 + 150, Y0 + 40), box(X0, Y0 + 120, X0 + 30, Y0 + 150)]),
        ]
    )
    got = canopy_area(x, y, d, zones)
    union = shapely.union_all(shapely.buffer(shapely.points(x, y), d / 2, quad_segs=512))
    reference = shapely.area(shapely.intersection(zones, union))
    # A 2048-gon falls short of its circle by (2 pi / 2048)^2 / 6 = 1.6e-6 of the area.
    assert got == pytest.approx(reference, rel=5e-6)
    assert (got >= reference).all()


def test_uncovered_arcs_of_two_crossing_circles() -> None:
    circle, a, b = uncovered_arcs(np.array([0.0, 6.0]), np.array([0.0, 0.0]), np.array([5.0, 5.0]))
    # Each circle loses the arc facing the other: 2 * acos(3 / 5) radians.
    lost = 2 * math.acos(0.6)
    per_circle = np.bincount(circle, weights=b - a)
    assert per_circle == pytest.approx([2 * math.pi - lost] * 2)


def test_public_flags_from_mixed_columns() -> None:
    known, public = public_flags(pd.Series([True, False, None, "ja", "0", pd.NA], dtype="object"), 6)
    assert known.tolist() == [True, True, False, True, True, False]
    assert public.tolist() == [True, False, False, True, False, False]


def _quadrants() -> tuple[np.ndarray, np.ndarray, pd.Series]:
    half = 100.0
    polys = np.array(
        [
            box(X0, Y0 + half, X0 + half, Y0 + 2 * half),  # building, private
            box(X0 + half, Y0 + half, X0 + 2 * half, Y0 + 2 * half),  # road, public
            box(X0, Y0, X0 + half, Y0 + half),  # green_low, public
            box(X0 + half, Y0, X0 + 2 * half, Y0 + half),  # water, public
        ]
    )
    return polys, np.array(["building", "road_paved", "green_low", "water"]), pd.Series([False, True, True, True])


def test_zone_surface_areas_with_public_private_split() -> None:
    polys, classes, public = _quadrants()
    zones = np.array([box(X0, Y0, X0 + 100, Y0 + 200), box(X0 + 100, Y0, X0 + 200, Y0 + 200)])
    # One 10 m crown over the building (private), one over the border of green and building.
    crowns = Crowns(np.array([X0 + 50, X0 + 50]), np.array([Y0 + 150, Y0 + 100]), np.array([10.0, 10.0]))
    out = zone_surface_areas(zones, polys, classes, crowns, public)
    disc = math.pi * 25
    left, right = out.iloc[0], out.iloc[1]
    assert left["building_m2"] == pytest.approx(10_000) and left["green_m2"] == pytest.approx(10_000)
    assert right["paved_m2"] == pytest.approx(10_000) and right["water_m2"] == pytest.approx(10_000)
    assert left["public_m2"] == pytest.approx(10_000) and left["private_m2"] == pytest.approx(10_000)
    assert left["canopy_m2"] == pytest.approx(2 * disc)
    assert left["canopy_m2_private"] == pytest.approx(1.5 * disc)
    assert left["canopy_m2_public"] == pytest.approx(0.5 * disc)
    assert right["canopy_m2"] == 0
    assert left["class_building_m2"] == pytest.approx(10_000) and left["overlap_m2"] == 0


def test_disc_canopy_on_the_grid_is_close_to_the_exact_union() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    crowns = Crowns(X0 + rng.uniform(0, 600, n), Y0 + rng.uniform(0, 600, n), rng.uniform(2, 14, n))
    centres = np.c_[X0 + rng.uniform(150, 450, 8), Y0 + rng.uniform(150, 450, 8)]
    region = box(X0, Y0, X0 + 600, Y0 + 600)
    grid = disc_canopy_pct(crowns, centres, 100.0, region)
    discs = crown_discs(shapely.points(centres), np.full(8, 200.0))
    exact = crowns.area_in(discs) / shapely.area(discs) * 100
    assert 20 < exact.mean() < 80  # a test with canopy to measure
    assert np.abs(grid - exact).max() < 0.5
    # A disc reaching over the region edge is measured on its part inside the region only.
    edge = disc_canopy_pct(crowns, np.array([[X0, Y0 + 300]]), 100.0, region)
    half = shapely.intersection(crown_discs(shapely.points([[X0, Y0 + 300]]), np.array([200.0])), region)[0]
    assert edge[0] == pytest.approx(crowns.area_in(np.array([half]))[0] / half.area * 100, abs=0.5)


def test_fraction_raster_cells_of_one_class_and_mixed_cells() -> None:
    polys, classes, _ = _quadrants()
    grid = Grid(CRS.from_epsg(28992), Affine(10.0, 0, X0 + 50, 0, -10.0, Y0 + 160), 10, 10)
    crowns = Crowns(np.array([X0 + 60.0]), np.array([Y0 + 150.0]), np.array([10.0]))
    raster = fraction_raster(polys, classes, crowns, grid, supersample=10, chunk_size=40)
    five = raster.data[:5]
    assert np.allclose(five.sum(axis=0), 100.0)
    # Top-left cell lies in the building quadrant; the cells straddling x = X0 + 100 are half/half.
    assert raster.band("building_pct")[1, 0] == 100.0
    assert raster.band("building_pct")[1, 4] == 100.0 and raster.band("paved_pct")[1, 5] == 100.0
    # The crown (r = 5 m) is centred on the corner of four cells: about a quarter in each.
    quarter = raster.band("canopy_pct")[0:2, 0:2]
    assert np.allclose(quarter, 100 * math.pi * 25 / 4 / 100, atol=3.0)
    assert raster.units == ("%",) * 6


def test_burn_discs_marks_exactly_the_cell_centres_inside() -> None:
    rng = np.random.default_rng(2)
    x, y, r = rng.uniform(-5, 105, 60), rng.uniform(-5, 85, 60), rng.uniform(0.3, 9, 60)
    transform = Affine(1.0, 0, 0.0, 0, -1.0, 80.0)
    burnt = burn_discs(x, y, r, transform, (80, 100))
    cx, cy = np.meshgrid(np.arange(100) + 0.5, 80 - (np.arange(80) + 0.5))
    inside = (np.hypot(cx[..., None] - x, cy[..., None] - y) <= r).any(axis=-1)
    assert burnt.sum() > 1000
    assert (burnt == inside).all()
