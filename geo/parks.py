"""Public green spaces ("parks") for the '300' of the 3-30-300 rule.

Either a municipality's own ``parks`` source, or derived from land cover:
polygons of the green classes that are public are grouped when they touch
(or lie within ``merge_gap_m`` of each other), each group is one park whose
geometry is the union of its polygons and whose area is that union's area
(a gap between two members is not counted as park). Parks smaller than
``min_area_m2`` (default 5,000 m2 = 0.5 ha, WHO Regional Office for Europe
2017) are dropped.

Geometries are in a metres CRS (RD New).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from geo.fractions import public_flags

#: Land-cover classes that can make up a park (agriculture is not publicly accessible green).
PARK_CLASSES: tuple[str, ...] = ("green_low", "green_shrub", "green_trees")
#: Columns of a park table.
PARK_COLUMNS = ["id", "name", "area_m2", "origin"]


def derive_parks(
    landcover: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] = PARK_CLASSES,
    include_unknown_public: bool = False,
    merge_gap_m: float = 0.0,
    min_area_m2: float = 5000.0,
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Parks from public green land cover (touching polygons merged).

    Args:
        landcover: canonical land cover (``class``, ``public``).
        classes: classes that count as park green.
        include_unknown_public: treat polygons whose ``public`` is null as public.
        merge_gap_m: polygons closer than this (m) belong to one park; 0 = only touching ones.
        min_area_m2: smallest park (m2).

    Returns:
        Parks (``id``, ``name``, ``area_m2``, ``origin`` = ``landcover``) and counts for the
        build log (green polygons used, with unknown ``public``, groups, too small).
    """
    green = landcover[landcover["class"].isin(list(classes))]
    public = green["public"] if "public" in green.columns else None
    known, is_public = public_flags(public, len(green))
    use = is_public | (~known & include_unknown_public)
    geoms = green.geometry.values[use]
    counts = {
        "green_polygons": len(green),
        "green_polygons_public_unknown": int((~known).sum()),
        "green_polygons_used": int(use.sum()),
    }
    if len(geoms) == 0:
        counts.update(parks_derived=0, parks_too_small=0)
        return _empty(landcover.crs), counts
    tree = shapely.STRtree(geoms)
    if merge_gap_m > 0:
        a, b = tree.query(geoms, predicate="dwithin", distance=merge_gap_m)
    else:
        a, b = tree.query(geoms, predicate="intersects")
    adjacency = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(geoms), len(geoms)))
    n, label = connected_components(adjacency, directed=False)
    merged = gpd.GeoDataFrame({"group": label}, geometry=np.asarray(geoms), crs=landcover.crs).dissolve("group")
    area = merged.geometry.area.to_numpy()
    big = area >= min_area_m2
    counts.update(parks_derived=int(n), parks_too_small=int((~big).sum()))
    out = gpd.GeoDataFrame(
        {
            "id": [f"groen-{i + 1}" for i in range(int(big.sum()))],
            "name": pd.array([None] * int(big.sum()), dtype="string"),
            "area_m2": area[big].round(1),
            "origin": "landcover",
        },
        geometry=merged.geometry.values[big],
        crs=landcover.crs,
    )
    return out, counts


def select_parks(parks: gpd.GeoDataFrame, min_area_m2: float) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Parks of a ``parks`` source of at least ``min_area_m2`` (m2), in the park table columns."""
    area = parks.geometry.area.to_numpy()
    big = area >= min_area_m2
    name = parks["name"] if "name" in parks.columns else pd.Series([None] * len(parks), index=parks.index)
    out = gpd.GeoDataFrame(
        {
            "id": parks["id"].astype(str).to_numpy()[big],
            "name": pd.array(name.to_numpy()[big], dtype="string"),
            "area_m2": area[big].round(1),
            "origin": "parks",
        },
        geometry=parks.geometry.values[big],
        crs=parks.crs,
    )
    return out, {"parks_given": len(parks), "parks_too_small": int((~big).sum())}


def _empty(crs: object) -> gpd.GeoDataFrame:
    columns = {c: pd.Series(dtype="float64" if c == "area_m2" else "string") for c in PARK_COLUMNS}
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
