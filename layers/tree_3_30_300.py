"""Layer ``tree-3-30-300``: the 3-30-300 rule per dwelling, per neighbourhood, and the parks used.

The rule (Konijnendijk 2023): every home should see at least 3 trees, have
30 % tree canopy in its neighbourhood and be within 300 m of a park. How each
part is measured here (docs/method-3-30-300.md gives the full method and the
choices, following the measures Browning et al. 2024 recommend where the
registers allow):

* **3**: trees whose crown is at least ``min_crown_area_m2`` and that a
  straight sight line reaches from a facade point of the dwelling's building
  (``geo.facades``: every ``facade_spacing_m`` along the footprint, offset
  outward) within ``tree_radius_m`` (30 m), through no building
  (``geo.visibility``). A dwelling without a known building looks from its
  address point, its own walls not blocking. Trees are the register's; with
  AHN, a register tree without a crown size gets its crown from the canopy
  around its trunk (``geo.canopy``), and the tree tops of canopy patches that
  hold no register tree (``geo.treetops``, a variable-window local maximum
  filter, Popescu & Wynne 2004) count as trees too.
* **30**: tree canopy inside the dwelling's CBS buurt over the buurt area
  (``canopy_scope: buurt``), or inside a disc of ``canopy_radius_m`` around the
  address (``canopy_scope: radius``): with AHN the 0.5 m AHN canopy (register
  crowns fill its holes), else the union of the register's crown discs.
* **300**: walking distance from the address point straight to the nearest
  point of the street network, then along it to the nearest network point
  within ``park_access_m`` of a public green space of at least
  ``min_park_area_m2`` (0.5 ha, WHO). Without a street network: straight-line
  distance to the park (said so in the metadata). Parks come from the
  ``parks`` source or are derived from public green land cover (``geo.parks``).

Dwellings are addresses whose ``use`` includes ``dwelling_use`` (woonfunctie)
and whose ``status`` is one of ``dwelling_statuses`` (``layers.dwellings``), inside
the run's extent. Every input is read as far beyond the extent as the rule
reaches (``LAYER.reach``): trees and buildings 30 m, streets and parks the
300 m walk, the AHN canopy and the register crowns over the dwellings' whole
buurten, so a dwelling near the edge of a municipality or of a permit site's
window is measured as it would be in the middle. The per-zone table is over
the run's zones (the buurten clipped to the region, or a site and its buffer).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.canopy import canopy_in_zones, crown_diameters, patches_without
from geo.errors import LayerError
from geo.facades import facade_points
from geo.fractions import Crowns, disc_canopy_pct, disc_share_pct
from geo.grid import Grid
from geo.parks import PARK_CLASSES, derive_parks, select_parks
from geo.raster import Raster
from geo.treetops import crown_area_m2, tree_tops
from geo.visibility import NO_BUILDING, SightScene, trees_seen_from_facades, visible_trees
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Reach, fixed, param_reach
from layers.dwellings import dwellings, neighbourhood_frame, zone_index
from layers.green_inputs import (
    CANOPY_SOURCES,
    Laps,
    ahn_canopy,
    canopy_with_crowns,
    log_metadata,
    percent,
    trees_within,
    zone_table,
)
from layers.tree_rule_params import PARAMS, REFERENCES
from layers.walking import nearest_by_walking

LAYER_ID = "tree-3-30-300"
#: Columns of the per-dwelling output, in order (names fixed by the issue).
DWELLING_COLUMNS = [
    "dwelling_id",
    "building_id",
    "buurt_code",
    "trees_visible",
    "meets_3",
    "canopy_pct",
    "meets_30",
    "park_distance_m",
    "meets_300",
    "score",
]


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """The 3-30-300 rule for every dwelling of the region.

    Args:
        inputs: ``addresses``, ``buildings``, ``neighbourhoods``, ``landcover`` (required),
            ``trees``, ``dsm``/``dtm``/``vegetation`` (AHN; at least one of trees and AHN),
            ``streets`` and ``parks`` (optional), all in the region CRS (metres).
        params: thresholds and method choices (see ``LAYER.params``).
        ctx: worker count; sight-line batches run as Dask tasks.

    Returns:
        vectors ``dwellings`` (one point per dwelling, ``DWELLING_COLUMNS``),
        ``neighbourhoods`` (per buurt shares of dwellings meeting each rule) and
        ``parks`` (the parks used, with the dwellings they serve).
    """
    counts: Counter[str] = Counter()
    notes: list[str] = []
    lap = Laps()

    extent = inputs.extent.polygon()
    dw = dwellings(inputs.vector("addresses"), params, extent, counts)
    xy = shapely.get_coordinates(dw.geometry.values)
    buildings = inputs.vector("buildings")
    own = _building_codes(dw, buildings, counts)
    # The '30' is a figure of the dwelling's whole buurt (read whole, by the neighbourhood reach); the
    # table is per zone of the run (the buurten clipped to the region, or a site and its buffer).
    buurten = neighbourhood_frame(inputs.vector("neighbourhoods"))
    buurt_of = zone_index(xy, buurten, counts)
    zone_frame = zone_table(inputs, counts, LAYER_ID)
    zone_of = zone_index(xy, zone_frame)
    # Dwellings sharing a point and a building get the same answers: compute each place once.
    places, place_of = np.unique(np.c_[xy, own], axis=0, return_inverse=True)
    place_xy, place_own = places[:, :2], places[:, 2].astype(np.int64)
    counts["dwelling_places"] = len(places)
    building_code = _codes_of(buildings)
    counts["dwellings_point_outside_building"] = _outside_own_building(
        place_xy, place_own, buildings.geometry.values, building_code, place_of
    )
    lap("dwellings")

    canopy = ahn_canopy(inputs, params["canopy_min_height_m"], notes)
    if "trees" not in inputs.sources and canopy is None:
        raise LayerError("tree-3-30-300: needs a trees source or AHN (dsm + dtm) for the trees and the canopy")
    reg_pts, reg_crown = np.empty(0, dtype=object), np.empty(0)
    if "trees" in inputs.sources:
        reg_pts, reg_crown = trees_within(
            inputs.vector("trees"), _tree_area(extent, buurten, params), params["default_crown_diameter_m"],
            counts, canopy, params["crown_search_radius_m"],
        )
    tree_xy, crown = _all_trees(reg_pts, reg_crown, canopy, params, extent.buffer(params["tree_radius_m"]), counts)
    big = crown_area_m2(crown) >= params["min_crown_area_m2"]
    counts["trees_below_min_crown"] = int((~big).sum())
    lap("trees")

    scene = SightScene(tree_xy[big], buildings.geometry.values, building_code)
    visible = _visible(place_xy, place_own, buildings, building_code, scene, params, counts)[place_of]
    lap("visible_trees")

    _, zone_canopy, canopy_pct = _canopy_shares(
        canopy, reg_pts, reg_crown, (buurten, zone_frame), buurt_of, (place_xy, place_of),
        extent.buffer(_radius_reach_m(params)), params, ctx,
    )
    lap("canopy")

    parks, park_counts = _parks(inputs, params)
    counts.update(park_counts)
    lap("parks")
    dist, nearest, method = _park_distance(inputs, params, place_xy, parks, counts, notes)
    dist, nearest = dist[place_of], nearest[place_of]
    counts["dwellings_unreachable"] = int(np.isnan(dist).sum())
    lap("park_distance")

    table = _dwelling_table(dw, buurten, buurt_of, visible, canopy_pct, dist, params)
    parks_out = parks.copy()
    served = dist <= params["max_park_distance_m"]
    parks_out["dwellings_nearest"] = np.bincount(nearest[nearest >= 0], minlength=len(parks)).astype(np.int64)
    parks_out["dwellings_within"] = np.bincount(nearest[(nearest >= 0) & served], minlength=len(parks)).astype(np.int64)
    per_buurt = _buurt_table(zone_frame, zone_of, table)
    per_buurt["canopy_pct"] = zone_canopy
    lap("tables")
    if counts["dwellings_unreachable"]:
        notes.append(
            f"{counts['dwellings_unreachable']} dwelling(s) reach no park of at least "
            f"{params['min_park_area_m2']:g} m2: park_distance_m is null, meets_300 false"
        )
    return LayerResult(
        vectors={"dwellings": table, "neighbourhoods": per_buurt, "parks": parks_out.reset_index(drop=True)},
        metadata={
            "method": METHOD,
            "distance_method": method,
            "canopy_scope": params["canopy_scope"],
            "canopy_source": "ahn" if canopy is not None else "register",
            "view_from": "facades",
            "summary": _summary(table),
            "timings_s": lap.seconds,
            **log_metadata(counts, notes),
        },
    )


def _all_trees(
    reg_pts: np.ndarray,
    reg_crown: np.ndarray,
    canopy: Raster | None,
    params: Mapping[str, Any],
    area: shapely.Geometry,
    counts: Counter[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Register trees plus, with AHN, the tree tops of canopy patches holding no register tree.

    Returns:
        ``(xy, crown_diameter_m)`` of every tree that may count for the 3.
    """
    reg_xy = shapely.get_coordinates(reg_pts).reshape(-1, 2)
    if canopy is None or not params["ahn_tree_tops"]:
        return reg_xy, reg_crown
    free = patches_without(canopy, reg_xy)
    open_canopy = Raster(np.where(free, canopy.data[0], 0.0).astype(np.float32), canopy.crs, canopy.transform,
                         nodata=canopy.nodata, band_names=canopy.band_names, units=canopy.units)
    tops, _ = tree_tops(open_canopy, min_height_m=params["canopy_min_height_m"], within=area.bounds)
    shapely.prepare(area)
    tops = tops[shapely.intersects(area, shapely.points(tops))] if len(tops) else tops
    counts["trees_from_ahn_tops"] = len(tops)
    # Crowns of the tops: their share of the patch, split with every tree (register trees are seeds too).
    seeds = np.vstack([reg_xy, tops])
    top_crown = crown_diameters(canopy, seeds, search_radius_m=params["crown_search_radius_m"],
                                of=slice(len(reg_xy), None))
    return seeds, np.r_[reg_crown, np.nan_to_num(top_crown, nan=0.0)]


def _visible(
    place_xy: np.ndarray,
    place_own: np.ndarray,
    buildings: gpd.GeoDataFrame,
    building_code: np.ndarray,
    scene: SightScene,
    params: Mapping[str, Any],
    counts: Counter[str],
) -> np.ndarray:
    """Trees seen per place: from its building's facades, or from the address point without a building."""
    out = np.zeros(len(place_xy), dtype=np.int64)
    has = place_own >= 0
    wanted = np.isin(building_code, np.unique(place_own[has]))
    fxy, fcode = facade_points(
        buildings.geometry.values[wanted], building_code[wanted], spacing_m=params["facade_spacing_m"],
        offset_m=params["facade_offset_m"], blockers=buildings.geometry.values,
    )
    counts["facade_points"] = len(fxy)
    n_codes = int(building_code.max()) + 1 if len(building_code) else 0
    per_building = trees_seen_from_facades(fxy, fcode, scene, params["tree_radius_m"], n_codes, run=_dask_run)
    out[has] = per_building[place_own[has]]
    if (~has).any():
        out[~has] = visible_trees(place_xy[~has], place_own[~has], scene, params["tree_radius_m"], run=_dask_run)
    return out


def _canopy_shares(
    canopy: Raster | None,
    reg_pts: np.ndarray,
    reg_crown: np.ndarray,
    zoned: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
    buurt_of: np.ndarray,
    places: tuple[np.ndarray, np.ndarray],
    area: shapely.Geometry,
    params: Mapping[str, Any],
    ctx: BuildContext,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canopy % per whole buurt, per zone and per dwelling (the '30'): AHN canopy when given, else register crowns.

    Args:
        zoned: ``(buurten, zones)``: the whole buurten of the dwellings and the run's zones.
        buurt_of: buurt index per dwelling (-1 outside all).
        places: ``(place_xy, place_of)``: distinct dwelling places and the place of each dwelling.
        area: where the canopy is known (the extent grown by the radius reach), for ``canopy_scope: radius``.

    Returns:
        ``(per buurt, per zone, per dwelling)`` canopy %.
    """
    place_xy, place_of = places
    shares = []
    crowns = Crowns.from_points(reg_pts, reg_crown)
    if canopy is not None:
        under = canopy_with_crowns(canopy, reg_pts, reg_crown)
        grid = Grid(canopy.crs, canopy.transform, canopy.width, canopy.height)
    # Buurten and zones overlap (a zone is a clipped buurt, or a site inside one): one overlay each.
    for frame in zoned:
        if canopy is None:
            shares.append(percent(crowns.area_in(frame.geometry.values), frame.geometry.area))
        else:
            cells = canopy_in_zones(under, grid, frame.geometry.values, chunk_size=ctx.chunk_size)
            shares.append(percent(cells["canopy_m2"], frame.geometry.area))
    buurt_canopy, zone_canopy = shares
    if params["canopy_scope"] == "buurt":
        return buurt_canopy, zone_canopy, np.where(buurt_of >= 0, buurt_canopy[np.maximum(buurt_of, 0)], np.nan)
    if canopy is None:
        return buurt_canopy, zone_canopy, disc_canopy_pct(crowns, place_xy, params["canopy_radius_m"], area)[place_of]
    return buurt_canopy, zone_canopy, disc_share_pct(
        under, canopy.transform, place_xy, params["canopy_radius_m"], area)[place_of]


def _tree_area(extent: shapely.Geometry, buurten: gpd.GeoDataFrame, params: Mapping[str, Any]) -> shapely.Geometry:
    """Where register trees count: within their reach of the extent, or inside the dwellings' buurten (the 30)."""
    reach = extent.buffer(_tree_reach_m(params))
    return shapely.union(reach, shapely.union_all(buurten.geometry.values)) if len(buurten) else reach


def _tree_reach_m(params: Mapping[str, Any]) -> float:
    """Trees this far beyond the extent can be seen from a dwelling inside it, or reach in with their crown."""
    return float(max(params["tree_radius_m"], params["crown_search_radius_m"], params["default_crown_diameter_m"] / 2))


def _radius_reach_m(params: Mapping[str, Any]) -> float:
    """The canopy disc of ``canopy_scope: radius`` around a dwelling."""
    return float(params["canopy_radius_m"])


def _walk_reach_m(params: Mapping[str, Any]) -> float:
    """Streets and parks within a walk of the distance: a walk never leaves the disc of its length."""
    return float(params["max_park_distance_m"] + params["park_access_m"])


def _dask_run(fn: Any, shared: Any, batches: list[tuple[Any, ...]]) -> list[np.ndarray]:
    """Run sight-line batches as Dask tasks on the scheduler the engine set up (threads or a cluster).

    The scene (trees, buildings, their indexes) is one graph node, so a cluster receives it once.
    """
    scene = dask.delayed(shared, traverse=False)
    return list(dask.compute(*[dask.delayed(fn)(scene, *b) for b in batches]))


def _codes_of(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Integer code of each building footprint's id (footprints of one id share it)."""
    codes, _ = pd.factorize(buildings["id"].astype("string"), use_na_sentinel=True)
    return np.where(codes < 0, NO_BUILDING - 1, codes).astype(np.int64)


def _building_codes(dw: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, counts: Counter[str]) -> np.ndarray:
    """Code of each dwelling's own building (as in ``_codes_of``), ``NO_BUILDING`` when unknown."""
    uniques = pd.Index(pd.factorize(buildings["id"].astype("string"), use_na_sentinel=True)[1])
    codes = uniques.get_indexer(dw["building_id"].astype("string"))
    counts["dwellings_without_building"] += int((codes < 0).sum())
    return np.where(codes < 0, NO_BUILDING, codes).astype(np.int64)


def _outside_own_building(
    xy: np.ndarray, own: np.ndarray, footprints: np.ndarray, codes: np.ndarray, place_of: np.ndarray
) -> int:
    """Dwellings with a known building whose address point lies outside that building's footprints.

    Such a point (a data error, or a point on the facade) makes the own building block nothing
    and any other building it lies in block everything; the count goes into the build log.
    """
    pi, bi = shapely.STRtree(footprints).query(shapely.points(xy), predicate="intersects")
    inside = np.zeros(len(xy), dtype=bool)
    inside[pi[codes[bi] == own[pi]]] = True
    return int(((own >= 0) & ~inside)[place_of].sum())


def _parks(inputs: LayerInputs, params: Mapping[str, Any]) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    if "parks" in inputs.sources:
        return select_parks(inputs.vector("parks"), params["min_park_area_m2"])
    return derive_parks(
        inputs.vector("landcover"),
        classes=PARK_CLASSES,
        public_unknown=params["park_public_unknown"],
        merge_gap_m=params["park_merge_gap_m"],
        min_area_m2=params["min_park_area_m2"],
    )


def _park_distance(
    inputs: LayerInputs,
    params: Mapping[str, Any],
    xy: np.ndarray,
    parks: gpd.GeoDataFrame,
    counts: Counter[str],
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, str]:
    """Distance (m) and index of the nearest park per point, and how it was measured."""
    return nearest_by_walking(
        inputs.sources.get("streets"), xy, parks.geometry.values, access_m=params["park_access_m"],
        tolerance_m=params["network_tolerance_m"], node_crossings=params["network_node_crossings"],
        what="park", column="park_distance_m", decimals=1, counts=counts, notes=notes,
    )


def _dwelling_table(
    dw: gpd.GeoDataFrame,
    buurten: gpd.GeoDataFrame,
    buurt_of: np.ndarray,
    visible: np.ndarray,
    canopy_pct: np.ndarray,
    dist: np.ndarray,
    params: Mapping[str, Any],
) -> gpd.GeoDataFrame:
    codes = buurten["code"].to_numpy(dtype=object)
    table = pd.DataFrame(
        {
            "dwelling_id": dw["id"].astype("string").to_numpy(),
            "building_id": dw["building_id"].astype("string").to_numpy(),
            "buurt_code": pd.array(np.where(buurt_of >= 0, codes[np.maximum(buurt_of, 0)], None), dtype="string")
            if len(codes)
            else pd.array([None] * len(dw), dtype="string"),
            "trees_visible": visible.astype(np.int64),
            "meets_3": visible >= params["min_trees_visible"],
            "canopy_pct": np.round(canopy_pct, 2),
            "meets_30": np.nan_to_num(canopy_pct, nan=-1.0) >= params["min_canopy_pct"],
            "park_distance_m": dist,
            "meets_300": np.nan_to_num(dist, nan=np.inf) <= params["max_park_distance_m"],
        }
    )
    table["score"] = (table["meets_3"].astype(int) + table["meets_30"] + table["meets_300"]).astype(np.int64)
    return gpd.GeoDataFrame(table[DWELLING_COLUMNS], geometry=dw.geometry.values, crs=dw.crs)


def _buurt_table(buurten: gpd.GeoDataFrame, buurt_of: np.ndarray, table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    n = len(buurten)
    inside = buurt_of >= 0
    b = buurt_of[inside]

    def share(mask: pd.Series | np.ndarray) -> np.ndarray:
        return percent(np.bincount(b, weights=np.asarray(mask, dtype=float)[inside], minlength=n), total)

    total = np.bincount(b, minlength=n)
    out = buurten[["code", "name"]].copy()
    out["dwellings"] = total.astype(np.int64)
    out["meets_3_pct"] = share(table["meets_3"])
    out["meets_30_pct"] = share(table["meets_30"])
    out["meets_300_pct"] = share(table["meets_300"])
    out["meets_all_pct"] = share(table["score"] == 3)
    out["meets_none_pct"] = share(table["score"] == 0)
    out["canopy_pct"] = np.nan
    return gpd.GeoDataFrame(out, geometry=buurten.geometry.values, crs=buurten.crs)


def _summary(table: gpd.GeoDataFrame) -> dict[str, Any]:
    """Region-wide shares for the catalog page."""
    n = len(table)
    if n == 0:
        return {"dwellings": 0}
    return {
        "dwellings": n,
        "meets_3_pct": round(float(table["meets_3"].mean() * 100), 2),
        "meets_30_pct": round(float(table["meets_30"].mean() * 100), 2),
        "meets_300_pct": round(float(table["meets_300"].mean() * 100), 2),
        "meets_all_pct": round(float((table["score"] == 3).mean() * 100), 2),
        "meets_none_pct": round(float((table["score"] == 0).mean() * 100), 2),
    }


METHOD = (__doc__ or "").split("\n\n", 1)[1].strip()

LAYER = LayerDef(
    id=LAYER_ID,
    title={"nl": "3-30-300 bomenregel", "en": "3-30-300 tree rule"},
    description={
        "nl": "Per woning: ziet de woning 3 bomen, heeft de buurt 30% boomkroon en ligt er binnen 300 m lopen "
        "een park van minstens een halve hectare? Ook per buurt, en de gebruikte parken.",
        "en": "Per dwelling: does it see 3 trees, does its neighbourhood have 30% canopy, is a park of at least "
        "half a hectare within a 300 m walk? Also per neighbourhood, and the parks used.",
    },
    kind="vector",
    inputs=("addresses", "buildings", "neighbourhoods", "landcover"),
    optional_inputs=("trees", "streets", "parks", *CANOPY_SOURCES),
    params=PARAMS,
    outputs=(
        Output("dwellings", "vector", "one point per dwelling: " + ", ".join(DWELLING_COLUMNS)),
        Output("neighbourhoods", "vector", "per buurt: dwellings and % meeting 3, 30, 300, all and none"),
        Output("parks", "vector", "public green spaces >= min_park_area_m2 used as targets, with dwellings served"),
    ),
    style_id="tree-3-30-300",
    code_version="3",
    compute=compute,
    references=REFERENCES,
    reach=(
        Reach("addresses", fixed(0.0), "the dwellings inside the extent"),
        Reach("buildings", param_reach("tree_radius_m"), "facades and buildings blocking the sight lines of the 3"),
        Reach("neighbourhoods", fixed(0.0), "the whole buurten of the dwellings, for the 30", "neighbourhood"),
        Reach("landcover", _walk_reach_m, "public green within the walk, for parks derived from land cover",
              "network"),
        Reach("trees", _tree_reach_m, "trees seen within 30 m, and the crowns in the dwellings' buurten (30)",
              "neighbourhood"),
        Reach("streets", _walk_reach_m, "the 300 m walk along the street network", "network"),
        Reach("parks", _walk_reach_m, "parks within the 300 m walk (whole parks)", "network"),
        *(Reach(s, _tree_reach_m, "AHN canopy of the dwellings' buurten (30) and tree tops seen (3)",
                "neighbourhood") for s in CANOPY_SOURCES),
    ),
    minzoom=12,
    maxzoom=16,
)
