"""What-if edits of a site's canonical inputs: the parsed model, its parser and its two placement rules.

A scenario is a JSON list of edits applied in order (``geo.edits.apply_edits``;
docs/scenarios.md). This module only checks and normalises the list: every
error is a ``geo.errors.InputError`` whose message starts with the path of the
offending value (``edits[2].height_m: ...``), so the planner sees which edit to
fix. Geometries are GeoJSON in the region CRS (RD New, metres), or in ``crs``
(e.g. EPSG:4326 longitude/latitude), which is then transformed to the region CRS.
Whether an edit lies inside the site is checked when it is applied (the site is
not known here).

The two deterministic rules that turn a number into places (pure geometry, used
by ``geo.edits``): :func:`west_cut` (which paving ``share`` unpaves) and
:func:`place_trees` (where ``count`` trees go).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _ProjCRSError
from shapely.errors import GEOSException
from shapely.geometry import shape

from geo.canonical import LANDCOVER_CLASSES
from geo.crs import RD_NEW
from geo.errors import InputError
from geo.fractions import SURFACE_GROUPS
from geo.surface_proxy import DEFAULT_TREE_HEIGHT_M

#: Most edits in one scenario: a planner's what-if is a handful of edits; the limit keeps one request within
#: the assessment's time budget (issue 11: a 1 ha site answers in under 10 s).
MAX_EDITS = 50
#: Most trees planted by one scenario (all ``plant_trees`` edits together); issue 11's limit. 500 crowns of 6 m
#: cover 1.4 ha, more than a 1 ha site holds.
MAX_TREES = 500
#: Most vertices of one edit geometry: a hand-drawn or registry polygon of a site has far fewer; the limit
#: bounds the overlay work per edit.
MAX_VERTICES = 10_000
#: Default crown diameter (m) of a planted tree: the default crown of the green layers
#: (``layers.green_inputs.DEFAULT_CROWN_DIAMETER_PARAM``: a young-to-mid-age street tree, 4-6 m size class).
DEFAULT_CROWN_DIAMETER_M = 6.0
#: Smallest crown diameter (m) of a planted tree: a 2 m crown covers 3.1 m2, 12 AHN cells of 0.5 m, well above
#: the smallest canopy patch the canopy keeps (``geo.canopy.CANOPY_MIN_PATCH_M2``, 1 m2), so it is canopy.
MIN_CROWN_DIAMETER_M = 2.0
#: Largest crown diameter (m): the upper bound of the green layers' crown parameter (monumental trees).
MAX_CROWN_DIAMETER_M = 40.0
#: Lowest height (m) of a planted tree: above the 2.5 m canopy threshold (``geo.canopy.CANOPY_MIN_HEIGHT_M``,
#: RIVM "Bomen in Nederland") with 0.5 m to spare, so the tree is canopy in the edited DSM.
MIN_TREE_HEIGHT_M = 3.0
#: Highest tree (m): above the tallest trees in the Netherlands (about 50 m, Dutch monumental tree registers).
MAX_TREE_HEIGHT_M = 60.0
#: Lowest building (m above the terrain): a footprint lower than a person or a car (about 2 m) reads as open
#: ground in the shade and sky-view layers; ``geo.edits`` checks the edited DSM against the same height.
MIN_BUILDING_HEIGHT_M = 2.0
#: Highest building (m): above the tallest building in the Netherlands (Zalmhaven I, Rotterdam, 215 m, 2022).
MAX_BUILDING_HEIGHT_M = 250.0
#: Classes paving may become (``unpave``'s ``to``): every class that is neither paved nor a building.
UNPAVE_CLASSES: tuple[str, ...] = tuple(
    c for c in LANDCOVER_CLASSES if c not in SURFACE_GROUPS["paved"] and c not in SURFACE_GROUPS["building"]
)
#: Default class of unpaved ground: low green (grass, planting), the usual "ontharden" result.
DEFAULT_UNPAVE_CLASS = "green_low"
#: Default class of the ground of a removed building: bare (a demolition site before it is laid out).
DEFAULT_REMOVED_BUILDING_CLASS = "bare"
#: Classes a removed building's ground may become.
REMOVED_BUILDING_CLASSES: tuple[str, ...] = tuple(c for c in LANDCOVER_CLASSES if c != "building")
#: Status of a building footprint added by a scenario (a BAG pand status).
ADDED_BUILDING_STATUS = "Pand in gebruik"
#: Relative area tolerance of the ``share`` cut (0.0001 %: far below the 0.1 % a planner can read).
SHARE_TOLERANCE = 1e-6
#: Bisection steps of the share cut and of the tree spacing (each halves the interval; 100 exceeds float64).
BISECTION_STEPS = 100
#: Spacing tolerance (m) of the tree placement: 1 cm, far below a crown.
PLACEMENT_TOLERANCE_M = 0.01
#: Phases of the hexagonal grid tried per spacing (fractions of the spacing in x and of the row step in y).
HEX_PHASES: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5))
#: Most grid positions tried in one placement (bounds memory for a very large site with small crowns).
MAX_PLACEMENT_POSITIONS = 2_000_000

Polygonal: TypeAlias = shapely.Polygon | shapely.MultiPolygon


@dataclass(frozen=True, kw_only=True)
class Edit:
    """One parsed edit.

    Attributes:
        where: its path in the request (``edits[2]``), the start of every message about it.
    """

    op: ClassVar[str] = ""
    where: str


@dataclass(frozen=True, kw_only=True)
class Unpave(Edit):
    """Paving (``road_paved``, ``paved_other``) in the site becomes ``to``.

    Attributes:
        share: share (0-1) of the paved area (in the site, and in ``geometry`` when given) that is unpaved.
        geometry: polygon (region CRS) the unpaving is limited to, or None for the whole site.
        to: the land-cover class of the unpaved ground.
    """

    op: ClassVar[str] = "unpave"
    share: float = 1.0
    geometry: Polygonal | None = None
    to: str = DEFAULT_UNPAVE_CLASS


@dataclass(frozen=True, kw_only=True)
class PlantTrees(Edit):
    """New register trees, with their crowns in the DSM and the vegetation raster.

    Attributes:
        points: trunk positions (x, y) in the region CRS (m), or None when ``count`` places them.
        count: number of trees to place on open ground in the site, or None with ``points``.
        crown_diameter_m: crown diameter (m).
        height_m: tree height (m above the terrain), the flat top of the crown.
    """

    op: ClassVar[str] = "plant_trees"
    points: tuple[tuple[float, float], ...] | None = None
    count: int | None = None
    crown_diameter_m: float = DEFAULT_CROWN_DIAMETER_M
    height_m: float = DEFAULT_TREE_HEIGHT_M

    @property
    def n_trees(self) -> int:
        """Number of trees this edit plants."""
        return len(self.points) if self.points is not None else int(self.count or 0)


@dataclass(frozen=True, kw_only=True)
class AddBuilding(Edit):
    """A new building footprint (``building`` land cover, a block of ``height_m`` in the DSM).

    Attributes:
        geometry: footprint polygon (region CRS).
        height_m: height above the terrain (m), flat roof.
    """

    op: ClassVar[str] = "add_building"
    geometry: Polygonal
    height_m: float


@dataclass(frozen=True, kw_only=True)
class RemoveBuilding(Edit):
    """The footprints of one building are removed; their ground becomes ``to``.

    Attributes:
        id: building id (BAG pand id, or the id of a building an earlier edit added).
        to: the land-cover class of the ground left.
    """

    op: ClassVar[str] = "remove_building"
    id: str
    to: str = DEFAULT_REMOVED_BUILDING_CLASS


#: Keys each op accepts (besides ``op``).
_KEYS: dict[str, frozenset[str]] = {
    Unpave.op: frozenset({"share", "geometry", "to"}),
    PlantTrees.op: frozenset({"points", "count", "crown_diameter_m", "height_m"}),
    AddBuilding.op: frozenset({"geometry", "height_m"}),
    RemoveBuilding.op: frozenset({"id", "to"}),
}

_Transform = Callable[[np.ndarray], np.ndarray] | None


def parse_edits(
    raw: Any,
    *,
    where: str = "edits",
    crs: object | None = None,
    region_crs: object = RD_NEW,
) -> tuple[Edit, ...]:
    """Check and parse a list of edits (JSON already decoded).

    Args:
        raw: the list of edit objects.
        where: its path in the request, the start of every message.
        crs: CRS of the geometries and points (``"EPSG:4326"``, ...), or None when they are in ``region_crs``.
        region_crs: the region CRS they are transformed to.

    Returns:
        The edits, in order.

    Raises:
        InputError: naming the path of the first bad value, e.g.
            ``edits[2].height_m: must be between 2 and 250 m, got -3``.
    """
    if not isinstance(raw, list | tuple):
        raise InputError(f"{where}: must be a list of edits, got {type(raw).__name__}")
    if len(raw) > MAX_EDITS:
        raise InputError(f"{where}: at most {MAX_EDITS} edits, got {len(raw)}")
    transform = _transformer(crs, region_crs, where)
    edits = tuple(_parse_one(item, f"{where}[{i}]", transform) for i, item in enumerate(raw))
    trees = sum(e.n_trees for e in edits if isinstance(e, PlantTrees))
    if trees > MAX_TREES:
        raise InputError(f"{where}: at most {MAX_TREES} trees in one scenario, the plant_trees edits add {trees}")
    return edits


def _transformer(crs: object | None, region_crs: object, where: str) -> _Transform:
    if crs is None:
        return None
    try:
        source, target = CRS.from_user_input(crs), CRS.from_user_input(region_crs)
    except (_ProjCRSError, TypeError, ValueError):
        raise InputError(f"{where}: crs {crs!r} is not a coordinate reference system PROJ knows") from None
    if source.equals(target, ignore_axis_order=True):
        return None
    proj = Transformer.from_crs(source, target, always_xy=True)

    def run(xy: np.ndarray) -> np.ndarray:
        x, y = proj.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return run


def _parse_one(item: Any, path: str, transform: _Transform) -> Edit:
    if not isinstance(item, Mapping):
        raise InputError(f"{path}: must be an object with an 'op', got {type(item).__name__}")
    op = item.get("op")
    if op not in _KEYS:
        raise InputError(f"{path}.op: unknown op {op!r}; known: {', '.join(_KEYS)}")
    unknown = sorted(str(k) for k in item if k != "op" and k not in _KEYS[op])
    if unknown:
        raise InputError(f"{path}.{unknown[0]}: unknown key for {op}; allowed: {', '.join(sorted(_KEYS[op]))}")
    if op == Unpave.op:
        return Unpave(
            where=path,
            share=_number(item, "share", path, 0.0, 1.0, "", default=1.0),
            geometry=_polygon(item["geometry"], f"{path}.geometry", transform) if "geometry" in item else None,
            to=_choice(item, "to", path, UNPAVE_CLASSES, DEFAULT_UNPAVE_CLASS),
        )
    if op == PlantTrees.op:
        return _plant_trees(item, path, transform)
    if op == AddBuilding.op:
        if "geometry" not in item:
            raise InputError(f"{path}.geometry: required for add_building (a GeoJSON polygon)")
        if "height_m" not in item:
            raise InputError(f"{path}.height_m: required for add_building (m above the terrain)")
        return AddBuilding(
            where=path,
            geometry=_polygon(item["geometry"], f"{path}.geometry", transform),
            height_m=_number(item, "height_m", path, MIN_BUILDING_HEIGHT_M, MAX_BUILDING_HEIGHT_M, " m"),
        )
    ident = item.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int) or not str(ident).strip():
        raise InputError(f"{path}.id: required for remove_building (a BAG pand id), got {ident!r}")
    return RemoveBuilding(
        where=path,
        id=str(ident).strip(),
        to=_choice(item, "to", path, REMOVED_BUILDING_CLASSES, DEFAULT_REMOVED_BUILDING_CLASS),
    )


def _plant_trees(item: Mapping[str, Any], path: str, transform: _Transform) -> PlantTrees:
    if ("points" in item) == ("count" in item):
        raise InputError(f"{path}: plant_trees takes either 'points' or 'count'")
    crown = _number(item, "crown_diameter_m", path, MIN_CROWN_DIAMETER_M, MAX_CROWN_DIAMETER_M, " m",
                    default=DEFAULT_CROWN_DIAMETER_M)
    height = _number(item, "height_m", path, MIN_TREE_HEIGHT_M, MAX_TREE_HEIGHT_M, " m",
                     default=DEFAULT_TREE_HEIGHT_M)
    if "count" in item:
        count = item["count"]
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_TREES:
            raise InputError(f"{path}.count: must be a whole number between 1 and {MAX_TREES}, got {count!r}")
        return PlantTrees(where=path, count=count, crown_diameter_m=crown, height_m=height)
    raw = item["points"]
    if not isinstance(raw, list | tuple) or not 1 <= len(raw) <= MAX_TREES:
        raise InputError(f"{path}.points: must be a list of 1 to {MAX_TREES} [x, y] positions")
    xy = np.array([_position(p, f"{path}.points[{i}]") for i, p in enumerate(raw)], dtype=float).reshape(-1, 2)
    if transform is not None:
        xy = transform(xy)
        bad = ~np.isfinite(xy).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}.points[{i}]: cannot be transformed to the region CRS")
    points = tuple((float(x), float(y)) for x, y in xy)
    return PlantTrees(where=path, points=points, crown_diameter_m=crown, height_m=height)


def _position(value: Any, path: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InputError(f"{path}: must be an [x, y] position, got {value!r}")
    x, y = (_finite(v, path) for v in value)
    return x, y


def _finite(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{path}: must be a finite number, got {value!r}")
    return float(value)


def _number(
    item: Mapping[str, Any], key: str, path: str, low: float, high: float, unit: str, default: float | None = None
) -> float:
    if key not in item:
        if default is None:
            raise InputError(f"{path}.{key}: required")
        return default
    value = _finite(item[key], f"{path}.{key}")
    if not low <= value <= high:
        raise InputError(f"{path}.{key}: must be between {low:g} and {high:g}{unit}, got {value:g}")
    return value


def _choice(item: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...], default: str) -> str:
    value = item.get(key, default)
    if value not in allowed:
        raise InputError(f"{path}.{key}: must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _polygon(value: Any, path: str, transform: _Transform) -> Polygonal:
    """A GeoJSON Polygon or MultiPolygon (or a Feature holding one) as a valid shapely polygon."""
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, Mapping) or value.get("type") not in ("Polygon", "MultiPolygon"):
        kind = value.get("type") if isinstance(value, Mapping) else type(value).__name__
        raise InputError(f"{path}: must be a GeoJSON Polygon or MultiPolygon, got {kind!r}")
    try:
        geom = shape(value)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, GEOSException) as exc:
        raise InputError(f"{path}: not a readable GeoJSON {value.get('type')}: {exc}") from None
    coords = shapely.get_coordinates(geom)
    if len(coords) > MAX_VERTICES:
        raise InputError(f"{path}: at most {MAX_VERTICES} vertices, got {len(coords)}")
    if not np.isfinite(coords).all():
        raise InputError(f"{path}: coordinates must be finite numbers")
    if transform is not None:
        geom = shapely.transform(geom, transform)
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            raise InputError(f"{path}: cannot be transformed to the region CRS")
    if not geom.is_valid:
        raise InputError(f"{path}: invalid polygon ({shapely.is_valid_reason(geom)})")
    if geom.is_empty or not geom.area > 0:
        raise InputError(f"{path}: the polygon has no area")
    assert isinstance(geom, shapely.Polygon | shapely.MultiPolygon)
    return geom


# ------------------------------------------------------------------------------------------ the placement rules
def west_cut(pieces: np.ndarray, target_m2: float) -> shapely.Polygon:
    """The half-plane west of the north-south line that leaves ``target_m2`` of ``pieces`` west of it.

    The line is moved by bisection between the pieces' west and east bounds until the area west of it is
    ``target_m2`` to ``SHARE_TOLERANCE`` (relative). Deterministic: the same pieces give the same line.

    Args:
        pieces: polygons (metres CRS), e.g. the paving of a site.
        target_m2: the area to leave west of the line (m2), at most the pieces' area.
    """
    minx, miny, maxx, maxy = shapely.total_bounds(pieces)
    low, high = float(minx), float(maxx)

    def west(x: float) -> shapely.Polygon:
        return shapely.box(minx - 1.0, miny - 1.0, x, maxy + 1.0)

    for _ in range(BISECTION_STEPS):
        mid = (low + high) / 2
        got = float(shapely.area(shapely.intersection(pieces, west(mid))).sum())
        if abs(got - target_m2) <= SHARE_TOLERANCE * target_m2:
            return west(mid)
        low, high = (mid, high) if got < target_m2 else (low, mid)
    return west((low + high) / 2)


def hex_grid(
    room: shapely.Geometry,
    centre: tuple[float, float],
    spacing_m: float,
    under: Callable[[np.ndarray], np.ndarray],
    prefer_open: bool,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The positions of a hexagonal grid inside ``room``, for the best of the ``HEX_PHASES``.

    Rows are ``spacing_m * sqrt(3) / 2`` apart, every other row shifted by half the spacing, so every position
    is ``spacing_m`` from its six neighbours. The best phase holds the most positions (the most not ``under``
    canopy when ``prefer_open``); ties go to the first phase.

    Returns:
        ``(xy, under)``: ``(k, 2)`` positions (m) and whether each is under existing canopy.
    """
    best: tuple[np.ndarray, np.ndarray] = (np.empty((0, 2)), np.empty(0, dtype=bool))
    if room.is_empty:
        return best
    minx, miny, maxx, maxy = room.bounds
    (cx, cy), step = centre, spacing_m * math.sqrt(3) / 2
    cols = np.arange(math.floor((minx - cx) / spacing_m) - 1, math.ceil((maxx - cx) / spacing_m) + 2)
    rows = np.arange(math.floor((miny - cy) / step) - 1, math.ceil((maxy - cy) / step) + 2)
    if len(cols) * len(rows) > MAX_PLACEMENT_POSITIONS:
        raise InputError(f"{where}: the site is too large to place trees {spacing_m:g} m apart by count; "
                         "give their points")
    jj, ii = np.meshgrid(rows, cols, indexing="ij")

    def score(found: tuple[np.ndarray, np.ndarray]) -> int:
        return int((~found[1]).sum()) if prefer_open else len(found[0])

    for px, py in HEX_PHASES:
        x = (cx + (ii + 0.5 * (jj % 2) + px) * spacing_m).ravel()
        y = (cy + (jj + py) * step).ravel()
        keep = shapely.contains_xy(room, x, y)
        xy = np.column_stack([x[keep], y[keep]])
        found = (xy, under(xy))
        if score(found) > score(best):
            best = found
    return best


def place_trees(
    room: shapely.Geometry,
    centre: tuple[float, float],
    crown_diameter_m: float,
    count: int,
    under: Callable[[np.ndarray], np.ndarray],
    where: str,
) -> tuple[np.ndarray, int]:
    """``count`` trunk positions in ``room``, spread as widely as they fit.

    The positions are those of the widest hexagonal grid (:func:`hex_grid`, spacing at least the crown
    diameter, found by bisection to ``PLACEMENT_TOLERANCE_M``) that still holds ``count`` positions, counting
    only positions not under existing canopy when there are enough of those at the crown-diameter spacing. Of
    that grid the ``count`` positions nearest ``centre`` are taken, those not under canopy first (ties by y,
    then x).

    Args:
        room: where a trunk may stand (metres CRS): the site shrunk by the crown radius, minus buildings and
            water grown by it.
        centre: anchor of the grids and of the choice (the site centroid).
        crown_diameter_m: crown diameter (m), the least spacing.
        count: trees to place.
        under: ``(k, 2)`` positions -> True where existing canopy covers them.
        where: path of the edit's ``count``, named in the error.

    Returns:
        ``(xy, shaded)``: ``(count, 2)`` positions and how many of them are under existing canopy.

    Raises:
        InputError: fewer than ``count`` positions fit at the crown-diameter spacing (the message says how many).
    """
    d = crown_diameter_m
    shapely.prepare(room)
    xy, shade = hex_grid(room, centre, d, under, False, where)
    if len(xy) < count:
        raise InputError(f"{where}: only {len(xy)} of {count} trees with a {d:g} m crown fit on open ground in "
                         f"the site (whole crown in the site, off buildings and water, {d:g} m apart)")
    prefer_open = int((~shade).sum()) >= count

    def fits(spacing: float) -> bool:
        found = hex_grid(room, centre, spacing, under, prefer_open, where)
        return (int((~found[1]).sum()) if prefer_open else len(found[0])) >= count

    minx, miny, maxx, maxy = room.bounds
    low, high = d, d + max(maxx - minx, maxy - miny)
    if fits(high):
        low = high
    for _ in range(BISECTION_STEPS):
        if high - low <= PLACEMENT_TOLERANCE_M:
            break
        mid = (low + high) / 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    xy, shade = hex_grid(room, centre, low, under, prefer_open, where)
    dist = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    order = np.lexsort((xy[:, 0], xy[:, 1], dist, shade))[:count]
    return xy[order], int(shade[order].sum())
