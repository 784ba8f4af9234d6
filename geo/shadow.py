"""Cast shadows on a digital surface model by ray marching towards the sun.

For every cell and sun position a ray leaves the cell's surface towards the
sun and climbs ``tan(elevation)`` metres per metre; the cell is in shadow
when the surface (a building, a tree crown: anything in the DSM) rises above
the ray anywhere within ``max_distance_m``. This is the classic DSM shadow
casting of Ratti & Richens (2004, "Raster analysis of urban form",
*Environment and Planning B* 31:297-309), as used in UMEP/SOLWEIG, written
per cell instead of per shifted array so a march ends as soon as no surface
can still rise above the ray.

The ray steps one cell along the dominant axis of the sun's direction and
reads the cell nearest to the ray point. Each cell is taken as a flat-topped
block, which the ray first meets at its near edge, half a step before the
cell centre: a wall of height ``h`` on the grid axes then shades exactly the
cells whose centres lie within ``h / tan(elevation)`` of it; in other
directions shadow edges are exact to about one cell. Heights in metres, distances in metres on a north-up grid (row 0
is the north edge) with square cells; azimuth clockwise from north.
NaN cells (nodata holes) cast no shadow and get NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import partial

import numpy as np
from numba import prange

from geo.chunked import DEFAULT_CHUNK_SIZE, halo_cells, highest_cell, kernel_jit, launch, run_chunked
from geo.raster import Raster
from geo.solar import SunPosition

#: Longest shadow followed (m): a 50 m building at a sun elevation of 27 degrees.
DEFAULT_MAX_SHADOW_M = 100.0
_ZENITH_DEG = 90.0


def as_angles(sun_positions: Iterable[SunPosition | Sequence[float]]) -> np.ndarray:
    """Sun positions as an (n, 2) array of (elevation_deg, azimuth_deg), checked (finite, -90..90 degrees)."""
    rows = [
        (p.elevation_deg, p.azimuth_deg) if isinstance(p, SunPosition) else (float(p[0]), float(p[1]))
        for p in sun_positions
    ]
    if not rows:
        raise ValueError("sun_positions is empty: give at least one (elevation_deg, azimuth_deg)")
    angles = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(angles).all() or (np.abs(angles[:, 0]) > _ZENITH_DEG).any():
        raise ValueError(f"sun elevations must be finite and within -90..90 degrees, got {angles[:, 0].tolist()}")
    return angles


def ray_steps(
    elevation_deg: float, azimuth_deg: float, resolution_m: float, max_distance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell offsets visited towards the sun and the ray's rise above the start cell there.

    Returns:
        ``(d_row, d_col, rise_m)``: one entry per step; ``rise_m`` is the
        horizontal distance to the near edge of the cell times ``tan(elevation)``.
    """
    az = math.radians(azimuth_deg)
    east, north = math.sin(az), math.cos(az)
    # One cell per step along the dominant axis.
    scale = 1.0 / max(abs(east), abs(north))
    step_m = scale * resolution_m
    n_steps = math.floor(max_distance_m / step_m + 1e-9)
    k = np.arange(1, n_steps + 1, dtype=np.float64)
    d_col = np.rint(k * east * scale).astype(np.int64)
    d_row = np.rint(-k * north * scale).astype(np.int64)
    # The near edge of the block at step k lies half a step before its centre.
    rise = (k - 0.5) * step_m * math.tan(math.radians(elevation_deg))
    return d_row, d_col, rise


@kernel_jit
def _shadow_count_kernel(
    padded: np.ndarray,
    pad: int,
    offsets: np.ndarray,
    rises: np.ndarray,
    counts: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    # ``padded``: float32 DSM with ``pad`` NaN cells around it, flattened, so
    # the march needs no bounds checks (NaN never shades). ``out`` counts, per
    # cell, the sun positions for which it is shaded. One row is marched at a
    # time: for one step, the cells of a row read a contiguous run of cells.
    rows, cols = out.shape
    width = cols + 2 * pad
    hmax = highest_cell(padded)
    for r in prange(rows):
        row_base = (r + pad) * width + pad
        h0 = padded[row_base : row_base + cols].copy()
        lowest = np.float32(np.inf)
        for c in range(cols):
            if h0[c] < lowest:
                lowest = h0[c]
        shaded = np.zeros(cols, dtype=np.uint8)
        for p in range(offsets.shape[0]):
            shaded[:] = 0
            for j in range(counts[p]):
                rise = rises[p, j]
                # The ray of the lowest cell is already above the highest
                # surface: no further step can shade any cell of this row
                # (sums round monotonically, and rises only grow).
                if lowest + rise >= hmax:
                    break
                src = padded[row_base + offsets[p, j] : row_base + offsets[p, j] + cols]
                for c in range(cols):
                    # An unconditional store: ``if ...: shaded[c] = 1`` compiles
                    # to a masked store, which is slow on some CPUs.
                    shaded[c] |= np.uint8(src[c] > h0[c] + rise)
            for c in range(cols):
                out[r, c] += shaded[c]


def shadow_fraction(
    dsm: np.ndarray,
    resolution_m: float,
    sun_positions: Iterable[SunPosition | Sequence[float]],
    max_distance_m: float = DEFAULT_MAX_SHADOW_M,
) -> np.ndarray:
    """Share of the sun positions for which each cell lies in a cast shadow.

    Args:
        dsm: 2-D surface heights (m), north up; NaN marks nodata.
        resolution_m: cell edge (m); cells are square.
        sun_positions: :class:`~geo.solar.SunPosition` objects or
            ``(elevation_deg, azimuth_deg)`` pairs. A sun at or below the
            horizon shades every cell.
        max_distance_m: longest shadow followed (m); taller objects' shadows are cut there.

    Returns:
        float32 array of the shape of ``dsm`` with values 0..1 (1 = shaded at
        every position), NaN where ``dsm`` is NaN. Objects beyond the array
        edge cast no shadow into it.
    """
    if resolution_m <= 0:
        raise ValueError(f"resolution_m must be positive, got {resolution_m}")
    if max_distance_m <= 0:
        raise ValueError(f"max_distance_m must be positive, got {max_distance_m}")
    dsm = np.asarray(dsm, dtype=np.float32)
    if dsm.ndim != 2:
        raise ValueError(f"dsm must be a 2-D array, got shape {dsm.shape}")
    angles = as_angles(sun_positions)
    below = int((angles[:, 0] <= 0).sum())
    above = angles[angles[:, 0] > 0]
    counts = np.zeros(dsm.shape, dtype=np.int32)
    if len(above) and dsm.size:
        steps = [ray_steps(e, a, resolution_m, max_distance_m) for e, a in above]
        pad = max(1, *(int(max(np.abs(r).max(initial=0), np.abs(c).max(initial=0))) for r, c, _ in steps))
        padded = np.pad(dsm, pad, mode="constant", constant_values=np.nan)
        longest = max(len(s[0]) for s in steps)
        offsets = np.zeros((len(steps), longest), dtype=np.int64)
        rises = np.zeros((len(steps), longest), dtype=np.float32)
        lengths = np.zeros(len(steps), dtype=np.int64)
        for i, (d_row, d_col, rise) in enumerate(steps):
            offsets[i, : len(rise)] = d_row * padded.shape[1] + d_col
            rises[i, : len(rise)] = rise
            lengths[i] = len(rise)
        launch(_shadow_count_kernel, padded.ravel(), pad, offsets, rises, lengths, counts)
    fraction = ((counts + below) / len(angles)).astype(np.float32)
    fraction[np.isnan(dsm)] = np.nan
    return fraction


def shadow_fraction_raster(
    dsm: Raster,
    sun_positions: Sequence[SunPosition | Sequence[float]],
    max_distance_m: float = DEFAULT_MAX_SHADOW_M,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Raster:
    """:func:`shadow_fraction` of a DSM raster in chunks with a halo of ``max_distance_m`` (active Dask scheduler).

    Returns:
        A one-band float32 raster ``shadow_fraction`` (unit ``"1"``) on the DSM's grid, NaN as nodata.
    """
    xres, yres = dsm.resolution
    if not math.isclose(xres, yres, rel_tol=1e-9):
        raise ValueError(f"shadows need square cells, the DSM has {xres} x {yres}")
    positions = list(sun_positions)
    kernel = partial(shadow_fraction, resolution_m=xres, sun_positions=positions, max_distance_m=max_distance_m)
    # A step moves at most one cell per axis per cell of distance, plus rounding.
    halo = halo_cells(max_distance_m, xres) + 1
    out = run_chunked(kernel, dsm.data[0], halo=halo, chunk_size=chunk_size)
    return Raster(
        out, dsm.crs, dsm.transform, nodata=float("nan"), band_names=("shadow_fraction",), units=("1",)
    )
