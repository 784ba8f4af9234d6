"""Layer ``heat-stress``: urban heat island (Theeuwes et al. 2017) and shade, per cell and per buurt.

Method (docs/method-heat-stress.md):

* The DSM is put on the output grid (default 1 m) keeping the highest surface.
* With a DTM, SVF and shade are those of a person 1.5 m above the terrain
  (``layers.person_view``, ``geo.ground_view``): buildings solid, tree crowns
  letting 3 % of the light through, the ground under a crown shaded; roofs get
  no street value (NaN) and stay out of the buurt figures. Without a DTM both
  come from the DSM surface, and the metadata says so.
* ``uhi_max`` (K) = (2 - SVF - F_veg) * (S * DTR^3 / U)^(1/4) (Theeuwes et al.
  2017), with SVF the urban-climate sky view factor (of the person on the
  ground with a DTM, else of the DSM surface; 16 directions, 100 m), F_veg the
  vegetated share within 500 m (``geo.heat.focal_fraction``): vegetated land
  cover (green_low, green_shrub, green_trees, agriculture) and, with a DTM,
  every cell under an AHN tree crown over paving, gardens or any other land
  cover (``layers.heat_inputs``); S, DTR, U the weather of the named reference
  day or of a KNMI station-day (``weather``, ``geo.knmi``).
* ``uhi_max_100m`` (K): the mean of ``uhi_max`` over the street cells (not
  roofs) of each 100 m cell of a grid on whole 100 m RD coordinates, the
  neighbourhood scale the equation was fitted on: the figure to set beside
  measurements and the national maps; the 1 m map shows where the terms vary.
* ``shade_pct_1500`` (%): whether the cell lies in a cast shadow of buildings
  or trees in the DSM (``geo.shadow``) at the Kluck moment, ``shade_hour``
  (15:00 Dutch summer time, CEST) on ``shade_date`` (1 July), the moment and
  day shared with ``cool-places`` (``layers.sun``); 0 or 100.
* ``shade_pct_afternoon`` (%), the second figure: share of the sun positions
  from 12:00 to 18:00 every 30 minutes on the same day for which the cell is
  in a cast shadow (the afternoon window of the Klimaateffectatlas heat map,
  Koopmans et al. 2020). Sun positions by ``geo.solar`` at the centre of the
  region.
* With ``neighbourhoods``: per buurt the mean and 95th percentile of
  ``uhi_max`` and both shade figures on public walking space
  (``layers.walking.walking_space``: footpaths, pedestrian areas and squares,
  home zones, cycle paths; never carriageways), split into main routes and
  neighbourhood streets. The figure at the moment is judged against the
  targets of the guideline for a heat-resilient city (Kluck et al. 2020: 40 %
  shade on main walking routes, 30 % in neighbourhoods, at the hottest part of
  the day).

The layer is *windowed* (``layers.base.Windowed``): ``compute_window``
computes any rectangle exactly, reading the DSM up to the kernels' reach (with
``f_veg_canopy``, the AHN up to the vegetation radius, for the canopy in F_veg)
and the land cover up to the vegetation radius beyond it, and leaves mergeable
statistics (``layers.heat_stats``, sums per 100 m cell); ``finish`` turns those
into the tables and the 100 m raster.
The engine runs a municipality in windows of bounded memory; a permit site or
a scenario is one window. SVF and shade also run in chunks with a halo
through Dask (``geo.chunked``), so a cluster build gives the same pixels as a
local one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.ndimage import distance_transform_edt

from geo.errors import ConfigError, LayerError
from geo.grid import Grid
from geo.heat import dsm_on_grid, focal_fraction
from geo.knmi import WEATHER_SOURCE
from geo.raster import Raster
from geo.rasterize import polygon_index
from geo.shadow import shadow_fraction_raster
from geo.solar import DUTCH_TIME_ZONE, SunPosition, local_times, sun_positions
from geo.svf import sky_view_factor_raster
from geo.uhi import CP_AIR_J_KG_K, RHO_AIR_KG_M3, uhi_max
from geo.vector import near
from layers import heat_inputs as hi
from layers import heat_stats as hs
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Reach, Windowed, fixed
from layers.green_inputs import CANOPY_SOURCES
from layers.heat_params import KLUCK, KOOPMANS, PARAMS
from layers.person_view import BUILDING_CLASS, person_view, view_metadata
from layers.sun import SHADE_MOMENT_HOUR, config_date, sun_at_moment
from layers.walking import walking_space

THEEUWES = (
    "Theeuwes, N.E., Steeneveld, G.J., Ronda, R.J., Holtslag, A.A.M. (2017): A diagnostic equation for the "
    "daily maximum urban heat island effect for cities in northwestern Europe. Int. J. Climatol. 37:443-454, "
    "doi:10.1002/joc.4717"
)
FORMULA = "uhi_max = (2 - SVF - F_veg) * (S * DTR^3 / U)^(1/4)"
#: The largest value of (2 - SVF - F_veg): no sky and no vegetation.
_MAX_SKY_TERM = 2.0
_PERCENT = 100.0
#: Route kind of land cover that is no walking area (see ``heat_stats.ROUTE_KINDS`` for the others).
_NOT_WALKING = -1
_ROUTE_MAIN = hs.ROUTE_KINDS.index("main_route")
_ROUTE_NEIGHBOURHOOD = hs.ROUTE_KINDS.index("neighbourhood")
_PARTIAL = "heat"
_VIEW_PARTIAL = "view"
_BLOCK_PARTIAL = "uhi_100m"
_CANOPY_PARTIAL = "f_veg_canopy"


#: Raster of the shade at the moment and of the afternoon mean, in the order of ``hs.SHADE_FIGURES``.
SHADE_RASTERS = tuple(f"shade_pct_{figure}" for figure in hs.SHADE_FIGURES)


# -- parameters -------------------------------------------------------------------------------------------
def _sun(inputs: LayerInputs, params: Mapping[str, Any]) -> tuple[SunPosition, list[SunPosition], float, float]:
    """The sun at the moment and at the afternoon's positions, over the centre of the region (its boundary).

    Returns:
        the sun at ``shade_hour``, the suns of the afternoon window, and the latitude and longitude used.
    """
    day = config_date(params["shade_date"], "layers.heat-stress.shade_date")
    # Windows of one build share the region boundary, so every window sees the same sun.
    moment, lat, lon = sun_at_moment(inputs.context, day, params["shade_hour"])
    try:
        moments = local_times(
            day, params["shade_start_hour"], params["shade_end_hour"], params["shade_step_minutes"], DUTCH_TIME_ZONE
        )
    except ValueError as exc:
        raise ConfigError(f"layers.heat-stress.shade_start_hour/shade_end_hour/shade_step_minutes: {exc}") from None
    return moment, sun_positions(moments, lat, lon), lat, lon


def _kernel_reach_m(params: Mapping[str, Any]) -> float:
    return float(max(params["svf_max_distance_m"], params["shadow_max_distance_m"]))


def _coarse_cell_m(params: Mapping[str, Any]) -> float:
    res = params["resolution_m"]
    return float(max(1, round(params["veg_fraction_cell_m"] / res)) * res)


def _landcover_reach_m(params: Mapping[str, Any]) -> float:
    """How far (m) beyond a window the land cover is read: the vegetation radius and the main-route distance."""
    # Two coarse cells more than the radius: F_veg is constant per coarse cell, measured from the cell's centre.
    return float(max(params["veg_radius_m"] + 2 * _coarse_cell_m(params),
                     params["main_route_along_m"] + 2 * params["resolution_m"]))


def halo_m(params: Mapping[str, Any]) -> float:
    """How far (m) beyond a window the computation reads its rasters.

    The reach of the SVF and shadow kernels; with ``f_veg_canopy`` the land-cover reach
    plus one coarse cell (the F_veg grid's edges snap outward to it), so the canopy of
    the whole 500 m disc is read and F_veg does not depend on where windows are cut.
    """
    if params["f_veg_canopy"]:
        return max(_kernel_reach_m(params), _landcover_reach_m(params) + _coarse_cell_m(params))
    return _kernel_reach_m(params)


# -- grids --------------------------------------------------------------------------------------------------
def _crop(array: np.ndarray, outer: Grid, core: Grid) -> np.ndarray:
    """The cells of ``core`` out of an array on ``outer`` (same resolution, aligned)."""
    return array[outer.slices_of(core)]


def _near(frame: gpd.GeoDataFrame, grid: Grid) -> gpd.GeoDataFrame:
    """The features of ``frame`` whose bounding box meets ``grid`` (``geo.vector.near``), numbered from 0."""
    return near(frame, grid.bounds).reset_index(drop=True)


# -- walking areas --------------------------------------------------------------------------------------------
def route_kinds(landcover: gpd.GeoDataFrame, params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per land-cover polygon: its walking-space kind by attributes, and whether it is a through road.

    Walking space is ``layers.walking.walking_space`` with ``walking_classes``,
    ``walking_functions`` and ``walking_excluded_source_classes``: public land
    cover whose BGT road function, when known, is a walking function
    (carriageways, ``rijbaan lokale weg`` included, are not). It is a main
    route when its function is one of ``main_route_functions``, else
    neighbourhood walking space (Kluck et al. 2020); :func:`route_raster` adds
    the cells near through roads.

    Returns:
        int8 kind per polygon (-1 no walking space, else the index in
        ``heat_stats.ROUTE_KINDS``) and a bool per polygon: a road part with a
        function in ``main_route_along_functions``.
    """
    walking = walking_space(landcover, classes=params["walking_classes"], functions=params["walking_functions"],
                            excluded_source_classes=params["walking_excluded_source_classes"])
    function = landcover["function"] if "function" in landcover else pd.Series(None, index=landcover.index)
    main = walking & function.isin(params["main_route_functions"]).to_numpy()
    kinds = np.where(~walking, _NOT_WALKING, np.where(main, _ROUTE_MAIN, _ROUTE_NEIGHBOURHOOD)).astype(np.int8)
    return kinds, function.isin(params["main_route_along_functions"]).to_numpy()


def route_raster(
    landcover: gpd.GeoDataFrame, polygon: np.ndarray, resolution_m: float, params: Mapping[str, Any]
) -> np.ndarray:
    """Walking-space kind per cell: by :func:`route_kinds`, and main route near a through road.

    Neighbourhood walking space within ``main_route_along_m`` of a through-road
    cell counts as main route.

    Measured per cell rather than per polygon, because one BGT road polygon can
    run from a through road deep into a neighbourhood.

    Args:
        landcover: the polygons.
        polygon: int raster, 1 + the row in ``landcover`` of each cell, 0 outside.
        resolution_m: cell size (m).
        params: the layer's parameters.
    """
    kinds, along = route_kinds(landcover, params)
    route = np.r_[_NOT_WALKING, kinds].astype(np.int8)[polygon]
    through = np.r_[False, along][polygon]
    if through.any() and params["main_route_along_m"] > 0:
        near = distance_transform_edt(~through, sampling=resolution_m) <= params["main_route_along_m"]
        route[near & (route == _ROUTE_NEIGHBOURHOOD)] = _ROUTE_MAIN
    return route


# -- computation ------------------------------------------------------------------------------------------------
def compute_window(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """uhi_max and both shade figures of exactly ``inputs.extent.bounds``, plus the window's mergeable statistics.

    Args:
        inputs: ``dsm`` (metres NAP, region CRS; read up to ``halo_m`` beyond the
            window where available) and ``landcover``; optional ``neighbourhoods``.
        params: see the layer's parameters.
        ctx: chunk size and Dask scheduler for the kernels.

    Returns:
        rasters ``uhi_max`` (K), ``shade_pct_1500`` and ``shade_pct_afternoon`` (%) (float32, NaN
        nodata) on the window grid, and partials for :func:`finish`.
    """
    res = params["resolution_m"]
    core = Grid.from_bounds(inputs.extent.bounds, res, inputs.crs)
    # Parameters first, so a wrong date fails before minutes of raster work.
    moment, afternoon, _, _ = _sun(inputs, params)
    g_w_m2, dtr_k, wind_m_s, _ = hi.weather(inputs, params)
    dsm_source = inputs.raster("dsm")
    if not dsm_source.crs.equals(inputs.crs, ignore_axis_order=True):
        raise LayerError(
            f"heat-stress: the dsm is in {dsm_source.crs.to_string()}, the region in "
            f"{inputs.crs.to_string()}; give the DSM in the region CRS (the ahn adapter reprojects)"
        )
    kgrid = core.grown(_kernel_reach_m(params), res)
    dsm = dsm_on_grid(dsm_source, kgrid)
    vgrid = core.grown(_landcover_reach_m(params), _coarse_cell_m(params))
    landcover = _near(inputs.vector("landcover"), vgrid)
    svf: np.ndarray
    shades: list[np.ndarray]
    view_counts = {"roof_cells": 0, "canopy_cells": 0, "person_view": 0, "dtm_resampled": 0}
    canopy: np.ndarray | None = None  # AHN crowns on vgrid (1, 0, NaN unknown), for F_veg and the person view
    if np.isnan(_crop(dsm.data[0], kgrid, core)).all():
        svf = np.full(core.shape, np.nan, dtype=np.float32)
        shades = [svf] * len(hs.SHADE_FIGURES)
    else:
        if params["f_veg_canopy"] and "dtm" in inputs.sources:
            canopy = hi.window_canopy(inputs, vgrid, landcover, params)
        person = person_view(
            inputs, dsm, kgrid, _near(landcover, kgrid), [[moment], afternoon], params, layer_id="heat-stress",
            with_svf=True, max_svf_distance_m=params["svf_max_distance_m"],
            max_shadow_m=params["shadow_max_distance_m"], chunk_size=ctx.chunk_size,
            canopy=None if canopy is None else _crop(canopy, vgrid, kgrid) > 0,
        )
        if person is not None and person.view.svf is not None:
            # A person on the ground (geo.ground_view): shade under crowns, roofs without street value.
            svf = _crop(person.view.svf, kgrid, core)
            shades = [(_PERCENT * _crop(s, kgrid, core)).astype(np.float32) for s in person.view.shades]
            view_counts = {"roof_cells": int(_crop(person.view.roof, kgrid, core).sum()),
                           "canopy_cells": person.canopy_cells, "person_view": 1,
                           "dtm_resampled": int(person.dtm_resampled)}
        else:
            # No DTM: the surface view of the DSM.
            svf = _crop(sky_view_factor_raster(
                dsm, params["svf_directions"], params["svf_max_distance_m"], "oke", chunk_size=ctx.chunk_size
            ).data[0], kgrid, core)
            # In the order of hs.SHADE_FIGURES: the moment, then the afternoon window.
            shades = [
                (_PERCENT * _crop(shadow_fraction_raster(
                    dsm, suns, params["shadow_max_distance_m"], chunk_size=ctx.chunk_size
                ).data[0], kgrid, core)).astype(np.float32)
                for suns in ([moment], afternoon)
            ]
    del dsm

    polygon = polygon_index(landcover.geometry.values, vgrid, ctx.chunk_size)
    green_class = landcover["class"].isin(params["vegetation_classes"]).to_numpy()
    veg_share = hi.vegetated_share(polygon, green_class, canopy)
    f_veg = _crop(focal_fraction(veg_share, res, params["veg_radius_m"], params["veg_fraction_cell_m"]), vgrid, core)
    del veg_share
    # Cells without land cover within the radius take no vegetation rather than no value.
    f_veg = np.where(np.isnan(f_veg), np.float32(0.0), f_veg)
    s_kinematic, scale = hi.weather_scale(g_w_m2, dtr_k, wind_m_s)
    uhi = uhi_max(svf, f_veg, s_kinematic, dtr_k, wind_m_s).astype(np.float32)
    core_polygon = _crop(polygon, vgrid, core)
    roof = np.r_[False, (landcover["class"] == BUILDING_CLASS).to_numpy()][core_polygon]
    canopy_counts = {"cells": 0, "added": 0}
    if canopy is not None:
        under = _crop(canopy, vgrid, core) > 0
        canopy_counts = {"cells": int(under.sum()),
                         "added": int((under & ~np.r_[False, green_class][core_polygon] & (core_polygon > 0)).sum())}
    del canopy

    # Route kinds need only the main-route distance around the window, not the vegetation radius.
    rgrid = core.grown(params["main_route_along_m"] + res, res)
    route = _crop(route_raster(landcover, _crop(polygon, vgrid, rgrid), res, params), rgrid, core)
    if inputs.zones is not None:
        buurten = _near(inputs.zones, core)  # the zones near the window (already clipped to the extent)
    else:
        buurten = gpd.GeoDataFrame({"code": []}, geometry=[], crs=inputs.crs)
    zone = polygon_index(buurten.geometry.values, core, ctx.chunk_size)
    partial = hs.window_partial(zone, buurten["code"].astype(str).tolist(), uhi, shades, route,
                                hs.uhi_bins(_MAX_SKY_TERM * scale))
    bands = [("uhi_max", uhi, "K"), *((name, shade, "%") for name, shade in zip(SHADE_RASTERS, shades, strict=True))]
    rasters = {
        name: Raster(band, core.crs, core.transform, nodata=float("nan"), band_names=(name,), units=(unit,))
        for name, band, unit in bands
    }
    return LayerResult(rasters=rasters, partials={
        _PARTIAL: partial, _VIEW_PARTIAL: view_counts, _CANOPY_PARTIAL: canopy_counts,
        _BLOCK_PARTIAL: hi.block_partial(uhi, ~roof, core),
    })


def finish(parts: list[LayerResult], inputs: LayerInputs, params: Mapping[str, Any]) -> LayerResult:
    """The per-buurt table and the metadata from the statistics of every window.

    Raises:
        LayerError: no window had DSM data inside the region.
    """
    moment, afternoon, lat, lon = _sun(inputs, params)
    buurten = None if inputs.zones is None else inputs.zones.reset_index(drop=True)
    codes = [] if buurten is None else buurten["code"].astype(str).tolist()
    stats = hs.merge([p.partials[_PARTIAL] for p in parts], codes)
    if not stats.region_hist.any():
        raise LayerError("heat-stress: the dsm has no data inside the region")
    g_w_m2, dtr_k, wind_m_s, weather = hi.weather(inputs, params)
    s_kinematic, scale = hi.weather_scale(g_w_m2, dtr_k, wind_m_s)
    blocks = hi.block_raster([p.partials[_BLOCK_PARTIAL] for p in parts],
                             Grid.from_bounds(inputs.extent.bounds, params["resolution_m"], inputs.crs))
    metadata: dict[str, Any] = {
        "formula": FORMULA,
        "reference": THEEUWES,
        "shade_reference": KLUCK,
        "shade_afternoon_reference": KOOPMANS,
        "S_k_m_s": round(s_kinematic, 5),
        "weather_term_k": round(scale, 4),
        "weather": {**weather, "air_density_kg_m3": RHO_AIR_KG_M3, "cp_j_kg_k": CP_AIR_J_KG_K},
        hi.UHI_BLOCK_RASTER: {**hi.block_summary(blocks), "cells": "mean of uhi_max over the street cells (not "
                              "roofs) of each 100 m cell on whole 100 m coordinates; NaN without one",
                              "read": "the figure to compare with measurements and national maps (the "
                              "neighbourhood scale Theeuwes et al. 2017 fitted on); uhi_max (1 m) shows where "
                              "SVF and F_veg vary"},
        "shade_date": params["shade_date"],
        "shade_moment": moment.when.isoformat() if moment.when is not None else None,
        "sun_position_moment_deg": {"elevation": round(moment.elevation_deg, 2),
                                    "azimuth": round(moment.azimuth_deg, 2)},
        "shade_afternoon_times": [p.when.isoformat() for p in afternoon if p.when is not None],
        "sun_positions_afternoon_deg": [[round(p.elevation_deg, 2), round(p.azimuth_deg, 2)] for p in afternoon],
        "sun_at": {"lat": round(lat, 5), "lon": round(lon, 5)},
        "shade_figures": {
            SHADE_RASTERS[0]: "cast shadow at shade_moment (0 or 100 %); the Kluck targets are judged on it",
            SHADE_RASTERS[1]: f"share of the {len(afternoon)} afternoon sun positions in cast shadow (second figure)",
        },
        "walking_functions": list(params["walking_functions"]),
        "svf": {"formula": "oke (mean cos^2 of the horizon angle)", "directions": params["svf_directions"],
                "max_distance_m": params["svf_max_distance_m"]},
        "percentiles": f"p{hs.UHI_PERCENTILE} from {hs.UHI_BIN_K} K histograms (exact to half a bin)",
        "windows": len(parts),
        **hs.region_summary(stats),
    }
    counts = {key: sum(int(p.partials.get(_VIEW_PARTIAL, {}).get(key, 0)) for p in parts)
              for key in ("roof_cells", "canopy_cells", "person_view", "dtm_resampled")}
    person = counts.pop("person_view") > 0
    view = view_metadata(person, params, dtm_resampled=counts.pop("dtm_resampled") > 0)
    metadata["view"] = view["view"]
    metadata.update(counts)
    notes = list(view["notes"])
    metadata["f_veg"] = hi.f_veg_metadata([p.partials.get(_CANOPY_PARTIAL, {}) for p in parts], params, person)
    if params["shade_hour"] != SHADE_MOMENT_HOUR:
        notes += [f"{SHADE_RASTERS[0]} and the *_shade_pct_{hs.MOMENT} columns hold the shade at "
                             f"{metadata['shade_moment']}, not at the default 15:00 their names give"]
    if notes:
        metadata["notes"] = notes
    result = LayerResult(metadata=metadata, rasters={hi.UHI_BLOCK_RASTER: blocks})
    if buurten is not None:
        targets = {"main_route": params["shade_target_main_route_pct"],
                   "neighbourhood": params["shade_target_neighbourhood_pct"]}
        result.vectors["neighbourhoods"] = hs.buurt_table(buurten, stats, params["resolution_m"], targets)
    return result


WINDOWED = Windowed(
    compute_window=compute_window,
    finish=finish,
    resolution_m=lambda params: float(params["resolution_m"]),
    raster_sources=CANOPY_SOURCES,
)


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Urban heat island and shade of the whole region in one window, plus the per-buurt table.

    Args:
        inputs: ``dsm`` (metres NAP, region CRS) and ``landcover``; optional ``neighbourhoods``.
        params: see the layer's parameters (weather of the reference day, shade day, moment and
            afternoon window, kernel settings, walking space, Kluck targets).
        ctx: chunk size and Dask scheduler for the kernels.

    Returns:
        rasters ``uhi_max`` (K), ``shade_pct_1500`` and ``shade_pct_afternoon`` (%) (float32, NaN
        nodata) and, with neighbourhoods, vector ``neighbourhoods``.
    """
    return WINDOWED.compute(inputs, params, ctx)


LAYER = LayerDef(
    id="heat-stress",
    title={"nl": "Hittestress", "en": "Heat stress"},
    description={
        "nl": "Maximaal stedelijk hitte-eilandeffect (Theeuwes e.a. 2017) en schaduw om 15 uur op 1 juli, "
        "per cel en per buurt op looproutes getoetst aan de schaduwnormen uit De hittebestendige stad (Kluck "
        "e.a. 2020); daarnaast de schaduw gemiddeld over 12 tot 18 uur (venster van de Klimaateffectatlas).",
        "en": "Maximum urban heat island (Theeuwes et al. 2017) and shade at 15:00 on 1 July, per cell and per "
        "neighbourhood on walking routes against the shade targets of Kluck et al. (2020); besides, the shade "
        "averaged over 12:00-18:00 (the Klimaateffectatlas window).",
    },
    kind="raster",
    inputs=("dsm", "landcover"),
    optional_inputs=("neighbourhoods", *CANOPY_SOURCES[1:], "buildings", WEATHER_SOURCE),
    params=PARAMS,
    outputs=(
        Output("uhi_max", "raster", "maximum urban heat island per cell (K), float32"),
        Output(hi.UHI_BLOCK_RASTER, "raster", "uhi_max averaged over the street cells of each 100 m cell on "
               "whole 100 m RD coordinates (K), float32: the figure to compare with measurements"),
        Output(SHADE_RASTERS[0], "raster", "cast shadow per cell at the moment, 15:00 CEST (0 or 100 %), float32"),
        Output(SHADE_RASTERS[1], "raster", "share of 12:00-18:00 in shade per cell (%), float32"),
        Output("neighbourhoods", "vector",
               "per buurt: mean and p95 of uhi_max; shade on main-route and neighbourhood walking space at "
               "15:00 (judged against the targets) and over 12:00-18:00"),
    ),
    style_id="heat-stress",
    code_version="6",
    compute=compute,
    windowed=WINDOWED,
    references=(THEEUWES, KLUCK, KOOPMANS, "Zaksek, K., Ostir, K., Kokalj, Z. (2011): Sky-view factor as a relief "
                "visualization technique. Remote Sensing 3:398-415"),
    reach=(
        *(Reach(s, halo_m, "SVF and shadows reach the kernels' distance; with f_veg_canopy the AHN canopy of the "
                "500 m vegetation disc") for s in CANOPY_SOURCES),
        Reach("buildings", halo_m, "footprints masked out of the AHN canopy read with the DSM"),
        Reach("landcover", _landcover_reach_m, "F_veg: the vegetated share within 500 m; main routes near "
              "through roads"),
        Reach("neighbourhoods", fixed(0.0), "the default zones, clipped to the extent"),
        Reach(WEATHER_SOURCE, fixed(0.0), "one station-day for the whole region"),
    ),
    minzoom=12,
    maxzoom=16,
)
