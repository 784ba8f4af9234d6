"""A raster array that always travels with its grid.

Modelled on rio-tiler's ``ImageData``: the array never leaves without its CRS,
affine transform and nodata value, so no code reads those from loose metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from pyproj import CRS

#: Share of a cell by which bounds may miss a cell edge and still count as on it (floating-point rounding).
_SNAP = 1e-6


@dataclass(frozen=True)
class Raster:
    """A georeferenced raster held in memory.

    Attributes:
        data: array of shape (bands, rows, cols).
        crs: coordinate reference system of the grid.
        transform: affine transform from (col, row) to CRS coordinates; the
            origin is the top-left corner of the top-left cell.
        nodata: value marking missing cells, or None.
        band_names: one name per band (used as COG band descriptions).
        units: one unit per band (e.g. ``"m"``, ``"%"``, ``"K"``).
    """

    data: np.ndarray
    crs: CRS
    transform: Affine
    nodata: float | int | None = None
    band_names: tuple[str, ...] = field(default_factory=tuple)
    units: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.data.ndim == 2:
            object.__setattr__(self, "data", self.data[np.newaxis, ...])
        if self.data.ndim != 3:
            raise ValueError(f"raster data must be 2-D or 3-D, got shape {self.data.shape}")
        object.__setattr__(self, "crs", CRS.from_user_input(self.crs))
        count = self.data.shape[0]
        if not self.band_names:
            object.__setattr__(self, "band_names", tuple(f"band{i + 1}" for i in range(count)))
        if not self.units:
            object.__setattr__(self, "units", tuple("" for _ in range(count)))
        if len(self.band_names) != count or len(self.units) != count:
            raise ValueError(
                f"raster has {count} bands but {len(self.band_names)} names and {len(self.units)} units"
            )

    @property
    def count(self) -> int:
        """Number of bands."""
        return int(self.data.shape[0])

    @property
    def height(self) -> int:
        """Rows."""
        return int(self.data.shape[1])

    @property
    def width(self) -> int:
        """Columns."""
        return int(self.data.shape[2])

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell size (x, y) in CRS units, both positive."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in the raster CRS."""
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return min(left, right), min(top, bottom), max(left, right), max(top, bottom)

    def band(self, name: str) -> np.ndarray:
        """Return the 2-D array of the band called ``name``."""
        try:
            return self.data[self.band_names.index(name)]
        except ValueError:
            raise KeyError(f"raster has no band {name!r}; bands: {', '.join(self.band_names)}") from None

    def masked(self, name: str | None = None) -> np.ma.MaskedArray:
        """Return a band (or the first band) as a masked array with nodata masked."""
        arr = self.data[0] if name is None else self.band(name)
        if self.nodata is None:
            return np.ma.masked_invalid(arr)
        if isinstance(self.nodata, float) and np.isnan(self.nodata):
            return np.ma.masked_invalid(arr)
        return np.ma.masked_equal(arr, self.nodata)

    def same_grid(self, other: Raster) -> bool:
        """True when both rasters share CRS, transform and shape."""
        return (
            self.crs == other.crs
            and self.transform.almost_equals(other.transform)
            and self.data.shape[1:] == other.data.shape[1:]
        )


def known_cells(raster: Raster) -> np.ndarray:
    """Bool per cell of the first band: a value (finite and not ``nodata``)."""
    band = raster.data[0]
    known = np.isfinite(band)
    return known if raster.nodata is None or np.isnan(raster.nodata) else known & (band != raster.nodata)


def crop(raster: Raster, bounds: tuple[float, float, float, float]) -> Raster:
    """The cells of ``raster`` that meet ``bounds`` (its CRS), snapped outward to whole cells, on its own grid.

    A north-up raster only. Cells beyond the raster are not invented: the result covers the part of
    ``bounds`` the raster has (it may be empty: zero rows or columns).
    """
    res_x, res_y = raster.resolution
    left, top = raster.transform.c, raster.transform.f
    minx, miny, maxx, maxy = bounds
    col0 = max(0, math.floor((minx - left) / res_x + _SNAP))
    col1 = min(raster.width, math.ceil((maxx - left) / res_x - _SNAP))
    row0 = max(0, math.floor((top - maxy) / res_y + _SNAP))
    row1 = min(raster.height, math.ceil((top - miny) / res_y - _SNAP))
    col1, row1 = max(col0, col1), max(row0, row1)
    transform = raster.transform * Affine.translation(col0, row0)
    return Raster(raster.data[:, row0:row1, col0:col1], raster.crs, transform, nodata=raster.nodata,
                  band_names=raster.band_names, units=raster.units)
