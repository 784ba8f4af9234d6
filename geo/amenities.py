"""Walking distance from areas (housing sites) to the nearest facility of a type (``amenities`` source).

The walk starts anywhere on the street network within ``access_m`` of the
area (its edge, or a street through it), runs along the streets
(``geo.network.StreetNetwork``) and ends with the straight leg from the
nearest street point to the facility. Because the street graph is
undirected, this is the walk of ``StreetNetwork.distance_to_targets`` from
each facility to the area, taken in reverse: one Dijkstra run per area gives
the distance to every facility at once. A facility inside the area is at 0 m.
An area with no street within ``access_m`` (a site in the fields) starts its
walk at its nearest street point, and the straight leg to it counts.
Without a street network the distance is the straight line from the area's
edge to the facility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.network import StreetNetwork

#: Margin (m) added to the distance from a site to its nearest street so that street point lies in its access zone.
LEG_EPSILON_M = 1e-6


def amenity_kind(frame: pd.DataFrame) -> np.ndarray:
    """``amenities.type`` normalised: lower case, stripped, spaces as underscores (``Primary school``)."""
    text = frame["type"].astype("string").fillna("").str.strip().str.lower().str.replace(r"\s+", "_", regex=True)
    return text.to_numpy(dtype=object)


def distances_from_areas(
    net: StreetNetwork | None,
    areas: np.ndarray,
    points: np.ndarray,
    *,
    access_m: float,
    max_m: float,
) -> np.ndarray:
    """Walking distance (m) from each area to its nearest point; NaN when none is within ``max_m``.

    Args:
        net: the street network, or None for straight-line distances.
        areas: polygons (metres CRS).
        points: facility points (same CRS).
        access_m: a street point this close to an area is where the walk leaves it (m).
        max_m: longest distance reported (m); the inputs are read only this far (the layer's reach).

    Returns:
        one distance per area.
    """
    areas = np.asarray(areas, dtype=object)
    points = np.asarray(points, dtype=object)
    out = np.full(len(areas), np.nan)
    if len(areas) == 0 or len(points) == 0:
        return out
    inside = np.zeros(len(areas), dtype=bool)
    ai, _ = shapely.STRtree(points).query(areas, predicate="intersects")
    inside[ai] = True
    if net is None or len(net.edge_len) == 0:
        ai, pi = shapely.STRtree(points).query_nearest(areas, all_matches=False)
        out[ai] = shapely.distance(areas[ai], points[pi])
    else:
        xy = shapely.get_coordinates(shapely.point_on_surface(points))
        _, nearest = net.tree.query_nearest(areas, all_matches=False, return_distance=True)
        for k, area in enumerate(areas):
            if inside[k]:
                continue
            # No street within access_m (a site in the fields): the walk starts at the nearest street
            # point, and the straight leg from the site to it counts.
            leg = float(nearest[k]) if nearest[k] > access_m else 0.0
            reach = max(access_m, leg + LEG_EPSILON_M)
            dist, _, _ = net.distance_to_targets(xy, np.array([area], dtype=object), reach)
            if np.isfinite(dist).any():
                out[k] = float(np.nanmin(dist)) + leg
    out[inside] = 0.0
    out[out > max_m] = np.nan
    return out
