"""The street network and the land-cover partition.

The network is noded by a snap-rounding union (1 cm grid), so every crossing
and every T-junction becomes a shared end point, and only its largest
connected part is kept. Road surfaces are the buffered centrelines of that
network. The partition then resolves overlaps between pieces by rank (a
lower rank wins: buildings and plots, then roads, water, park features,
woods and hedgerows, stream banks, fields) and fills what is left: public
green inside the village, farmland outside. The classes' areas therefore
sum to the square's area up to floating-point noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.demo.base import STREET_KINDS, Town

#: Snap-rounding grid (m) used to node the street network.
NODE_GRID_M = 0.01
#: Pieces smaller than this (m2) are rounding noise of the overlay and are dropped.
MIN_PART_M2 = 1e-4
#: Side (m) of the tiles that cut the road surface into features of a workable size.
ROAD_TILE_M = 250.0
#: Order in which overlapping road surfaces win (first wins).
SURFACES = ("wegdeel:gesloten verharding", "wegdeel:open verharding", "wegdeel:half verhard", "wegdeel:onverhard")
_SURFACE_CLASS = {"wegdeel:half verhard": "road_unpaved", "wegdeel:onverhard": "road_unpaved"}
#: Kinds in order of precedence when a noded segment lies on lines of several kinds.
KIND_ORDER = tuple(STREET_KINDS)


def _real(parts: np.ndarray) -> np.ndarray:
    """Polygons with an area above rounding noise (overlay leftovers can be lines or specks)."""
    return (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (shapely.area(parts) > MIN_PART_M2)


@dataclass
class Cover:
    """The land-cover partition as parallel arrays."""

    geoms: np.ndarray
    cls: np.ndarray
    source_class: np.ndarray
    public: np.ndarray


def finish_network(town: Town) -> tuple[np.ndarray, np.ndarray]:
    """Node all centrelines, keep the largest connected part; returns ``(lines, kinds)`` and stores them."""
    geoms = np.concatenate([g for g, _ in town.streets])
    kinds = np.concatenate([np.full(len(g), k) for g, k in town.streets])
    noded = shapely.get_parts(shapely.union_all(geoms, grid_size=NODE_GRID_M))
    noded = noded[shapely.length(noded) > NODE_GRID_M]
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    seg, src = shapely.STRtree(geoms).query(mids, predicate="dwithin", distance=2 * NODE_GRID_M)
    rank = np.array([KIND_ORDER.index(k) for k in kinds])
    best = np.full(len(noded), len(KIND_ORDER))
    np.minimum.at(best, seg, rank[src])
    best[best == len(KIND_ORDER)] = KIND_ORDER.index("footpath")
    kind = np.array(KIND_ORDER)[best]
    comp = components(noded)
    main = np.bincount(comp, weights=shapely.length(noded)).argmax()
    lines, kind = noded[comp == main], kind[comp == main]
    town.streets = [(lines, "network")]
    town.zones["network"] = (lines, kind)
    return lines, kind


def components(lines: np.ndarray) -> np.ndarray:
    """Connected-component label per line, joining lines that share an end point (to 1 cm)."""
    ends = np.stack([shapely.get_coordinates(shapely.get_point(lines, 0)),
                     shapely.get_coordinates(shapely.get_point(lines, -1))], axis=1).reshape(-1, 2)
    _, node = np.unique(np.round(ends / NODE_GRID_M).astype(np.int64), axis=0, return_inverse=True)
    node = node.reshape(-1, 2)
    n = int(node.max()) + 1
    graph = coo_matrix((np.ones(len(lines)), (node[:, 0], node[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return label[node[:, 0]]


def add_roads(town: Town, lines: np.ndarray, kind: np.ndarray) -> None:
    """Buffer the network into road surfaces, cut them into tiles and add them as pieces."""
    half = np.array([STREET_KINDS[k][0] for k in kind])
    surface = np.array([STREET_KINDS[k][1] for k in kind])
    done = shapely.Polygon()
    x0, y0, size = town.x0, town.y0, town.size
    edges = np.arange(0.0, size, ROAD_TILE_M)
    tiles = [(x0 + a, y0 + b, x0 + min(a + ROAD_TILE_M, size), y0 + min(b + ROAD_TILE_M, size))
             for a in edges for b in edges]
    square = town.square()
    for s in SURFACES:
        sel = surface == s
        if not sel.any():
            continue
        area = shapely.difference(shapely.union_all(shapely.buffer(lines[sel], half[sel], quad_segs=4)), done)
        area = area.intersection(square)
        done = shapely.union(done, area)
        parts = np.concatenate([shapely.get_parts(shapely.clip_by_rect(area, *t)) for t in tiles])
        parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        town.pieces.add(parts, _SURFACE_CLASS.get(s, "road_paved"), s, True, 1, "road")


#: BGT road function (wegdeel ``functie``) of the road surface along each street kind.
ROAD_FUNCTION = {
    "main": "rijbaan regionale weg",
    "ring": "rijbaan regionale weg",
    "rural": "rijbaan lokale weg",
    "lane": "rijbaan lokale weg",
    "business": "rijbaan lokale weg",
    "centre": "voetgangersgebied",
    "residential": "woonerf",
    "access": "rijbaan lokale weg",
    "footpath": "voetpad",
    "park_path": "voetpad",
    "track": "fietspad",
}


def road_functions(cover: Cover, lines: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """BGT road function per land-cover polygon: that of the nearest street for road surfaces, else None."""
    out = np.full(len(cover.geoms), None, dtype=object)
    road = np.flatnonzero(np.char.startswith(cover.source_class.astype(str), "wegdeel:"))
    if len(road) and len(lines):
        # A road piece is cut from the buffer of its own street, so its inside point lies nearest to that street.
        inside = shapely.point_on_surface(np.asarray(cover.geoms, dtype=object)[road])
        _, nearest = shapely.STRtree(lines).query_nearest(inside, all_matches=False)
        out[road] = [ROAD_FUNCTION[k] for k in np.asarray(kind)[nearest]]
    return out


def partition(town: Town) -> Cover:
    """Resolve overlaps by rank and fill the gaps; returns the land-cover partition of the square."""
    p = town.pieces
    square = town.square()
    geoms = np.concatenate(p.geoms)
    outside = ~shapely.covered_by(geoms, square)
    geoms[outside] = shapely.intersection(geoms[outside], square)
    attr = [np.concatenate([np.full(len(g), a[k]) for g, a in zip(p.geoms, p.attrs, strict=True)]) for k in range(5)]
    cls, src, pub, rank, fam = attr
    group = np.concatenate([a[5] for a in p.attrs])
    order = np.lexsort((np.arange(len(geoms)), rank.astype(int)))
    geoms, cls, src, pub, fam, group = (v[order] for v in (geoms, cls, src, pub, fam, group))
    bad = ~shapely.is_valid(geoms)
    geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    sel = (b < a) & ~((fam[a] == fam[b]) & (fam[a] != "") & (group[a] != group[b]))
    a, b = a[sel], b[sel]
    overlap = shapely.relate_pattern(geoms[a], geoms[b], "2********")
    a, b = a[overlap], b[overlap]
    by_piece = np.argsort(a, kind="stable")
    a, b = a[by_piece], b[by_piece]
    trimmed = geoms.copy()
    if len(a):
        starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
        for i, chunk in zip(a[starts], np.split(b, starts[1:]), strict=True):
            trimmed[i] = shapely.difference(geoms[i], shapely.union_all(geoms[chunk]))
    parts, index = shapely.get_parts(trimmed, return_index=True)
    keep = _real(parts)
    parts, index = parts[keep], index[keep]
    rest = shapely.get_parts(shapely.difference(square, shapely.union_all(parts)))
    rest = rest[_real(rest)]
    village = town.zones["village"]
    shapely.prepare(village)
    inside = shapely.intersects(village, shapely.point_on_surface(rest))
    return Cover(
        np.concatenate([parts, rest]),
        np.concatenate([cls[index], np.where(inside, "green_low", "agriculture")]),
        np.concatenate([src[index], np.where(inside, "begroeidterreindeel:groenvoorziening",
                                             "begroeidterreindeel:grasland agrarisch")]),
        np.concatenate([pub[index].astype(bool), inside]),
    )
