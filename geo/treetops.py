"""Tree tops in a canopy height model: a variable-window local maximum filter.

Method (Popescu & Wynne 2004, "Seeing the trees in the forest", Photogrammetric
Engineering & Remote Sensing 70(5), 589-604; as implemented e.g. by ForestTools'
``vwf``): the canopy height model (``geo.canopy``) is smoothed with a Gaussian
of ``smooth_sigma_m`` (1 m, two AHN cells: a crown's own bumps would otherwise
each be a top; on the Delft AHN3 sample 0.5 m gave 535 tops with a median crown
of 11 m2, 1 m gives 286 with 21 m2, 1.5 m 196 with 26 m2), and a canopy cell
is a tree top when no cell within a circular window around it is higher. The
window grows with the cell's height, because taller trees have wider crowns: window diameter (m) =
``WINDOW_INTERCEPT_M + WINDOW_SLOPE_PER_M2 * h**2``, the crown width - height
regression Popescu & Wynne fitted for deciduous trees (3.09632 + 0.00895 h^2;
an 8 m tree gets a 3.7 m window, a 20 m tree 6.7 m). Of equal neighbours the
first in row-major order wins, so a flat top gives one tree. Tops lower than
``min_height_m`` are not trees.

The search is a numba kernel over the canopy cells only, with an early exit
at the first higher neighbour, so its cost is about (canopy cells x a few
cells) rather than (cells x window area).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import ndimage

from geo.canopy import CANOPY_BAND, CANOPY_MIN_HEIGHT_M, cell_centres
from geo.chunked import kernel_jit
from geo.raster import Raster, crop

#: Window diameter (m) = WINDOW_INTERCEPT_M + WINDOW_SLOPE_PER_M2 * height^2: Popescu & Wynne 2004, deciduous trees.
WINDOW_INTERCEPT_M = 3.09632
WINDOW_SLOPE_PER_M2 = 0.00895
#: Gaussian smoothing of the CHM before the search (m): two AHN cells (see the module docstring).
SMOOTH_SIGMA_M = 1.0
#: Reach of the Gaussian, in standard deviations (scipy.ndimage's default ``truncate``).
SMOOTH_TRUNCATE = 4.0


@kernel_jit
def _local_maxima(chm: np.ndarray, radius_cells: np.ndarray, candidate: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Flags of candidate cells that no cell within their radius exceeds (ties: first in row-major order)."""
    rows, cols = chm.shape
    out = np.zeros(rows * cols, dtype=np.bool_)
    flat = np.flatnonzero(candidate)
    for k in numba.prange(flat.shape[0]):
        idx = flat[k]
        r, c = idx // cols, idx % cols
        h = chm[r, c]
        rad = radius_cells[r, c]
        rad2 = rad * rad
        top = True
        for dr in range(-int(rad), int(rad) + 1):
            rr = r + dr
            if rr < 0 or rr >= rows:
                continue
            for dc in range(-int(rad), int(rad) + 1):
                cc = c + dc
                if cc < 0 or cc >= cols or (dr == 0 and dc == 0) or dr * dr + dc * dc > rad2:
                    continue
                v = chm[rr, cc]
                if v > h or (v == h and (dr < 0 or (dr == 0 and dc < 0))):
                    top = False
                    break
            if not top:
                break
        out[idx] = top
    return out


def window_diameter_m(height_m: np.ndarray) -> np.ndarray:
    """Search window diameter (m) for a canopy height (m), Popescu & Wynne 2004 (deciduous)."""
    h = np.asarray(height_m, dtype=float)
    return WINDOW_INTERCEPT_M + WINDOW_SLOPE_PER_M2 * h * h


def tree_tops(
    canopy: Raster,
    *,
    min_height_m: float = CANOPY_MIN_HEIGHT_M,
    smooth_sigma_m: float = SMOOTH_SIGMA_M,
    within: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tree tops of a canopy raster (see the module docstring).

    Args:
        canopy: canopy raster of ``geo.canopy.canopy_raster`` (band ``canopy_height_m``, m).
        min_height_m: lowest tree top (m above the terrain).
        smooth_sigma_m: standard deviation of the Gaussian smoothing (m); 0 for none.
        within: only the tops whose cell centre lies in these bounds (raster CRS, m). The search
            then reads the canopy only as far around them as the smoothing and the widest window
            (of the highest canopy) reach, so the tops are exactly those of the whole raster there.

    Returns:
        ``(xy, height_m)``: ``(k, 2)`` cell-centre coordinates of the tops (raster CRS)
        and their smoothed height (m).
    """
    if within is not None:
        return _tops_within(canopy, within, min_height_m, smooth_sigma_m)
    band = np.nan_to_num(canopy.band(CANOPY_BAND).astype(np.float64), nan=0.0)
    res = canopy.resolution[0]
    smooth = (ndimage.gaussian_filter(band, smooth_sigma_m / res, truncate=SMOOTH_TRUNCATE)
              if smooth_sigma_m > 0 else band)
    # Only canopy cells can be tops; smoothing must not spread crowns over roofs or streets.
    smooth = np.where(band > 0, smooth, 0.0)
    candidate = (band > 0) & (smooth >= min_height_m)
    radius = (window_diameter_m(smooth) / 2 / res).astype(np.float64)
    if not candidate.any():
        return np.empty((0, 2)), np.empty(0)
    flags = _local_maxima(smooth, radius, candidate).reshape(band.shape)
    rows, cols = np.nonzero(flags)
    return cell_centres(canopy, rows, cols), smooth[rows, cols]


def _tops_within(
    canopy: Raster, bounds: tuple[float, float, float, float], min_height_m: float, smooth_sigma_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tree_tops` of the whole raster whose cells lie in ``bounds``, from a crop of it.

    A top depends on the smoothed heights within its window, and a smoothed height on the heights within
    the Gaussian's reach; the window is widest for the highest canopy. The crop reaches that far (plus a
    cell) beyond ``bounds``, so every cell in ``bounds`` sees what it sees in the whole raster.
    """
    band = canopy.band(CANOPY_BAND)
    highest = float(np.nanmax(band)) if band.size and np.isfinite(band).any() else 0.0
    res = canopy.resolution[0]
    smooth_reach_m = (int(SMOOTH_TRUNCATE * smooth_sigma_m / res + 0.5) * res) if smooth_sigma_m > 0 else 0.0
    margin = float(window_diameter_m(np.array(max(highest, 0.0)))) / 2 + 2 * smooth_reach_m + 2 * res
    minx, miny, maxx, maxy = bounds
    part = crop(canopy, (minx - margin, miny - margin, maxx + margin, maxy + margin))
    if part.data.shape[1] == 0 or part.data.shape[2] == 0:
        return np.empty((0, 2)), np.empty(0)
    xy, height = tree_tops(part, min_height_m=min_height_m, smooth_sigma_m=smooth_sigma_m)
    inside = (xy[:, 0] >= minx) & (xy[:, 0] <= maxx) & (xy[:, 1] >= miny) & (xy[:, 1] <= maxy)
    return xy[inside], height[inside]


def crown_area_m2(diameter_m: np.ndarray) -> np.ndarray:
    """Area (m2) of a circular crown of ``diameter_m`` (m)."""
    d = np.asarray(diameter_m, dtype=float)
    return math.pi * d * d / 4
