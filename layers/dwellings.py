"""Dwellings and the zones they lie in: shared by every layer that reports per home.

``tree-3-30-300`` and ``cool-places`` (and the site assessment) count the same
homes: BAG addresses whose ``use`` includes the ``dwelling_use`` gebruiksdoel
(woonfunctie, BAG 2.0) and whose ``status`` is one of ``dwelling_statuses``,
inside the run's extent.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely


def dwellings(
    addresses: gpd.GeoDataFrame, params: Mapping[str, Any], area: shapely.Geometry, counts: Counter[str]
) -> gpd.GeoDataFrame:
    """Addresses that are dwellings in use, inside ``area`` (the extent), one point each.

    Args:
        addresses: canonical ``addresses`` (region CRS).
        params: ``dwelling_use`` (gebruiksdoel) and ``dwelling_statuses``.
        area: the extent's polygon; dwellings outside it are counted (``dwellings_outside_extent``).
        counts: the build log's counters.

    Returns:
        ``id``, ``building_id`` and a point per dwelling (the address point, or a point on its surface).
    """
    use = re.escape(str(params["dwelling_use"]).strip().lower())
    is_home = addresses["use"].astype("string").str.lower().str.contains(rf"(?:^|,)\s*{use}\s*(?:,|$)", regex=True)
    in_use = addresses["status"].astype("string").isin(list(params["dwelling_statuses"]))
    chosen = addresses[(is_home.fillna(False) & in_use.fillna(False)).to_numpy(dtype=bool)]
    counts["addresses"] += len(addresses)
    counts["dwellings_not_in_use"] += int((is_home.fillna(False) & ~in_use.fillna(False)).sum())
    points = shapely.point_on_surface(chosen.geometry.values)
    shapely.prepare(area)
    inside = shapely.intersects(area, points)
    counts["dwellings_outside_extent"] += int((~inside).sum())
    counts["dwellings"] += int(inside.sum())
    out = chosen[["id", "building_id"]][inside].copy()
    return gpd.GeoDataFrame(out, geometry=points[inside], crs=addresses.crs).reset_index(drop=True)


def zone_index(xy: np.ndarray, zones: gpd.GeoDataFrame, counts: Counter[str] | None = None,
               counter: str = "dwellings_outside_neighbourhoods") -> np.ndarray:
    """Index (row of ``zones``) of the zone containing each point, lowest on a shared border; -1 outside all.

    Args:
        xy: ``(n, 2)`` point coordinates (region CRS).
        zones: polygons, index 0..n-1.
        counts: when given, the points outside every zone are added under ``counter``.
    """
    out = np.full(len(xy), -1, dtype=np.intp)
    if len(zones) and len(xy):
        pi, bi = shapely.STRtree(zones.geometry.values).query(shapely.points(xy), predicate="intersects")
        order = np.lexsort((bi, pi))
        first = np.r_[True, pi[order][1:] != pi[order][:-1]]
        out[pi[order][first]] = bi[order][first]
    if counts is not None:
        counts[counter] += int((out < 0).sum())
    return out


def neighbourhood_frame(neighbourhoods: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Whole CBS buurten (``code``, ``name`` as strings, index 0..n-1), not clipped to the run."""
    frame = neighbourhoods[["code", "name", neighbourhoods.geometry.name]].copy()
    frame["code"] = frame["code"].astype("string")
    frame["name"] = frame["name"].astype("string")
    return frame.reset_index(drop=True)
