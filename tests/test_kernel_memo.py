"""Incremental kernels (``geo.kernel_memo``): a second run on edited inputs equals a full run, exactly."""

from __future__ import annotations

import numpy as np
from affine import Affine
from pyproj import CRS

from geo.ground_view import ground_view, ground_view_raster
from geo.kernel_memo import kernel_memo
from geo.raster import Raster
from tests.test_ground_view import RES, SOUTH_30, SW_45, N, _disc

KWARGS = {"max_svf_distance_m": 10.0, "max_shadow_m": 12.0}
GROUPS = [[SW_45], [SW_45, SOUTH_30]]


def _scene(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dtm = rng.uniform(0, 0.5, (N, N)).astype(np.float32)
    dsm = dtm.copy()
    buildings = np.zeros((N, N), dtype=bool)
    buildings[10:25, 50:70] = True
    dsm[buildings] += 12.0
    canopy = _disc(55, 25, 7)
    dsm[canopy] += 9.0
    return dsm, dtm, buildings, canopy


def _raster(a: np.ndarray) -> Raster:
    return Raster(a[None], CRS.from_epsg(28992), Affine(RES, 0, 0, 0, -RES, N * RES), nodata=float("nan"))


def _view(dsm: np.ndarray, dtm: np.ndarray, buildings: np.ndarray, canopy: np.ndarray) -> list[np.ndarray]:
    view = ground_view_raster(_raster(dsm), _raster(dtm), buildings, canopy, GROUPS, chunk_size=24, **KWARGS)
    assert view.svf is not None
    return [view.svf, *view.shades]


def test_a_planted_tree_recomputes_only_its_reach_and_equals_a_full_run() -> None:
    dsm, dtm, buildings, canopy = _scene()
    tree = _disc(20, 60, 3)
    dsm2, canopy2 = dsm.copy(), canopy | tree
    dsm2[tree] = dtm[tree] + 8.0
    with kernel_memo() as memo:
        first = _view(dsm, dtm, buildings, canopy)
        second = _view(dsm2, dtm, buildings, canopy2)
    assert (memo.full, memo.partial, memo.hits) == (1, 1, 0)
    assert 0 < memo.recomputed_cells < N * N  # only the box the tree can reach
    whole = ground_view(dsm2, dtm, buildings, canopy2, RES, GROUPS, **KWARGS)
    assert whole.svf is not None
    for got, expected in zip(second, [whole.svf, *whole.shades], strict=True):
        np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(first[0], second[0])  # the tree did change the sky view


def test_unchanged_inputs_reuse_the_outputs() -> None:
    scene = _scene()
    with kernel_memo() as memo:
        first = _view(*scene)
        second = _view(*scene)
    assert memo.hits == 1 and memo.partial == 0
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a is not b  # copies: a caller changing one cannot change the other


def test_outside_a_memo_block_nothing_is_kept() -> None:
    scene = _scene()
    with kernel_memo() as memo:
        pass
    _view(*scene)
    assert memo.full == 0 and not memo.entries



def test_a_core_equals_the_same_cells_of_a_whole_run() -> None:
    dsm, dtm, buildings, canopy = _scene()
    whole = ground_view(dsm, dtm, buildings, canopy, RES, GROUPS, **KWARGS)
    core = (slice(13, 41), slice(5, N - 9))
    part = ground_view(dsm, dtm, buildings, canopy, RES, GROUPS, core=core, **KWARGS)
    assert part.svf is not None and whole.svf is not None
    assert part.svf.shape == (28, N - 14)
    for got, expected in zip([part.svf, *part.shades], [whole.svf, *whole.shades], strict=True):
        np.testing.assert_array_equal(got, expected[core])
    np.testing.assert_array_equal(part.roof, buildings[core])
