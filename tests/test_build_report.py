"""Build reports: every build writes one self-contained Dutch HTML report per layer, with its plots.

The two builds of ``two_versions`` (tests/conftest.py) turn half of buurt West from green into paving:
West's green_pct moves by -50 points, beyond the default bound of 10, so the second report flags it.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from layers import catalog as cat
from services.app import create_app
from services.settings import ServerSettings


def _catalog(config: Path) -> cat.Catalog:
    return cat.read_catalog(config.parent / "catalog")


def _report(config: Path, version: cat.VersionEntry) -> str:
    return (config.parent / "catalog" / version.path / "report.html").read_text(encoding="utf-8")


def test_report_renders_with_its_plots(two_versions: Path) -> None:
    entry = _catalog(two_versions).layers["green-paved"]
    html = _report(two_versions, entry.versions[-1])
    assert html.startswith("<!doctype html>") and 'lang="nl"' in html
    assert f"versie <b>{entry.version}</b>" in html and entry.versions[0].version in html
    assert "Samenvatting" in html and "Invoer" in html and "Waarschuwingen" in html
    # Self-contained: every image inline, nothing fetched from elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    images = re.findall(r'<img class="(kaart|histogram)" src="data:image/png;base64,([^"]+)"', html)
    assert [kind for kind, _ in images] == ["kaart", "histogram"]
    picture = Image.open(io.BytesIO(base64.b64decode(images[0][1])))
    assert picture.format == "PNG" and picture.width > 200 and picture.height > 200
    # The map is a choropleth: more than two colours (three buurten, a colour bar).
    assert len(picture.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 10
    # The change: West moved most on green_pct (-50 points) and is flagged; the unchanged buurten are not.
    assert "BU00010001" in html and "-50,00" in html
    assert "grote verandering" in html
    flags = entry.metadata["change_flags"]
    assert {(f["code"], f["figure"]) for f in flags} >= {("BU00010001", "green_pct"), ("BU00010001", "paved_pct")}
    assert all(f["code"] == "BU00010001" for f in flags if f["figure"] in ("green_pct", "paved_pct"))
    assert not any(f["code"] in ("BU00010002", "BU00020001") for f in flags)
    assert any(f["code"] == "GM0001" for f in flags) is False  # buurten only
    file = entry.file("build-report", "metadata")
    assert file.media_type.startswith("text/html") and file.bytes == len(html.encode("utf-8"))


def test_first_report_has_no_comparison(two_versions: Path) -> None:
    entry = _catalog(two_versions).layers["green-paved"]
    html = _report(two_versions, entry.versions[0])
    assert "Eerste versie" in html and "grote verandering" not in html


def test_report_linked_and_served(two_versions: Path) -> None:
    client = TestClient(create_app(ServerSettings(catalog=two_versions.parent / "catalog")))
    links = client.get("/layers/green-paved").json()["links"]
    assert links["report"].endswith("/layers/green-paved/report.html")
    answer = client.get("/layers/green-paved/report.html")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "Bouwrapport" in answer.text
    assert "/layers/green-paved/report.html" in client.get("/").text
    old = _catalog(two_versions).layers["green-paved"].versions[0].version
    assert "Eerste versie" in client.get(f"/layers/green-paved/v/{old}/report.html").text


def test_layers_command_shows_the_flags(two_versions: Path) -> None:
    from typer.testing import CliRunner

    from services.cli import app

    run = CliRunner().invoke(app, ["layers", "--catalog", str(two_versions.parent / "catalog")])
    assert run.exit_code == 0, run.output
    line = next(s for s in run.output.splitlines() if "green-paved" in s)
    assert re.search(r"\d+ zone change\(s\) beyond bound", line)


def test_bound_is_configurable(tmp_path: Path) -> None:
    from layers.config import parse_config

    cfg = parse_config({"region": {"name": "x"}, "monitoring": {"change_bound_pct": 60,
                                                                "change_bounds": {"uhi_max_p95_k": 0.5}}}, tmp_path)
    assert cfg.monitoring.bound_for("green_pct") == 60
    assert cfg.monitoring.bound_for("uhi_max_p95_k") == 0.5
    assert cfg.monitoring.bound_for("dwellings") is None
    from geo.errors import ConfigError

    with pytest.raises(ConfigError, match=r"monitoring\.change_bound: unknown key"):
        parse_config({"region": {"name": "x"}, "monitoring": {"change_bound": 5}}, tmp_path)


def test_suppressed_cells_render(tmp_path: Path) -> None:
    """A disclosure-controlled table (nullable counts with NA, as the vacancy layer publishes) renders."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from layers.build_report import ReportInputs, render_report, zone_table_output

    table = gpd.GeoDataFrame(
        {"code": ["BU1", "BU2"], "name": ["a", "b"], "vacant": pd.array([3, None], dtype="Int64"),
         "vacant_pct": pd.array([10.0, None], dtype="Float64")},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)], crs="EPSG:28992")
    assert zone_table_output({"buurten": table}) == "buurten"
    entry = cat.LayerEntry(id="vacancy", title={"nl": "Leegstand"}, description={}, kind="vector",
                           version="20261201T000000Z-00000000", built_at="2026-12-01T00:00:00Z", key="k",
                           code_version="1", inputs={}, parameters={}, bounds={}, crs="EPSG:28992",
                           access="public", style_id="vacancy", minzoom=10, maxzoom=16, files=[])
    html, flags = render_report(tmp_path, entry, None, table, None, [], ReportInputs("x"), "buurten")
    assert 'class="kaart"' in html and 'class="histogram"' in html and flags == []
