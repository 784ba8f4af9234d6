"""The benchmark of a two-municipality hand-built region, and the per-municipality aggregation it reads.

Hand values (tests/conftest.py, ``two_municipality_buurten``): GM0001 Aalst is the west half (10,000 m2
building, 10,000 m2 green) plus a 5,000 m2 water strip: green 40 %, paved 0 %; GM0002 Bosch is 10,000 m2
road and 5,000 m2 water: paved 66.67 %, green 0 %. The region: green 25 %, paved 25 %. A mean of the
buurt shares would give Aalst 25 % green, and a mean of the municipalities 20 % green for the region.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from fastapi.testclient import TestClient
from rich.console import Console

from geo.cbs import read_cbs
from geo.errors import ConfigError, SourceError
from geo.raster import Raster
from layers.catalog import LayerEntry
from layers.config import load_config
from layers.engine import build
from layers.municipalities import aggregate_zone_table
from services.app import create_app
from services.settings import ServerSettings
from tests.conftest import ORIGIN, two_municipality_buurten, write_two_municipality_region


def _quiet() -> Console:
    return Console(file=io.StringIO())


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built two-municipality region (green-paved only); returns the config path."""
    config = write_two_municipality_region(tmp_path_factory.mktemp("bench") / "region")
    build(load_config(config), ["green-paved"], console=_quiet())
    return config


@pytest.fixture(scope="module")
def client(region: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=region.parent / "catalog")))


def test_benchmark_json_has_hand_values(client: TestClient) -> None:
    data = client.get("/benchmark.json").json()
    assert set(data) == {"municipalities", "region"}
    aalst, bosch = data["municipalities"]
    assert (aalst["code"], aalst["name"], bosch["code"], bosch["name"]) == ("GM0001", "Aalst", "GM0002", "Bosch")
    assert aalst["figures"]["green_pct"] == pytest.approx(40.0)
    assert aalst["figures"]["paved_pct"] == pytest.approx(0.0)
    assert bosch["figures"]["green_pct"] == pytest.approx(0.0)
    assert bosch["figures"]["paved_pct"] == pytest.approx(66.67)
    assert aalst["figures"]["canopy_pct"] is None  # no trees and no AHN
    assert data["region"]["figures"]["green_pct"] == pytest.approx(25.0)
    assert data["region"]["figures"]["paved_pct"] == pytest.approx(25.0)
    version = client.get("/layers/green-paved").json()["version"]
    assert aalst["versions"]["green_pct"] == {"layer": "green-paved", "version": version}
    # Only figures of layers in the catalog: no 3-30-300, heat or vacancy here.
    assert set(aalst["figures"]) == {"green_pct", "paved_pct", "canopy_pct"}


def test_benchmark_csv_and_page(client: TestClient) -> None:
    rows = list(csv.DictReader(io.StringIO(client.get("/benchmark.csv").text)))
    assert [r["code"] for r in rows] == ["GM0001", "GM0002", "regio"]
    assert float(rows[1]["paved_pct"]) == pytest.approx(66.67)
    assert rows[2]["green_pct_version"].startswith("green-paved@")
    page = client.get("/benchmark")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<svg" in html and html.count('<section class="cijfer"') == 3
    assert "Groen" in html and "Aalst" in html and "Bosch" in html
    assert "regio: 25,0 %" in html  # the regional value, Dutch decimal comma


def test_internal_layers_never_feed_the_public_benchmark(tmp_path: Path) -> None:
    config = write_two_municipality_region(tmp_path / "region")
    config.write_text(config.read_text().replace("layers:\n", "layers:\n  green-paved: {access: internal}\n"))
    build(load_config(config), ["green-paved"], console=_quiet())
    from services.access import create_key

    key = create_key(tmp_path / "region" / "catalog", "test")
    client = TestClient(create_app(ServerSettings(catalog=tmp_path / "region" / "catalog")))
    public = client.get("/benchmark.json").json()
    assert public["municipalities"] == [] and public["region"]["figures"] == {}
    assert "Groen" not in client.get("/benchmark").text
    internal = client.get("/benchmark.json", headers={"X-API-Key": key}).json()
    assert internal["municipalities"][0]["figures"]["green_pct"] == pytest.approx(40.0)


def test_municipality_table_published(region: Path) -> None:
    folder = next((region.parent / "catalog" / "green-paved").iterdir())
    munis = gpd.read_parquet(folder / "municipalities.parquet")
    assert list(munis["code"]) == ["GM0001", "GM0002"]
    assert munis.geometry.area.tolist() == pytest.approx([25_000.0, 15_000.0])
    zones = gpd.read_parquet(folder / "neighbourhoods.parquet")
    assert dict(zip(zones["code"], zones["municipality_code"], strict=True)) == {
        "BU00010001": "GM0001", "BU00010002": "GM0001", "BU00020001": "GM0002"}


def _membership() -> pd.DataFrame:
    b = two_municipality_buurten()
    return pd.DataFrame(b[["code", "municipality_code", "municipality_name"]])


def test_count_weighted_shares_are_recomputed() -> None:
    b = two_municipality_buurten()
    cool = gpd.GeoDataFrame({"code": b["code"], "name": b["name"], "dwellings": [10, 30, 5],
                             "dwellings_within_300": [10, 0, 5], "share_pct": [100.0, 0.0, 100.0]},
                            geometry=b.geometry, crs=b.crs)
    done = aggregate_zone_table("cool-places", cool, _membership())
    assert done is not None
    # GM0001: 10 of 40 dwellings (a mean of the buurt shares would say 50 %); region 15 of 45.
    assert done.municipalities["share_pct"].tolist() == pytest.approx([25.0, 100.0])
    assert done.municipalities["dwellings"].tolist() == [40, 5]
    assert done.region["share_pct"] == pytest.approx(33.33)
    tree = gpd.GeoDataFrame({"code": b["code"], "name": b["name"], "dwellings": [10, 30, 5],
                             "meets_300_pct": [100.0, 0.0, 40.0], "meets_shade": [True, False, True]},
                            geometry=b.geometry, crs=b.crs)
    done = aggregate_zone_table("tree-3-30-300", tree, _membership())
    assert done is not None
    assert done.municipalities["meets_300_pct"].tolist() == pytest.approx([25.0, 40.0])
    assert done.not_aggregated == ["meets_shade"]


def test_raster_percentile_is_recomputed_from_cells() -> None:
    b = two_municipality_buurten()
    x0, y0 = ORIGIN
    rng = np.random.default_rng(1)
    data = rng.uniform(0.0, 4.0, size=(1, 200, 200)).astype(np.float32)
    data[0, :10, :10] = np.nan
    raster = Raster(data, "EPSG:28992", Affine(1.0, 0, x0, 0, -1.0, y0 + 200), nodata=float("nan"))
    heat = gpd.GeoDataFrame({"code": b["code"], "name": b["name"], "uhi_max_p95_k": [9.0, 9.0, 9.0],
                             "uhi_max_mean_k": [9.0, 9.0, 9.0]}, geometry=b.geometry, crs=b.crs)
    done = aggregate_zone_table("heat-stress", heat, _membership(), {"uhi_max": raster})
    assert done is not None
    grid = data[0]
    west = np.concatenate([grid[:, :100].ravel(), grid[150:, 100:].ravel()])  # GM0001: west half + south strip
    east = grid[:150, 100:].ravel()
    for row, cells in zip(done.municipalities.itertuples(), (west, east), strict=True):
        cells = cells[np.isfinite(cells)]
        assert row.uhi_max_p95_k == pytest.approx(np.percentile(cells, 95), abs=0.011)
        assert row.uhi_max_mean_k == pytest.approx(cells.mean(), abs=0.011)
    everything = grid[np.isfinite(grid)]
    assert done.region["uhi_max_p95_k"] == pytest.approx(np.percentile(everything, 95), abs=0.011)


def test_config_municipalities_are_validated(tmp_path: Path) -> None:
    config = write_two_municipality_region(tmp_path / "region")
    text = config.read_text()
    config.write_text(text.replace("[GM0001, GM0002]", "[GM0001, '0197']"))
    with pytest.raises(ConfigError, match=r"region.municipalities.1: '0197' is not a CBS gemeente code"):
        load_config(config)
    config.write_text(text.replace("[GM0001, GM0002]", "[GM0001, GM0001]"))
    with pytest.raises(ConfigError, match="GM0001 is listed twice"):
        load_config(config)
    config.write_text(text.replace("municipalities:", "gemeenten:"))
    with pytest.raises(ConfigError, match=r"region\.gemeenten: unknown key"):
        load_config(config)
    config.write_text(text.replace("[GM0001, GM0002]", "[GM0001, GM0003]"))
    with pytest.raises(SourceError, match="no buurten of GM0003"):
        build(load_config(config), ["green-paved"], console=_quiet())


def test_one_municipality_selects_its_buurten(tmp_path: Path) -> None:
    config = write_two_municipality_region(tmp_path / "region")
    config.write_text(config.read_text().replace("[GM0001, GM0002]", "[GM0002]"))
    build(load_config(config), ["green-paved"], console=_quiet())
    folder = next((tmp_path / "region" / "catalog" / "green-paved").iterdir())
    zones = gpd.read_parquet(folder / "neighbourhoods.parquet")
    assert list(zones["code"]) == ["BU00020001"]
    assert zones["paved_pct"].tolist() == pytest.approx([66.67])


def test_cbs_adapter_keeps_the_gemeente(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"buurtcode": ["BU01970001", "BU18590002"], "buurtnaam": ["Centrum", "Lichtenvoorde"],
         "gemeentecode": ["GM0197", "GM1859"], "gemeentenaam": ["Aalten", "Oost Gelre"], "water": ["NEE", "NEE"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)], crs="EPSG:28992")
    frame.to_file(tmp_path / "wijkenbuurten.gpkg", layer="buurten", engine="pyogrio")
    n = read_cbs(tmp_path / "wijkenbuurten.gpkg").sources["neighbourhoods"]
    assert list(n["municipality_code"]) == ["GM0197", "GM1859"]
    assert list(n["municipality_name"]) == ["Aalten", "Oost Gelre"]


def _vacancy_entry(root: Path, vacant: list[int | None]) -> LayerEntry:
    from layers.catalog import FileEntry

    folder = root / "vacancy" / "20261201T000000Z-00000000"
    folder.mkdir(parents=True)
    pct = [None if v is None else round(100 * v / n, 2) for v, n in zip(vacant, (40, 60), strict=True)]
    table = gpd.GeoDataFrame(
        {"code": ["GM0001", "GM0002"], "name": ["Aalst", "Bosch"], "addresses_in_use": [40, 60],
         "vacant": pd.array(vacant, dtype="Int64"), "vacant_pct": pd.array(pct, dtype="Float64")},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:28992")
    table.to_parquet(folder / "gemeenten.parquet")
    file = FileEntry(name="gemeenten.parquet", output="gemeenten", kind="vector", format="parquet",
                     media_type="application/vnd.apache.parquet", path=f"vacancy/{folder.name}/gemeenten.parquet",
                     bytes=1, sha256="0" * 64)
    return LayerEntry(id="vacancy", title={"nl": "Leegstand"}, description={}, kind="vector", version=folder.name,
                      built_at="2026-12-01T00:00:00Z", key="k", code_version="1", inputs={}, parameters={},
                      bounds={}, crs="EPSG:28992", access="public", style_id="vacancy", minzoom=10, maxzoom=16,
                      files=[file])


def test_vacancy_rate_is_read_as_published(tmp_path: Path) -> None:
    from layers.benchmark import benchmark

    data = benchmark(tmp_path / "a", [_vacancy_entry(tmp_path / "a", [4, 3])], "Proefdorp")
    assert [m["figures"]["vacant_pct"] for m in data["municipalities"]] == [10.0, 5.0]
    assert data["region"]["figures"]["vacant_pct"] == pytest.approx(7.0)  # 7 of 100 addresses, not (10 + 5) / 2
    assert data["municipalities"][0]["versions"]["vacant_pct"]["layer"] == "vacancy"
    # A suppressed count: that municipality has no figure, and the region's total is not known.
    data = benchmark(tmp_path / "b", [_vacancy_entry(tmp_path / "b", [4, None])], "Proefdorp")
    assert [m["figures"]["vacant_pct"] for m in data["municipalities"]] == [10.0, None]
    assert data["region"]["figures"]["vacant_pct"] is None
