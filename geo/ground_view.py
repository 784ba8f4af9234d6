"""A person's view from the ground: sky view factor and cast shade at 1.5 m above the terrain.

The surface-level SVF and shadows of ``geo.svf`` and ``geo.shadow`` are seen
from the top of the DSM: a crown top sees the whole sky (SVF 1.00) and the
ground under a crown is not in the DSM at all, so the shade that trees give a
pedestrian is lost. Here the observer stands ``observer_height_m`` above the
terrain (DTM) of every cell, and two kinds of obstacles surround them, as in
SOLWEIG (Lindberg, Holmer & Thorsson 2008, *Int. J. Biometeorol.* 52:697-713;
vegetation after Lindberg & Grimmond 2011, *Theor. Appl. Climatol.* 105:311-323):

* **solid surfaces**: the DSM wherever it is not vegetation (buildings, walls,
  the terrain itself); they block sun and sky completely;
* **tree crowns**: a layer between the crown base and the crown top (the DSM on
  canopy cells). The base is ``trunk_ratio`` of the canopy height above the
  terrain (SOLWEIG's trunk zone, default 25 %). Light passes a crown with
  ``transmissivity`` (SOLWEIG's default 3 %).

**Shade.** Per sun position a ray leaves the observer towards the sun (the same
ray steps as ``geo.shadow``). The observer is in full shade when a solid surface
rises above the ray, else in crown shade when the ray passes through a crown
layer (above its base and below its top), including the crown right above the
observer's own cell. Shade counts 1 for full shade and ``1 - transmissivity``
for crown shade, averaged over the sun positions.

**SVF.** Horizon angles (the sampling of ``geo.svf``) are searched twice: over
the solid surfaces (``svf_solid``) and over solid surfaces and crown tops
together (``svf_all``). The sky behind crowns is seen through them with
``transmissivity``: ``svf = svf_all + transmissivity * (svf_solid - svf_all)``,
SOLWEIG's combination of its building and vegetation SVFs. Under a crown the
crowns around rise steeply above the observer, so the SVF falls well below 1.

Cells of a building footprint are roofs: nobody walks there, so they get NaN
(the layers flag them and leave them out of street and neighbourhood figures).
Heights in metres on a north-up grid with square cells; NaN in the DSM or DTM
is a hole, which blocks nothing and gets NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numba import prange

from geo.chunked import DEFAULT_CHUNK_SIZE, halo_cells, highest_cell, kernel_jit, launch, run_tiled
from geo.raster import Raster
from geo.shadow import DEFAULT_MAX_SHADOW_M, as_angles, ray_steps
from geo.solar import SunPosition
from geo.svf import DEFAULT_DIRECTIONS, DEFAULT_MAX_DISTANCE_M, STOP_CHECK_EVERY, horizon_offsets, search_radius_px

#: Height of the observer above the terrain (m): a standing person's head, the height of the
#: Klimaateffectatlas PET map is 1 m and SOLWEIG's standard person's centre of gravity 1.1 m;
#: 1.5 m is the height air temperature is measured at (WMO) and the one issue 10 asks for.
OBSERVER_HEIGHT_M = 1.5
#: Share of light passing through a tree crown (SOLWEIG's default, Lindberg & Grimmond 2011).
CROWN_TRANSMISSIVITY = 0.03
#: Crown base as a share of canopy height above the terrain (SOLWEIG's default trunk zone).
TRUNK_RATIO = 0.25


@dataclass(frozen=True)
class GroundView:
    """What a person standing on each cell sees.

    Attributes:
        svf: sky view factor 0..1 (Oke's cos^2 definition) at the observer, NaN on roofs and holes
            (None when not asked for).
        shades: per group of sun positions, the share of them for which the observer is shaded,
            0..1 (crown shade counts ``1 - transmissivity``), NaN on roofs and holes.
        roof: True on building footprints (no street value).
    """

    svf: np.ndarray | None
    shades: tuple[np.ndarray, ...]
    roof: np.ndarray


@dataclass(frozen=True)
class _Surfaces:
    """Padded, flattened surfaces the kernels read (float32, NaN border of ``pad`` cells)."""

    solid: np.ndarray
    crown_top: np.ndarray
    crown_base: np.ndarray
    observer: np.ndarray
    pad: int
    width: int


def _surfaces(
    dsm: np.ndarray, dtm: np.ndarray, canopy: np.ndarray, observer_height_m: float, trunk_ratio: float, pad: int
) -> _Surfaces:
    canopy = canopy & np.isfinite(dsm) & np.isfinite(dtm)
    solid = np.where(canopy, dtm, dsm).astype(np.float32)
    top = np.where(canopy, dsm, np.nan).astype(np.float32)
    base = np.where(canopy, dtm + trunk_ratio * (dsm - dtm), np.nan).astype(np.float32)
    observer = (dtm + observer_height_m).astype(np.float32)

    def padded(a: np.ndarray) -> np.ndarray:
        return np.pad(a, pad, mode="constant", constant_values=np.nan).ravel()

    return _Surfaces(padded(solid), padded(top), padded(base), observer, pad, dsm.shape[1] + 2 * pad)


@kernel_jit
def _ground_shade_kernel(
    solid: np.ndarray,
    crown_top: np.ndarray,
    crown_base: np.ndarray,
    observer: np.ndarray,
    own_crown: np.ndarray,
    pad: int,
    width: int,
    row0: int,
    col0: int,
    offsets: np.ndarray,
    rises: np.ndarray,
    counts: np.ndarray,
    crown_weight: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    # ``out`` sums, per cell of the core (rows from ``row0``, columns from ``col0`` of the surfaces' grid), the
    # shade of every sun position (1 full, crown_weight under crowns).
    rows, cols = out.shape
    hmax = max(highest_cell(solid), highest_cell(crown_top))
    for r in prange(rows):
        row_base = (r + row0 + pad) * width + pad + col0
        z0 = observer[r + row0, col0:col0 + cols].copy()
        lowest = np.float32(np.inf)
        for c in range(cols):
            if z0[c] < lowest:
                lowest = z0[c]
        full = np.zeros(cols, dtype=np.uint8)
        crown = np.zeros(cols, dtype=np.uint8)
        for p in range(offsets.shape[0]):
            full[:] = 0
            for c in range(cols):
                crown[c] = own_crown[r + row0, c + col0]
            for j in range(counts[p]):
                rise = rises[p, j]
                if lowest + rise >= hmax:
                    break
                start = row_base + offsets[p, j]
                for c in range(cols):
                    ray = z0[c] + rise
                    full[c] |= np.uint8(solid[start + c] > ray)
                    crown[c] |= np.uint8((crown_top[start + c] > ray) & (crown_base[start + c] < ray))
            for c in range(cols):
                if full[c]:
                    out[r, c] += 1.0
                elif crown[c]:
                    out[r, c] += crown_weight


@kernel_jit
def _ground_svf_kernel(
    solid: np.ndarray,
    crown_top: np.ndarray,
    observer: np.ndarray,
    pad: int,
    width: int,
    row0: int,
    col0: int,
    offsets: np.ndarray,
    inv_dist_m: np.ndarray,
    counts: np.ndarray,
    transmissivity: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    # ``out`` is the core: rows from ``row0``, columns from ``col0`` of the surfaces' grid.
    rows, cols = out.shape
    n_dir = offsets.shape[0]
    hmax = max(highest_cell(solid), highest_cell(crown_top))
    for r in prange(rows):
        row_base = (r + row0 + pad) * width + pad + col0
        z0 = observer[r + row0, col0:col0 + cols].copy()
        headroom = np.empty(cols, dtype=np.float32)
        for c in range(cols):
            headroom[c] = np.float32(0.0) if np.isnan(z0[c]) else hmax - z0[c]
        best_solid = np.empty(cols, dtype=np.float32)
        best_all = np.empty(cols, dtype=np.float32)
        sky_solid = np.zeros(cols, dtype=np.float64)
        sky_all = np.zeros(cols, dtype=np.float64)
        for k in range(n_dir):
            best_solid[:] = 0.0
            best_all[:] = 0.0
            for j in range(counts[k]):
                w = inv_dist_m[k, j]
                if j % STOP_CHECK_EVERY == 0:
                    # Stop once no farther cell can raise either horizon. The solid one is the lower (a crown
                    # may have raised only the other), so it bounds the search: checking only the higher
                    # one missed buildings behind a crown in the sky seen through it.
                    done = True
                    for c in range(cols):
                        if headroom[c] * w > best_solid[c]:
                            done = False
                            break
                    if done:
                        break
                start = row_base + offsets[k, j]
                for c in range(cols):
                    s = (solid[start + c] - z0[c]) * w
                    v = (crown_top[start + c] - z0[c]) * w
                    if s > best_solid[c]:
                        best_solid[c] = s
                    if s > best_all[c]:
                        best_all[c] = s
                    if v > best_all[c]:
                        best_all[c] = v
            for c in range(cols):
                ms = np.float64(best_solid[c])
                ma = np.float64(best_all[c])
                sky_solid[c] += 1.0 / (1.0 + ms * ms)
                sky_all[c] += 1.0 / (1.0 + ma * ma)
        for c in range(cols):
            svf_all = sky_all[c] / n_dir
            out[r, c] = svf_all + transmissivity * (sky_solid[c] / n_dir - svf_all)


def _check(dsm: np.ndarray, dtm: np.ndarray, buildings: np.ndarray, canopy: np.ndarray) -> None:
    for name, array in (("dtm", dtm), ("buildings", buildings), ("canopy", canopy)):
        if array.shape != dsm.shape:
            raise ValueError(f"{name} has shape {array.shape}, the DSM {dsm.shape}: they must share one grid")
    if dsm.ndim != 2:
        raise ValueError(f"dsm must be a 2-D array, got shape {dsm.shape}")


def _shade_steps(
    suns: Iterable[SunPosition | Sequence[float]], resolution_m: float, max_shadow_m: float
) -> tuple[int, int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Positions in all, positions at or below the horizon, and the ray steps of those above it."""
    angles = as_angles(suns)
    above = angles[angles[:, 0] > 0]
    steps = [ray_steps(e, a, resolution_m, max_shadow_m) for e, a in above]
    return len(angles), int((angles[:, 0] <= 0).sum()), steps


def ground_view(
    dsm: np.ndarray,
    dtm: np.ndarray,
    buildings: np.ndarray,
    canopy: np.ndarray,
    resolution_m: float,
    sun_groups: Sequence[Iterable[SunPosition | Sequence[float]]],
    *,
    with_svf: bool = True,
    observer_height_m: float = OBSERVER_HEIGHT_M,
    transmissivity: float = CROWN_TRANSMISSIVITY,
    trunk_ratio: float = TRUNK_RATIO,
    directions: int = DEFAULT_DIRECTIONS,
    max_svf_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    max_shadow_m: float = DEFAULT_MAX_SHADOW_M,
    core: tuple[slice, slice] | None = None,
) -> GroundView:
    """SVF and shade for a person standing on every cell (see the module docstring for the method).

    Args:
        dsm: surface heights (m, NAP), north up; NaN marks holes.
        dtm: terrain heights (m) on the same grid.
        buildings: True on building footprints (roofs: no street value).
        canopy: True where the DSM is a tree crown (``geo.canopy``: DSM - DTM above the canopy
            threshold, not a building, not water).
        resolution_m: cell edge (m); cells are square.
        sun_groups: groups of sun positions (or ``(elevation_deg, azimuth_deg)`` pairs); the shade is
            averaged over each group (one moment, an afternoon).
        with_svf: whether to compute the SVF too.
        observer_height_m: observer height above the terrain (m).
        transmissivity: share of light passing a crown, 0..1.
        trunk_ratio: crown base as a share of canopy height, 0..1.
        directions: SVF search azimuths.
        max_svf_distance_m: SVF search distance (m).
        max_shadow_m: longest shadow followed (m).
        core: only these cells (row and column slices with a step of 1) get values; the rest of the
            arrays is what they see. None: every cell.

    Returns:
        The ``GroundView`` of every cell (of the core: arrays of its shape); cells near the array
        edge see no obstacles beyond it (read the inputs with a halo of :func:`reach_m`, or use
        :func:`ground_view_raster`).
    """
    dsm = np.asarray(dsm, dtype=np.float32)
    dtm = np.asarray(dtm, dtype=np.float32)
    buildings = np.asarray(buildings, dtype=bool)
    canopy = np.asarray(canopy, dtype=bool) & ~buildings
    _check(dsm, dtm, buildings, canopy)
    if not 0 <= transmissivity <= 1 or not 0 <= trunk_ratio <= 1:
        raise ValueError(f"transmissivity ({transmissivity}) and trunk_ratio ({trunk_ratio}) must lie in 0..1")
    if resolution_m <= 0 or observer_height_m < 0:
        raise ValueError(f"resolution_m must be positive and observer_height_m not negative, got "
                         f"{resolution_m}, {observer_height_m}")
    rows, cols = _core_slices(core, dsm.shape)
    out_shape = (rows.stop - rows.start, cols.stop - cols.start)
    holes = ~(np.isfinite(dsm) & np.isfinite(dtm))
    groups = [_shade_steps(suns, resolution_m, max_shadow_m) for suns in sun_groups]
    shadow_pad = max([1, *(int(max(np.abs(r).max(initial=0), np.abs(c).max(initial=0)))
                           for _, _, steps in groups for r, c, _ in steps)])
    radius = search_radius_px(max_svf_distance_m, resolution_m) if with_svf else 0
    pad = max(shadow_pad, radius)
    surfaces = _surfaces(dsm, dtm, canopy, observer_height_m, trunk_ratio, pad)
    own_crown = (canopy & ~holes).astype(np.uint8)
    no_value = (holes | buildings)[rows, cols]
    frame = (pad, surfaces.width, rows.start, cols.start)
    shades = []
    for count, below, steps in groups:
        total = np.zeros(out_shape, dtype=np.float32)
        if steps and total.size:
            longest = max(len(s[0]) for s in steps)
            offsets = np.zeros((len(steps), longest), dtype=np.int64)
            rises = np.zeros((len(steps), longest), dtype=np.float32)
            lengths = np.zeros(len(steps), dtype=np.int64)
            for i, (d_row, d_col, rise) in enumerate(steps):
                offsets[i, : len(rise)] = d_row * surfaces.width + d_col
                rises[i, : len(rise)] = rise
                lengths[i] = len(rise)
            launch(
                _ground_shade_kernel, surfaces.solid, surfaces.crown_top, surfaces.crown_base, surfaces.observer,
                own_crown, *frame, offsets, rises, lengths, np.float32(1.0 - transmissivity), total,
            )
        shade = ((total + below) / count).astype(np.float32)
        shade[no_value] = np.nan
        shades.append(shade)
    svf = None
    if with_svf:
        d_row, d_col, dist_px, counts = horizon_offsets(directions, radius)
        svf_offsets = d_row * surfaces.width + d_col
        inv_dist_m = np.zeros(dist_px.shape, dtype=np.float32)
        np.divide(1.0, dist_px * resolution_m, out=inv_dist_m, where=dist_px > 0, casting="same_kind")
        svf = np.empty(out_shape, dtype=np.float32)
        if svf.size:
            launch(
                _ground_svf_kernel, surfaces.solid, surfaces.crown_top, surfaces.observer, *frame, svf_offsets,
                inv_dist_m, counts, np.float64(transmissivity), svf,
            )
        svf[no_value] = np.nan
    return GroundView(svf=svf, shades=tuple(shades), roof=buildings[rows, cols].copy())


def _core_slices(core: tuple[slice, slice] | None, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """``core`` as two bounded slices of ``shape`` (the whole array when None)."""
    if core is None:
        return slice(0, shape[0]), slice(0, shape[1])
    bounded = tuple(slice(*part.indices(size)) for part, size in zip(core, shape, strict=True))
    if any(part.step != 1 or part.stop < part.start for part in bounded):
        raise ValueError(f"the core must be two slices with step 1 inside the arrays, got {core}")
    return bounded[0], bounded[1]


def _tile_kernel(
    dsm: np.ndarray, dtm: np.ndarray, buildings: np.ndarray, canopy: np.ndarray, *,
    core: tuple[slice, slice] | None = None, **kwargs: Any
) -> list[np.ndarray]:
    view = ground_view(dsm, dtm, buildings.astype(bool), canopy.astype(bool), core=core, **kwargs)
    return [*([view.svf] if view.svf is not None else []), *view.shades]


def ground_view_raster(
    dsm: Raster,
    dtm: Raster,
    buildings: np.ndarray,
    canopy: np.ndarray,
    sun_groups: Sequence[Sequence[SunPosition | Sequence[float]]],
    *,
    with_svf: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    **options: Any,
) -> GroundView:
    """:func:`ground_view` of a DSM and DTM raster in tiles with a halo of :func:`reach_m` (active Dask scheduler).

    The result equals one call on the whole arrays.

    Args:
        dsm: surface model (m NAP), one band, square cells, north up.
        dtm: terrain model on the same grid.
        buildings: building footprints (bool) on the grid.
        canopy: crown cells (bool) on the grid.
        sun_groups: groups of sun positions (see :func:`ground_view`).
        with_svf: whether to compute the SVF too.
        chunk_size: tile edge in cells.
        **options: further keyword arguments of :func:`ground_view` (heights, transmissivity, distances).

    Raises:
        ValueError: the DTM is not on the DSM's grid, or the cells are not square.
    """
    xres, yres = dsm.resolution
    if not math.isclose(xres, yres, rel_tol=1e-9):
        raise ValueError(f"the ground view needs square cells, the DSM has {xres} x {yres}")
    if not dsm.same_grid(dtm):
        raise ValueError("ground view: the dtm is on another grid than the dsm; resample it onto the DSM grid first")
    reach = reach_m(options.get("max_svf_distance_m", DEFAULT_MAX_DISTANCE_M) if with_svf else 0.0,
                    options.get("max_shadow_m", DEFAULT_MAX_SHADOW_M))
    kernel = partial(_tile_kernel, resolution_m=xres, sun_groups=[list(g) for g in sun_groups], with_svf=with_svf,
                     **options)
    outputs = run_tiled(
        kernel,
        [dsm.data[0], dtm.data[0], buildings.astype(np.uint8), canopy.astype(np.uint8)],
        halo=halo_cells(reach, xres) + 1,
        chunk_size=chunk_size,
        memo_key=f"ground_view:{xres!r}:{sun_groups!r}:{with_svf}:{sorted(options.items())!r}",
        cores=True,
    )
    svf = outputs.pop(0) if with_svf else None
    # Every tile's ground_view has already left roofs and holes without a value.
    return GroundView(svf=svf, shades=tuple(outputs), roof=np.asarray(buildings, dtype=bool).copy())


def reach_m(max_svf_distance_m: float = DEFAULT_MAX_DISTANCE_M, max_shadow_m: float = DEFAULT_MAX_SHADOW_M) -> float:
    """How far (m) around a cell ``ground_view`` reads: the halo a window needs for exact results."""
    return float(max(max_svf_distance_m, max_shadow_m))
