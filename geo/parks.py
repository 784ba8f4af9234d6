"""Public green spaces ("parks") for the '300' of the 3-30-300 rule, and the public-ground proxy.

Either a municipality's own ``parks`` source (or CBS Bestand Bodemgebruik, see
:mod:`geo.cbs_landuse`), or derived from land cover (:func:`derive_parks`):

1. **Public green.** Polygons of the park classes (:data:`PARK_CLASSES`), not
   road verges (:data:`VERGE_TYPES`), that are public (:func:`public_mask`). The BGT records no ownership, so for land
   cover whose ``public`` is unknown the rule ``public_unknown`` decides:
   ``proxy`` (default) counts it as public unless it is private ground or
   farmland by its BGT value (:data:`NOT_PUBLIC_VALUES`: ``erf``, ``grasland
   agrarisch``, ``bouwland``, ...; the class ``agriculture``), ``exclude``
   counts it as not public (the behaviour before the proxy), ``include`` counts
   it as public.
2. **Merged across paths and small gaps.** Green polygons closer than
   ``merge_gap_m`` (default :data:`DEFAULT_MERGE_GAP_M`, 4 m) form one park. Its
   geometry is the morphological closing of their union (Serra 1982): a buffer
   of ``merge_gap_m / 2`` out, then the same in, so a footpath or ditch
   narrower than the gap becomes part of the park while the outline elsewhere
   stays where it was (corners sharper than the buffer round off slightly).
3. **Ponds and paths inside.** A hole left in a park is filled when at least
   :data:`HOLE_FILL_MIN_SHARE` of it is water, paths or open ground
   (:data:`HOLE_FILL_CLASSES`, not an erf); a hole that is a building, an erf
   or farmland stays a hole.
4. Parks smaller than ``min_area_m2`` (default 5,000 m2 = 0.5 ha, WHO Regional
   Office for Europe 2017) are dropped. ``area_m2`` is the area of the closed,
   filled park: it includes its paths and ponds.

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
#: BGT object types whose green is never park green: road verges and traffic islands (``ondersteunendwegdeel``
#: groenvoorziening) are public but no place to go; a verge inside a park still becomes park by the closing.
VERGE_TYPES: tuple[str, ...] = ("ondersteunendwegdeel",)
#: Columns of a park table.
PARK_COLUMNS = ["id", "name", "area_m2", "origin"]
#: Smallest park (m2): WHO Regional Office for Europe (2017), 0.5 ha.
DEFAULT_MIN_PARK_AREA_M2 = 5000.0
#: Green polygons closer than this (m) form one park: wider than a park footpath or a two-way cycle path.
DEFAULT_MERGE_GAP_M = 4.0

#: Rules for land cover whose ``public`` is unknown (``park_public_unknown``, cool-places ``public_unknown``).
PUBLIC_PROXY = "proxy"
PUBLIC_EXCLUDE = "exclude"
PUBLIC_INCLUDE = "include"
PUBLIC_UNKNOWN_CHOICES: tuple[str, ...] = (PUBLIC_PROXY, PUBLIC_EXCLUDE, PUBLIC_INCLUDE)
#: Where the proxy comes from, for the parameter tables.
PUBLIC_UNKNOWN_SOURCE = (
    "the BGT records no ownership; proxy: green and open ground is public unless the BGT calls it erf "
    "(yards and private gardens) or farmland (grasland agrarisch, bouwland, fruitteelt, boomteelt); "
    "exclude: unknown is not public; include: unknown is public (docs/method-3-30-300.md)"
)
#: BGT values (``source_class`` ``type:value``) of private ground and farmland: never public by the proxy.
NOT_PUBLIC_VALUES: tuple[str, ...] = ("erf", "grasland agrarisch", "bouwland", "fruitteelt", "boomteelt")
#: Land-cover classes never public by the proxy.
NOT_PUBLIC_CLASSES: tuple[str, ...] = ("agriculture",)
#: Land-cover classes a hole in a park may consist of and still be filled (ponds, paths, open ground).
HOLE_FILL_CLASSES: tuple[str, ...] = ("water", "road_paved", "road_unpaved", "paved_other", "bare")
#: Share of a hole's area that must be of ``HOLE_FILL_CLASSES`` (not erf) for it to be filled.
HOLE_FILL_MIN_SHARE = 0.9
#: Segments per quarter circle of the closing buffers.
CLOSING_QUAD_SEGS = 8


def source_values(landcover: pd.DataFrame) -> np.ndarray:
    """The BGT value of each polygon: ``source_class`` between ``type:`` and ``/plus`` (lower case)."""
    if "source_class" not in landcover.columns:
        return np.full(len(landcover), "", dtype=object)
    text = landcover["source_class"].astype("string").fillna("").str.lower()
    return text.str.replace(r"^[^:]*:", "", regex=True).str.split("/").str[0].to_numpy(dtype=object)


def proxy_public(landcover: pd.DataFrame) -> np.ndarray:
    """The proxy: True where the polygon is neither private ground (erf) nor farmland by its BGT value or class."""
    values = source_values(landcover)
    farm = landcover["class"].isin(list(NOT_PUBLIC_CLASSES)).to_numpy(dtype=bool)
    return ~np.isin(values, list(NOT_PUBLIC_VALUES)) & ~farm


def public_mask(landcover: pd.DataFrame, public_unknown: str = PUBLIC_PROXY) -> tuple[np.ndarray, dict[str, int]]:
    """Which land-cover polygons count as public ground.

    Args:
        landcover: canonical land cover (``class``, ``source_class``, ``public`` true/false/null).
        public_unknown: rule for a null ``public``: one of :data:`PUBLIC_UNKNOWN_CHOICES`.

    Returns:
        ``(mask, counts)``: a known ``public`` always decides; counts of polygons that are
        ``public_known``, ``private_known``, ``public_unknown`` and ``public_by_proxy``.

    Raises:
        ValueError: an unknown rule (the layers' parameter checks catch it first).
    """
    if public_unknown not in PUBLIC_UNKNOWN_CHOICES:
        raise ValueError(f"public_unknown must be one of {', '.join(PUBLIC_UNKNOWN_CHOICES)}: {public_unknown!r}")
    public = landcover["public"] if "public" in landcover.columns else None
    known, is_public = public_flags(public, len(landcover))
    if public_unknown == PUBLIC_PROXY:
        unknown_ok = proxy_public(landcover)
    else:
        unknown_ok = np.full(len(landcover), public_unknown == PUBLIC_INCLUDE)
    mask = np.where(known, is_public, unknown_ok)
    counts = {
        "public_known": int((known & is_public).sum()),
        "private_known": int((known & ~is_public).sum()),
        "public_unknown": int((~known).sum()),
        "public_by_proxy": int((~known & unknown_ok).sum()) if public_unknown == PUBLIC_PROXY else 0,
    }
    return np.asarray(mask, dtype=bool), counts


def derive_parks(
    landcover: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] = PARK_CLASSES,
    public_unknown: str = PUBLIC_PROXY,
    merge_gap_m: float = DEFAULT_MERGE_GAP_M,
    min_area_m2: float = DEFAULT_MIN_PARK_AREA_M2,
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Parks from public green land cover, closed across gaps narrower than ``merge_gap_m``.

    Args:
        landcover: canonical land cover (``class``, ``source_class``, ``public``), metres CRS.
        classes: classes that count as park green.
        public_unknown: rule for green whose ``public`` is null (:func:`public_mask`).
        merge_gap_m: gap (m) a park is closed across (0 = only touching polygons, no closing).
        min_area_m2: smallest park (m2).

    Returns:
        Parks (``id``, ``name``, ``area_m2``, ``origin`` = ``landcover``) and counts for the
        build log (green polygons, with unknown ``public``, used, by proxy, groups, too small,
        holes filled, area added by the closing and the filled holes).
    """
    source_type = landcover["source_class"].astype("string").fillna("").str.split(":").str[0] if (
        "source_class" in landcover.columns) else pd.Series("", index=landcover.index)
    verge = source_type.isin(list(VERGE_TYPES)).to_numpy(dtype=bool)
    green = landcover[landcover["class"].isin(list(classes)).to_numpy(dtype=bool) & ~verge]
    use, public_counts = public_mask(green, public_unknown)
    geoms = green.geometry.values[use]
    counts = {
        "green_polygons": len(green),
        "green_polygons_verge_excluded": int((landcover["class"].isin(list(classes)).to_numpy(dtype=bool)
                                              & verge).sum()),
        "green_polygons_public_unknown": public_counts["public_unknown"],
        "green_polygons_public_by_proxy": public_counts["public_by_proxy"],
        "green_polygons_used": int(use.sum()),
    }
    if len(geoms) == 0:
        counts.update(parks_derived=0, parks_too_small=0, park_holes_filled=0, park_area_added_m2=0)
        return _empty(landcover.crs), counts
    tree = shapely.STRtree(geoms)
    if merge_gap_m > 0:
        a, b = tree.query(geoms, predicate="dwithin", distance=merge_gap_m)
    else:
        a, b = tree.query(geoms, predicate="intersects")
    adjacency = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(geoms), len(geoms)))
    n, label = connected_components(adjacency, directed=False)
    merged = gpd.GeoDataFrame({"group": label}, geometry=np.asarray(geoms), crs=landcover.crs).dissolve("group")
    union = merged.geometry.values.to_numpy()
    green_area = shapely.area(union)
    closed = close_gaps(union, merge_gap_m)
    closed, filled = fill_holes(closed, landcover)
    area = shapely.area(closed)
    big = area >= min_area_m2
    counts.update(parks_derived=int(n), parks_too_small=int((~big).sum()), park_holes_filled=filled,
                  park_area_added_m2=round(float((area - green_area)[big].sum())))
    out = gpd.GeoDataFrame(
        {
            "id": [f"groen-{i + 1}" for i in range(int(big.sum()))],
            "name": pd.array([None] * int(big.sum()), dtype="string"),
            "area_m2": area[big].round(1),
            "origin": "landcover",
        },
        geometry=closed[big],
        crs=landcover.crs,
    )
    return out, counts


def close_gaps(geoms: np.ndarray, gap_m: float) -> np.ndarray:
    """Morphological closing by a disc of radius ``gap_m / 2`` (buffer out, then in); originals kept whole."""
    if gap_m <= 0:
        return geoms
    radius = gap_m / 2.0
    grown = shapely.buffer(geoms, radius, quad_segs=CLOSING_QUAD_SEGS)
    shrunk = shapely.buffer(grown, -radius, quad_segs=CLOSING_QUAD_SEGS)
    # The inward buffer can shave a sliver off an original outline: the union keeps every green polygon whole.
    return shapely.make_valid(shapely.union(shrunk, geoms))


def fill_holes(geoms: np.ndarray, landcover: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """Fill the holes of each park that are mostly water, paths or open ground (see module doc).

    Returns:
        The parks with those holes filled, and how many holes were filled.
    """
    parts, owner = shapely.get_parts(geoms, return_index=True)
    holes: list[shapely.Polygon] = []
    hole_owner: list[int] = []
    for poly, park in zip(parts, owner, strict=True):
        if isinstance(poly, shapely.Polygon):
            holes.extend(shapely.Polygon(ring) for ring in poly.interiors)
            hole_owner.extend([int(park)] * len(poly.interiors))
    if not holes:
        return geoms, 0
    hole_geoms = np.array(holes, dtype=object)
    fillable = landcover["class"].isin(list(HOLE_FILL_CLASSES)).to_numpy(dtype=bool) & ~np.isin(
        source_values(landcover), list(NOT_PUBLIC_VALUES))
    fill_geoms = landcover.geometry.values[fillable]
    hi, fi = shapely.STRtree(fill_geoms).query(hole_geoms, predicate="intersects")
    covered = np.bincount(hi, weights=shapely.area(shapely.intersection(hole_geoms[hi], fill_geoms[fi])),
                          minlength=len(hole_geoms))
    fill = covered >= HOLE_FILL_MIN_SHARE * shapely.area(hole_geoms)
    out = np.array(geoms, dtype=object, copy=True)
    hole_park = np.asarray(hole_owner)
    for park in np.unique(hole_park[fill]):
        out[park] = shapely.union_all([geoms[park], *hole_geoms[fill & (hole_park == park)]])
    return out, int(fill.sum())


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
