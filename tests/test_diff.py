"""``kaartlaag diff``: two builds from inputs changed by hand give the expected per-zone and raster differences.

The second build turned the green quadrant (x0..x0+100, y0..y0+100, half of buurt West) into paved_other:
West goes from 50 % green / 0 % paved to 0 % / 50 %, GM0001 Aalst from 40 % / 0 % to 0 % / 40 %, and the
other buurten do not move. The display raster's green band drops by 100 points in that quadrant only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from geo.errors import NotFoundError
from layers import catalog as cat
from layers.diff import diff_versions, version_entry
from services.cli import app
from tests.conftest import ORIGIN


def _entry(config: Path) -> cat.LayerEntry:
    return cat.read_catalog(config.parent / "catalog").layers["green-paved"]


def test_per_zone_differences(two_versions: Path) -> None:
    entry = _entry(two_versions)
    first, second = (v.version for v in entry.versions)
    diff = diff_versions(two_versions.parent / "catalog", entry, first, second, rasters=False)
    table = diff.tables["neighbourhoods"].set_index("code")
    assert table.loc["BU00010001", "green_pct_from"] == pytest.approx(50.0)
    assert table.loc["BU00010001", "green_pct_to"] == pytest.approx(0.0)
    assert table.loc["BU00010001", "green_pct_delta"] == pytest.approx(-50.0)
    assert table.loc["BU00010001", "paved_pct_delta"] == pytest.approx(50.0)
    assert table.loc["BU00010001", "name"] == "West"
    assert table.loc[["BU00010002", "BU00020001"], "green_pct_delta"].tolist() == pytest.approx([0.0, 0.0])
    assert table.loc[["BU00010002", "BU00020001"], "paved_pct_delta"].tolist() == pytest.approx([0.0, 0.0])
    munis = diff.tables["municipalities"].set_index("code")
    assert munis.loc["GM0001", "green_pct_delta"] == pytest.approx(-40.0)
    assert munis.loc["GM0001", "paved_pct_delta"] == pytest.approx(40.0)
    assert munis.loc["GM0002", "paved_pct_delta"] == pytest.approx(0.0)


def test_cli_writes_tables_and_difference_cog(two_versions: Path, tmp_path: Path) -> None:
    entry = _entry(two_versions)
    first, second = (v.version for v in entry.versions)
    out = tmp_path / "diff"
    run = CliRunner().invoke(app, ["diff", "green-paved", "--from", first, "--to", second, "-o", str(out),
                                   "--config", str(two_versions)])
    assert run.exit_code == 0, run.output
    assert "BU00010001: -50.00" in run.output
    csv = pd.read_csv(out / "green-paved-neighbourhoods-change.csv")
    assert {"code", "name", "green_pct_from", "green_pct_to", "green_pct_delta"} <= set(csv.columns)
    assert "geometry" not in csv.columns
    gpkg = gpd.read_file(out / "green-paved-neighbourhoods-change.gpkg")
    assert gpkg.set_index("code").loc["BU00010001", "paved_pct_delta"] == pytest.approx(50.0)
    assert gpkg.geometry.area.sum() == pytest.approx(40_000.0)
    with rasterio.open(out / "green-paved-fractions-delta.tif") as ds:
        bands = list(ds.descriptions)
        green = ds.read(bands.index("green_pct_delta") + 1)
        paved = ds.read(bands.index("paved_pct_delta") + 1)
        x0, y0 = ORIGIN
        row, col = ds.index(x0 + 50, y0 + 50)  # in the changed quadrant
        row2, col2 = ds.index(x0 + 150, y0 + 150)  # the road quadrant, unchanged
        assert ds.tags()["from"] == first and ds.tags()["to"] == second
    assert green[row, col] == pytest.approx(-100.0) and paved[row, col] == pytest.approx(100.0)
    assert green[row2, col2] == pytest.approx(0.0)
    changed = np.isfinite(green) & (np.abs(green) > 0.01)
    assert changed.sum() == 100  # the 10 x 10 cells of 10 m in that quadrant


def test_bad_versions_are_named(two_versions: Path) -> None:
    entry = _entry(two_versions)
    with pytest.raises(NotFoundError, match=r"no kept version '20200101T000000Z-deadbeef'; kept: "):
        version_entry(two_versions.parent / "catalog", entry, "20200101T000000Z-deadbeef")
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", "diff", "green-paved", "--from", "nonsense",
         "--config", str(two_versions)], capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "no kept version 'nonsense'" in run.stderr
    assert version_entry(two_versions.parent / "catalog", entry, "previous").version == entry.versions[0].version


def test_published_change_layer_is_tiled_with_a_diverging_legend(two_versions: Path, tmp_path: Path) -> None:
    import shutil

    from fastapi.testclient import TestClient

    from services.app import create_app
    from services.settings import ServerSettings

    root = tmp_path / "catalog"
    shutil.copytree(two_versions.parent / "catalog", root)  # the session's catalog stays as it is
    run = CliRunner().invoke(app, ["diff", "green-paved", "--publish", "--catalog", str(root)])
    assert run.exit_code == 0, run.output
    assert "published green-paved-change" in run.output
    entry = cat.read_catalog(root).layers["green-paved-change"]
    assert entry.metadata["figure"] == "green_pct" and entry.depends == {"green-paved": _entry(two_versions).version}
    zones = gpd.read_parquet(root / entry.file("neighbourhoods", "vector").path).set_index("code")
    # West fell by 50 points: the class of the largest decrease; the others did not move: the middle class.
    assert zones.loc["BU00010001", "change_class"] == 0
    assert zones.loc[["BU00010002", "BU00020001"], "change_class"].tolist() == [3, 3]
    client = TestClient(create_app(ServerSettings(catalog=root)))
    legend = client.get("/layers/green-paved-change/legend.json", params={"output": "delta"}).json()
    colours = [item["colour"] for item in legend["items"]]
    assert len(colours) == 7 and colours[0] == "#542788" and colours[-1] == "#b35806"
    assert "vrijwel gelijk" in legend["items"][3]["label"]
    style = client.get("/layers/green-paved-change/style.json").text
    assert "change_class" in style and "#542788" in style
    tilejson = client.get("/layers/green-paved-change/tilejson.json")
    assert tilejson.status_code == 200
    x0, y0 = ORIGIN
    with rasterio.open(root / entry.file("delta", "raster").path) as ds:
        row, col = ds.index(x0 + 50, y0 + 50)
        assert ds.read(1)[row, col] == pytest.approx(-100.0)
        assert ds.descriptions[0] == "green_pct_delta"
