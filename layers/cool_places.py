"""Layer ``cool-places``: shaded public places (Kluck et al. 2020) and the walk to them from every dwelling.

Method (docs/method-cool-places.md gives the choices and limitations):

* The sun position at ``shade_hour`` (Dutch civil time, 15:00) on ``shade_date``
  (1 July) at the centre of the region (``geo.solar``).
* A cell (``resolution_m``, 1 m) is shaded when a person standing on it is in
  shade at that moment: with a DTM the view of a person 1.5 m above the terrain
  (``layers.person_view``: cast shadows of buildings, crown shade of trees, the
  ground under a crown); without one, a cast shadow of the DSM surface
  (``geo.shadow``), as the metadata says.
* Eligible ground: land cover of the ``place_classes`` (public green and paved
  space: parks, squares, plantsoenen) or road parts whose BGT function is one
  of ``place_road_functions`` (voetgangersgebied), public (``public_unknown``:
  by default the BGT proxy of ``geo.parks``, not erf, not farmland), not an
  erf or another ``excluded_source_classes`` entry and not a carriageway
  (``excluded_source_pattern`` on ``source_class`` and ``function``).
* Shaded eligible cells are grouped into contiguous patches (``connectivity``,
  4 by default); patches of at least ``min_area_m2`` (200 m2) are the cool
  places (``geo.cool``).
* Every dwelling (BAG address with woonfunctie in use, as in ``tree-3-30-300``)
  walks straight to the nearest street, then along the street network to the
  nearest network point within ``access_m`` of a cool place (``geo.network``);
  ``meets_cool_300`` when that walk is at most ``max_distance_m`` (300 m).
  Without a street network: the straight-line distance (said so in the metadata).
* Per CBS buurt: dwellings, dwellings within the distance and their share.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.cool import CONNECTIVITIES, SHADED_SHARE, MergedPatches, merge_patches, shade_at, window_patches
from geo.errors import ConfigError, LayerError
from geo.fractions import public_flags
from geo.grid import Grid
from geo.heat import dsm_on_grid
from geo.parks import PARK_CLASSES, PUBLIC_PROXY, PUBLIC_UNKNOWN_CHOICES, PUBLIC_UNKNOWN_SOURCE, public_mask
from geo.rasterize import polygon_index
from geo.solar import SunPosition
from layers.base import (
    BuildContext,
    LayerDef,
    LayerInputs,
    LayerResult,
    Output,
    Param,
    Reach,
    Windowed,
    fixed,
    param_reach,
)
from layers.dwellings import dwellings, zone_index
from layers.green_inputs import Laps, log_metadata, percent, zone_table
from layers.landcover import clip_to_region
from layers.person_view import PARAMS as PERSON_VIEW_PARAMS
from layers.person_view import person_view, view_metadata
from layers.sun import SHADE_DATE, SHADE_HOUR, config_date, sun_at_moment
from layers.tree_rule_params import PARAMS as TREE_RULE_PARAMS
from layers.walking import nearest_by_walking

KLUCK = (
    "Kluck, J. et al. (2020): De hittebestendige "
    "stad. Een koele kijk op de inrichting van de buitenruimte. Hogeschool van Amsterdam / Klimaatverbond "
    "(a cool place within 300 m of every home: at least 200 m2 of shade on a hot afternoon; the guideline names "
    "no clock time, 15:00 CEST is kaartlaag's reading, see layers.sun)"
)
RATTI = "Ratti, C., Richens, P. (2004): Raster analysis of urban form. Environment and Planning B 31:297-309"
LAYER_ID = "cool-places"
#: Columns of the per-dwelling output, in order.
DWELLING_COLUMNS = ["dwelling_id", "buurt_code", "cool_place_id", "cool_distance_m", "meets_cool_300"]
#: Share (%) of a patch on green classes / inside a park above which its kind is green / park.
MAJORITY_PCT = 50.0
#: Land-cover classes counted as green in a patch (the park classes).
GREEN_CLASSES: tuple[str, ...] = PARK_CLASSES
#: Decimals of distances (m) and shares (%).
DECIMALS = 1


def compute_window(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Shaded walkable patches of exactly ``inputs.extent.bounds``, as pieces to merge (see :func:`finish`).

    Args:
        inputs: ``dsm`` (and optionally ``dtm``), read up to ``shadow_max_distance_m`` beyond the
            window where available; ``landcover`` whole (selected here by bounding box).
        params: see ``LAYER.params``.
        ctx: chunk size for the shadow and rasterising steps (run through Dask).
    """
    pattern = _pattern(params["excluded_source_pattern"])
    sun, _, _ = _sun(inputs, params)
    core = Grid.from_bounds(inputs.extent.bounds, params["resolution_m"], inputs.crs)
    dsm_source = inputs.raster("dsm")
    if not dsm_source.crs.equals(inputs.crs, ignore_axis_order=True):
        raise LayerError(
            f"cool-places: the dsm is in {dsm_source.crs.to_string()}, the region in {inputs.crs.to_string()}; "
            "give the DSM in the region CRS (the ahn adapter reprojects)"
        )
    kgrid = core.grown(params["shadow_max_distance_m"])
    inner = kgrid.slices_of(core)
    dsm = dsm_on_grid(dsm_source, kgrid)
    landcover = inputs.vector("landcover")
    person = person_view(
        inputs, dsm, kgrid, landcover.iloc[np.sort(landcover.sindex.query(shapely.box(*kgrid.bounds)))],
        [[sun]], params, layer_id="cool-places", with_svf=False, max_svf_distance_m=0.0,
        max_shadow_m=params["shadow_max_distance_m"], chunk_size=ctx.chunk_size,
    )
    person_used = person is not None
    dtm_resampled = person is not None and person.dtm_resampled
    if person is not None:
        # A person on the ground: in cast shadow, or under a crown (which lets a few % of the light through).
        with np.errstate(invalid="ignore"):
            shaded = np.asarray(person.view.shades[0] >= SHADED_SHARE)[inner]
    else:
        shaded = shade_at(dsm, sun, max_distance_m=params["shadow_max_distance_m"], chunk_size=ctx.chunk_size)[inner]
    valid = np.isfinite(dsm.data[0][inner])
    del dsm, person

    rows = np.sort(landcover.sindex.query(shapely.box(*core.bounds)))
    near = landcover.iloc[rows]
    eligible = _eligible(near, params, pattern, Counter())
    index = polygon_index(near.geometry.values, core, ctx.chunk_size)
    walkable = np.r_[False, eligible][index]
    # Places inside the extent's area only (a municipality: its boundary).
    walkable &= polygon_index(np.array([inputs.extent.polygon()], dtype=object), core, ctx.chunk_size) > 0
    # Land-cover rows of the whole frame, so pieces of all windows name the same polygons.
    global_index = np.r_[0, rows + 1][index]
    pieces = window_patches(walkable & shaded, global_index, core.transform, params["min_area_m2"],
                            params["connectivity"])
    cell_m2 = core.resolution**2
    stats = {
        "dsm_cells": int(valid.sum()),
        "dsm_nodata_cells": int((~valid).sum()),
        "eligible_m2": float(walkable.sum()) * cell_m2,
        "eligible_shaded_m2": float((walkable & shaded).sum()) * cell_m2,
        "person_view": int(person_used),
        "dtm_resampled": int(person_used and dtm_resampled),
    }
    return LayerResult(partials={"pieces": pieces, "stats": stats})


def finish(parts: list[LayerResult], inputs: LayerInputs, params: Mapping[str, Any]) -> LayerResult:
    """Join the windows' patches into cool places, then walk every dwelling to the nearest one.

    Returns:
        vectors ``cool-places`` (polygons), ``dwellings`` (points, ``DWELLING_COLUMNS``) and
        ``neighbourhoods`` (per buurt: dwellings, dwellings within the distance, share in %).

    Raises:
        LayerError: the DSM has no data inside the region.
    """
    counts: Counter[str] = Counter()
    notes: list[str] = []
    lap = Laps()
    sun, lat, lon = _sun(inputs, params)
    area = inputs.extent.polygon()
    for part in parts:
        counts.update(part.partials["stats"])
    if counts["dsm_cells"] == 0:
        raise LayerError("cool-places: the dsm has no data inside the region")
    del counts["dsm_cells"]
    person_used = counts.pop("person_view", 0) > 0
    dtm_resampled = counts.pop("dtm_resampled", 0) > 0
    for key in ("eligible_m2", "eligible_shaded_m2"):
        counts[key] = round(counts[key])
    view = view_metadata(person_used, params, dtm_resampled=dtm_resampled)
    notes += view["notes"]
    landcover = inputs.vector("landcover")
    _eligible(clip_to_region(landcover, area), params, _pattern(params["excluded_source_pattern"]), counts)
    cell_m2 = params["resolution_m"] ** 2
    patches = merge_patches([p.partials["pieces"] for p in parts], cell_m2, params["min_area_m2"],
                            params["connectivity"])
    counts["cool_places"] = len(patches.geoms)
    counts["shaded_patches_too_small"] = patches.too_small
    places = _place_table(patches, landcover, inputs, inputs.crs)
    lap("cool_places")

    dw = dwellings(inputs.vector("addresses"), params, area, counts)
    buurten = zone_table(inputs, counts, LAYER_ID)
    xy = shapely.get_coordinates(dw.geometry.values)
    buurt_of = zone_index(xy, buurten, counts)
    # Dwellings sharing an address point (flats) walk the same way: compute each point once.
    spots, spot_of = np.unique(xy.reshape(-1, 2), axis=0, return_inverse=True)
    spot_of = spot_of.ravel()
    dist, nearest, method = _distance(inputs, params, spots, places.geometry.values, counts, notes)
    dist, nearest = dist[spot_of], nearest[spot_of]
    counts["dwellings_unreachable"] = int(np.isnan(dist).sum())
    lap("distance")

    meets = np.nan_to_num(dist, nan=np.inf) <= params["max_distance_m"]
    table = _dwelling_table(dw, buurten, buurt_of, places, dist, nearest, meets)
    places["dwellings_nearest"] = np.bincount(nearest[nearest >= 0], minlength=len(places)).astype(np.int64)
    places["dwellings_within"] = np.bincount(nearest[(nearest >= 0) & meets], minlength=len(places)).astype(np.int64)
    per_buurt = _buurt_table(buurten, buurt_of, meets)
    lap("tables")
    if counts["dwellings_unreachable"]:
        notes.append(f"{counts['dwellings_unreachable']} dwelling(s) reach no cool place: cool_distance_m is null")
    return LayerResult(
        vectors={"cool-places": places, "dwellings": table, "neighbourhoods": per_buurt},
        metadata={
            "method": METHOD,
            "reference": KLUCK,
            "distance_method": method,
            "shade_date": params["shade_date"],
            "shade_time": sun.when.isoformat() if sun.when is not None else None,
            "sun_position_deg": {"elevation": round(sun.elevation_deg, 2), "azimuth": round(sun.azimuth_deg, 2)},
            "sun_at": {"lat": round(lat, 5), "lon": round(lon, 5)},
            "view": view["view"],
            "windows": len(parts),
            "summary": _summary(places, meets, params),
            "timings_s": lap.seconds,
            **log_metadata(counts, notes),
        },
    )


WINDOWED = Windowed(
    compute_window=compute_window,
    finish=finish,
    resolution_m=lambda params: float(params["resolution_m"]),
    raster_sources=("dsm", "dtm"),
)


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Cool places of the region and the walking distance from every dwelling to the nearest one (one window).

    Args:
        inputs: ``dsm``, ``landcover``, ``addresses``, ``neighbourhoods`` (required); ``dtm``,
            ``streets`` and ``parks`` (optional); all in the region CRS (metres).
        params: see ``LAYER.params``.
        ctx: chunk size for the shadow and rasterising steps (run through Dask).

    Returns:
        vectors ``cool-places`` (polygons), ``dwellings`` (points, ``DWELLING_COLUMNS``) and
        ``neighbourhoods`` (per buurt: dwellings, dwellings within the distance, share in %).
    """
    return WINDOWED.compute(inputs, params, ctx)


def _walk_reach_m(params: Mapping[str, Any]) -> float:
    """Streets and parks within a walk of the distance: a walk never leaves the disc of its length."""
    return float(params["max_distance_m"] + params["access_m"])


def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text, re.IGNORECASE) if text else None
    except re.error as exc:
        raise ConfigError(f"layers.cool-places.excluded_source_pattern: not a regular expression: {exc}") from None


def _sun(inputs: LayerInputs, params: Mapping[str, Any]) -> tuple[SunPosition, float, float]:
    """The sun at ``shade_hour`` on ``shade_date`` (Dutch civil time) over the centre of the region boundary.

    The moment and day are the shared parameters of ``layers.sun`` (15:00 CEST on 1 July), the same as the
    route shade of ``heat-stress``.
    """
    day = config_date(params["shade_date"], "layers.cool-places.shade_date")
    return sun_at_moment(inputs.context, day, params["shade_hour"])


def _eligible(
    landcover: gpd.GeoDataFrame, params: Mapping[str, Any], pattern: re.Pattern[str] | None, counts: Counter[str]
) -> np.ndarray:
    """Per land-cover polygon: public walkable ground that can hold a cool place."""
    function = (landcover["function"] if "function" in landcover.columns
                else pd.Series(None, index=landcover.index)).astype("string").fillna("")
    # Road parts are places to stay only where the BGT function says so (pedestrian areas, squares).
    in_class = (landcover["class"].isin(list(params["place_classes"]))
                | function.isin(list(params["place_road_functions"]))).to_numpy(dtype=bool)
    public_ok, public_counts = public_mask(landcover, params["public_unknown"])
    known, is_public = public_flags(landcover["public"] if "public" in landcover.columns else None, len(landcover))
    source = landcover["source_class"].astype("string").fillna("")
    excluded = source.isin(list(params["excluded_source_classes"])).to_numpy(dtype=bool, copy=True)
    if pattern is not None:
        excluded = excluded | source.str.contains(pattern, regex=True).to_numpy(dtype=bool)
        excluded = excluded | function.str.contains(pattern, regex=True).to_numpy(dtype=bool)
    counts["landcover_polygons"] = len(landcover)
    counts["landcover_in_place_classes"] = int(in_class.sum())
    counts["landcover_private"] = int((in_class & known & ~is_public).sum())
    counts["landcover_public_unknown"] = int((in_class & ~known).sum())
    counts["landcover_public_by_proxy"] = int((in_class & ~known & public_ok).sum()) if public_counts[
        "public_by_proxy"] else 0
    counts["landcover_excluded_source_class"] = int((in_class & public_ok & excluded).sum())
    eligible = in_class & public_ok & ~excluded
    counts["landcover_eligible"] = int(eligible.sum())
    return np.asarray(eligible)


def _place_table(
    patches: MergedPatches, landcover: gpd.GeoDataFrame, inputs: LayerInputs, crs: Any
) -> gpd.GeoDataFrame:
    """One row per cool place: id, area, share on green classes, kind and the land-cover source classes."""
    n = len(patches.geoms)
    patch, poly, cells = patches.pairs
    cls = landcover["class"].to_numpy(dtype=object)
    source = landcover["source_class"].astype("string").fillna("?").to_numpy(dtype=object)
    green = np.bincount(patch, weights=cells * np.isin(cls[poly], GREEN_CLASSES), minlength=n)
    green_pct = percent(green, patches.cells, DECIMALS)
    kind = np.where(green_pct >= MAJORITY_PCT, "green", "paved").astype(object)
    if "parks" in inputs.sources and n:
        parks = inputs.vector("parks").geometry.values
        tree = shapely.STRtree(parks)
        pi, ki = tree.query(patches.geoms, predicate="intersects")
        in_park = np.bincount(pi, weights=shapely.area(shapely.intersection(patches.geoms[pi], parks[ki])),
                              minlength=n)
        kind = np.where(percent(in_park, patches.area_m2) >= MAJORITY_PCT, "park", kind)
    # Source classes of each place, largest share first, without repeats.
    listed: list[list[str]] = [[] for _ in range(n)]
    for p, s in zip(patch.tolist(), source[poly].tolist(), strict=True):
        if s not in listed[p]:
            listed[p].append(s)
    return gpd.GeoDataFrame(
        {
            "id": pd.array([f"koel-{i + 1}" for i in range(n)], dtype="string"),
            "area_m2": np.round(patches.area_m2, DECIMALS),
            "kind": pd.array(kind, dtype="string"),
            "green_pct": green_pct,
            "source_classes": pd.array([", ".join(s) for s in listed], dtype="string"),
        },
        geometry=gpd.GeoSeries(patches.geoms, crs=crs).values,
        crs=crs,
    )


def _distance(
    inputs: LayerInputs,
    params: Mapping[str, Any],
    xy: np.ndarray,
    targets: np.ndarray,
    counts: Counter[str],
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, str]:
    """Walking distance (m) and index of the nearest cool place per point, and how it was measured."""
    # The places are cell staircases: buffering them by access_m costs GEOS ~0.1 s per place. Smoothing
    # the steps away first (Douglas-Peucker within one cell) makes it 50x faster and moves the access
    # zone by at most one cell, the accuracy of the places themselves.
    smooth = shapely.simplify(targets, params["resolution_m"])
    return nearest_by_walking(
        inputs.sources.get("streets"), xy, smooth, access_m=params["access_m"],
        tolerance_m=params["network_tolerance_m"], node_crossings=params["network_node_crossings"],
        what="cool place", column="cool_distance_m", decimals=DECIMALS, counts=counts, notes=notes,
    )


def _dwelling_table(
    dw: gpd.GeoDataFrame, buurten: gpd.GeoDataFrame, buurt_of: np.ndarray, places: gpd.GeoDataFrame,
    dist: np.ndarray, nearest: np.ndarray, meets: np.ndarray,
) -> gpd.GeoDataFrame:
    codes = np.r_[buurten["code"].to_numpy(dtype=object), [None]]
    ids = np.r_[places["id"].to_numpy(dtype=object), [None]]
    table = pd.DataFrame(
        {
            "dwelling_id": dw["id"].astype("string").to_numpy(),
            "buurt_code": pd.array(codes[buurt_of], dtype="string"),
            "cool_place_id": pd.array(ids[nearest], dtype="string"),
            "cool_distance_m": dist,
            "meets_cool_300": meets,
        }
    )
    return gpd.GeoDataFrame(table[DWELLING_COLUMNS], geometry=dw.geometry.values, crs=dw.crs)


def _buurt_table(buurten: gpd.GeoDataFrame, buurt_of: np.ndarray, meets: np.ndarray) -> gpd.GeoDataFrame:
    n = len(buurten)
    inside = buurt_of >= 0
    total = np.bincount(buurt_of[inside], minlength=n)
    within = np.bincount(buurt_of[inside & meets], minlength=n)
    out = buurten[["code", "name"]].copy()
    out["dwellings"] = total.astype(np.int64)
    out["dwellings_within_300"] = within.astype(np.int64)
    out["share_pct"] = percent(within, total, DECIMALS)
    return gpd.GeoDataFrame(out, geometry=buurten.geometry.values, crs=buurten.crs)


def _summary(places: gpd.GeoDataFrame, meets: np.ndarray, params: Mapping[str, Any]) -> dict[str, Any]:
    """Region-wide figures for the catalog page."""
    return {
        "cool_places": len(places),
        "cool_area_m2": round(float(places["area_m2"].sum()), DECIMALS),
        "dwellings": len(meets),
        "dwellings_within": int(meets.sum()),
        "within_pct": round(float(meets.mean()) * 100.0, 2) if len(meets) else None,
        "max_distance_m": params["max_distance_m"],
        "min_area_m2": params["min_area_m2"],
    }


def _tree_param(name: str) -> Param:
    """A parameter shared with ``tree-3-30-300`` (dwelling selection, network building), same default."""
    return next(p for p in TREE_RULE_PARAMS if p.name == name)


PARAMS: tuple[Param, ...] = (
    Param("resolution_m", 1.0, "m", "cell size of the shade and patch rasters",
          "fine enough for a 200 m2 place (200 cells); the 0.5 m AHN DSM is coarsened by its highest value",
          minimum=0.25, maximum=5.0),
    SHADE_DATE,
    SHADE_HOUR,
    Param("min_area_m2", 200.0, "m2", "smallest contiguous shaded area that is a cool place", KLUCK, minimum=1.0),
    Param("max_distance_m", 300.0, "m", "walking distance to a cool place every home should have", KLUCK,
          minimum=0.0, maximum=5000.0),
    Param("connectivity", 4, "", "cells sharing an edge (4) or also a corner (8) form one place",
          "4: two shaded areas touching at a single corner are not one place to stay", choices=CONNECTIVITIES),
    *PERSON_VIEW_PARAMS,
    Param("shadow_max_distance_m", 100.0, "m", "longest cast shadow followed",
          "a 50 m building casts 47 m at 15:00 on 1 July (sun about 47 degrees high)", minimum=5.0, maximum=500.0),
    Param("place_classes", ["green_low", "green_shrub", "green_trees", "paved_other", "road_unpaved"], "",
          "land-cover classes of walkable outdoor places",
          "parks, plantsoenen and squares; road_paved is left out as a class: road parts count by their "
          "function (place_road_functions)"),
    Param("place_road_functions", ["voetgangersgebied"], "",
          "BGT road functions (landcover.function) of road parts that are places to stay",
          "pedestrian areas and squares registered as wegdeel; footpaths and carriageways are for passing"),
    Param("public_unknown", PUBLIC_PROXY, "", "land cover whose 'public' is unknown: public by the BGT proxy "
          "(not erf, not farmland), never (exclude) or always (include)", PUBLIC_UNKNOWN_SOURCE,
          choices=PUBLIC_UNKNOWN_CHOICES),
    Param("excluded_source_classes", ["onbegroeidterreindeel:erf"], "", "source classes that are never a "
          "cool place", "erven are yards and gardens, mostly private"),
    Param("excluded_source_pattern", "rijbaan|ov-baan|spoorbaan|baan voor vliegverkeer|parkeervlak|inrit", "",
          "regular expression (case-insensitive) on source_class and function: matches are carriageways and "
          "the like",
          "BGT wegdeel functions that are not for walking or staying"),
    Param("access_m", 20.0, "m", "a street point this close to a cool place counts as reaching it",
          "as park_access_m of tree-3-30-300: about one street width plus a pavement", minimum=0.0, maximum=200.0),
    _tree_param("network_tolerance_m"),
    _tree_param("network_node_crossings"),
    _tree_param("dwelling_use"),
    _tree_param("dwelling_statuses"),
)

METHOD = (__doc__ or "").split("\n\n", 1)[1].strip()

LAYER = LayerDef(
    id=LAYER_ID,
    title={"nl": "Koele plekken", "en": "Cool places"},
    description={
        "nl": "Openbare plekken met minstens 200 m² aaneengesloten schaduw om 15 uur op 1 juli, en per woning "
        "de loopafstand tot de dichtstbijzijnde koele plek (norm: binnen 300 m, De hittebestendige stad, "
        "Kluck e.a. 2020). Ook per buurt.",
        "en": "Public places with at least 200 m2 of contiguous shade at 15:00 on 1 July, and per dwelling the "
        "walking distance to the nearest one (target: within 300 m, Kluck et al. 2020). Also per neighbourhood.",
    },
    kind="vector",
    inputs=("dsm", "landcover", "addresses", "neighbourhoods"),
    optional_inputs=("dtm", "streets", "parks"),
    params=PARAMS,
    outputs=(
        Output("cool-places", "vector", "cool places: id, area_m2, kind (park/green/paved), green_pct, "
               "source_classes, dwellings_nearest, dwellings_within"),
        Output("dwellings", "vector", "one point per dwelling: " + ", ".join(DWELLING_COLUMNS)),
        Output("neighbourhoods", "vector", "per buurt: dwellings, dwellings_within_300, share_pct"),
    ),
    style_id="cool-places",
    code_version="4",
    compute=compute,
    windowed=WINDOWED,
    references=(KLUCK, RATTI),
    reach=(
        Reach("dsm", param_reach("shadow_max_distance_m"), "buildings and trees beyond the extent cast shadows "
              "into it"),
        Reach("dtm", param_reach("shadow_max_distance_m"), "the person view's terrain under the same shadows"),
        Reach("landcover", fixed(0.0), "the ground of the places inside the extent"),
        Reach("addresses", fixed(0.0), "the dwellings inside the extent"),
        Reach("neighbourhoods", fixed(0.0), "the default zones, clipped to the extent"),
        Reach("streets", _walk_reach_m, "the walk along the street network to a cool place", "network"),
        Reach("parks", _walk_reach_m, "parks within the walk", "network"),
    ),
    minzoom=12,
    maxzoom=16,
)
