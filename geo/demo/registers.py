"""Registers on top of the map: BAG-like buildings and addresses, occupancy, facilities,
housing sites, parks and CBS-like neighbourhoods, all as GeoDataFrames in EPSG:28992.

Identifiers follow the BAG pattern: four digits of the (fictional) municipality
9999, two digits of the object type (10 pand, 01 verblijfsobject) and a
sequence number; buurt codes follow CBS (``BU`` + municipality + wijk + buurt).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import RD_NEW
from geo.demo.base import Town

MUNICIPALITY = "9999"
#: The demo's (fictional) CBS gemeente, carried by its buurten (``municipality_code``/``municipality_name``).
MUNICIPALITY_NAME = "Eschveld"
#: Address status shares among addresses of buildings in use (the rest: "Verblijfsobject in gebruik").
ADDRESS_STATUS = {"Verblijfsobject in gebruik (niet ingemeten)": 0.025, "Verblijfsobject buiten gebruik": 0.005}
#: Share of recent buildings (after NOT_SURVEYED_FROM) not yet surveyed.
NOT_SURVEYED_SHARE = 0.3
NOT_SURVEYED_FROM = 2018
#: Dwellings without registrations (vacant) and with only a user (second home), shares.
VACANT_SHARE = 0.04
USER_ONLY_SHARE = 0.01
#: Household sizes and their shares; share of business addresses with a business registration.
HOUSEHOLD = {1: 0.38, 2: 0.33, 3: 0.12, 4: 0.12, 5: 0.05}
BUSINESS_REGISTERED = 0.9
#: Registrations are dated between the later of the building year and EARLIEST_SINCE, and LATEST_SINCE.
EARLIEST_SINCE = date(1975, 1, 1)
LATEST_SINCE = date(2025, 12, 31)
#: Bus stops: spacing (m) along the main roads and the ring road.
BUS_STOP_SPACING_M = 450.0
#: Street names of the demo (the main address of each verblijfsobject lies on the nearest named street).
STREET_NAMES = ("Kerkstraat", "Beekstraat", "Dorpsstraat", "Molenweg", "Schoolstraat", "Veldweg", "Esweg",
                "Kampweg", "Brinkweg", "Lindelaan", "Eikenlaan", "Berkenlaan", "Wilgenstraat", "Populierenstraat",
                "Kastanjelaan", "Iepenstraat", "Esdoornstraat", "Beukenlaan", "Hazelaarstraat", "Vlierstraat",
                "Meidoornstraat", "Lijsterbesstraat", "Rozenstraat", "Tulpstraat", "Kievitstraat", "Merelstraat")
#: Street kinds that carry house numbers (footpaths and park paths do not).
ADDRESSED_KINDS = ("centre", "ring", "main", "lane", "access", "rural")
#: House numbers per postcode, and the first postcode number of the (fictional) town.
NUMBERS_PER_POSTCODE = 20
FIRST_POSTCODE = 7001
_LETTERS = 26
STOP_NAMES = ("Ringweg", "Kerkstraat", "Beekstraat", "Dorpsstraat", "Molenweg", "Schoolstraat", "Veldweg",
              "Esweg", "Kampweg", "Zutphenseweg", "Lochemseweg", "Borculoseweg", "Hengelosestraat", "Brinkweg")
#: New districts planned outside the ring road: name, status, dwellings, start year; depth (m).
EXTENSIONS = (("Esch-West fase 2", "plan in voorbereiding", 180, 2028), ("Kampveld", "idee", 120, None),
              ("Beekzicht", "vastgesteld", 60, 2027))
EXTENSION_DEPTH_M = (150.0, 220.0)
EXTENSION_WIDTH_M = 300.0
QUARTER_NAMES = {"oost": "Esch-Oost", "noord": "Esch-Noord", "west": "Esch-West", "zuid": "Esch-Zuid"}
SPARE_NAMES = ("Veldhoek", "De Brink", "Kampstede")


def _ids(kind: str, n: int) -> list[str]:
    return [f"{MUNICIPALITY}{kind}{i + 1:010d}" for i in range(n)]


def buildings_frame(town: Town) -> gpd.GeoDataFrame:
    """BAG-like panden: id, status, year, height_m."""
    rng = town.rng("bag-status")
    b = town.buildings
    year = np.array([x.year for x in b])
    status = np.array([x.status for x in b], dtype=object)
    recent = (year >= NOT_SURVEYED_FROM) & (status == "Pand in gebruik")
    status[recent & (rng.random(len(b)) < NOT_SURVEYED_SHARE)] = "Pand in gebruik (niet ingemeten)"
    return gpd.GeoDataFrame(
        {"id": _ids("10", len(b)), "status": status.astype(str), "year": year,
         "height_m": np.round([x.height_m for x in b], 2), "kind": [x.kind for x in b]},
        geometry=[x.geom for x in b], crs=RD_NEW,
    )


def addresses_frame(town: Town, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """BAG-like verblijfsobjecten: one point per address unit inside its building."""
    rng = town.rng("bag-addresses")
    rows: list[tuple[str, float, int]] = []
    for i, b in enumerate(town.buildings):
        rows += [(use, area, i) for use, area in b.units]
    owner = np.array([r[2] for r in rows], dtype=int)
    n_units = np.bincount(owner, minlength=len(town.buildings))
    rank = np.arange(len(rows)) - np.searchsorted(owner, owner)
    points = _unit_points(buildings.geometry.to_numpy(), owner, rank, n_units)
    bstatus = buildings["status"].to_numpy()[owner]
    status = np.where(bstatus == "Bouwvergunning verleend", "Verblijfsobject gevormd", "Verblijfsobject in gebruik")
    draw = rng.random(len(rows))
    edge = 0.0
    for name, share in ADDRESS_STATUS.items():
        hit = (status == "Verblijfsobject in gebruik") & (draw >= edge) & (draw < edge + share)
        status = np.where(hit, name, status)
        edge += share
    parts = main_addresses(town, buildings, owner, rank, n_units)
    return gpd.GeoDataFrame(
        {"id": _ids("01", len(rows)), "building_id": buildings["id"].to_numpy()[owner],
         "use": [r[0] for r in rows], "status": status, "floor_area_m2": np.round([r[1] for r in rows]).astype(int),
         **parts},
        geometry=points, crs=RD_NEW,
    )


def main_addresses(town: Town, buildings: gpd.GeoDataFrame, owner: np.ndarray, rank: np.ndarray,
                   n_units: np.ndarray) -> dict[str, Any]:
    """Street, house number, letter and postcode of every address unit (BAG nummeraanduiding-like).

    A building's street is the nearest segment (between two junctions) of the street network of
    ``ADDRESSED_KINDS``; names repeat over the town (``STREET_NAMES`` in turn). Buildings get house
    numbers 1, 2, ... per street in the order of their position along the street; several units in one
    building share the number with letters A, B, ... (and an addition 1, 2, ... beyond 26 units).
    Postcodes: one per ``NUMBERS_PER_POSTCODE`` numbers of one street, so none spans two streets.
    """
    lines, kinds = town.zones["network"]
    segments = list(lines[np.isin(kinds, ADDRESSED_KINDS)])
    n = len(owner)
    if not segments or not len(buildings):
        return {"postcode": [None] * n, "house_number": pd.array([None] * n, dtype="Int64"),
                "house_letter": [None] * n, "house_number_addition": [None] * n, "street": [None] * n}
    tree = shapely.STRtree(segments)
    centres = shapely.point_on_surface(buildings.geometry.to_numpy())
    nearest = tree.nearest(centres)
    street_of = nearest
    along = np.array([segments[s].project(c) for s, c in zip(nearest, centres, strict=True)]) + nearest * 1e5
    number = np.zeros(len(buildings), dtype=int)
    postcode = np.empty(len(buildings), dtype=object)
    for street in np.unique(street_of):
        members = np.flatnonzero(street_of == street)
        ordered = members[np.argsort(along[members], kind="stable")]
        number[ordered] = np.arange(1, len(ordered) + 1)
        for i, b in enumerate(ordered):
            chunk = i // NUMBERS_PER_POSTCODE
            postcode[b] = (f"{FIRST_POSTCODE + int(street) // _LETTERS:04d}"
                           f"{chr(65 + int(street) % _LETTERS)}{chr(65 + chunk % _LETTERS)}")
    names = np.array([STREET_NAMES[int(s) % len(STREET_NAMES)] for s in street_of], dtype=object)
    many = n_units[owner] > 1
    letters = [chr(65 + int(r) % _LETTERS) if m else None for r, m in zip(rank, many, strict=True)]
    additions = [str(int(r) // _LETTERS + 1) if n_units[o] > _LETTERS else None
                 for o, r in zip(owner, rank, strict=True)]
    return {"postcode": postcode[owner], "house_number": pd.array(number[owner], dtype="Int64"),
            "house_letter": letters, "house_number_addition": additions, "street": names[owner]}


def _unit_points(geoms: np.ndarray, owner: np.ndarray, rank: np.ndarray, n_units: np.ndarray) -> np.ndarray:
    """Address points: the building's inner point, or spread along its long axis for several units."""
    points = shapely.point_on_surface(geoms[owner])
    multi = n_units[owner] > 1
    if multi.any():
        env = shapely.oriented_envelope(geoms[owner[multi]])
        c = shapely.get_coordinates(shapely.get_exterior_ring(env)).reshape(-1, 5, 2)[:, :4]
        e1, e2 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 1]
        long_first = np.hypot(*e1.T) >= np.hypot(*e2.T)
        axis = np.where(long_first[:, None], e1, e2)
        start = np.where(long_first[:, None], (c[:, 0] + c[:, 3]) / 2, (c[:, 0] + c[:, 1]) / 2)
        t = ((rank[multi] + 0.5) / n_units[owner[multi]])[:, None]
        spread = shapely.points(start + t * axis)
        inside = shapely.contains_properly(geoms[owner[multi]], spread)
        points[np.flatnonzero(multi)[inside]] = spread[inside]
    return points


def occupancy_frame(town: Town, addresses: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """BRP-like registrations: residents per household, users of second homes, businesses."""
    rng = town.rng("occupancy")
    year = dict(zip(buildings["id"], buildings["year"], strict=True))
    out: list[tuple[str, str, str]] = []
    sizes, shares = list(HOUSEHOLD), list(HOUSEHOLD.values())
    for aid, bid, use, status in zip(addresses["id"], addresses["building_id"], addresses["use"],
                                     addresses["status"], strict=True):
        if not status.startswith("Verblijfsobject in gebruik"):
            continue
        first = max(EARLIEST_SINCE, date(int(year[bid]), 1, 1))
        span = (LATEST_SINCE - first).days
        uses = use.split(",")
        if any(u != "woonfunctie" for u in uses) and rng.random() < BUSINESS_REGISTERED:
            out.append((aid, "business", (first + timedelta(int(rng.integers(0, span + 1)))).isoformat()))
        if "woonfunctie" not in uses:
            continue
        draw = rng.random()
        since = first + timedelta(int(rng.integers(0, span + 1)))
        if draw < VACANT_SHARE:
            continue
        if draw < VACANT_SHARE + USER_ONLY_SHARE:
            out.append((aid, "user", since.isoformat()))
            continue
        for k in range(int(rng.choice(sizes, p=shares))):
            later = since if k < 2 else since + timedelta(int(rng.integers(0, (LATEST_SINCE - since).days + 1)))
            out.append((aid, "resident", later.isoformat()))
    return pd.DataFrame(out, columns=["address_id", "registration", "since"])


def amenities_frame(town: Town, addresses: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Facilities: schools, supermarkets, GP, pharmacy, library, sports and bus stops."""
    first = addresses.drop_duplicates("building_id").set_index("building_id").geometry
    bid = dict(enumerate(_ids("10", len(town.buildings))))
    rows = [(t, n, first[bid[i]]) for i, b in enumerate(town.buildings) if b.amenity for t, n in [b.amenity]]
    rows += [(t, n, shapely.Point(x, y)) for x, y, t, n in town.amenities]
    lines, kinds = town.zones["network"]
    roads = lines[np.isin(kinds, ("main", "ring"))]
    stops = shapely.get_parts(shapely.line_merge(shapely.union_all(roads)))
    for line in stops:
        for k, d in enumerate(np.arange(BUS_STOP_SPACING_M / 2, line.length, BUS_STOP_SPACING_M)):
            p = line.interpolate(d)
            rows.append(("pt_stop", f"Bushalte {STOP_NAMES[(len(rows) + k) % len(STOP_NAMES)]}", p))
    return gpd.GeoDataFrame(
        {"id": [f"A{i + 1:04d}" for i in range(len(rows))], "type": [r[0] for r in rows],
         "name": [r[1] for r in rows]}, geometry=[r[2] for r in rows], crs=RD_NEW,
    )


def housing_sites_frame(town: Town) -> gpd.GeoDataFrame:
    """Housing sites: the infill sites made in the districts plus extensions outside the ring road."""
    rng = town.rng("sites")
    z = town.zones
    cx, cy = z["c"]
    ring = z["ring"]
    avoid = shapely.union_all([z["business"][0], z["sports"][0], *z["woods"], z["stream"].buffer(40.0),
                               *z.get("farms", []), *shapely.buffer(z["radials"], 15.0)])
    sites = list(town.sites)
    radius = np.sqrt(ring.area / np.pi)
    for name, status, dwellings, start in EXTENSIONS:
        for theta in rng.permutation(np.linspace(0, 2 * np.pi, 36, endpoint=False)):
            depth = rng.uniform(*EXTENSION_DEPTH_M)
            half = EXTENSION_WIDTH_M / 2 / radius
            arc = np.linspace(theta - half, theta + half, 16)
            ray = np.column_stack([np.cos(arc), np.sin(arc)])
            edge = np.array([_ring_radius(ring, cx, cy, a) for a in arc])[:, None]
            inner, outer = ray * (edge + 35.0), ray * (edge + 35.0 + depth)
            poly = shapely.Polygon(np.vstack([inner, outer[::-1]]) + np.array([cx, cy]))
            if poly.within(town.square()) and not poly.intersects(avoid) and all(
                    not poly.intersects(s["geometry"]) for s in sites):
                sites.append({"geometry": poly, "name": name, "status": status, "planned_dwellings": dwellings,
                              "start_year": start, "type": "uitbreiding"})
                break
    return gpd.GeoDataFrame(
        {"id": [f"WL{i + 1:02d}" for i in range(len(sites))], "name": [s["name"] for s in sites],
         "status": [s["status"] for s in sites], "planned_dwellings": [int(s["planned_dwellings"]) for s in sites],
         "start_year": pd.array([s["start_year"] for s in sites], dtype="Int64"), "type": [s["type"] for s in sites]},
        geometry=[s["geometry"] for s in sites], crs=RD_NEW,
    )


def _ring_radius(ring: shapely.Polygon, cx: float, cy: float, angle: float) -> float:
    ray = shapely.LineString([(cx, cy), (cx + 1e5 * np.cos(angle), cy + 1e5 * np.sin(angle))])
    return float(shapely.Point(cx, cy).distance(ray.intersection(ring.exterior)))


def neighbourhoods_frame(town: Town) -> gpd.GeoDataFrame:
    """CBS-like buurten covering the square: centre, the districts, business park, countryside."""
    z = town.zones
    cx, cy = z["c"]
    square = town.square()
    centre = z["centre"].buffer(40.0, join_style="mitre").intersection(z["ring"])
    rows: list[tuple[str, Any]] = [("Centrum", centre)]
    spare = iter(SPARE_NAMES)
    used: set[str] = set()
    for face, _ in sorted(z["quarters"], key=lambda q: _angle(q[0], cx, cy)):
        name = _compass(_angle(face, cx, cy))
        if face.intersects(z["beekpark"]) and "Beekdal" not in used:
            name = "Beekdal"
        if name in used:
            name = next(spare)
        used.add(name)
        rows.append((name, face.difference(centre)))
    business = z["business"][0]
    rows.append(("Bedrijventerrein De Kamp", business))
    rest = square.difference(shapely.union(z["ring"], business))
    x0, y0, x1, y1 = square.bounds
    rows.append(("Buitengebied Noord", shapely.clip_by_rect(rest, x0, cy, x1, y1)))
    rows.append(("Buitengebied Zuid", shapely.clip_by_rect(rest, x0, y0, x1, cy)))
    return gpd.GeoDataFrame(
        {"code": [f"BU{MUNICIPALITY}{i + 1:04d}" for i in range(len(rows))], "name": [r[0] for r in rows],
         "municipality_code": f"GM{MUNICIPALITY}", "municipality_name": MUNICIPALITY_NAME},
        geometry=[r[1] for r in rows], crs=RD_NEW,
    )


def _angle(face: shapely.Polygon, cx: float, cy: float) -> float:
    p = face.representative_point()
    return float(np.arctan2(p.y - cy, p.x - cx) % (2 * np.pi))


def _compass(angle: float) -> str:
    names = ("oost", "noord", "west", "zuid")
    return QUARTER_NAMES[names[int(((angle + np.pi / 4) % (2 * np.pi)) // (np.pi / 2))]]


def parks_frame(town: Town) -> gpd.GeoDataFrame:
    """Public parks: id and name."""
    return gpd.GeoDataFrame(
        {"id": [f"PK{i + 1:02d}" for i in range(len(town.parks))], "name": [n for _, n in town.parks]},
        geometry=[p for p, _ in town.parks], crs=RD_NEW,
    )
