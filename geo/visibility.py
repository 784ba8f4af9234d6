"""Trees visible from address points: sight lines that cross no other building.

Method (docs/method-3-30-300.md, the '3' of Konijnendijk 2023): a tree counts
for an address point when its trunk point lies within ``radius_m`` of the
point and the straight line between them does not pass through the interior
of any building footprint other than the dwelling's own building (the address
point of a dwelling lies inside its own footprint, so every sight line leaves
through its own walls). A line that only touches a footprint (grazes a corner
or runs along a wall) is not blocked. Trees inside the radius are found with
an STRtree ``dwithin`` query, sight lines are built as one array of
LineStrings and tested against the building STRtree with ``intersects``, in
chunks of address points so that memory stays bounded; there is no loop over
dwellings in Python.

Geometries are in a metres CRS (RD New).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

#: Address points per vectorised batch: bounds the number of sight lines held at once
#: (about 50 trees per point in dense areas -> ~1 million lines, ~300 MB).
DEFAULT_BATCH = 20_000
#: Building code of a dwelling without a (known) building.
NO_BUILDING = -1


class SightScene:
    """What sight lines are tested against: trees and building footprints, each with an STRtree.

    Args:
        tree_xy: ``(t, 2)`` tree trunk coordinates (only the trees that count).
        buildings: building footprint polygons.
        building_code: integer code of each footprint's building id (parts of one
            building share a code).
    """

    def __init__(self, tree_xy: np.ndarray, buildings: np.ndarray, building_code: np.ndarray) -> None:
        self.tree_xy = np.asarray(tree_xy, dtype=float).reshape(-1, 2)
        self.buildings = np.asarray(buildings, dtype=object)
        self.building_code = np.asarray(building_code, dtype=np.int64)
        self._trees = shapely.STRtree(shapely.points(self.tree_xy))
        self._blds = shapely.STRtree(self.buildings)
        shapely.prepare(self.buildings)

    def count_visible(self, xy: np.ndarray, own_code: np.ndarray, radius_m: float) -> np.ndarray:
        """Visible trees per point, for one batch (see the module docstring).

        Args:
            xy: ``(k, 2)`` address point coordinates.
            own_code: building code of each point's own building (``NO_BUILDING`` if none).
            radius_m: search radius around each point (m), inclusive.
        """
        trees, blds = self._trees, self._blds
        points = shapely.points(xy)
        pi, ti = trees.query(points, predicate="dwithin", distance=radius_m)
        if len(pi) == 0:
            return np.zeros(len(xy), dtype=np.int64)
        lines = shapely.linestrings(np.stack([xy[pi], self.tree_xy[ti]], axis=1))
        # Bounding-box candidates, without the dwelling's own building, then the exact test
        # against prepared footprints (much cheaper than a predicate query over all candidates).
        li, bi = blds.query(lines)
        other = self.building_code[bi] != own_code[pi[li]]
        li, bi = li[other], bi[other]
        hit = shapely.intersects(self.buildings[bi], lines[li])
        li, bi = li[hit], bi[hit]
        # Touching a footprint's outline only (a corner, a wall) does not block the view.
        through = ~shapely.touches(lines[li], self.buildings[bi])
        blocked = np.zeros(len(pi), dtype=bool)
        blocked[li[through]] = True
        return np.bincount(pi[~blocked], minlength=len(xy)).astype(np.int64)


#: Runs ``fn(shared, *batch)`` for every batch and returns the results in order.
Runner = Callable[[Callable[..., np.ndarray], Any, list[tuple[Any, ...]]], list[np.ndarray]]


def run_in_order(fn: Callable[..., np.ndarray], shared: Any, batches: list[tuple[Any, ...]]) -> list[np.ndarray]:
    """The default runner: one batch after another in this thread."""
    return [fn(shared, *b) for b in batches]


def visible_trees(
    xy: np.ndarray,
    own_code: np.ndarray,
    scene: SightScene,
    radius_m: float,
    *,
    batch: int = DEFAULT_BATCH,
    run: Runner = run_in_order,
) -> np.ndarray:
    """Number of trees visible from each address point.

    Args:
        xy: ``(k, 2)`` address point coordinates (metres CRS).
        own_code: the dwelling's building code per point, ``NO_BUILDING`` when unknown
            (then every footprint blocks).
        scene: trees and buildings.
        radius_m: search radius (m), inclusive.
        batch: address points per vectorised batch.
        run: how batches are run, e.g. as Dask tasks that share one copy of ``scene``
            (see :data:`Runner`); default: one after another.

    Returns:
        int64 counts, one per point.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    own_code = np.asarray(own_code, dtype=np.int64)
    if len(xy) == 0 or len(scene.tree_xy) == 0:
        return np.zeros(len(xy), dtype=np.int64)
    # Batches of neighbouring points keep each batch's STRtree hits local.
    order = np.lexsort((xy[:, 0], np.floor(xy[:, 1] / max(radius_m, 1.0))))
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    results = run(_count, scene, [(xy[c], own_code[c], radius_m) for c in chunks])
    out = np.zeros(len(xy), dtype=np.int64)
    for c, r in zip(chunks, results, strict=True):
        out[c] = r
    return out


def _count(scene: SightScene, xy: np.ndarray, own: np.ndarray, radius_m: float) -> np.ndarray:
    return scene.count_visible(xy, own, radius_m)
