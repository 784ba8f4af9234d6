"""Inputs and the 100 m aggregate of ``uhi_max`` for ``layers.heat_stress`` (docs/method-heat-stress.md).

* **Weather** (:func:`weather`): S, DTR and U of the named reference day
  (``geo.uhi.REFERENCE_HOT_DAY``, the parameters ``global_radiation_w_m2``,
  ``dtr_k``, ``wind_m_s``) or, with the parameter ``weather: {station, date}``,
  of that KNMI station-day read from ``sources.knmi`` (``geo.knmi``).
* **F_veg share** (:func:`vegetated_share`): per cell of the output grid,
  1 for vegetated land cover, and, with the AHN canopy
  (``layers.person_view.grid_canopy``), 1 under a tree crown over any land
  cover; NaN where there is no land cover.
* **uhi_max on 100 m** (:func:`block_partial`, :func:`block_raster`): the mean
  of the street cells' ``uhi_max`` per 100 m cell of a grid aligned to whole
  100 m RD coordinates, the footprint Theeuwes et al. (2017) fitted the
  equation on (neighbourhood-scale station surroundings). Windows leave sums
  and counts per 100 m cell; ``finish`` adds them up, so a 100 m cell cut by
  window edges comes out as in one window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ConfigError, LayerError
from geo.grid import Grid
from geo.heat import dsm_on_grid
from geo.knmi import WEATHER_SOURCE, station_day
from geo.raster import Raster
from geo.uhi import CP_AIR_J_KG_K, REFERENCE_HOT_DAY, RHO_AIR_KG_M3, kinematic_radiation
from layers.base import LayerInputs
from layers.person_view import grid_canopy
from layers.sun import config_date

#: Edge (m) of the cells ``uhi_max`` is averaged on: the neighbourhood scale of the stations the equation was
#: fitted on (Theeuwes et al. 2017); the grid is aligned to whole multiples of it in the region CRS.
UHI_BLOCK_M = 100.0
#: Name of the 100 m raster.
UHI_BLOCK_RASTER = "uhi_max_100m"
_WEATHER_KEYS = ("station", "date")
_WHERE = "layers.heat-stress.weather"


# -- weather ---------------------------------------------------------------------------------------------------
def _weather_request(params: Mapping[str, Any]) -> tuple[int, date] | None:
    """The ``weather`` parameter checked: (station, date), or None for the reference day.

    Raises:
        ConfigError: naming ``layers.heat-stress.weather`` for unknown keys, a missing
            station or date, or a date that is not YYYY-MM-DD.
    """
    given = params["weather"]
    if not given:
        return None
    unknown = sorted(set(given) - set(_WEATHER_KEYS))
    if unknown:
        raise ConfigError(f"{_WHERE}.{unknown[0]}: unknown key; known: station, date")
    missing = [k for k in _WEATHER_KEYS if k not in given]
    if missing:
        raise ConfigError(f"{_WHERE}.{missing[0]}: required key is missing (a KNMI station-day needs station "
                          "and date)")
    station = given["station"]
    if isinstance(station, bool) or not isinstance(station, int | str) or not str(station).strip().isdigit():
        raise ConfigError(f"{_WHERE}.station: expected a KNMI station number (e.g. 283), got {station!r}")
    day = given["date"]
    if not isinstance(day, date):
        day = config_date(str(day), f"{_WHERE}.date")
    return int(str(station)), day


def weather(inputs: LayerInputs, params: Mapping[str, Any]) -> tuple[float, float, float, dict[str, Any]]:
    """S, DTR and U of the build and where they come from.

    Returns:
        global radiation (W m-2, 24 h mean), DTR (K), U (m s-1) and the metadata entry ``weather``.

    Raises:
        ConfigError: a bad ``weather`` parameter, or one without ``sources.knmi``.
        SourceError: the station or date is not in the KNMI file, or a value is missing there.
    """
    request = _weather_request(params)
    if request is None:
        g, dtr, u = params["global_radiation_w_m2"], params["dtr_k"], params["wind_m_s"]
        reference = (g, dtr, u) == (REFERENCE_HOT_DAY.global_radiation_w_m2, REFERENCE_HOT_DAY.dtr_k,
                                    REFERENCE_HOT_DAY.wind_m_s)
        described: dict[str, Any] = {
            "source": REFERENCE_HOT_DAY.name if reference else "parameters global_radiation_w_m2, dtr_k, wind_m_s",
            "global_radiation_w_m2": g, "dtr_k": dtr, "wind_m_s": u,
        }
        if reference:
            described["basis"] = REFERENCE_HOT_DAY.source
        return float(g), float(dtr), float(u), described
    if WEATHER_SOURCE not in inputs.sources:
        raise ConfigError(f"{_WHERE}: a KNMI station-day needs the daily data as a source: sources.knmi: "
                          "{path: etmgeg_<STN>.txt}")
    table: pd.DataFrame = inputs.sources[WEATHER_SOURCE]
    day = station_day(table, *request)
    return day.global_radiation_w_m2, day.dtr_k, day.wind_m_s, day.describe()


def weather_scale(global_radiation_w_m2: float, dtr_k: float, wind_m_s: float) -> tuple[float, float]:
    """S (K m s-1) and the weather term (S * DTR^3 / U)^(1/4) (K) of Theeuwes et al. (2017)."""
    s_kinematic = kinematic_radiation(global_radiation_w_m2, RHO_AIR_KG_M3, CP_AIR_J_KG_K)
    return s_kinematic, float((s_kinematic * dtr_k**3 / wind_m_s) ** 0.25)


# -- F_veg ------------------------------------------------------------------------------------------------------
def vegetated_share(polygon: np.ndarray, vegetated_polygon: np.ndarray, canopy: np.ndarray | None) -> np.ndarray:
    """Vegetated share per cell for ``geo.heat.focal_fraction``: 1 or 0, NaN where there is no land cover.

    Args:
        polygon: 1 + the land-cover row of each cell, 0 where none.
        vegetated_polygon: bool per land-cover row, the class is a vegetation class.
        canopy: AHN crown cells on the same grid (1, 0, NaN unknown), or None.

    Cells under a crown count as vegetated whatever their land cover; where the
    canopy is unknown the land cover decides. Cells without land cover stay
    unmapped even where AHN has data: AHN sees crowns but not grass, so counting
    the AHN alone beyond the land cover would make fields grey.
    """
    veg = np.r_[False, vegetated_polygon][polygon].astype(np.float64)
    if canopy is not None:
        veg = np.fmax(veg, canopy)
    return np.where(polygon == 0, np.nan, veg)


def window_canopy(
    inputs: LayerInputs, grid: Grid, landcover: gpd.GeoDataFrame, params: Mapping[str, Any]
) -> np.ndarray:
    """AHN tree crowns on ``grid`` (1, 0, NaN unknown): ``layers.person_view.grid_canopy`` of the DSM and DTM.

    Both are put on ``grid`` by their highest value (``geo.heat.dsm_on_grid``), as for the kernels.

    Raises:
        LayerError: the DTM is in another CRS than the region.
    """
    dtm_source = inputs.raster("dtm")
    if not dtm_source.crs.equals(inputs.crs, ignore_axis_order=True):
        raise LayerError(f"heat-stress: the dtm is in {dtm_source.crs.to_string()}, the region in "
                         f"{inputs.crs.to_string()}; give both in the region CRS")
    dsm, dtm = dsm_on_grid(inputs.raster("dsm"), grid), dsm_on_grid(dtm_source, grid)
    return grid_canopy(inputs, dsm, dtm, grid, landcover, params)


def f_veg_metadata(counts: Sequence[Mapping[str, int]], params: Mapping[str, Any], person: bool) -> dict[str, Any]:
    """The metadata entry ``f_veg``: what counts as vegetation, and the canopy area the windows saw.

    Args:
        counts: per window ``cells`` (crown cells of the window) and ``added`` (of them, over
            land cover of a class that is not vegetation).
        params: the layer's parameters.
        person: whether the windows had a DTM.
    """
    cells = sum(int(c.get("cells", 0)) for c in counts)
    added = sum(int(c.get("added", 0)) for c in counts)
    entry: dict[str, Any] = {"radius_m": params["veg_radius_m"], "classes": list(params["vegetation_classes"])}
    if params["f_veg_canopy"] and person:
        cell_m2 = params["resolution_m"] ** 2
        entry.update({
            "canopy": f"AHN tree canopy (DSM - DTM >= {params['canopy_min_height_m']:g} m, not building or water, "
                      "on the output grid) counts as vegetation over any land cover, read over the whole "
                      f"{params['veg_radius_m']:g} m radius; cells without land cover stay unmapped",
            "canopy_m2": round(cells * cell_m2, 1),
            "canopy_over_other_land_cover_m2": round(added * cell_m2, 1),
        })
    else:
        entry["canopy"] = ("none: land-cover classes only" + ("" if params["f_veg_canopy"] else
                                                               " (f_veg_canopy is off)") +
                           ("" if person else " (no dtm)"))
    return entry



# -- uhi_max on 100 m -------------------------------------------------------------------------------------------
def _block_index(grid: Grid, block_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column and per row of ``grid``: the index of the block (``floor(coordinate / block_m)``) of its centre."""
    res = grid.resolution
    x = grid.transform.c + (np.arange(grid.width) + 0.5) * res
    y = grid.transform.f - (np.arange(grid.height) + 0.5) * res
    return np.floor(x / block_m).astype(np.int64), np.floor(y / block_m).astype(np.int64)


def block_partial(values: np.ndarray, street: np.ndarray, grid: Grid, block_m: float = UHI_BLOCK_M) -> dict[str, Any]:
    """Sums and counts of ``values`` over the ``street`` cells per ``block_m`` cell, for :func:`block_raster`.

    Args:
        values: ``uhi_max`` (K) on ``grid``.
        street: cells that count (not a roof, a value).
        grid: the window grid.
        block_m: the block edge (m).

    Returns:
        ``{"col0", "row0"}``: block indices (``floor(x / block_m)``, ``floor(y / block_m)``) of the
        south-west block, and ``sums`` and ``counts`` arrays (rows from south to north).
    """
    bx, by = _block_index(grid, block_m)
    col0, row0 = int(bx.min()), int(by.min())
    shape = (int(by.max()) - row0 + 1, int(bx.max()) - col0 + 1)
    flat = ((by - row0)[:, None] * shape[1] + (bx - col0)[None, :])
    take = street & np.isfinite(values)
    sums = np.bincount(flat[take], weights=values[take].astype(np.float64), minlength=shape[0] * shape[1])
    counts = np.bincount(flat[take], minlength=shape[0] * shape[1])
    return {"col0": col0, "row0": row0, "sums": sums.reshape(shape), "counts": counts.reshape(shape)}


def block_raster(parts: Sequence[Mapping[str, Any]], grid: Grid, block_m: float = UHI_BLOCK_M) -> Raster:
    """The mean of the street cells per block over every window's :func:`block_partial`.

    Args:
        parts: the windows' partials.
        grid: the layer's output grid (the region at its resolution); the block grid covers it.
        block_m: the block edge (m).

    Returns:
        float32 ``Raster`` ``uhi_max_100m`` (K) on a grid of ``block_m`` cells whose edges are whole
        multiples of ``block_m``; NaN where no street cell lies in the block.
    """
    blocks = Grid.from_bounds(grid.bounds, block_m, grid.crs)
    col0 = round(blocks.transform.c / block_m)
    top = round(blocks.transform.f / block_m)  # block index of the row above the first
    sums = np.zeros(blocks.shape)
    counts = np.zeros(blocks.shape, dtype=np.int64)
    for part in parts:
        s, n = part["sums"], part["counts"]
        for r in range(s.shape[0]):
            row = top - 1 - (part["row0"] + r)
            if not 0 <= row < blocks.height:
                continue
            c0 = part["col0"] - col0
            lo, hi = max(0, c0), min(blocks.width, c0 + s.shape[1])
            if lo < hi:
                sums[row, lo:hi] += s[r, lo - c0:hi - c0]
                counts[row, lo:hi] += n[r, lo - c0:hi - c0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)
    return Raster(mean[None], blocks.crs, blocks.transform, nodata=float("nan"), band_names=(UHI_BLOCK_RASTER,),
                  units=("K",))


def block_summary(raster: Raster) -> dict[str, Any]:
    """Metadata of the 100 m raster: blocks with a value, their mean and 95th percentile (K)."""
    values = raster.data[0][np.isfinite(raster.data[0])]
    if not values.size:
        return {"blocks": 0}
    return {"blocks": int(values.size), "mean_k": round(float(values.mean()), 3),
            "p95_k": round(float(np.percentile(values, 95)), 3), "block_m": UHI_BLOCK_M}

