"""Cast shadows: a single box at known sun positions, holes, chunking."""

from __future__ import annotations

import math

import dask
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from geo.raster import Raster
from geo.shadow import shadow_fraction, shadow_fraction_raster
from geo.solar import SunPosition

RES = 0.5
HEIGHT = 10.0
#: Box rows/cols 40..59 on a 100 x 100 grid of 0.5 m cells.
BOX = slice(40, 60)


def box_dsm(n: int = 100) -> np.ndarray:
    dsm = np.zeros((n, n))
    dsm[BOX, BOX] = HEIGHT
    return dsm


def expected_cells(elevation_deg: float, step_m: float = RES) -> int:
    """Cells n >= 1 away from a wall whose near edge, (n - 0.5) cells out, lies within h / tan(e)."""
    length = HEIGHT / math.tan(math.radians(elevation_deg))
    return sum(1 for n in range(1, 1000) if (n - 0.5) * step_m < length)


@pytest.mark.parametrize("elevation", [45.0, 30.0, 60.0])
def test_box_shadow_to_the_north_has_length_h_over_tan_elevation(elevation: float) -> None:
    shade = shadow_fraction(box_dsm(), RES, [(elevation, 180.0)])  # sun in the south
    column = shade[:40, 50][::-1]  # walking north from the box
    n = expected_cells(elevation)
    assert n == round(HEIGHT / math.tan(math.radians(elevation)) / RES)  # the whole-cell length, e.g. 20 at 45 deg
    assert column[:n].tolist() == [1.0] * n and not column[n:].any()
    # Nothing on the sunny (south), east and west sides, and the roof is lit.
    assert not shade[60:, :].any() and not shade[:, :40].any() and not shade[:, 60:].any()
    assert not shade[BOX, BOX].any()


def test_shadow_direction_follows_the_azimuth() -> None:
    east = shadow_fraction(box_dsm(), RES, [SunPosition(45.0, 90.0)])  # sun in the east: shadow to the west
    assert east[50, 40 - expected_cells(45.0) : 40].all() and not east[50, 60:].any()
    assert not east[:40, :].any() and not east[60:, :].any()
    south_west = shadow_fraction(box_dsm(), RES, [(45.0, 225.0)])  # shadow to the north-east
    diagonal = [south_west[40 - k, 59 + k] for k in range(1, 30)]
    # From the box's NE corner the shadow reaches h / tan(e) / sqrt(2) cells along the diagonal (14.1).
    assert abs(sum(diagonal) - HEIGHT / RES / math.sqrt(2)) <= 1.0
    assert diagonal[:13] == [1.0] * 13
    assert not south_west[60:, :].any() and not south_west[:, :40].any()


def test_fraction_over_several_positions_and_sun_below_horizon() -> None:
    shade = shadow_fraction(box_dsm(), RES, [(45.0, 180.0), (45.0, 0.0), (-5.0, 0.0), (30.0, 90.0)])
    assert shade[35, 50] == pytest.approx(2 / 4)  # north of the box: southern sun + night
    assert shade[65, 50] == pytest.approx(2 / 4)  # south: northern sun + night
    assert shade[50, 30] == pytest.approx(2 / 4)  # west: eastern sun + night
    assert shade[5, 5] == pytest.approx(1 / 4)  # open field: only at night


def test_holes_cast_no_shadow_and_stay_nodata() -> None:
    dsm = box_dsm()
    dsm[70:80, 45:55] = np.nan
    shade = shadow_fraction(dsm, RES, [(45.0, 180.0)])
    assert np.isnan(shade[70:80, 45:55]).all()
    assert np.isfinite(shade[~np.isnan(dsm)]).all()
    np.testing.assert_array_equal(shade[:40], shadow_fraction(box_dsm(), RES, [(45.0, 180.0)])[:40])


def test_max_distance_cuts_long_shadows() -> None:
    shade = shadow_fraction(box_dsm(), RES, [(20.0, 180.0)], max_distance_m=5.0)
    assert shade[:40, 50].sum() == 10  # 5 m of the 27 m shadow


def test_chunked_equals_unchunked_exactly() -> None:
    rng = np.random.default_rng(2)
    dsm = rng.normal(0, 0.2, (130, 110)).astype(np.float32)
    for _ in range(25):
        r, c = rng.integers(0, 120, 2)
        dsm[r : r + 8, c : c + 6] = rng.uniform(3, 15)
    dsm[5:15, 60:70] = np.nan
    positions = [(55.0, 137.0), (33.3, 265.4), (60.0, 180.0)]
    raster = Raster(dsm, CRS.from_epsg(28992), Affine(0.5, 0, 0, 0, -0.5, 100), nodata=float("nan"))
    whole = shadow_fraction(dsm, 0.5, positions, max_distance_m=20.0)
    with dask.config.set(scheduler="threads", num_workers=2):
        chunked = shadow_fraction_raster(raster, positions, max_distance_m=20.0, chunk_size=24)
    np.testing.assert_array_equal(chunked.data[0], whole)
    assert 0.05 < float(np.nanmean(whole)) < 0.9


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sun_positions is empty"):
        shadow_fraction(box_dsm(), RES, [])
    with pytest.raises(ValueError, match="elevations"):
        shadow_fraction(box_dsm(), RES, [(120.0, 0.0)])
    with pytest.raises(ValueError, match="resolution_m"):
        shadow_fraction(box_dsm(), -1.0, [(45.0, 0.0)])
