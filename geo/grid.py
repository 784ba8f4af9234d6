"""Raster grids snapped to whole cells."""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from pyproj import CRS


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Attributes:
        crs: CRS of the grid.
        transform: affine transform of the top-left cell corner.
        width: columns.
        height: rows.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], resolution: float, crs: CRS) -> Grid:
        """Grid covering ``bounds`` with square cells of ``resolution`` (CRS units).

        The origin is snapped outward to a multiple of the resolution, so
        grids of neighbouring regions and of successive builds line up cell
        for cell (needed to compare versions pixel by pixel).
        """
        if resolution <= 0:
            raise ValueError(f"resolution must be positive, got {resolution}")
        minx, miny, maxx, maxy = bounds
        left = math.floor(minx / resolution) * resolution
        bottom = math.floor(miny / resolution) * resolution
        right = math.ceil(maxx / resolution) * resolution
        top = math.ceil(maxy / resolution) * resolution
        width = max(1, round((right - left) / resolution))
        height = max(1, round((top - bottom) / resolution))
        return cls(crs, Affine(resolution, 0.0, left, 0.0, -resolution, top), width, height)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.height, self.width

    @property
    def resolution(self) -> float:
        """Cell edge in CRS units."""
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy)."""
        left, top = self.transform.c, self.transform.f
        return left, top - self.height * self.resolution, left + self.width * self.resolution, top

    def window_transform(self, row_off: int, col_off: int) -> Affine:
        """Transform of a sub-window starting at (row_off, col_off)."""
        return self.transform @ Affine.translation(col_off, row_off)

    def grown(self, margin: float, lattice: float | None = None) -> Grid:
        """This grid grown by ``margin`` (CRS units) on every side, edges snapped outward to ``lattice``.

        ``lattice`` (default: the resolution) must be a multiple of the
        resolution; grids grown to the same lattice align block for block,
        which keeps block averages equal between overlapping windows.
        """
        step = lattice or self.resolution
        minx, miny, maxx, maxy = self.bounds
        bounds = (
            math.floor((minx - margin) / step) * step,
            math.floor((miny - margin) / step) * step,
            math.ceil((maxx + margin) / step) * step,
            math.ceil((maxy + margin) / step) * step,
        )
        return Grid.from_bounds(bounds, self.resolution, self.crs)

    def slices_of(self, inner: Grid) -> tuple[slice, slice]:
        """(rows, cols) of this grid's array that hold ``inner`` (same resolution, aligned, inside)."""
        res = self.resolution
        row = round((self.transform.f - inner.transform.f) / res)
        col = round((inner.transform.c - self.transform.c) / res)
        if row < 0 or col < 0 or row + inner.height > self.height or col + inner.width > self.width:
            raise ValueError("the inner grid does not lie inside this grid")
        return slice(row, row + inner.height), slice(col, col + inner.width)
