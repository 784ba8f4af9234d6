"""Points on the facades of buildings, from where a dwelling's residents look out.

Method (docs/method-3-30-300.md): along the exterior ring of every footprint of
a building, offset outward by ``offset_m`` (a mitred buffer, so corners stay
corners), points are placed every ``spacing_m`` (at the middle of equal
pieces of the ring, at least one per footprint). A point that falls inside
any footprint (a party wall between two terraced houses, a part of the same
building) is dropped: no window looks out through a neighbour. The offset
keeps the points off their own wall, so a sight line from the front facade
to a tree behind the house crosses the house and is blocked like any other.

Only exterior rings are used; courtyards (holes) get no facade points.
Geometries are in a metres CRS (RD New).
"""

from __future__ import annotations

import numpy as np
import shapely

#: Spacing (m) of facade points: about one window bay of a Dutch terraced house (5-6 m front, 2-3 windows).
FACADE_SPACING_M = 2.0
#: Outward offset (m) of facade points from the footprint outline: off the wall, inside the front garden.
FACADE_OFFSET_M = 0.5


def facade_points(
    footprints: np.ndarray,
    code: np.ndarray,
    *,
    spacing_m: float = FACADE_SPACING_M,
    offset_m: float = FACADE_OFFSET_M,
    blockers: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Facade points of building footprints (see the module docstring).

    Args:
        footprints: footprint (Multi)Polygons of the buildings wanted.
        code: building code of each footprint (parts of one building share it).
        spacing_m: distance (m) between neighbouring points along the outline.
        offset_m: outward offset (m) of the points from the outline.
        blockers: footprints a point must not lie in (default: ``footprints``); give all
            buildings so that points against a neighbour's wall are dropped.

    Returns:
        ``(xy, code)``: ``(k, 2)`` point coordinates and the building code of each.
    """
    footprints = np.asarray(footprints, dtype=object)
    code = np.asarray(code, dtype=np.int64)
    if len(footprints) == 0:
        return np.empty((0, 2)), np.empty(0, dtype=np.int64)
    grown = shapely.buffer(footprints, offset_m, join_style="mitre")
    parts, owner = shapely.get_parts(grown, return_index=True)
    rings = shapely.get_exterior_ring(parts)
    length = shapely.length(rings)
    n = np.maximum(np.ceil(length / spacing_m), 1).astype(np.int64)
    ring = np.repeat(np.arange(len(rings)), n)
    k = np.arange(len(ring)) - np.repeat(np.cumsum(n) - n, n)
    at = (k + 0.5) * length[ring] / n[ring]
    points = shapely.line_interpolate_point(rings[ring], at)
    blockers = footprints if blockers is None else np.asarray(blockers, dtype=object)
    pi, _ = shapely.STRtree(blockers).query(points, predicate="intersects")
    keep = np.ones(len(points), dtype=bool)
    keep[pi] = False
    return shapely.get_coordinates(points[keep]).reshape(-1, 2), code[owner[ring[keep]]]
