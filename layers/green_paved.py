"""Layer ``green-paved``: built, paved, green, water, bare and canopy shares per neighbourhood.

Method (docs/method-green-paved.md): an exact vector overlay of the
canonical land cover with each zone of the run: the CBS buurten clipped to the
region by default, or a permit site and its buffer. The five
surface shares are shares of the buurt area that land cover maps, so they
sum to 100:

* ``building_pct``: class building;
* ``paved_pct``: road_paved + paved_other;
* ``green_pct``: green_low + green_shrub + green_trees + agriculture;
* ``water_pct``: water;
* ``bare_pct``: bare + road_unpaved (unpaved roads are sand or gravel).

``canopy_pct`` is the tree canopy inside the buurt over the buurt area, seen
from above, so it overlaps any surface. With AHN (``dsm`` + ``dtm``) it is the
AHN canopy (``geo.canopy``, docs/method-canopy.md: DSM - DTM >= 2.5 m, not a
building, not water, vegetation points where the source is LAZ), counted per
0.5 m cell; where the AHN grid has holes the register's crowns fill in. Without
AHN it is the exact union of the register's crown discs (``crown_diameter_m``,
else ``default_crown_diameter_m``), overlapping crowns counted once. Where
``landcover.public`` is known, every share is also given for the public and
the private land of the buurt. A 10 m raster with the same six shares (one
band each) is published for maps (for display only), and with AHN the 0.5 m
canopy itself (``canopy``: height above the terrain of canopy cells).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np

from geo.canonical import LANDCOVER_CLASSES
from geo.canopy import CANOPY_BAND, canopy_in_zones, grid_share_pct
from geo.fractions import SURFACE_GROUPS, Crowns, fraction_raster, zone_surface_areas
from geo.grid import Grid
from geo.raster import Raster
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Param, Reach, fixed, param_reach
from layers.green_inputs import (
    CANOPY_MIN_HEIGHT_PARAM,
    CANOPY_SOURCES,
    CROWN_SEARCH_PARAM,
    DEFAULT_CROWN_DIAMETER_PARAM,
    ahn_canopy,
    canopy_with_crowns,
    log_metadata,
    percent,
    trees_within,
    zone_table,
)
from layers.landcover import clip_to_region

#: The six published shares, in column / band order.
SHARES: tuple[str, ...] = (*(f"{g}_pct" for g in SURFACE_GROUPS), "canopy_pct")
#: Percentages are rounded to this many decimals (sum error <= 0.03 points).
DECIMALS = 2
#: The method in a few sentences, for the catalog (docs/method-green-paved.md has it in full).
METHOD = (
    "Exact vector overlay of the land cover with each buurt (clipped to the region). building_pct, "
    "paved_pct (road_paved + paved_other), green_pct (green_low + green_shrub + green_trees + agriculture), "
    "water_pct and bare_pct (bare + road_unpaved) are shares of the buurt area that land cover maps and sum to "
    "100. canopy_pct is the tree canopy inside the buurt over the buurt area: with AHN the 0.5 m AHN canopy "
    "(DSM - DTM >= canopy_min_height_m, buildings and water masked, LAZ vegetation points where given; register "
    "crowns fill AHN holes), else the union of tree crowns (discs of the crown diameter, default "
    "default_crown_diameter_m), overlapping crowns counted once. The "
    "_public/_private columns are the same shares of the buurt's public and private land where "
    "landcover.public is known. The raster samples each cell at raster_supersample^2 points, for display only."
)
LAYER_ID = "green-paved"


def _tree_reach_m(params: Mapping[str, Any]) -> float:
    """Trees this far beyond the extent may reach into it with their crown: the largest crown radius."""
    return float(max(params["default_crown_diameter_m"] / 2, params["crown_search_radius_m"]))


#: Land cover summing to more than the buurt area by this share (overlapping polygons) is noted.
OVERLAP_NOTE_SHARE = 1e-4


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Shares of surface groups and canopy per neighbourhood, plus a display raster.

    Args:
        inputs: ``landcover`` and ``neighbourhoods`` (required); ``trees``, ``buildings``,
            ``dsm``, ``dtm``, ``vegetation`` (optional; without trees and AHN canopy is null),
            all in the region CRS (metres).
        params: ``default_crown_diameter_m`` (m), ``canopy_min_height_m`` (m),
            ``crown_search_radius_m`` (m), ``raster_resolution_m`` (m),
            ``raster_supersample`` (sub-cells per cell edge).
        ctx: chunk size and Dask scheduler for the raster.

    Returns:
        vector ``neighbourhoods`` (code, name, area_m2, mapped_pct, the six shares,
        public_pct and the shares per public/private land) and raster ``fractions``
        (float32 %, one band per share), and with AHN raster ``canopy`` (float32 m, 0.5 m).
    """
    counts: Counter[str] = Counter()
    notes: list[str] = []
    area = inputs.extent.polygon()
    landcover = clip_to_region(inputs.vector("landcover"), area)
    buurten = zone_table(inputs, counts, LAYER_ID)
    canopy = ahn_canopy(inputs, params["canopy_min_height_m"], notes)
    crowns = None
    points, crown = np.empty(0, dtype=object), np.empty(0)
    if "trees" in inputs.sources:
        points, crown = trees_within(
            inputs.vector("trees"), area.buffer(_tree_reach_m(params)), params["default_crown_diameter_m"], counts,
            canopy, params["crown_search_radius_m"],
        )
        crowns = Crowns.from_points(points, crown)
    elif canopy is None:
        notes.append("no tree source and no AHN: canopy_pct is null")
    public = landcover["public"] if "public" in landcover.columns else None
    areas = zone_surface_areas(
        buurten.geometry.values, landcover.geometry.values, landcover["class"].to_numpy(),
        crowns if canopy is None else None, public,
    )
    under = None
    if canopy is not None:
        under = canopy_with_crowns(canopy, points, crown)
        cgrid = Grid(canopy.crs, canopy.transform, canopy.width, canopy.height)
        cells = canopy_in_zones(under, cgrid, buurten.geometry.values, landcover.geometry.values, public,
                                chunk_size=ctx.chunk_size)
        for col in cells.columns:
            areas[col] = cells[col].to_numpy()
    table = _table(buurten, areas)
    overlap = float(areas["overlap_m2"].sum())
    if overlap > OVERLAP_NOTE_SHARE * float(areas["zone_m2"].sum()):
        notes.append(
            f"land-cover polygons overlap ({overlap:.0f} m2 counted twice): shares are of the summed land-cover area"
        )
    if table["public_pct"].isna().all():
        notes.append("landcover.public is unknown: no public/private split")
    grid = Grid.from_bounds(inputs.extent.bounds, params["raster_resolution_m"], inputs.crs)
    raster = fraction_raster(
        landcover.geometry.values,
        landcover["class"].to_numpy(),
        crowns,
        grid,
        supersample=params["raster_supersample"],
        chunk_size=ctx.chunk_size,
    )
    rasters = {"fractions": raster}
    if canopy is not None and under is not None:
        raster = _with_canopy_band(raster, under, canopy, grid)
        height = np.where(under, canopy.band(CANOPY_BAND), np.nan).astype(np.float32)
        rasters = {"fractions": raster, "canopy": Raster(height, canopy.crs, canopy.transform, nodata=float("nan"),
                                                         band_names=(CANOPY_BAND,), units=("m",))}
        known = np.isfinite(canopy.data[0])
        counts["canopy_cells"] = int(under.sum())
        counts["canopy_cells_unknown_ahn"] = int((~known).sum())
    counts["landcover_polygons"] = len(landcover)
    per_class = {c: round(float(areas[f"class_{c}_m2"].sum()), 2) for c in LANDCOVER_CLASSES}
    return LayerResult(
        vectors={"neighbourhoods": table},
        rasters=rasters,
        metadata={
            "method": METHOD,
            "surface_groups": {g: list(c) for g, c in SURFACE_GROUPS.items()},
            "area_m2_per_class": per_class,
            "canopy_m2": None if crowns is None and canopy is None else round(float(areas["canopy_m2"].sum()), 2),
            "canopy_source": "ahn" if canopy is not None else ("register" if crowns is not None else None),
            **log_metadata(counts, notes),
        },
    )


def _with_canopy_band(raster: Raster, under: np.ndarray, canopy: Raster, grid: Grid) -> Raster:
    """The display raster with its ``canopy_pct`` band taken from the AHN canopy cells (NaN where unmapped)."""
    data = raster.data.copy()
    share = grid_share_pct(under, canopy.transform, grid).astype(np.float32)
    data[-1] = np.where(np.isnan(data[0]), np.nan, np.nan_to_num(share, nan=0.0))
    return Raster(data, raster.crs, raster.transform, nodata=raster.nodata, band_names=raster.band_names,
                  units=raster.units)


def _table(buurten: gpd.GeoDataFrame, areas: Any) -> gpd.GeoDataFrame:
    """The published per-buurt table from the overlay areas."""
    table = buurten[["code", "name"]].copy()
    table["area_m2"] = areas["zone_m2"].round(1).to_numpy()
    table["mapped_pct"] = percent(areas["mapped_m2"], areas["zone_m2"], DECIMALS)
    for g in SURFACE_GROUPS:
        table[f"{g}_pct"] = percent(areas[f"{g}_m2"], areas["mapped_m2"], DECIMALS)
    table["canopy_pct"] = percent(areas["canopy_m2"], areas["zone_m2"], DECIMALS)
    table["public_pct"] = percent(areas["public_m2"], areas["mapped_m2"], DECIMALS)
    for side in ("public", "private"):
        for g in SURFACE_GROUPS:
            table[f"{g}_pct_{side}"] = percent(areas[f"{g}_m2_{side}"], areas[f"{side}_m2"], DECIMALS)
        table[f"canopy_pct_{side}"] = percent(areas[f"canopy_m2_{side}"], areas[f"{side}_m2"], DECIMALS)
    known = (areas["public_m2"] + areas["private_m2"]).to_numpy() > 0
    table.loc[~known, "public_pct"] = float("nan")
    return gpd.GeoDataFrame(table, geometry=buurten.geometry.values, crs=buurten.crs)


LAYER = LayerDef(
    id=LAYER_ID,
    title={"nl": "Groen en verhard", "en": "Green and paved"},
    description={
        "nl": "Aandeel gebouwd, verhard, groen, water, kaal en boomkroon per buurt, exact berekend uit de "
        "bodembedekking; ook apart voor openbare en particuliere grond waar dat bekend is.",
        "en": "Share of buildings, paving, green, water, bare ground and tree canopy per neighbourhood, "
        "computed exactly from land cover; split into public and private land where known.",
    },
    kind="vector",
    inputs=("landcover", "neighbourhoods"),
    optional_inputs=("trees", "buildings", *CANOPY_SOURCES),
    params=(
        DEFAULT_CROWN_DIAMETER_PARAM,
        CANOPY_MIN_HEIGHT_PARAM,
        CROWN_SEARCH_PARAM,
        Param(
            "raster_resolution_m",
            10.0,
            "m",
            "cell size of the display raster",
            "map display at neighbourhood scale; tables use the exact overlay",
            minimum=1.0,
            maximum=1000.0,
        ),
        Param(
            "raster_supersample",
            10,
            "",
            "sub-cells per cell edge sampled for the display raster (10 = 1 m sampling at 10 m cells)",
            "share error per cell shrinks as 1 / supersample",
            minimum=1,
            maximum=50,
        ),
    ),
    outputs=(
        Output("neighbourhoods", "vector", "per buurt: code, name, area_m2 and the six shares (%), public/private"),
        Output("fractions", "raster", "float32 %, bands " + ", ".join(SHARES)),
        Output("canopy", "raster", "with AHN: float32 m, height above the terrain of the 0.5 m canopy cells"),
    ),
    style_id="green-paved",
    code_version="2",
    compute=compute,
    references=(
        "BGT IMGeo 2.1 (Geonovum): land-cover classes",
        "RIVM, Atlas Leefomgeving 'Bomen in Nederland' (2020): trees are vegetation above 2.5 m (AHN3 + CIR)",
        "Konijnendijk, C.C. (2023). Evidence-based guidelines for greener, healthier, more resilient "
        "neighbourhoods: Introducing the 3-30-300 rule. Journal of Forestry Research 34, 821-830. "
        "doi:10.1007/s11676-022-01523-z",
        "Browning, M.H.E.M. et al. (2024). Measuring the 3-30-300 rule to help cities meet nature access "
        "thresholds. Science of the Total Environment 907, 167739. doi:10.1016/j.scitotenv.2023.167739",
    ),
    reach=(
        Reach("landcover", fixed(0.0), "overlaid with the zones, which lie inside the extent"),
        Reach("neighbourhoods", fixed(0.0), "the default zones, clipped to the extent"),
        Reach("trees", _tree_reach_m, "a tree beyond the extent may reach into it with its crown"),
        Reach("buildings", param_reach("crown_search_radius_m"), "masked out of the AHN canopy"),
        *(Reach(s, param_reach("crown_search_radius_m"), "AHN canopy around a tree's trunk gives its crown")
          for s in CANOPY_SOURCES),
    ),
    minzoom=10,
    maxzoom=16,
)
