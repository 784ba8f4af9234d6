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

From facades (:func:`trees_seen_from_facades`, issue 10): a tree counts for a
building when a sight line from *any* of its facade points (``geo.facades``,
outside every footprint) reaches the tree within ``radius_m`` and passes
through no building's interior, its own included. Each (building, tree) pair
is tested from its nearest facade point first, then from the next nearest
only while it is still unseen, so most pairs cost one line.

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
        points = shapely.points(xy)
        pi, ti = self._trees.query(points, predicate="dwithin", distance=radius_m)
        if len(pi) == 0:
            return np.zeros(len(xy), dtype=np.int64)
        blocked = self.blocked(xy[pi], self.tree_xy[ti], own_code[pi])
        return np.bincount(pi[~blocked], minlength=len(xy)).astype(np.int64)

    def blocked(self, start: np.ndarray, end: np.ndarray, exempt: np.ndarray | None = None) -> np.ndarray:
        """Whether each straight line ``start -> end`` passes through a building's interior.

        Args:
            start, end: ``(k, 2)`` coordinates.
            exempt: per line, the building code that does not block it (its own), or None.
        """
        lines = shapely.linestrings(np.stack([start, end], axis=1))
        # Bounding-box candidates, without the exempt building, then the exact test
        # against prepared footprints (much cheaper than a predicate query over all candidates).
        li, bi = self._blds.query(lines)
        if exempt is not None:
            other = self.building_code[bi] != exempt[li]
            li, bi = li[other], bi[other]
        hit = shapely.intersects(self.buildings[bi], lines[li])
        li, bi = li[hit], bi[hit]
        # Touching a footprint's outline only (a corner, a wall) does not block the view.
        through = ~shapely.touches(lines[li], self.buildings[bi])
        out = np.zeros(len(lines), dtype=bool)
        out[li[through]] = True
        return out

    def seen_from_facades(self, fxy: np.ndarray, fcode: np.ndarray, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (building code, tree) pairs seen from the facade points ``fxy`` of buildings ``fcode``."""
        pi, ti = self._trees.query(shapely.points(fxy), predicate="dwithin", distance=radius_m)
        empty = np.empty(0, dtype=np.int64)
        if len(pi) == 0:
            return empty, empty
        key = fcode[pi] * len(self.tree_xy) + ti
        dist = np.hypot(*(fxy[pi] - self.tree_xy[ti]).T)
        order = np.lexsort((dist, key))
        pi, ti, key = pi[order], ti[order], key[order]
        pairs, group, size = np.unique(key, return_inverse=True, return_counts=True)
        rank = np.arange(len(key)) - (np.cumsum(size) - size)[group]
        seen = np.zeros(len(pairs), dtype=bool)
        for k in range(int(size.max())):
            sel = np.flatnonzero((rank == k) & ~seen[group])
            if len(sel) == 0:
                break
            clear = ~self.blocked(fxy[pi[sel]], self.tree_xy[ti[sel]])
            seen[group[sel[clear]]] = True
        pairs = pairs[seen]
        return pairs // len(self.tree_xy), pairs % len(self.tree_xy)


#: Runs ``fn(shared, *batch)`` for every batch and returns the results in order.
Runner = Callable[[Callable[..., Any], Any, list[tuple[Any, ...]]], list[Any]]


def run_in_order(fn: Callable[..., Any], shared: Any, batches: list[tuple[Any, ...]]) -> list[Any]:
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


#: Buildings per batch of :func:`trees_seen_from_facades`.
FACADE_BATCH_BUILDINGS = 2_000


def trees_seen_from_facades(
    fxy: np.ndarray,
    fcode: np.ndarray,
    scene: SightScene,
    radius_m: float,
    n_codes: int,
    *,
    batch: int = FACADE_BATCH_BUILDINGS,
    run: Runner = run_in_order,
) -> np.ndarray:
    """Number of distinct trees seen from the facades of each building (see the module docstring).

    Args:
        fxy: ``(k, 2)`` facade points (``geo.facades.facade_points``), metres CRS.
        fcode: building code of each point, ``0 <= code < n_codes``.
        scene: trees and buildings (every footprint blocks).
        radius_m: largest distance (m) from a facade point to a tree, inclusive.
        n_codes: number of building codes.
        batch: buildings per vectorised batch.
        run: how batches are run (see :data:`Runner`).

    Returns:
        int64 count per building code.
    """
    fxy = np.asarray(fxy, dtype=float).reshape(-1, 2)
    fcode = np.asarray(fcode, dtype=np.int64)
    out = np.zeros(n_codes, dtype=np.int64)
    if len(fxy) == 0 or len(scene.tree_xy) == 0:
        return out
    codes = np.unique(fcode)
    # Batches of neighbouring buildings (ordered by their first facade point) keep STRtree hits local.
    order = np.argsort(fcode, kind="stable")
    start = np.searchsorted(fcode[order], codes)
    anchor = fxy[order[start]]
    codes = codes[np.lexsort((anchor[:, 0], np.floor(anchor[:, 1] / max(radius_m, 1.0))))]
    chunks = [codes[i : i + batch] for i in range(0, len(codes), batch)]
    batches = []
    for chunk in chunks:
        sel = np.isin(fcode, chunk)
        batches.append((fxy[sel], fcode[sel], radius_m))
    for bcode, _ in run(_seen, scene, batches):
        out += np.bincount(bcode, minlength=n_codes)
    return out


def _seen(scene: SightScene, fxy: np.ndarray, fcode: np.ndarray, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    return scene.seen_from_facades(fxy, fcode, radius_m)
