"""``geo.heat.dsm_on_grid``: the block maximum on aligned grids equals GDAL's max resampling cell for cell."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from geo import heat
from geo.grid import Grid
from geo.raster import Raster

RD = CRS.from_epsg(28992)


@pytest.mark.parametrize("trial", range(12))
def test_block_max_equals_gdal_max(trial: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(trial)
    h, w = (int(v) for v in rng.integers(20, 90, 2))
    data = rng.uniform(0, 30, (h, w)).astype(np.float32)
    data[rng.random((h, w)) < 0.2] = np.nan
    x0, y0 = 1000.0 + 0.5 * int(rng.integers(0, 5)), 2000.0 + 0.5 * int(rng.integers(0, 5))
    dsm = Raster(data, RD, Affine(0.5, 0, x0, 0, -0.5, y0), nodata=float("nan"))
    res = 0.5 * int(rng.integers(1, 4))
    gx, gy = x0 + 0.5 * int(rng.integers(-6, 6)), y0 + 0.5 * int(rng.integers(-6, 6))
    gw, gh = int(rng.integers(5, 40)), int(rng.integers(5, 40))
    grid = Grid.from_bounds((gx, gy - gh * res, gx + gw * res, gy), res, RD)
    assert heat._aligned_factor(dsm, grid) is not None
    fast = heat.dsm_on_grid(dsm, grid).data[0]
    monkeypatch.setattr(heat, "_block_max", lambda *args: None)  # force GDAL's warper
    slow = heat.dsm_on_grid(dsm, grid).data[0]
    np.testing.assert_array_equal(fast, slow)


def test_a_misaligned_grid_takes_gdal() -> None:
    dsm = Raster(np.ones((10, 10), np.float32), RD, Affine(0.5, 0, 0.25, 0, -0.5, 5.0))
    grid = Grid.from_bounds((0.0, 0.0, 5.0, 5.0), 1.0, RD)
    assert heat._aligned_factor(dsm, grid) is None
    assert np.nanmax(heat.dsm_on_grid(dsm, grid).data[0]) == 1.0
