"""Gridding a classified lidar point cloud into a DSM and a DTM.

The method follows the AHN products (https://www.ahn.nl, "Kwaliteitsbeschrijving"):

* **DSM** (AHN "DSM", ruw): per cell the highest z of every point except the
  ASPRS noise classes 7 (low noise) and 18 (high noise). Buildings (6),
  vegetation and other unclassified points (1), water (9) and AHN's civil
  structures (26, "kunstwerken" such as bridges) all count.
* **DTM** (AHN "maaiveld"): per cell the *mean* z of the ground points
  (class 2). AHN itself interpolates the ground points with squared inverse
  distance weighting; on the Delft AHN3 sample (1-11, median 2, ground points
  per 0.5 m cell) the cell mean differs from a squared-IDW estimate at the
  cell centre by 1 mm (median; 90 % under 1 cm), and it is cheaper and
  order-independent, which keeps chunked reading exact. The mean rather than
  the minimum is used because the minimum follows the lowest (noisiest) return.
* Water: AHN's maaiveld leaves water as a hole. Kaartlaag needs a gap-free
  terrain, and interpolating a canal from its quays would lift the water to
  quay level, so a cell *without ground points* but with water points
  (class 9) takes the mean water-surface z.

Filling cells without data:

* DTM cells without ground or water points (under buildings, dense
  vegetation, dark water without returns) are filled by linear interpolation
  in a Delaunay triangulation (TIN) of the valid cells that border each hole
  (TIN-linear, the usual way to close DTM gaps); cells outside the hull of
  those cells (grid corners) take the nearest valid cell.
* DSM cells without any point: a hole of at most ``DSM_SMALL_GAP_M2`` (a
  scan-line gap on a roof or a crown) is a gap in a surface and is
  interpolated from the DSM around it like the DTM; a larger hole means the
  laser saw nothing over a wide area, which in practice is dark water or
  missing coverage, so it takes the terrain (DTM) value rather than spreading
  roof heights over a canal.
* Finally DSM >= DTM is enforced by raising the DSM to the DTM where it is
  lower (a cell whose only returns are low points, e.g. water, next to
  interpolated ground). These cells are counted (``dsm_clamped_to_dtm``).

Cells are half-open in both axes: column c covers x in [left + c*res,
left + (c+1)*res) and the row counted from the bottom edge covers y in the
same way, so a point on the left or bottom edge of the grid belongs to it and
a point on the right or top edge of an explicit ``bounds`` does not (a grid
built from the point extent always gets a cell for its highest coordinates).
All arrays are float32 metres (NAP for AHN); no NaN remains after filling.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from scipy import ndimage
from scipy.spatial import Delaunay, QhullError

from geo.errors import SourceError

#: ASPRS classes left out of the DSM: 7 low point (noise), 18 high noise.
NOISE_CLASSES: tuple[int, ...] = (7, 18)
#: ASPRS class 2, ground; AHN's maaiveld is made of these only.
GROUND_CLASSES: tuple[int, ...] = (2,)
#: ASPRS class 9, water; used for DTM cells without ground points.
WATER_CLASSES: tuple[int, ...] = (9,)
#: Largest hole in the DSM (m²) treated as a gap in a surface and interpolated;
#: 4 m² is a 2 x 2 m patch, larger than any scan-line gap at AHN densities
#: but smaller than a typical canal or pond that returns no points.
DSM_SMALL_GAP_M2 = 4.0
#: 8-connectivity, so diagonal neighbours belong to the same hole / border.
_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
#: Offset (in cells) of interpolation queries off the integer lattice; the
#: components are in an irrational ratio so no lattice edge is parallel to it.
#: Only used to locate the triangle; the value is computed at the true centre.
_QUERY_NUDGE = np.array([1e-5, 1e-5 / math.sqrt(2)])
#: Relative tolerance when snapping bounds to multiples of the resolution, so
#: that 85000.0000001 / 0.5 is not pushed up a whole cell by float error.
_SNAP_EPS = 1e-9


def snap_bounds(
    bounds: tuple[float, float, float, float], resolution_m: float, *, include_max_edge: bool
) -> tuple[float, float, float, float]:
    """Snap (minx, miny, maxx, maxy) outward to multiples of ``resolution_m``.

    Args:
        bounds: extent in CRS units (metres).
        resolution_m: cell size in metres.
        include_max_edge: when True the maxima get their own cell even when
            they fall exactly on a multiple (use for point extents, where the
            highest coordinate is a real point that must land in the grid).
    """
    if resolution_m <= 0:
        raise ValueError(f"resolution must be positive, got {resolution_m}")
    minx, miny, maxx, maxy = bounds
    if maxx < minx or maxy < miny:
        raise ValueError(f"bounds are not (minx, miny, maxx, maxy): {bounds}")
    lo = [math.floor(v / resolution_m + _SNAP_EPS) * resolution_m for v in (minx, miny)]
    if include_max_edge:
        hi = [(math.floor(v / resolution_m + _SNAP_EPS) + 1) * resolution_m for v in (maxx, maxy)]
    else:
        hi = [math.ceil(v / resolution_m - _SNAP_EPS) * resolution_m for v in (maxx, maxy)]
        hi = [max(h, low + resolution_m) for h, low in zip(hi, lo, strict=True)]
    return lo[0], lo[1], hi[0], hi[1]


@dataclass
class GriddedSurface:
    """A DSM and a DTM on one grid, as produced by :func:`grid_point_cloud`.

    Attributes:
        dsm: float32 array (rows, cols), metres, no NaN.
        dtm: float32 array (rows, cols), metres, no NaN, ``dtm <= dsm``.
        transform: affine transform of the grid (north-up, origin top-left).
        counts: points and cells per outcome (``points_used``, ``points_noise``,
            ``points_outside``, ``dtm_cells_ground``, ``dtm_cells_water``,
            ``dtm_filled``, ``dsm_filled_interpolated``, ``dsm_filled_from_dtm``,
            ``dsm_clamped_to_dtm``).
    """

    dsm: np.ndarray
    dtm: np.ndarray
    transform: Affine
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the grid."""
        rows, cols = self.dsm.shape
        left, top = self.transform.c, self.transform.f
        return left, top + rows * self.transform.e, left + cols * self.transform.a, top


class SurfaceGridder:
    """Accumulates points chunk by chunk into per-cell DSM and DTM statistics.

    Memory is a few float64 arrays of the grid size, independent of the number
    of points, so AHN tiles of hundreds of millions of points can be streamed.

    Args:
        bounds: grid extent (minx, miny, maxx, maxy), already multiples of
            ``resolution_m`` (see :func:`snap_bounds`).
        resolution_m: cell size in metres.
        source: what is being gridded (file names), named in errors.
    """

    def __init__(
        self,
        bounds: tuple[float, float, float, float],
        resolution_m: float,
        *,
        source: str = "point cloud",
        noise_classes: Sequence[int] = NOISE_CLASSES,
        ground_classes: Sequence[int] = GROUND_CLASSES,
        water_classes: Sequence[int] = WATER_CLASSES,
    ) -> None:
        self.minx, self.miny, self.maxx, self.maxy = bounds
        self.res = float(resolution_m)
        self.cols = round((self.maxx - self.minx) / self.res)
        self.rows = round((self.maxy - self.miny) / self.res)
        if self.cols < 1 or self.rows < 1:
            raise ValueError(f"empty grid for bounds {bounds} at {resolution_m} m")
        self.source = source
        self.noise = np.asarray(noise_classes, dtype=np.int64)
        self.ground = np.asarray(ground_classes, dtype=np.int64)
        self.water = np.asarray(water_classes, dtype=np.int64)
        n = self.rows * self.cols
        self._dsm = np.full(n, -np.inf)
        self._ground_sum = np.zeros(n)
        self._ground_n = np.zeros(n, dtype=np.int64)
        self._water_sum = np.zeros(n)
        self._water_n = np.zeros(n, dtype=np.int64)
        self.counts: Counter[str] = Counter()

    @property
    def transform(self) -> Affine:
        """Affine transform of the grid (origin top-left)."""
        return Affine(self.res, 0.0, self.minx, 0.0, -self.res, self.maxy)

    def add(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, classification: np.ndarray) -> int:
        """Add a chunk of points (coordinates in the grid CRS, metres).

        Returns:
            Number of points of the chunk that fell in the grid and were not noise.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        cls = np.asarray(classification, dtype=np.int64)
        inside = (x >= self.minx) & (x < self.maxx) & (y >= self.miny) & (y < self.maxy)
        noise = np.isin(cls, self.noise)
        keep = inside & ~noise
        self.counts["points_outside"] += int((~inside).sum())
        self.counts["points_noise"] += int((inside & noise).sum())
        used = int(keep.sum())
        self.counts["points_used"] += used
        if not used:
            return 0
        x, y, z, cls = x[keep], y[keep], z[keep], cls[keep]
        # Clip guards the float edge case (x - minx)/res == cols - 1e-16 rounding up.
        col = np.clip(np.floor((x - self.minx) / self.res).astype(np.int64), 0, self.cols - 1)
        from_bottom = np.clip(np.floor((y - self.miny) / self.res).astype(np.int64), 0, self.rows - 1)
        idx = (self.rows - 1 - from_bottom) * self.cols + col
        np.maximum.at(self._dsm, idx, z)
        n = self.rows * self.cols
        for mask, total, count in (
            (np.isin(cls, self.ground), self._ground_sum, self._ground_n),
            (np.isin(cls, self.water), self._water_sum, self._water_n),
        ):
            if mask.any():
                total += np.bincount(idx[mask], weights=z[mask], minlength=n)
                count += np.bincount(idx[mask], minlength=n)
        self.counts["points_ground"] += int(np.isin(cls, self.ground).sum())
        self.counts["points_water"] += int(np.isin(cls, self.water).sum())
        return used

    def finish(self) -> GriddedSurface:
        """Compute the filled DSM and DTM from what was added.

        Raises:
            SourceError: naming ``source`` when no ground or water point fell
                in the grid (there is no terrain to interpolate from).
        """
        shape = (self.rows, self.cols)
        counts = Counter(self.counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            ground = self._ground_sum / self._ground_n
            water = self._water_sum / self._water_n
        has_ground = self._ground_n > 0
        has_water = ~has_ground & (self._water_n > 0)
        dtm = np.full(self.rows * self.cols, np.nan)
        dtm[has_ground] = ground[has_ground]
        dtm[has_water] = water[has_water]
        dtm = dtm.reshape(shape)
        counts["cells"] = dtm.size
        counts["dtm_cells_ground"] = int(has_ground.sum())
        counts["dtm_cells_water"] = int(has_water.sum())
        if not (has_ground.any() or has_water.any()):
            raise SourceError(
                self.source,
                f"no ground (class {', '.join(map(str, self.ground))}) or water point in the grid "
                f"{self.minx:.1f}, {self.miny:.1f}, {self.maxx:.1f}, {self.maxy:.1f}; cannot build a DTM",
            )
        dtm_holes = np.isnan(dtm)
        counts["dtm_filled"] = int(dtm_holes.sum())
        dtm = fill_holes(dtm, dtm_holes)

        dsm = self._dsm.reshape(shape).copy()
        dsm_holes = ~np.isfinite(dsm)
        dsm[dsm_holes] = np.nan
        small = _small_components(dsm_holes, max_cells=int(DSM_SMALL_GAP_M2 / self.res**2))
        large = dsm_holes & ~small
        counts["dsm_filled_interpolated"] = int(small.sum())
        counts["dsm_filled_from_dtm"] = int(large.sum())
        dsm[large] = dtm[large]
        if small.any():
            dsm = fill_holes(dsm, small)

        dsm32 = dsm.astype(np.float32)
        dtm32 = dtm.astype(np.float32)
        # Rounding to float32 is monotone, so clamping after the cast keeps dsm >= dtm exactly.
        below = dsm32 < dtm32
        counts["dsm_clamped_to_dtm"] = int(below.sum())
        dsm32[below] = dtm32[below]
        return GriddedSurface(dsm=dsm32, dtm=dtm32, transform=self.transform, counts=counts)


def grid_point_cloud(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    classification: np.ndarray,
    resolution_m: float,
    bounds: tuple[float, float, float, float] | None = None,
    *,
    source: str = "point cloud",
    noise_classes: Sequence[int] = NOISE_CLASSES,
    ground_classes: Sequence[int] = GROUND_CLASSES,
    water_classes: Sequence[int] = WATER_CLASSES,
) -> GriddedSurface:
    """Grid classified points (metres, one projected CRS) into a filled DSM and DTM.

    See the module docstring for the method (AHN conventions, hole filling).

    Args:
        x, y, z: point coordinates in metres.
        classification: ASPRS class per point.
        resolution_m: cell size in metres.
        bounds: grid extent; snapped outward to multiples of ``resolution_m``.
            Default: the points' extent, snapped the same way.
        source: named in errors.

    Returns:
        The filled surfaces, their transform and counts.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if bounds is None:
        if x.size == 0:
            raise SourceError(source, "no points to grid")
        grid = snap_bounds(
            (float(x.min()), float(y.min()), float(x.max()), float(y.max())),
            resolution_m,
            include_max_edge=True,
        )
    else:
        grid = snap_bounds(bounds, resolution_m, include_max_edge=False)
    gridder = SurfaceGridder(
        grid,
        resolution_m,
        source=source,
        noise_classes=noise_classes,
        ground_classes=ground_classes,
        water_classes=water_classes,
    )
    gridder.add(x, y, z, classification)
    return gridder.finish()


def fill_holes(grid: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Fill ``holes`` of a 2-D grid from its finite cells.

    Linear interpolation in the Delaunay triangulation of the finite cells
    that border the holes (8-neighbourhood); hole cells outside that
    triangulation take the value of the nearest finite cell (Euclidean
    distance in cells). Cells are square, so cell indices serve as coordinates.

    Args:
        grid: float array; NaN (or inf) marks unknown cells.
        holes: boolean mask of the cells to fill (a subset of the unknown ones).

    Returns:
        A float64 copy of ``grid`` with ``holes`` filled.
    """
    out = np.asarray(grid, dtype=np.float64).copy()
    holes = np.asarray(holes, dtype=bool)
    if not holes.any():
        return out
    known = np.isfinite(out)
    if not known.any():
        raise ValueError("cannot fill holes in a grid without any known cell")
    border = ndimage.binary_dilation(holes, structure=_EIGHT_NEIGHBOURS) & known
    targets = np.argwhere(holes)
    values = np.full(len(targets), np.nan)
    points = np.argwhere(border)
    # Fewer than three or collinear border cells make no triangle: nearest only.
    with contextlib.suppress(QhullError, ValueError):
        values = _tin_interpolate(points.astype(np.float64), out[border], targets.astype(np.float64))
    missing = np.isnan(values)
    if missing.any():
        _, (near_r, near_c) = ndimage.distance_transform_edt(~known, return_indices=True)
        t = targets[missing]
        values[missing] = out[near_r[t[:, 0], t[:, 1]], near_c[t[:, 0], t[:, 1]]]
    out[holes] = values
    return out


def _tin_interpolate(points: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Linear interpolation in the Delaunay triangulation of ``points``; NaN outside its hull.

    Written out with ``Delaunay.find_simplex`` rather than scipy's
    ``LinearNDInterpolator``, whose fallback for points outside the hull
    scans every triangle per point (minutes on an AHN tile with open corners).
    """
    tri = Delaunay(points)
    # Cell centres on integer coordinates often lie exactly on triangle edges,
    # which sends the point location walk into a slow search (100x slower); a
    # nudge far below the cell size avoids that. Points on the hull that a
    # nudge pushes out are tried with the nudge mirrored.
    simplex = np.full(len(queries), -1, dtype=np.int64)
    for sx, sy in ((1, 1), (-1, -1), (1, -1), (-1, 1)):
        todo = simplex < 0
        if not todo.any():
            break
        simplex[todo] = tri.find_simplex(queries[todo] + _QUERY_NUDGE * (sx, sy))
    out = np.full(len(queries), np.nan)
    inside = simplex >= 0
    s = simplex[inside]
    affine = tri.transform[s]  # per triangle: 2x2 inverse matrix and the origin vertex
    bary = np.einsum("nij,nj->ni", affine[:, :2], queries[inside] - affine[:, 2])
    weights = np.column_stack([bary, 1.0 - bary.sum(axis=1)])
    out[inside] = (weights * values[tri.simplices[s]]).sum(axis=1)
    return out


def _small_components(mask: np.ndarray, max_cells: int) -> np.ndarray:
    """Cells of ``mask`` in 8-connected components of at most ``max_cells`` cells."""
    if not mask.any():
        return np.zeros_like(mask)
    labels, _ = ndimage.label(mask, structure=_EIGHT_NEIGHBOURS)
    sizes = np.bincount(labels.ravel())
    small = sizes <= max_cells
    small[0] = False  # label 0 is the background
    return small[labels]
