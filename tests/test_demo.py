"""The synthetic demo region Eschveld: completeness, consistency, determinism, speed.

One full-size region is generated once per module; the determinism tests make
three small (1.2 km) regions of their own.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import yaml
from rasterio.features import rasterize
from rasterio.windows import from_bounds
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.canonical import LANDCOVER_CLASSES, validate_canonical
from geo.crs import RD_NEW
from geo.demo import ORIGIN, generate_demo

SIZE = 3000.0
SQUARE = shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + SIZE, ORIGIN[1] + SIZE)
VECTOR_SOURCES = ("landcover", "buildings", "addresses", "neighbourhoods", "streets", "parks", "amenities",
                  "housing_sites", "projects")
SITE_STATUSES = {"visie", "in voorbereiding", "vastgesteld", "onherroepelijk"}  # geo.housing_sites.STATUSES
AMENITY_TYPES = {"supermarket", "primary_school", "gp", "pt_stop", "pharmacy", "library", "sports"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    steps: list[tuple[str, float]] = []
    out = tmp_path_factory.mktemp("eschveld")
    start = time.perf_counter()
    config = generate_demo(out, progress=lambda step, fraction: steps.append((step, fraction)))
    seconds = time.perf_counter() - start
    print(f"\ndemo region generated in {seconds:.1f} s")
    return {"dir": out, "config": config, "seconds": seconds, "steps": steps}


def _read(folder: Path, name: str) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(folder / f"{name}.gpkg")


def _trees(folder: Path) -> gpd.GeoDataFrame:
    table = pd.read_csv(folder / "trees.csv")
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.x, table.y), crs=RD_NEW)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_generation_is_fast_and_reports_progress(demo: dict) -> None:
    assert demo["seconds"] < 90, f"generation took {demo['seconds']:.1f} s (target < 60 s)"
    fractions = [f for _, f in demo["steps"]]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0 and len(fractions) >= 8


def test_config_lists_every_written_source(demo: dict) -> None:
    cfg = yaml.safe_load(demo["config"].read_text())
    assert cfg["region"] == {"name": "Eschveld", "crs": "EPSG:28992", "boundary": "boundary.gpkg"}
    sources = cfg["sources"]
    assert set(sources) == {*VECTOR_SOURCES, "trees", "occupancy", "ahn"}
    assert sources["landcover"]["layer"] == "landcover" and sources["trees"]["crs"] == "EPSG:28992"
    files = [s["path"] for k, s in sources.items() if k != "ahn"] + list(sources["ahn"].values())
    for name in [*files, "boundary.gpkg"]:
        assert (demo["dir"] / name).is_file(), name


def test_each_source_validates_as_canonical(demo: dict) -> None:
    folder = demo["dir"]
    for name in VECTOR_SOURCES:
        frame = _read(folder, name)
        assert frame.crs.equals(RD_NEW), name
        validate_canonical(name, frame, folder / f"{name}.gpkg")
    validate_canonical("trees", _trees(folder), folder / "trees.csv")
    occupancy = pd.read_csv(folder / "occupancy.csv", dtype=str)
    validate_canonical("occupancy", occupancy, folder / "occupancy.csv")
    assert set(occupancy.registration) == {"resident", "user", "business"}
    assert pd.to_datetime(occupancy.since, format="%Y-%m-%d").notna().all()
    boundary = _read(folder, "boundary")
    assert len(boundary) == 1 and boundary.geometry[0].equals(SQUARE)


def test_counts_are_those_of_a_village(demo: dict) -> None:
    folder = demo["dir"]
    addresses = _read(folder, "addresses")
    dwellings = addresses.use.str.split(",").apply(lambda uses: "woonfunctie" in uses)
    assert 2700 <= dwellings.sum() <= 3300
    assert (addresses.id.str.len() == 16).all() and addresses.id.is_unique
    assert (addresses.status == "Verblijfsobject in gebruik").mean() > 0.9
    assert {"Verblijfsobject gevormd", "Verblijfsobject in gebruik (niet ingemeten)"} <= set(addresses.status)
    assert {"winkelfunctie", "industriefunctie", "kantoorfunctie", "onderwijsfunctie"} <= set(addresses.use)
    assert 4500 <= len(_trees(folder)) <= 5500
    buildings = _read(folder, "buildings")
    assert (buildings.id.str.len() == 16).all() and buildings.id.is_unique
    assert buildings.height_m.max() == pytest.approx(40.0)  # the church tower
    assert buildings.height_m.between(4.0, 40.0).all()
    buurten = _read(folder, "neighbourhoods")
    assert 6 <= len(buurten) <= 10 and buurten.code.str.fullmatch(r"BU9999\d{4}").all()
    sites = _read(folder, "housing_sites")
    assert 4 <= len(sites) <= 6 and set(sites.status) <= SITE_STATUSES
    assert (sites.planned_dwellings > 0).all()
    parks = _read(folder, "parks").area
    assert 3 <= len(parks) <= 4 and parks.max() >= 10_000 and parks.min() < 5_000
    amenities = _read(folder, "amenities")
    assert set(amenities["type"]) == AMENITY_TYPES


def test_occupancy_vacancy_and_business(demo: dict) -> None:
    folder = demo["dir"]
    addresses = _read(folder, "addresses")
    occupancy = pd.read_csv(folder / "occupancy.csv", dtype=str)
    in_use = addresses.status.str.startswith("Verblijfsobject in gebruik")
    homes = addresses[in_use & (addresses.use == "woonfunctie")]
    vacant = ~homes.id.isin(occupancy.address_id[occupancy.until.isna()])  # no open registration
    assert 0.03 <= vacant.mean() <= 0.05
    ended = occupancy.dropna(subset=["until"])
    assert len(ended) and (ended.until > ended.since).all() and (ended.until <= "2025-12-31").all()
    assert ended.address_id.isin(homes.id[vacant]).sum() > 0.7 * vacant.sum()  # most vacant homes have a past
    residents = occupancy[occupancy.registration == "resident"]
    assert residents.address_id.isin(homes.id).mean() > 0.95
    business = addresses[in_use & ~addresses.use.str.contains("woonfunctie")]
    registered = business.id.isin(occupancy.address_id[occupancy.registration == "business"])
    assert registered.mean() > 0.8
    assert not occupancy.address_id.isin(addresses.id[~in_use]).any()


def test_landcover_is_a_partition_of_the_square(demo: dict) -> None:
    lc = _read(demo["dir"], "landcover")
    assert set(lc["class"]) <= set(LANDCOVER_CLASSES)
    expected = {"building", "road_paved", "paved_other", "green_low", "green_trees", "agriculture", "water"}
    assert expected <= set(lc["class"])
    assert lc.public.dtype == bool and lc.source_id.is_unique
    assert ((lc["class"] == "building") == (lc.source_class == "pand")).all()
    assert lc.source_class[lc["class"] != "building"].str.fullmatch(r"[a-z]+:[a-z /-]+").all()
    area = lc.area.sum()
    union = shapely.union_all(lc.geometry.to_numpy())
    assert area == pytest.approx(SQUARE.area, rel=1e-3)
    assert area - union.area < 1e-3 * SQUARE.area  # no overlaps
    assert SQUARE.difference(union).area < 1.0  # no gaps
    assert union.difference(SQUARE).area < 1.0
    public = lc.groupby("class").public.mean()
    assert public["road_paved"] == 1.0 and public["water"] == 1.0
    assert public["building"] == 0.0 and public["agriculture"] == 0.0


def test_buildings_coincide_with_landcover(demo: dict) -> None:
    folder = demo["dir"]
    buildings = _read(folder, "buildings")
    lc = _read(folder, "landcover")
    lc_buildings = lc.geometry[lc["class"] == "building"].to_numpy()
    assert len(lc_buildings) == len(buildings)
    total_lc = shapely.area(lc_buildings).sum()
    assert buildings.area.sum() == pytest.approx(total_lc, rel=5e-3)
    b, c = shapely.STRtree(lc_buildings).query(buildings.geometry.to_numpy(), predicate="intersects")
    shared = shapely.area(shapely.intersection(buildings.geometry.to_numpy()[b], lc_buildings[c]))
    best = np.zeros(len(buildings))
    np.maximum.at(best, b, shared)
    assert (best >= 0.995 * buildings.area.to_numpy()).all()


def test_addresses_lie_in_their_building(demo: dict) -> None:
    folder = demo["dir"]
    buildings = _read(folder, "buildings").set_index("id")
    addresses = _read(folder, "addresses")
    footprints = buildings.geometry.loc[addresses.building_id].to_numpy()
    assert shapely.within(addresses.geometry.to_numpy(), footprints).all()
    per_building = addresses.building_id.value_counts()
    assert per_building.max() >= 10  # apartment buildings hold many homes


def test_no_tree_stands_in_a_building(demo: dict) -> None:
    folder = demo["dir"]
    trees = _trees(folder)
    buildings = _read(folder, "buildings").geometry.to_numpy()
    hits, _ = shapely.STRtree(buildings).query(trees.geometry.to_numpy(), predicate="intersects")
    assert len(hits) == 0
    assert shapely.within(trees.geometry.to_numpy(), SQUARE).all()
    assert trees.id.is_unique and (trees.crown_diameter_m > 0).all() and (trees.height_m > 0).all()
    assert {"Quercus robur", "Tilia x europaea", "Betula pendula"} <= set(trees.species)


def test_elevation_is_consistent_with_the_vectors(demo: dict) -> None:
    folder = demo["dir"]
    buildings = _read(folder, "buildings")
    trees = _trees(folder)
    with rasterio.open(folder / "dsm.tif") as dsm_ds, rasterio.open(folder / "dtm.tif") as dtm_ds:
        assert dsm_ds.crs.to_epsg() == 28992 and dsm_ds.res == (0.5, 0.5) and dsm_ds.shape == (6000, 6000)
        assert dsm_ds.profile["compress"] == "deflate" and dsm_ds.profile["tiled"]
        assert dtm_ds.transform == dsm_ds.transform and dsm_ds.dtypes[0] == "float32"
        # A 1 x 1 km window through the centre: bare cells, roofs and crowns.
        x0, y0 = ORIGIN[0] + 1000, ORIGIN[1] + 1000
        window = from_bounds(x0, y0, x0 + 1000, y0 + 1000, dsm_ds.transform)
        dsm, dtm = dsm_ds.read(1, window=window), dtm_ds.read(1, window=window)
        transform = dsm_ds.window_transform(window)
        overview = dtm_ds.read(1, out_shape=(300, 300))
    assert overview.min() > 15.0 and overview.max() < 45.0
    crowns = trees.geometry.buffer(trees.crown_diameter_m / 2 + 0.5)
    covered = rasterize([*buildings.geometry, *crowns], dsm.shape, transform=transform, all_touched=True)
    assert (covered == 0).mean() > 0.3
    assert np.array_equal(dsm[covered == 0], dtm[covered == 0])
    inner = buildings.geometry.buffer(-1.0)
    inner = inner[~inner.is_empty & inner.within(shapely.box(x0, y0, x0 + 1000, y0 + 1000))]
    points = inner.representative_point()
    free = ~points.intersects(shapely.union_all(crowns.to_numpy()))
    points = points[free].iloc[:200]
    rows, cols = rasterio.transform.rowcol(transform, points.x, points.y)
    expected = buildings.height_m.loc[points.index].to_numpy()
    assert len(points) >= 50
    assert np.allclose(dsm[rows, cols] - dtm[rows, cols], expected, atol=1e-3)


def test_water_lies_below_its_banks(demo: dict) -> None:
    folder = demo["dir"]
    lc = _read(folder, "landcover")
    water = lc.geometry[lc["class"] == "water"].to_numpy()
    wet = shapely.point_on_surface(water)
    near = shapely.union_all(water).buffer(1.0)  # a cell whose centre is in the water holds its level
    pairs = []
    for p in wet:  # the stream bed is about 6 m wide: 8 m aside lies on a bank
        banks = [shapely.Point(p.x + dx, p.y + dy) for dx, dy in ((8, 0), (-8, 0), (0, 8), (0, -8))]
        pairs += [(p, b) for b in banks if not near.intersects(b) and SQUARE.contains(b)]
    assert len(pairs) >= 20
    with rasterio.open(folder / "dtm.tif") as ds:
        low = np.array([v[0] for v in ds.sample([(p.x, p.y) for p, _ in pairs])])
        high = np.array([v[0] for v in ds.sample([(b.x, b.y) for _, b in pairs])])
    assert (low < high - 0.5).all()


def test_street_network_is_noded_and_connected(demo: dict) -> None:
    streets = _read(demo["dir"], "streets")
    lines = streets.geometry.to_numpy()
    assert (shapely.get_type_id(lines) == shapely.GeometryType.LINESTRING).all()
    assert {"main", "residential", "footpath", "park_path"} <= set(streets.kind)
    crossing = shapely.STRtree(lines).query(lines, predicate="crosses")
    assert crossing.shape[1] == 0  # lines meet at end points only
    ends = np.concatenate([shapely.get_coordinates(shapely.get_point(lines, 0)),
                           shapely.get_coordinates(shapely.get_point(lines, -1))])
    _, node = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
    n = len(lines)
    graph = coo_matrix((np.ones(n), (node[:n], node[n:])), shape=(node.max() + 1,) * 2)
    count, _ = connected_components(graph, directed=False)
    assert count == 1


def test_same_seed_same_bytes_other_seed_other_region(tmp_path: Path) -> None:
    small = 1200.0
    first = _hashes(generate_demo(tmp_path / "a", seed=11, size_m=small).parent)
    again = _hashes(generate_demo(tmp_path / "b", seed=11, size_m=small).parent)
    other = _hashes(generate_demo(tmp_path / "c", seed=12, size_m=small).parent)
    assert first == again
    assert len(first) == 15  # 14 sources and files + projects.gpkg (geo.demo.housing)
    changed = {name for name in first if first[name] != other[name]}
    assert {"landcover.gpkg", "buildings.gpkg", "trees.csv", "dsm.tif", "dtm.tif"} <= changed


def test_rejects_a_region_too_small(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size_m"):
        generate_demo(tmp_path, size_m=500)
