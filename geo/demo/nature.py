"""Parks and trees.

Parks get a lawn, groups of trees, shrub beds and half-paved paths that join
the street network. Trees are generated as candidates per setting (street,
park, garden, wood, hedgerow, farmyard, stream bank, market square, sports
park) and kept only where the finished land cover allows them, so a tree
never stands in a building, on a road or in the water. The woods take
whatever is needed to reach about ``TREES`` trees at full size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from geo.demo.base import STREET_KINDS, Town, along, blob, sample_in

#: Trees at full size (3 x 3 km); scales with the area.
TREES = 5000
#: Species: (height range m, crown diameter range m).
SPECIES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "Quercus robur": ((14, 26), (8, 16)), "Tilia x europaea": ((12, 22), (6, 12)),
    "Acer pseudoplatanus": ((12, 22), (7, 13)), "Betula pendula": ((10, 20), (4, 8)),
    "Fraxinus excelsior": ((14, 24), (8, 14)), "Carpinus betulus": ((8, 16), (4, 9)),
    "Fagus sylvatica": ((15, 28), (10, 18)), "Pinus sylvestris": ((12, 24), (5, 9)),
    "Alnus glutinosa": ((10, 20), (5, 9)), "Salix alba": ((10, 18), (8, 14)),
    "Platanus x hispanica": ((14, 25), (9, 16)), "Aesculus hippocastanum": ((12, 22), (8, 14)),
    "Prunus avium": ((6, 12), (4, 8)), "Malus sylvestris": ((4, 8), (3, 6)),
    "Sorbus aucuparia": ((5, 10), (3, 6)), "Acer campestre": ((6, 12), (4, 8)),
    "Populus x canadensis": ((18, 30), (8, 14)), "Larix kaempferi": ((15, 25), (5, 8)),
}
#: Species mix and allowed land cover (``class`` or ``class:pub``/``class:priv``) per setting.
SETTINGS: dict[str, tuple[dict[str, float], set[str]]] = {
    "street": ({"Tilia x europaea": .35, "Quercus robur": .25, "Platanus x hispanica": .15,
                "Acer pseudoplatanus": .15, "Aesculus hippocastanum": .1},
               {"green_low:pub", "agriculture", "green_trees", "green_shrub:pub"}),
    "lane": ({"Carpinus betulus": .3, "Acer campestre": .2, "Prunus avium": .2, "Sorbus aucuparia": .15,
              "Betula pendula": .15}, {"green_low:pub", "green_shrub:pub"}),
    "park": ({"Quercus robur": .2, "Tilia x europaea": .15, "Fagus sylvatica": .15, "Acer pseudoplatanus": .15,
              "Betula pendula": .15, "Aesculus hippocastanum": .1, "Salix alba": .1},
             {"green_low:pub", "green_trees:pub", "green_shrub:pub"}),
    "garden": ({"Betula pendula": .2, "Malus sylvestris": .2, "Prunus avium": .2, "Acer campestre": .15,
                "Sorbus aucuparia": .15, "Carpinus betulus": .1}, {"green_low:priv"}),
    "wood": ({"Quercus robur": .35, "Fagus sylvatica": .2, "Pinus sylvestris": .2, "Betula pendula": .15,
              "Larix kaempferi": .1}, {"green_trees"}),
    "hedge": ({"Quercus robur": .6, "Fraxinus excelsior": .15, "Carpinus betulus": .1, "Alnus glutinosa": .1,
               "Betula pendula": .05}, {"green_trees", "agriculture"}),
    "farm": ({"Quercus robur": .5, "Tilia x europaea": .2, "Fraxinus excelsior": .15,
              "Aesculus hippocastanum": .15}, {"green_low:priv"}),
    "bank": ({"Alnus glutinosa": .6, "Salix alba": .4}, {"green_low:pub", "agriculture"}),
    "square": ({"Tilia x europaea": 1.0}, {"paved_other:pub"}),
    "sports": ({"Populus x canadensis": .7, "Quercus robur": .3}, {"green_low:pub"}),
}
#: Spacing (m) of trees along streets, hedgerows, banks, squares; share of streets that have them.
STREET_SPACING_M = 12.0
HEDGE_SPACING_M = 14.0
BANK_SPACING_M = 16.0
BANK_TREE_SHARE = 0.4
FARM_SPACING_M = 22.0
RESIDENTIAL_TREE_SHARE = 0.2
RURAL_TREE_SHARE = 0.3
GARDEN_TREE_SHARE = 0.25
MIN_GARDEN_M2 = 60.0
#: Share of the trees reserved for the woods, and the settings thinned first when there are too many.
WOOD_MIN_SHARE = 0.15
THINNED_FIRST = ("hedge", "garden", "lane", "farm")
#: Wood planting grid (m) and its jitter; parks: area (m2) per scattered tree and per tree in a group.
WOOD_GRID_M = 8.5
PARK_M2_PER_TREE = 260.0
GROUP_M2_PER_TREE = 55.0
#: Paths shorter than this (m) are not connected; connectors longer than this (m) are not made.
MAX_CONNECTOR_M = 60.0


def build_parks(town: Town) -> None:
    """Lawns, tree groups, shrubs, paths (and a playground in small parks) for every park."""
    rng = town.rng("parks")
    z = town.zones
    town.parks.insert(0, (z["beekpark"], "Beekpark"))
    roads = shapely.union_all(np.concatenate([g for g, k in town.streets if k not in ("footpath", "park_path")]))
    lots = shapely.STRtree(np.concatenate(z["lots"]))
    for park, name in town.parks:
        group = town.pieces.new_group()
        paths = _paths(park, z["stream"] if name == "Beekpark" else None)
        town.add_streets(paths, "park_path")
        ends = shapely.points(np.concatenate([shapely.get_coordinates(shapely.boundary(p)) for p in paths]))
        links = shapely.shortest_line(ends, roads)
        ok = shapely.length(links) < MAX_CONNECTOR_M
        ok[lots.query(links, predicate="crosses")[0]] = False
        town.add_streets(links[ok & (shapely.length(links) > 0.5)], "footpath")
        n = max(1, int(park.area // 6000))
        x, y, _ = sample_in(park.buffer(-12.0), [n], rng)
        groups = [blob(a, b, rng.uniform(8.0, 15.0), rng) for a, b in zip(x, y, strict=True)]
        town.pieces.add(shapely.intersection(groups, park), "green_trees",
                        "begroeidterreindeel:groenvoorziening/bosplantsoen", True, 3, "park", group)
        x, y, _ = sample_in(park.buffer(-5.0), [n + 1], rng)
        shrubs = [blob(a, b, rng.uniform(4.0, 8.0), rng) for a, b in zip(x, y, strict=True)]
        town.pieces.add(shapely.intersection(shrubs, park), "green_shrub", "begroeidterreindeel:struiken",
                        True, 4, "park", group)
        if park.area < 5000:
            c = park.representative_point()
            town.pieces.add([shapely.box(c.x - 7, c.y - 7, c.x + 7, c.y + 7).intersection(park)], "bare",
                            "onbegroeidterreindeel:onverhard", True, 3, "park", group)
        town.pieces.add([park], "green_low", "begroeidterreindeel:groenvoorziening", True, 5, "park", group)
        z.setdefault("tree_groups", []).extend(groups)


def _paths(park: shapely.Polygon, stream: shapely.LineString | None) -> list[shapely.LineString]:
    """Paths along the long axis (or along the stream) and across the short axis of a park."""
    env = np.array(shapely.oriented_envelope(park).exterior.coords)[:4]
    axes = [env[1] - env[0], env[2] - env[1]]
    axes.sort(key=lambda a: -np.hypot(*a))
    c = np.array(park.centroid.coords[0])
    lines = []
    for i, a in enumerate(axes):
        a = a / np.hypot(*a)
        if i == 0 and stream is not None:
            best = max((stream.offset_curve(d).intersection(park) for d in (18.0, -18.0)), key=lambda g: g.length)
            lines.append(best)
            continue
        lines.append(shapely.LineString([c - a * 2000, c + a * 2000]).intersection(park.buffer(-0.5)))
    parts = shapely.get_parts(lines)
    return list(parts[shapely.length(parts) > 10.0])


def build_trees(town: Town, lc: Any) -> None:
    """Tree candidates per setting, filtered by the land cover ``lc`` (geometry, class, public)."""
    rng = town.rng("trees")
    z = town.zones
    cand: list[tuple[np.ndarray, np.ndarray, str]] = []

    def add(x: np.ndarray, y: np.ndarray, setting: str) -> None:
        cand.append((np.asarray(x, float), np.asarray(y, float), setting))

    network, kinds = z["network"]
    for kind in np.unique(kinds):
        lines = network[kinds == kind]
        share = {"main": 1.0, "ring": 1.0, "business": 1.0, "residential": RESIDENTIAL_TREE_SHARE,
                 "rural": RURAL_TREE_SHARE, "lane": RURAL_TREE_SHARE}.get(kind, 0.0)
        chosen = lines[rng.random(len(lines)) < share]
        if len(chosen) == 0:
            continue
        offset = STREET_KINDS[kind][0] + (0.5 if kind == "residential" else 2.0)
        for side in (1.0, -1.0):
            x, y, _ = along(chosen, STREET_SPACING_M, side * offset, rng, jitter=1.0)
            add(x, y, "lane" if kind == "residential" else "street")
    for park, _ in town.parks:
        x, y, _ = sample_in(park, [int(park.area // PARK_M2_PER_TREE)], rng)
        add(x, y, "park")
    groups = np.array(z.get("tree_groups", []), dtype=object)
    if len(groups):
        x, y, _ = sample_in(groups, (shapely.area(groups) // GROUP_M2_PER_TREE).astype(int), rng)
        add(x, y, "park")
    geoms, cls, public = lc
    gardens = geoms[(cls == "green_low") & ~public & (shapely.area(geoms) > MIN_GARDEN_M2)]
    gardens = gardens[rng.random(len(gardens)) < GARDEN_TREE_SHARE]
    x, y, _ = sample_in(shapely.buffer(gardens, -1.5), [1], rng)
    add(x, y, "garden")
    if len(z["hedges"]):
        x, y, _ = along(z["hedges"], HEDGE_SPACING_M, 0.0, rng, jitter=2.0)
        add(x, y, "hedge")
    for side in (6.0, -6.0):
        x, y, _ = along([z["stream"]], BANK_SPACING_M, side, rng, jitter=4.0)
        keep = rng.random(len(x)) < BANK_TREE_SHARE
        add(x[keep], y[keep], "bank")
    farms = z.get("farms", np.empty(0, dtype=object))
    if len(farms):
        edges = shapely.get_exterior_ring(shapely.buffer(farms, -4.0))
        add(*along(edges, FARM_SPACING_M, 0.0, rng, jitter=3.0)[:2], "farm")
    add(*along([shapely.get_exterior_ring(z["market"].buffer(-4.0))], 9.0, 0.0, rng)[:2], "square")
    add(*along([shapely.get_exterior_ring(z["sports"][0].buffer(-4.0))], 10.0, 0.0, rng)[:2], "sports")
    x, y, setting = _filter(cand, lc)
    wx, wy = _wood_candidates(town, rng, lc)
    target = round(TREES * town.scale**2)
    cap = target - min(len(wx), round(WOOD_MIN_SHARE * target))
    if len(x) > cap:  # thin hedgerows, gardens and lanes first, so the woods keep their trees
        flexible = np.isin(setting, THINNED_FIRST)
        order = np.concatenate([rng.permutation(np.flatnonzero(flexible)), rng.permutation(np.flatnonzero(~flexible))])
        keep = np.sort(order[len(x) - cap:])
        x, y, setting = x[keep], y[keep], setting[keep]
    pick = np.sort(rng.permutation(len(wx))[:max(target - len(x), 0)])
    x, y = np.concatenate([x, wx[pick]]), np.concatenate([y, wy[pick]])
    setting = np.concatenate([setting, np.full(len(pick), "wood")])
    town.trees = _dress(rng, x, y, setting)


def _wood_candidates(town: Town, rng: np.random.Generator, lc: Any) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for wood in town.zones["woods"]:
        x0, y0, x1, y1 = wood.bounds
        gx, gy = np.meshgrid(np.arange(x0, x1, WOOD_GRID_M), np.arange(y0, y1, WOOD_GRID_M))
        x = gx.ravel() + rng.uniform(-0.3, 0.3, gx.size) * WOOD_GRID_M
        y = gy.ravel() + rng.uniform(-0.3, 0.3, gy.size) * WOOD_GRID_M
        keep = shapely.contains_xy(wood, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
    if not xs:
        return np.empty(0), np.empty(0)
    x, y, _ = _filter([(np.concatenate(xs), np.concatenate(ys), "wood")], lc)
    return x, y


def _filter(cand: list[tuple[np.ndarray, np.ndarray, str]], lc: Any) -> tuple[np.ndarray, ...]:
    """Keep candidates whose every land-cover polygon at the point is allowed for their setting."""
    x = np.concatenate([c[0] for c in cand])
    y = np.concatenate([c[1] for c in cand])
    setting = np.concatenate([np.full(len(c[0]), c[2]) for c in cand])
    geoms, cls, public = lc
    tree = shapely.STRtree(geoms)
    pts, polys = tree.query(shapely.points(x, y), predicate="intersects")
    key_full = np.char.add(cls[polys].astype(str), np.where(public[polys], ":pub", ":priv"))
    ok_hit = np.zeros(len(pts), dtype=bool)
    for name, (_, allowed) in SETTINGS.items():
        sel = setting[pts] == name
        ok_hit[sel] = np.isin(key_full[sel], list(allowed)) | np.isin(cls[polys][sel], list(allowed))
    bad = np.zeros(len(x), dtype=bool)
    bad[pts[~ok_hit]] = True
    hit = np.zeros(len(x), dtype=bool)
    hit[pts] = True
    keep = hit & ~bad
    return x[keep], y[keep], setting[keep]


def _dress(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, setting: np.ndarray) -> dict[str, np.ndarray]:
    """Species, height and crown per tree; older trees are taller and wider."""
    species = np.empty(len(x), dtype=object)
    for name, (mix, _) in SETTINGS.items():
        sel = setting == name
        species[sel] = rng.choice(list(mix), size=int(sel.sum()), p=list(mix.values()))
    age = rng.beta(2.0, 2.0, len(x))
    h = np.array([SPECIES[s][0] for s in species]).reshape(-1, 2)
    c = np.array([SPECIES[s][1] for s in species]).reshape(-1, 2)
    height = h[:, 0] + age * (h[:, 1] - h[:, 0])
    crown = (c[:, 0] + age * (c[:, 1] - c[:, 0])) * rng.uniform(0.85, 1.15, len(x))
    return {"x": np.round(x, 2), "y": np.round(y, 2), "crown": np.round(crown, 1), "height": np.round(height, 1),
            "species": species.astype(str), "setting": setting.astype(str)}
