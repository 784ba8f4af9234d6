"""A surface model from the registers when no AHN is given: the ``surface_proxy`` source (``dsm`` and ``dtm``).

A municipality that has only the BGT (AHN not yet downloaded) still gets a first,
clearly labelled shade result from this proxy (docs/sources.md, "The surface
proxy"). It is a DSM/DTM pair on a ``resolution_m`` grid (0.5 m, as AHN) in the
region CRS, heights in metres above the terrain:

* **DTM**: flat terrain at 0 m (:data:`TERRAIN_HEIGHT_M`) wherever the
  registers reach (the bounding box of the land cover, buildings and trees read);
  outside it both rasters are nodata (NaN), as AHN is outside its tiles.
* **Buildings**: every footprint of the ``buildings`` source (BAG panden, else
  BGT panden) is a block at its ``height_m`` where the source gives one, else
  at ``building_height_m`` (:data:`DEFAULT_BUILDING_HEIGHT_M`, 8 m). A cell
  belongs to a footprint when its centre lies inside (GDAL's rule). The BAG
  ``year`` (bouwjaar) is not used: no documented relation of building year to
  height is applied.
* **Trees**: every point of the ``trees`` source (BGT vegetatieobject ``boom``
  or a tree register) is a flat crown disc of ``crown_diameter_m`` where the
  register gives one, else of the shared default crown diameter (parameter
  ``default_crown_diameter_m`` of the green layers, 6 m), at its ``height_m``
  where given, else at ``tree_height_m`` (:data:`DEFAULT_TREE_HEIGHT_M`, 10 m).
* **Woods**: land-cover polygons whose ``source_class`` is one of
  ``wood_source_classes`` (:data:`WOOD_SOURCE_CLASSES`: BGT begroeidterreindeel
  loofbos, naaldbos, gemengd bos, all of land-cover class ``green_trees``) are a
  canopy at ``wood_height_m`` (:data:`DEFAULT_WOOD_HEIGHT_M`, 15 m).
* The DSM is the highest of these per cell (a crown over a roof stands above
  it), and the terrain elsewhere.

What the heights change: the ground under a crown or in a wood is shaded for a
person at any crown height above the canopy threshold (2.5 m, ``geo.canopy``), so
the assumed tree and wood heights set only the length of the shadows cast
beyond crowns and wood edges; building heights set the shadows of buildings.
Every result built on this proxy is a first estimate, not a measurement: the
source report says so in its notes (:data:`PROXY_LABEL`), which the build log of
every layer that reads it carries, and ``kaartlaag check`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.fractions import burn_discs
from geo.grid import Grid
from geo.raster import Raster
from geo.rasterize import rasterize_values
from geo.report import AdapterResult, SourceReport

#: Name of the source (config key ``sources.surface_proxy``, provider in the build log).
SURFACE_PROXY_SOURCE = "surface_proxy"
#: Canonical sources the proxy fills.
SURFACE_PROXY_PROVIDES: tuple[str, ...] = ("dsm", "dtm")
#: Canonical sources the proxy reads (at least one of buildings and landcover must be configured).
SURFACE_PROXY_INPUTS: tuple[str, ...] = ("buildings", "trees", "landcover")
#: Height of the flat terrain (m): heights of the proxy are above the terrain, not NAP.
TERRAIN_HEIGHT_M = 0.0
#: Default block height of a building footprint (m above the terrain).
DEFAULT_BUILDING_HEIGHT_M = 8.0
DEFAULT_BUILDING_HEIGHT_SOURCE = (
    "typical Dutch low-rise dwelling with a pitched roof: eaves about 6 m (two storeys of about 3 m) and ridge "
    "about 10 m, the maximum goothoogte 6 m / bouwhoogte 10 m common in Dutch zoning plans (bestemmingsplannen) "
    "for dwellings; a flat block at the mean of eaves and ridge"
)
#: Default height of a tree crown (m above the terrain) where the register gives none.
DEFAULT_TREE_HEIGHT_M = 10.0
DEFAULT_TREE_HEIGHT_SOURCE = (
    "project choice: a mid-age street tree with the default 6 m crown; the height sets only the cast shadow "
    "beyond the crown (the ground under a crown is shaded at any height above 2.5 m)"
)
#: Default canopy height of woods (m above the terrain).
DEFAULT_WOOD_HEIGHT_M = 15.0
DEFAULT_WOOD_HEIGHT_SOURCE = (
    "project choice, on the low side for mature Dutch woods of pine, Douglas fir, oak and beech: a lower canopy "
    "casts shorter shadows onto the open ground beside a wood, so shade there is not overstated"
)
#: Land-cover source classes (``landcover.source_class``) that are woods: BGT begroeidterreindeel forest types.
WOOD_SOURCE_CLASSES: tuple[str, ...] = (
    "begroeidterreindeel:loofbos",
    "begroeidterreindeel:naaldbos",
    "begroeidterreindeel:gemengd bos",
)
#: Default cell size (m): that of the AHN 0.5 m rasters the proxy stands in for.
DEFAULT_PROXY_RESOLUTION_M = 0.5
#: Words every note and label of the proxy starts with, so that a reader never takes it for AHN.
PROXY_LABEL = "dsm and dtm from the surface proxy of the registers, not AHN"


@dataclass(frozen=True)
class ProxyHeights:
    """The assumed sizes of the proxy (m).

    Attributes:
        crown_diameter_m: crown diameter of a tree without ``crown_diameter_m`` (no default here: the
            config passes the shared ``default_crown_diameter_m`` of the green layers).
        building_height_m: block height of a footprint without ``height_m``.
        tree_height_m: crown height of a tree without ``height_m``.
        wood_height_m: canopy height of a wood polygon.
        wood_source_classes: land-cover source classes that are woods.
    """

    crown_diameter_m: float
    building_height_m: float = DEFAULT_BUILDING_HEIGHT_M
    tree_height_m: float = DEFAULT_TREE_HEIGHT_M
    wood_height_m: float = DEFAULT_WOOD_HEIGHT_M
    wood_source_classes: tuple[str, ...] = WOOD_SOURCE_CLASSES

    def __post_init__(self) -> None:
        for name in ("building_height_m", "tree_height_m", "crown_diameter_m", "wood_height_m"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of metres, got {value!r}")


def label(heights: ProxyHeights) -> str:
    """One line naming the proxy and its assumptions, for notes, logs and metadata."""
    return (
        f"{PROXY_LABEL}: flat terrain at {TERRAIN_HEIGHT_M:g} m; building footprints at "
        f"{heights.building_height_m:g} m (or their height_m); tree points as crowns of "
        f"{heights.crown_diameter_m:g} m (or their crown_diameter_m) at {heights.tree_height_m:g} m "
        f"(or their height_m); woods ({', '.join(c.split(':')[-1] for c in heights.wood_source_classes)}) at "
        f"{heights.wood_height_m:g} m; a first estimate until AHN is given (sources.ahn)"
    )


def _column(frame: gpd.GeoDataFrame, name: str) -> np.ndarray:
    """Float values of an optional numeric column: NaN where absent, missing, not finite or not positive."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[name], errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _extent(frames: Sequence[gpd.GeoDataFrame | None]) -> tuple[float, float, float, float] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    arr = np.vstack(boxes)
    return float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())


def _near(frame: gpd.GeoDataFrame, grid: Grid, margin: float = 0.0) -> gpd.GeoDataFrame:
    """Rows of ``frame`` whose geometry comes within ``margin`` of the grid."""
    left, bottom, right, top = grid.bounds
    rows = frame.sindex.query(shapely.box(left - margin, bottom - margin, right + margin, top + margin))
    return frame.iloc[np.sort(rows)]


def surface_rasters(
    grid: Grid,
    *,
    buildings: gpd.GeoDataFrame | None,
    trees: gpd.GeoDataFrame | None,
    landcover: gpd.GeoDataFrame | None,
    heights: ProxyHeights,
    coverage: tuple[float, float, float, float] | None,
    chunk_size: int = 2048,
) -> tuple[Raster, Raster]:
    """The proxy DSM and DTM on ``grid`` (see the module docstring).

    Args:
        grid: the target grid (region CRS, metres).
        buildings: footprints (Polygon; optional ``height_m``, m), or None.
        trees: tree points (optional ``crown_diameter_m``, ``height_m``, m), or None.
        landcover: land cover (``source_class``), for the woods, or None.
        heights: the assumed sizes.
        coverage: (minx, miny, maxx, maxy) the registers reach; cells whose centre lies outside are NaN.
            None: the whole grid.
        chunk_size: tile edge (cells) of the polygon burning (through Dask).

    Returns:
        ``(dsm, dtm)``: float32 rasters on ``grid``, bands ``dsm`` and ``dtm``, metres above the
        terrain, NaN nodata.
    """
    dsm = np.full(grid.shape, TERRAIN_HEIGHT_M, dtype=np.float32)
    if landcover is not None and len(landcover):
        woods = landcover[landcover["source_class"].astype("string").isin(list(heights.wood_source_classes))
                          .fillna(False).to_numpy(dtype=bool)]
        woods = _near(woods, grid)
        if len(woods):
            burnt = rasterize_values(woods.geometry.values, np.full(len(woods), 1, dtype=np.uint8), grid,
                                     chunk_size=chunk_size).compute()
            dsm = np.where(burnt > 0, np.float32(heights.wood_height_m), dsm)
    if trees is not None and len(trees):
        diameter = np.nan_to_num(_column(trees, "crown_diameter_m"), nan=heights.crown_diameter_m)
        tree_h = np.nan_to_num(_column(trees, "height_m"), nan=heights.tree_height_m)
        xy = shapely.get_coordinates(trees.geometry.values)
        left, bottom, right, top = grid.bounds
        r = diameter / 2
        near = (xy[:, 0] + r >= left) & (xy[:, 0] - r <= right) & (xy[:, 1] + r >= bottom) & (xy[:, 1] - r <= top)
        for h in np.unique(tree_h[near]):
            pick = near & (tree_h == h)
            disc = burn_discs(xy[pick, 0], xy[pick, 1], r[pick], grid.transform, grid.shape)
            dsm = np.where(disc, np.maximum(dsm, np.float32(h)), dsm)
    if buildings is not None and len(buildings):
        near_b = _near(buildings, grid)
        if len(near_b):
            block = np.nan_to_num(_column(near_b, "height_m"), nan=heights.building_height_m).astype(np.float32)
            burnt_h = rasterize_values(near_b.geometry.values, block, grid, dtype="float32", fill=np.nan,
                                       chunk_size=chunk_size).compute()
            dsm = np.where(np.isfinite(burnt_h), np.fmax(dsm, burnt_h), dsm).astype(np.float32)
    dtm = np.full(grid.shape, TERRAIN_HEIGHT_M, dtype=np.float32)
    if coverage is not None:
        c_left, c_bottom, c_right, c_top = coverage
        xs = grid.transform.c + (np.arange(grid.width) + 0.5) * grid.resolution
        ys = grid.transform.f - (np.arange(grid.height) + 0.5) * grid.resolution
        outside = ((ys < c_bottom) | (ys > c_top))[:, None] | ((xs < c_left) | (xs > c_right))[None, :]
        dsm[outside] = np.nan
        dtm[outside] = np.nan
    make = lambda data, name: Raster(data, grid.crs, grid.transform, nodata=float("nan"),  # noqa: E731
                                     band_names=(name,), units=("m",))
    return make(dsm, "dsm"), make(dtm, "dtm")


def read_surface_proxy(
    bounds: tuple[float, float, float, float],
    *,
    crs: object,
    buildings: gpd.GeoDataFrame | None,
    trees: gpd.GeoDataFrame | None,
    landcover: gpd.GeoDataFrame | None,
    heights: ProxyHeights,
    resolution_m: float = DEFAULT_PROXY_RESOLUTION_M,
    report: SourceReport | None = None,
) -> AdapterResult:
    """The ``surface_proxy`` source over ``bounds``: ``dsm`` and ``dtm`` (``AdapterResult``).

    The counts are those of the whole frames given (the same for every window of a build);
    the rasters cover ``bounds`` snapped outward to ``resolution_m``.

    Args:
        bounds: (minx, miny, maxx, maxy) in ``crs`` (the region, or a window with its halo).
        crs: the region CRS (every frame is in it).
        buildings, trees, landcover: the canonical sources (any may be None).
        heights: the assumed sizes.
        resolution_m: cell size (m).
        report: where counts and the label go (a new one named ``surface_proxy`` when None).

    Raises:
        ValueError: neither buildings nor land cover is given (nothing to make a surface from).
    """
    report = report or SourceReport(SURFACE_PROXY_SOURCE)
    if (buildings is None or buildings.empty) and (landcover is None or landcover.empty):
        raise ValueError("the surface proxy needs buildings or land cover (a bgt or bag source)")
    if not report.notes:
        report.note(label(heights))
        _count(report, buildings, trees, landcover, heights)
    grid = Grid.from_bounds(bounds, resolution_m, crs)  # type: ignore[arg-type]
    dsm, dtm = surface_rasters(grid, buildings=buildings, trees=trees, landcover=landcover, heights=heights,
                               coverage=_extent([landcover, buildings, trees]))
    return AdapterResult({"dsm": dsm, "dtm": dtm}, report)


def _count(report: SourceReport, buildings: gpd.GeoDataFrame | None, trees: gpd.GeoDataFrame | None,
           landcover: gpd.GeoDataFrame | None, heights: ProxyHeights) -> None:
    if buildings is not None:
        given = np.isfinite(_column(buildings, "height_m"))
        report.count("buildings", len(buildings))
        report.count("buildings_height_given", int(given.sum()))
        report.count("buildings_default_height", int((~given).sum()))
    if trees is not None:
        report.count("trees", len(trees))
        report.count("trees_crown_given", int(np.isfinite(_column(trees, "crown_diameter_m")).sum()))
        report.count("trees_height_given", int(np.isfinite(_column(trees, "height_m")).sum()))
    if landcover is not None:
        woods = landcover["source_class"].astype("string").isin(list(heights.wood_source_classes)).fillna(False)
        report.count("wood_polygons", int(woods.sum()))
        report.count("wood_m2", round(float(landcover.geometry[woods.to_numpy(dtype=bool)].area.sum())))
