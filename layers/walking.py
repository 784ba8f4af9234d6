"""Walking distance from homes to the nearest target (park, cool place) over the street network.

Shared by ``tree-3-30-300`` (parks) and ``cool-places``: the distance is
straight from the address to the nearest street point, then along the streets
(``geo.network.StreetNetwork``) to the nearest street point within
``access_m`` of a target. Without a street network it is the straight-line
distance to the target's edge, and a note says so.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
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
