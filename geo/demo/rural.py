"""The countryside and the water: fields, hedgerows, woods, farmsteads and the beek.

The Achterhoek is a small-scale "coulisse" landscape: irregular fields of
grassland and maize, many edged by hedgerows (houtwallen), scattered woods and
farmsteads along the lanes. Fields are Voronoi cells of jittered points, so
their edges meet at irregular angles like old field boundaries do.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.demo.base import STREET_KINDS, Building, Town, blob
from geo.demo.districts import DRIVEWAY_M, oriented_boxes

#: Mean field size (m, spacing of the Voronoi seeds) and share of field edges with a hedgerow.
FIELD_SPACING_M = 190.0
HEDGE_SHARE = 0.2
HEDGE_HALF_M = 2.5
#: Share of fields that are arable land (the rest is grassland).
ARABLE_SHARE = 0.4
#: Stream banks: half width (m) of the grass strip along the rural beek.
BANK_HALF_M = 8.0
#: Beekpark pond radius (m).
POND_M = (18.0, 26.0)
#: Farmsteads at full size, their plot width and depth (m), distance from other farms (m).
FARMS = 22
FARM_PLOT = ((60.0, 80.0), (65.0, 80.0))
FARM_SPACING_M = 150.0
#: Candidate spots drawn along the rural roads; verge (m) between a road's edge and a farm plot.
FARM_CANDIDATES = 400
FARM_VERGE_M = 6.0
FARM_YEARS = (1850, 1966)
#: Minimum distance (m) from a farm plot to any other road centreline.
FARM_ROAD_CLEAR_M = 6.0
#: Farmhouse (hallehuis): width, depth, height (m) and the share of its footprint lived in (the rest is stable).
FARMHOUSE = (12.0, 25.0, (8.5, 10.5))
FARMHOUSE_LIVING = 0.9
#: Barns: depth (m), height (m), lengths (m); farmyard layout: house setback, yard depth, margins (m).
BARN = (15.0, (7.0, 10.0))
BARN_LENGTH = (30.0, 22.0)
FARM_FRONT_M = 8.0
FARM_YARD_M = 12.0
FARM_MARGIN_M = 4.0
WOOD_TYPES = ("loofbos", "gemengd bos", "naaldbos")


def build_rural(town: Town) -> None:
    """Add water, stream banks, woods, farmsteads, fields and hedgerows to ``town``."""
    rng = town.rng("rural")
    z = town.zones
    square, village = town.square(), z["village"]
    stream = z["stream"]
    pond = _pond(rng, z["beekpark"], stream)
    town.pieces.add(shapely.get_parts(shapely.union(z["water"], pond)), "water", "waterdeel:waterloop", True, 2)
    z["water"] = shapely.union(z["water"], pond)
    banks = shapely.difference(stream.buffer(BANK_HALF_M), shapely.union(z["water"], village))
    town.pieces.add(shapely.get_parts(banks), "green_low", "begroeidterreindeel:grasland overig", True, 6)
    for i, wood in enumerate(z["woods"]):
        town.pieces.add([wood], "green_trees", f"begroeidterreindeel:{WOOD_TYPES[i % 3]}", i == 0, 4)
    _farms(town, rng)
    cells = _fields(town, rng, square, village)
    edges = shapely.get_parts(shapely.union_all(shapely.boundary(cells)))
    edges = edges[rng.random(len(edges)) < HEDGE_SHARE]
    edges = shapely.get_parts(shapely.difference(edges, shapely.union_all([village.buffer(20.0), square.exterior])))
    edges = edges[shapely.length(edges) > 20.0]
    z["hedges"] = edges
    town.pieces.add(shapely.buffer(edges, HEDGE_HALF_M, cap_style="flat"), "green_trees",
                    "begroeidterreindeel:houtwal", False, 4)


def _pond(rng: np.random.Generator, park: shapely.Polygon, stream: shapely.LineString) -> shapely.Polygon:
    """A pond beside the stream in the Beekpark (a retention pond, typical for new districts)."""
    at = stream.project(park.centroid)
    p0, p1 = stream.interpolate(at), stream.interpolate(at + 5.0)
    t = np.array([p1.x - p0.x, p1.y - p0.y]) / 5.0
    r = rng.uniform(*POND_M)
    side = 1.0 if park.contains(shapely.Point(p0.x - t[1] * 2 * r, p0.y + t[0] * 2 * r)) else -1.0
    centre = np.array([p0.x, p0.y]) + side * np.array([-t[1], t[0]]) * (r + 2.0)
    return blob(float(centre[0]), float(centre[1]), r, rng, 0.15).intersection(park)


def _fields(town: Town, rng: np.random.Generator, square: shapely.Polygon, village: shapely.Polygon) -> np.ndarray:
    step = FIELD_SPACING_M
    g = np.arange(step / 2, town.size, step)
    gx, gy = np.meshgrid(g, g)
    pts = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-0.4, 0.4, (gx.size, 2)) * step
    pts += [town.x0, town.y0]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=square))
    cells = shapely.intersection(cells, square)
    fields = shapely.get_parts(shapely.difference(cells, village))
    fields = fields[shapely.area(fields) > 1.0]
    arable = rng.random(len(fields)) < ARABLE_SHARE
    town.pieces.add(fields[arable], "agriculture", "begroeidterreindeel:bouwland", False, 7, "field")
    town.pieces.add(fields[~arable], "agriculture", "begroeidterreindeel:grasland agrarisch", False, 7, "field")
    return cells


def _farms(town: Town, rng: np.random.Generator) -> None:
    """Farmsteads beside the rural roads: a hallehuis, barns, a yard, a garden and a drive."""
    z = town.zones
    roads = [(g, k) for g, k in town.streets if k in ("rural", "lane")]
    if not roads:
        return
    lines = np.concatenate([g for g, _ in roads])
    half = np.concatenate([np.full(len(g), STREET_KINDS[k][0]) for g, k in roads])
    d = rng.uniform(0.1, 0.9, FARM_CANDIDATES)
    pick = rng.integers(len(lines), size=FARM_CANDIDATES)
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines[pick], d, normalized=True))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines[pick], d + 2.0 / shapely.length(lines[pick]),
                                                                normalized=True))
    t = (p1 - p0) / np.maximum(np.hypot(*(p1 - p0).T), 1e-9)[:, None]
    side = rng.choice([-1.0, 1.0], FARM_CANDIDATES)
    tx, ty = t[:, 0] * side, t[:, 1] * side
    w, depth = rng.uniform(*FARM_PLOT[0], FARM_CANDIDATES), rng.uniform(*FARM_PLOT[1], FARM_CANDIDATES)
    sb = half[pick] + FARM_VERGE_M
    plot = oriented_boxes(p0[:, 0], p0[:, 1], tx, ty, -w / 2, w / 2, sb, sb + depth)
    avoid = shapely.union_all([z["village"].buffer(100.0), *z["woods"], z["water"].buffer(10.0),
                               town.square().exterior.buffer(20.0)])
    shapely.prepare(avoid)
    street_tree = shapely.STRtree(lines)
    ok = ~shapely.intersects(avoid, plot)
    ok[street_tree.query(plot, predicate="dwithin", distance=FARM_ROAD_CLEAR_M)[0]] = False
    chosen: list[int] = []
    for i in np.flatnonzero(ok):
        if len(chosen) == round(FARMS * town.scale**2):
            break
        if all(plot[i].distance(plot[j]) > FARM_SPACING_M for j in chosen):
            chosen.append(int(i))
    z["farms"] = plot[chosen]
    for k in chosen:
        _farmstead(town, rng, plot[k], p0[k], (tx[k], ty[k]), w[k], sb[k], depth[k])


def _farmstead(town: Town, rng: np.random.Generator, plot: shapely.Polygon, p: np.ndarray,
               t: tuple[float, float], w: float, sb: float, depth: float) -> None:
    def box(u0: float, u1: float, v0: float, v1: float) -> shapely.Polygon:
        return oriented_boxes(np.array([p[0]]), np.array([p[1]]), np.array([t[0]]), np.array([t[1]]),
                              np.array([u0]), np.array([u1]), np.array([sb + v0]), np.array([sb + v1]))[0]

    hw, front = FARMHOUSE[0] / 2, FARM_FRONT_M
    back = front + FARMHOUSE[1]
    year = int(rng.integers(*FARM_YEARS))
    house = box(-hw, hw, front, back)
    yard_v = back + FARM_YARD_M
    m = FARM_MARGIN_M
    barns = [box(-w / 2 + m, -w / 2 + m + min(BARN_LENGTH[0], w / 2 - 2 * m), yard_v, yard_v + BARN[0]),
             box(m, m + min(BARN_LENGTH[1], w / 2 - 2 * m), yard_v, yard_v + BARN[0])]
    town.buildings.append(Building(house, "farmhouse", rng.uniform(*FARMHOUSE[2]), year,
                                   [("woonfunctie", FARMHOUSE[0] * FARMHOUSE[1] * FARMHOUSE_LIVING)]))
    for barn in barns:
        town.buildings.append(Building(barn, "barn", rng.uniform(*BARN[1]), int(rng.integers(year, 2000)), []))
    built = shapely.union_all([house, *barns])
    # The yard behind the house, around the barns, and a drive from the road beside the house.
    yard = shapely.union(box(-w / 2 + m / 2, w / 2 - m / 2, back, yard_v + BARN[0] + m),
                         box(hw + 1, hw + 1 + DRIVEWAY_M, 0.0, back))
    yard = shapely.difference(yard, built).intersection(plot)
    town.pieces.add([house, *barns], "building", "pand", False, 0, "lot")
    town.pieces.add(shapely.get_parts(yard), "paved_other", "onbegroeidterreindeel:erf", False, 0, "lot")
    rest = shapely.difference(plot, shapely.union(built, yard))
    town.pieces.add(shapely.get_parts(rest), "green_low", "begroeidterreindeel:grasland overig", False, 0, "lot")
    town.zones.setdefault("lots", []).append(np.array([plot], dtype=object))
