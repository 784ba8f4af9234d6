"""The AHN canopy (geo.canopy, geo.ahn_vegetation, geo.treetops): hand-built surfaces and the real Delft AHN3 + BGT."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import laspy
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize
from scipy import ndimage

from geo.ahn import read_ahn
from geo.ahn_vegetation import _cell_index, grid_vegetation
from geo.bgt import read_bgt
from geo.canopy import CANOPY_BAND, canopy_mask, canopy_raster, crown_diameters, patches_without
from geo.crs import RD_NEW
from geo.raster import Raster
from geo.treetops import tree_tops, window_diameter_m

RD = CRS.from_epsg(28992)
X0, Y0 = 100_000.0, 400_000.0
RES = 0.5
N = 200  # 100 m x 100 m
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LAZ = [DATA / "ahn3-delft" / "ahn3_cropped_1.laz", DATA / "ahn3-delft" / "ahn3_cropped_2.laz"]
BGT = DATA / "bgt-delft"


def raster(a: np.ndarray, name: str = "dsm") -> Raster:
    return Raster(a.astype(np.float32), RD, Affine(RES, 0, X0, 0, -RES, Y0 + N * RES), nodata=float("nan"),
                  band_names=(name,), units=("m",))


def centres() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices((N, N))
    return X0 + (cols + 0.5) * RES, Y0 + N * RES - (rows + 0.5) * RES


def blob(cx: float, cy: float, radius: float, height: float) -> np.ndarray:
    """Cells within ``radius`` m of (cx, cy) (local metres) at ``height`` m, else 0."""
    x, y = centres()
    return np.where(np.hypot(x - X0 - cx, y - Y0 - cy) <= radius, height, 0.0)


def local(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def test_blob_is_canopy_building_of_same_height_is_not() -> None:
    ground = np.full((N, N), 1.0)
    tree = blob(30, 50, 4.0, 10.0)
    house = np.zeros((N, N))
    x, y = centres()
    house[(x - X0 >= 60) & (x - X0 < 70) & (y - Y0 >= 45) & (y - Y0 < 55)] = 10.0
    dsm = raster(ground + np.maximum(tree, house))
    out = canopy_raster(dsm, raster(ground, "dtm"), np.array([local(60, 45, 70, 55)]))
    mask = canopy_mask(out)
    assert np.array_equal(mask, tree > 0)  # exactly the blob's cells, none on the house
    assert np.allclose(out.band(CANOPY_BAND)[mask], 10.0)
    assert out.band_names == (CANOPY_BAND,) and out.units == ("m",)


def test_low_shrub_water_and_single_posts_are_no_canopy() -> None:
    ground = np.full((N, N), 0.0)
    shrub = blob(20, 20, 3.0, 2.0)  # below 2.5 m
    boat = blob(80, 80, 3.0, 4.0)  # over water
    post = np.zeros((N, N))
    post[100, 100] = 8.0  # one 0.25 m2 cell: below the 1 m2 patch minimum
    dsm = raster(ground + shrub + boat + post)
    out = canopy_raster(dsm, raster(ground, "dtm"), water=np.array([local(70, 70, 90, 90)]))
    assert not canopy_mask(out).any()
    # The threshold is a parameter: at 1.5 m the shrub is canopy.
    lower = canopy_raster(dsm, raster(ground, "dtm"), water=np.array([local(70, 70, 90, 90)]), min_height_m=1.5)
    assert np.array_equal(canopy_mask(lower), shrub > 0)


def test_vegetation_points_decide_between_a_crown_and_a_lorry() -> None:
    ground = np.zeros((N, N))
    tree, lorry = blob(30, 50, 3.0, 9.0), blob(70, 50, 2.0, 3.5)
    dsm = raster(tree + lorry)
    veg = raster(np.where(tree > 0, 9.0, np.nan), "vegetation")
    veg.data[0][np.nonzero(tree)[0][0], np.nonzero(tree)[1][0]] = np.nan  # a scan gap inside the crown
    out = canopy_raster(dsm, raster(ground, "dtm"), vegetation=veg)
    assert np.array_equal(canopy_mask(out), tree > 0)


def test_holes_stay_unknown_and_a_dtm_on_another_grid_is_refused() -> None:
    ground = np.zeros((N, N))
    dsm = raster(blob(50, 50, 4.0, 10.0))
    holed = ground.copy()
    holed[:10] = np.nan
    out = canopy_raster(dsm, raster(holed, "dtm"))
    assert np.isnan(out.data[0][:10]).all() and np.isfinite(out.data[0][10:]).all()
    shifted = Raster(ground.astype(np.float32), RD, Affine(RES, 0, X0 + 0.25, 0, -RES, Y0 + N * RES))
    with pytest.raises(ValueError, match="dtm is on another grid"):
        canopy_raster(dsm, shifted)


def test_register_tree_without_crown_gets_its_patch() -> None:
    # Two crowns: a 5 m radius one alone, and two trees sharing one 8 x 4 m oblong patch.
    ground = np.zeros((N, N))
    x, y = centres()
    lone = blob(30, 30, 5.0, 12.0)
    pair = np.where((np.abs(x - X0 - 70) < 4) & (np.abs(y - Y0 - 70) < 2), 8.0, 0.0)
    canopy = canopy_raster(raster(lone + pair), raster(ground, "dtm"))
    xy = np.array([[X0 + 30.3, Y0 + 29.8], [X0 + 68, Y0 + 70], [X0 + 72, Y0 + 70], [X0 + 10, Y0 + 90]])
    d = crown_diameters(canopy, xy)
    lone_area = (lone > 0).sum() * RES**2
    assert d[0] == pytest.approx(2 * math.sqrt(lone_area / math.pi))
    assert d[0] == pytest.approx(10.0, abs=0.15)
    # The oblong patch is split down the middle: 4 x 4 m each, 16 m2 -> 4.51 m.
    assert d[1] == pytest.approx(2 * math.sqrt(16 / math.pi)) and d[2] == pytest.approx(d[1])
    assert np.isnan(d[3])  # no canopy near it
    # A tree just outside its crown (register points are approximate) still takes it.
    near = crown_diameters(canopy, np.array([[X0 + 30 + 6.0, Y0 + 30]]))
    assert near[0] == pytest.approx(d[0])
    # Patches with none of the trees: none when both are covered, the pair's when only the lone tree is given.
    assert not patches_without(canopy, xy).any()
    assert np.array_equal(patches_without(canopy, xy[:1]), pair > 0)


def test_tree_tops_of_two_crowns_and_the_window_rule() -> None:
    ground = np.zeros((N, N))
    x, y = centres()
    cone = lambda cx, cy, h, r: np.where(  # noqa: E731
        np.hypot(x - X0 - cx, y - Y0 - cy) < r, h - np.hypot(x - X0 - cx, y - Y0 - cy) * 0.8, 0.0
    )
    # Two cone crowns 12 m apart that touch, and a lone 20 m one: one top each, at the apex.
    dsm = np.maximum.reduce([cone(20, 50, 12, 6.5), cone(32, 50, 10, 6.5), cone(70, 50, 20, 7)])
    canopy = canopy_raster(raster(dsm), raster(ground, "dtm"))
    xy, h = tree_tops(canopy)
    assert len(xy) == 3
    lowered = np.array([10.0, 12.0, 20.0]) - np.sort(h)  # apexes lowered by the 1 m smoothing, not more
    assert ((lowered > 0) & (lowered < 1.5)).all()
    got = sorted(zip(np.round(xy[:, 0] - X0), np.round(xy[:, 1] - Y0), strict=True))
    assert got == [(20.0, 50.0), (32.0, 50.0), (70.0, 50.0)]
    assert window_diameter_m(np.array([20.0]))[0] == pytest.approx(3.09632 + 0.00895 * 400)


# --------------------------------------------------------------------------- real data: Delft AHN3 + BGT


@pytest.fixture(scope="module")
def delft() -> dict[str, Any]:
    if not all(p.exists() for p in LAZ) or not BGT.is_dir():
        pytest.skip("../shared/data/ahn3-delft or bgt-delft is not present")
    ahn = read_ahn(laz=LAZ, declared_crs=RD_NEW)
    dsm, dtm = ahn.sources["dsm"], ahn.sources["dtm"]
    bgt = read_bgt(BGT)
    lc = bgt.sources["landcover"]
    water = lc.geometry.values[(lc["class"] == "water").to_numpy()]
    buildings = bgt.sources["buildings"].geometry.values
    veg = grid_vegetation(LAZ, dsm)
    # Cells where a vegetation-class point (AHN3: class 1) lies at least 2.5 m above the terrain.
    with np.errstate(invalid="ignore"):
        veg_high = veg.data[0] - dtm.data[0] >= 2.5
    burn = lambda geoms: rasterize(  # noqa: E731
        ((g, 1) for g in geoms), out_shape=dsm.data.shape[1:], transform=dsm.transform
    ).astype(bool)
    return {
        "dsm": dsm, "dtm": dtm, "water": water, "buildings": buildings, "veg": veg, "veg_high": veg_high,
        "mapped": burn(lc.geometry.values), "in_building": burn(buildings),
        "chm_only": canopy_mask(canopy_raster(dsm, dtm, buildings, water)),
        "laz": canopy_mask(canopy_raster(dsm, dtm, buildings, water, vegetation=veg)),
    }


def test_delft_ahn3_has_vegetation_only_in_class_1() -> None:
    if not LAZ[0].exists():
        pytest.skip("no AHN3 sample")
    classes = set(np.unique(np.asarray(laspy.read(LAZ[0]).classification)).tolist())
    assert classes == {1, 2, 6, 9, 26}  # no 3/4/5: AHN3 leaves vegetation "unclassified"


def test_delft_vegetation_raster_lands_on_the_dsm_cells(delft: dict[str, Any]) -> None:
    las = laspy.read(LAZ[1])
    keep = np.asarray(las.classification) == 1
    x, y, z = np.asarray(las.x)[keep], np.asarray(las.y)[keep], np.asarray(las.z)[keep]
    cell, inside = _cell_index(x, y, delft["dsm"])
    top = delft["veg"].data[0].ravel()
    # Every class-1 point lies at or below its cell's vegetation value (the highest of two files).
    assert (z[inside] <= top[cell[inside]] + 1e-4).all()
    assert np.isfinite(top[cell[inside]]).all()


def test_delft_canopy_agrees_with_the_vegetation_points(delft: dict[str, Any]) -> None:
    mapped, veg_high = delft["mapped"], delft["veg_high"]
    near = ndimage.binary_dilation(veg_high, np.ones((3, 3), bool))
    for name in ("chm_only", "laz"):
        canopy = delft[name] & mapped
        # Most canopy cells hold a vegetation point above 2.5 m; building footprints hold no canopy.
        assert veg_high[canopy].mean() > 0.9 if name == "chm_only" else veg_high[canopy].mean() > 0.97, name
        assert not (delft[name] & delft["in_building"]).any(), name
    assert near[delft["laz"]].all()
    # Without the point classes, roofs the BGT extract lacks become "canopy" outside the mapped area.
    outside = ~mapped
    assert delft["chm_only"][outside].mean() > 2.5 * delft["laz"][outside].mean()


def test_delft_canopy_share(delft: dict[str, Any]) -> None:
    mapped = delft["mapped"]
    share = 100 * (delft["laz"] & mapped).sum() / mapped.sum()
    # Recorded figure (docs/method-canopy.md): 11.2 % of the BGT-mapped part of the AHN tiles.
    assert share == pytest.approx(11.2, abs=0.3)
    tops, _ = tree_tops(canopy_raster(delft["dsm"], delft["dtm"], delft["buildings"], delft["water"],
                                      vegetation=delft["veg"]))
    # Recorded: 286 tops over the 9,540 m2 of canopy of the tiles (smoothing 1 m).
    assert 200 <= len(tops) <= 350


def test_tree_tops_within_bounds_equal_those_of_the_whole_raster(delft: dict[str, Any]) -> None:
    """The cropped search (``within``) finds exactly the whole raster's tops in the bounds, on real AHN3."""
    canopy = canopy_raster(delft["dsm"], delft["dtm"], delft["buildings"], delft["water"], vegetation=delft["veg"])
    every, h_every = tree_tops(canopy)
    left, bottom, right, top = canopy.bounds
    for frac in ((0.3, 0.3, 0.6, 0.7), (0.0, 0.0, 0.5, 0.5), (0.45, 0.2, 0.55, 0.9)):
        box = (left + frac[0] * (right - left), bottom + frac[1] * (top - bottom),
               left + frac[2] * (right - left), bottom + frac[3] * (top - bottom))
        inside = ((every[:, 0] >= box[0]) & (every[:, 0] <= box[2]) & (every[:, 1] >= box[1])
                  & (every[:, 1] <= box[3]))
        xy, h = tree_tops(canopy, within=box)
        assert inside.sum() > 5
        np.testing.assert_array_equal(xy, every[inside])
        np.testing.assert_allclose(h, h_every[inside], rtol=0, atol=1e-9)


def test_grid_share_pct_equals_counting_every_cell_centre() -> None:
    from affine import Affine

    from geo.canopy import grid_share_pct
    from geo.grid import Grid

    rng = np.random.default_rng(1)
    under = rng.random((203, 157)) > 0.6
    fine = Affine(0.5, 0, 1000.25, 0, -0.5, 2000.0)
    rows, cols = np.indices(under.shape)
    x, y = fine.c + (cols + 0.5) * fine.a, fine.f + (rows + 0.5) * fine.e
    for bounds, res in (((1000.0, 1900.0, 1080.0, 2000.0), 10.0), ((990.0, 1880.0, 1200.0, 2010.0), 3.0),
                        ((1010.0, 1950.0, 1030.0, 1960.0), 1.0)):
        grid = Grid.from_bounds(bounds, res, "EPSG:28992")
        c = np.floor((x - grid.transform.c) / res).astype(int)
        r = np.floor((grid.transform.f - y) / res).astype(int)
        inside = (c >= 0) & (c < grid.width) & (r >= 0) & (r < grid.height)
        flat = (r * grid.width + c)[inside]
        total = np.bincount(flat, minlength=grid.width * grid.height)
        part = np.bincount(flat, weights=under[inside].astype(float), minlength=grid.width * grid.height)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.where(total > 0, part / total * 100.0, np.nan).reshape(grid.shape)
        np.testing.assert_allclose(grid_share_pct(under, fine, grid), expected, equal_nan=True)


def test_crowns_of_some_trees_and_tree_patches_equal_the_whole_split(delft: dict[str, Any]) -> None:
    """Diameters of a subset (``of``) equal those of the split of the whole canopy; patches equal a full search."""
    from scipy.spatial import cKDTree

    from geo.canopy import _tree_patches, cell_centres

    canopy = canopy_raster(delft["dsm"], delft["dtm"], delft["buildings"], delft["water"], vegetation=delft["veg"])
    tops, _ = tree_tops(canopy)
    rng = np.random.default_rng(5)
    left, bottom, right, top = canopy.bounds
    # Trees on the canopy and trees just beside it (within and beyond the snap distance).
    loose = np.column_stack([rng.uniform(left, right, 400), rng.uniform(bottom, top, 400)])
    xy = np.vstack([tops, loose])
    every = crown_diameters(canopy, xy)
    some = np.flatnonzero(xy[:, 0] < left + 0.4 * (right - left))
    np.testing.assert_array_equal(crown_diameters(canopy, xy, of=some), every[some])
    np.testing.assert_array_equal(crown_diameters(canopy, xy, of=slice(len(tops), None)), every[len(tops):])

    mask = canopy_mask(canopy)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    rows, cols = np.nonzero(mask)
    dist, k = cKDTree(cell_centres(canopy, rows, cols)).query(loose, distance_upper_bound=1.5)
    k = np.minimum(k, len(rows) - 1)
    expected = np.where(np.isfinite(dist), labels[rows[k], cols[k]], 0)
    got = _tree_patches(canopy, labels, loose, 1.5)
    assert (got > 0).sum() > 20  # some loose points do snap to a patch
    np.testing.assert_array_equal(got, expected)
