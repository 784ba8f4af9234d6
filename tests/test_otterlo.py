"""End to end on the real BGT sample of Otterlo: adapter -> layers -> published files.

Otterlo has BGT alone (no AHN, no BAG). With the surface proxy (``sources.surface_proxy``,
``geo.surface_proxy``) it gets cool places; the dwellings are a small hand-made address file of
building points written to tmp_path (every 100th BGT pand), the buurt one rectangle.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rich.console import Console
from shapely.geometry import box

from geo.canonical import LANDCOVER_CODES
from geo.crs import RD_NEW
from geo.parks import NOT_PUBLIC_VALUES
from geo.report import AdapterResult
from geo.surface_proxy import PROXY_LABEL, SURFACE_PROXY_SOURCE, WOOD_SOURCE_CLASSES
from layers import catalog as cat
from layers.config import load_config
from layers.engine import build, plan_build
from layers.sources import SourceSet
from tests.conftest import OTTERLO_BGT
from tiles.cog import validate_cog
from tiles.pmtiles import archive_info

#: Every n-th BGT pand (sorted by id) gets a test dwelling at a point on its footprint.
DWELLING_EVERY = 100


def _bgt_only_config(folder: Path, otterlo_bgt_read: AdapterResult, proxy: bool) -> Path:
    """Otterlo BGT, hand-made dwellings and one buurt; with ``proxy`` the surface proxy for dsm/dtm."""
    bgt = otterlo_bgt_read.sources
    panden = bgt["buildings"].sort_values("id").iloc[::DWELLING_EVERY]
    gpd.GeoDataFrame(
        {"id": [f"test-{i}" for i in range(len(panden))], "building_id": panden["id"].to_numpy(),
         "use": "woonfunctie", "status": "Verblijfsobject in gebruik"},
        geometry=shapely.point_on_surface(panden.geometry.values), crs=RD_NEW,
    ).to_file(folder / "addresses.gpkg")
    gpd.GeoDataFrame({"code": ["BU-TEST"], "name": ["Otterlo (test)"]},
                     geometry=[box(*bgt["landcover"].total_bounds)], crs=RD_NEW).to_file(folder / "buurten.gpkg")
    config = folder / "kaartlaag.yaml"
    config.write_text(
        f'region: {{name: Otterlo, crs: "EPSG:28992"}}\ncatalog: ./catalog\n'
        f"sources:\n  bgt: {{path: {OTTERLO_BGT}}}\n"
        "  addresses: {path: addresses.gpkg}\n  neighbourhoods: {path: buurten.gpkg}\n"
        + ("  surface_proxy: {}\n" if proxy else "")
    )
    return config


@pytest.fixture(scope="module")
def otterlo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Catalog of landcover and basemap built on Otterlo's BGT alone (about a minute: most of it pre-rendering
    the 0.5 m land-cover tiles). Kept apart from ``otterlo_cool``: one build of all three layers with the
    surface proxy was measured no faster here (153 s against 115-150 s for the two)."""
    folder = tmp_path_factory.mktemp("otterlo")
    config = folder / "kaartlaag.yaml"
    config.write_text(
        f'region: {{name: Otterlo, crs: "EPSG:28992"}}\ncatalog: ./catalog\n'
        f"sources:\n  bgt: {{path: {OTTERLO_BGT}}}\n"
    )
    summary = build(load_config(config), ["landcover", "basemap"], console=Console(quiet=True))
    assert sorted(summary.built) == ["basemap", "landcover"]
    return folder / "catalog"


@pytest.fixture(scope="module")
def otterlo_cool(tmp_path_factory: pytest.TempPathFactory, otterlo_bgt_read: AdapterResult) -> Path:
    """Catalog of cool-places built on Otterlo's BGT with the surface proxy (about a minute)."""
    folder = tmp_path_factory.mktemp("otterlo-cool")
    summary = build(load_config(_bgt_only_config(folder, otterlo_bgt_read, proxy=True)), ["cool-places"],
                    console=Console(quiet=True))
    assert summary.built == ["cool-places"]
    return folder / "catalog"


def test_landcover_areas_equal_the_current_bgt_polygons(otterlo: Path, otterlo_bgt_read: AdapterResult) -> None:
    expected = otterlo_bgt_read.sources["landcover"]
    entry = cat.read_catalog(otterlo).layers["landcover"]
    published = gpd.read_parquet(otterlo / entry.file("landcover", "vector").path)
    assert len(published) == len(expected)
    got = published.assign(a=published.area).groupby("class")["a"].sum()
    want = expected.assign(a=expected.area).groupby("class")["a"].sum()
    assert got.to_dict() == pytest.approx(want.to_dict(), rel=1e-9)
    # Build log carries the adapter's counts (ended objects excluded).
    log = {r["source"]: r["counts"] for r in entry.build_log}
    assert log["bgt"]["ended_excluded"] > 0


def test_raster_agrees_with_vector_areas(otterlo: Path) -> None:
    entry = cat.read_catalog(otterlo).layers["landcover"]
    path = otterlo / entry.file("landcover", "raster").path
    validate_cog(path)
    with rasterio.open(path) as ds:
        assert ds.res == (0.5, 0.5) and ds.crs.to_epsg() == 28992
        codes = ds.read(1)
    cell_m2 = 0.25
    vector = entry.metadata["area_m2_per_class"]
    for name, area in vector.items():
        raster_area = float(np.count_nonzero(codes == LANDCOVER_CODES[name])) * cell_m2
        # Cell-centre sampling: class areas agree within 1 % (or 50 m2 for small classes).
        assert raster_area == pytest.approx(area, rel=0.01, abs=50), name


def test_pmtiles_decode_with_gdal(otterlo: Path, otterlo_bgt_read: AdapterResult) -> None:
    entry = cat.read_catalog(otterlo).layers["basemap"]
    path = otterlo / entry.file("basemap", "vector").path
    info = archive_info(path)
    assert (info["minzoom"], info["maxzoom"]) == (10, 16)
    assert {"buildings", "roads", "green", "water"} <= {v["id"] for v in info["vector_layers"]}
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert "buildings" in layers
    frame = pyogrio.read_dataframe(path, layer="buildings")
    # GDAL's PMTiles driver reads the highest zoom; every current BGT pand is in it (none dropped).
    buildings = otterlo_bgt_read.sources["buildings"]
    assert set(frame["id"]) == set(buildings["id"])


def test_before_the_proxy_bgt_alone_gives_no_cool_places(tmp_path: Path, otterlo_bgt_read: AdapterResult) -> None:
    cfg = load_config(_bgt_only_config(tmp_path, otterlo_bgt_read, proxy=False))
    plan = {p.layer.id: p for p in plan_build(cfg, SourceSet(cfg), None, force=False)}
    assert plan["cool-places"].action == "skipped" and "dsm" in plan["cool-places"].reason


def test_otterlo_from_bgt_alone_yields_cool_places(otterlo_cool: Path, otterlo_bgt_read: AdapterResult) -> None:
    entry = cat.read_catalog(otterlo_cool).layers["cool-places"]
    places = gpd.read_parquet(otterlo_cool / entry.file("cool-places", "vector").path)
    counts = entry.metadata["log"]["counts"]
    summary = entry.metadata["summary"]
    # Figures of the 2020-08 extract, proxy defaults (8 m buildings, 6 m crowns at 10 m, woods at 15 m).
    assert summary["cool_places"] == len(places) == 73
    assert summary["cool_area_m2"] == pytest.approx(1_510_710, rel=1e-3)
    assert counts["eligible_shaded_m2"] == pytest.approx(1_528_846, rel=1e-3)
    assert counts["eligible_m2"] == pytest.approx(1_952_747, rel=1e-3)
    assert counts["cool_places"] == 73 and counts["dsm_nodata_cells"] == 0
    # Every place is at least 200 m2 (cells x 1 m2) and the patches add up to no more than the shade.
    assert (places["area_m2"] >= 200.0).all()
    assert places.area.to_numpy() == pytest.approx(places["area_m2"].to_numpy(), abs=0.5)
    assert places["area_m2"].sum() <= counts["eligible_shaded_m2"]
    # On public ground: no place covers an erf or farmland, by the layer's own table ...
    listed = places["source_classes"].astype(str).str.lower()
    assert not any(text.endswith(f":{value}") or f":{value}," in text for text in listed
                   for value in NOT_PUBLIC_VALUES)
    # ... and by geometry: inside the half-cell margin of its staircase outline, no place overlaps an erf.
    landcover = otterlo_bgt_read.sources["landcover"]
    erf = landcover[landcover["source_class"].str.contains("erf", regex=False)]
    assert len(erf) > 0
    core = shapely.union_all(shapely.buffer(places.geometry.values, -0.75))
    assert shapely.area(shapely.intersection(core, shapely.union_all(erf.geometry.values))) < 1.0
    # The person view of the proxy: the ground in the woods is shade, most of the area lies there.
    assert entry.metadata["view"]["kind"] == "person on the ground"
    woods = landcover[landcover["source_class"].isin(list(WOOD_SOURCE_CLASSES))]
    in_woods = shapely.area(shapely.intersection(shapely.union_all(places.geometry.values),
                                                 shapely.union_all(woods.geometry.values)))
    assert in_woods / places["area_m2"].sum() > 0.8


def test_otterlo_test_dwellings_within_300_m(otterlo_cool: Path) -> None:
    entry = cat.read_catalog(otterlo_cool).layers["cool-places"]
    places = gpd.read_parquet(otterlo_cool / entry.file("cool-places", "vector").path)
    dwellings = gpd.read_parquet(otterlo_cool / entry.file("dwellings", "vector").path)
    assert len(dwellings) == 17
    # No street network: the straight line, checked against shapely (places smoothed by one cell in the layer).
    tree = shapely.STRtree(places.geometry.values)
    _, nearest = tree.query_nearest(dwellings.geometry.values, return_distance=True, all_matches=False)
    assert dwellings["cool_distance_m"].to_numpy() == pytest.approx(nearest, abs=1.0)
    assert int(dwellings["meets_cool_300"].sum()) == entry.metadata["summary"]["dwellings_within"] == 15
    assert entry.metadata["summary"]["within_pct"] == pytest.approx(100 * 15 / 17, abs=0.01)


def test_otterlo_cool_places_name_the_proxy(otterlo_cool: Path) -> None:
    entry = cat.read_catalog(otterlo_cool).layers["cool-places"]
    log = {r["source"]: r for r in entry.build_log}
    assert log[SURFACE_PROXY_SOURCE]["notes"][0].startswith(PROXY_LABEL)
    assert log[SURFACE_PROXY_SOURCE]["counts"]["buildings_default_height"] == 1681
    assert log[SURFACE_PROXY_SOURCE]["counts"]["trees"] == 2088
    assert SURFACE_PROXY_SOURCE in entry.metadata["attribution"]
