"""A person's view from the ground (geo.ground_view): hand-built cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.ground_view import CROWN_TRANSMISSIVITY, OBSERVER_HEIGHT_M, ground_view
from geo.shadow import shadow_fraction
from geo.svf import sky_view_factor

RES = 0.5
N = 80
#: A sun in the south-west at 45 degrees: shadows fall to the north-east, as long as the object is high.
SW_45 = (45.0, 225.0)
SOUTH_30 = (30.0, 180.0)


def _flat() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    dtm = np.zeros((N, N), dtype=np.float32)
    return dtm.copy(), dtm, np.zeros((N, N), dtype=bool), np.zeros((N, N), dtype=bool)


def _disc(row: int, col: int, radius_cells: float) -> np.ndarray:
    yy, xx = np.mgrid[0:N, 0:N]
    return (yy - row) ** 2 + (xx - col) ** 2 <= radius_cells**2


def test_one_tree_over_paving_shades_the_ground_under_its_crown() -> None:
    dsm, dtm, buildings, canopy = _flat()
    crown = _disc(40, 40, 8)  # a crown of 8 m across, 10 m high
    dsm[crown], canopy[crown] = 10.0, True
    view = ground_view(dsm, dtm, buildings, canopy, RES, [[SW_45]])
    assert view.shades[0][40, 40] == pytest.approx(1 - CROWN_TRANSMISSIVITY)  # under the crown: shaded
    assert view.shades[0][5, 5] == 0.0 and view.shades[0][75, 5] == 0.0  # open paving in the sun
    # The surface-level view puts the crown top in full sun and sees no ground under it.
    assert shadow_fraction(dsm, RES, [SW_45])[40, 40] == 0.0
    assert sky_view_factor(dsm, RES)[40, 40] > 0.99
    # Below the crown the sky is hidden by the crown around: SVF far below the open ground's.
    assert view.svf[40, 40] < 0.1 < 0.95 < view.svf[5, 5]
    # The crown's shadow on the ground, to the north-east: the ray from 1.5 m meets the crown layer
    # (base 2.5 m, top 10 m) up to (10 - 1.5) / tan 45 = 8.5 m beyond the crown's far edge.
    edge = 40 - round(8 / math.sqrt(2))  # the crown's north-east edge along the diagonal (row = col mirror)
    inside = round((8.5 - 1.0) / RES / math.sqrt(2))
    assert view.shades[0][edge - inside, 80 - (edge - inside)] == pytest.approx(1 - CROWN_TRANSMISSIVITY)
    beyond = round((8.5 + 2.0) / RES / math.sqrt(2))
    assert view.shades[0][edge - beyond, 80 - (edge - beyond)] == 0.0


def test_a_wall_shades_the_person_up_to_the_hand_computed_distance() -> None:
    dsm, dtm, buildings, canopy = _flat()
    wall_row = 60  # a 10 m block along the south: rows 60.. (row 0 is north)
    dsm[wall_row:, :], buildings[wall_row:, :] = 10.0, True
    view = ground_view(dsm, dtm, buildings, canopy, RES, [[SOUTH_30]])
    # From 1.5 m the block hides the sun up to (10 - 1.5) / tan 30 = 14.7 m north of its face;
    # the surface-level shadow of the ground reaches 10 / tan 30 = 17.3 m.
    reach = (10 - OBSERVER_HEIGHT_M) / math.tan(math.radians(30))
    column = view.shades[0][:wall_row, 40]
    shaded_m = (column[::-1] == 1.0).sum() * RES
    assert shaded_m == pytest.approx(reach, abs=RES)
    ground_shadow_m = (shadow_fraction(dsm, RES, [SOUTH_30])[:wall_row, 40][::-1] == 1.0).sum() * RES
    assert ground_shadow_m == pytest.approx(10 / math.tan(math.radians(30)), abs=RES)
    assert np.isnan(view.shades[0][wall_row:, :]).all() and view.roof[wall_row:, :].all()  # roofs: no street value


def test_a_crown_over_a_roof_gives_no_street_value_and_over_the_street_shade() -> None:
    dsm, dtm, buildings, canopy = _flat()
    buildings[:, :30] = True
    dsm[:, :30] = 6.0
    crown = _disc(40, 30, 6)  # half over the roof, half over the street
    dsm[crown] = np.maximum(dsm[crown], 9.0)
    canopy[crown] = True
    # A sun in the south-east: the building (west of the street) casts no shade on the street.
    view = ground_view(dsm, dtm, buildings, canopy, RES, [[(45.0, 135.0)]])
    assert view.shades[0][10, 40] == 0.0
    assert np.isnan(view.shades[0][40, 27]) and np.isnan(view.svf[40, 27]) and view.roof[40, 27]
    assert view.shades[0][40, 33] == pytest.approx(1 - CROWN_TRANSMISSIVITY) and not view.roof[40, 33]
    assert view.svf[40, 33] < 0.2


def test_without_crowns_and_at_ground_height_the_view_is_the_surface_view() -> None:
    rng = np.random.default_rng(3)
    dtm = rng.uniform(0, 1, (N, N)).astype(np.float32)
    dsm = dtm.copy()
    buildings = np.zeros((N, N), dtype=bool)
    for _ in range(6):
        r, c = rng.integers(5, N - 15, 2)
        buildings[r : r + 10, c : c + 8] = True
    dsm[buildings] += rng.uniform(4, 15)
    canopy = np.zeros((N, N), dtype=bool)
    suns = [SW_45, SOUTH_30, (20.0, 260.0)]
    view = ground_view(dsm, dtm, buildings, canopy, RES, [suns], observer_height_m=0.0, transmissivity=0.0)
    street = ~buildings
    np.testing.assert_allclose(view.svf[street], sky_view_factor(dsm, RES)[street], atol=1e-6)
    np.testing.assert_array_equal(view.shades[0][street], shadow_fraction(dsm, RES, suns)[street])


def test_a_sun_below_the_horizon_shades_everything_and_bad_grids_are_refused() -> None:
    dsm, dtm, buildings, canopy = _flat()
    view = ground_view(dsm, dtm, buildings, canopy, RES, [[(-5.0, 300.0), SW_45]])
    assert np.all(view.shades[0] == 0.5)
    with pytest.raises(ValueError, match="dtm has shape"):
        ground_view(dsm, dtm[:-1], buildings, canopy, RES, [[SW_45]])
    with pytest.raises(ValueError, match="transmissivity"):
        ground_view(dsm, dtm, buildings, canopy, RES, [[SW_45]], transmissivity=1.5)


def test_tiles_with_a_halo_give_the_whole_array_result() -> None:
    from affine import Affine
    from pyproj import CRS

    from geo.ground_view import ground_view_raster
    from geo.raster import Raster

    rng = np.random.default_rng(11)
    dtm = rng.uniform(0, 0.5, (N, N)).astype(np.float32)
    dsm = dtm.copy()
    buildings = np.zeros((N, N), dtype=bool)
    buildings[10:25, 50:70] = True
    dsm[buildings] += 12.0
    canopy = _disc(55, 25, 7) | _disc(30, 30, 5)
    dsm[canopy] += 9.0
    groups = [[SW_45], [SW_45, SOUTH_30, (25.0, 250.0)]]
    kwargs = {"max_svf_distance_m": 10.0, "max_shadow_m": 12.0}
    whole = ground_view(dsm, dtm, buildings, canopy, RES, groups, **kwargs)
    transform = Affine(RES, 0, 0, 0, -RES, N * RES)

    def raster(a: np.ndarray) -> Raster:
        return Raster(a[None], CRS.from_epsg(28992), transform, nodata=float("nan"))

    tiled = ground_view_raster(raster(dsm), raster(dtm), buildings, canopy, groups, chunk_size=24, **kwargs)
    assert whole.svf is not None and tiled.svf is not None
    np.testing.assert_array_equal(tiled.svf, whole.svf)
    for a, b in zip(tiled.shades, whole.shades, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(tiled.shades) == 2 and np.nanmax(tiled.shades[1]) > 0


def test_buildings_behind_a_crown_still_close_the_sky_seen_through_it() -> None:
    """A ring of buildings behind a low, close crown: with fully transparent crowns the sky is the buildings' own.

    The search along a direction stops once no farther cell can raise the horizon; a crown raises the
    horizon of crowns and buildings, not that of buildings alone, so the search must go on to the ring
    (it used to stop at the crown and see an open sky through it).
    """
    dsm, dtm, buildings, _ = _flat()
    ring = _disc(40, 40, 30) & ~_disc(40, 40, 26)  # 13-15 m away at 0.5 m cells
    dsm[ring], buildings[ring] = 15.0, True
    crown = _disc(40, 40, 5) & ~_disc(40, 40, 1)  # a crown 0.5-2.5 m around the observer, 6 m high
    with_crown = dsm.copy()
    with_crown[crown] = 6.0
    kwargs = {"transmissivity": 1.0, "max_svf_distance_m": 20.0, "max_shadow_m": 20.0}
    # The observer alone (a core of one cell): the search stops when that one cell is done.
    observer = (slice(40, 41), slice(40, 41))
    seen = ground_view(with_crown, dtm, buildings, crown, RES, [[SW_45]], core=observer, **kwargs).svf
    bare = ground_view(dsm, dtm, buildings, np.zeros_like(crown), RES, [[SW_45]], **kwargs).svf
    assert seen is not None and bare is not None
    assert seen[0, 0] == pytest.approx(bare[40, 40], abs=1e-6)
    # The ring (13.5 m above the eye at 13-15 m) leaves about cos^2(atan(13.5 / 13)) of the sky.
    assert bare[40, 40] == pytest.approx(1 / (1 + (13.5 / 13.25) ** 2), abs=0.05)
