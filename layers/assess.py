"""Assess one permit site, with or without what-if edits, by running the layers' own code on it.

The site and its buffer (the ring around it) are the zones of one run of the
layers through the one runner (``layers.extent``): the inputs are read once
for the largest reach of any assessed layer (:func:`snapshot`), optionally
edited (``geo.edits``), and every assessed layer runs on them for the extent
of the site plus its buffer. The figures (:func:`zone_figures`) come from the
layers' outputs for those zones: the shares of ``green-paved``, the heat
island and shade of ``heat-stress``, the 3-30-300 status of the dwellings of
``tree-3-30-300`` and the cool places of ``cool-places``. Without edits the
figures equal the published layers' values over the site (the identity test,
docs/assessment.md); with edits the same run on the edited inputs gives the
``after`` figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.edits import apply_edits
from geo.edits_model import Edit
from geo.fractions import Crowns
from geo.grid import Grid
from geo.raster import Raster
from geo.rasterize import polygon_index
from layers import catalog as cat
from layers.base import BuildContext, Extent, LayerResult, RegionContext
from layers.extent import Bounds, InputProvider, MemoryInputs, read_bounds, run_layer_sets, used_sources, zones_of
from layers.heat_stats import MOMENT, shade_column
from layers.registry import build_order, get_layer

SITE, BUFFER = "site", "buffer"
#: The layers an assessment runs, in dependency order.
ASSESSED_LAYERS: tuple[str, ...] = ("green-paved", "tree-3-30-300", "heat-stress", "cool-places")
#: Figures that are shares of the zone's area from ``green-paved`` (its table's columns).
SHARE_FIGURES = ("building_pct", "paved_pct", "green_pct", "water_pct", "canopy_pct")
#: Decimals of the figures in the answer.
DECIMALS = 2
#: Dwelling figures: answer key -> column of the ``tree-3-30-300`` dwellings table.
DWELLING_FIGURES = {"dwellings_meeting_3": "meets_3", "dwellings_meeting_30": "meets_30",
                    "dwellings_meeting_300": "meets_300"}


@dataclass
class SiteRun:
    """The outputs of the assessed layers for one site (before or after edits) and the inputs they ran on."""

    results: dict[str, LayerResult]
    sources: dict[str, Any]
    zones: gpd.GeoDataFrame
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)


def assessed(layer_ids: Sequence[str] | None = None) -> list[str]:
    """The assessed layers and everything they depend on, in build order."""
    return build_order(list(layer_ids or ASSESSED_LAYERS))


def published_params(entry: cat.LayerEntry) -> dict[str, Any]:
    """The resolved parameters the published version of a layer was built with (those the layer still knows;
    defaults for the rest)."""
    layer = get_layer(entry.id)
    known = {p.name for p in layer.params}
    return layer.resolve_params({k: v for k, v in (entry.parameters or {}).items() if k in known},
                                f"layers.{entry.id}")


def snapshot(provider: InputProvider, layer_ids: Sequence[str], params: Mapping[str, Mapping[str, Any]],
             extent: Extent) -> dict[str, Any]:
    """Every input of the layers, read once over the union of their reaches of ``extent``.

    The layers then run on this snapshot (``layers.extent.MemoryInputs``), which an edit can change in
    one place for all of them.
    """
    wanted: dict[str, Bounds] = {}
    for layer_id in layer_ids:
        layer = get_layer(layer_id)
        for source in used_sources(layer, provider.available()):
            b = read_bounds(layer, source, params[layer_id], extent, provider)
            a = wanted.get(source, b)
            wanted[source] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
    return {source: provider.load(source, bounds) for source, bounds in wanted.items()}


def run_site(
    sources: Mapping[str, Any],
    providers: Mapping[str, str],
    context: RegionContext,
    site: shapely.Geometry,
    buffer: shapely.Geometry,
    params: Mapping[str, Mapping[str, Any]],
    *,
    layer_ids: Sequence[str] | None = None,
    ctx: BuildContext | None = None,
    progress: Callable[[str], None] | None = None,
    threads: int = 1,
) -> SiteRun:
    """Run the assessed layers on ``sources`` for the site and its buffer; figures per zone.

    Args:
        sources: the snapshot (or its edited copy) in the region CRS.
        providers: source -> adapter, as in the build (the layers say what their inputs came from).
        context: the region (its sun reference is the build's).
        site: the site polygon (region CRS).
        buffer: the ring around it.
        params: layer id -> resolved parameters (those of the published layers).
        layer_ids: the layers to run (default :data:`ASSESSED_LAYERS` and their dependencies).
        progress: called with each layer id before it runs.
        threads: layers run side by side in this many threads (``layers.extent.run_layer_sets``).
    """
    step = None if progress is None else (lambda _k, layer_id: progress(layer_id))
    (run,) = run_sites([sources], providers, context, site, buffer, params, layer_ids=layer_ids, ctx=ctx,
                       progress=step, threads=threads)
    return run


def run_sites(
    source_sets: Sequence[Mapping[str, Any]],
    providers: Mapping[str, str],
    context: RegionContext,
    site: shapely.Geometry,
    buffer: shapely.Geometry,
    params: Mapping[str, Mapping[str, Any]],
    *,
    layer_ids: Sequence[str] | None = None,
    ctx: BuildContext | None = None,
    progress: Callable[[int, str], None] | None = None,
    threads: int = 1,
) -> list[SiteRun]:
    """:func:`run_site` for several input sets of one site (before and after edits), side by side.

    A later set's run of a layer follows the earlier set's run of it, so its tiled kernels recompute
    only what the edits reach (``geo.kernel_memo``, when the caller holds a memo).
    """
    zones = zones_of({SITE: site, BUFFER: buffer}, context, {SITE: "Plangebied", BUFFER: "Omgeving"})
    area = shapely.union(site, buffer)
    extent = Extent(_bounds(area), area)
    ids = assessed(layer_ids)
    inputs = [MemoryInputs(sources, context.crs, providers) for sources in source_sets]
    sets = run_layer_sets([get_layer(i) for i in ids], params, inputs, extent, context, zones=zones,
                          ctx=ctx or BuildContext(), progress=progress, threads=threads)
    runs = []
    for sources, results in zip(source_sets, sets, strict=True):
        run = SiteRun(results, dict(sources), zones)
        run.figures = zone_figures(run)
        runs.append(run)
    return runs


def _bounds(geom: shapely.Geometry) -> Bounds:
    minx, miny, maxx, maxy = geom.bounds
    return float(minx), float(miny), float(maxx), float(maxy)


# -- figures ----------------------------------------------------------------------------------------------
def zone_figures(run: SiteRun) -> dict[str, dict[str, Any]]:
    """The assessment's figures per zone (``site``, ``buffer``) from the layers' outputs of ``run``."""
    out: dict[str, dict[str, Any]] = {}
    for i, code in enumerate(run.zones["code"]):
        geom = run.zones.geometry.values[i]
        figures: dict[str, Any] = {"area_m2": round(float(geom.area), 1)}
        figures.update(_shares(run.results.get("green-paved"), code))
        figures.update(_heat(run.results.get("heat-stress"), code, geom))
        figures.update(_trees(run.sources.get("trees"), geom))
        figures.update(_dwellings(run.results.get("tree-3-30-300"), geom))
        figures["nearest_park_m"] = _nearest(run.results.get("tree-3-30-300"), "parks", geom)
        figures["nearest_cool_place_m"] = _nearest(run.results.get("cool-places"), "cool-places", geom)
        out[str(code)] = figures
    return out


def _row(table: gpd.GeoDataFrame | None, code: str) -> Mapping[str, Any] | None:
    if table is None or table.empty:
        return None
    hit = table[table["code"].astype(str) == code]
    return None if hit.empty else hit.iloc[0].to_dict()


def _value(v: Any) -> float | None:
    """A JSON-safe float (None for missing / NaN), rounded to :data:`DECIMALS`."""
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else round(f, DECIMALS)


def _shares(result: LayerResult | None, code: str) -> dict[str, Any]:
    row = _row(result.vectors.get("neighbourhoods") if result else None, code)
    return {k: (_value(row[k]) if row is not None else None) for k in SHARE_FIGURES}


def _heat(result: LayerResult | None, code: str, geom: shapely.Geometry) -> dict[str, Any]:
    """uhi_max mean (per-zone table) and max (raster), and the walking-space shade at the Kluck moment."""
    row = _row(result.vectors.get("neighbourhoods") if result else None, code)
    uhi = result.rasters.get("uhi_max") if result else None
    return {
        "uhi_max_mean": _value(row["uhi_max_mean_k"]) if row is not None else None,
        "uhi_max_max": _raster_max(uhi, geom) if uhi is not None else None,
        "shade_pct": _value(row[shade_column("walk", MOMENT)]) if row is not None else None,
    }


def _raster_max(raster: Raster, geom: shapely.Geometry) -> float | None:
    """Largest value of the cells whose centre lies in ``geom`` (NaN cells ignored)."""
    grid = Grid(raster.crs, raster.transform, raster.width, raster.height)
    inside = polygon_index(np.array([geom], dtype=object), grid) > 0
    values = raster.data[0][inside]
    values = values[np.isfinite(values)]
    return _value(values.max()) if values.size else None


def _trees(trees: gpd.GeoDataFrame | None, geom: shapely.Geometry) -> dict[str, Any]:
    """Register trees standing in the zone, and the area of all register crowns over it (m2, overlaps once)."""
    if trees is None or trees.empty:
        return {"trees_count": 0, "crown_area_m2": 0.0}
    points, diameter = crowns_of(trees)
    crowns = Crowns.from_points(points, diameter)
    return {"trees_count": int(shapely.intersects(geom, points).sum()),
            "crown_area_m2": round(float(crowns.area_in(np.array([geom], dtype=object))[0]), 1)}


def crowns_of(trees: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Tree points (multi-points split) and their register crown diameters (m; 0 where unknown)."""
    points, owner = shapely.get_parts(trees.geometry.values, return_index=True)
    given = trees["crown_diameter_m"] if "crown_diameter_m" in trees.columns else pd.Series(np.nan, trees.index)
    diameter = pd.to_numeric(given, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    diameter = diameter[owner]
    return points, np.where(diameter > 0, diameter, 0.0)


def _dwellings(result: LayerResult | None, geom: shapely.Geometry) -> dict[str, Any]:
    table = result.vectors.get("dwellings") if result else None
    if table is None:
        return {"dwellings": None, **dict.fromkeys(DWELLING_FIGURES)}
    inside = table[shapely.intersects(geom, table.geometry.values)]
    return {"dwellings": len(inside), **{k: int(inside[c].sum()) for k, c in DWELLING_FIGURES.items()}}


def _nearest(result: LayerResult | None, output: str, geom: shapely.Geometry) -> float | None:
    """Straight-line distance (m) from the zone to the nearest feature of ``output``; 0 when they overlap."""
    frame = result.vectors.get(output) if result else None
    if frame is None or frame.empty:
        return None
    return round(float(shapely.distance(geom, frame.geometry.values).min()), 1)


# -- edits ------------------------------------------------------------------------------------------------
def edited_sources(sources: Mapping[str, Any], edits: Sequence[Edit], site: shapely.Geometry) -> tuple[
        dict[str, Any], Any]:
    """The snapshot with ``edits`` applied inside the site (``geo.edits``), and the edit result."""
    result = apply_edits(edits, sources, site)
    return result.sources, result


def delta(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``after - before`` per zone and figure (None where either is missing)."""
    out: dict[str, dict[str, Any]] = {}
    for zone, figures in after.items():
        out[zone] = {}
        for key, value in figures.items():
            was = before.get(zone, {}).get(key)
            out[zone][key] = (round(float(value) - float(was), DECIMALS)
                              if isinstance(value, int | float) and isinstance(was, int | float) else None)
    return out


