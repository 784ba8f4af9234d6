"""Inputs of the heat-stress method on one output grid: the surface model and the vegetation fraction.

* :func:`dsm_on_grid` puts a DSM on the grid of the heat-stress rasters.
  Coarsening keeps the *highest* surface of the cells merged (GDAL ``max``
  resampling), the way AHN builds its own DSM from the highest return, so
  walls and tree crowns keep casting shadows and closing the sky.
* :func:`focal_fraction` is the share of a property (vegetation) within a
  disc around every cell, e.g. Theeuwes et al. (2017)'s ``F_veg`` within
  500 m. It is averaged on a coarse grid (default 10 m) and convolved there
  with the disc by FFT (``scipy.signal.fftconvolve``): a 500 m mean changes by
  less than 2 % over 10 m, and the coarse grid keeps memory and time small
  for a whole municipality. Unmapped cells (NaN) are left out of both the
  numerator and the denominator, so the edge of the map does not count as
  "not vegetated".
"""

from __future__ import annotations

import math

import numpy as np
from rasterio.warp import Resampling, reproject

from geo.errors import CRSError
from geo.grid import Grid
from geo.raster import Raster

#: Cell size (m) of the coarse grid on which focal fractions are averaged.
DEFAULT_FRACTION_CELL_M = 10.0
#: Convolution round-off below which a neighbourhood counts as unmapped (a count of cells is >= 1).
_MIN_MAPPED = 0.5
#: Share of a cell by which grids may miss exact alignment (floating-point rounding of coordinates).
_ALIGN = 1e-6


def dsm_on_grid(dsm: Raster, grid: Grid) -> Raster:
    """The DSM on ``grid``, coarsened by the highest value (float32, NaN nodata).

    Raises:
        CRSError: the DSM is in another CRS than the grid (heights are never
            reprojected silently; give the DSM in the region CRS).
    """
    if not dsm.crs.equals(grid.crs, ignore_axis_order=True):
        raise CRSError("dsm", f"the DSM is in {dsm.crs.to_string()}, the region in {grid.crs.to_string()}")
    src = dsm.data[0].astype(np.float32, copy=False)
    if dsm.transform.almost_equals(grid.transform) and src.shape == grid.shape:
        return Raster(src, grid.crs, grid.transform, nodata=float("nan"), band_names=("dsm",), units=("m",))
    if dsm.nodata is not None and not np.isnan(dsm.nodata):
        src = np.where(src == np.float32(dsm.nodata), np.float32(np.nan), src)
    out = _block_max(src, dsm, grid)
    if out is None:
        out = _warp_max(src, dsm, grid)
    # GDAL's warper can carry the edge row of the source one cell beyond it, depending on the
    # destination's extent (so a window and a whole-region run would differ): a cell whose centre
    # lies outside the source has no data.
    left, bottom, right, top = dsm.bounds
    cols = grid.transform.c + (np.arange(grid.shape[1]) + 0.5) * grid.transform.a
    rows = grid.transform.f + (np.arange(grid.shape[0]) + 0.5) * grid.transform.e
    out[(rows < bottom) | (rows > top), :] = np.nan
    out[:, (cols < left) | (cols > right)] = np.nan
    return Raster(out, grid.crs, grid.transform, nodata=float("nan"), band_names=("dsm",), units=("m",))


def _aligned_factor(dsm: Raster, grid: Grid) -> tuple[int, int, int] | None:
    """``(k, row_off, col_off)`` when each cell of ``grid`` is exactly ``k`` x ``k`` DSM cells, else None.

    The offsets are the DSM cell (row, column) of the grid's top-left corner (may be negative).
    """
    t, g = dsm.transform, grid.transform
    if t.b or t.d or g.b or g.d or t.e >= 0 or g.e >= 0 or not math.isclose(t.a, -t.e) or not math.isclose(g.a, -g.e):
        return None
    ratio = g.a / t.a
    k = round(ratio)
    col, row = (g.c - t.c) / t.a, (t.f - g.f) / t.a
    if k < 1 or abs(ratio - k) > _ALIGN or abs(col - round(col)) > _ALIGN or abs(row - round(row)) > _ALIGN:
        return None
    return k, round(row), round(col)


def _block_max(src: np.ndarray, dsm: Raster, grid: Grid) -> np.ndarray | None:
    """The highest DSM cell of each grid cell by blocks, when the grids align (as GDAL's max gives); else None."""
    aligned = _aligned_factor(dsm, grid)
    if aligned is None:
        return None
    k, row0, col0 = aligned
    rows, cols = grid.shape
    padded = np.full((rows * k, cols * k), np.nan, dtype=np.float32)
    r0, c0 = max(0, row0), max(0, col0)
    r1, c1 = min(src.shape[0], row0 + rows * k), min(src.shape[1], col0 + cols * k)
    if r1 > r0 and c1 > c0:
        padded[r0 - row0:r1 - row0, c0 - col0:c1 - col0] = src[r0:r1, c0:c1]
    # fmax ignores NaN (an all-NaN block stays NaN), as GDAL's max ignores nodata; k * k strided views.
    out = padded[0::k, 0::k].copy()
    for dr in range(k):
        for dc in range(k):
            if dr or dc:
                np.fmax(out, padded[dr::k, dc::k], out=out)
    return out


def _warp_max(src: np.ndarray, dsm: Raster, grid: Grid) -> np.ndarray:
    """The DSM on ``grid`` by GDAL's max resampling (any grids)."""
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(
        source=src,
        destination=out,
        src_transform=dsm.transform,
        src_crs=dsm.crs,
        dst_transform=grid.transform,
        dst_crs=grid.crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.max,
    )
    return out


def disc_kernel(radius_cells: float) -> np.ndarray:
    """Float64 0/1 kernel of the cells whose centres lie within ``radius_cells`` of the centre cell."""
    n = math.floor(radius_cells)
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    return (np.hypot(yy, xx) <= radius_cells).astype(np.float64)


def focal_fraction(
    share: np.ndarray, resolution_m: float, radius_m: float, cell_m: float = DEFAULT_FRACTION_CELL_M
) -> np.ndarray:
    """Mean of ``share`` within ``radius_m`` of every cell, ignoring unmapped (NaN) cells.

    Args:
        share: 2-D per-cell share (0..1, e.g. 1 for a vegetated cell), NaN where unmapped.
        resolution_m: cell edge of ``share`` (m).
        radius_m: radius of the disc (m).
        cell_m: coarse cell (m) on which the mean is taken; rounded to whole
            cells of ``share``, at least one.

    Returns:
        float32 array of the shape of ``share``, 0..1; NaN where no mapped cell
        lies within the disc. Constant within each coarse cell.
    """
    if resolution_m <= 0 or radius_m <= 0:
        raise ValueError(f"resolution_m and radius_m must be positive, got {resolution_m} and {radius_m}")
    share = np.asarray(share, dtype=np.float64)
    rows, cols = share.shape
    factor = max(1, round(cell_m / resolution_m))
    padded = np.pad(share, ((0, -rows % factor), (0, -cols % factor)), constant_values=np.nan)
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    mapped = np.isfinite(blocks)
    counts = mapped.sum(axis=(1, 3)).astype(np.float64)
    sums = np.where(mapped, blocks, 0.0).sum(axis=(1, 3))
    # Imported here: scipy.signal (with scipy.stats under it) costs every process that imports the layer
    # registry a second or more at start (CLI, server), and only this function needs it.
    from scipy.signal import fftconvolve

    disc = disc_kernel(radius_m / (factor * resolution_m))
    num = fftconvolve(sums, disc, mode="same")
    den = fftconvolve(counts, disc, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        coarse = np.where(den > _MIN_MAPPED, np.clip(num / den, 0.0, 1.0), np.nan)
    fine = np.repeat(np.repeat(coarse, factor, axis=0), factor, axis=1)
    return fine[:rows, :cols].astype(np.float32)
