"""Vegetation points of an AHN point cloud on the DSM grid: the ``vegetation`` raster.

The canopy (``geo.canopy``) is DSM - DTM where a cell is high enough, but a
DSM alone cannot tell a crown from a lamp post, a parked lorry or a roof the
footprints miss. Where the source is a classified point cloud, the laser's own
classes can: this module grids, per cell, the **highest z of the vegetation
points** (metres NAP; NaN where a cell holds none).

Which classes are vegetation (method in docs/method-canopy.md):

* ASPRS LAS 1.4 classes 3, 4 and 5 (low, medium and high vegetation) where a
  delivery uses them (AHN4 and AHN5 tiles do);
* AHN3 classifies only ground (2), building (6), water (9), civil structure
  (26) and noise; everything else, vegetation included, is class 1
  "unclassified" ("overig"). The Delft AHN3 sample holds exactly classes
  1, 2, 6, 9 and 26 (no 3/4/5), and 87-91 % of its class 1 points are one of
  several returns of their pulse, as returns from a crown are
  (against 12-18 % for class 6). So when the point clouds of a build hold no
  class 3/4/5 point at all, class 1 is taken as vegetation and this is noted.
  Mixed deliveries (some tiles with 3/4/5, some without) use 3/4/5 only.

The grid is the DSM's: cells are half-open in both axes exactly as in
``geo.lidar`` (column ``floor((x - left) / res)``, row counted from the bottom
``floor((y - bottom) / res)``), so a point lands in the same cell as in the DSM.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import laspy
import numpy as np
from pyproj import CRS, Transformer

from geo.errors import SourceError
from geo.raster import Raster
from geo.report import SourceReport

#: ASPRS LAS 1.4 classes low (3), medium (4) and high (5) vegetation.
VEGETATION_CLASSES: tuple[int, ...] = (3, 4, 5)
#: ASPRS class 1, unclassified: AHN3 puts vegetation here ("overig").
UNCLASSIFIED_CLASS = 1
#: Name (and band name) of the raster this module makes, a source the ``ahn`` adapter fills in LAZ mode.
VEGETATION_SOURCE = "vegetation"
#: Points read per chunk (as the AHN adapter).
CHUNK_POINTS = 2_000_000


def _cell_index(x: np.ndarray, y: np.ndarray, raster: Raster) -> tuple[np.ndarray, np.ndarray]:
    """Flat cell index of each point (``-1`` outside), with ``geo.lidar``'s half-open cells."""
    res = raster.resolution[0]
    left, top = raster.transform.c, raster.transform.f
    bottom = top - raster.height * res
    col = np.floor((x - left) / res).astype(np.int64)
    row_up = np.floor((y - bottom) / res).astype(np.int64)
    row = raster.height - 1 - row_up
    inside = (col >= 0) & (col < raster.width) & (row >= 0) & (row < raster.height)
    return np.where(inside, row * raster.width + col, -1), inside


def grid_vegetation(
    paths: Sequence[str | Path],
    like: Raster,
    *,
    crs: CRS | None = None,
    report: SourceReport | None = None,
) -> Raster:
    """Highest vegetation point per cell of ``like``'s grid (metres as stored, NAP for AHN).

    Args:
        paths: classified LAS/LAZ files (ASPRS classes, AHN conventions).
        like: the grid to fill (the DSM the ``ahn`` adapter made from the same files).
        crs: CRS of the points when not ``like.crs`` (they are transformed to it).
        report: gets the classes used and the number of vegetation points gridded.

    Returns:
        float32 ``Raster`` with one band ``vegetation`` (unit ``m``), NaN where a cell
        holds no vegetation point.

    Raises:
        SourceError: naming the file when it cannot be read.
    """
    size = like.height * like.width
    top = {cls: np.full(size, -np.inf) for cls in ("asprs", "unclassified")}
    transformer = None
    if crs is not None and not crs.equals(like.crs, ignore_axis_order=True):
        transformer = Transformer.from_crs(crs, like.crs, always_xy=True)
    counts = {"asprs": 0, "unclassified": 0}
    for path in map(Path, paths):
        try:
            with laspy.open(path) as reader:
                for chunk in reader.chunk_iterator(CHUNK_POINTS):
                    cls = np.asarray(chunk.classification)
                    groups = {"asprs": np.isin(cls, VEGETATION_CLASSES), "unclassified": cls == UNCLASSIFIED_CLASS}
                    x, y, z = np.asarray(chunk.x), np.asarray(chunk.y), np.asarray(chunk.z)
                    if transformer is not None:
                        x, y = transformer.transform(x, y)
                    cell, inside = _cell_index(x, y, like)
                    for name, member in groups.items():
                        keep = member & inside
                        counts[name] += int(keep.sum())
                        np.maximum.at(top[name], cell[keep], z[keep])
        except (laspy.LaspyException, OSError, ValueError, RuntimeError) as exc:
            raise SourceError(path, f"cannot read the point cloud for vegetation: {exc}") from None
    used = "asprs" if counts["asprs"] else "unclassified"
    if report is not None:
        report.count("vegetation_points", counts[used])
        if used == "asprs":
            report.note(f"vegetation: ASPRS classes {', '.join(map(str, VEGETATION_CLASSES))} ({counts[used]} points)")
        else:
            report.note(
                "vegetation: no point of classes 3/4/5 (AHN3 style), class 1 'unclassified' taken as vegetation "
                f"({counts[used]} points)"
            )
    grid = top[used]
    grid[~np.isfinite(grid)] = np.nan
    return Raster(
        grid.reshape(like.height, like.width).astype(np.float32),
        like.crs,
        like.transform,
        nodata=float("nan"),
        band_names=(VEGETATION_SOURCE,),
        units=("m",),
    )
