"""Shared pieces of the demo generator: local street frames, geometry builders, collectors.

Every district is laid out in a *local frame* ``(u, v)`` in metres: ``u`` runs
along the long streets, ``v`` across them. A frame maps to the region's
coordinates by a rotation, a translation and an optional gentle shear
``v += f(u)`` that bends the long streets. ``f`` is piecewise linear between
lattice points every ``LATTICE_M`` metres and every horizontal rectangle edge
gets a vertex on each lattice point, so rectangles that share an edge in the
local frame still share it exactly after the mapping (no slivers, no gaps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

#: Spacing of the shear lattice (m); vertices are inserted on it along long edges.
LATTICE_M = 6.0
#: Relative tolerance when deciding whether a lattice point coincides with a corner.
_EPS = 1e-9
#: Half extent (m) of the tabulated shear function; frames never reach further.
_SHEAR_RANGE_M = 20_000.0


@dataclass(frozen=True)
class Frame:
    """A local street frame: rotation + translation + optional piecewise-linear shear.

    Attributes:
        ox, oy: origin of the frame in region coordinates (m).
        angle: direction of the ``u`` axis (radians, counter-clockwise from east).
        shear_amp: amplitude (m) of the bend of the long streets; 0 for a straight grid.
        shear_len: wavelength (m) of that bend.
        shear_phase: phase (radians) of that bend.
    """

    ox: float
    oy: float
    angle: float
    shear_amp: float = 0.0
    shear_len: float = 300.0
    shear_phase: float = 0.0

    @property
    def lattice(self) -> float | None:
        """Lattice step for rectangle edges, or None when the frame is not sheared."""
        return LATTICE_M if self.shear_amp else None

    def shear(self, u: np.ndarray) -> np.ndarray:
        """Offset ``f(u)`` added to ``v`` (m), piecewise linear between lattice points."""
        if not self.shear_amp:
            return np.zeros_like(u)
        knots = np.arange(-_SHEAR_RANGE_M, _SHEAR_RANGE_M + LATTICE_M, LATTICE_M)
        values = self.shear_amp * np.sin(2 * np.pi * knots / self.shear_len + self.shear_phase)
        return np.interp(u, knots, values)

    def xy(self, u: Any, v: Any) -> tuple[np.ndarray, np.ndarray]:
        """Region coordinates of local points."""
        u = np.asarray(u, dtype=float)
        v = np.asarray(v, dtype=float) + self.shear(u)
        c, s = np.cos(self.angle), np.sin(self.angle)
        return self.ox + u * c - v * s, self.oy + u * s + v * c

    def uv(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Local coordinates of region points (inverse of :meth:`xy`)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        dx, dy = np.asarray(x, dtype=float) - self.ox, np.asarray(y, dtype=float) - self.oy
        u = dx * c + dy * s
        return u, -dx * s + dy * c - self.shear(u)

    def world(self, geoms: Any) -> np.ndarray:
        """Map local geometries to region coordinates (vectorised).

        Rounding can push a vertex that lies exactly on another edge in the local
        frame a hair across it; such rings are repaired by rebuilding the polygons
        from their rings (``make_valid`` with the ``structure`` method, which keeps
        holes as holes).
        """

        def fn(coords: np.ndarray) -> np.ndarray:
            return np.column_stack(self.xy(coords[:, 0], coords[:, 1]))

        out = shapely.transform(np.asarray(geoms, dtype=object), fn)
        bad = ~shapely.is_valid(out)
        if bad.any():
            out[bad] = shapely.make_valid(out[bad], method="structure", keep_collapsed=False)
        return out

    def local_bounds(self, geom: Any) -> tuple[float, float, float, float]:
        """Bounding box ``(umin, vmin, umax, vmax)`` of a region geometry in this frame."""
        coords = shapely.get_coordinates(geom)
        u, v = self.uv(coords[:, 0], coords[:, 1])
        return float(u.min()), float(v.min()), float(u.max()), float(v.max())


def _lattice_counts(u0: np.ndarray, u1: np.ndarray, step: float | None) -> tuple[np.ndarray, np.ndarray]:
    """First lattice index strictly inside ``(u0, u1)`` and how many lattice points lie inside."""
    if step is None:
        return np.zeros(len(u0), dtype=np.int64), np.zeros(len(u0), dtype=np.int64)
    k0 = np.floor(u0 / step + _EPS).astype(np.int64) + 1
    k1 = np.ceil(u1 / step - _EPS).astype(np.int64) - 1
    return k0, np.maximum(k1 - k0 + 1, 0)


def rects(u0: Any, u1: Any, v0: Any, v1: Any, step: float | None = None) -> np.ndarray:
    """Axis-parallel rectangles in a local frame, with lattice vertices on the ``u`` edges.

    Args:
        u0, u1, v0, v1: corner coordinates (m), arrays of equal length, ``u0 < u1``, ``v0 < v1``.
        step: lattice step (``Frame.lattice``); None adds no extra vertices.

    Returns:
        Array of shapely Polygons (counter-clockwise exterior).
    """
    u0, u1, v0, v1 = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (u0, u1, v0, v1))
    n = len(u0)
    if n == 0:
        return np.empty(0, dtype=object)
    k0, cnt = _lattice_counts(u0, u1, step)
    nv = 4 + 2 * cnt
    ring = np.repeat(np.arange(n), nv)
    pos = np.arange(nv.sum()) - np.repeat(np.cumsum(nv) - nv, nv)
    c, r = cnt[ring], ring
    s = step or 1.0
    # Vertex order: (u0,v0), lattice up along v0, (u1,v0), (u1,v1), lattice down along v1, (u0,v1).
    u = np.select(
        [pos == 0, pos <= c, pos <= c + 2, pos <= 2 * c + 2],
        [u0[r], (k0[r] + pos - 1) * s, u1[r], (k0[r] + c - 1 - (pos - c - 3)) * s],
        u0[r],
    )
    v = np.where((pos <= c + 1), v0[r], v1[r])
    rings = shapely.linearrings(np.column_stack([u, v]), indices=ring)
    return shapely.polygons(rings)


def hlines(ua: Any, ub: Any, v: Any, step: float | None = None) -> np.ndarray:
    """Lines along ``u`` at constant ``v`` with lattice vertices (local frame)."""
    ua, ub, v = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (ua, ub, v))
    k0, cnt = _lattice_counts(ua, ub, step)
    nv = 2 + cnt
    line = np.repeat(np.arange(len(ua)), nv)
    pos = np.arange(nv.sum()) - np.repeat(np.cumsum(nv) - nv, nv)
    c = cnt[line]
    u = np.select([pos == 0, pos <= c], [ua[line], (k0[line] + pos - 1) * (step or 1.0)], ub[line])
    return shapely.linestrings(np.column_stack([u, v[line]]), indices=line)


def vlines(u: Any, va: Any, vb: Any) -> np.ndarray:
    """Lines along ``v`` at constant ``u`` (local frame)."""
    u, va, vb = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (u, va, vb))
    coords = np.stack([np.column_stack([u, va]), np.column_stack([u, vb])], axis=1)
    return shapely.linestrings(coords)


def blob(cx: float, cy: float, radius: float, rng: np.random.Generator, roughness: float = 0.25) -> Polygon:
    """An irregular round polygon (a wood, a pond) of mean ``radius`` metres."""
    theta = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 5):
        r += roughness / k * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
    return Polygon(np.column_stack([cx + radius * r * np.cos(theta), cy + radius * r * np.sin(theta)]))


def along(lines: Any, spacing: float, offset: float, rng: np.random.Generator, jitter: float = 0.0,
          start: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` metres along lines, ``offset`` metres to their left (negative: right).

    Returns:
        ``(x, y, line_index)`` arrays.
    """
    lines = np.atleast_1d(np.asarray(lines, dtype=object))
    lengths = shapely.length(lines)
    counts = np.maximum(np.floor((lengths - spacing) / spacing).astype(int) + 1, 0)
    idx = np.repeat(np.arange(len(lines)), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    first = spacing / 2 if start is None else start
    d = first + pos * spacing + rng.uniform(-jitter, jitter, len(idx))
    d = np.clip(d, 0.5, np.maximum(lengths[idx] - 0.5, 0.5))
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines[idx], d - 0.5))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines[idx], d + 0.5))
    t = p1 - p0
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    mid = (p0 + p1) / 2
    return mid[:, 0] - t[:, 1] * offset, mid[:, 1] + t[:, 0] * offset, idx


def sample_in(polys: Any, counts: Any, rng: np.random.Generator,
              tries: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform random points inside polygons by rejection, ``counts[i]`` per polygon.

    Polygons too thin to receive a point after ``tries`` rounds get fewer.

    Returns:
        ``(x, y, polygon_index)`` arrays.
    """
    polys = np.atleast_1d(np.asarray(polys, dtype=object))
    counts = np.where(shapely.is_empty(polys), 0, np.broadcast_to(np.asarray(counts, dtype=int), polys.shape))
    want = np.repeat(np.arange(len(polys)), counts)
    b = shapely.bounds(polys)
    xs, ys, owner = [], [], []
    for _ in range(tries):
        if len(want) == 0:
            break
        x = rng.uniform(b[want, 0], b[want, 2])
        y = rng.uniform(b[want, 1], b[want, 3])
        ok = shapely.contains_xy(polys[want], x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        owner.append(want[ok])
        want = want[~ok]
    if not xs:
        return np.empty(0), np.empty(0), np.empty(0, dtype=int)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owner)


@dataclass
class Pieces:
    """Land-cover pieces collected before the partition is made (see ``landcover.partition``).

    Each piece carries its canonical class, BGT-like origin, whether it is public,
    a ``rank`` (lower wins where pieces overlap) and a ``family``/``group``:
    pieces of one family with different groups are known to be disjoint, so the
    partition skips comparing them.
    """

    geoms: list[np.ndarray] = field(default_factory=list)
    attrs: list[tuple[str, str, bool, int, str, np.ndarray]] = field(default_factory=list)
    _next_group: int = 0

    def add(self, geoms: Any, cls: str, source_class: str, public: bool, rank: int,
            family: str = "", group: Any = None) -> None:
        """Add pieces; ``group`` defaults to one group per piece (mutually disjoint)."""
        geoms = np.atleast_1d(np.asarray(geoms, dtype=object))
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if group is None:
            group = np.arange(self._next_group, self._next_group + len(geoms))
            self._next_group += len(geoms)
        group = np.broadcast_to(np.asarray(group, dtype=np.int64), geoms.shape)
        self.geoms.append(geoms[keep])
        self.attrs.append((cls, source_class, public, rank, family, group[keep]))

    def new_group(self) -> int:
        """A fresh group number (for pieces that must be compared with each other only)."""
        self._next_group += 1
        return self._next_group - 1


@dataclass
class Building:
    """One building (BAG pand) and the address units it holds.

    Attributes:
        geom: footprint polygon, region coordinates.
        kind: generator kind (``terraced``, ``shop``, ``hall``, ``church``, ...).
        height_m: roof height above the terrain (m).
        year: construction year.
        units: address units as ``(use, floor_area_m2)``; ``use`` is a BAG gebruiksdoel
            or a comma-separated list of them.
        status: BAG pand status.
        amenity: ``(type, name)`` when the building houses a facility.
    """

    geom: Polygon
    kind: str
    height_m: float
    year: int
    units: list[tuple[str, float]]
    status: str = "Pand in gebruik"
    amenity: tuple[str, str] | None = None


@dataclass
class Town:
    """Everything generated so far; each stage reads it and adds to it.

    Attributes:
        size: side of the square region (m).
        x0, y0: lower-left corner of the region (EPSG:28992, m).
        seed: base seed; every stage draws from its own generator (:meth:`rng`).
        ring_scale: factor on the ring road's radius, set when a first plan gave too few
            or too many homes (``town.plan_town``).
        streets: street centrelines per kind (``main``, ``residential``, ``footpath``, ...).
        pieces: land-cover pieces before the partition.
        buildings: buildings with their address units.
        parks: public parks as ``(polygon, name)``.
        zones: named polygons of the skeleton (``ring``, ``centre``, ``business``, ...).
        amenities: ``(x, y, type, name)`` of facilities without a building of their own.
        sites: housing sites as dicts (``geometry``, ``name``, ``status``, ...).
        trees: tree arrays (``x``, ``y``, ``crown``, ``height``, ``species``, ``kind``).
    """

    size: float
    x0: float
    y0: float
    seed: int
    ring_scale: float = 1.0
    streets: list[tuple[np.ndarray, str]] = field(default_factory=list)
    pieces: Pieces = field(default_factory=Pieces)
    buildings: list[Building] = field(default_factory=list)
    parks: list[tuple[Polygon, str]] = field(default_factory=list)
    zones: dict[str, Any] = field(default_factory=dict)
    amenities: list[tuple[float, float, str, str]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    trees: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        """Size relative to the standard 3 km demo; district sizes follow it."""
        return self.size / 3000.0

    def rng(self, stage: str) -> np.random.Generator:
        """An independent, reproducible generator per stage (seed + stage name)."""
        return np.random.default_rng([self.seed, *stage.encode()])

    def square(self) -> Polygon:
        """The region square."""
        return shapely.box(self.x0, self.y0, self.x0 + self.size, self.y0 + self.size)

    def add_streets(self, lines: Any, kind: str) -> None:
        """Add street centrelines of one kind (empty and missing geometries are dropped)."""
        lines = np.atleast_1d(np.asarray(lines, dtype=object))
        parts = shapely.get_parts(lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))])
        if len(parts):
            self.streets.append((parts, kind))


#: Street kinds: half width of the paved surface (m), BGT-like surface of the wegdeel.
STREET_KINDS: dict[str, tuple[float, str]] = {
    "main": (5.5, "wegdeel:gesloten verharding"),
    "ring": (4.0, "wegdeel:gesloten verharding"),
    "rural": (3.0, "wegdeel:gesloten verharding"),
    "lane": (2.5, "wegdeel:gesloten verharding"),
    "business": (5.0, "wegdeel:gesloten verharding"),
    "centre": (5.0, "wegdeel:open verharding"),
    "residential": (4.0, "wegdeel:open verharding"),
    "access": (3.0, "wegdeel:gesloten verharding"),
    "footpath": (1.25, "wegdeel:gesloten verharding"),
    "park_path": (1.0, "wegdeel:half verhard"),
    "track": (1.5, "wegdeel:onverhard"),
}
