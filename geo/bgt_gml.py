"""GML geometry of the BGT adapter (:mod:`geo.bgt`): IMGeo 2.1 CityGML elements -> shapely.

Polygon (with interiors), MultiSurface, CompositeSurface and
Surface/PolygonPatch (patches of one surface are dissolved), Ring/Curve made of
LineStringSegment, Arc, ArcString or Circle segments (densified on their circle,
chord error <= :data:`ARC_TOLERANCE_M`), posList with srsDimension 2 or 3
(heights are dropped). Coordinates stay in the geometry's own CRS; arcs follow
GML 3.2 (ISO 19136): the circle through three positions. Curves are recognised
but not built, as the adapter keeps only surfaces and points.

Rings that break GML's rules are recorded as :class:`RingIssue` (the caller
counts and reports them): a ring whose last position differs from its first
is closed by repeating the first (``unclosed``); a ring of fewer than
:data:`MIN_RING_POSITIONS` positions once closed has no area (``degenerate``)
and is dropped: a hole is left out, a polygon without its exterior is left
out, and a surface left without any polygon raises :class:`DegenerateSurfaceError`.
Position counts in issues are those written in the file, before closing.
A position that is not a finite number (``NaN``, ``INF``, text) is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from lxml import etree

#: Largest distance (metres) between a densified arc and its true circle.
ARC_TOLERANCE_M = 0.01
#: Upper bound on the chords one arc is split into (guards against huge radii).
MAX_ARC_SEGMENTS = 720
#: |cross product| / (squared chord length) below which three arc points count as collinear.
COLLINEAR_TOLERANCE = 1e-9
#: Coordinates per position when a posList does not say (BGT is 2D).
DEFAULT_SRS_DIMENSION = 2
#: Positions of the smallest closed ring (a triangle plus the repeated start).
MIN_RING_POSITIONS = 4
#: Local names of the GML elements read as surfaces, points and curves.
SURFACES = frozenset({"Polygon", "PolygonPatch", "MultiSurface", "MultiPolygon", "CompositeSurface",
                      "Surface", "OrientableSurface"})
POINTS = frozenset({"Point", "MultiPoint"})
CURVES = frozenset({"LineString", "Curve", "MultiCurve", "CompositeCurve", "OrientableCurve",
                    "MultiLineString"})
GEOMETRIES = SURFACES | POINTS | CURVES


class GmlGeometryError(ValueError):
    """A geometry that cannot be read; :mod:`geo.bgt` turns it into a SourceError naming file and feature."""


@dataclass(frozen=True)
class RingIssue:
    """A ring that breaks GML's rules, as written in the file.

    Attributes:
        kind: ``"unclosed"`` (closed by repeating its first position) or
            ``"degenerate"`` (too few positions for an area; dropped).
        role: ``"exterior"`` or ``"interior"`` (a hole).
        positions: number of positions in the file, before any closing.
    """

    kind: Literal["unclosed", "degenerate"]
    role: Literal["exterior", "interior"]
    positions: int

    def describe(self) -> str:
        """One phrase for a person: ``"exterior ring with 2 positions, not closed"``."""
        what = f"{self.role} ring with {self.positions} position{'s' if self.positions != 1 else ''}"
        if self.kind == "unclosed":
            return f"{what}, not closed (closed by repeating its first position)"
        return f"{what} (a ring needs {MIN_RING_POSITIONS - 1} distinct positions plus the first repeated)"


class DegenerateSurfaceError(GmlGeometryError):
    """A surface whose every polygon has a degenerate exterior ring: it has no area.

    Args:
        issues: the ring issues of the surface (at least one degenerate exterior).
    """

    def __init__(self, issues: list[RingIssue]) -> None:
        self.issues = list(issues)
        worst = next(i for i in self.issues if i.kind == "degenerate" and i.role == "exterior")
        super().__init__(f"surface without area: {worst.describe()}")


def local_name(tag: str) -> str:
    """Tag without its ``{namespace}``: ``"{http://www.opengis.net/gml}Polygon"`` -> ``"Polygon"``."""
    return tag.rpartition("}")[2]


def _children(elem: etree._Element) -> list[etree._Element]:
    return [c for c in elem if isinstance(c.tag, str)]


def read_geometry(elem: etree._Element, issues: list[RingIssue] | None = None) -> tuple[str, Any]:
    """GML geometry element -> ``(kind, shapely geometry)``; curves are not built (kind only).

    Args:
        elem: the geometry element (``gml:Polygon``, ``gml:MultiSurface``, ``gml:Point``, ...).
        issues: list that unclosed and degenerate rings are appended to.

    Returns:
        ``("surface", Polygon | MultiPolygon)``, ``("point", Point | MultiPoint)`` or ``("curve", None)``.

    Raises:
        DegenerateSurfaceError: every polygon of the surface has a degenerate exterior ring.
        GmlGeometryError: a geometry that cannot be read (no polygons, bad or non-finite posList).
    """
    issues = issues if issues is not None else []
    name = local_name(elem.tag)
    if name in SURFACES:
        parts = _surface_parts(elem, issues)
        if not parts:
            if any(i.kind == "degenerate" and i.role == "exterior" for i in issues):
                raise DegenerateSurfaceError(issues)
            raise GmlGeometryError("surface without polygons")
        return "surface", parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    if name == "Point":
        return "point", shapely.Point(_positions(elem)[0])
    if name == "MultiPoint":
        pts = [_positions(p)[0] for m in _children(elem) for p in _children(m)]
        return "point", shapely.MultiPoint(pts)
    return "curve", None


def _surface_parts(elem: etree._Element, issues: list[RingIssue]) -> list[shapely.Polygon]:
    name = local_name(elem.tag)
    if name in ("Polygon", "PolygonPatch"):
        polygon = _polygon(elem, issues)
        return [] if polygon is None else [polygon]
    members = [g for prop in _children(elem) for g in _children(prop)]
    parts = [p for m in members for p in _surface_parts(m, issues)]
    if name in ("CompositeSurface", "Surface") and len(parts) > 1 and all(p.is_valid for p in parts):
        # Patches of one surface share edges: dissolve them into the surface they describe.
        return list(shapely.get_parts(shapely.union_all(parts)))
    return parts


def _polygon(elem: etree._Element, issues: list[RingIssue]) -> shapely.Polygon | None:
    """The polygon, or None when its exterior ring is degenerate (recorded in ``issues``)."""
    shell = None
    holes = []
    degenerate_shell = False
    for boundary in _children(elem):
        rings = _children(boundary)
        if not rings:
            continue
        role: Literal["exterior", "interior"] = (
            "exterior" if local_name(boundary.tag) in ("exterior", "outerBoundaryIs") else "interior"
        )
        coords = _ring(rings[0])
        given = len(coords)
        unclosed = given > 0 and not np.array_equal(coords[0], coords[-1])
        if unclosed:
            coords = np.vstack([coords, coords[:1]])  # GML rings are closed; close one that is not
        if len(coords) < MIN_RING_POSITIONS:
            issues.append(RingIssue("degenerate", role, given))
            degenerate_shell = degenerate_shell or role == "exterior"
            continue
        if unclosed:
            issues.append(RingIssue("unclosed", role, given))
        if role == "exterior":
            shell = coords
        else:
            holes.append(coords)
    if shell is None:
        if degenerate_shell:
            return None
        raise GmlGeometryError("polygon without exterior ring")
    return shapely.Polygon(shell, holes)


def _ring(elem: etree._Element) -> np.ndarray:
    if local_name(elem.tag) == "Ring":
        return _join([_curve(c) for member in _children(elem) for c in _children(member)])
    return _positions(elem)


def _curve(elem: etree._Element) -> np.ndarray:
    name = local_name(elem.tag)
    if name in ("LineString", "LineStringSegment", "LinearRing"):
        return _positions(elem)
    if name in ("Arc", "ArcString"):
        return _arc_string(_positions(elem))
    if name == "Circle":
        pts = _positions(elem)
        return _arc(pts[0], pts[1], pts[2], full_circle=True)
    if name in ("Curve", "CompositeCurve"):
        return _join([_curve(s) for part in _children(elem) for s in _children(part)])
    if name == "OrientableCurve":
        base = _join([_curve(s) for part in _children(elem) for s in _children(part)])
        return base[::-1] if elem.get("orientation") == "-" else base
    raise GmlGeometryError(f"unsupported curve element gml:{name}")


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate curve pieces, dropping the shared point where one ends and the next starts."""
    out = [parts[0]] if parts else [np.empty((0, 2))]
    for piece in parts[1:]:
        out.append(piece[1:] if len(out[-1]) and np.array_equal(out[-1][-1], piece[0]) else piece)
    return np.vstack(out)


def _positions(elem: etree._Element) -> np.ndarray:
    """x/y positions (n, 2) from posList, pos or coordinates children; heights are dropped."""
    pos_list = elem.find("{*}posList")
    if pos_list is not None:
        dim = int(pos_list.get("srsDimension") or _inherited_dimension(elem))
        values = _numbers(pos_list.text, "posList")
        if dim < 2 or values.size % dim:
            raise GmlGeometryError(f"posList of {values.size} numbers does not split into {dim}D positions")
        return values.reshape(-1, dim)[:, :2]
    rows = [_numbers(p.text, "pos")[:2] for p in elem.findall("{*}pos")]
    if not rows or any(r.size < 2 for r in rows):
        raise GmlGeometryError(f"gml:{local_name(elem.tag)} without (2D) positions")
    return np.vstack(rows)


def _numbers(text: str | None, element: str) -> np.ndarray:
    """The whitespace-separated numbers of a ``gml:posList``/``gml:pos``; NaN, INF or text is an error."""
    tokens = (text or "").split()
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = np.array([_to_float(t) for t in tokens])
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        raise GmlGeometryError(
            f"gml:{element} holds {tokens[first]!r} at number {first + 1} of {len(tokens)}, not a finite coordinate"
        )
    return values


def _to_float(token: str) -> float:
    try:
        return float(token)
    except ValueError:
        return math.nan


def _inherited_dimension(elem: etree._Element) -> int:
    declared = (e.get("srsDimension") for e in (elem, *elem.iterancestors()))
    return int(next((d for d in declared if d), DEFAULT_SRS_DIMENSION))


def _arc_string(points: np.ndarray) -> np.ndarray:
    if len(points) < 3 or len(points) % 2 == 0:
        raise GmlGeometryError(f"arc string with {len(points)} positions (needs an odd number >= 3)")
    pieces = [_arc(points[i], points[i + 1], points[i + 2]) for i in range(0, len(points) - 2, 2)]
    return _join(pieces)


def _arc(a: np.ndarray, b: np.ndarray, c: np.ndarray, full_circle: bool = False) -> np.ndarray:
    """Densify the circular arc from ``a`` through ``b`` to ``c`` (chord error <= ARC_TOLERANCE_M).

    Computed relative to ``a`` so that RD coordinates (~1e5 m) keep their precision.
    """
    b_rel, c_rel = b - a, c - a
    cross = b_rel[0] * c_rel[1] - b_rel[1] * c_rel[0]
    scale = max(float(b_rel @ b_rel), float(c_rel @ c_rel))
    if scale == 0 or abs(cross) <= COLLINEAR_TOLERANCE * scale:
        return np.vstack([a, b, c])  # a straight "arc": keep its three points
    d = 2.0 * cross
    bb, cc = float(b_rel @ b_rel), float(c_rel @ c_rel)
    centre = np.array([c_rel[1] * bb - b_rel[1] * cc, b_rel[0] * cc - c_rel[0] * bb]) / d
    radius = float(np.hypot(*centre))
    start = math.atan2(-centre[1], -centre[0])
    end = math.atan2(c_rel[1] - centre[1], c_rel[0] - centre[0])
    if full_circle:
        sweep = math.tau if cross > 0 else -math.tau
    elif cross > 0:  # counter-clockwise a -> b -> c
        sweep = (end - start) % math.tau
    else:
        sweep = -((start - end) % math.tau)
    step = 2.0 * math.acos(max(-1.0, 1.0 - ARC_TOLERANCE_M / radius))
    n = min(MAX_ARC_SEGMENTS, max(2, math.ceil(abs(sweep) / step)))
    angles = start + sweep * np.linspace(0.0, 1.0, n + 1)
    pts = a + centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
    pts[0] = a
    pts[-1] = a if full_circle else c
    return pts
