"""The built-up area: residential districts, the centre, special blocks, business and sports park.

Residential districts get an era (years, mix of terraced / semi-detached /
detached houses), a rotated and sometimes gently bent street grid and plots
with front and back gardens, terraces and driveways. A few whole blocks are
given another use (parks, schools, apartment blocks, a supermarket, two
housing sites). The number of apartments is set last so that the village
holds close to ``DWELLINGS`` homes at full size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from geo.demo.base import Building, Frame, Town, rects
from geo.demo.districts import (
    USABLE_SHARE,
    Grid,
    Plots,
    block_rects,
    business_row,
    classify_blocks,
    fill_block,
    house_row,
    place_plots,
    ribbon,
)
from geo.demo.layout import build_layout, setback

#: Dwellings at full size (3 x 3 km); scales with the area.
DWELLINGS = 3000
#: Share of the homes planned in apartment buildings, tolerance of the first plan, ring road scale limits.
APARTMENT_SHARE = 0.07
PLAN_TOLERANCE = 0.03
PLANS = 4
RING_SCALE = (0.8, 1.25)
#: Residential eras: years and the chance of each house type per row.
ERAS = (
    ((1920, 1956), {"terraced": 0.40, "semi": 0.35, "detached": 0.25}),
    ((1956, 1976), {"terraced": 0.70, "semi": 0.20, "detached": 0.10}),
    ((1976, 1991), {"terraced": 0.55, "semi": 0.30, "detached": 0.15}),
    ((1991, 2006), {"terraced": 0.40, "semi": 0.35, "detached": 0.25}),
    ((2006, 2023), {"terraced": 0.35, "semi": 0.35, "detached": 0.30}),
)
#: Row depth (m) behind the setback, cross-street spacing (m), chance and size of a bent grid.
ROW_DEPTH = (28.0, 34.0)
CROSS_SPACING = (130.0, 200.0)
BENT_CHANCE = 0.4
BEND = ((8.0, 16.0), (250.0, 400.0))
#: Verge widths (m) of residential streets: narrow, or a lane with street trees.
VERGES = (1.0, 3.0)
#: Years of the ribbon houses along the old roads.
RIBBON_YEARS = (1900, 1965)
#: Floor area (m2) of a GP's practice at home.
HOME_PRACTICE_M2 = 90.0
#: Special uses of whole blocks, in order of assignment, and their minimum spacing (m) at full size.
SPECIALS = ("park", "school", "apartments", "site_building", "school", "pocket_park", "apartments",
            "supermarket", "half_park", "site_planned", "school", "apartments")
SPECIAL_SPACING_M = 250.0
PARK_NAMES = {"park": "Julianapark", "half_park": "Wilhelminaplantsoen", "pocket_park": "Speeltuin De Hoek"}
POCKET_PARK_M = 60.0
SCHOOLS = ("Basisschool De Esch", "Sint-Jozefschool", "OBS Het Veldje")
#: Buildings on special blocks are set in from the block's ends and front by these (m).
SITE_INSET_M = (10.0, 5.0)
#: School (length, depth m, storeys), its height (m), gym (length, depth, height m), schoolyard depth (m).
SCHOOL = (55.0, 14.0, 2)
SCHOOL_HEIGHT = (7.0, 9.0)
GYM = (22.0, 16.0, 8.0)
SCHOOLYARD_M = 25.0
#: Apartment slab: length range and depth (m). Supermarket: length, depth, height (m).
SLAB = ((40.0, 60.0), 13.0)
SUPERMARKET = (50.0, 30.0, 8.0)
#: Usable share of the footprint of a one-storey hall (shop, gym).
SINGLE_FLOOR_SHARE = 0.9
#: Apartment buildings: floor area per home (m2), storey height (m), storeys allowed.
APARTMENT_M2 = 75.0
STOREY_M = 3.0
STOREYS = (3, 8)
#: Centre: building depth (m), frontage (m), height (m), years; share of shops with a home as one unit.
CENTRE_DEPTH = (12.0, 16.0)
CENTRE_FRONT = (6.0, 10.0)
CENTRE_HEIGHT = (8.0, 12.0)
CENTRE_YEARS = (1850, 1975)
MIXED_UNIT_SHARE = 0.2
#: Chance that a shop unit houses the next facility (pharmacy, library, GP), and the use that facility has.
TAG_CHANCE = 0.3
AMENITY_USE = {"library": "bijeenkomstfunctie", "gp": "gezondheidszorgfunctie"}
#: Church: nave (length, width, height) and tower (side, height), m.
NAVE = (34.0, 14.0, 18.0)
TOWER = (8.0, 40.0)
#: Sports park: field size (m), gap (m).
FIELD = (105.0, 68.0)
FIELD_GAP = 12.0
#: Extra verge (m) between the road and the sports park, which may curve towards it.
SPORTS_VERGE_M = 12.0
#: Parking (length, depth), sports hall and clubhouse (length, depth, height), m; their length together.
PARKING = (70.0, 30.0)
SPORTS_HALL = (45.0, 30.0, 10.0)
CLUBHOUSE = (28.0, 12.0, 5.0)
SPORTS_FRONT_M = 160.0

_PAVED = ("paved_other", "onbegroeidterreindeel:open verharding")
_GARDEN = ("green_low", "begroeidterreindeel:groenvoorziening")
_BARE = ("bare", "onbegroeidterreindeel:onverhard")
_GRASS = ("green_low", "begroeidterreindeel:grasland overig")


def build_town(town: Town) -> None:
    """Generate districts, centre, business park and sports park into ``town``."""
    rng = town.rng("town")
    z = town.zones
    band = shapely.union_all([*shapely.buffer(z["radials"], 10.0), z["ring"].exterior.buffer(10.0),
                              z["centre"].exterior.buffer(10.0)])
    green = shapely.union_all([z["beekpark"], z["stream"].buffer(30.0)])
    districts, pool = [], []
    cx, cy = z["c"]
    eras = rng.permutation(len(ERAS))
    for qi, (face, free) in enumerate(z["quarters"]):
        # One generator per district, so that districts do not shift each other's draws.
        qrng = town.rng(f"district{qi}")
        years, mix = ERAS[eras[qi % len(ERAS)]]
        verge = VERGES[int(qrng.integers(2))]
        sb = setback("residential") - 1.0 + verge
        p = face.representative_point()
        angle = np.arctan2(p.y - cy, p.x - cx) + qrng.choice([0.0, np.pi / 2]) + qrng.uniform(-0.2, 0.2)
        bent = qrng.random() < BENT_CHANCE
        frame = Frame(p.x, p.y, angle, qrng.uniform(*BEND[0]) if bent else 0.0, qrng.uniform(*BEND[1]),
                      qrng.uniform(0, 2 * np.pi))
        grid = Grid(frame, 2 * (sb + qrng.uniform(*ROW_DEPTH)), qrng.uniform(*CROSS_SPACING), sb, "residential")
        blocks = block_rects(town, face, grid, qrng, green=green, band=band)
        full, partial = classify_blocks(blocks, frame, free)
        districts.append((frame, free, blocks, full, partial, {"years": years, "mix": mix, "verge": verge}))
        pool += [(qi, int(bi)) for bi in np.flatnonzero(full)]
    special = _assign_specials(town, rng, districts, pool)
    old_houses = _ribbon(town, rng, districts, special)
    srng = town.rng("special blocks")
    for qi, (frame, free, blocks, full, partial, style) in enumerate(districts):
        free = free.difference(old_houses)
        prng = town.rng(f"plots{qi}")
        plots = Plots()
        for bi in np.flatnonzero(full | partial):
            kind = special.get((qi, int(bi)))
            if kind is None:
                fill_block(plots, blocks[bi], house_row, prng, style)
            elif kind == "pocket_park":
                u0, _, v0, v1 = blocks[bi]
                _park(town, frame, (u0, u0 + POCKET_PARK_M, v0, (v0 + v1) / 2), PARK_NAMES[kind])
                fill_block(plots, blocks[bi], house_row, prng, style, start=POCKET_PARK_M)
            elif kind == "half_park":
                u0, u1, v0, v1 = blocks[bi]
                _park(town, frame, (u0, u1, v0, (v0 + v1) / 2), PARK_NAMES[kind])
                fill_block(plots, blocks[bi], house_row, prng, style, rows=(False, True))
            else:
                _special(town, srng, frame, blocks[bi], kind, style)
        place_plots(town, plots, frame, free, {"paved": _PAVED, "rest": _GARDEN}, _house)
    _centre(town, town.rng("centre"))
    _business(town, town.rng("business"))
    _sports(town, town.rng("sports"))


def _ribbon(town: Town, rng: np.random.Generator, districts: list[Any], special: dict[tuple[int, int], str]) -> Any:
    """Old houses along the radial roads, built before the districts; returns their plots' union."""
    z = town.zones
    reserved = [_world(districts[qi][0], [districts[qi][2][bi]])[0] for qi, bi in special]
    grid = np.concatenate([g for g, kind in town.streets if kind in ("residential", "footpath")])
    free = shapely.difference(shapely.union_all([d[1] for d in districts]), shapely.union_all(
        [*shapely.buffer(grid, setback("residential") + 1.0), *reserved]))
    inner = shapely.get_parts(shapely.intersection(z["radials"], z["ring"]))
    n, first = len(z.get("lots", [])), len(town.buildings)
    # One metre more than the setback: the plot's front corners must clear a curving road.
    ribbon(town, inner, free, setback("main") + 1.0, rng, RIBBON_YEARS)
    if len(town.buildings) > first:  # a GP practising at home, as many village GPs do
        home = town.buildings[int(rng.integers(first, len(town.buildings)))]
        home.units.append(("gezondheidszorgfunctie", HOME_PRACTICE_M2))
        home.amenity = ("gp", "Huisartsenpraktijk Esch-Zuid")
    return shapely.union_all(np.concatenate(z["lots"][n:])) if len(z["lots"]) > n else shapely.Polygon()


def _house(geom: Any, info: dict[str, Any], status: str = "Pand in gebruik") -> Building:
    return Building(geom, info["kind"], info["height"], info["year"], [("woonfunctie", info["area"])], status)


def _assign_specials(town: Town, rng: np.random.Generator, districts: list[Any],
                     pool: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Give the special uses to full blocks, spread over the village."""
    order = [pool[i] for i in rng.permutation(len(pool))]
    centres = {}
    for qi, bi in order:
        frame, blocks = districts[qi][0], districts[qi][2]
        u0, u1, v0, v1 = blocks[bi]
        centres[(qi, bi)] = np.array(frame.xy((u0 + u1) / 2, (v0 + v1) / 2))
    taken: dict[tuple[int, int], str] = {}
    spacing = SPECIAL_SPACING_M * town.scale
    for kind in SPECIALS:
        free = [key for key in order if key not in taken]
        if not free:
            break
        far = [key for key in free if all(np.hypot(*(centres[key] - centres[t])) >= spacing for t in taken)]
        taken[(far or free)[0]] = kind
    return taken


def _world(frame: Frame, boxes: Sequence[tuple[float, ...]]) -> np.ndarray:
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    return frame.world(rects(b[:, 0], b[:, 1], b[:, 2], b[:, 3], frame.lattice))


def _park(town: Town, frame: Frame, box: tuple[float, ...], name: str) -> None:
    town.parks.append((_world(frame, [box])[0], name))


def _site(town: Town, frame: Frame, block: tuple[float, ...], buildings: list[tuple[tuple, Building]],
          paved: list[tuple], rest: tuple[str, str], public: bool = False, paved_public: bool = False) -> Any:
    """One block as a single lot: buildings, paved areas and the rest; returns the block polygon.

    The pieces are cut in the local frame, where the rectangles share exact coordinates.
    """
    def local(boxes: list[tuple]) -> np.ndarray:
        b = np.array(boxes, dtype=float).reshape(-1, 4)
        return rects(b[:, 0], b[:, 1], b[:, 2], b[:, 3], frame.lattice)

    area = local([block])[0]
    hard = shapely.Polygon()
    if buildings:
        geoms = local([b for b, _ in buildings])
        hard = shapely.union_all(geoms)
        geoms = frame.world(geoms)
        for geom, (_, bld) in zip(geoms, buildings, strict=True):
            bld.geom = geom
            town.buildings.append(bld)
        town.pieces.add(geoms, "building", "pand", False, 0, "lot")
    if paved:
        yard = shapely.difference(shapely.intersection(shapely.union_all(local(paved)), area), hard)
        town.pieces.add(frame.world(shapely.get_parts(yard)), "paved_other",
                        "onbegroeidterreindeel:gesloten verharding", paved_public, 0, "lot")
        hard = shapely.union(hard, yard)
    town.pieces.add(frame.world(shapely.get_parts(shapely.difference(area, hard))), *rest, public, 0, "lot")
    area = frame.world([area])[0]
    town.zones.setdefault("lots", []).append(np.array([area], dtype=object))
    return area


def _special(town: Town, rng: np.random.Generator, frame: Frame, block: tuple[float, ...], kind: str,
             style: dict[str, Any]) -> None:
    u0, u1, v0, v1 = block
    length, depth = u1 - u0, v1 - v0
    year = int(rng.integers(*style["years"]))
    if kind == "park":
        _park(town, frame, block, PARK_NAMES[kind])
    elif kind == "school":
        n = sum(b.kind == "school" for b in town.buildings)
        inset, front = SITE_INSET_M
        s1 = u0 + inset + min(SCHOOL[0], length - 4 * inset)
        school = Building(None, "school", rng.uniform(*SCHOOL_HEIGHT), year,
                          [("onderwijsfunctie", (s1 - u0 - inset) * SCHOOL[1] * SCHOOL[2] * USABLE_SHARE)],
                          amenity=("primary_school", SCHOOLS[n % len(SCHOOLS)]))
        gym = Building(None, "gym", GYM[2], year, [("sportfunctie", GYM[0] * GYM[1] * SINGLE_FLOOR_SHARE)])
        yard_v = v0 + front + GYM[1] + 3.0
        _site(town, frame, block, [((u0 + inset, s1, v0 + front, v0 + front + SCHOOL[1]), school),
                                   ((s1, s1 + GYM[0], v0 + front, v0 + front + GYM[1]), gym)],
              [(u0 + front, u1 - front, yard_v, min(yard_v + SCHOOLYARD_M, v1 - front))], _GARDEN)
    elif kind == "apartments":
        inset, front = SITE_INSET_M
        ls = min(rng.uniform(*SLAB[0]), length - 2 * inset)
        slabs = [((u0 + inset, u0 + inset + ls, v0 + front, v0 + front + SLAB[1]),
                  Building(None, "apartments", STOREYS[0] * STOREY_M, year, [])),
                 ((u1 - inset - ls, u1 - inset, v1 - front - SLAB[1], v1 - front),
                  Building(None, "apartments", STOREYS[0] * STOREY_M, year, []))]
        gap = front + SLAB[1] + 6.0  # parking between the slabs when the block is deep enough
        parking = [(u0 + front, u1 - front, v0 + gap, v1 - gap)] if depth > 2 * gap + 5.0 else []
        _site(town, frame, block, slabs, parking, _GARDEN)
    elif kind == "supermarket":
        inset, front = SITE_INSET_M
        w = min(SUPERMARKET[0], length - 5 * inset)
        shop = Building(None, "supermarket", SUPERMARKET[2], year,
                        [("winkelfunctie", w * SUPERMARKET[1] * SINGLE_FLOOR_SHARE)],
                        amenity=("supermarket", "Buurtsuper Veldhoek"))
        _site(town, frame, block, [((u0 + inset, u0 + inset + w, v0 + front, v0 + front + SUPERMARKET[1]), shop)],
              [(u0 + inset + w, u1 - front, v0 + 2, v1 - front)], _GARDEN, paved_public=True)
    elif kind == "site_building":
        plots = Plots()
        fill_block(plots, block, house_row, rng, {"years": (2026, 2027), "mix": {"terraced": 1.0}},
                   rows=(True, False))
        area = _world(frame, [block])[0]
        top = _world(frame, [(u0, u1, (v0 + v1) / 2, v1)])
        n0 = len(town.buildings)
        place_plots(town, plots, frame, area, {"paved": _BARE, "rest": _BARE},
                    lambda g, i: _house(g, i, "Bouwvergunning verleend"))
        town.pieces.add(top, *_BARE, False, 0, "lot")
        town.sites.append({"geometry": area, "name": "Oude Ambachtsschool", "status": "in aanbouw",
                           "planned_dwellings": len(town.buildings) - n0, "start_year": 2025, "type": "inbreiding"})
    elif kind == "site_planned":
        area = _site(town, frame, block, [], [], _GRASS, public=True)
        town.sites.append({"geometry": area, "name": "Molenstraat-Zuid", "status": "vastgesteld",
                           "planned_dwellings": int(rng.integers(20, 41)), "start_year": 2027,
                           "type": "inbreiding"})


def _centre(town: Town, rng: np.random.Generator) -> None:
    """Perimeter blocks around the market square: shops with homes above, a supermarket, the church."""
    z = town.zones
    frame, us, vs = z["centre_frame"], z["centre_us"], z["centre_vs"]
    off = setback("centre")
    cells = [(i, j) for j in range(3) for i in range(3) if (i, j) != (1, 1)]
    shop_cell = int(rng.integers(len(cells)))
    tags = iter([("pharmacy", "Apotheek Eschveld"), ("library", "Bibliotheek Eschveld"),
                 ("gp", "Huisartsenpraktijk De Brink")])
    for n, (i, j) in enumerate(cells):
        u0, u1, v0, v1 = us[i] + off, us[i + 1] - off, vs[j] + off, vs[j + 1] - off
        if n == shop_cell:
            w = (u1 - u0) * 0.6
            bld = [((u0, u0 + w, v0, v1), Building(None, "supermarket", rng.uniform(8, 10), 1995,
                   [("winkelfunctie", w * (v1 - v0) * SINGLE_FLOOR_SHARE)],
                   amenity=("supermarket", "Supermarkt De Markt")))]
            _site(town, frame, (u0, u1, v0, v1), bld, [(u0 + w, u1, v0, v1)], _PAVED, paved_public=True)
            continue
        d = min(rng.uniform(*CENTRE_DEPTH), (v1 - v0) / 2 - 3, (u1 - u0) / 2 - 3)
        inner = {"b": j in (1, 2), "t": j + 1 in (1, 2), "l": i in (1, 2), "r": i + 1 in (1, 2)}
        bld = []
        for side, a0, a1 in (("b", u0, u1), ("t", u0, u1), ("l", v0 + d, v1 - d), ("r", v0 + d, v1 - d)):
            for c0, c1 in _frontages(rng, a0, a1):
                box = {"b": (c0, c1, v0, v0 + d), "t": (c0, c1, v1 - d, v1),
                       "l": (u0, u0 + d, c0, c1), "r": (u1 - d, u1, c0, c1)}[side]
                area = (c1 - c0) * d * USABLE_SHARE
                if inner[side]:
                    units = ([("winkelfunctie,woonfunctie", area * 2)] if rng.random() < MIXED_UNIT_SHARE else
                             [("winkelfunctie", area)] + [("woonfunctie", area)] * int(rng.integers(1, 3)))
                else:
                    units = [(str(rng.choice(["woonfunctie"] * 7 + ["kantoorfunctie"])), area * 2)]
                b = Building(None, "shop" if inner[side] else "centre_house", rng.uniform(*CENTRE_HEIGHT),
                             int(rng.integers(*CENTRE_YEARS)), units)
                if inner[side] and rng.random() < TAG_CHANCE:
                    b.amenity = next(tags, None)
                    if b.amenity is not None and b.amenity[0] in AMENITY_USE:
                        b.units[0] = (b.units[0][0].replace("winkelfunctie", AMENITY_USE[b.amenity[0]]), b.units[0][1])
                bld.append((box, b))
        yard = _GARDEN if rng.random() < 0.4 else _PAVED
        _site(town, frame, (u0, u1, v0, v1), bld, [], yard)
    _market(town, rng, frame, (us[1] + off, us[2] - off, vs[1] + off, vs[2] - off))


def _frontages(rng: np.random.Generator, a0: float, a1: float) -> list[tuple[float, float]]:
    out, a = [], a0
    while a1 - a >= CENTRE_FRONT[0]:
        w = rng.uniform(*CENTRE_FRONT)
        w = a1 - a if a1 - a - w < CENTRE_FRONT[0] else w
        out.append((a, a + w))
        a += w
    return out


def _market(town: Town, rng: np.random.Generator, frame: Frame, square: tuple[float, ...]) -> None:
    u0, u1, v0, v1 = square
    nave, width = min(NAVE[0], (u1 - u0) * 0.55), min(NAVE[1], v1 - v0 - 4.0)
    a = u0 + (u1 - u0 - nave - TOWER[0]) / 2
    # North of the middle, leaving the south side of the square open for the market.
    vm = (v0 + v1) / 2 + min((v1 - v0) / 6, max(0.0, (v1 - v0 - width) / 2 - 2.0))
    bld = [((a + TOWER[0], a + TOWER[0] + nave, vm - width / 2, vm + width / 2),
            Building(None, "church", NAVE[2], 1488, [("bijeenkomstfunctie", nave * width * SINGLE_FLOOR_SHARE)])),
           ((a, a + TOWER[0], vm - TOWER[0] / 2, vm + TOWER[0] / 2), Building(None, "tower", TOWER[1], 1450, []))]
    area = _site(town, frame, square, bld, [], ("paved_other", "onbegroeidterreindeel:open verharding"), public=True)
    z = town.zones
    z["market"] = area
    x, y = frame.xy((u0 + u1) / 2, v0 + 6.0)
    town.amenities.append((float(x), float(y), "pt_stop", "Bushalte Markt"))


def _business(town: Town, rng: np.random.Generator) -> None:
    zone, frame, road = town.zones["business"]
    free = zone.difference(town.zones["radials"][road].buffer(setback("rural")))
    pitch = 2 * (setback("business") + rng.uniform(50, 65))
    grid = Grid(frame, pitch, rng.uniform(170, 230), setback("business"), "business", skip_v0=True)
    blocks = block_rects(town, zone, grid, rng)
    full, partial = classify_blocks(blocks, frame, free)
    plots = Plots()
    for bi in np.flatnonzero(full | partial):
        fill_block(plots, blocks[bi], business_row, rng, {"years": (1972, 2022)})

    def building(geom: Any, info: dict[str, Any]) -> Building:
        use = "kantoorfunctie" if info["kind"] == "office" else str(
            rng.choice(["industriefunctie"] * 8 + ["winkelfunctie", "kantoorfunctie"]))
        return Building(geom, info["kind"], info["height"], info["year"], [(use, info["area"])])

    place_plots(town, plots, frame, free, {"paved": ("paved_other", "onbegroeidterreindeel:gesloten verharding"),
                                           "rest": _GARDEN}, building)


def _sports(town: Town, rng: np.random.Generator) -> None:
    zone, frame, _ = town.zones["sports"]
    u0, _, u1, v1 = frame.local_bounds(zone)
    v0 = setback("rural") + SPORTS_VERGE_M
    gap = SITE_INSET_M[1]
    for start in np.arange(u0 + gap, u1 - SPORTS_FRONT_M, 2 * SITE_INSET_M[0]):  # first spot that fits
        lot = (start, start + PARKING[0], v0, v0 + PARKING[1])
        hall = (lot[1] + gap, lot[1] + gap + SPORTS_HALL[0], v0, v0 + SPORTS_HALL[1])
        club = (hall[1] + gap, hall[1] + gap + CLUBHOUSE[0], v0 + gap, v0 + gap + CLUBHOUSE[1])
        if zone.buffer(1e-6).contains(_world(frame, [(lot[0], club[1], lot[2], lot[3])])[0]):
            break
    else:
        return
    bld = [(hall, Building(None, "sports_hall", SPORTS_HALL[2], 1988,
                           [("sportfunctie", SPORTS_HALL[0] * SPORTS_HALL[1] * SINGLE_FLOOR_SHARE)],
                           amenity=("sports", "Sporthal De Veldhoek"))),
           (club, Building(None, "clubhouse", CLUBHOUSE[2], 1979,
                           [("sportfunctie", CLUBHOUSE[0] * CLUBHOUSE[1] * SINGLE_FLOOR_SHARE)],
                           amenity=("sports", "Sportpark Het Esch")))]
    _site(town, frame, (lot[0], club[1], lot[2], lot[3]), bld, [lot], _GRASS, public=True, paved_public=True)
    x, y = frame.xy(np.array([(lot[0] + lot[1]) / 2] * 2), np.array([0.0, (lot[2] + lot[3]) / 2]))
    town.add_streets([shapely.LineString(np.column_stack([x, y]))], "access")
    fields = []
    for fu in np.arange(u0 + 10, u1 - FIELD[0], FIELD[0] + FIELD_GAP):
        for fv in np.arange(lot[3] + FIELD_GAP, v1 - FIELD[1], FIELD[1] + FIELD_GAP):
            fields.append((fu, fu + FIELD[0], fv, fv + FIELD[1]))
    if fields:
        geoms = _world(frame, fields)
        geoms = geoms[shapely.covered_by(geoms, zone)]
        town.pieces.add(geoms, *_GRASS, True, 3, "field")
        town.zones["sports_fields"] = geoms


def dwellings(town: Town) -> int:
    """Address units with a residential use so far."""
    return sum("woonfunctie" in use for b in town.buildings for use, _ in b.units)


def plan_town(size: float, x0: float, y0: float, seed: int) -> Town:
    """Lay out skeleton and districts; re-plan with a resized ring road while the homes are off target.

    Eras and house types make the number of homes per hectare vary by seed, so
    up to ``PLANS`` plans are made, each scaling the ring road (and so the
    districts' area) by the square root of the last shortfall or surplus; the
    closest plan is kept. Apartments absorb what remains (:func:`balance_dwellings`).
    """
    target = DWELLINGS * (size / 3000.0) ** 2 * (1 - APARTMENT_SHARE)
    best: tuple[float, Town] | None = None
    scale = 1.0
    for _ in range(PLANS):
        town = Town(size, x0, y0, seed, ring_scale=scale)
        build_layout(town)
        build_town(town)
        miss = dwellings(town) / target - 1
        if best is None or abs(miss) < abs(best[0]):
            best = (miss, town)
        if abs(miss) <= PLAN_TOLERANCE:
            break
        scale = float(np.clip(scale / np.sqrt(1 + miss), *RING_SCALE))
    assert best is not None  # PLANS >= 1
    return best[1]


def balance_dwellings(town: Town) -> None:
    """Give the apartment buildings as many homes as the village still lacks, within their storeys."""
    apartments = [b for b in town.buildings if b.kind == "apartments"]
    if not apartments:
        return
    rng = town.rng("apartments")
    others = dwellings(town)
    need = round(DWELLINGS * town.scale**2) - others
    area = np.array([b.geom.area for b in apartments]) * USABLE_SHARE
    low, high = np.floor(area * STOREYS[0] / APARTMENT_M2), np.floor(area * STOREYS[1] / APARTMENT_M2)
    units = np.clip(np.round(need * area / area.sum()), low, high).astype(int)
    for b, n, a in zip(apartments, units, area, strict=True):
        storeys = max(STOREYS[0], int(np.ceil(n * APARTMENT_M2 / a)))
        b.height_m = storeys * STOREY_M + 1.5
        b.units = [("woonfunctie", float(APARTMENT_M2 * rng.uniform(0.8, 1.25))) for _ in range(n)]
