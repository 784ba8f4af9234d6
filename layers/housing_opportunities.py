"""Layers ``housing-opportunities`` (public) and ``housing-opportunities-vacant`` (internal): places for homes.

Method (docs/method-housing.md, "Housing opportunities"):

* ``housing-opportunities`` (public), output ``paved-plots``: paved land that
  carries no building. Land cover of class ``paved_other`` that is not part of
  a road (no BGT road ``function``, and a source type not in
  ``excluded_source_types``: road verges, rail, bridges, tunnels) is merged
  into plots where polygons touch; a plot with a building (land cover
  ``building`` or a ``buildings`` footprint) within ``building_gap_m`` is the
  yard or forecourt of that building and is dropped. A plot is kept when its
  area is at least ``min_area_m2`` and so is its part wider than
  ``min_width_m`` (a morphological opening: footpaths and strips drop out).
  The output holds land, no addresses.
* ``housing-opportunities-vacant`` (internal only), output
  ``vacant-buildings``: buildings with structural vacancy, i.e. at least
  ``min_structural`` addresses vacant for more than three years (``geo.vacancy``,
  the same reference date and history rules as layer ``vacancy``), aggregated
  to the building: its footprint, the addresses it has, vacant and
  structurally vacant, by use group, and the earliest vacancy start. Vacancy
  per building can point at a household, so this layer is personal data under
  the GDPR: it is always ``internal`` (``LayerDef.internal_only``), as is
  ``vacancy-addresses``. It is a layer of its own because access is decided per
  layer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.vacancy import ALL_USE_GROUPS, LONG, vacancy_status
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Param, Reach, fixed, param_reach
from layers.dwellings import zone_index
from layers.green_inputs import log_metadata, percent
from layers.vacancy import SHARED_PARAMS

PLOTS_ID = "housing-opportunities"
VACANT_ID = "housing-opportunities-vacant"
#: Columns of the paved plots, in order.
PLOT_COLUMNS = ["id", "area_m2", "wide_area_m2", "source_classes", "public_pct", "buurt_code"]
#: Columns of the vacant buildings, in order.
BUILDING_COLUMNS = ["building_id", "addresses_in_use", "vacant", "structural_vacant",
                    *(f"structural_{g}" for g in ALL_USE_GROUPS), "vacant_since_earliest"]
DECIMALS = 1
#: How far (m) a building whose point on surface lies in the extent may stick out of it (a large factory hall).
BUILDING_REACH_M = 300.0
#: Source types (``source_class`` before the colon) of paved land that belongs to roads, rail or works.
ROAD_SOURCE_TYPES = ["wegdeel", "ondersteunendwegdeel", "spoor", "kunstwerkdeel", "overbruggingsdeel", "tunneldeel"]
MONITOR_SOURCE = (
    "Ministerie van BZK (2022), Nationale Woon- en Bouwagenda; Handreiking transformatie leegstaand vastgoed "
    "(Expertteam Woningbouw / RVO): structurally vacant buildings and unused paved land as places for homes"
)


def _source_type(landcover: pd.DataFrame) -> pd.Series:
    return landcover["source_class"].astype("string").fillna("").str.split(":").str[0]


def compute_plots(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Paved plots without a building, at least ``min_area_m2`` large and ``min_width_m`` wide (public).

    Args:
        inputs: ``landcover`` (required), ``buildings`` (optional), region CRS (metres); zones (buurten)
            when given name the buurt of each plot.
        params: ``min_area_m2`` (m2), ``min_width_m`` (m), ``building_gap_m`` (m), ``excluded_source_types``.
        ctx: unused.

    Returns:
        vector ``paved-plots`` (polygons, ``PLOT_COLUMNS``).
    """
    counts: Counter[str] = Counter()
    area = inputs.extent.polygon()
    landcover = inputs.vector("landcover")
    paved = landcover[(landcover["class"] == "paved_other").to_numpy(dtype=bool)]
    function = paved["function"] if "function" in paved.columns else pd.Series(pd.NA, index=paved.index)
    road = function.notna().to_numpy(dtype=bool) | _source_type(paved).isin(
        list(params["excluded_source_types"])).to_numpy(dtype=bool)
    counts["paved_other_polygons"], counts["paved_other_road_parts"] = len(paved), int(road.sum())
    paved = paved[~road]
    geoms = np.asarray(paved.geometry.values, dtype=object)
    plots = shapely.get_parts(shapely.union_all(geoms)) if len(geoms) else np.empty(0, dtype=object)
    # A plot belongs to the extent holding its point on surface.
    plots = plots[shapely.intersects(area, shapely.point_on_surface(plots))] if len(plots) else plots
    counts["paved_plots"] = len(plots)
    built = [landcover.geometry.values[(landcover["class"] == "building").to_numpy(dtype=bool)]]
    if "buildings" in inputs.sources:
        built.append(inputs.vector("buildings").geometry.values)
    footprints = np.concatenate([np.asarray(b, dtype=object) for b in built])
    carries = np.zeros(len(plots), dtype=bool)
    if len(footprints) and len(plots):
        pi, _ = shapely.STRtree(footprints).query(plots, predicate="dwithin", distance=params["building_gap_m"])
        carries[pi] = True
    counts["paved_plots_with_building"] = int(carries.sum())
    half = params["min_width_m"] / 2
    wide = shapely.buffer(shapely.buffer(plots, -half, join_style="mitre"), half, join_style="mitre") if (
        half > 0 and len(plots)) else plots
    wide_area = shapely.area(wide) if len(plots) else np.empty(0)
    big = ~carries & (shapely.area(plots) >= params["min_area_m2"]) & (wide_area >= params["min_area_m2"])
    counts["paved_plots_too_small_or_narrow"] = int((~carries & ~big).sum())
    kept = plots[big]
    table = _plot_table(kept, wide_area[big], paved, inputs)
    counts["plots"] = len(table)
    return LayerResult(
        vectors={"paved-plots": gpd.GeoDataFrame(table, geometry=kept, crs=inputs.crs)},
        metadata={"method": METHOD, "summary": {"plots": len(table), "area_m2": round(float(table["area_m2"].sum()))},
                  **log_metadata(counts, [])},
    )


def _plot_table(plots: np.ndarray, wide_area: np.ndarray, paved: gpd.GeoDataFrame,
                inputs: LayerInputs) -> pd.DataFrame:
    n = len(plots)
    geoms = np.asarray(paved.geometry.values, dtype=object)
    pi, li = np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    if n and len(geoms):
        pi, li = shapely.STRtree(geoms).query(plots, predicate="intersects")
    piece = shapely.area(shapely.intersection(plots[pi], geoms[li])) if len(pi) else np.empty(0)
    public = paved["public"].astype("boolean").to_numpy(dtype=object, na_value=None) if "public" in paved.columns \
        else np.full(len(paved), None, dtype=object)
    is_public = np.array([v is True for v in public[li]], dtype=bool)
    known = np.array([v is not None for v in public[li]], dtype=bool)
    public_m2 = np.bincount(pi, weights=piece * is_public, minlength=n)
    known_m2 = np.bincount(pi, weights=piece * known, minlength=n)
    source = paved["source_class"].astype("string").fillna("?").to_numpy(dtype=object)
    listed: list[list[str]] = [[] for _ in range(n)]
    for p, s in zip(pi.tolist(), source[li].tolist(), strict=True):
        if s not in listed[p]:
            listed[p].append(s)
    codes: list[str | None] = [None] * n
    if inputs.zones is not None and len(inputs.zones) and n:
        idx = zone_index(shapely.get_coordinates(shapely.point_on_surface(plots)), inputs.zones)
        names = inputs.zones["code"].astype(str).tolist()
        codes = [names[i] if i >= 0 else None for i in idx.tolist()]
    return pd.DataFrame({
        "id": pd.array([f"plot-{i + 1}" for i in range(n)], dtype="string"),
        "area_m2": np.round(shapely.area(plots), DECIMALS) if n else np.empty(0),
        "wide_area_m2": np.round(wide_area, DECIMALS),
        "source_classes": pd.array([", ".join(sorted(s)) for s in listed], dtype="string"),
        "public_pct": percent(public_m2, known_m2, DECIMALS),
        "buurt_code": pd.array(codes, dtype="string"),
    })[PLOT_COLUMNS]


def compute_vacant(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Buildings with at least ``min_structural`` structurally vacant addresses (internal only).

    Args:
        inputs: ``buildings``, ``addresses`` and ``occupancy``; region CRS (metres).
        params: ``reference_date``, ``history_start`` (as layer ``vacancy``), ``min_structural``.
        ctx: unused.

    Returns:
        vector ``vacant-buildings`` (building footprints, ``BUILDING_COLUMNS``).
    """
    counts: Counter[str] = Counter()
    area = inputs.extent.polygon()
    buildings = inputs.vector("buildings")
    shapely.prepare(area)
    buildings = buildings[shapely.intersects(area, shapely.point_on_surface(buildings.geometry.values))]
    addresses = inputs.vector("addresses")
    addresses = addresses[addresses["building_id"].astype(str).isin(set(buildings["id"].astype(str)))]
    history = str(params["history_start"]).strip()
    reference = str(params["reference_date"]).strip() or dt.datetime.now(dt.UTC).date().isoformat()
    status = vacancy_status(addresses, inputs.sources["occupancy"], dt.date.fromisoformat(reference),
                            history_start=dt.date.fromisoformat(history) if history else None)
    status = status.assign(building_id=status["building_id"].astype(str))
    in_use = status[~status["out_of_use"].to_numpy(dtype=bool)]
    vacant = status[status["vacant"].to_numpy(dtype=bool)]
    structural = vacant[(vacant["duration_class"] == LONG).to_numpy(dtype=bool)]
    per = pd.DataFrame({
        "addresses_in_use": in_use.groupby("building_id").size(),
        "vacant": vacant.groupby("building_id").size(),
        "structural_vacant": structural.groupby("building_id").size(),
    }).fillna(0).astype(np.int64)
    for g in ALL_USE_GROUPS:
        per[f"structural_{g}"] = structural[structural["use_group"] == g].groupby("building_id").size()
    per = per.fillna(0)
    earliest = structural.groupby("building_id")["vacant_since"].min()
    per = per[per["structural_vacant"] >= params["min_structural"]]
    footprint = buildings.assign(id=buildings["id"].astype(str)).set_index("id").geometry
    per = per[per.index.isin(footprint.index)]
    table = per.reset_index(names="building_id")
    for col in BUILDING_COLUMNS[1:-1]:
        table[col] = table[col].astype(np.int64)
    table["building_id"] = table["building_id"].astype("string")
    table["vacant_since_earliest"] = pd.array(
        [None if pd.isna(earliest.get(b)) else earliest[b].date().isoformat() for b in per.index], dtype="string")
    counts.update(buildings=len(buildings), addresses=len(addresses), vacant=len(vacant),
                  structural_vacant=len(structural), buildings_out=len(table))
    out = gpd.GeoDataFrame(table[BUILDING_COLUMNS], geometry=footprint.loc[per.index].values, crs=inputs.crs)
    return LayerResult(
        vectors={"vacant-buildings": out},
        metadata={"method": METHOD, "reference_date": reference,
                  "personal_data": "GDPR: internal only, never published", **log_metadata(counts, [])},
    )


METHOD = (__doc__ or "").split("\n\n", 1)[1].strip()

PLOTS_LAYER = LayerDef(
    id=PLOTS_ID,
    title={"nl": "Kansen voor woningbouw: verharde kavels", "en": "Housing opportunities: paved plots"},
    description={
        "nl": "Verhard terrein zonder gebouw dat geen weg is, groter dan de minimale kavelmaat: plekken waar "
        "woningen zouden kunnen komen.",
        "en": "Paved land without a building that is not a road, above a minimum plot size: places where homes "
        "could go.",
    },
    kind="vector",
    inputs=("landcover",),
    optional_inputs=("buildings", "neighbourhoods"),
    params=(
        Param("min_area_m2", 1000.0, "m2", "smallest plot", "project choice: room for about 4-8 terraced homes "
              "with gardens (125-250 m2 a plot)", minimum=1.0),
        Param("min_width_m", 15.0, "m", "a plot must have a part at least this wide with the area (0: no check)",
              "project choice: the depth of one terraced house and its front garden; drops footpaths and strips",
              minimum=0.0, maximum=200.0),
        Param("building_gap_m", 1.0, "m", "a building this close to a plot makes it that building's yard",
              "digitising tolerance between BGT objects", minimum=0.0, maximum=50.0),
        Param("excluded_source_types", ROAD_SOURCE_TYPES, "", "BGT object types of paved land that are never a "
              "plot", "roads, their verges, rail, bridges and tunnels (BGT IMGeo 2.1)"),
    ),
    outputs=(Output("paved-plots", "vector", "paved plots without a building: " + ", ".join(PLOT_COLUMNS)),),
    style_id=PLOTS_ID,
    code_version="1",
    compute=compute_plots,
    references=(MONITOR_SOURCE, "BGT IMGeo 2.1 (Geonovum): onbegroeid terreindeel, wegdeel"),
    reach=(
        Reach("landcover", fixed(0.0), "the paved polygons of the plots of the extent (whole features)"),
        Reach("buildings", param_reach("building_gap_m"), "buildings next to a plot"),
        Reach("neighbourhoods", fixed(0.0), "the buurt of each plot"),
    ),
    minzoom=12,
    maxzoom=16,
)

VACANT_LAYER = LayerDef(
    id=VACANT_ID,
    title={"nl": "Kansen voor woningbouw: structurele leegstand (intern)",
           "en": "Housing opportunities: structural vacancy (internal)"},
    description={
        "nl": "Gebouwen met structurele leegstand (langer dan 3 jaar, administratief): per pand de adressen, "
        "leegstaand en structureel leegstaand naar gebruik; persoonsgegevens (AVG), alleen intern.",
        "en": "Buildings with structural vacancy (over 3 years, administrative): per building its addresses, "
        "vacant and structurally vacant by use; personal data (GDPR), internal only.",
    },
    kind="vector",
    inputs=("buildings", "addresses", "occupancy"),
    params=(
        *SHARED_PARAMS,
        Param("min_structural", 1, "addresses", "structurally vacant addresses that make a building a candidate",
              "project choice: one is enough to start a conversation with the owner", minimum=1),
    ),
    outputs=(Output("vacant-buildings", "vector",
                    "buildings with structural vacancy: " + ", ".join(BUILDING_COLUMNS)),),
    style_id=VACANT_ID,
    code_version="1",
    compute=compute_vacant,
    access="internal",
    internal_only=True,
    references=(MONITOR_SOURCE, "PBL: structural vacancy is vacancy of more than three years"),
    reach=(
        Reach("buildings", fixed(0.0), "the buildings whose point on surface lies in the extent"),
        Reach("addresses", fixed(BUILDING_REACH_M), "the addresses of those buildings (they lie in their "
              "building, which may stick out of the extent)"),
        Reach("occupancy", fixed(0.0), "a table: read whole, joined on address_id"),
    ),
    minzoom=13,
    maxzoom=16,
)
