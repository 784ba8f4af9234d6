"""Layer ``pet``: physiological equivalent temperature (gevoelstemperatuur) at 1 m on a reference hot day.

Method (docs/method-pet.md), after the standard heat map of the national stress
test (Koopmans et al. 2020; the Klimaateffectatlas "hittekaart gevoelstemperatuur"):

* **Tmrt** of a standing person per cell and hour by SOLWEIG (``geo.tmrt``, the
  ``solweig`` package): buildings from the AHN DSM over the land cover's building
  footprints, standing on the DTM; tree crowns as a canopy DSM (``geo.canopy``:
  DSM - DTM of at least ``canopy_min_height_m``, not a building, not water, in LAZ
  mode backed by vegetation points), the same crowns as ``heat-stress``; albedo,
  emissivity and ground heating per land-cover class (``geo.tmrt.UMEP_CLASS``);
  the sun from ``geo.solar`` at the region's sun reference (``layers.sun``).
* **Wind** at the person: the 10 m wind of the hour brought down to
  ``wind_person_height_m`` over open terrain by the logarithmic profile
  (``wind_z0_m``), times the cell's sky view factor of buildings and crowns, at
  least ``wind_min_m_s``.
* **PET** from Tmrt, air temperature, humidity and that wind for the standard
  person (``geo.pet``, pythermalcomfort's MEMI).
* Outputs: ``pet_afternoon``, the mean of the hours ``afternoon_start_hour`` to
  ``afternoon_end_hour`` (12:00-18:00, both included); ``pet_1500``, PET at
  ``moment_hour``; roofs (building footprints) have no value (NaN). With
  ``neighbourhoods``, a per-buurt table (``layers.pet_stats``): the outdoor mean,
  and on walking space the mean, p95 and the share per heat-stress class of the
  atlas (``geo.pet.PET_CLASSES``).

The layer is windowed like ``heat-stress``: each window reads the AHN and the
land cover up to ``shadow_max_distance_m`` beyond it, SOLWEIG runs on the window
plus that halo, and only the window's cells are kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.errors import ConfigError, LayerError
from geo.grid import Grid
from geo.heat import dsm_on_grid
from geo.knmi_hourly import WEATHER_HOURLY_SOURCE, station_hours
from geo.pet import (
    MATZARAKIS_1996,
    PET_CLASSES,
    WALTHER_2018,
    Person,
    PetTable,
    pet_grid,
    pet_table,
)
from geo.raster import Raster
from geo.rasterize import polygon_index
from geo.solar import sun_position
from geo.tmrt import LINDBERG_2008, LINDBERG_2011, SOLWEIG_PACKAGE, TmrtSurface, tmrt_tiled, umep_land_cover
from geo.vector import near
from geo.weather_day import KOOPMANS_2020, ReferenceDay, WeatherHour, reference_day
from layers import pet_stats as ps
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Reach, Windowed, fixed
from layers.green_inputs import CANOPY_SOURCES
from layers.person_view import BUILDING_CLASS, grid_canopy
from layers.pet_params import PARAMS, WIND_PROFILE
from layers.sun import config_date, region_centre_lat_lon
from layers.walking import walking_space

#: The rasters of the layer.
AFTERNOON, MOMENT = "pet_afternoon", "pet_1500"
_PARTIAL = "pet"
_COUNTS = "pet_counts"
_WHERE = "layers.pet"
#: Tile edge (cells) SOLWEIG runs in on a Dask cluster (``--scheduler``): a window of 2048 cells gives four
#: tiles for four workers, their 80 m halos adding a third of the cells. A local build runs a window as one
#: tile (SOLWEIG spreads its work over the machine's cores itself).
CLUSTER_TILE_CELLS = 1024
#: Height (m) the 10 m wind is measured at (KNMI, WMO).
WIND_REFERENCE_HEIGHT_M = 10.0


# -- parameters ---------------------------------------------------------------------------------------------
def person(params: Mapping[str, Any]) -> Person:
    """The person of the parameters."""
    return Person(age=float(params["person_age"]), weight_kg=float(params["person_weight_kg"]),
                  height_m=float(params["person_height_m"]), activity_w=float(params["person_activity_w"]),
                  clothing_clo=float(params["person_clothing_clo"]))


def weather_day(inputs: LayerInputs, params: Mapping[str, Any]) -> ReferenceDay:
    """The reference day: a KNMI station-day of hourly data when ``weather`` names one, else ``weather_hours``.

    Raises:
        ConfigError: a bad date or ``weather``, or ``weather`` without ``sources.knmi_hourly``.
    """
    request = params["weather"]
    if request:
        if set(request) != {"station", "date"}:
            raise ConfigError(f"{_WHERE}.weather: expected {{station: STN, date: YYYY-MM-DD}}, got {request!r}")
        if WEATHER_HOURLY_SOURCE not in inputs.sources:
            raise ConfigError(f"{_WHERE}.weather: a KNMI station-day needs the hourly data as a source: "
                              "sources.knmi_hourly: {path: uurgeg_<STN>_<period>.txt}")
        return station_hours(inputs.sources[WEATHER_HOURLY_SOURCE], int(request["station"]),
                             config_date(str(request["date"]), f"{_WHERE}.weather.date"))
    day = config_date(params["weather_date"], f"{_WHERE}.weather_date")
    return reference_day(day, {int(h): tuple(v) for h, v in params["weather_hours"].items()},
                         where=f"{_WHERE}.weather_hours")


def _instants(day: ReferenceDay, params: Mapping[str, Any]) -> tuple[list[datetime], list[datetime], datetime]:
    """The SOLWEIG steps (spin-up and afternoon, hourly), the afternoon's instants and the moment."""
    start, end, moment_h = params["afternoon_start_hour"], params["afternoon_end_hour"], params["moment_hour"]
    if end < start:
        raise ConfigError(f"{_WHERE}: afternoon_end_hour {end} is before afternoon_start_hour {start}")
    if not start <= moment_h <= end:
        raise ConfigError(f"{_WHERE}: moment_hour {moment_h} is outside the afternoon {start}-{end}")
    if not day.hours:
        raise ConfigError(f"{_WHERE}: the reference day has no hours")
    midnight = day.hours[0].when.replace(hour=0, minute=0, second=0, microsecond=0)
    first = max(0, start - params["spinup_hours"])
    steps = [midnight + timedelta(hours=h) for h in range(first, end + 1)]
    afternoon = [midnight + timedelta(hours=h) for h in range(start, end + 1)]
    return steps, afternoon, midnight + timedelta(hours=moment_h)


def halo_m(params: Mapping[str, Any]) -> float:
    """How far (m) beyond a window the AHN and the land cover are read: the longest shadow followed."""
    return float(params["shadow_max_distance_m"])


def wind_at_person(wind_10m: float, sky_view: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Wind (m/s) at the person per cell: the log profile over open terrain, times the sky view, floored.

    ``u(z) = u10 * ln(z / z0) / ln(10 / z0)`` with ``z = wind_person_height_m`` and
    ``z0 = wind_z0_m``; then ``* sky_view``; at least ``wind_min_m_s``.
    """
    z0 = params["wind_z0_m"]
    factor = math.log(params["wind_person_height_m"] / z0) / math.log(WIND_REFERENCE_HEIGHT_M / z0)
    return np.maximum(wind_10m * factor * np.asarray(sky_view, dtype=np.float64), params["wind_min_m_s"])


# -- computation --------------------------------------------------------------------------------------------
def _near(frame: gpd.GeoDataFrame, grid: Grid) -> gpd.GeoDataFrame:
    """The features of ``frame`` whose bounding box meets ``grid`` (``geo.vector.near``), numbered from 0."""
    return near(frame, grid.bounds).reset_index(drop=True)


def solweig_surface(
    inputs: LayerInputs, kgrid: Grid, landcover: gpd.GeoDataFrame, params: Mapping[str, Any], chunk_size: int
) -> tuple[TmrtSurface, np.ndarray, np.ndarray]:
    """The rasters SOLWEIG reads on ``kgrid``, the roof cells, and the land-cover polygon index.

    Raises:
        LayerError: the DSM or DTM is missing or in another CRS than the region.
    """
    for name in ("dsm", "dtm"):
        if name not in inputs.sources:
            raise LayerError(f"pet: needs the AHN {name} (sources.ahn with dsm and dtm, or laz)")
        if not inputs.raster(name).crs.equals(inputs.crs, ignore_axis_order=True):
            raise LayerError(f"pet: the {name} is in {inputs.raster(name).crs.to_string()}, the region in "
                             f"{inputs.crs.to_string()}")
    dsm = dsm_on_grid(inputs.raster("dsm"), kgrid)
    dtm = dsm_on_grid(inputs.raster("dtm"), kgrid)
    polygon = polygon_index(landcover.geometry.values, kgrid, chunk_size)
    names = landcover["class"].astype(str).tolist()
    roof = np.r_[False, np.array([n == BUILDING_CLASS for n in names], dtype=bool)][polygon]
    crowns = grid_canopy(inputs, dsm, dtm, kgrid, landcover, params) > 0
    ground = dtm.data[0]
    top = dsm.data[0]
    surface = TmrtSurface(
        dsm_m=np.where(roof & np.isfinite(top), top, ground).astype(np.float32),
        dtm_m=ground.astype(np.float32),
        canopy_m=np.where(crowns, np.maximum(top - ground, 0.0), 0.0).astype(np.float32),
        land_cover=umep_land_cover(polygon, names),
        pixel_size_m=float(params["resolution_m"]),
    )
    return surface, roof, polygon


def pet_tables(day: ReferenceDay, instants: list[datetime], who: Person) -> dict[datetime, PetTable]:
    """The PET table of each instant's air temperature and humidity (``geo.pet.pet_table``, cached)."""
    return {t: pet_table(round(day.at(t).ta_c, 2), round(day.at(t).rh_pct, 1), who) for t in instants}


def compute_window(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """pet_afternoon and pet_1500 of exactly ``inputs.extent.bounds``, and the window's statistics.

    Args:
        inputs: ``dsm``, ``dtm`` (m NAP, region CRS, read ``halo_m`` beyond the window) and ``landcover``;
            optional ``buildings``, ``vegetation``, ``neighbourhoods``, ``weather_hourly``.
        params: see :data:`layers.pet_params.PARAMS`.
        ctx: chunk size for the rasterising.

    Returns:
        rasters ``pet_afternoon`` and ``pet_1500`` (degC, float32, NaN on roofs and without data).
    """
    res = params["resolution_m"]
    core = Grid.from_bounds(inputs.extent.bounds, res, inputs.crs)
    day = weather_day(inputs, params)
    steps, afternoon, moment = _instants(day, params)
    who = person(params)
    tables = pet_tables(day, afternoon, who)
    kgrid = core.grown(halo_m(params), res)
    landcover = _near(inputs.vector("landcover"), kgrid)
    surface, roof, polygon = solweig_surface(inputs, kgrid, landcover, params, ctx.chunk_size)
    lat, lon = region_centre_lat_lon(inputs.context)
    weather: list[tuple[WeatherHour, Any]] = [(day.at(t), sun_position(t, lat, lon)) for t in steps]
    inner = kgrid.slices_of(core)
    no_value = (roof | ~np.isfinite(surface.dtm_m))[inner]
    if np.isnan(surface.dtm_m[inner]).all():
        empty = np.full(core.shape, np.nan, dtype=np.float32)
        pets, clamped = {t: empty for t in afternoon}, 0
    else:
        tile = ctx.chunk_size if ctx.scheduler is None else min(ctx.chunk_size, CLUSTER_TILE_CELLS)
        tmrt, sky_view = tmrt_tiled(surface, weather, afternoon, lat, lon, params["shadow_max_distance_m"], tile)
        pets, clamped = {}, 0
        sky = sky_view[inner]
        for t in afternoon:
            wind = wind_at_person(day.at(t).wind_m_s, sky, params)
            value, outside = pet_grid(tables[t], tmrt[t][inner], wind)
            pets[t] = np.where(no_value, np.float32(np.nan), value).astype(np.float32)
            clamped += outside
    mean = np.mean(np.stack([pets[t] for t in afternoon]), axis=0).astype(np.float32)
    at_moment = pets[moment]
    walking = _walking(landcover, polygon[inner], params)
    zones = _near(inputs.zones, core) if inputs.zones is not None else None
    codes = [] if zones is None else zones["code"].astype(str).tolist()
    zone = (np.zeros(core.shape, dtype=np.int32) if zones is None
            else polygon_index(zones.geometry.values, core, ctx.chunk_size))
    rasters = {
        name: Raster(band, core.crs, core.transform, nodata=float("nan"), band_names=(name,), units=("degC",))
        for name, band in ((AFTERNOON, mean), (MOMENT, at_moment))
    }
    return LayerResult(rasters=rasters, partials={
        _PARTIAL: ps.window_partial(zone, codes, mean, at_moment, walking),
        _COUNTS: {"clamped": clamped, "roof_cells": int(roof[inner].sum())},
    })


def _walking(landcover: gpd.GeoDataFrame, polygon: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Walking space per cell (``layers.walking.walking_space`` of the polygons)."""
    walking = walking_space(landcover, classes=params["walking_classes"], functions=params["walking_functions"],
                            excluded_source_classes=params["walking_excluded_source_classes"])
    return np.r_[False, walking][polygon]


def finish(parts: list[LayerResult], inputs: LayerInputs, params: Mapping[str, Any]) -> LayerResult:
    """The per-buurt table and the metadata from the statistics of every window.

    Raises:
        LayerError: no window had PET inside the region.
    """
    day = weather_day(inputs, params)
    steps, afternoon, moment = _instants(day, params)
    buurten = None if inputs.zones is None else inputs.zones.reset_index(drop=True)
    codes = [] if buurten is None else buurten["code"].astype(str).tolist()
    stats = ps.merge([p.partials[_PARTIAL] for p in parts], codes)
    region = ps.row_figures(stats, len(codes))
    if region["outdoor_cells"] == 0:
        raise LayerError("pet: no PET inside the region (no DTM data outside roofs)")
    who = person(params)
    lat, lon = region_centre_lat_lon(inputs.context)
    suns = {t.isoformat(): sun_position(t, lat, lon) for t in steps}
    metadata: dict[str, Any] = {
        "reference": KOOPMANS_2020,
        "method": "Tmrt by SOLWEIG, wind by the log profile times the sky view, PET by MEMI (pythermalcomfort)",
        "tmrt_model": {"package": SOLWEIG_PACKAGE, "references": [LINDBERG_2008, LINDBERG_2011],
                       "sky": "isotropic", "shadow_max_distance_m": params["shadow_max_distance_m"]},
        "pet_model": WALTHER_2018,
        "person": who.describe(),
        "wind": {"profile": WIND_PROFILE, "z0_m": params["wind_z0_m"],
                 "person_height_m": params["wind_person_height_m"], "minimum_m_s": params["wind_min_m_s"]},
        "weather": day.describe(),
        "steps": [t.isoformat() for t in steps],
        "afternoon": [t.isoformat() for t in afternoon],
        "moment": moment.isoformat(),
        "sun_positions_deg": {k: [round(s.elevation_deg, 2), round(s.azimuth_deg, 2)] for k, s in suns.items()},
        "sun_at": {"lat": round(lat, 5), "lon": round(lon, 5)},
        "classes": [{"key": c.key, "label": c.label_nl, "lower_c": _finite(c.lower), "upper_c": _finite(c.upper)}
                    for c in PET_CLASSES],
        "classes_reference": MATZARAKIS_1996,
        "pet_tables": {t.isoformat(): table.to_json() for t, table in pet_tables(day, afternoon, who).items()},
        "clamped_cells": sum(int(p.partials.get(_COUNTS, {}).get("clamped", 0)) for p in parts),
        "roof_cells": sum(int(p.partials.get(_COUNTS, {}).get("roof_cells", 0)) for p in parts),
        "windows": len(parts),
        "region": region,
    }
    result = LayerResult(metadata=metadata)
    if buurten is not None:
        result.vectors["neighbourhoods"] = ps.buurt_table(buurten, stats)
    return result


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


WINDOWED = Windowed(
    compute_window=compute_window,
    finish=finish,
    resolution_m=lambda params: float(params["resolution_m"]),
    raster_sources=CANOPY_SOURCES,
)


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """PET of the whole region in one window, plus the per-buurt table (see :func:`compute_window`)."""
    return WINDOWED.compute(inputs, params, ctx)


LAYER = LayerDef(
    id="pet",
    title={"nl": "Gevoelstemperatuur (PET)", "en": "Physiological equivalent temperature (PET)"},
    description={
        "nl": "Gevoelstemperatuur (PET) op 1 m hoogte op een hete zomerdag, gemiddeld over 12 tot 18 uur en om "
        "15 uur, zoals de hittekaart van de Klimaateffectatlas (Koopmans e.a. 2020), met SOLWEIG berekend uit "
        "AHN, BGT en bomen; per buurt het gemiddelde, de p95 en het aandeel looproute per hittestressklasse.",
        "en": "Physiological equivalent temperature (PET) at 1 m on a hot summer day, averaged over 12:00-18:00 "
        "and at 15:00, as the Klimaateffectatlas heat map (Koopmans et al. 2020), computed with SOLWEIG from "
        "AHN, BGT and trees; per buurt the mean, p95 and share of walking space per heat-stress class.",
    },
    kind="raster",
    inputs=("dsm", "dtm", "landcover"),
    optional_inputs=("neighbourhoods", VEGETATION_SOURCE, "buildings", WEATHER_HOURLY_SOURCE),
    params=PARAMS,
    outputs=(
        Output(AFTERNOON, "raster", "mean PET over 12:00-18:00 CEST per cell (degC), float32; NaN on roofs"),
        Output(MOMENT, "raster", "PET at 15:00 CEST per cell (degC), float32; NaN on roofs"),
        Output("neighbourhoods", "vector", "per buurt: outdoor mean PET; on walking space mean, p95, PET at 15:00 "
               "and the share per heat-stress class"),
    ),
    style_id="pet",
    code_version="1",
    compute=compute,
    windowed=WINDOWED,
    references=(KOOPMANS_2020, LINDBERG_2008, LINDBERG_2011, WALTHER_2018, MATZARAKIS_1996),
    reach=(
        *(Reach(s, halo_m, "SOLWEIG's shadows and sky view reach the longest shadow followed")
          for s in CANOPY_SOURCES),
        Reach("buildings", halo_m, "footprints masked out of the AHN canopy"),
        Reach("landcover", halo_m, "roofs and surface materials of the cells SOLWEIG runs on"),
        Reach("neighbourhoods", fixed(0.0), "the default zones, clipped to the extent"),
        Reach(WEATHER_HOURLY_SOURCE, fixed(0.0), "one station-day for the whole region"),
    ),
    minzoom=12,
    maxzoom=16,
)
