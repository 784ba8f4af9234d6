"""End to end on the real BGT sample of Otterlo: adapter -> layers -> published files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from rich.console import Console

from geo.bgt import read_bgt
from geo.canonical import LANDCOVER_CODES
from geo.crs import RD_NEW
from layers import catalog as cat
from layers.config import load_config
from layers.engine import build
from tiles.cog import validate_cog
from tiles.pmtiles import archive_info


@pytest.fixture(scope="module")
def otterlo(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("otterlo")
    config = folder / "kaartlaag.yaml"
    config.write_text(
        f'region: {{name: Otterlo, crs: "EPSG:28992"}}\ncatalog: ./catalog\n'
        f"sources:\n  bgt: {{path: {shared_data / 'bgt-otterlo' / 'otterlo.zip'}}}\n"
    )
    summary = build(load_config(config), console=Console(quiet=True))
    assert sorted(summary.built) == ["basemap", "landcover"]
    return folder / "catalog"


def test_landcover_areas_equal_the_current_bgt_polygons(otterlo: Path, shared_data: Path) -> None:
    expected = read_bgt(shared_data / "bgt-otterlo" / "otterlo.zip", RD_NEW).sources["landcover"]
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


def test_pmtiles_decode_with_gdal(otterlo: Path, shared_data: Path) -> None:
    entry = cat.read_catalog(otterlo).layers["basemap"]
    path = otterlo / entry.file("basemap", "vector").path
    info = archive_info(path)
    assert (info["minzoom"], info["maxzoom"]) == (10, 16)
    assert {"buildings", "roads", "green", "water"} <= {v["id"] for v in info["vector_layers"]}
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert "buildings" in layers
    frame = pyogrio.read_dataframe(path, layer="buildings")
    # GDAL's PMTiles driver reads the highest zoom; every current BGT pand is in it (none dropped).
    buildings = read_bgt(shared_data / "bgt-otterlo" / "otterlo.zip", RD_NEW).sources["buildings"]
    assert set(frame["id"]) == set(buildings["id"])
