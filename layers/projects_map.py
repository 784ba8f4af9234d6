"""Layer ``projects-map``: housing sites and civil works in one map, with the pairs that meet in space and time.

Method (docs/method-housing.md, "Projects map"):

* Features: every housing site (``housing_sites`` source, category
  ``woningbouw``, kind = its plan status, years = its phasing years
  ``first_year``-``last_year``) and every project (``projects`` source,
  category ``project``, kind = its kind, years = ``start_year``-``end_year``),
  each reported by the extent holding its point on surface.
* A pair meets in space when the two geometries are at most ``distance_m``
  apart (0: they touch or overlap), and in time when their year ranges share a
  year, allowing ``time_margin_years`` between them (a sewer renewal finishing the
  year before building starts is still a pair to line up). A site without
  phasing has no years: its pairs meet in space only (``overlap_time`` null).
* Pairs of a site and a project and of two projects are compared; two sites
  only when ``compare_sites`` is set (sites building at the same time are the
  plan, not a clash).
* Outputs: the features with the number of pairs they are in (in space, in space
  and time) and the ids of the others, and one point per pair (the middle of
  the shortest line between them) with both ids, the distance, the shared years
  and the flags ``overlap_space`` and ``overlap_time``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Param, Reach, param_reach
from layers.green_inputs import log_metadata

LAYER_ID = "projects-map"
SITE, PROJECT = "woningbouw", "project"
#: Columns of the feature output, in order.
FEATURE_COLUMNS = ["id", "name", "category", "kind", "start_year", "end_year", "planned_dwellings",
                   "pairs_space", "pairs_space_time", "pair_ids"]
#: Columns of the pair output, in order.
PAIR_COLUMNS = ["a_id", "a_name", "a_category", "b_id", "b_name", "b_category", "distance_m", "shared_years",
                "overlap_space", "overlap_time"]
DECIMALS = 1


def features(sites: gpd.GeoDataFrame, projects: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Sites and projects in the common columns (years as nullable integers)."""
    def part(frame: gpd.GeoDataFrame, category: str, kind: str, start: str, end: str) -> pd.DataFrame:
        return pd.DataFrame({
            "id": frame["id"].astype("string").to_numpy(), "name": frame["name"].astype("string").to_numpy(),
            "category": category, "kind": frame[kind].astype("string").to_numpy(),
            "start_year": pd.array(frame[start], dtype="Int64"), "end_year": pd.array(frame[end], dtype="Int64"),
            "planned_dwellings": pd.array(frame["planned_dwellings"] if "planned_dwellings" in frame.columns
                                          else [pd.NA] * len(frame), dtype="Int64"),
        })
    table = pd.concat([part(sites, SITE, "status", "first_year", "last_year"),
                       part(projects, PROJECT, "kind", "start_year", "end_year")], ignore_index=True)
    for col in ("id", "name", "category", "kind"):
        table[col] = table[col].astype("string")
    geoms = np.concatenate([np.asarray(sites.geometry.values, dtype=object),
                            np.asarray(projects.geometry.values, dtype=object)])
    return gpd.GeoDataFrame(table, geometry=geoms, crs=crs)


def pairs(frame: gpd.GeoDataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Every compared pair at most ``distance_m`` apart: indices ``a`` < ``b``, distance, time overlap.

    Returns:
        columns ``a``, ``b`` (rows of ``frame``), ``distance_m``, ``overlap_time`` (nullable bool: null
        when either has no years) and ``shared_years`` (``"2027-2028"``, null when none).
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=params["distance_m"])
    keep = a < b
    a, b = a[keep], b[keep]
    cat = frame["category"].to_numpy(dtype=object)
    if not params["compare_sites"]:
        both_sites = (cat[a] == SITE) & (cat[b] == SITE)
        a, b = a[~both_sites], b[~both_sites]
    start = frame["start_year"].to_numpy(dtype=float, na_value=np.nan)
    end = frame["end_year"].to_numpy(dtype=float, na_value=np.nan)
    lo, hi = np.maximum(start[a], start[b]), np.minimum(end[a], end[b])  # NaN: no years
    known = np.isfinite(lo) & np.isfinite(hi)
    margin = float(params["time_margin_years"])
    meets = known & (lo <= hi + margin)
    shared = [f"{int(x)}-{int(y)}" if k and x <= y else None for x, y, k in zip(lo, hi, known, strict=True)]
    return pd.DataFrame({
        "a": a, "b": b, "distance_m": np.round(shapely.distance(geoms[a], geoms[b]), DECIMALS),
        "overlap_time": pd.Series(meets, dtype="boolean").where(known, pd.NA).array,
        "shared_years": pd.array(shared, dtype="string"),
    })


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Sites and projects of the extent, and their pairs within ``distance_m``.

    Args:
        inputs: ``housing_sites`` (validated by ``geo.housing_sites``) and ``projects`` (``geo.projects``),
            read ``distance_m`` beyond the extent; region CRS (metres).
        params: ``distance_m`` (m), ``time_margin_years`` (years), ``compare_sites``.
        ctx: unused.

    Returns:
        vectors ``projects-map`` (``FEATURE_COLUMNS``) and ``overlaps`` (points, ``PAIR_COLUMNS``).
    """
    counts: Counter[str] = Counter()
    frame = features(inputs.vector("housing_sites"), inputs.vector("projects"), inputs.crs)
    area = inputs.extent.polygon()
    shapely.prepare(area)
    found = pairs(frame, params)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    a, b = found["a"].to_numpy(), found["b"].to_numpy()
    middle = shapely.line_interpolate_point(shapely.shortest_line(geoms[a], geoms[b]), 0.5, normalized=True)
    # A pair belongs to the extent holding its middle; a feature to the one holding its point on surface.
    pair_in = shapely.intersects(area, middle) if len(middle) else np.zeros(0, dtype=bool)
    feature_in = shapely.intersects(area, shapely.point_on_surface(geoms))
    both = found["overlap_time"].fillna(False).to_numpy(dtype=bool)
    n = len(frame)
    ends = np.concatenate([a, b])
    frame["pairs_space"] = np.bincount(ends, minlength=n).astype(np.int64)
    frame["pairs_space_time"] = np.bincount(ends[np.tile(both, 2)], minlength=n).astype(np.int64)
    ids = frame["id"].to_numpy(dtype=object)
    others: list[list[str]] = [[] for _ in range(n)]
    for i, j in zip(a[both].tolist(), b[both].tolist(), strict=True):
        others[i].append(str(ids[j]))
        others[j].append(str(ids[i]))
    frame["pair_ids"] = pd.array([", ".join(sorted(o)) or None for o in others], dtype="string")
    out = frame.loc[feature_in, [*FEATURE_COLUMNS, "geometry"]].reset_index(drop=True)
    names, cats = frame["name"].to_numpy(dtype=object), frame["category"].to_numpy(dtype=object)
    table = pd.DataFrame({
        "a_id": ids[a], "a_name": names[a], "a_category": cats[a], "b_id": ids[b], "b_name": names[b],
        "b_category": cats[b], "distance_m": found["distance_m"].to_numpy(), "shared_years": found["shared_years"],
        "overlap_space": True, "overlap_time": found["overlap_time"],
    })
    for col in ("a_id", "a_name", "a_category", "b_id", "b_name", "b_category"):
        table[col] = table[col].astype("string")
    overlaps = gpd.GeoDataFrame(table[PAIR_COLUMNS], geometry=middle, crs=inputs.crs)[pair_in].reset_index(drop=True)
    counts.update(sites=int((out["category"] == SITE).sum()), projects=int((out["category"] == PROJECT).sum()),
                  pairs_space=len(overlaps), pairs_space_time=int(overlaps["overlap_time"].fillna(False).sum()))
    return LayerResult(
        vectors={LAYER_ID: out, "overlaps": overlaps},
        metadata={"method": METHOD, "distance_m": params["distance_m"], **log_metadata(counts, [])},
    )


METHOD = (__doc__ or "").split("\n\n", 1)[1].strip()

LAYER = LayerDef(
    id=LAYER_ID,
    title={"nl": "Projectenkaart", "en": "Projects map"},
    description={
        "nl": "Woningbouwlocaties en projecten in de openbare ruimte (riolering, wegen) op één kaart, met de paren "
        "die elkaar raken in ruimte (binnen de afstand) en tijd (fasering), zodat ze op elkaar kunnen worden "
        "afgestemd.",
        "en": "Housing sites and civil works in one map, with the pairs that meet in space (within the distance) "
        "and in time (phasing years), so they can be lined up.",
    },
    kind="vector",
    inputs=("housing_sites", "projects"),
    params=(
        Param("distance_m", 50.0, "m", "two features this close meet in space (0: only touching ones)",
              "project choice: a street with its pavements and a site entrance; works this close share a "
              "street and its traffic measures", minimum=0.0, maximum=5000.0),
        Param("time_margin_years", 0, "years", "years between two year ranges that still count as meeting in time",
              "0: they share a calendar year", minimum=0, maximum=10),
        Param("compare_sites", False, "", "also pair two housing sites",
              "sites building at the same time are the plan, not a clash"),
    ),
    outputs=(
        Output(LAYER_ID, "vector", "sites and projects: " + ", ".join(FEATURE_COLUMNS)),
        Output("overlaps", "vector", "one point per pair within distance_m: " + ", ".join(PAIR_COLUMNS)),
    ),
    style_id=LAYER_ID,
    code_version="1",
    compute=compute,
    references=("Gemeente Lochem (issue 13): an integrated map of housing plans and civil works",),
    reach=(
        Reach("housing_sites", param_reach("distance_m"), "sites within the distance of a feature of the extent"),
        Reach("projects", param_reach("distance_m"), "projects within the distance of a feature of the extent"),
    ),
    minzoom=11,
    maxzoom=16,
)
