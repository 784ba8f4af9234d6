"""Layer green-paved: hand-built quadrants, the real BGT sample of Otterlo through the engine, bad input."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rich.console import Console
from shapely.geometry import Point, box

from geo.report import AdapterResult
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from layers.extent import run_in_memory
from layers.green_paved import LAYER, SHARES
from tests.conftest import ORIGIN, SIZE_M, otterlo_copy, small_landcover

RD = CRS.from_epsg(28992)
X0, Y0 = ORIGIN
FIVE = [s for s in SHARES if s != "canopy_pct"]


def run(sources: dict[str, Any], bounds: tuple[float, float, float, float] | None = None, **params: Any) -> Any:
    given = {p.name: p.default for p in LAYER.params} | {"raster_resolution_m": 10.0} | params
    return run_in_memory(LAYER, sources, bounds or (X0, Y0, X0 + SIZE_M, Y0 + SIZE_M), crs=RD, params=given,
                         name="Proefdorp", ctx=BuildContext(workers=1, chunk_size=64))


def halves() -> gpd.GeoDataFrame:
    """West half (building + green) and east half (road + water) of the 200 m test square."""
    return gpd.GeoDataFrame(
        {"code": ["BU01", "BU02"], "name": ["West", "Oost"]},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 200), box(X0 + 100, Y0, X0 + 200, Y0 + 200)],
        crs=RD,
    )


def trees(points: list[tuple[float, float]], crowns: list[float | None]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"t{i}" for i in range(len(points))], "crown_diameter_m": crowns},
        geometry=[Point(X0 + x, Y0 + y) for x, y in points],
        crs=RD,
    )


def test_shares_of_hand_built_quadrants() -> None:
    # A 10 m crown over the building (private land), one without a crown (6 m default) over the
    # green (public), and one outside the region that is ignored.
    sources = {
        "landcover": small_landcover(),
        "neighbourhoods": halves(),
        "trees": trees([(50, 150), (50, 50), (-500, -500)], [10.0, None, 8.0]),
    }
    out = run(sources)
    table = out.vectors["neighbourhoods"].set_index("code")
    west, east = table.loc["BU01"], table.loc["BU02"]
    assert west[FIVE].tolist() == [50.0, 0.0, 50.0, 0.0, 0.0]
    assert east[FIVE].tolist() == [0.0, 50.0, 0.0, 50.0, 0.0]
    assert west["area_m2"] == 20_000 and west["mapped_pct"] == 100
    assert west["canopy_pct"] == pytest.approx(round((25 + 9) * math.pi / 20_000 * 100, 2))
    # Public land in the west is the green quadrant, private land the building.
    assert west["public_pct"] == 50 and east["public_pct"] == 100
    assert west["green_pct_public"] == 100 and west["building_pct_private"] == 100
    assert west["canopy_pct_private"] == pytest.approx(round(25 * math.pi / 10_000 * 100, 2))
    assert west["canopy_pct_public"] == pytest.approx(round(9 * math.pi / 10_000 * 100, 2))
    assert np.isnan(east["building_pct_private"])  # the east half has no private land
    counts = out.metadata["log"]["counts"]
    # The far tree lies beyond the reach of trees (the largest crown radius): it is not even read.
    assert counts["trees"] == 2 and counts["trees_default_crown"] == 1


def test_crown_of_a_tree_beyond_the_edge_reaches_in() -> None:
    """A tree 3 m outside the region with a 10 m crown: the part of the crown inside counts (reach of trees)."""
    sources = {"landcover": small_landcover(), "neighbourhoods": halves(),
               "trees": trees([(-3, 100)], [10.0])}
    table = run(sources).vectors["neighbourhoods"].set_index("code")
    # Circle segment of radius 5 beyond a chord 3 m from the centre: r^2 acos(d/r) - d sqrt(r^2 - d^2).
    inside = 25 * math.acos(3 / 5) - 3 * 4
    assert table.loc["BU01", "canopy_pct"] == pytest.approx(round(inside / 20_000 * 100, 2), abs=0.006)


def test_unpaved_road_counts_as_bare_and_shares_sum_to_100() -> None:
    landcover = small_landcover()
    landcover.loc[landcover["class"] == "road_paved", "class"] = "road_unpaved"
    out = run({"landcover": landcover, "neighbourhoods": halves()})
    table = out.vectors["neighbourhoods"].set_index("code")
    assert table.loc["BU02", "bare_pct"] == 50 and table.loc["BU02", "paved_pct"] == 0
    assert np.allclose(table[FIVE].sum(axis=1), 100.0)
    assert table["canopy_pct"].isna().all()  # no tree source
    assert "no tree source" in " ".join(out.metadata["log"]["notes"])


def test_display_raster_bands() -> None:
    out = run({"landcover": small_landcover(), "neighbourhoods": halves(), "trees": trees([(50, 150)], [10.0])})
    raster = out.rasters["fractions"]
    assert raster.band_names == SHARES and raster.units == ("%",) * 6
    assert raster.data.shape == (6, 20, 20)
    assert np.allclose(raster.data[:5].sum(axis=0), 100.0)
    # Top-left cell: building quadrant; bottom-right: water.
    assert raster.band("building_pct")[0, 0] == 100 and raster.band("water_pct")[-1, -1] == 100
    # The crown's area (25 pi m2) is spread over the cells around it.
    assert raster.band("canopy_pct").sum() == pytest.approx(25 * math.pi, rel=0.02)


def test_buurt_partly_outside_the_region_is_clipped_and_counted() -> None:
    buurten = halves()
    buurten.loc[1, "geometry"] = box(X0 + 100, Y0, X0 + 300, Y0 + 200)
    out = run({"landcover": small_landcover(), "neighbourhoods": buurten})
    table = out.vectors["neighbourhoods"].set_index("code")
    assert table.loc["BU02", "area_m2"] == 20_000
    assert table.loc["BU01", "area_m2"] == 20_000  # the buurt inside stays whole


@pytest.fixture(scope="module")
def otterlo_bgt(otterlo_bgt_read: AdapterResult) -> gpd.GeoDataFrame:
    return otterlo_copy(otterlo_bgt_read, "landcover")


def test_otterlo_bgt_builds_and_class_areas_equal_the_bgt_polygons(
    shared_data: Path, otterlo_bgt: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # CBS buurten do not cover the sample: one hand-made buurt around the whole land cover.
    buurt = gpd.GeoDataFrame(
        {"code": ["BU02280000"], "name": ["Otterlo (proef)"]}, geometry=[box(*otterlo_bgt.total_bounds)], crs=RD
    )
    buurt.to_file(tmp_path / "buurt.gpkg", driver="GPKG")
    config = tmp_path / "kaartlaag.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            region: {{name: Otterlo, crs: "EPSG:28992"}}
            catalog: ./catalog
            sources:
              bgt: {{path: {shared_data / "bgt-otterlo" / "otterlo.zip"}}}
              neighbourhoods: {{path: buurt.gpkg}}
            layers:
              green-paved: {{raster_resolution_m: 20.0}}
            """
        )
    )
    summary = build(load_config(config), ["green-paved"], console=Console(quiet=True))
    assert summary.built == ["green-paved"]
    entry = json.loads((tmp_path / "catalog" / "catalog.json").read_text())["layers"]["green-paved"]
    per_class = entry["metadata"]["area_m2_per_class"]
    expected = otterlo_bgt.geometry.area.groupby(otterlo_bgt["class"]).sum()
    assert set(expected.index) <= set(per_class)
    for cls, area in expected.items():
        assert per_class[cls] == pytest.approx(area, abs=0.01), cls
    files = {f["output"]: tmp_path / "catalog" / f["path"] for f in entry["files"]}
    table = gpd.read_parquet(files["neighbourhoods"])
    assert table[FIVE].sum(axis=1).iloc[0] == pytest.approx(100.0, abs=0.1)
    # 2,088 BGT trees without crown diameter: all take the default.
    assert entry["metadata"]["log"]["counts"]["trees_default_crown"] == entry["metadata"]["log"]["counts"]["trees"]
    assert entry["parameter_info"]["default_crown_diameter_m"]["unit"] == "m"
    with rasterio.open(files["fractions"]) as ds:
        assert ds.count == 6 and ds.descriptions == SHARES and set(ds.units) == {"%"}


def test_delft_ahn3_laz_and_bgt_database_give_the_ahn_canopy(delft_catalog: Path) -> None:
    # The session's Delft catalog: BGT database, both AHN3 LAZ tiles, one buurt over the campus the BGT maps.
    root = delft_catalog
    entry = json.loads((root / "catalog.json").read_text())["layers"]["green-paved"]
    assert entry["metadata"]["canopy_source"] == "ahn"
    files = {f["output"]: root / f["path"] for f in entry["files"] if f["format"] == "cog"}
    table = gpd.read_parquet(root / next(
        f["path"] for f in entry["files"] if f["output"] == "neighbourhoods" and f["path"].endswith(".parquet")))
    # Recorded figure (docs/method-canopy.md): the canopy of the BGT-mapped campus tiles.
    canopy_pct = float(table["canopy_pct"].iloc[0])
    assert 8.0 < canopy_pct < 20.0
    with rasterio.open(files["canopy"]) as ds:
        height = ds.read(1)
        assert ds.res == (0.5, 0.5) and ds.descriptions == ("canopy_height_m",)
    assert np.nanmin(height) >= 2.5
    # The published 0.5 m cells inside the buurt are the canopy share of the table.
    assert "vegetation" in entry["inputs"]
