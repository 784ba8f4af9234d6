"""Sky view factor (SVF) from a digital surface model.

The SVF of a cell is the share of the sky hemisphere it sees. Following
Zakšek, Oštir & Kokalj (2011, *Remote Sensing* 3:398-415, "Sky-View Factor as
a relief visualization technique"), the horizon angle is searched in
``directions`` equally spaced azimuths: along each, the cells at integer
offsets ``round(r cos a), round(r sin a)`` for ``r`` from 1 pixel to the
search radius in steps of 1/3 pixel are visited in order of distance, and
the horizon angle is ``atan`` of the steepest height gain per metre. This is
the sampling of RVT (rvt-py, ``rvt.vis.sky_view_factor``), so results agree
with it. Two definitions turn horizon angles ``b_i`` into an SVF:

* ``"oke"``, the urban-climate definition (Oke 1987, *Boundary Layer
  Climates*; used by Theeuwes et al. 2017 for the urban heat island):
  ``SVF = mean(cos^2 b_i)``, the view factor of the sky for a horizontal
  surface with a horizon of elevation ``b_i`` in each sector.
* ``"zaksek"``, the relief-visualisation definition of RVT:
  ``SVF = mean(1 - sin b_i)``, the solid-angle share of the sky.

In both, negative horizon angles (a cell on a roof looking down) count as 0:
a cell sees at most the whole hemisphere.

Heights are in metres, distances in metres on a grid with square cells of
``resolution_m``. NaN cells (nodata holes in a DSM, e.g. water without laser
returns) are skipped as obstacles and give NaN in the output, so a hole
stays a hole and never spreads.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Literal

import numpy as np
from numba import prange

from geo.chunked import DEFAULT_CHUNK_SIZE, halo_cells, highest_cell, kernel_jit, launch, run_chunked
from geo.raster import Raster

Formula = Literal["oke", "zaksek"]
FORMULAS: tuple[str, ...] = ("oke", "zaksek")
_FORMULA_CODE = {"oke": 0, "zaksek": 1}

#: Number of search azimuths (RVT's default, Zakšek et al. 2011).
DEFAULT_DIRECTIONS = 16
#: Search distance (m): the horizon of streets and squares is set by the buildings around them.
DEFAULT_MAX_DISTANCE_M = 100.0
#: Radius samples per pixel along a search line before rounding to cells (as in RVT).
RADIUS_SAMPLES_PER_PIXEL = 3
#: The search starts at the neighbouring cell (RVT without noise removal).
MIN_RADIUS_PX = 1


def search_radius_px(max_distance_m: float, resolution_m: float) -> int:
    """Search radius in whole pixels for a distance in metres (at least one pixel)."""
    if resolution_m <= 0:
        raise ValueError(f"resolution_m must be positive, got {resolution_m}")
    if max_distance_m <= 0:
        raise ValueError(f"max_distance_m must be positive, got {max_distance_m}")
    return max(MIN_RADIUS_PX, round(max_distance_m / resolution_m))


def horizon_offsets(directions: int, radius_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell offsets visited along each search direction, nearest first.

    Same construction as RVT's ``horizon_shift_vector``: directions at
    ``2 pi i / directions``, radii every 1/3 pixel from 1 to ``radius_px``,
    offsets rounded to whole cells (half to even, like ``numpy.round``),
    duplicates dropped, sorted by distance.

    Returns:
        ``(d_row, d_col, distance_px, counts)``: arrays of shape
        (directions, longest) padded with zeros past ``counts[i]`` entries.
    """
    if directions < 1:
        raise ValueError(f"directions must be at least 1, got {directions}")
    angles = 2.0 * np.pi / directions * np.arange(directions)
    radii = np.arange((radius_px - MIN_RADIUS_PX) * RADIUS_SAMPLES_PER_PIXEL + 1) / RADIUS_SAMPLES_PER_PIXEL
    radii = radii + MIN_RADIUS_PX
    per_direction = []
    for angle in angles:
        pairs = np.stack([np.round(np.cos(angle) * radii), np.round(np.sin(angle) * radii)], axis=1)
        pairs = np.unique(pairs.astype(np.int64), axis=0)
        dist = np.hypot(pairs[:, 0], pairs[:, 1])
        order = np.argsort(dist, kind="stable")
        per_direction.append((pairs[order], dist[order]))
    longest = max(len(p) for p, _ in per_direction)
    d_row = np.zeros((directions, longest), dtype=np.int64)
    d_col = np.zeros((directions, longest), dtype=np.int64)
    dist_px = np.zeros((directions, longest), dtype=np.float64)
    counts = np.zeros(directions, dtype=np.int64)
    for i, (pairs, dist) in enumerate(per_direction):
        n = len(pairs)
        # RVT rolls the array by +offset, i.e. reads the cell at -offset; mirror that.
        d_row[i, :n] = -pairs[:, 0]
        d_col[i, :n] = -pairs[:, 1]
        dist_px[i, :n] = dist
        counts[i] = n
    return d_row, d_col, dist_px, counts


#: Samples between two checks whether a whole row's search may stop early.
STOP_CHECK_EVERY = 8


@kernel_jit
def _svf_kernel(
    padded: np.ndarray,
    pad: int,
    offsets: np.ndarray,
    inv_dist_m: np.ndarray,
    counts: np.ndarray,
    formula: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    # ``padded`` is the float32 DSM with ``pad`` NaN cells on every side,
    # flattened: a search never leaves it, so the inner loop needs no bounds
    # checks, and the NaN border is skipped like any hole (no obstacle beyond
    # the edge). One row is searched at a time: for a given offset, the cells
    # of a row read a contiguous run of cells, which numba turns into SIMD.
    rows, cols = out.shape
    width = cols + 2 * pad
    n_dir = offsets.shape[0]
    hmax = highest_cell(padded)
    for r in prange(rows):
        row_base = (r + pad) * width + pad
        # Own copy of the row: the compiler then knows it does not alias the reads.
        h0 = padded[row_base : row_base + cols].copy()
        # The highest cell bounds every slope: once even it could not raise
        # any horizon of the row, the rest of the search line is skipped. The
        # shortcut is exact (fl(z-h) <= fl(hmax-h) in the same precision and
        # the weights only fall), so results do not depend on the extent.
        headroom = np.empty(cols, dtype=np.float32)
        for c in range(cols):
            headroom[c] = np.float32(0.0) if np.isnan(h0[c]) else hmax - h0[c]
        # The running maximum slope lives in two buffers used in turn: writing
        # the new maximum to the other buffer stores every lane, whereas an
        # in-place update compiles to a masked store, slow on some CPUs.
        best = np.empty(cols, dtype=np.float32)
        spare = np.empty(cols, dtype=np.float32)
        total = np.zeros(cols, dtype=np.float64)
        for k in range(n_dir):
            # Start at slope 0: negative horizons count as a flat horizon.
            best[:] = 0.0
            for j in range(counts[k]):
                w = inv_dist_m[k, j]
                if j % STOP_CHECK_EVERY == 0:
                    done = True
                    for c in range(cols):
                        if headroom[c] * w > best[c]:
                            done = False
                            break
                    if done:
                        break
                base = row_base + offsets[k, j]
                src = padded[base : base + cols]
                for c in range(cols):
                    slope = (src[c] - h0[c]) * w
                    old = best[c]
                    # False for NaN: holes are no obstacle.
                    spare[c] = slope if slope > old else old
                best, spare = spare, best
            # With tan(b) = m: cos^2 b = 1 / (1 + m^2) and sin b = m / sqrt(1 + m^2),
            # which spares the trigonometric functions.
            for c in range(cols):
                m = np.float64(best[c])
                if formula == 0:
                    total[c] += 1.0 / (1.0 + m * m)
                else:
                    total[c] += 1.0 - m / math.sqrt(1.0 + m * m)
        for c in range(cols):
            out[r, c] = np.nan if np.isnan(h0[c]) else total[c] / n_dir


def sky_view_factor(
    dsm: np.ndarray,
    resolution_m: float,
    directions: int = DEFAULT_DIRECTIONS,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    formula: Formula = "oke",
) -> np.ndarray:
    """Sky view factor of every cell of a surface model.

    Args:
        dsm: 2-D surface heights (m); NaN marks nodata.
        resolution_m: cell edge (m); cells are square.
        directions: number of search azimuths.
        max_distance_m: search distance (m), rounded to whole cells.
        formula: ``"oke"`` (mean cos^2 of the horizon angle, urban climate)
            or ``"zaksek"`` (mean 1 - sin, as RVT); see the module docstring.

    Returns:
        float32 array of the shape of ``dsm``, 0..1, NaN where ``dsm`` is NaN.
        Cells near the array edge see no obstacles beyond it: pad the input
        by ``max_distance_m`` (or use :func:`sky_view_factor_raster`, which
        chunks with such a halo) where the edge matters.
    """
    if formula not in _FORMULA_CODE:
        raise ValueError(f"formula must be one of {', '.join(FORMULAS)}, got {formula!r}")
    dsm = np.ascontiguousarray(dsm, dtype=np.float32)
    if dsm.ndim != 2:
        raise ValueError(f"dsm must be a 2-D array, got shape {dsm.shape}")
    radius = search_radius_px(max_distance_m, resolution_m)
    d_row, d_col, dist_px, counts = horizon_offsets(directions, radius)
    padded = np.pad(dsm, radius, mode="constant", constant_values=np.nan)
    offsets = d_row * padded.shape[1] + d_col
    inv_dist_m = np.zeros(dist_px.shape, dtype=np.float32)
    np.divide(1.0, dist_px * resolution_m, out=inv_dist_m, where=dist_px > 0, casting="same_kind")
    out = np.empty(dsm.shape, dtype=np.float32)
    if dsm.size:
        launch(_svf_kernel, padded.ravel(), radius, offsets, inv_dist_m, counts, _FORMULA_CODE[formula], out)
    return out


def sky_view_factor_raster(
    dsm: Raster,
    directions: int = DEFAULT_DIRECTIONS,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    formula: Formula = "oke",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Raster:
    """SVF of a DSM raster, computed in chunks with a halo of ``max_distance_m`` under the active Dask scheduler.

    The result is identical to :func:`sky_view_factor` on the whole array.

    Returns:
        A one-band float32 raster ``svf`` (unit ``"1"``) on the DSM's grid, NaN as nodata.
    """
    xres, yres = dsm.resolution
    if not math.isclose(xres, yres, rel_tol=1e-9):
        raise ValueError(f"sky view factor needs square cells, the DSM has {xres} x {yres}")
    radius = search_radius_px(max_distance_m, xres)
    kernel = partial(
        sky_view_factor, resolution_m=xres, directions=directions, max_distance_m=max_distance_m, formula=formula
    )
    # The search reaches ``radius`` cells along each axis at most (Chebyshev distance).
    halo = max(radius, halo_cells(max_distance_m, xres))
    out = run_chunked(kernel, dsm.data[0], halo=halo, chunk_size=chunk_size)
    return Raster(out, dsm.crs, dsm.transform, nodata=float("nan"), band_names=("svf",), units=("1",))
