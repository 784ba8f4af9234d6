"""Cool places: contiguous shaded patches of public walkable ground, after Kluck et al. (2020).

The guideline for a heat-resilient city (Kluck, J. et al. 2020, *De hittebestendige
stad*, Hogeschool van Amsterdam / Klimaatverbond) asks for a cool place within 300 m
of every home: a public outdoor place where people can stay, in shadow in the hot
afternoon (15:00 on a summer day) over at least 200 m2. This module holds the
raster steps, free of any layer logic:

* :func:`shade_at` marks the cells in shadow at one sun position: cast shadows
  of buildings and trees by ray marching over the DSM (``geo.shadow``, Ratti &
  Richens 2004). That is the view from the DSM surface, used without a DTM;
  with one, the layer takes the view of a person on the ground
  (``geo.ground_view``), where the ground under a crown is shaded too.
* :func:`shaded_patches` groups the shaded eligible cells into contiguous
  patches (``scipy.ndimage.label``, 4- or 8-connectivity), keeps those of at
  least ``min_area_m2`` and turns each into a polygon of its cells
  (``rasterio.features.shapes``, GDAL polygonize).
* :func:`patch_sources` tells which input polygons (land cover) make up each patch.

Coordinates are those of the grid (RD New, metres); areas in m2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import shape

from geo.raster import Raster
from geo.shadow import DEFAULT_MAX_SHADOW_M, shadow_fraction_raster
from geo.solar import SunPosition

#: Connectivities a patch may be formed with: edge neighbours only, or edges and corners.
CONNECTIVITIES = (4, 8)
#: A cell counts as shaded when at least this share of the (single) sun position shades it; under a
#: crown a person's shade is 1 - transmissivity (0.97), which counts.
SHADED_SHARE = 0.5


@dataclass
class Patches:
    """Shaded patches kept as cool places.

    Attributes:
        labels: int32 raster, 0 outside every kept patch, ``k`` in patch ``k`` (1-based, in
            raster scan order of each patch's first cell).
        geoms: shapely (Multi)Polygon of each patch, index ``k - 1``; the union of its cells.
        cells: number of cells of each patch.
        area_m2: area of each patch (cells times the cell area, which equals the polygon area).
        too_small: number of contiguous shaded patches dropped for being under ``min_area_m2``.
    """

    labels: np.ndarray
    geoms: np.ndarray
    cells: np.ndarray
    area_m2: np.ndarray
    too_small: int


def shade_at(
    dsm: Raster,
    sun: SunPosition,
    *,
    max_distance_m: float = DEFAULT_MAX_SHADOW_M,
    chunk_size: int = 2048,
) -> np.ndarray:
    """Cells in a cast shadow of the DSM surface at one sun position (the view without a DTM).

    With a DTM the layer uses the view of a person on the ground instead
    (``geo.ground_view``: the ground under a tree crown is shaded there).

    Args:
        dsm: surface model (m NAP), one band, square cells, north up.
        sun: the sun position (a sun at or below the horizon shades everything).
        max_distance_m: longest cast shadow followed (m).
        chunk_size: raster chunk edge in cells (chunks run with a halo through the active Dask scheduler).

    Returns:
        bool array of the DSM's shape; False where the DSM has no data.
    """
    cast = shadow_fraction_raster(dsm, [sun], max_distance_m, chunk_size=chunk_size).data[0]
    with np.errstate(invalid="ignore"):
        return np.asarray(cast >= SHADED_SHARE)


def _structure(connectivity: int) -> np.ndarray:
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    return ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)


def shaded_patches(mask: np.ndarray, transform: Affine, min_area_m2: float, connectivity: int = 4) -> Patches:
    """Contiguous patches of ``mask`` of at least ``min_area_m2``, as labels and polygons.

    Args:
        mask: 2-D bool, True where a cell is shaded public walkable ground.
        transform: north-up affine transform of ``mask`` with square cells (metres).
        min_area_m2: smallest patch kept (m2); a patch of exactly this area is kept.
        connectivity: 4 (cells sharing an edge form one patch) or 8 (also cells touching at a corner).

    Returns:
        The kept patches; with 8-connectivity a patch joined only through a corner is a MultiPolygon.
    """
    if transform.b != 0 or transform.d != 0 or not np.isclose(abs(transform.a), abs(transform.e)):
        raise ValueError("shaded_patches needs a north-up grid with square cells")
    cell_m2 = abs(transform.a * transform.e)
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=_structure(connectivity))
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    counts[0] = 0
    # Compare cell counts, not rounded areas: area_m2 = cells * cell_m2 exactly.
    keep = counts * cell_m2 >= min_area_m2 * (1 - 1e-12)
    keep[0] = False
    renumber = np.zeros(n + 1, dtype=np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    kept = renumber[labels]
    n_kept = int(keep.sum())
    geoms = _polygons_of(kept, n_kept, transform, connectivity)
    cells = counts[keep].astype(np.int64)
    return Patches(kept, geoms, cells, cells * cell_m2, int(((counts > 0) & ~keep).sum()))


def patch_sources(labels: np.ndarray, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells each input polygon contributes to each patch.

    Args:
        labels: patch labels (0 = none) as from :func:`shaded_patches`.
        polygons: polygon index raster of the same shape (0 = none, ``i + 1`` = polygon ``i``).

    Returns:
        ``(patch, polygon, cells)``: 0-based patch and polygon indexes and the cell count of each
        pair, sorted by patch and then by decreasing cell count.
    """
    inside = labels > 0
    patch = labels[inside].astype(np.int64) - 1
    poly = polygons[inside].astype(np.int64) - 1
    width = int(poly.max()) + 2 if len(poly) else 1
    pairs, cells = np.unique(patch * width + (poly + 1), return_counts=True)
    p, q = pairs // width, pairs % width - 1
    order = np.lexsort((-cells, p))
    return p[order], q[order], cells[order]


@dataclass
class PatchPieces:
    """Contiguous shaded patches of one window, kept for merging with the neighbouring windows.

    A patch that touches the window's border may continue in the next window,
    so it is kept whatever its size; an inner patch is kept only when it reaches
    the minimum area. :func:`merge_patches` joins the pieces of all windows.

    Attributes:
        geoms: polygon of each patch (the union of its cells).
        cells: cells of each patch.
        border: True where the patch touches the window's border.
        pairs: ``(patch, polygon, cells)`` rows as from :func:`patch_sources`, with the
            caller's polygon numbers.
        too_small: inner patches dropped for being under the minimum area.
    """

    geoms: np.ndarray
    cells: np.ndarray
    border: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]
    too_small: int


def window_patches(
    mask: np.ndarray, polygons: np.ndarray, transform: Affine, min_area_m2: float, connectivity: int = 4
) -> PatchPieces:
    """The patches of ``mask`` in one window, with the land-cover polygons (``polygons``) under each.

    Args:
        mask: 2-D bool, shaded public walkable ground.
        polygons: int raster of the same shape: the caller's polygon number of each cell (0 = none).
        transform: north-up transform with square cells.
        min_area_m2: inner patches smaller than this are dropped (counted).
        connectivity: 4 or 8.
    """
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=_structure(connectivity))
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    border = np.zeros(n + 1, dtype=bool)
    border[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    cell_m2 = abs(transform.a * transform.e)
    keep = (counts * cell_m2 >= min_area_m2 * (1 - 1e-12)) | border
    keep[0] = False
    too_small = int(((counts > 0) & ~keep)[1:].sum())
    renumber = np.zeros(n + 1, dtype=np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    kept = renumber[labels]
    geoms = _polygons_of(kept, int(keep.sum()), transform, connectivity)
    return PatchPieces(geoms, counts[keep].astype(np.int64), border[keep], patch_sources(kept, polygons), too_small)


def _polygons_of(labels: np.ndarray, n: int, transform: Affine, connectivity: int) -> np.ndarray:
    """Polygon of each label 1..n (GDAL polygonize of the cells)."""
    pieces: list[list[shapely.Geometry]] = [[] for _ in range(n)]
    if n:
        for geom, value in shapes(labels, mask=labels > 0, connectivity=connectivity, transform=transform):
            pieces[int(value) - 1].append(shape(geom))
    geoms = np.empty(n, dtype=object)
    geoms[:] = [p[0] if len(p) == 1 else shapely.union_all(p) for p in pieces]
    # With 8-connectivity GDAL returns a ring that touches itself at a corner; OGC calls that
    # invalid, so it becomes a MultiPolygon of the parts meeting at the point.
    invalid = ~shapely.is_valid(geoms) if n else np.zeros(0, dtype=bool)
    geoms[invalid] = shapely.make_valid(geoms[invalid])
    return _canonical(geoms)


def _canonical(geoms: np.ndarray) -> np.ndarray:
    """Without collinear vertices and with a fixed start vertex, so one place has one outline.

    A place joined from pieces of two windows then has exactly the outline it has
    when found in one window, and everything measured from the outline (the
    smoothed access zone of the walking distance) is the same too.
    """
    return shapely.normalize(shapely.simplify(geoms, 0.0)) if len(geoms) else geoms


@dataclass
class MergedPatches:
    """Cool places after joining the pieces of every window.

    Attributes:
        geoms: polygon of each place.
        cells: cells of each place.
        area_m2: area of each place.
        pairs: ``(place, polygon, cells)`` rows, sorted by place and decreasing cells.
        too_small: patches (whole, after joining) under the minimum area.
    """

    geoms: np.ndarray
    cells: np.ndarray
    area_m2: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]
    too_small: int


def merge_patches(
    pieces: list[PatchPieces], cell_m2: float, min_area_m2: float, connectivity: int = 4
) -> MergedPatches:
    """Join border patches of neighbouring windows that are one patch, then keep those of the minimum area.

    Two border patches are one when they share a stretch of edge (4-connectivity) or at least
    a point (8-connectivity), which is exactly when cells of the two would have been labelled
    together in one window over both. Places are ordered as the pieces (window by window).
    """
    _structure(connectivity)
    geoms = np.concatenate([p.geoms for p in pieces]) if pieces else np.empty(0, dtype=object)
    cells = np.concatenate([p.cells for p in pieces]) if pieces else np.empty(0, dtype=np.int64)
    border = np.concatenate([p.border for p in pieces]) if pieces else np.empty(0, dtype=bool)
    offsets = np.cumsum([0, *(len(p.geoms) for p in pieces)])
    n = len(geoms)
    edge = np.flatnonzero(border)
    a, b = shapely.STRtree(geoms[edge]).query(geoms[edge], predicate="intersects") if len(edge) else ([], [])
    a, b = edge[np.asarray(a, dtype=np.intp)], edge[np.asarray(b, dtype=np.intp)]
    pair = a < b
    a, b = a[pair], b[pair]
    if connectivity == 4 and len(a):
        # A corner contact (a point) does not join 4-connected cells.
        shared = shapely.length(shapely.intersection(geoms[a], geoms[b])) > 0
        a, b = a[shared], b[shared]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    # Number the groups in the order of their first piece, so one window gives the order of one run.
    _, first = np.unique(group, return_index=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first)] = np.arange(len(first))
    group = rank[group] if n else group
    n_groups = len(first)
    group_cells = np.bincount(group, weights=cells, minlength=n_groups).astype(np.int64)
    keep = group_cells * cell_m2 >= min_area_m2 * (1 - 1e-12)
    new_id = np.full(n_groups, -1, dtype=np.intp)
    new_id[keep] = np.arange(int(keep.sum()))
    members: list[list[int]] = [[] for _ in range(int(keep.sum()))]
    for i, g in enumerate(group.tolist()):
        if keep[g]:
            members[new_id[g]].append(i)
    out = np.empty(len(members), dtype=object)
    out[:] = [geoms[m[0]] if len(m) == 1 else shapely.union_all(geoms[m]) for m in members]
    out = _canonical(out)
    patch = np.concatenate([p.pairs[0] + offsets[i] for i, p in enumerate(pieces)]) if pieces else np.empty(0, int)
    poly = np.concatenate([p.pairs[1] for p in pieces]) if pieces else np.empty(0, int)
    pcells = np.concatenate([p.pairs[2] for p in pieces]) if pieces else np.empty(0, int)
    place = new_id[group[patch]] if len(patch) else np.empty(0, dtype=np.intp)
    sel = place >= 0
    width = int(poly.max()) + 2 if len(poly) else 1
    keys, summed = np.unique((place[sel] * width + poly[sel] + 1), return_inverse=True)
    totals = np.bincount(summed, weights=pcells[sel]).astype(np.int64)
    p, q = keys // width, keys % width - 1
    order = np.lexsort((-totals, p))
    merged_cells = group_cells[keep]
    too_small = int((~keep).sum()) + sum(x.too_small for x in pieces)
    return MergedPatches(out, merged_cells, merged_cells * cell_m2, (p[order], q[order], totals[order]), too_small)
