"""Freshness: registry dates read from the real BGT and BAG deliveries, ages, staleness, each layer's oldest source."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from geo.freshness import ahn_version, bag_extract_date, bgt_extract_date, cbs_year
from layers import catalog as cat
from layers.config import load_config
from layers.engine import build
from layers.source_ages import ages_now, oldest, source_dates
from services.app import create_app
from services.settings import ServerSettings
from tests.conftest import write_two_municipality_region


def test_bag_stand_date_from_the_real_deliveries(shared_data: Path) -> None:
    bag = shared_data / "bag-doesburg"
    delivery = bag_extract_date(bag / "BAGNLDL-15092020-small.zip")  # nested zips with a Leveringsdocument
    assert delivery.date == date(2020, 9, 15) and "Leveringsdocument-BAG-Extract.xml" in delivery.what
    pand = bag_extract_date(bag / "0221PND15092020.zip")  # the bagInfo header of the extract XML
    assert pand.date == date(2020, 9, 15) and "StandTechnischeDatum" in pand.what
    assert bag_extract_date(bag / "0221VBO15092020-000001.xml").date == date(2020, 9, 15)


def test_bag_date_read_from_the_content_not_the_name(tmp_path: Path, shared_data: Path) -> None:
    text = (shared_data / "bag-doesburg" / "0221VBO15092020-000001.xml").read_text(encoding="utf-8")
    renamed = tmp_path / "vbo.xml"
    renamed.write_text(text.replace("2020-09-15</selecties-extract:StandTechnischeDatum>",
                                    "2023-01-02</selecties-extract:StandTechnischeDatum>"), encoding="utf-8")
    assert bag_extract_date(renamed).date == date(2023, 1, 2)


def test_bgt_extract_date_from_the_real_delivery(shared_data: Path) -> None:
    found = bgt_extract_date(shared_data / "bgt-otterlo" / "otterlo.zip")
    assert found.date == date(2020, 8, 5)  # when PDOK wrote the extract's GML members
    assert found.latest_change == date(2020, 7, 28)  # the latest LV-publicatiedatum of its objects
    assert bgt_extract_date(shared_data / "bgt-delft").date == date(2016, 6, 7)  # a database: lv_publicatiedatum


def test_bgt_folder_of_gml_uses_publication_dates(tmp_path: Path, shared_data: Path) -> None:
    with zipfile.ZipFile(shared_data / "bgt-otterlo" / "otterlo.zip") as archive:
        (tmp_path / "bgt_bak.gml").write_bytes(archive.read("bgt_bak.gml"))
    found = bgt_extract_date(tmp_path)
    assert found.date is not None and found.date == found.latest_change
    assert found.date <= date(2020, 8, 5)


def test_ahn_and_cbs(shared_data: Path) -> None:
    ahn = ahn_version([shared_data / "ahn3-delft" / "ahn3_cropped_1.laz"])
    assert (ahn.version, ahn.year, ahn.date) == ("AHN3", 2014, date(2014, 3, 4))
    assert ahn_version([Path("dsm_ahn4.tif")]).year == 2022  # no header: the end of the AHN4 acquisition
    assert cbs_year("wijkenbuurten_2023.gpkg").date == date(2023, 1, 1)
    assert cbs_year("buurten.gpkg", "buurt_2017_v3").year == 2017
    assert cbs_year("buurten.gpkg").date is None


def _config(folder: Path, shared_data: Path, limit: int) -> Path:
    config = write_two_municipality_region(folder)
    text = config.read_text().replace(
        "sources:\n", f"sources:\n  bag: {{path: {shared_data / 'bag-doesburg' / 'BAGNLDL-15092020-small.zip'}}}\n"
    ).replace("  buildings: {path: buildings.gpkg}\n", "")
    config.write_text(text + f"monitoring: {{stale_after_days: {limit}, stale_after: {{landcover: 99999}}}}\n")
    return config


def test_ages_and_staleness(tmp_path: Path, shared_data: Path) -> None:
    cfg = load_config(_config(tmp_path / "region", shared_data, 1000))
    dates = source_dates(cfg, ["buildings", "addresses", "landcover"], today=date(2021, 9, 15))
    assert dates["buildings"]["provider"] == "bag" and dates["buildings"]["date"] == "2020-09-15"
    assert dates["buildings"]["age_days"] == 365 and dates["buildings"]["stale"] is False
    assert dates["landcover"]["date"] is None and dates["landcover"]["stale"] is False
    later = source_dates(cfg, ["buildings"], today=date(2023, 9, 15))
    assert later["buildings"]["age_days"] == 1095 and later["buildings"]["stale"] is True
    assert oldest(dates)["source"] in ("addresses", "buildings")
    assert ages_now(dates, date(2024, 9, 15))["buildings"]["stale"] is True


def test_check_overview_and_layer_oldest_source(tmp_path: Path, shared_data: Path) -> None:
    config = _config(tmp_path / "region", shared_data, 30)
    run = subprocess.run([sys.executable, "-m", "services.cli", "check", "--config", str(config)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    line = next(s for s in run.stdout.splitlines() if s.strip(" │").startswith("addresses") and "2020-09-15" in s)
    assert "stale" in line and "StandTechnischeDatum" in line
    assert "oldest source:" in run.stdout
    build(load_config(config), ["green-paved"], console=Console(file=io.StringIO()))
    entry = cat.read_catalog(tmp_path / "region" / "catalog").layers["green-paved"]
    assert entry.metadata["oldest_source"]["source"] == "buildings"  # BAG buildings feed the canopy mask
    assert entry.metadata["source_dates"]["buildings"]["stale"] is True
    page = TestClient(create_app(ServerSettings(catalog=tmp_path / "region" / "catalog"))).get("/").text
    assert "Oudste bron: <span class=\"oudste\">buildings (bag) van 2020-09-15" in page
    assert "verouderd" in page
    report = (tmp_path / "region" / "catalog" / entry.versions[-1].path / "report.html").read_text()
    assert "2020-09-15" in report and "verouderd" in report


@pytest.mark.parametrize("bad", ["stale_after_days: 0", "stale_after: {bag: -1}", "stale_days: 5"])
def test_monitoring_config_checked(tmp_path: Path, bad: str) -> None:
    from geo.errors import ConfigError

    config = write_two_municipality_region(tmp_path / "region")
    config.write_text(config.read_text() + f"monitoring: {{{bad}}}\n")
    with pytest.raises(ConfigError, match="monitoring"):
        load_config(config)
