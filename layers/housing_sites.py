"""Layer ``housing-sites``: planned housing sites, each enriched with the criteria a planner weighs.

Method (docs/method-housing.md gives the sources, choices and limitations):

* Sites come from the ``housing_sites`` source (plan-capacity monitor fields,
  validated by ``geo.housing_sites``); every site meeting the extent is one
  feature, with all its monitor fields.
* ``uhi_max_mean`` / ``uhi_max_max`` (K): mean and maximum of the
  ``heat-stress`` raster ``uhi_max`` over the cells whose centre lies in the site.
* ``green_pct_site`` and ``green_pct_300m`` (%): the green share (green_low,
  green_shrub, green_trees, agriculture: the ``green-paved`` groups, by the same
  exact overlay, ``geo.fractions``) of the mapped land cover inside the site
  and in the band of ``green_radius_m`` around it (the site left out).
* ``park_walk_share_pct`` (%): share of points ``sample_spacing_m`` apart on the
  site whose walk to a park (``parks`` source, or parks derived from public
  green land cover, as in ``tree-3-30-300``) is at most ``max_park_distance_m``
  (``layers.walking``: straight to the nearest street, then along the streets).
* ``dist_<type>_m`` (m): the walk from the site (a street point within
  ``amenity_access_m`` of it) to the nearest supermarket, primary school, GP
  and public-transport stop of the ``amenities`` source (``geo.amenities``),
  null beyond ``amenity_max_distance_m``.
* ``vacant_dwellings_500m``: vacant dwellings within ``vacancy_radius_m`` of the
  site, read off layer ``vacancy`` (when it is built): the sum of its published
  ``vacant_woonfunctie`` counts of the CBS 100 m squares whose centre lies
  within the radius. It is made only of figures that layer already publishes
  under its disclosure control, so it discloses nothing they do not: a count of
  the addresses themselves, over discs that overlap from site to site, could be
  differenced to locate a vacant address. Suppressed squares, and squares too
  small to publish, count 0, so it is a lower bound (``docs/method-housing.md``).
* ``flood_depth_mean_m`` / ``flood_depth_max_m`` / ``flood_share_pct``: the
  optional ``flood`` raster over the site's cells.
* ``suitability`` (0-100): a weighted linear combination of the criteria, each
  scored between two thresholds (``layers.housing_params``); every criterion's
  score is a column ``score_<criterion>`` next to its value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.amenities import amenity_kind, distances_from_areas
from geo.fractions import zone_surface_areas
from geo.housing_sites import SITE_COLUMNS
from geo.network import StreetNetwork
from geo.parks import PARK_CLASSES, derive_parks, select_parks
from geo.raster import Raster, crop
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Reach, fixed
from layers.green_inputs import log_metadata, percent
from layers.housing_params import (
    AMENITY_TYPES,
    CRITERIA,
    EASTMAN_1999,
    MALCZEWSKI_1999,
    PARAMS,
    VOOGD_1983,
    criterion_scores,
    suitability,
)
from layers.vacancy_tables import GRID_OUTPUT, VACANT_DWELLINGS, published_vacant_dwellings
from layers.walking import nearest_by_walking

LAYER_ID = "housing-sites"
HEAT_LAYER = "heat-stress"
#: The vacancy layer (its squares: ``layers.vacancy_tables.GRID_OUTPUT``).
VACANCY_LAYER = "vacancy"
HEAT_RASTER = "uhi_max"
#: Decimals of distances (m), shares (%), kelvins and scores.
DECIMALS = 1
SCORE_DECIMALS = 3
#: Enrichment columns, in order, after the monitor fields.
ENRICHMENT_COLUMNS: tuple[str, ...] = (
    "area_m2", "uhi_max_mean", "uhi_max_max", "green_pct_site", "green_pct_300m", "park_walk_share_pct",
    *(f"dist_{t}_m" for t in AMENITY_TYPES), "vacant_dwellings_500m", "flood_depth_mean_m", "flood_depth_max_m",
    "flood_share_pct",
)


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """One feature per housing site with its monitor fields, every criterion value and the suitability.

    Args:
        inputs: ``housing_sites`` and ``landcover`` (required); ``streets``, ``parks``, ``amenities``,
            ``flood`` (optional); layer ``heat-stress`` (its ``uhi_max`` raster) and, when built, layer
            ``vacancy`` (its 100 m squares); all in the region CRS (metres).
        params: see ``layers.housing_params.PARAMS``.
        ctx: unused (the work is per site).

    Returns:
        vector ``housing-sites`` (site polygons: ``SITE_COLUMNS``, ``ENRICHMENT_COLUMNS``,
        ``score_<criterion>``, ``suitability``, ``criteria_used``).
    """
    counts: Counter[str] = Counter()
    notes: list[str] = []
    given = inputs.vector("housing_sites")
    area = inputs.extent.polygon()
    shapely.prepare(area)
    # A site belongs to the extent holding its point on surface, so adjoining extents never both report it.
    sites = given[shapely.intersects(area, shapely.point_on_surface(given.geometry.values))].reset_index(drop=True)
    counts["sites_given"], counts["sites"] = len(given), len(sites)
    _check_margin(sites, inputs.extent.bounds, params, counts, notes)
    geoms = np.asarray(sites.geometry.values, dtype=object)
    table = pd.DataFrame({c: sites[c] for c in SITE_COLUMNS if c in sites.columns})
    table["area_m2"] = np.round(shapely.area(geoms), DECIMALS)
    available: set[str] = set()
    if _heat(inputs, geoms, table, notes):
        available.add("heat")
    _green(inputs, geoms, params, table, counts)
    available.add("green")
    _park_walk(inputs, geoms, params, table, counts, notes)
    available.add("park")
    if "amenities" in inputs.sources:
        _amenities(inputs, geoms, params, table, counts, notes)
        available.update(AMENITY_TYPES)
    else:
        for t in AMENITY_TYPES:
            table[f"dist_{t}_m"] = np.nan
        notes.append("no amenities source: the distances to facilities are null and left out of the score")
    table["vacant_dwellings_500m"] = pd.array([None] * len(sites), dtype="Int64")
    if VACANCY_LAYER in inputs.layers:
        table["vacant_dwellings_500m"] = _vacant_near(inputs.layers[VACANCY_LAYER], geoms, params, counts)
        available.add("vacancy")
    else:
        notes.append(f"layer {VACANCY_LAYER} is not built (no occupancy source): vacant_dwellings_500m is null "
                     "and left out of the score")
    if "flood" in inputs.sources:
        _flood(inputs.raster("flood"), geoms, params, table)
        available.add("flood")
    else:
        for col in ("flood_depth_mean_m", "flood_depth_max_m", "flood_share_pct"):
            table[col] = np.nan
        notes.append("no flood raster: the flood columns are null and left out of the score")
    scores = {c.name: criterion_scores(table[c.column].to_numpy(dtype=float, na_value=np.nan), c, params)
              for c in CRITERIA if c.name in available}
    for c in CRITERIA:
        # + 0.0: a score of -0.0 (a value on the bad side of a zero threshold) prints as 0.
        table[f"score_{c.name}"] = np.round(scores[c.name], SCORE_DECIMALS) + 0.0 if c.name in scores else np.nan
    total, used = suitability(scores, params)
    table["suitability"] = np.round(total, DECIMALS)
    table["criteria_used"] = pd.array(used, dtype="string")
    out = gpd.GeoDataFrame(table, geometry=sites.geometry.values, crs=inputs.crs)
    return LayerResult(
        vectors={LAYER_ID: out},
        metadata={
            "method": METHOD,
            "score_method": "weighted linear combination of linearly normalised criteria (Malczewski 1999)",
            "criteria": [
                {"name": c.name, "column": c.column, "unit": c.unit, "weight": params[f"weight_{c.name}"],
                 "good": params[f"{c.name}_good"], "bad": params[f"{c.name}_bad"], "used": c.name in available}
                for c in CRITERIA
            ],
            "summary": {"sites": len(out), "planned_dwellings": int(out["planned_dwellings"].sum())},
            **log_metadata(counts, notes),
        },
    )


def cells_in(raster: Raster, geom: shapely.Geometry) -> np.ndarray:
    """Values of the first band at the cells whose centre lies in ``geom`` (GDAL's cell-centre rule)."""
    part = crop(raster, tuple(geom.bounds))  # type: ignore[arg-type]
    if part.width == 0 or part.height == 0:
        return np.empty(0)
    cols, rows = np.meshgrid(np.arange(part.width) + 0.5, np.arange(part.height) + 0.5)
    xs, ys = part.transform * (cols, rows)
    inside = shapely.contains_xy(geom, xs, ys)
    return np.asarray(part.data[0][inside], dtype=float)


def _heat(inputs: LayerInputs, geoms: np.ndarray, table: pd.DataFrame, notes: list[str]) -> bool:
    heat = inputs.layers.get(HEAT_LAYER)
    if heat is None or HEAT_RASTER not in heat.rasters:
        table["uhi_max_mean"] = table["uhi_max_max"] = np.nan
        notes.append(f"no {HEAT_LAYER} raster {HEAT_RASTER}: the heat columns are null and left out of the score")
        return False
    raster = heat.rasters[HEAT_RASTER]
    mean, top = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    for k, geom in enumerate(geoms):
        values = cells_in(raster, geom)
        values = values[np.isfinite(values)]
        if len(values):
            mean[k], top[k] = values.mean(), values.max()
    table["uhi_max_mean"] = np.round(mean, 2)
    table["uhi_max_max"] = np.round(top, 2)
    return True


def _green(inputs: LayerInputs, geoms: np.ndarray, params: Mapping[str, Any], table: pd.DataFrame,
           counts: Counter[str]) -> None:
    """Green share of the mapped land cover inside each site and in the band around it (exact overlay)."""
    landcover = inputs.vector("landcover")
    band = shapely.difference(shapely.buffer(geoms, params["green_radius_m"]), geoms) if len(geoms) else geoms
    zones = np.concatenate([geoms, np.asarray(band, dtype=object)])
    areas = zone_surface_areas(zones, landcover.geometry.values, landcover["class"].to_numpy(), None, None)
    pct = percent(areas["green_m2"], areas["mapped_m2"], DECIMALS)
    n = len(geoms)
    table["green_pct_site"], table["green_pct_300m"] = pct[:n], pct[n:]
    counts["landcover_polygons"] = len(landcover)


def _parks(inputs: LayerInputs, params: Mapping[str, Any]) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    if "parks" in inputs.sources:
        return select_parks(inputs.vector("parks"), params["min_park_area_m2"])
    return derive_parks(inputs.vector("landcover"), classes=PARK_CLASSES, public_unknown=params["park_public_unknown"],
                        merge_gap_m=params["park_merge_gap_m"], min_area_m2=params["min_park_area_m2"])


def sample_points(geom: shapely.Geometry, spacing_m: float) -> np.ndarray:
    """``(n, 2)`` centres of a ``spacing_m`` lattice (anchored at multiples of the spacing) inside ``geom``.

    A site smaller than one lattice cell gets its point on surface.
    """
    minx, miny, maxx, maxy = geom.bounds
    xs = np.arange(np.floor(minx / spacing_m), np.ceil(maxx / spacing_m)) * spacing_m + spacing_m / 2
    ys = np.arange(np.floor(miny / spacing_m), np.ceil(maxy / spacing_m)) * spacing_m + spacing_m / 2
    gx, gy = np.meshgrid(xs, ys)
    inside = shapely.contains_xy(geom, gx, gy)
    if not inside.any():
        return shapely.get_coordinates(shapely.point_on_surface(geom))
    return np.column_stack([gx[inside], gy[inside]])


def _park_walk(inputs: LayerInputs, geoms: np.ndarray, params: Mapping[str, Any], table: pd.DataFrame,
               counts: Counter[str], notes: list[str]) -> None:
    parks, park_counts = _parks(inputs, params)
    counts.update(park_counts)
    pts = [sample_points(g, params["sample_spacing_m"]) for g in geoms]
    owner = np.concatenate([np.full(len(p), k) for k, p in enumerate(pts)]) if pts else np.empty(0, dtype=int)
    xy = np.vstack(pts) if pts else np.empty((0, 2))
    counts["park_sample_points"] = len(xy)
    dist, _, method = nearest_by_walking(
        inputs.sources.get("streets"), xy, parks.geometry.values, access_m=params["park_access_m"],
        tolerance_m=params["network_tolerance_m"], node_crossings=params["network_node_crossings"],
        what="park", column="park_walk_share_pct", decimals=DECIMALS, counts=counts, notes=notes,
    )
    within = np.nan_to_num(dist, nan=np.inf) <= params["max_park_distance_m"]
    n = len(geoms)
    table["park_walk_share_pct"] = percent(np.bincount(owner, weights=within, minlength=n),
                                           np.bincount(owner, minlength=n), DECIMALS)
    counts["parks_used"] = len(parks)
    notes.append(f"park walk: {method}")


def _amenities(inputs: LayerInputs, geoms: np.ndarray, params: Mapping[str, Any], table: pd.DataFrame,
               counts: Counter[str], notes: list[str]) -> None:
    amenities = inputs.vector("amenities")
    kind = amenity_kind(amenities)
    streets = inputs.sources.get("streets")
    net = None
    if streets is not None and len(streets):
        net = StreetNetwork.from_lines(streets.geometry.values, params["network_tolerance_m"],
                                       params["network_node_crossings"])
    else:
        notes.append("no street network: the distances to facilities are straight lines from the site's edge")
    for t in AMENITY_TYPES:
        points = amenities.geometry.values[kind == t]
        counts[f"amenities_{t}"] = len(points)
        if len(points) == 0:
            notes.append(f"no amenity of type {t} within reach: dist_{t}_m is null (scores 0)")
        dist = distances_from_areas(net, geoms, points, access_m=params["amenity_access_m"],
                                    max_m=params["amenity_max_distance_m"])
        table[f"dist_{t}_m"] = np.round(dist, DECIMALS)


def _vacant_near(vacancy: LayerResult, geoms: np.ndarray, params: Mapping[str, Any],
                 counts: Counter[str]) -> pd.arrays.IntegerArray:
    """Vacant dwellings within ``vacancy_radius_m`` of each site, from layer ``vacancy``'s published squares
    (``layers.vacancy_tables.published_vacant_dwellings``)."""
    grid = vacancy.vectors[GRID_OUTPUT]
    counts["vacancy_squares_read"] = len(grid)
    counts["vacancy_squares_suppressed"] = int(pd.to_numeric(grid[VACANT_DWELLINGS], errors="coerce").isna().sum())
    discs = shapely.buffer(geoms, params["vacancy_radius_m"]) if len(geoms) else geoms
    return pd.array(published_vacant_dwellings(grid, discs), dtype="Int64")


def _flood(flood: Raster, geoms: np.ndarray, params: Mapping[str, Any], table: pd.DataFrame) -> None:
    mean, top, wet = (np.full(len(geoms), np.nan) for _ in range(3))
    for k, geom in enumerate(geoms):
        values = cells_in(flood, geom)
        if params["flood_nodata_is_dry"]:
            values = np.nan_to_num(values, nan=0.0)
        values = values[np.isfinite(values)]
        if len(values):
            mean[k], top[k], wet[k] = values.mean(), values.max(), 100.0 * (values > 0).mean()
    table["flood_depth_mean_m"] = np.round(mean, 2)
    table["flood_depth_max_m"] = np.round(top, 2)
    table["flood_share_pct"] = np.round(wet, DECIMALS)


def _check_margin(sites: gpd.GeoDataFrame, bounds: tuple[float, float, float, float], params: Mapping[str, Any],
                  counts: Counter[str], notes: list[str]) -> None:
    """Note sites sticking out of the extent by more than ``site_margin_m`` (their inputs may be cut short)."""
    if sites.empty:
        return
    b = sites.geometry.bounds.to_numpy()
    out = np.maximum.reduce([bounds[0] - b[:, 0], bounds[1] - b[:, 1], b[:, 2] - bounds[2], b[:, 3] - bounds[3],
                             np.zeros(len(b))])
    over = out > params["site_margin_m"]
    counts["sites_beyond_margin"] = int(over.sum())
    if over.any():
        notes.append(f"{int(over.sum())} site(s) stick out of the extent by more than site_margin_m "
                     f"({params['site_margin_m']:g} m): their enrichment may miss inputs beyond it")


def _margin(params: Mapping[str, Any]) -> float:
    return float(params["site_margin_m"])


def _landcover_reach(params: Mapping[str, Any]) -> float:
    """Land cover of the green band, and of derived parks within a walk of the site."""
    return max(params["green_radius_m"], params["max_park_distance_m"] + params["park_access_m"]) + _margin(params)


def _street_reach(params: Mapping[str, Any]) -> float:
    """Streets of the longest walk: to a park, or to a facility."""
    return max(params["max_park_distance_m"] + params["park_access_m"],
               params["amenity_max_distance_m"] + params["amenity_access_m"]) + _margin(params)


def _park_reach(params: Mapping[str, Any]) -> float:
    return float(params["max_park_distance_m"] + params["park_access_m"]) + _margin(params)


def _amenity_reach(params: Mapping[str, Any]) -> float:
    return float(params["amenity_max_distance_m"]) + _margin(params)


METHOD = (__doc__ or "").split("\n\n", 1)[1].strip()

LAYER = LayerDef(
    id=LAYER_ID,
    title={"nl": "Woningbouwlocaties", "en": "Housing sites"},
    description={
        "nl": "Woningbouwlocaties uit de plancapaciteitsmonitor met per locatie hittestress, groen, een park "
        "op loopafstand, de looproute naar supermarkt, basisschool, huisarts en ov-halte, leegstaande woningen "
        "in de buurt (afgerond en onderdrukt) en overstromingsdiepte, plus een geschiktheidsscore (multicriteria, "
        "elk criterium apart zichtbaar).",
        "en": "Housing sites from the plan-capacity monitor with per site heat stress, green, a park within "
        "walking distance, the walk to a supermarket, primary school, GP and stop, vacant dwellings nearby "
        "(rounded and suppressed) and flood depth, plus a suitability score (multi-criteria, each criterion "
        "shown on its own).",
    },
    kind="vector",
    inputs=("housing_sites", "landcover"),
    optional_inputs=("streets", "parks", "amenities", "flood"),
    depends=(HEAT_LAYER,),
    optional_depends=(VACANCY_LAYER,),
    params=PARAMS,
    outputs=(
        Output(LAYER_ID, "vector", "one polygon per site: monitor fields, " + ", ".join(ENRICHMENT_COLUMNS)
               + ", score_<criterion>, suitability (0-100), criteria_used"),
    ),
    style_id=LAYER_ID,
    code_version="1",
    compute=compute,
    references=(MALCZEWSKI_1999, VOOGD_1983, EASTMAN_1999,
                "Provincie Gelderland / ABF Research: Monitor Plancapaciteit (plan statuses, hard and soft capacity)"),
    reach=(
        Reach("housing_sites", fixed(0.0), "the sites whose point on surface lies in the extent (whole)"),
        Reach("landcover", _landcover_reach, "the green band around a site and parks derived within its walk "
              "(plus site_margin_m: a site may stick out of the extent)"),
        Reach("streets", _street_reach, "the walk to a park or a facility (plus site_margin_m)", "network"),
        Reach("parks", _park_reach, "parks within the walk (plus site_margin_m)", "network"),
        Reach("amenities", _amenity_reach, "facilities within the longest walk (plus site_margin_m)", "network"),
        Reach("flood", _margin, "flood depth on the site's cells (plus site_margin_m)"),
    ),
    minzoom=11,
    maxzoom=16,
)
