"""Sky view factor: analytic cases, a plain reference, rvt-py, nodata holes and chunking."""

from __future__ import annotations

import math

import dask
import numpy as np
import pytest
from affine import Affine
from numba import prange
from pyproj import CRS

from geo.raster import Raster
from geo.svf import horizon_offsets, sky_view_factor, sky_view_factor_raster

RD = CRS.from_epsg(28992)


def urban_dsm(n: int, seed: int = 7, boxes: int = 40) -> np.ndarray:
    """Flat ground with random flat-roofed blocks 4-20 m high plus 0.1 m noise (a synthetic town)."""
    rng = np.random.default_rng(seed)
    dsm = np.zeros((n, n), dtype=np.float32)
    for _ in range(boxes):
        r, c = rng.integers(0, n, 2)
        h, w = rng.integers(n // 40 + 2, n // 6 + 3, 2)
        dsm[r : r + h, c : c + w] = rng.uniform(4, 20)
    return dsm + rng.normal(0, 0.1, dsm.shape).astype(np.float32)


def reference_svf(dsm: np.ndarray, res: float, directions: int, radius: int, formula: str, r: int, c: int) -> float:
    """Straightforward per-cell horizon search (no shortcuts), for one cell."""
    total = 0.0
    for i in range(directions):
        a = 2 * math.pi * i / directions
        best = 0.0
        for step in range((radius - 1) * 3 + 1):
            t = 1 + step / 3
            dr, dc = int(np.round(math.cos(a) * t)), int(np.round(math.sin(a) * t))
            rr, cc = r - dr, c - dc
            if not (0 <= rr < dsm.shape[0] and 0 <= cc < dsm.shape[1]) or np.isnan(dsm[rr, cc]):
                continue
            best = max(best, (float(dsm[rr, cc]) - float(dsm[r, c])) / (math.hypot(dr, dc) * res))
        angle = math.atan(best)
        total += math.cos(angle) ** 2 if formula == "oke" else 1 - math.sin(angle)
    return total / directions


@pytest.mark.parametrize("formula", ["oke", "zaksek"])
def test_flat_surface_sees_the_whole_sky(formula: str) -> None:
    svf = sky_view_factor(np.full((40, 50), 3.5, dtype=np.float32), 0.5, 16, 10.0, formula)  # type: ignore[arg-type]
    assert svf.dtype == np.float32 and svf.shape == (40, 50)
    assert np.all(svf == 1.0)


def test_cylindrical_pit_centre_matches_analytic_value() -> None:
    res, radius_m, depth_m = 0.1, 10.0, 5.0
    n = 261
    yy, xx = np.mgrid[:n, :n]
    centre = n // 2
    dist_m = np.hypot(yy - centre, xx - centre) * res
    dsm = np.where(dist_m <= radius_m, -depth_m, 0.0).astype(np.float32)
    beta = math.atan(depth_m / radius_m)
    oke = sky_view_factor(dsm, res, 16, 12.0, "oke")[centre, centre]
    zaksek = sky_view_factor(dsm, res, 16, 12.0, "zaksek")[centre, centre]
    # The rim cells lie up to one cell (1 % of r) beyond r, hence the tolerance.
    assert oke == pytest.approx(math.cos(beta) ** 2, abs=0.01)  # 0.80
    assert zaksek == pytest.approx(1 - math.sin(beta), abs=0.01)  # 0.553
    # A search radius short of the rim sees a flat floor.
    assert sky_view_factor(dsm, res, 16, 5.0, "oke")[centre, centre] == 1.0


def test_kernel_matches_plain_reference_everywhere_including_edges_and_holes() -> None:
    dsm = urban_dsm(90)
    dsm[30:36, 50:60] = np.nan
    res, radius = 0.5, 25
    rng = np.random.default_rng(3)
    cells = [*zip(rng.integers(0, 90, 40), rng.integers(0, 90, 40), strict=True), (0, 0), (89, 45), (33, 48)]
    for formula in ("oke", "zaksek"):
        ours = sky_view_factor(dsm, res, 16, radius * res, formula)  # type: ignore[arg-type]
        for r, c in cells:
            if np.isnan(dsm[r, c]):
                assert np.isnan(ours[r, c])
                continue
            assert ours[r, c] == pytest.approx(reference_svf(dsm, res, 16, radius, formula, r, c), abs=1e-5)


def test_agrees_with_rvt_py_away_from_the_edges() -> None:
    rvt_vis = pytest.importorskip("rvt.vis", reason="rvt-py not installed (pip install --no-deps rvt-py)")
    dsm = urban_dsm(240)
    res, radius = 0.5, 40
    ref = rvt_vis.sky_view_factor(dsm, res, compute_svf=True, svf_n_dir=16, svf_r_max=radius, svf_noise=0)["svf"]
    ours = sky_view_factor(dsm, res, 16, radius * res, "zaksek")
    inner = (slice(radius, -radius), slice(radius, -radius))
    assert np.abs(ours[inner] - ref[inner]).max() < 0.01
    # The urban-climate definition is never below RVT's solid-angle one (cos^2 b = 1 - sin^2 b >= 1 - sin b).
    oke = sky_view_factor(dsm, res, 16, radius * res, "oke")
    assert np.all(oke >= ours - 1e-6)
    assert 0.3 < float(oke[inner].mean()) < 0.95


def test_nodata_hole_stays_local() -> None:
    dsm = np.zeros((60, 60), dtype=np.float32)
    dsm[20:30, 25:40] = np.nan
    svf = sky_view_factor(dsm, 1.0, 16, 30.0)
    assert np.isnan(svf[20:30, 25:40]).all()
    known = ~np.isnan(dsm)
    assert np.all(svf[known] == 1.0)


def test_chunked_equals_unchunked_exactly() -> None:
    dsm = urban_dsm(150, seed=11)
    dsm[70:80, 10:30] = np.nan
    raster = Raster(dsm, RD, Affine(0.5, 0, 100_000, 0, -0.5, 450_000), nodata=float("nan"), band_names=("dsm",))
    for formula in ("oke", "zaksek"):
        whole = sky_view_factor(dsm, 0.5, 16, 12.0, formula)  # type: ignore[arg-type]
        with dask.config.set(scheduler="threads", num_workers=2):
            chunked = sky_view_factor_raster(raster, 16, 12.0, formula, chunk_size=32)  # type: ignore[arg-type]
        assert chunked.same_grid(raster) and chunked.band_names == ("svf",)
        np.testing.assert_array_equal(chunked.data[0], whole)


def test_offsets_walk_outward_along_each_direction() -> None:
    d_row, d_col, dist, counts = horizon_offsets(4, 5)
    # Direction 0 (RVT's first) reads upwards in rows: -1 .. -5, one cell each.
    assert list(d_row[0, : counts[0]]) == [-1, -2, -3, -4, -5] and not d_col[0].any()
    assert list(dist[1, : counts[1]]) == [1, 2, 3, 4, 5]
    assert np.all(np.diff(dist[2, : counts[2]]) > 0)


def test_bad_arguments_name_the_parameter() -> None:
    flat = np.zeros((5, 5))
    with pytest.raises(ValueError, match="formula"):
        sky_view_factor(flat, 1.0, formula="svf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="resolution_m"):
        sky_view_factor(flat, 0.0)
    with pytest.raises(ValueError, match="2-D"):
        sky_view_factor(np.zeros((2, 5, 5)), 1.0)
    with pytest.raises(ValueError, match="directions"):
        sky_view_factor(flat, 1.0, directions=0)
    wide = Raster(flat, RD, Affine(1.0, 0, 0, 0, -2.0, 10))
    with pytest.raises(ValueError, match="square cells"):
        sky_view_factor_raster(wide)


def test_real_ahn_sample_agrees_with_reference_and_rvt(shared_data) -> None:  # type: ignore[no-untyped-def]
    from geo.ahn import read_ahn
    from geo.crs import RD_NEW

    folder = shared_data / "ahn3-delft"
    dsm = read_ahn(laz=sorted(folder.glob("*.laz")), declared_crs=RD_NEW).sources["dsm"]
    heights = dsm.data[0]
    res, radius = dsm.resolution[0], 30
    ours = sky_view_factor(heights, res, 16, radius * res, "zaksek")
    assert ours.shape == heights.shape and np.isfinite(ours).all()
    rng = np.random.default_rng(1)
    for r, c in zip(rng.integers(0, heights.shape[0], 15), rng.integers(0, heights.shape[1], 15), strict=True):
        assert ours[r, c] == pytest.approx(reference_svf(heights, res, 16, radius, "zaksek", r, c), abs=1e-5)
    try:
        import rvt.vis as rvt_vis
    except ImportError:
        pytest.skip("rvt-py not installed (pip install --no-deps rvt-py); checked against the reference only")
    ref = rvt_vis.sky_view_factor(heights, res, compute_svf=True, svf_n_dir=16, svf_r_max=radius, svf_noise=0)["svf"]
    inner = (slice(radius, -radius), slice(radius, -radius))
    assert np.abs(ours[inner] - ref[inner]).max() < 0.01


def _double_sum(values: np.ndarray) -> float:
    total = 0.0
    for i in prange(values.shape[0]):
        total += 2.0 * values[i]
    return total


def test_kernels_compile_without_cache_when_numba_has_no_cache_location(monkeypatch: pytest.MonkeyPatch) -> None:
    import numba

    from geo import chunked

    real = numba.njit

    def refuse_cache(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function '_double_sum': no locator available for file 'x.py'")
        return real(*args, **kwargs)

    monkeypatch.setattr(chunked.numba, "njit", refuse_cache)
    with pytest.warns(UserWarning, match="numba cache unavailable"):
        compiled = chunked.kernel_jit(_double_sum)
    assert compiled(np.arange(4.0)) == 12.0
