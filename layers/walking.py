"""Walking: the distance from homes to the nearest target, and which land cover is walking space.

* :func:`nearest_by_walking`, shared by ``tree-3-30-300`` (parks) and
  ``cool-places``: the distance is straight from the address to the nearest
  street point, then along the streets (``geo.network.StreetNetwork``) to the
  nearest street point within ``access_m`` of a target. Without a street
  network it is the straight-line distance to the target's edge, and a note
  says so.
* :func:`walking_space`, used by ``heat-stress`` for route shade (Kluck et al.
  2020): public land cover of the walking classes whose BGT road function,
  where known, is a walking function (footpaths, pedestrian areas, home zones,
  cycle paths), never a carriageway (docs/method-heat-stress.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.network import StreetNetwork


def nearest_by_walking(
    streets: Any,
    xy: np.ndarray,
    targets: np.ndarray,
    *,
    access_m: float,
    tolerance_m: float,
    node_crossings: bool,
    what: str,
    column: str,
    decimals: int,
    counts: Counter[str],
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, str]:
    """Distance (m) and index of the nearest target per point, and how it was measured.

    Args:
        streets: GeoDataFrame of street centre lines (metres CRS), or None.
        xy: ``(n, 2)`` address coordinates.
        targets: shapely geometries of the targets.
        access_m: a street point this close to a target reaches it (m).
        tolerance_m: street ends this close are joined (``StreetNetwork.from_lines``).
        node_crossings: split crossing street segments into a node.
        what: the target in words, for the method text (``park``, ``cool place``).
        column: the output column, for the note when the distance is a straight line.
        decimals: rounding of the distances.
        counts: receives network and snapping counts.
        notes: receives a note when no street network is given.

    Returns:
        distances (NaN where no target is reachable), target index per point (-1
        where none), and a sentence on the method.
    """
    nan, none = np.full(len(xy), np.nan), np.full(len(xy), -1, dtype=np.intp)
    net = None
    if streets is not None and len(streets):
        net = StreetNetwork.from_lines(streets.geometry.values, tolerance_m, node_crossings)
    if net is not None and len(net.edge_len):
        n_parts, _ = net.components()
        counts["street_nodes"], counts["street_edges"], counts["street_components"] = (
            len(net.nodes), len(net.edge_len), n_parts,
        )
        counts["street_length_m"] = round(float(net.edge_len.sum()))
        method = (
            f"network: straight to the nearest street, then along the streets to a point within "
            f"{access_m:g} m of the {what}"
        )
        if len(targets) == 0 or len(xy) == 0:
            return nan, none, method
        dist, who, snap = net.distance_to_targets(xy, targets, access_m)
        counts["max_snap_distance_m"] = int(np.ceil(snap.distance_m.max()))
        return np.round(dist, decimals), who, method
    method = "straight line (no street network given)"
    notes.append(f"no street network: {column} is the straight-line distance to the {what}")
    if len(targets) == 0 or len(xy) == 0:
        return nan, none, method
    points = shapely.points(xy)
    pi, ki = shapely.STRtree(targets).query_nearest(points, all_matches=False)
    who = none.copy()
    who[pi] = ki
    return np.round(shapely.distance(points, targets[who]), decimals), who, method


def walking_space(
    landcover: gpd.GeoDataFrame,
    *,
    classes: Collection[str],
    functions: Collection[str],
    excluded_source_classes: Collection[str],
) -> np.ndarray:
    """Per land-cover polygon: whether it is walking space.

    A polygon is walking space when its ``class`` is one of ``classes``, it is
    not marked private (``public`` false; unknown counts as public), its
    ``source_class`` is not in ``excluded_source_classes`` (yards), and its
    BGT road function (``function``, wegdeel ``functie``), where known, is one
    of ``functions``. A carriageway (``rijbaan lokale weg``) is therefore left
    out while the ``voetpad`` beside it, a BGT wegdeel of its own, counts.
    Land cover without a function (squares mapped as onbegroeidterreindeel,
    sources without functions) counts by its class alone.

    Args:
        landcover: polygons with ``class``, ``public``, ``source_class`` and optionally ``function``.
        classes: land-cover classes that can be walking space.
        functions: BGT road functions that are walking space.
        excluded_source_classes: source classes that never are (``onbegroeidterreindeel:erf``).

    Returns:
        bool per polygon, in the order of ``landcover``.
    """
    in_class = landcover["class"].isin(list(classes)).to_numpy()
    private = landcover["public"].astype("boolean").fillna(True).eq(False).to_numpy()
    excluded = landcover["source_class"].isin(list(excluded_source_classes)).to_numpy()
    function = landcover["function"] if "function" in landcover else pd.Series(None, index=landcover.index)
    by_function = function.isna().to_numpy() | function.isin(list(functions)).to_numpy()
    return np.asarray(in_class & ~private & ~excluded & by_function, dtype=bool)
