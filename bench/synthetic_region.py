"""A large synthetic region for benchmarks: dwellings, trees, streets, parks, buurten.

Not meant to look real (the demo region ``geo.demo`` is for that); it has the
sizes the benchmark asks for, generated in a few seconds with numpy:

* a square of ``size_m`` with a street grid of about ``street_km`` km: long
  straight lines that cross without shared vertices (so the graph builder has
  to node them), each line cut in two with a 0.2 m gap (closed by the noding
  tolerance), plus one small street loop that is not connected (a disconnected
  part);
* rectangular parks (public green land cover) covering about 12 % of the area,
  and small public green patches below the 0.5 ha threshold;
* houses on a lattice outside the parks: row houses with one dwelling and
  apartment buildings with several, address points inside their footprint;
* trees: half in parks, some along the streets, the rest in back gardens;
* CBS-like buurten: a grid of 1 km squares.

Coordinates are RD New (EPSG:28992) around (150000, 400000).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS as _CRS

CRS = "EPSG:28992"
CRS_RD = _CRS.from_epsg(28992)
ORIGIN = (150_000.0, 400_000.0)
#: Lattice cell of one house with its front and back garden (m).
PLOT_W, PLOT_D = 12.0, 25.0
#: House footprint (m).
HOUSE_W, HOUSE_D = 9.0, 10.0
#: Least share of the buildings that are apartment buildings, and their dwellings (min, max).
APARTMENT_SHARE = 0.2
APARTMENT_DWELLINGS = (3, 12)
#: Share of the area in parks, and the park size range (m).
PARK_SHARE = 0.12
PARK_SIZE = (80.0, 300.0)
#: Shares of the trees in parks and along streets (the rest in gardens).
TREES_IN_PARKS, TREES_ON_STREETS = 0.5, 0.1
#: Gap (m) left in every street line, closed by the network tolerance.
STREET_GAP_M = 0.2
#: Length range of local streets (m) and the vertex spacing of all street lines (m).
LOCAL_STREET_M = (100.0, 400.0)
VERTEX_M = 25.0
BUURT_M = 1000.0
#: Houses stand within this distance (m) of a street.
HOUSE_STREET_M = 200.0


@dataclass
class SyntheticRegion:
    """The sources and region of a generated benchmark region."""

    sources: dict[str, gpd.GeoDataFrame]
    bounds: tuple[float, float, float, float]


def generate(
    n_dwellings: int = 100_000, n_trees: int = 200_000, street_km: float = 50.0, seed: int = 1
) -> SyntheticRegion:
    """Generate the region; the area grows with the number of dwellings (about 6,000 per km2)."""
    rng = np.random.default_rng(seed)
    size = float(np.ceil(np.sqrt(n_dwellings / 6000.0) * 1000.0 / BUURT_M) * BUURT_M)
    x0, y0 = ORIGIN
    streets, street_lines = _streets(size, street_km, rng)
    parks = _parks(size, rng)
    park_union = shapely.union_all(parks)
    buildings, addresses = _houses(size, n_dwellings, park_union, street_lines, rng)
    trees = _trees(n_trees, size, parks, street_lines, buildings, rng)
    k = int(size // BUURT_M)
    bx, by = np.meshgrid(np.arange(k), np.arange(k))
    buurten = shapely.box(
        bx.ravel() * BUURT_M, by.ravel() * BUURT_M, (bx.ravel() + 1) * BUURT_M, (by.ravel() + 1) * BUURT_M
    )
    patches = shapely.buffer(shapely.points(rng.uniform(20, size - 20, (30, 2))), 25.0, quad_segs=4)
    green = np.r_[parks, patches]

    def frame(data: dict, geoms: np.ndarray) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(data, geometry=shapely.transform(geoms, lambda c: c + np.array([x0, y0])), crs=CRS)

    sources = {
        "streets": frame({"id": [f"s{i}" for i in range(len(streets))]}, streets),
        "landcover": frame(
            {
                "class": "green_trees",
                "source_class": "bench:park",
                "source_id": [f"g{i}" for i in range(len(green))],
                "public": True,
            },
            green,
        ),
        "buildings": frame({"id": [f"b{i}" for i in range(len(buildings))], "status": "Pand in gebruik"}, buildings),
        "addresses": frame(
            {
                "id": [f"a{i}" for i in range(len(addresses[0]))],
                "building_id": [f"b{i}" for i in addresses[1]],
                "use": "woonfunctie",
                "status": "Verblijfsobject in gebruik",
            },
            addresses[0],
        ),
        "trees": frame({"id": [f"t{i}" for i in range(len(trees[0]))], "crown_diameter_m": trees[1]}, trees[0]),
        "neighbourhoods": frame(
            {
                "code": [f"BU9999{i:04d}" for i in range(len(buurten))],
                "name": [f"Buurt {i}" for i in range(len(buurten))],
            },
            buurten,
        ),
    }
    return SyntheticRegion(sources, (x0, y0, x0 + size, y0 + size))


def _streets(size: float, street_km: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Main grid lines (each cut once with a small gap), local dead-end streets, a disconnected loop.

    Half of ``street_km`` is the main grid, half local streets that leave a main
    line at right angles and end within ``STREET_GAP_M`` of it (T-junctions that
    only the noding tolerance closes). Lines get a vertex every ``VERTEX_M``.

    Returns:
        ``(lines, main grid lines)``.
    """
    budget = street_km * 1000.0
    n = max(1, round(budget / 2 / (2 * size)))
    pos = (np.arange(n) + 0.5) * size / n
    zeros, ends = np.zeros(n), np.full(n, size)
    full = np.r_[
        shapely.linestrings(np.stack([np.c_[zeros, pos], np.c_[ends, pos]], axis=1)),
        shapely.linestrings(np.stack([np.c_[pos, zeros], np.c_[pos, ends]], axis=1)),
    ]
    cut = rng.uniform(0.3, 0.7, len(full)) * size
    a = shapely.get_coordinates(shapely.line_interpolate_point(full, cut))
    b = shapely.get_coordinates(shapely.line_interpolate_point(full, cut + STREET_GAP_M))
    start, stop = (
        shapely.get_coordinates(shapely.get_point(full, 0)),
        shapely.get_coordinates(shapely.get_point(full, -1)),
    )
    pieces = np.r_[shapely.linestrings(np.stack([start, a], axis=1)), shapely.linestrings(np.stack([b, stop], axis=1))]
    # Local streets: perpendicular to a random main line, starting just off it.
    rest = budget - 2 * n * size
    length = rng.uniform(*LOCAL_STREET_M, int(2 * rest / np.mean(LOCAL_STREET_M)) + 1)
    line = rng.integers(0, len(full), len(length))
    along = rng.uniform(0, size, len(length))
    foot = shapely.get_coordinates(shapely.line_interpolate_point(full[line], along))
    east_west = line < n
    sign = rng.choice([-1.0, 1.0], len(length))
    gap = rng.uniform(0.0, STREET_GAP_M, len(length))
    direction = np.c_[np.where(east_west, 0.0, sign), np.where(east_west, sign, 0.0)]
    p0 = foot + direction * gap[:, None]
    p1 = np.clip(foot + direction * length[:, None], 0.0, size)
    local = shapely.linestrings(np.stack([p0, p1], axis=1))
    # Streets clipped at the region edge are shorter: keep as many as fill the budget.
    local = local[np.cumsum(shapely.length(local)) <= rest]
    loop = shapely.LineString([(5, 5), (60, 5), (60, 40), (5, 40), (5, 5)])
    lines = shapely.segmentize(np.r_[pieces, local, loop], VERTEX_M)
    return lines, np.r_[full, local]


def _parks(size: float, rng: np.random.Generator) -> np.ndarray:
    target = PARK_SHARE * size * size
    sides = rng.uniform(*PARK_SIZE, (int(target / (np.mean(PARK_SIZE) ** 2) * 1.5), 2))
    keep = np.cumsum(sides[:, 0] * sides[:, 1]) <= target
    sides = sides[keep]
    lo = rng.uniform(0, size - sides.max(), (len(sides), 2))
    return shapely.box(lo[:, 0], lo[:, 1], lo[:, 0] + sides[:, 0], lo[:, 1] + sides[:, 1])


def _houses(
    size: float, n_dwellings: int, parks: shapely.Geometry, streets: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    cols, rows = int(size // PLOT_W), int(size // PLOT_D)
    cx, cy = np.meshgrid((np.arange(cols) + 0.5) * PLOT_W, (np.arange(rows) + 0.5) * PLOT_D)
    boxes = shapely.box(
        cx.ravel() - HOUSE_W / 2, cy.ravel() - HOUSE_D / 2, cx.ravel() + HOUSE_W / 2, cy.ravel() + HOUSE_D / 2
    )
    free = ~shapely.intersects(parks, boxes)
    street_zone = shapely.buffer(shapely.union_all(streets), 8.0)
    free &= ~shapely.intersects(street_zone, boxes)
    # Houses stand along the streets, not in the middle of nowhere.
    near = shapely.buffer(shapely.union_all(streets), HOUSE_STREET_M)
    shapely.prepare(near)
    free &= shapely.intersects(near, boxes)
    boxes = boxes[free]
    # Enough apartment buildings that the plots hold the dwellings asked for.
    need = n_dwellings / len(boxes) * 1.1
    mean_apartment = (APARTMENT_DWELLINGS[0] + APARTMENT_DWELLINGS[1] - 1) / 2
    share = np.clip((need - 1) / (mean_apartment - 1), APARTMENT_SHARE, 1.0)
    apartment = rng.random(len(boxes)) < share
    per = np.where(apartment, rng.integers(*APARTMENT_DWELLINGS, len(boxes)), 1)
    # Use just enough buildings for n_dwellings (spread over the whole area).
    order = rng.permutation(len(boxes))
    take = order[: int(np.searchsorted(np.cumsum(per[order]), n_dwellings) + 1)]
    take.sort()
    boxes, per = boxes[take], per[take]
    owner = np.repeat(np.arange(len(boxes)), per)[:n_dwellings]
    bx = shapely.bounds(boxes)[owner]
    px = rng.uniform(bx[:, 0] + 0.5, bx[:, 2] - 0.5)
    py = rng.uniform(bx[:, 1] + 0.5, bx[:, 3] - 0.5)
    return boxes, (shapely.points(px, py), owner)


def _trees(
    n: int, size: float, parks: np.ndarray, streets: np.ndarray, buildings: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n_park = int(n * TREES_IN_PARKS)
    n_street = int(n * TREES_ON_STREETS)
    n_garden = n - n_park - n_street
    area = shapely.area(parks)
    which = rng.choice(len(parks), n_park, p=area / area.sum())
    b = shapely.bounds(parks)[which]
    park_xy = rng.uniform(b[:, :2], b[:, 2:])
    line = rng.integers(0, len(streets), n_street)
    along = rng.uniform(0, size, n_street)
    base = shapely.get_coordinates(shapely.line_interpolate_point(streets[line], along))
    # The first half of the grid lines run east-west: step off them north or south, the others east or west.
    side = rng.choice([-6.0, 6.0], n_street)
    east_west = line < len(streets) // 2
    street_xy = base + np.c_[np.where(east_west, 0.0, side), np.where(east_west, side, 0.0)]
    owner = rng.integers(0, len(buildings), n_garden)
    gb = shapely.bounds(buildings)[owner]
    garden_xy = np.c_[rng.uniform(gb[:, 0], gb[:, 2]), gb[:, 3] + rng.uniform(2.0, PLOT_D - HOUSE_D - 1.0, n_garden)]
    xy = np.clip(np.r_[park_xy, street_xy, garden_xy], 0.5, size - 0.5)
    crown = np.round(rng.uniform(3.0, 12.0, n), 1)
    crown[rng.random(n) < 0.1] = np.nan  # registers often lack the crown: default applies
    return shapely.points(xy), crown
