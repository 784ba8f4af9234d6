"""Mean radiant temperature (Tmrt, degC) of a standing person per cell and hour, by SOLWEIG.

The radiation model is SOLWEIG (Lindberg et al. 2008; Lindberg & Grimmond
2011), run through the ``solweig`` package (UMEP-dev, Rust + Python), its public
``SurfaceData`` / ``Weather`` / ``calculate`` API. ``solweig`` was chosen over
``umep-solweig`` (docs/method-pet.md): it installs as a wheel with the
dependencies we already have (numpy, rasterio, pyproj, shapely), computes SVF and
the radiation budget in compiled code, and takes per-timestep sun positions;
``umep-solweig`` needs the GDAL Python bindings, netCDF4 and pandas as a pinned
pair, and runs the numpy port of the model.

What SOLWEIG is given (all on one grid, region CRS, metres):

* ``dsm``: the ground (DTM) with the buildings standing on it: the AHN surface
  over building footprints, the terrain elsewhere. Trees are not in it.
* ``cdsm``: the height of the tree canopy above the terrain (DSM - DTM over
  crown cells, 0 elsewhere); the trunk zone is :data:`TRUNK_RATIO` of it.
* ``dem``: the DTM.
* ``land_cover``: UMEP land-cover codes per cell (:data:`UMEP_CLASS`), which set
  albedo, emissivity and the ground-temperature parameters of every cell (the
  table in docs/method-pet.md, from SOLWEIG's ``default_materials.json``).
* the weather of each hour (air temperature, humidity, global radiation, 10 m
  wind) and the sun's elevation and azimuth at it, from ``geo.solar`` (the sun
  positions the shade layers use), so every layer sees the same sun.

The sky is isotropic (``use_anisotropic_sky=False``): the anisotropic model
needs shadow matrices of 153 sky patches per cell, several times the memory and
time. GPU use is switched off (``solweig.disable_gpu``): on this project's
machines the GPU path is a software renderer, four times slower than the CPU.
"""

from __future__ import annotations

import functools
import itertools
import logging
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.errors

from geo.errors import LayerError
from geo.solar import SunPosition
from geo.weather_day import WeatherHour

LINDBERG_2008 = (
    "Lindberg, F., Holmer, B., Thorsson, S. (2008): SOLWEIG 1.0 - modelling spatial variations of 3D radiant "
    "fluxes and mean radiant temperature in complex urban settings. Int. J. Biometeorol. 52:697-713"
)
LINDBERG_2011 = (
    "Lindberg, F., Grimmond, C.S.B. (2011): The influence of vegetation and building morphology on shadow "
    "patterns and mean radiant temperatures in urban areas. Theor. Appl. Climatol. 105:311-323"
)
SOLWEIG_PACKAGE = "solweig (UMEP-dev, https://github.com/UMEP-dev/solweig), public SurfaceData/calculate API"

#: UMEP land-cover code of each canonical land-cover class (geo.canonical.LANDCOVER_CLASSES).
#: 0 paving stones, 1 asphalt, 2 roofs, 5 grass, 6 bare soil, 7 water (SOLWEIG default_materials.json).
UMEP_CLASS: dict[str, int] = {
    "building": 2,
    "road_paved": 1,
    "road_unpaved": 6,
    "paved_other": 0,
    "green_low": 5,
    "green_shrub": 5,
    "green_trees": 5,
    "agriculture": 5,
    "bare": 6,
    "water": 7,
}
#: UMEP code where no land cover is known (grass: the commonest open ground of the region).
UMEP_UNKNOWN = 5
#: Crown base as a share of the canopy height (SOLWEIG's default trunk ratio).
TRUNK_RATIO = 0.25
#: Per-step outputs SOLWEIG can return besides Tmrt: the share of direct sun reaching the cell (``shadow``,
#: 0 shade - 1 sun) and the radiation fluxes of a horizontal surface (W/m2, down and up).
EXTRA_OUTPUTS: tuple[str, ...] = ("shadow", "kdown", "kup", "ldown", "lup")
#: Share of shortwave passing a crown in leaf (SOLWEIG's default).
CROWN_TRANSMISSIVITY = 0.03


@dataclass(frozen=True)
class TmrtSurface:
    """The rasters SOLWEIG reads, on one grid (see the module docstring).

    Attributes:
        dsm_m: terrain with buildings (m NAP).
        dtm_m: terrain (m NAP).
        canopy_m: canopy height above the terrain (m), 0 without a crown.
        land_cover: UMEP land-cover codes (uint8).
        pixel_size_m: cell size (m).
    """

    dsm_m: np.ndarray
    dtm_m: np.ndarray
    canopy_m: np.ndarray
    land_cover: np.ndarray
    pixel_size_m: float

    def check(self) -> None:
        """Raise LayerError when the grids differ in shape or the surface has no finite cell."""
        shapes = {a.shape for a in (self.dsm_m, self.dtm_m, self.canopy_m, self.land_cover)}
        if len(shapes) != 1:
            raise LayerError(f"pet: the SOLWEIG rasters differ in shape ({sorted(shapes)})")
        if not np.isfinite(self.dsm_m).any():
            raise LayerError("pet: the DSM has no data in the window")


@dataclass(frozen=True)
class TmrtHours:
    """Tmrt per requested instant and the sky view of the cells.

    Attributes:
        tmrt: instant -> Tmrt (degC, float32), for each instant asked for.
        sky_view: sky view factor of buildings and crowns together (0-1, float32), crowns
            letting :data:`CROWN_TRANSMISSIVITY` through (UMEP's ``svfbuveg``).
        extra: output name -> instant -> values (float32), for the :data:`EXTRA_OUTPUTS` asked for.
    """

    tmrt: dict[datetime, np.ndarray]
    sky_view: np.ndarray
    extra: dict[str, dict[datetime, np.ndarray]]


def umep_land_cover(classes: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """UMEP codes from an index raster: 0 = unknown, k = ``names[k - 1]``."""
    table = np.array([UMEP_UNKNOWN, *(UMEP_CLASS.get(n, UMEP_UNKNOWN) for n in names)], dtype=np.uint8)
    return table[np.asarray(classes, dtype=np.int64)]


@functools.cache
def _cpu_only() -> None:
    """Quiet SOLWEIG's logging and switch its GPU paths off, once per process (see the module docstring)."""
    import solweig

    logging.getLogger("solweig").setLevel(logging.ERROR)
    solweig.disable_gpu()


def _weather(hour: WeatherHour, sun: SunPosition, step_minutes: float) -> Any:
    import solweig

    return solweig.Weather(
        datetime=hour.when.replace(tzinfo=None), ta=float(hour.ta_c), rh=float(hour.rh_pct),
        global_rad=float(hour.global_w_m2), ws=max(float(hour.wind_m_s), 0.1), timestep_minutes=step_minutes,
        precomputed_sun_altitude=float(sun.elevation_deg), precomputed_sun_azimuth=float(sun.azimuth_deg),
    )


def tmrt_hours(
    surface: TmrtSurface,
    steps: Sequence[tuple[WeatherHour, SunPosition]],
    keep: Sequence[datetime],
    latitude_deg: float,
    longitude_deg: float,
    max_shadow_m: float,
    extra: Sequence[str] = (),
) -> TmrtHours:
    """Run SOLWEIG over ``steps`` (in time order) and return Tmrt at the instants in ``keep``.

    Steps before the first kept instant spin up the ground and wall temperatures
    SOLWEIG carries from step to step.

    Args:
        surface: the rasters (:class:`TmrtSurface`).
        steps: (weather, sun) per time step, evenly spaced, timezone-aware instants.
        keep: the instants to return (each one of the steps').
        latitude_deg: latitude of the region's sun reference (WGS84).
        longitude_deg: longitude of it (WGS84).
        max_shadow_m: the longest shadow followed (m).
        extra: outputs to return besides Tmrt (:data:`EXTRA_OUTPUTS`); SOLWEIG writes only those asked for.

    Raises:
        LayerError: fewer than one step, unevenly spaced steps, or a kept instant not among the steps.
    """
    import solweig

    surface.check()
    if not steps:
        raise LayerError("pet: no time steps to run SOLWEIG for")
    times = [hour.when for hour, _ in steps]
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    if len(gaps) > 1 or any(g <= 0 for g in gaps):
        raise LayerError(f"pet: the SOLWEIG steps must be evenly spaced and in time order (gaps {sorted(gaps)} s)")
    unknown = [f for f in extra if f not in EXTRA_OUTPUTS]
    if unknown:
        raise LayerError(f"pet: unknown SOLWEIG output(s) {', '.join(unknown)}; known: {', '.join(EXTRA_OUTPUTS)}")
    missing = [t.isoformat() for t in keep if t not in times]
    if missing:
        raise LayerError(f"pet: instants {', '.join(missing)} are not among the SOLWEIG steps")
    step_minutes = (next(iter(gaps)) / 60.0) if gaps else 60.0
    offset = steps[0][0].when.utcoffset()
    utc_offset_h = 0.0 if offset is None else offset.total_seconds() / 3600.0

    _cpu_only()
    dsm = np.where(np.isfinite(surface.dsm_m), surface.dsm_m, surface.dtm_m).astype(np.float32)
    dem = np.where(np.isfinite(surface.dtm_m), surface.dtm_m, dsm).astype(np.float32)
    data = solweig.SurfaceData(
        dsm=dsm, dem=dem, cdsm=np.nan_to_num(surface.canopy_m, nan=0.0).astype(np.float32),
        land_cover=surface.land_cover.astype(np.uint8), pixel_size=float(surface.pixel_size_m),
        trunk_ratio=TRUNK_RATIO, cdsm_relative=True, smooth_quantized_dem=False,
    )
    data.preprocess()
    data.compute_svf()
    location = solweig.Location(latitude=latitude_deg, longitude=longitude_deg, utc_offset=utc_offset_h)
    weather = [_weather(hour, sun, step_minutes) for hour, sun in steps]
    with tempfile.TemporaryDirectory(prefix="kaartlaag-solweig-") as tmp, warnings.catch_warnings():
        # The rasters travel without a georeference here: the grid is the caller's.
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        solweig.calculate(
            data, weather, location, output_dir=tmp, outputs=["tmrt", *extra], use_anisotropic_sky=False,
            max_shadow_distance_m=float(max_shadow_m), progress_callback=lambda _done, _total: None,
        )
        tmrt = {t: _read_step(Path(tmp), "tmrt", t) for t in keep}
        more = {name: {t: _read_step(Path(tmp), name, t) for t in keep} for name in extra}
    svf = data.svf
    if svf is None:  # pragma: no cover - compute_svf always sets it
        raise LayerError("pet: SOLWEIG computed no sky view factor")
    sky = (np.asarray(svf.svf) - (1.0 - np.asarray(svf.svf_veg)) * (1.0 - CROWN_TRANSMISSIVITY)).astype(np.float32)
    return TmrtHours(tmrt=tmrt, sky_view=np.clip(sky, 0.0, 1.0), extra=more)


def _tile_kernel(
    dsm: np.ndarray, dtm: np.ndarray, canopy: np.ndarray, land_cover: np.ndarray, *,
    pixel_size_m: float, steps: Sequence[tuple[WeatherHour, SunPosition]], keep: Sequence[datetime],
    latitude_deg: float, longitude_deg: float, max_shadow_m: float,
) -> list[np.ndarray]:
    """One tile of :func:`tmrt_tiled`: Tmrt at every kept instant, then the sky view."""
    tile = TmrtSurface(dsm, dtm, canopy, land_cover.astype(np.uint8), pixel_size_m)
    if not np.isfinite(tile.dtm_m).any():
        return [np.full(dsm.shape, np.nan, dtype=np.float32) for _ in range(len(keep) + 1)]
    run = tmrt_hours(tile, steps, keep, latitude_deg, longitude_deg, max_shadow_m)
    return [*(run.tmrt[t] for t in keep), run.sky_view]


def tmrt_tiled(
    surface: TmrtSurface,
    steps: Sequence[tuple[WeatherHour, SunPosition]],
    keep: Sequence[datetime],
    latitude_deg: float,
    longitude_deg: float,
    max_shadow_m: float,
    chunk_size: int,
) -> tuple[dict[datetime, np.ndarray], np.ndarray]:
    """:func:`tmrt_hours` in tiles of ``chunk_size`` cells read with a halo of ``max_shadow_m``, under the
    active Dask scheduler (``geo.chunked.run_tiled``): the local threads of a build, or a cluster's workers.

    A surface of at most one tile runs in one call. SOLWEIG sees no further than the halo, so the tiles give
    the pixels of one run (to within SOLWEIG's own edge effects; tests/test_pet_layer.py holds two windows
    to 0.05 degC).

    Returns:
        instant -> Tmrt (degC, float32) for each kept instant, and the sky view factor (0-1, float32).
    """
    from geo.chunked import halo_cells, run_tiled

    kernel = functools.partial(_tile_kernel, pixel_size_m=surface.pixel_size_m, steps=tuple(steps),
                               keep=tuple(keep), latitude_deg=latitude_deg, longitude_deg=longitude_deg,
                               max_shadow_m=max_shadow_m)
    outputs = run_tiled(kernel, [surface.dsm_m, surface.dtm_m, surface.canopy_m, surface.land_cover],
                        halo=halo_cells(max_shadow_m, surface.pixel_size_m), chunk_size=chunk_size)
    return dict(zip(keep, outputs[:-1], strict=True)), outputs[-1]


def _read_step(directory: Path, name: str, when: datetime) -> np.ndarray:
    """The per-step GeoTIFF ``<name>/<name>_YYYYMMDD_HHMM.tif`` SOLWEIG wrote for ``when`` (local time)."""
    path = directory / name / f"{name}_{when.strftime('%Y%m%d_%H%M')}.tif"
    if not path.exists():
        raise LayerError(f"pet: SOLWEIG wrote no {name} for {when.isoformat()} ({path.name})")
    with rasterio.open(path) as src:
        return np.asarray(src.read(1), dtype=np.float32)
