"""Layers housing-opportunities (public paved plots) and housing-opportunities-vacant (internal, structural vacancy).

Hand-built cases with known answers, then one small region built and served: the internal layer answers 404
without a key everywhere, serves what it should with one, and the public layer carries no address ids.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import CRS, Transformer
from rich.console import Console
from shapely.geometry import Point, box

from geo.errors import ConfigError
from layers import catalog as cat
from layers.config import load_config
from layers.engine import build
from layers.extent import run_in_memory
from layers.housing_opportunities import PLOTS_LAYER, VACANT_LAYER
from services.access import create_key
from services.app import create_app
from services.settings import ServerSettings

RD = CRS.from_epsg(28992)
X0, Y0 = 200_000.0, 450_000.0
BOUNDS = (X0, Y0, X0 + 900, Y0 + 300)
IN_USE = "Verblijfsobject in gebruik"
REFERENCE = "2026-01-01"


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def pt(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def landcover() -> gpd.GeoDataFrame:
    """Paved land of every kind: only the two touching squares at the west end (70 x 40 m) form a plot."""
    rows = [
        ("paved_other", "onbegroeidterreindeel:gesloten verharding", None, rect(0, 0, 50, 40)),
        ("paved_other", "onbegroeidterreindeel:open verharding", None, rect(50, 0, 70, 40)),  # same plot
        ("paved_other", "onbegroeidterreindeel:erf", None, rect(100, 0, 150, 40)),  # the yard of B1
        ("building", "pand", None, rect(150.5, 0, 170, 40)),  # B1, 0.5 m from its yard
        ("paved_other", "ondersteunendwegdeel:gesloten verharding", None, rect(200, 0, 260, 40)),  # road verge
        ("paved_other", "wegdeel:gesloten verharding", "parkeervlak", rect(300, 0, 360, 40)),  # a car park (road)
        ("paved_other", "onbegroeidterreindeel:gesloten verharding", None, rect(400, 0, 800, 5)),  # 2000 m2 strip
        ("paved_other", "onbegroeidterreindeel:gesloten verharding", None, rect(0, 100, 20, 120)),  # 400 m2
        ("building", "pand", None, rect(300, 100, 320, 120)),  # B2
        ("building", "pand", None, rect(400, 100, 420, 120)),  # B3
        ("green_low", "begroeidterreindeel:grasland overig", None, rect(500, 100, 600, 200)),
    ]
    return gpd.GeoDataFrame(
        {"class": [r[0] for r in rows], "source_class": [r[1] for r in rows],
         "source_id": [f"lc{i}" for i in range(len(rows))], "public": [True, False, False, False, True, True, True,
                                                                         True, False, False, True],
         "function": [r[2] for r in rows]},
        geometry=[r[3] for r in rows], crs=RD)


def buildings() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ["B1", "B2", "B3"], "status": "Pand in gebruik", "year": 1960},
                            geometry=[rect(150.5, 0, 170, 40), rect(300, 100, 320, 120), rect(400, 100, 420, 120)],
                            crs=RD)


def addresses() -> gpd.GeoDataFrame:
    rows = [("a1", "B1", "woonfunctie", pt(155, 10)), ("a2", "B1", "woonfunctie", pt(160, 10)),
            ("a3", "B1", "woonfunctie", pt(165, 10)), ("a4", "B2", "woonfunctie", pt(310, 110)),
            ("a5", "B3", "winkelfunctie,woonfunctie", pt(405, 110)), ("a6", "B3", "winkelfunctie", pt(415, 110))]
    return gpd.GeoDataFrame({"id": [r[0] for r in rows], "building_id": [r[1] for r in rows],
                             "use": [r[2] for r in rows], "status": IN_USE},
                            geometry=[r[3] for r in rows], crs=RD)


def occupancy() -> pd.DataFrame:
    """On 2026-01-01: a1 vacant since 2020-01-01 (> 3 years), a2 since 2025-06-01 (< 1 year), a3 occupied;
    a4 since 2024-01-01 (1-3 years); a5 since 2018-03-01 (> 3 years, woonfunctie first); a6 since 2019-01-01."""
    rows = [("a1", "2000-01-01", "2020-01-01"), ("a2", "2010-01-01", "2025-06-01"), ("a3", "2010-01-01", None),
            ("a4", "2001-01-01", "2024-01-01"), ("a5", "2001-01-01", "2018-03-01"),
            ("a6", "2005-01-01", "2019-01-01")]
    return pd.DataFrame(rows, columns=["address_id", "since", "until"]).assign(registration="resident")


def test_paved_plots_without_building_by_hand() -> None:
    result = run_in_memory(PLOTS_LAYER, {"landcover": landcover(), "buildings": buildings()}, BOUNDS, crs=RD)
    plots = result.vectors["paved-plots"]
    assert len(plots) == 1
    row = plots.iloc[0]
    assert row["area_m2"] == 2800.0 and row["wide_area_m2"] == 2800.0
    assert row["source_classes"] == "onbegroeidterreindeel:gesloten verharding, onbegroeidterreindeel:open verharding"
    assert row["public_pct"] == pytest.approx(100 * 2000 / 2800, abs=0.05)
    assert plots.geometry.iloc[0].symmetric_difference(rect(0, 0, 70, 40)).area < 1e-6
    counts = result.metadata["log"]["counts"]
    assert counts["paved_other_road_parts"] == 2 and counts["paved_plots_with_building"] == 1
    assert counts["paved_plots_too_small_or_narrow"] == 2


def test_plot_parameters() -> None:
    src = {"landcover": landcover(), "buildings": buildings()}
    # Without the width rule the 5 m strip (2000 m2) is a plot too; a 2 m building gap takes nothing more.
    no_width = run_in_memory(PLOTS_LAYER, src, BOUNDS, crs=RD, params={"min_width_m": 0.0}).vectors["paved-plots"]
    assert sorted(no_width["area_m2"]) == [2000.0, 2800.0]
    # With a gap below 0.5 m the yard of B1 no longer carries it: a 2000 m2 plot.
    tight = run_in_memory(PLOTS_LAYER, src, BOUNDS, crs=RD, params={"building_gap_m": 0.4}).vectors["paved-plots"]
    assert sorted(tight["area_m2"]) == [2000.0, 2800.0]
    big = run_in_memory(PLOTS_LAYER, src, BOUNDS, crs=RD, params={"min_area_m2": 3000.0}).vectors["paved-plots"]
    assert big.empty


def test_structural_vacancy_per_building_by_hand() -> None:
    result = run_in_memory(VACANT_LAYER, {"buildings": buildings(), "addresses": addresses(),
                                          "occupancy": occupancy()}, BOUNDS, crs=RD,
                           params={"reference_date": REFERENCE})
    table = result.vectors["vacant-buildings"].set_index("building_id")
    assert list(table.index) == ["B1", "B3"]  # B2's vacancy is 1-3 years: not structural
    b1, b3 = table.loc["B1"], table.loc["B3"]
    assert (b1["addresses_in_use"], b1["vacant"], b1["structural_vacant"]) == (3, 2, 1)
    assert (b1["structural_woonfunctie"], b1["vacant_since_earliest"]) == (1, "2020-01-01")
    assert (b3["structural_vacant"], b3["structural_woonfunctie"], b3["structural_winkelfunctie"]) == (2, 1, 1)
    assert b3["vacant_since_earliest"] == "2018-03-01"
    assert table.geometry.loc["B1"].equals(rect(150.5, 0, 170, 40))
    two = run_in_memory(VACANT_LAYER, {"buildings": buildings(), "addresses": addresses(), "occupancy": occupancy()},
                        BOUNDS, crs=RD, params={"reference_date": REFERENCE, "min_structural": 2})
    assert list(two.vectors["vacant-buildings"]["building_id"]) == ["B3"]


def test_the_vacant_layer_is_always_internal() -> None:
    with pytest.raises(ConfigError, match="always internal"):
        VACANT_LAYER.resolve_access({"access": "public"}, "layers.housing-opportunities-vacant")
    assert PLOTS_LAYER.resolve_access({}, "layers.housing-opportunities") == "public"


# --- built and served --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("opportunities")
    landcover().to_file(folder / "landcover.gpkg", layer="landcover", driver="GPKG")
    buildings().to_file(folder / "buildings.gpkg", driver="GPKG")
    addresses().to_file(folder / "addresses.gpkg", driver="GPKG")
    occupancy().to_csv(folder / "occupancy.csv", index=False)
    config = folder / "kaartlaag.yaml"
    config.write_text(textwrap.dedent(f"""\
        region: {{name: Proefdorp, crs: "EPSG:28992"}}
        catalog: ./catalog
        sources:
          landcover: {{path: landcover.gpkg, layer: landcover}}
          buildings: {{path: buildings.gpkg}}
          addresses: {{path: addresses.gpkg}}
          occupancy: {{path: occupancy.csv}}
        layers:
          housing-opportunities-vacant: {{reference_date: "{REFERENCE}"}}
        """))
    build(load_config(config), ["housing-opportunities", "housing-opportunities-vacant"], console=Console(quiet=True))
    root = folder / "catalog"
    return {"root": root, "client": TestClient(create_app(ServerSettings(catalog=root))),
            "key": create_key(root, "wonen-intern")}


def _tile(zoom: int) -> tuple[int, int]:
    """The Web Mercator tile holding the plot (XYZ)."""
    lon, lat = Transformer.from_crs(RD, "EPSG:4326", always_xy=True).transform(X0 + 160, Y0 + 20)
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _urls(root: Path, layer: str) -> list[str]:
    entry = cat.read_catalog(root).layers[layer]
    x, y = _tile(16)
    parquet = next(f.name for f in entry.files if f.format == "parquet")
    return [f"/layers/{layer}", f"/layers/{layer}/v/{entry.version}", f"/layers/{layer}/tilejson.json",
            f"/layers/{layer}/style.json", f"/layers/{layer}/legend.json", f"/layers/{layer}/tiles/16/{x}/{y}.mvt",
            f"/layers/{layer}.pmtiles", f"/layers/{layer}/export.gpkg", f"/layers/{layer}/download/{parquet}"]


def test_internal_layer_is_404_without_a_key_everywhere(served: dict) -> None:
    client, root = served["client"], served["root"]
    assert cat.read_catalog(root).layers["housing-opportunities-vacant"].access == "internal"
    for headers in ({}, {"Authorization": "Bearer kl_wrong"}):
        listed = {e["id"] for e in client.get("/layers", headers=headers).json()}
        assert "housing-opportunities-vacant" not in listed and "housing-opportunities" in listed
        assert "housing-opportunities-vacant" not in client.get("/wmts/WMTSCapabilities.xml", headers=headers).text
        assert "housing-opportunities-vacant" not in client.get("/", headers=headers).text
        for url in _urls(root, "housing-opportunities-vacant"):
            assert client.get(url, headers=headers).status_code == 404, (url, headers)
    for url in _urls(root, "housing-opportunities"):
        assert client.get(url).status_code in (200, 204), url


def test_internal_layer_with_a_key_carries_the_buildings(served: dict, tmp_path: Path) -> None:
    client, root = served["client"], served["root"]
    headers = {"Authorization": f"Bearer {served['key']}"}
    for url in _urls(root, "housing-opportunities-vacant"):
        assert client.get(url, headers=headers).status_code in (200, 204), url
    entry = cat.read_catalog(root).layers["housing-opportunities-vacant"]
    parquet = next(f.name for f in entry.files if f.format == "parquet")
    resp = client.get(f"/layers/housing-opportunities-vacant/download/{parquet}", headers=headers)
    path = tmp_path / parquet
    path.write_bytes(resp.content)
    table = gpd.read_parquet(path)
    assert sorted(table["building_id"]) == ["B1", "B3"]
    assert table.set_index("building_id").loc["B3", "structural_vacant"] == 2


def test_public_plots_carry_no_address_ids(served: dict, tmp_path: Path) -> None:
    client = served["client"]
    path = tmp_path / "plots.gpkg"
    path.write_bytes(client.get("/layers/housing-opportunities/export.gpkg").content)
    plots = gpd.read_file(path)
    assert len(plots) == 1
    ids = set(addresses()["id"]) | set(buildings()["id"])
    for col in plots.columns.drop("geometry"):
        assert not ids & set(plots[col].astype(str)), col
    metadata = client.get("/layers/housing-opportunities").text
    assert not any(f'"{i}"' in metadata for i in addresses()["id"])
