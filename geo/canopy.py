"""Tree canopy from AHN: a 0.5 m raster of crown cells and their height, and crowns of trees from it.

Method (docs/method-canopy.md):

* **Canopy height model** CHM = DSM - DTM (m), on the DSM's grid (AHN 0.5 m).
* A cell is **canopy** when CHM >= ``min_height_m`` (2.5 m: the tree threshold
  of RIVM's "Bomen in Nederland" map, made from AHN3 and colour-infrared
  aerial photos, Atlas Leefomgeving 2020), its centre is not inside a building
  footprint (BGT/BAG; cells touched by a footprint's outline are masked too,
  ``all_touched``, because the wall cells carry roof heights) nor inside water
  (a bridge or a moored boat over a canal is no tree), and, where the source
  is a classified point cloud, a vegetation point at least ``min_height_m``
  above the terrain lies in the cell or one of its 8 neighbours
  (``geo.ahn_vegetation``; the neighbours close scan-line gaps inside a crown
  while a lamp post, a lorry or a roof edge without vegetation points stays out).
* Connected groups of canopy cells (8-neighbourhood) smaller than
  ``min_patch_m2`` are dropped: a single high cell is a post or a wire, not a crown.
* DSM or DTM unknown (NaN, a hole in a GeoTIFF delivery) leaves the cell
  **unknown** (NaN), never "no canopy": shares are taken over known cells and
  the coverage is reported.

The output has one float32 band ``canopy_height_m``: the CHM in canopy cells,
0 in known cells without canopy, NaN where unknown.

Crowns from the canopy (:func:`crown_diameters`): a tree (a register point or
a tree top) gets the canopy cells of its own patch (the connected canopy group
at its trunk, or the nearest within ``snap_m``) that lie within
``search_radius_m`` of it and closer to it than to any other tree (a Voronoi
split, so a row of touching crowns is shared out rather than given whole to
every tree). Its crown diameter is that of the circle of the same area
(equivalent-circle diameter), at most ``2 * search_radius_m``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage
from scipy.spatial import cKDTree

from geo.fractions import public_flags
from geo.grid import Grid
from geo.raster import Raster
from geo.rasterize import polygon_index

#: Lowest canopy height (m above the terrain): RIVM "Bomen in Nederland" (Atlas Leefomgeving, from AHN3 + CIR
#: aerial photos) counts vegetation higher than 2.5 m as trees; below that it is shrub or low green.
CANOPY_MIN_HEIGHT_M = 2.5
CANOPY_MIN_HEIGHT_SOURCE = (
    "RIVM, Atlas Leefomgeving 'Bomen in Nederland' (2020): trees are vegetation higher than 2.5 m, "
    "derived from AHN3 (0.5 m) and colour-infrared aerial photos"
)
#: Smallest connected canopy group (m2) kept: 1 m2 is 4 cells at 0.5 m, less than any real crown.
CANOPY_MIN_PATCH_M2 = 1.0
#: Name and unit of the canopy raster's band.
CANOPY_BAND = "canopy_height_m"
#: Cells around a canopy cell in which a vegetation point may lie (1: the 8 neighbours).
VEGETATION_REACH_CELLS = 1
#: Crown search radius (m) around a tree: a crown of up to 24 m across, all but monumental trees.
CROWN_SEARCH_RADIUS_M = 12.0
#: A tree point this far (m) from its crown's edge still takes that crown (register points are approximate).
CROWN_SNAP_M = 1.5
_EIGHT = np.ones((3, 3), dtype=bool)


def _burn(geoms: np.ndarray | None, like: Raster, all_touched: bool) -> np.ndarray:
    """Cells of ``like`` inside any of ``geoms`` (cell-centre rule unless ``all_touched``)."""
    if geoms is None or len(geoms) == 0:
        return np.zeros((like.height, like.width), dtype=bool)
    geoms = np.asarray(geoms, dtype=object)
    minx, miny, maxx, maxy = like.bounds
    near = shapely.intersects(geoms, shapely.box(minx, miny, maxx, maxy))
    if not near.any():
        return np.zeros((like.height, like.width), dtype=bool)
    burnt = rasterize(
        ((g, 1) for g in geoms[near]),
        out_shape=(like.height, like.width),
        transform=like.transform,
        fill=0,
        dtype="uint8",
        all_touched=all_touched,
    )
    return burnt.astype(bool)


def canopy_raster(
    dsm: Raster,
    dtm: Raster,
    buildings: np.ndarray | None = None,
    water: np.ndarray | None = None,
    *,
    min_height_m: float = CANOPY_MIN_HEIGHT_M,
    vegetation: Raster | None = None,
    min_patch_m2: float = CANOPY_MIN_PATCH_M2,
) -> Raster:
    """The canopy raster of ``dsm`` (see the module docstring for the rules).

    Args:
        dsm: surface model (m NAP), one band.
        dtm: terrain model (m NAP) on the same grid.
        buildings: building footprint polygons (same CRS), or None.
        water: water polygons (same CRS), or None.
        min_height_m: lowest canopy height above the terrain (m).
        vegetation: highest vegetation point per cell (m NAP, NaN where none) on the
            same grid (``geo.ahn_vegetation``), or None when the source is a raster DSM.
        min_patch_m2: smallest connected canopy group kept (m2).

    Returns:
        float32 ``Raster``, band ``canopy_height_m`` (m): CHM in canopy cells, 0 elsewhere,
        NaN where DSM or DTM is unknown.

    Raises:
        ValueError: the DTM (or the vegetation raster) is not on the DSM's grid.
    """
    for name, other in (("dtm", dtm), ("vegetation", vegetation)):
        if other is not None and not dsm.same_grid(other):
            raise ValueError(
                f"canopy: the {name} is on another grid than the dsm ({other.data.shape[1:]} cells at "
                f"{other.transform.c:.2f}, {other.transform.f:.2f} vs {dsm.data.shape[1:]} at "
                f"{dsm.transform.c:.2f}, {dsm.transform.f:.2f}); resample it onto the DSM grid first"
            )
    top, ground = dsm.data[0].astype(np.float32), dtm.data[0].astype(np.float32)
    chm = top - ground
    known = np.isfinite(chm)
    with np.errstate(invalid="ignore"):
        high = known & (chm >= min_height_m)
    high &= ~_burn(buildings, dsm, all_touched=True)
    high &= ~_burn(water, dsm, all_touched=False)
    if vegetation is not None:
        with np.errstate(invalid="ignore"):
            veg = vegetation.data[0] - ground >= min_height_m
        if VEGETATION_REACH_CELLS:
            veg = ndimage.binary_dilation(veg, structure=_EIGHT, iterations=VEGETATION_REACH_CELLS)
        high &= veg
    cell_m2 = dsm.resolution[0] * dsm.resolution[1]
    min_cells = math.ceil(min_patch_m2 / cell_m2 - 1e-9)
    if min_cells > 1 and high.any():
        labels, n = ndimage.label(high, structure=_EIGHT)
        size = np.bincount(labels.ravel(), minlength=n + 1)
        small = size < min_cells
        small[0] = False
        high &= ~small[labels]
    out = np.where(high, chm, np.float32(0.0)).astype(np.float32)
    out[~known] = np.nan
    return Raster(out, dsm.crs, dsm.transform, nodata=float("nan"), band_names=(CANOPY_BAND,), units=("m",))


def canopy_mask(canopy: Raster) -> np.ndarray:
    """Canopy cells of a canopy raster (bool; unknown cells are False)."""
    band = canopy.band(CANOPY_BAND)
    with np.errstate(invalid="ignore"):
        return np.asarray(band > 0)


def cell_centres(raster: Raster, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``(k, 2)`` CRS coordinates of the centres of cells ``(rows, cols)``."""
    t = raster.transform
    return np.column_stack([t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e])


def crown_cells(
    canopy: Raster,
    xy: np.ndarray,
    *,
    search_radius_m: float = CROWN_SEARCH_RADIUS_M,
    snap_m: float = CROWN_SNAP_M,
    of: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which canopy cells belong to which tree (the module docstring's Voronoi split within patches).

    Args:
        canopy: canopy raster (``canopy_raster``).
        xy: ``(t, 2)`` tree points (same CRS).
        search_radius_m: farthest a crown cell may lie from its tree (m).
        snap_m: a tree outside the canopy takes the patch of the nearest canopy cell this close (m).
        of: indices of the trees whose cells are wanted; None: all. Only the canopy within
            ``search_radius_m`` of them is then split (every tree still takes part in the split),
            so their cells are exactly those of a split of the whole canopy.

    Returns:
        ``(tree, flat_cell, patch)``: per assigned cell its tree index and flat cell index, and
        per tree the label of its patch (0 = none).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    mask = canopy_mask(canopy)
    labels, _ = ndimage.label(mask, structure=_EIGHT)
    empty = np.empty(0, dtype=np.int64)
    if len(xy) == 0 or not mask.any():
        return empty, empty, np.zeros(len(xy), dtype=np.int64)
    patch = _tree_patches(canopy, labels, xy, snap_m)
    rows, cols = _canopy_cells_near(canopy, mask, None if of is None else xy[of], search_radius_m)
    centres = cell_centres(canopy, rows, cols)
    dist, tree = cKDTree(xy).query(centres, distance_upper_bound=search_radius_m)
    near = np.isfinite(dist)
    rows, cols, tree = rows[near], cols[near], tree[near]
    cell_label = labels[rows, cols].astype(np.int64)
    own = (patch[tree] == cell_label) & (patch[tree] > 0)
    flat = rows[own].astype(np.int64) * canopy.width + cols[own]
    return tree[own].astype(np.int64), flat, patch


def _canopy_cells_near(canopy: Raster, mask: np.ndarray, xy: np.ndarray | None, radius_m: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the canopy cells within the box of ``xy`` grown by ``radius_m`` (all when None)."""
    if xy is None:
        every_row, every_col = np.nonzero(mask)
        return every_row, every_col
    if not len(xy):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    res_x, res_y = canopy.resolution
    t = canopy.transform
    c0 = max(0, math.floor((xy[:, 0].min() - radius_m - t.c) / res_x))
    c1 = min(canopy.width, math.ceil((xy[:, 0].max() + radius_m - t.c) / res_x) + 1)
    r0 = max(0, math.floor((t.f - xy[:, 1].max() - radius_m) / res_y))
    r1 = min(canopy.height, math.ceil((t.f - xy[:, 1].min() + radius_m) / res_y) + 1)
    if r1 <= r0 or c1 <= c0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows, cols = np.nonzero(mask[r0:r1, c0:c1])
    return rows + r0, cols + c0


def _tree_patches(canopy: Raster, labels: np.ndarray, xy: np.ndarray, snap_m: float) -> np.ndarray:
    """The canopy patch (label, 0 for none) of each tree: the one under its point, else the nearest within ``snap_m``.

    The nearest canopy cell is searched in the few cells around the point (``snap_m`` is a metre or two),
    by the distance to cell centres; of equally near cells the first in row-major order wins.
    """
    res_x, res_y = canopy.resolution
    t = canopy.transform
    col = np.floor((xy[:, 0] - t.c) / res_x).astype(np.int64)
    row = np.floor((t.f - xy[:, 1]) / res_y).astype(np.int64)
    on = (row >= 0) & (row < canopy.height) & (col >= 0) & (col < canopy.width)
    patch = np.zeros(len(xy), dtype=np.int64)
    patch[on] = labels[row[on], col[on]]
    missing = np.flatnonzero(patch == 0)
    if not len(missing) or snap_m <= 0:
        return patch
    k = math.ceil(snap_m / min(res_x, res_y)) + 1
    d_row, d_col = (a.ravel() for a in np.mgrid[-k:k + 1, -k:k + 1])
    rr, cc = row[missing, None] + d_row[None, :], col[missing, None] + d_col[None, :]
    inside = (rr >= 0) & (rr < canopy.height) & (cc >= 0) & (cc < canopy.width)
    found = np.where(inside, labels[np.clip(rr, 0, canopy.height - 1), np.clip(cc, 0, canopy.width - 1)], 0)
    dx = t.c + (cc + 0.5) * res_x - xy[missing, 0:1]
    dy = t.f - (rr + 0.5) * res_y - xy[missing, 1:2]
    dist = np.where(found > 0, np.hypot(dx, dy), np.inf)
    best = np.argmin(dist, axis=1)
    hit = dist[np.arange(len(missing)), best] <= snap_m
    patch[missing[hit]] = found[np.arange(len(missing)), best][hit]
    return patch


def crown_diameters(
    canopy: Raster,
    xy: np.ndarray,
    *,
    search_radius_m: float = CROWN_SEARCH_RADIUS_M,
    snap_m: float = CROWN_SNAP_M,
    of: np.ndarray | slice | None = None,
) -> np.ndarray:
    """Equivalent-circle crown diameter (m) of each tree from the canopy around it.

    Args:
        canopy: canopy raster (``canopy_raster``), metres CRS.
        xy: ``(t, 2)`` tree points (trunks or tree tops).
        search_radius_m: farthest a crown cell may lie from its tree (m); caps the
            diameter at ``2 * search_radius_m``.
        snap_m: see :func:`crown_cells`.
        of: the trees (indices or a slice of ``xy``) whose diameters are wanted; every tree of ``xy``
            still shares the canopy with them. None: all.

    Returns:
        float64 diameters of the trees of ``of`` (all by default), in its order; NaN for a tree without
        canopy cells (e.g. planted after the flight).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    wanted = None if of is None else np.arange(len(xy))[of]
    tree, _, _ = crown_cells(canopy, xy, search_radius_m=search_radius_m, snap_m=snap_m, of=wanted)
    cell_m2 = canopy.resolution[0] * canopy.resolution[1]
    area = np.bincount(tree, minlength=len(xy)) * cell_m2
    diameter = np.minimum(2.0 * np.sqrt(area / math.pi), 2.0 * search_radius_m)
    out = np.where(area > 0, diameter, np.nan)
    return out if wanted is None else out[wanted]


def patches_without(canopy: Raster, xy: np.ndarray, *, snap_m: float = CROWN_SNAP_M) -> np.ndarray:
    """Canopy cells of the patches that hold none of the trees ``xy`` (bool grid).

    A patch holds a tree when the tree lies on it or within ``snap_m`` of it (as in
    :func:`crown_cells`). These patches are canopy the register does not cover.
    """
    mask = canopy_mask(canopy)
    labels, n = ndimage.label(mask, structure=_EIGHT)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    patch = _tree_patches(canopy, labels, xy, snap_m) if len(xy) else np.zeros(0, dtype=np.int64)
    covered = np.zeros(n + 1, dtype=bool)
    covered[patch] = True
    covered[0] = True
    return np.asarray(~covered[labels])


def canopy_in_zones(
    under: np.ndarray,
    grid: Grid,
    zones: np.ndarray,
    landcover: np.ndarray | None = None,
    public: pd.Series | None = None,
    *,
    chunk_size: int = 2048,
) -> pd.DataFrame:
    """Canopy area (m2) per zone from a canopy grid (e.g. the 0.5 m AHN canopy, ``geo.canopy``).

    A cell counts for the zone (and the land-cover polygon) that holds its centre
    (GDAL's rule), so areas are exact to the cell edge along zone borders.

    Args:
        under: bool canopy cells on ``grid``.
        grid: the canopy grid (metres CRS).
        zones: zone polygons.
        landcover: land-cover polygons (a planar partition), for the public/private split, or None.
        public: ``landcover.public`` per polygon, or None.
        chunk_size: rasterisation chunk edge (cells).

    Returns:
        One row per zone: ``canopy_m2``, ``canopy_m2_public``, ``canopy_m2_private``.
    """
    zones = np.asarray(zones, dtype=object)
    n = len(zones)
    cell_m2 = grid.resolution**2
    zone = polygon_index(zones, grid, chunk_size)
    hit = np.asarray(under, dtype=bool) & (zone > 0)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["canopy_m2"] = np.bincount(zone[hit] - 1, minlength=n)[:n] * cell_m2
    out["canopy_m2_public"] = 0.0
    out["canopy_m2_private"] = 0.0
    if landcover is not None and len(landcover):
        known, is_public = public_flags(public, len(landcover))
        piece = polygon_index(np.asarray(landcover, dtype=object), grid, chunk_size)
        cells = hit & (piece > 0)
        lc = piece[cells] - 1
        z = zone[cells] - 1
        for side, mask in (("public", known & is_public), ("private", known & ~is_public)):
            sel = mask[lc]
            out[f"canopy_m2_{side}"] = np.bincount(z[sel], minlength=n)[:n] * cell_m2
    return out


def grid_share_pct(under: np.ndarray, transform: Affine, grid: Grid) -> np.ndarray:
    """Share (%) of fine cells (``under``, ``transform``) that are True, per cell of the coarser ``grid``.

    Each fine cell counts for the coarse cell holding its centre; coarse cells without
    fine cells are NaN. For the display raster's ``canopy_pct`` band from a 0.5 m canopy.
    Both grids are north-up, so the coarse column (row) of the fine columns (rows) only
    grows: sums are taken by runs (``numpy.add.reduceat``) along each axis, which needs a
    few bytes per fine cell instead of index arrays of the whole raster.
    """
    height, width = under.shape
    res = grid.resolution
    cols = np.floor((transform.c + (np.arange(width) + 0.5) * transform.a - grid.transform.c) / res).astype(np.int64)
    rows = np.floor((grid.transform.f - (transform.f + (np.arange(height) + 0.5) * transform.e)) / res).astype(
        np.int64
    )
    pct = np.full(grid.shape, np.nan)
    keep_c = np.flatnonzero((cols >= 0) & (cols < grid.width))
    keep_r = np.flatnonzero((rows >= 0) & (rows < grid.height))
    if not (keep_c.size and keep_r.size):
        return pct
    sub = under[keep_r[0] : keep_r[-1] + 1, keep_c[0] : keep_c[-1] + 1]
    cols, rows = cols[keep_c[0] : keep_c[-1] + 1], rows[keep_r[0] : keep_r[-1] + 1]
    col_starts = np.flatnonzero(np.r_[True, np.diff(cols) != 0])
    row_starts = np.flatnonzero(np.r_[True, np.diff(rows) != 0])
    part = np.add.reduceat(np.add.reduceat(sub, col_starts, axis=1, dtype=np.int64), row_starts, axis=0)
    total = np.outer(np.diff(np.r_[row_starts, len(rows)]), np.diff(np.r_[col_starts, len(cols)]))
    pct[np.ix_(rows[row_starts], cols[col_starts])] = part / total * 100.0
    return pct
