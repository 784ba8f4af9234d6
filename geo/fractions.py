"""Surface fractions per zone: an exact vector overlay of land cover and tree crowns.

Method (docs/method-green-paved.md): every land-cover polygon is intersected
with every zone (a CBS buurt, a disc around an address, a permit site) it
overlaps, and the areas of the pieces are summed per zone and per class. No
raster is involved, so a zone's class areas are exactly the areas of the
registry polygons inside it (to floating-point rounding). Tree crowns are
discs of the tree's crown diameter around its point; the area of their union
inside each zone (each square metre of canopy counted once) is computed
exactly for true circles by ``geo.crowns``.

For display, :func:`fraction_raster` computes the same fractions per raster
cell by sampling each cell with ``supersample x supersample`` sub-cells; that
raster is an approximation for maps, the tables use the exact overlay.

All geometries are in one projected CRS with metres as unit (RD New).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import dask
import dask.array as da
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio.features import rasterize

from geo.canonical import LANDCOVER_CLASSES, LANDCOVER_CODES, LANDCOVER_NODATA
from geo.crowns import CrownUnion
from geo.grid import Grid
from geo.raster import Raster
from geo.rasterize import rasterize_values

#: Surface groups of the green/paved balance -> canonical land-cover classes.
#: ``road_unpaved`` counts as bare (sand and gravel tracks are neither paved nor green).
SURFACE_GROUPS: dict[str, tuple[str, ...]] = {
    "building": ("building",),
    "paved": ("road_paved", "paved_other"),
    "green": ("green_low", "green_shrub", "green_trees", "agriculture"),
    "water": ("water",),
    "bare": ("bare", "road_unpaved"),
}
#: Segments per quarter circle of a crown disc; with the area-preserving radius below the
#: polygon's area equals the disc's area exactly, its outline is within 0.1 % of the circle.
CROWN_QUAD_SEGS = 16
#: Overlay areas below this (m2) are rounding noise of the intersection and dropped.
AREA_EPSILON_M2 = 1e-9

_GROUP_OF_CLASS = {cls: group for group, classes in SURFACE_GROUPS.items() for cls in classes}
assert set(_GROUP_OF_CLASS) == set(LANDCOVER_CLASSES), "every land-cover class needs a surface group"


def _area_preserving_factor(quad_segs: int) -> float:
    """Radius scale that gives a regular ``4 * quad_segs``-gon the area of the circle."""
    n = 4 * quad_segs
    return math.sqrt(math.pi / (n / 2 * math.sin(2 * math.pi / n)))


def crown_discs(points: np.ndarray, diameters_m: np.ndarray) -> np.ndarray:
    """Crown discs of trees: polygons with the area of a circle of the crown diameter.

    Args:
        points: shapely Points (tree positions), metres CRS.
        diameters_m: crown diameter per tree (m); must be positive.

    Returns:
        Polygons (regular 64-gons whose area equals ``pi * (d / 2) ** 2``).
    """
    radius = np.asarray(diameters_m, dtype=float) / 2 * _area_preserving_factor(CROWN_QUAD_SEGS)
    return shapely.buffer(np.asarray(points, dtype=object), radius, quad_segs=CROWN_QUAD_SEGS)


def overlay_areas(
    zones: np.ndarray, polygons: np.ndarray, *, pieces: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Exact intersection areas of every (zone, polygon) pair that overlaps.

    Pairs come from an STRtree query; a polygon that a zone contains keeps its
    own area (and geometry) without an overlay, only polygons crossing a zone
    boundary are intersected.

    Args:
        zones: shapely polygons (metres CRS).
        polygons: shapely polygons to distribute over the zones.
        pieces: also return the intersection geometries.

    Returns:
        ``(zone_index, polygon_index, area_m2, geometries or None)``, one entry per
        pair with a positive overlap area.
    """
    zones = np.asarray(zones, dtype=object)
    polygons = np.asarray(polygons, dtype=object)
    empty = np.empty(0, dtype=np.intp)
    if len(zones) == 0 or len(polygons) == 0:
        return empty, empty, np.empty(0), (np.empty(0, dtype=object) if pieces else None)
    tree = shapely.STRtree(polygons)
    zi, pi = tree.query(zones, predicate="intersects")
    shapely.prepare(zones)
    inside = shapely.contains(zones[zi], polygons[pi])
    area = shapely.area(polygons[pi])
    geoms = polygons[pi].copy() if pieces else None
    cut = np.flatnonzero(~inside)
    if len(cut):
        parts = shapely.intersection(zones[zi[cut]], polygons[pi[cut]])
        area[cut] = shapely.area(parts)
        if geoms is not None:
            geoms[cut] = parts
    keep = area > AREA_EPSILON_M2
    return zi[keep], pi[keep], area[keep], (geoms[keep] if geoms is not None else None)


def public_flags(values: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(known, public) booleans from a ``landcover.public`` column holding bool/0-1/text or nulls."""
    if values is None:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    public = text.isin(["true", "1", "1.0", "yes", "ja"]).to_numpy(dtype=bool)
    private = text.isin(["false", "0", "0.0", "no", "nee"]).to_numpy(dtype=bool)
    return public | private, public


class Crowns:
    """Tree crowns as true circles: centres (metres CRS) and diameters (m).

    The union of the crowns (``geo.crowns.CrownUnion``) is built on first use and
    reused for every set of zones measured.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, diameter_m: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.diameter_m = np.asarray(diameter_m, dtype=float)
        self._union: CrownUnion | None = None

    @classmethod
    def from_points(cls, points: np.ndarray, diameter_m: np.ndarray) -> Crowns:
        """Crowns around shapely Points."""
        xy = shapely.get_coordinates(np.asarray(points, dtype=object)).reshape(-1, 2)
        return cls(xy[:, 0], xy[:, 1], diameter_m)

    def area_in(self, zones: np.ndarray) -> np.ndarray:
        """Area (m2) of the union of the crowns inside each zone (exact, ``geo.crowns``)."""
        if self._union is None:
            self._union = CrownUnion(self.x, self.y, self.diameter_m)
        return self._union.area_in(zones)


def zone_surface_areas(
    zones: np.ndarray,
    landcover: np.ndarray,
    classes: np.ndarray,
    crowns: Crowns | None,
    public: pd.Series | None = None,
) -> pd.DataFrame:
    """Areas (m2) per zone of each surface group, of canopy, and their public/private split.

    Args:
        zones: zone polygons (metres CRS).
        landcover: land-cover polygons, a planar partition (BGT is one).
        classes: canonical class of each land-cover polygon.
        crowns: tree crowns, or None when trees are unknown.
        public: ``landcover.public`` per polygon (True/False/null), or None.

    Returns:
        One row per zone (same order) with ``zone_m2``, ``mapped_m2`` (covered by land
        cover), ``<group>_m2`` for the five surface groups, ``canopy_m2`` (NaN without
        trees), ``class_<class>_m2`` per canonical class, ``public_m2``/``private_m2`` and
        ``<group>_m2_public``/``_private``,
        ``canopy_m2_public``/``_private`` (land whose ``public`` flag is known), and
        ``overlap_m2`` (land cover counted twice: positive only if the land cover is
        not a planar partition).
    """
    zones = np.asarray(zones, dtype=object)
    landcover = np.asarray(landcover, dtype=object)
    n = len(zones)
    group_names = list(SURFACE_GROUPS)
    group_code = pd.Categorical(pd.Series(classes).map(_GROUP_OF_CLASS), categories=group_names).codes
    known, is_public = public_flags(public, len(landcover))
    zi, li, area, pieces = overlay_areas(zones, landcover, pieces=crowns is not None)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["zone_m2"] = shapely.area(zones)
    out["mapped_m2"] = np.bincount(zi, weights=area, minlength=n)
    for g, name in enumerate(group_names):
        sel = group_code[li] == g
        out[f"{name}_m2"] = np.bincount(zi[sel], weights=area[sel], minlength=n)
    cls = np.asarray(classes)[li]
    for name in LANDCOVER_CLASSES:
        sel = cls == name
        out[f"class_{name}_m2"] = np.bincount(zi[sel], weights=area[sel], minlength=n)
    for side, mask in (("public", known & is_public), ("private", known & ~is_public)):
        sel_side = mask[li]
        out[f"{side}_m2"] = np.bincount(zi[sel_side], weights=area[sel_side], minlength=n)
        for g, name in enumerate(group_names):
            sel = sel_side & (group_code[li] == g)
            out[f"{name}_m2_{side}"] = np.bincount(zi[sel], weights=area[sel], minlength=n)
    if crowns is None:
        for col in ("canopy_m2", "canopy_m2_public", "canopy_m2_private"):
            out[col] = np.nan
    else:
        out["canopy_m2"] = crowns.area_in(zones)
        # Canopy over public / private land: the crowns inside the zone's land-cover pieces.
        assert pieces is not None
        side_known = known[li]
        piece_canopy = crowns.area_in(pieces[side_known])
        piece_zone = zi[side_known]
        piece_public = is_public[li[side_known]]
        out["canopy_m2_public"] = np.bincount(piece_zone[piece_public], weights=piece_canopy[piece_public], minlength=n)
        out["canopy_m2_private"] = np.bincount(
            piece_zone[~piece_public], weights=piece_canopy[~piece_public], minlength=n
        )
    out["overlap_m2"] = np.maximum(out["mapped_m2"] - out["zone_m2"], 0.0)
    return out


def burn_discs(x: np.ndarray, y: np.ndarray, r: np.ndarray, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Cells whose centre lies inside any of the discs (GDAL's cell-centre rule, without polygons).

    Each disc covers, in each grid row it spans, one run of columns; the runs are
    written as +1/-1 into a difference array whose running sum per row is the
    number of discs over a cell. Vectorised over all (disc, row) pairs, so
    200,000 crowns take a fraction of a second where handing 200,000 polygons
    to GDAL spends most of its time converting them.

    Args:
        x, y: disc centres (grid CRS); r: radii (same unit).
        transform: north-up grid transform (square cells).
        shape: (rows, cols).

    Returns:
        bool array of ``shape``.
    """
    height, width = shape
    cell, left, top = transform.a, transform.c, transform.f
    x, y, r = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(r, dtype=float)
    first = np.maximum(np.ceil((top - (y + r)) / cell - 0.5), 0).astype(np.int64)
    last = np.minimum(np.floor((top - (y - r)) / cell - 0.5), height - 1).astype(np.int64)
    n_rows = np.maximum(last - first + 1, 0)
    disc = np.repeat(np.arange(len(x)), n_rows)
    row = first[disc] + np.arange(len(disc)) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    dy = top - (row + 0.5) * cell - y[disc]
    half = np.sqrt(np.maximum(r[disc] ** 2 - dy**2, 0.0))
    c0 = np.clip(np.ceil((x[disc] - half - left) / cell - 0.5), 0, width).astype(np.int64)
    c1 = np.clip(np.floor((x[disc] + half - left) / cell - 0.5) + 1, 0, width).astype(np.int64)
    run = c1 > c0
    row, c0, c1 = row[run], c0[run], c1[run]
    stride = width + 1
    size = height * stride
    diff = np.bincount(row * stride + c0, minlength=size) - np.bincount(row * stride + c1, minlength=size)
    return np.cumsum(diff.reshape(height, stride)[:, :width], axis=1) > 0


def _lazy_discs(crowns: Crowns, grid: Grid, chunk: int) -> da.Array:
    """``burn_discs`` per Dask chunk of ``grid``, each chunk seeing only the crowns that reach it."""
    r = crowns.diameter_m / 2
    template = da.zeros(grid.shape, dtype=bool, chunks=chunk)

    def _burn(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        assert block_info is not None
        (row0, row1), (col0, col1) = block_info[None]["array-location"]
        transform = grid.window_transform(row0, col0)
        left, top = transform.c, transform.f
        right, bottom = left + (col1 - col0) * grid.resolution, top - (row1 - row0) * grid.resolution
        near = (crowns.x + r >= left) & (crowns.x - r <= right) & (crowns.y + r >= bottom) & (crowns.y - r <= top)
        return burn_discs(crowns.x[near], crowns.y[near], r[near], transform, (row1 - row0, col1 - col0))

    return template.map_blocks(_burn, dtype=bool)


def _fine_grid(grid: Grid, supersample: int) -> Grid:
    res = grid.resolution / supersample
    t = grid.transform
    return Grid(grid.crs, Affine(res, 0.0, t.c, 0.0, -res, t.f), grid.width * supersample, grid.height * supersample)


def fraction_raster(
    landcover: np.ndarray,
    classes: np.ndarray,
    crowns: Crowns | None,
    grid: Grid,
    *,
    supersample: int = 10,
    chunk_size: int = 2048,
    groups: Mapping[str, tuple[str, ...]] = SURFACE_GROUPS,
) -> Raster:
    """Per-cell percentages of each surface group and of canopy, for display.

    Each cell is sampled at ``supersample x supersample`` sub-cell centres (a
    sub-cell takes the class of the polygon containing its centre); a band is the
    share of the sub-cells that land cover maps, in the group. Canopy is the share
    of mapped sub-cells under a crown. Cells without land cover are NaN. The error
    against the exact overlay is at most the share of sub-cells cut by a polygon
    edge, so it shrinks as ``1 / supersample``.

    Args:
        landcover: land-cover polygons (grid CRS).
        classes: canonical class of each polygon.
        crowns: tree crowns, or None (canopy band then NaN).
        grid: output grid (e.g. 10 m cells).
        supersample: sub-cells per cell edge.
        chunk_size: Dask chunk edge in sub-cells (rounded down to a multiple of ``supersample``).
        groups: band name stem -> classes.

    Returns:
        float32 raster with bands ``<group>_pct`` and ``canopy_pct`` (unit ``%``).
    """
    fine = _fine_grid(grid, supersample)
    chunk = max(supersample, chunk_size // supersample * supersample)
    codes = pd.Series(classes).map(LANDCOVER_CODES).to_numpy(dtype="uint8")
    lazy = rasterize_values(landcover, codes, fine, dtype="uint8", fill=LANDCOVER_NODATA, chunk_size=chunk)
    mapped = da.coarsen(np.sum, (lazy != LANDCOVER_NODATA).astype("uint16"), {0: supersample, 1: supersample})
    bands = []
    for members in groups.values():
        wanted = [LANDCOVER_CODES[c] for c in members]
        hit = da.isin(lazy, wanted).astype("uint16")
        bands.append(da.coarsen(np.sum, hit, {0: supersample, 1: supersample}))
    if crowns is not None and len(crowns.x):
        burnt = _lazy_discs(crowns, fine, chunk)
        under = (burnt & (lazy != LANDCOVER_NODATA)).astype("uint16")
        bands.append(da.coarsen(np.sum, under, {0: supersample, 1: supersample}))
    else:
        bands.append(da.zeros_like(mapped))
    counts, total = dask.compute(da.stack(bands), mapped)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = (counts.astype("float64") / total * 100.0).astype("float32")
    pct[:, total == 0] = np.nan
    if crowns is None:
        pct[-1] = np.nan
    names = (*(f"{g}_pct" for g in groups), "canopy_pct")
    return Raster(pct, grid.crs, grid.transform, nodata=float("nan"), band_names=names, units=("%",) * len(names))


#: Cell edge (m) of the canopy grid for canopy in discs around many points (``disc_canopy_pct``).
DISC_CELL_M = 1.0
#: Points per vectorised batch in ``disc_canopy_pct`` (rows x points index arrays stay ~1e6).
DISC_BATCH = 2_000


def disc_canopy_pct(
    crowns: Crowns,
    xy: np.ndarray,
    radius_m: float,
    area: shapely.Geometry,
    *,
    cell_m: float = DISC_CELL_M,
    batch: int = DISC_BATCH,
) -> np.ndarray:
    """Canopy % of a disc of ``radius_m`` around each point (the disc clipped to ``area``), on a grid.

    Exact per-disc overlays cost (points x crowns per disc): 100,000 homes with
    1,500 crowns each within 250 m would take hours. Instead the crowns and the
    area are burnt onto a ``cell_m`` grid (a cell counts when its centre is
    under a crown / inside the area, GDAL's rule), each grid row gets a running
    sum, and a disc is summed row by row from two look-ups per row: cost
    (points x rows per disc). The disc is the set of cell centres within
    ``radius_m``; with 1 m cells and discs of 250 m, a disc's canopy share is
    within a few tenths of a percentage point of the exact value (measured in
    the tests against ``CrownUnion``).

    Args:
        crowns: tree crowns.
        xy: ``(k, 2)`` disc centres (metres CRS).
        radius_m: disc radius (m).
        area: the region; parts of discs outside it count for neither canopy nor area.
        cell_m: grid cell edge (m).
        batch: points per vectorised batch.

    Returns:
        float64 canopy percentage per point (NaN when the disc has no cell inside ``area``).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return np.full(0, np.nan)
    left = math.floor((xy[:, 0].min() - radius_m) / cell_m) * cell_m - cell_m
    top = math.ceil((xy[:, 1].max() + radius_m) / cell_m) * cell_m + cell_m
    width = math.ceil((xy[:, 0].max() + radius_m - left) / cell_m) + 2
    height = math.ceil((top - xy[:, 1].min() + radius_m) / cell_m) + 2
    transform = Affine(cell_m, 0.0, left, 0.0, -cell_m, top)
    under = burn_discs(crowns.x, crowns.y, crowns.diameter_m / 2, transform, (height, width))
    return disc_share_pct(under, transform, xy, radius_m, area, batch=batch)


def disc_share_pct(
    under: np.ndarray,
    transform: Affine,
    xy: np.ndarray,
    radius_m: float,
    area: shapely.Geometry,
    *,
    batch: int = DISC_BATCH,
) -> np.ndarray:
    """Share (%) of the cells of a disc around each point that are True in ``under`` (e.g. canopy cells).

    The row-sum method of :func:`disc_canopy_pct` on a given grid (e.g. the 0.5 m AHN
    canopy, ``geo.canopy``). Cells outside ``area`` or outside the grid count for
    neither part nor whole.

    Args:
        under: bool grid (rows, cols), north-up with square cells.
        transform: its transform (metres CRS).
        xy: ``(k, 2)`` disc centres.
        radius_m: disc radius (m).
        area: the region.
        batch: points per vectorised batch.

    Returns:
        float64 percentage per point (NaN when the disc has no cell inside ``area`` and the grid).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    out = np.full(len(xy), np.nan)
    if len(xy) == 0:
        return out
    height, width = under.shape
    cell_m, left, top = transform.a, transform.c, transform.f
    inside = rasterize([(area, 1)], out_shape=(height, width), transform=transform, fill=0, dtype="uint8")
    under = np.asarray(under, dtype=bool).view("uint8")
    # Running sums per row with a leading 0, so a run of columns [c0, c1] sums to S[:, c1 + 1] - S[:, c0].
    run_area = np.zeros((height, width + 1), dtype=np.uint32)
    run_canopy = np.zeros((height, width + 1), dtype=np.uint32)
    np.cumsum(inside, axis=1, out=run_area[:, 1:])
    np.cumsum(under & inside, axis=1, out=run_canopy[:, 1:])
    reach = math.ceil(radius_m / cell_m) + 1
    offsets = np.arange(-reach, reach + 1)
    for start in range(0, len(xy), batch):
        px, py = xy[start : start + batch, 0:1], xy[start : start + batch, 1:2]
        centre_row = np.floor((top - py) / cell_m).astype(np.int64)
        rows = centre_row + offsets[None, :]
        dy = (top - (rows + 0.5) * cell_m) - py
        half = np.sqrt(np.maximum(radius_m**2 - dy**2, 0.0))
        valid = (np.abs(dy) <= radius_m) & (rows >= 0) & (rows < height)
        c0 = np.clip(np.ceil((px - half - left) / cell_m - 0.5), 0, width).astype(np.int64)
        c1 = np.clip(np.floor((px + half - left) / cell_m - 0.5) + 1, 0, width).astype(np.int64)
        c1 = np.maximum(c1, c0)
        r = np.clip(rows, 0, height - 1)
        cells = np.where(valid, run_area[r, c1].astype(np.int64) - run_area[r, c0], 0).sum(axis=1)
        canopy = np.where(valid, run_canopy[r, c1].astype(np.int64) - run_canopy[r, c0], 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + batch] = np.where(cells > 0, canopy / cells * 100.0, np.nan)
    return out

