"""PET of a site and its buffer: read off the published ``pet`` layer, and recomputed near the edits of a scenario.

Figures per zone (``site``, ``buffer``), over the outdoor cells (not roofs) whose centre lies in the zone:

* ``pet_afternoon_mean``: the mean of ``pet_afternoon`` (degC, 12:00-18:00 on the reference day);
* ``pet_1500_mean``: the mean of ``pet_1500`` (degC);
* ``pet_strong_pct``: the share of those cells with ``pet_afternoon`` at or above the lower bound of
  "sterke hittestress" (35 degC, ``geo.pet.STRONG_HEAT_STRESS_C``).

Without edits they are the published layer's values: SOLWEIG over a whole site and its 300 m
buffer would take minutes, and the published rasters are exactly what it would give.

With edits (the documented local approximation, docs/method-pet.md "Scenarios"): the layer's own
code (``layers.pet``, the one runner) runs on the edited inputs for the **recompute window**, the
site's bounds grown by :data:`EDIT_REACH_M` (how far the shadow of a new 20 m tree or building
reaches on the reference afternoon: 20 m / tan(37 degrees) at 18:00), with SOLWEIG reading
:data:`SCENARIO_HALO_M` around it instead of the layer's 80 m; outside the window the published
values stand. ``tests/test_assess_pet.py`` holds the result against the full computation (the layer
with its own halo over the same cells). The PET tables come from the published version's metadata,
so a cold server does not solve them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from rasterio.warp import Resampling, reproject

from geo.grid import Grid
from geo.io import read_raster_source
from geo.pet import STRONG_HEAT_STRESS_C, PetTable, remember_table
from geo.raster import Raster
from geo.rasterize import polygon_index
from layers import catalog as cat
from layers.assess import BUFFER, SITE, published_params
from layers.base import BuildContext, Extent, RegionContext
from layers.extent import MemoryInputs, run_layer
from layers.pet import AFTERNOON, LAYER, MOMENT, person

PET_LAYER = LAYER.id
#: The figures this module adds to each zone (``layers.assess_thresholds.FIGURES`` lists them too).
PET_FIGURES: tuple[str, ...] = ("pet_afternoon_mean", "pet_1500_mean", "pet_strong_pct")
#: How far (m) beyond the site an edit changes PET: the shadow of a 20 m object at 18:00 on 1 July.
EDIT_REACH_M = 30.0
#: What SOLWEIG reads around the recompute window in a scenario (m), instead of the layer's 80 m.
SCENARIO_HALO_M = 40.0
_DECIMALS = 2
_PERCENT = 100.0


def pet_entry(catalog_dir: Path) -> cat.LayerEntry | None:
    """The published, public ``pet`` layer, or None."""
    entry = cat.read_catalog(catalog_dir).layers.get(PET_LAYER)
    return entry if entry is not None and entry.access == "public" else None


def _on_grid(raster: Raster, grid: Grid) -> np.ndarray:
    """``raster`` on ``grid`` (aligned cells; NaN outside it)."""
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(raster.data[0].astype(np.float32), out, src_transform=raster.transform, src_crs=raster.crs,
              dst_transform=grid.transform, dst_crs=grid.crs, resampling=Resampling.nearest,
              src_nodata=np.nan, dst_nodata=np.nan)
    return out


def published_rasters(catalog_dir: Path, entry: cat.LayerEntry, grid: Grid) -> dict[str, np.ndarray]:
    """``pet_afternoon`` and ``pet_1500`` of the published version on ``grid`` (degC, NaN on roofs)."""
    out = {}
    for name in (AFTERNOON, MOMENT):
        path = Path(catalog_dir) / entry.file(name, "raster").path
        out[name] = _on_grid(read_raster_source(path, grid.crs, band_name=name, bounds=grid.bounds), grid)
    return out


def zone_figures(rasters: Mapping[str, np.ndarray], grid: Grid, zones: Mapping[str, shapely.Geometry],
                 chunk_size: int = 2048) -> dict[str, dict[str, Any]]:
    """:data:`PET_FIGURES` of each zone from the rasters on ``grid``."""
    index = polygon_index(np.array(list(zones.values()), dtype=object), grid, chunk_size)
    out: dict[str, dict[str, Any]] = {}
    for i, zone in enumerate(zones, start=1):
        afternoon = rasters[AFTERNOON][index == i]
        moment = rasters[MOMENT][index == i]
        known = np.isfinite(afternoon)
        if not known.any():
            out[zone] = dict.fromkeys(PET_FIGURES)
            continue
        out[zone] = {
            "pet_afternoon_mean": round(float(afternoon[known].mean()), _DECIMALS),
            "pet_1500_mean": round(float(np.nanmean(moment[known])), _DECIMALS),
            "pet_strong_pct": round(_PERCENT * float((afternoon[known] >= STRONG_HEAT_STRESS_C).mean()), _DECIMALS),
        }
    return out


def zones_grid(zones: Mapping[str, shapely.Geometry], site: shapely.Geometry, resolution_m: float,
               crs: Any) -> Grid:
    """The grid the figures are taken on: the zones and the recompute window, on the layer's lattice."""
    window = recompute_window(site, resolution_m, crs)
    bounds = shapely.union_all([*zones.values(), shapely.box(*window.bounds)]).bounds
    return Grid.from_bounds(tuple(float(v) for v in bounds), resolution_m, crs)  # type: ignore[arg-type]


def recompute_window(site: shapely.Geometry, resolution_m: float, crs: Any) -> Grid:
    """The cells a scenario recomputes: the site's bounds grown by :data:`EDIT_REACH_M` (layer grid)."""
    return Grid.from_bounds(tuple(float(v) for v in site.bounds), resolution_m, crs).grown(EDIT_REACH_M)  # type: ignore[arg-type]


def seed_tables(entry: cat.LayerEntry, params: Mapping[str, Any]) -> int:
    """Put the published version's PET tables in ``geo.pet``'s cache; returns how many."""
    tables = (entry.metadata or {}).get("pet_tables") or {}
    who = person(params)
    for data in tables.values():
        remember_table(PetTable.from_json(data), who)
    return len(tables)


def scenario_rasters(
    edited: Mapping[str, Any],
    providers: Mapping[str, str],
    context: RegionContext,
    site: shapely.Geometry,
    params: Mapping[str, Any],
    published: Mapping[str, np.ndarray],
    grid: Grid,
    ctx: BuildContext,
) -> tuple[dict[str, np.ndarray], Grid]:
    """The published rasters on ``grid`` with the recompute window replaced by the layer's run on ``edited``.

    Returns:
        the spliced rasters, and the recompute window.
    """
    window = recompute_window(site, params["resolution_m"], context.crs)
    local = {**params, "shadow_max_distance_m": SCENARIO_HALO_M}
    result = run_layer(LAYER, local, MemoryInputs(edited, context.crs, providers), Extent(window.bounds), context,
                       zones=None, dependencies={}, ctx=ctx)
    rows, cols = grid.slices_of(window)  # the grid covers the window (zones_grid)
    out = {name: published[name].copy() for name in (AFTERNOON, MOMENT)}
    for name in out:
        out[name][rows, cols] = _on_grid(result.rasters[name], grid)[rows, cols]
    return out, window


def pet_figures(
    catalog_dir: Path,
    site: shapely.Geometry,
    buffer: shapely.Geometry,
    edited: Mapping[str, Any] | None,
    providers: Mapping[str, str],
    context: RegionContext,
    ctx: BuildContext,
    progress: Any = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], str | None]:
    """:data:`PET_FIGURES` of the site and buffer before and after the edits, and the ``pet`` version read.

    Args:
        catalog_dir: the catalog.
        site: the site polygon (region CRS).
        buffer: the ring around it.
        edited: the edited input snapshot of a scenario, or None without edits.
        providers: source -> adapter of the inputs.
        context: the region.
        ctx: chunk size and workers.
        progress: called with ``after:pet`` before the scenario's run.

    Returns:
        zone -> figure -> value before and after (None everywhere without a public ``pet`` layer; ``after``
        equals ``before`` without edits), and the version read (None without the layer).
    """
    zones = {SITE: site, BUFFER: buffer}
    entry = pet_entry(catalog_dir)
    if entry is None:
        empty = {z: dict.fromkeys(PET_FIGURES) for z in zones}
        return empty, empty, None
    params = published_params(entry)
    grid = zones_grid(zones, site, params["resolution_m"], context.crs)
    published = published_rasters(catalog_dir, entry, grid)
    before = zone_figures(published, grid, zones, ctx.chunk_size)
    if edited is None:
        return before, before, entry.version
    if progress is not None:
        progress("after:pet")
    seed_tables(entry, params)
    spliced, _ = scenario_rasters(edited, providers, context, site, params, published, grid, ctx)
    return before, zone_figures(spliced, grid, zones, ctx.chunk_size), entry.version
