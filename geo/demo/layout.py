"""The skeleton of Eschveld: centre, radial roads, ring road, stream, districts and rural lanes.

The village grew the Achterhoek way: a centre around the church and the
market square, old country roads radiating from it, a ring road around the
post-war districts, a beek (stream) in a shallow valley south-east of the
centre and a small-scale landscape of fields, hedgerows and woods around it.
All geometry is in EPSG:28992 metres.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import split, substring

from geo.demo.base import STREET_KINDS, Frame, Town, blob, hlines, vlines

#: Village centre as a fraction of the square (x, y), and its random shift.
CENTRE_AT = (0.47, 0.53)
CENTRE_SHIFT = 0.02
#: Column widths and row heights (m) of the 3 x 3 centre grid at full scale (the middle cell is the market).
CENTRE_COLS = ((60.0, 80.0), (55.0, 70.0), (60.0, 80.0))
CENTRE_ROWS = ((55.0, 70.0), (50.0, 60.0), (55.0, 70.0))
#: Directions (radians) of the five old country roads, before jitter.
RADIAL_ANGLES = (0.17, 1.4, 2.6, 3.75, 4.97)
RADIAL_JITTER = 0.15
#: Mean radius of the ring road as a fraction of the square, and its two wobble amplitudes.
RING_RADIUS = 0.215
RING_WOBBLE = ((0.04, 0.09), (0.02, 0.05))
#: Stream: distance of its axis from the centre (fraction of the square), meander sizes (m).
STREAM_OFFSET = 0.09
STREAM_BEND = (0.025, 0.55)  # amplitude and wavelength as fractions of the square
STREAM_MEANDER = (10.0, 160.0)  # amplitude and wavelength in metres
STREAM_STEP_M = 8.0
#: Half widths (m): the green stream corridor inside the village, the stream bed.
CORRIDOR_HALF_M = 28.0
WATER_HALF_M = 3.0
#: Beekpark: half length along the stream and half width (m), at full scale.
BEEKPARK_HALF = (130.0, 60.0)
#: Business park (u along its road, v across) and sports park size, fractions of the square.
BUSINESS_SIZE = (0.15, 0.12)
SPORTS_SIZE = (0.09, 0.075)
#: Rural lanes: radii beyond the ring road (fraction of the square) and the share of arcs kept.
LANE_RADII = (0.12, 0.27)
LANE_KEEP = 0.65
LANE_WOBBLE = ((2, 0.03), (5, 0.012), (9, 0.004))  # (waves per turn, amplitude as a fraction of the square)
#: Woods at full scale: how many and their radius range (m).
WOODS = (3, (110.0, 150.0))
#: Grid (m) for noding the skeleton's lines into district faces.
NODE_GRID_M = 0.001
#: Verges (m) between a street's paved edge and the first private plot.
VERGE_M = {"main": 3.5, "ring": 6.0, "centre": 1.0, "rural": 4.0, "business": 4.0}


def setback(kind: str) -> float:
    """Distance (m) from a street centreline to the first plot along it."""
    return STREET_KINDS[kind][0] + VERGE_M.get(kind, 1.0)


def build_layout(town: Town) -> None:
    """Lay out the skeleton and store it in ``town.zones`` and ``town.streets``."""
    rng = town.rng("layout")
    s, size = town.scale, town.size
    square = town.square()
    cx = town.x0 + size * (CENTRE_AT[0] + rng.uniform(-CENTRE_SHIFT, CENTRE_SHIFT))
    cy = town.y0 + size * (CENTRE_AT[1] + rng.uniform(-CENTRE_SHIFT, CENTRE_SHIFT))
    z = town.zones
    z["c"] = (cx, cy)
    _centre(town, rng, cx, cy)
    centre = z["centre"]
    ring = _ring(rng, cx, cy, size * RING_RADIUS * town.ring_scale)
    z["ring"] = ring
    radials = _radials(rng, cx, cy, size, centre, square)
    z["radials"] = radials
    inner = shapely.intersection(radials, ring)
    town.add_streets(inner, "main")
    town.add_streets(shapely.difference(radials, ring), "rural")
    town.add_streets([ring.exterior], "ring")
    stream = _stream(rng, cx, cy, size, z["centre_radius"], square)
    z["stream"] = stream
    corridor = shapely.intersection(stream.buffer(CORRIDOR_HALF_M), ring)
    z["water"] = stream.buffer(WATER_HALF_M)
    z["beekpark"] = _beekpark(stream, ring, centre, cx, cy, s, radials)
    # Snap-rounding noding: the radials end exactly on the centre's edge only up to rounding.
    edges = shapely.union_all([ring.exterior, centre.exterior, *inner], grid_size=NODE_GRID_M)
    faces = shapely.get_parts(shapely.polygonize([edges]))
    inside = [f for f in faces if ring.contains(f.representative_point())]
    faces = [f for f in inside if not centre.contains(f.representative_point())]
    blocked = shapely.union_all(
        [corridor, z["beekpark"], *shapely.buffer(inner, setback("main")),
         ring.exterior.buffer(setback("ring")), centre.buffer(setback("centre"), join_style="mitre")]
    )
    # Ordered by direction, which a resized ring road does not change (see ``town.plan_town``).
    order = sorted(faces, key=lambda f: np.arctan2(f.centroid.y - cy, f.centroid.x - cx))
    z["quarters"] = [(f, f.difference(blocked)) for f in order]
    outside = shapely.union_all([ring.buffer(40.0), stream.buffer(CORRIDOR_HALF_M)])
    z["business"] = _side_zone(town, radials, ring, 0.0, BUSINESS_SIZE, outside, centred=True)
    taken = {z["business"][2]}
    z["sports"] = _side_zone(town, radials, ring, 2.4, SPORTS_SIZE, outside, centred=False, skip=taken)
    zones = shapely.union_all([z["business"][0], z["sports"][0]])
    z["village"] = shapely.union_all([ring.buffer(30.0), zones])
    _lanes(town, rng, cx, cy, ring, radials, zones, square)
    z["woods"] = _woods(rng, size, s, square, shapely.union_all([ring.buffer(150.0), zones.buffer(60.0)]))


def _centre(town: Town, rng: np.random.Generator, cx: float, cy: float) -> None:
    k = float(np.clip(town.scale * 1.25, 0.55, 1.0))
    cols = np.array([rng.uniform(*w) for w in CENTRE_COLS]) * k
    rows = np.array([rng.uniform(*h) for h in CENTRE_ROWS]) * k
    us = np.concatenate([[0.0], np.cumsum(cols)]) - cols.sum() / 2
    vs = np.concatenate([[0.0], np.cumsum(rows)]) - rows.sum() / 2
    frame = Frame(cx, cy, rng.uniform(-0.35, 0.35))
    lines = np.concatenate([hlines(np.full(4, us[0]), np.full(4, us[-1]), vs),
                            vlines(us, np.full(4, vs[0]), np.full(4, vs[-1]))])
    town.add_streets(frame.world(lines), "centre")
    town.zones.update(
        centre_frame=frame, centre_us=us, centre_vs=vs,
        centre=frame.world([shapely.box(us[0], vs[0], us[-1], vs[-1])])[0],
        centre_radius=float(np.hypot(us[-1], vs[-1])),
    )


def _ring(rng: np.random.Generator, cx: float, cy: float, radius: float) -> Polygon:
    theta = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    r = radius * (1 + rng.uniform(*RING_WOBBLE[0]) * np.sin(2 * theta + rng.uniform(0, 2 * np.pi))
                  + rng.uniform(*RING_WOBBLE[1]) * np.sin(3 * theta + rng.uniform(0, 2 * np.pi)))
    return Polygon(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]))


def _radials(rng: np.random.Generator, cx: float, cy: float, size: float, centre: Polygon,
             square: Polygon) -> np.ndarray:
    r = np.arange(0.0, 1.5 * size, 10.0)
    out = []
    for base in RADIAL_ANGLES:
        theta0 = base + rng.uniform(-RADIAL_JITTER, RADIAL_JITTER)
        wiggle = rng.uniform(0.05, 0.12) * np.sin(np.pi * r / (0.45 * size) + rng.uniform(0, 2 * np.pi))
        theta = theta0 + wiggle * np.minimum(1.0, r / 200.0)
        line = LineString(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]))
        parts = shapely.get_parts(line.difference(centre).intersection(square))
        out.append(max(parts, key=lambda p: p.length))
    return np.array(out, dtype=object)


def _stream(rng: np.random.Generator, cx: float, cy: float, size: float, centre_radius: float,
            square: Polygon) -> LineString:
    beta = np.deg2rad(rng.uniform(200.0, 215.0))  # flows from north-east to south-west
    d = np.array([np.cos(beta), np.sin(beta)])
    m = np.array([-np.sin(beta), np.cos(beta)])  # points south-east, away from the centre
    offset = max(STREAM_OFFSET * size, centre_radius + 70.0 + STREAM_BEND[0] * size + STREAM_MEANDER[0])
    t = np.arange(-1.2 * size, 1.2 * size, STREAM_STEP_M)
    lateral = (STREAM_BEND[0] * size * np.sin(2 * np.pi * t / (STREAM_BEND[1] * size) + rng.uniform(0, 2 * np.pi))
               + STREAM_MEANDER[0] * np.sin(2 * np.pi * t / STREAM_MEANDER[1] + rng.uniform(0, 2 * np.pi)))
    pts = np.array([cx, cy]) + np.outer(t, d) + np.outer(offset + lateral, m)
    parts = shapely.get_parts(LineString(pts).intersection(square))
    return max(parts, key=lambda p: p.length)


def _beekpark(stream: LineString, ring: Polygon, centre: Polygon, cx: float, cy: float, s: float,
              radials: np.ndarray) -> Polygon:
    k = max(s, 0.5)
    at = stream.project(shapely.Point(cx, cy))
    section = substring(stream, at - BEEKPARK_HALF[0] * k, at + BEEKPARK_HALF[0] * k)
    park = section.buffer(BEEKPARK_HALF[1] * k).intersection(ring)
    park = park.difference(centre.buffer(20.0)).difference(shapely.union_all(shapely.buffer(radials, setback("main"))))
    parts = shapely.get_parts(park)
    return max(parts, key=lambda p: p.area)


def _side_zone(town: Town, radials: np.ndarray, ring: Polygon, direction: float, size: tuple[float, float],
               outside: Polygon, centred: bool, skip: frozenset[int] | set[int] = frozenset()
               ) -> tuple[Polygon, Frame, int]:
    """A rectangular district just outside the ring road along the radial nearest ``direction``."""
    cx, cy = town.zones["c"]
    angles = [np.arctan2(r.coords[0][1] - cy, r.coords[0][0] - cx) for r in radials]
    gap = [abs((a - direction + np.pi) % (2 * np.pi) - np.pi) if i not in skip else 9.0 for i, a in enumerate(angles)]
    i = int(np.argmin(gap))
    road = radials[i]
    at = road.project(road.intersection(ring.exterior).representative_point())
    p0, p1 = road.interpolate(at), road.interpolate(at + 20.0)
    angle = float(np.arctan2(p1.y - p0.y, p1.x - p0.x))
    frame = Frame(p0.x, p0.y, angle)
    length, width = size[0] * town.size, size[1] * town.size
    v0, v1 = (-width / 2, width / 2) if centred else (setback("rural"), setback("rural") + width)
    rect = frame.world([shapely.box(40.0, v0, 40.0 + length, v1)])[0]
    zone = rect.difference(outside).intersection(town.square())
    if not centred:
        zone = zone.difference(road.buffer(setback("rural")))
    parts = shapely.get_parts(zone)
    return max(parts, key=lambda p: p.area), frame, i


def _lanes(town: Town, rng: np.random.Generator, cx: float, cy: float, ring: Polygon, radials: np.ndarray,
           zones: Polygon, square: Polygon) -> None:
    theta = np.linspace(0, 2 * np.pi, 720)
    base = np.sqrt(ring.area / np.pi)
    for frac in LANE_RADII:
        r = base + frac * town.size
        for k, amp in LANE_WOBBLE:  # old lanes follow field edges, not circles
            r = r + amp * town.size * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
        circle = LineString(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]))
        pieces = shapely.get_parts(split(circle, shapely.MultiLineString(list(radials))))
        keep = [p for p in pieces if rng.random() < LANE_KEEP]
        lanes = shapely.difference(shapely.intersection(keep, square), zones.buffer(5.0))
        town.add_streets(lanes, "lane")


def _woods(rng: np.random.Generator, size: float, s: float, square: Polygon, avoid: Polygon) -> list[Polygon]:
    count = max(1, round(WOODS[0] * s * s))
    woods: list[Polygon] = []
    for _ in range(200):
        if len(woods) == count:
            break
        x, y = rng.uniform(0.08, 0.92, 2) * size + np.array(square.bounds[:2])
        wood = blob(x, y, rng.uniform(*WOODS[1]), rng).intersection(square)
        if wood.intersects(avoid) or any(wood.distance(w) < 100.0 for w in woods):
            continue
        woods.append(wood)
    return woods
