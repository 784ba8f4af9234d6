"""Region config validation: every bad key is named by its path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geo.errors import ConfigError
from layers.config import EXAMPLE_CONFIG, load_config, parse_config


def _parse(data: dict) -> None:
    parse_config(data, Path("."), "test.yaml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"region": {"name": "X"}, "sources": {"bgt": {"pth": "a.zip"}}}, "sources.bgt.pth: unknown key"),
        ({"region": {"name": "X"}, "sourses": {}}, "sourses: unknown key"),
        ({"region": {"name": "X", "crs": "EPSG:999999"}}, "region.crs"),
        ({"sources": {}}, "region: required key is missing"),
        (
            {"region": {"name": "X"}, "sources": {"trees": {"path": "t.csv", "colums": {}}}},
            "sources.trees.colums: unknown key",
        ),
        ({"region": {"name": "X"}, "sources": {"bomen": {"path": "t.csv"}}}, "sources.bomen: unknown key"),
        (
            {"region": {"name": "X"}, "layers": {"landcover": {"raster_resolution": 1}}},
            "layers.landcover.raster_resolution: unknown parameter",
        ),
        ({"region": {"name": "X"}, "layers": {"landcovr": {}}}, "layers.landcovr: unknown layer"),
        (
            {"region": {"name": "X"}, "layers": {"landcover": {"raster_resolution_m": "fine"}}},
            "layers.landcover.raster_resolution_m: expected float",
        ),
        (
            {"region": {"name": "X"}, "layers": {"landcover": {"raster_resolution_m": 0}}},
            "layers.landcover.raster_resolution_m: 0.0 is below the minimum",
        ),
        ({"region": {"name": "X"}, "layers": {"basemap": {"access": "secret"}}}, "layers.basemap.access"),
        ({"region": {"name": "X"}, "sources": {"ahn": {}}}, "sources.ahn: give dsm and/or dtm"),
        (
            {"region": {"name": "X"}, "sources": {"dsm": {"path": "a.tif", "layer": "x"}}},
            "sources.dsm: a raster source",
        ),
        ({"region": {"name": "X"}, "keep_versions": 0}, "keep_versions"),
    ],
)
def test_bad_config_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(data)
    assert message in str(info.value)
    assert str(info.value).startswith("test.yaml")


def test_valid_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text(
        "region: {name: Otterlo}\nsources:\n  bgt: {path: data/bgt.zip}\n"
        "  trees: {path: /abs/bomen.csv, crs: 'EPSG:28992'}\n"
        "layers:\n  landcover:\n"
    )
    cfg = load_config(tmp_path / "k.yaml")
    assert cfg.resolve(cfg.sources.bgt.path) == tmp_path / "data" / "bgt.zip"
    assert cfg.resolve(cfg.sources.trees.path) == Path("/abs/bomen.csv")
    assert cfg.catalog_dir == (tmp_path / "catalog").resolve()
    assert cfg.layers == {"landcover": {}}
    assert cfg.crs.to_epsg() == 28992


def test_explicit_source_overrides_adapter() -> None:
    cfg = parse_config(
        {
            "region": {"name": "X"},
            "sources": {
                "bgt": {"path": "b.zip"},
                "bag": {"path": "bag.zip"},
                "trees": {"path": "t.csv"},
                "ahn": {"dtm": "dtm.tif"},
            },
        },
        Path("."),
    )
    providers = cfg.source_providers()
    assert providers["landcover"] == "bgt"
    assert providers["buildings"] == "bag"  # BAG footprints win over BGT pand
    assert providers["trees"] == "trees"  # explicit canonical source wins
    assert providers["dtm"] == "ahn"
    assert "dsm" not in providers  # only a DTM was given


def test_example_config_is_valid(tmp_path: Path) -> None:
    (tmp_path / "kaartlaag.yaml").write_text(EXAMPLE_CONFIG)
    cfg = load_config(tmp_path / "kaartlaag.yaml")
    assert cfg.region.name == "Otterlo"
    assert cfg.sources.bgt is not None


def test_cli_init_and_typo_exit_code(tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "services.cli"]
    done = subprocess.run([*exe, "init", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    again = subprocess.run([*exe, "init", str(tmp_path)], capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("region: {name: X}\nsources: {bgt: {pth: a.zip}}\n")
    run = subprocess.run([*exe, "build", "--config", str(bad)], capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert "sources.bgt.pth: unknown key" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "catalog").exists()
