"""Layer ``heat-stress``: urban heat island (Theeuwes et al. 2017) and afternoon shade, per cell and per buurt.

Method (docs/method-heat-stress.md):

* The DSM is put on the output grid (default 1 m) keeping the highest surface.
* ``uhi_max`` (K) = (2 - SVF - F_veg) * (S * DTR^3 / U)^(1/4) (Theeuwes et al.
  2017), with SVF the urban-climate sky view factor of the DSM
  (``geo.svf``, 16 directions, 100 m), F_veg the share of vegetated land
  cover (green_low, green_shrub, green_trees, agriculture) within 500 m
  (``geo.heat.focal_fraction``), and S, DTR, U the weather of a reference
  hot day (parameters).
* ``shade_pct`` (%): share of the sun positions from 12:00 to 18:00 every 30
  minutes (Dutch summer time) on 1 July for which the cell lies in a cast
  shadow of buildings or trees in the DSM (``geo.shadow``), sun positions by
  ``geo.solar`` at the centre of the region.
* With ``neighbourhoods``: per buurt the mean and 95th percentile of
  ``uhi_max`` and the shade share on public paved walking areas, against the
  targets of the guideline for a heat-resilient city (Kluck et al. 2020:
  40 % shade on main walking routes, 30 % in neighbourhoods).

SVF and shade run in chunks with a halo through Dask (``geo.chunked``), so
a cluster build gives the same pixels as a local one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from geo.crs import WGS84
from geo.errors import ConfigError, LayerError
from geo.grid import Grid
from geo.heat import DEFAULT_FRACTION_CELL_M, dsm_on_grid, focal_fraction
from geo.raster import Raster
from geo.rasterize import rasterize_values
from geo.shadow import shadow_fraction_raster
from geo.solar import DUTCH_TIME_ZONE, local_times, sun_positions
from geo.svf import sky_view_factor_raster
from geo.uhi import CP_AIR_J_KG_K, RHO_AIR_KG_M3, kinematic_radiation, uhi_max
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Param
from layers.landcover import clip_to_region

THEEUWES = (
    "Theeuwes, N.E., Steeneveld, G.J., Ronda, R.J., Holtslag, A.A.M. (2017): A diagnostic equation for the "
    "daily maximum urban heat island effect for cities in northwestern Europe. Int. J. Climatol. 37:443-454, "
    "doi:10.1002/joc.4717"
)
KLUCK = (
    "Kluck, J. et al. (2020): De hittebestendige stad. Een koele kijk op de inrichting van de buitenruimte. "
    "Hogeschool van Amsterdam / Klimaatverbond"
)
FORMULA = "uhi_max = (2 - SVF - F_veg) * (S * DTR^3 / U)^(1/4)"
#: Percentile of uhi_max reported per buurt.
UHI_PERCENTILE = 95
#: Figures in the buurt table are rounded to this many decimals.
DECIMALS = 2
_PERCENT = 100.0


def _sun_at_region_centre(inputs: LayerInputs, params: Mapping[str, Any]) -> tuple[list[Any], float, float]:
    try:
        day = date.fromisoformat(params["shade_date"])
    except ValueError:
        raise ConfigError(
            f"layers.heat-stress.shade_date: expected a date YYYY-MM-DD, got {params['shade_date']!r}"
        ) from None
    minx, miny, maxx, maxy = inputs.region.bounds
    lon, lat = Transformer.from_crs(inputs.region.crs, WGS84, always_xy=True).transform(
        (minx + maxx) / 2, (miny + maxy) / 2
    )
    try:
        moments = local_times(
            day, params["shade_start_hour"], params["shade_end_hour"], params["shade_step_minutes"], DUTCH_TIME_ZONE
        )
    except ValueError as exc:
        raise ConfigError(f"layers.heat-stress.shade_start_hour/shade_end_hour/shade_step_minutes: {exc}") from None
    return sun_positions(moments, lat, lon), float(lat), float(lon)


def _polygon_index(frame: gpd.GeoDataFrame, grid: Grid, chunk_size: int) -> np.ndarray:
    """int32 raster on ``grid``: 1 + the row of the polygon holding each cell centre, 0 outside every polygon."""
    ids = np.arange(1, len(frame) + 1, dtype="int32")
    lazy = rasterize_values(frame.geometry.values, ids, grid, dtype="int32", fill=0, chunk_size=chunk_size)
    (burnt,) = dask.compute(lazy)
    return np.asarray(burnt)


def _per_cell(index: np.ndarray, per_polygon: np.ndarray) -> np.ndarray:
    """Look a per-polygon boolean up for every cell of a polygon-index raster (False outside polygons)."""
    return np.concatenate([[False], per_polygon.astype(bool)])[index]


def _walking_areas(landcover: gpd.GeoDataFrame, params: Mapping[str, Any]) -> np.ndarray:
    """Polygons of public paved walking space: paved classes, not private, not excluded source classes."""
    paved = landcover["class"].isin(params["walking_classes"]).to_numpy()
    private = landcover["public"].astype("boolean").fillna(True).eq(False).to_numpy()
    excluded = landcover["source_class"].isin(params["walking_excluded_source_classes"]).to_numpy()
    return np.asarray(paved & ~private & ~excluded)


def _zone_stats(zone: np.ndarray, values: np.ndarray, n_zones: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per zone 1..n_zones: number of finite values, their mean and 95th percentile (NaN where none)."""
    keep = (zone > 0) & np.isfinite(values)
    z, v = zone[keep], values[keep].astype(np.float64)
    counts = np.bincount(z, minlength=n_zones + 1)[1:]
    sums = np.bincount(z, weights=v, minlength=n_zones + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
    # One sort by zone instead of a mask per zone: memory stays at one copy of the values.
    order = np.argsort(z, kind="stable")
    groups = np.split(v[order], np.cumsum(counts)[:-1])
    p95 = np.array([np.percentile(g, UHI_PERCENTILE) if len(g) else np.nan for g in groups])
    return counts, mean, p95


def _buurt_table(
    buurten: gpd.GeoDataFrame, grid: Grid, uhi: np.ndarray, shade: np.ndarray, walk: np.ndarray,
    params: Mapping[str, Any], chunk_size: int,
) -> gpd.GeoDataFrame:
    zone = _polygon_index(buurten, grid, chunk_size)
    n = len(buurten)
    _, uhi_mean, uhi_p95 = _zone_stats(zone, uhi, n)
    walk_cells, shade_walk, _ = _zone_stats(np.where(walk, zone, 0), shade, n)
    out = buurten[["code", "name", buurten.geometry.name]].copy()
    out["uhi_max_mean_k"] = np.round(uhi_mean, DECIMALS)
    out["uhi_max_p95_k"] = np.round(uhi_p95, DECIMALS)
    out["walk_area_m2"] = np.round(walk_cells * grid.resolution**2, 1)
    out["shade_walk_pct"] = np.round(shade_walk, DECIMALS)
    for column, target in (
        ("meets_shade_neighbourhood", params["shade_target_neighbourhood_pct"]),
        ("meets_shade_main_route", params["shade_target_main_route_pct"]),
    ):
        # No walking area in the buurt: the target neither met nor missed.
        out[column] = pd.array([None if np.isnan(v) else bool(v >= target) for v in shade_walk], dtype="boolean")
    return out.reset_index(drop=True)


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Urban heat island and afternoon shade on a raster, plus a per-buurt table.

    Args:
        inputs: ``dsm`` (metres NAP, region CRS) and ``landcover``; optional ``neighbourhoods``.
        params: see the layer's parameters (weather of the reference day, shade day and hours,
            kernel settings, walking-area classes, Kluck targets).
        ctx: chunk size and Dask scheduler for the kernels.

    Returns:
        raster ``heat-stress`` (float32 bands ``uhi_max`` in K and ``shade_pct`` in %, NaN
        nodata) and, with neighbourhoods, vector ``neighbourhoods``.
    """
    grid = Grid.from_bounds(inputs.region.bounds, params["resolution_m"], inputs.region.crs)
    # Parameters first, so a wrong date fails before minutes of raster work.
    positions, lat, lon = _sun_at_region_centre(inputs, params)
    dsm_source = inputs.raster("dsm")
    if not dsm_source.crs.equals(inputs.region.crs, ignore_axis_order=True):
        raise LayerError(
            f"heat-stress: the dsm is in {dsm_source.crs.to_string()}, the region in "
            f"{inputs.region.crs.to_string()}; give the DSM in the region CRS (the ahn adapter reprojects)"
        )
    dsm = dsm_on_grid(dsm_source, grid)
    if np.isnan(dsm.data).all():
        raise LayerError("heat-stress: the dsm has no data inside the region")
    svf = sky_view_factor_raster(
        dsm, params["svf_directions"], params["svf_max_distance_m"], "oke", chunk_size=ctx.chunk_size
    ).data[0]
    shade = _PERCENT * shadow_fraction_raster(
        dsm, positions, params["shadow_max_distance_m"], chunk_size=ctx.chunk_size
    ).data[0]

    landcover = clip_to_region(inputs.vector("landcover"), inputs.region).reset_index(drop=True)
    polygon = _polygon_index(landcover, grid, ctx.chunk_size)
    vegetated = _per_cell(polygon, landcover["class"].isin(params["vegetation_classes"]).to_numpy())
    veg_share = np.where(polygon == 0, np.nan, vegetated.astype(np.float64))
    f_veg = focal_fraction(veg_share, grid.resolution, params["veg_radius_m"], params["veg_fraction_cell_m"])
    # Cells without land cover within the radius take no vegetation rather than no value.
    f_veg = np.where(np.isnan(f_veg), np.float32(0.0), f_veg)
    s_kinematic = kinematic_radiation(params["global_radiation_w_m2"], RHO_AIR_KG_M3, CP_AIR_J_KG_K)
    uhi = uhi_max(svf, f_veg, s_kinematic, params["dtr_k"], params["wind_m_s"]).astype(np.float32)

    raster = Raster(
        np.stack([uhi, shade.astype(np.float32)]),
        grid.crs,
        grid.transform,
        nodata=float("nan"),
        band_names=("uhi_max", "shade_pct"),
        units=("K", "%"),
    )
    metadata: dict[str, Any] = {
        "formula": FORMULA,
        "reference": THEEUWES,
        "shade_reference": KLUCK,
        "S_k_m_s": round(s_kinematic, 5),
        "weather": {"global_radiation_w_m2": params["global_radiation_w_m2"], "dtr_k": params["dtr_k"],
                    "wind_m_s": params["wind_m_s"], "air_density_kg_m3": RHO_AIR_KG_M3,
                    "cp_j_kg_k": CP_AIR_J_KG_K},
        "shade_date": params["shade_date"],
        "shade_times": [p.when.isoformat() for p in positions if p.when is not None],
        "sun_positions_deg": [[round(p.elevation_deg, 2), round(p.azimuth_deg, 2)] for p in positions],
        "sun_at": {"lat": round(lat, 5), "lon": round(lon, 5)},
        "svf": {"formula": "oke (mean cos^2 of the horizon angle)", "directions": params["svf_directions"],
                "max_distance_m": params["svf_max_distance_m"]},
        "uhi_max_mean_k": _round(np.nanmean(uhi)),
        "uhi_max_p95_k": _round(np.nanpercentile(uhi, UHI_PERCENTILE)),
        "shade_mean_pct": _round(np.nanmean(shade)),
        "nodata_cells": int(np.isnan(uhi).sum()),
    }
    result = LayerResult(rasters={"heat-stress": raster}, metadata=metadata)
    if "neighbourhoods" in inputs.sources:
        buurten = clip_to_region(inputs.vector("neighbourhoods"), inputs.region)
        walk_mask = _per_cell(polygon, _walking_areas(landcover, params))
        result.vectors["neighbourhoods"] = _buurt_table(buurten, grid, uhi, shade, walk_mask, params, ctx.chunk_size)
    return result


def _round(value: float | np.floating) -> float | None:
    return None if not np.isfinite(value) else round(float(value), DECIMALS)


LAYER = LayerDef(
    id="heat-stress",
    title={"nl": "Hittestress", "en": "Heat stress"},
    description={
        "nl": "Maximaal stedelijk hitte-eilandeffect (Theeuwes e.a. 2017) en schaduw tussen 12 en 18 uur "
        "op 1 juli, per cel en per buurt, met de schaduwnormen uit De hittebestendige stad (Kluck e.a. 2020).",
        "en": "Maximum urban heat island (Theeuwes et al. 2017) and shade between 12:00 and 18:00 on 1 July, "
        "per cell and per neighbourhood, against the shade targets of Kluck et al. (2020).",
    },
    kind="raster",
    inputs=("dsm", "landcover"),
    optional_inputs=("neighbourhoods",),
    params=(
        Param("resolution_m", 1.0, "m", "cell size of the output raster",
              "fine enough for streets and squares; the 0.5 m AHN DSM is coarsened by its highest value",
              minimum=0.25, maximum=25.0),
        Param("global_radiation_w_m2", 300.0, "W/m2",
              "daily mean global radiation of the reference hot day (S = this / (rho * c_p))",
              "a clear summer day in the Netherlands receives about 26 MJ/m2 (KNMI daily global radiation); "
              "26e6 J / 86400 s = 300 W/m2",
              minimum=0.0, maximum=500.0),
        Param("dtr_k", 12.0, "K", "daily temperature range at the rural reference on the reference day",
              "typical for clear, calm summer days at KNMI rural stations (Theeuwes et al. 2017 fit range 2-20 K)",
              minimum=0.0, maximum=30.0),
        Param("wind_m_s", 2.5, "m/s", "daily mean 10 m wind speed at the rural reference",
              "calm summer weather in the Netherlands; lower wind gives a stronger heat island",
              minimum=0.5, maximum=20.0),
        Param("veg_radius_m", 500.0, "m", "radius within which the vegetation fraction F_veg is taken",
              "Theeuwes et al. 2017", minimum=10.0, maximum=5000.0),
        Param("veg_fraction_cell_m", DEFAULT_FRACTION_CELL_M, "m", "cell size on which F_veg is averaged",
              "a 500 m mean changes by < 2 % over 10 m", minimum=0.5, maximum=100.0),
        Param("vegetation_classes", ["green_low", "green_shrub", "green_trees", "agriculture"], "",
              "land-cover classes counted as vegetation for F_veg", "the green group of docs/sources.md"),
        Param("svf_directions", 16, "", "search azimuths of the sky view factor",
              "RVT default (Zaksek et al. 2011)", minimum=4, maximum=64),
        Param("svf_max_distance_m", 100.0, "m", "horizon search distance of the sky view factor",
              "covers the buildings that close the sky of a street", minimum=5.0, maximum=500.0),
        Param("shade_date", "2025-07-01", "", "day of the shade computation (YYYY-MM-DD)",
              "a summer day as in the issue; the year hardly matters (sun within 0.1 degree)"),
        Param("shade_start_hour", 12.0, "h", "first moment, Dutch civil (summer) time", "Kluck et al. 2020: "
              "the hottest part of the day", minimum=0.0, maximum=24.0),
        Param("shade_end_hour", 18.0, "h", "last moment, Dutch civil (summer) time", "Kluck et al. 2020",
              minimum=0.0, maximum=24.0),
        Param("shade_step_minutes", 30.0, "min", "time between sun positions", "13 positions from 12:00 to 18:00",
              minimum=1.0, maximum=360.0),
        Param("shadow_max_distance_m", 100.0, "m", "longest shadow followed",
              "a 50 m building at the lowest sun (33 degrees at 18:00 on 1 July) casts 76 m",
              minimum=5.0, maximum=500.0),
        Param("walking_classes", ["road_paved", "paved_other"], "", "land-cover classes of paved walking space",
              "footpaths, squares and residential streets are paved; BGT land cover does not separate them "
              "from carriageways"),
        Param("walking_excluded_source_classes", ["onbegroeidterreindeel:erf"], "",
              "source classes left out of walking space", "erven are yards and gardens, mostly private"),
        Param("shade_target_neighbourhood_pct", 30.0, "%", "shade target on walking routes in neighbourhoods",
              KLUCK, minimum=0.0, maximum=100.0),
        Param("shade_target_main_route_pct", 40.0, "%", "shade target on main walking routes", KLUCK,
              minimum=0.0, maximum=100.0),
    ),
    outputs=(
        Output("heat-stress", "raster", "uhi_max (K) and shade_pct (%) per cell, float32"),
        Output("neighbourhoods", "vector", "per buurt: mean and p95 of uhi_max, shade on walking areas vs targets"),
    ),
    style_id="heat-stress",
    code_version="1",
    compute=compute,
    references=(THEEUWES, KLUCK, "Zaksek, K., Ostir, K., Kokalj, Z. (2011): Sky-view factor as a relief "
                "visualization technique. Remote Sensing 3:398-415"),
    minzoom=12,
    maxzoom=16,
)
