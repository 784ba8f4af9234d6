"""Bad input and killed builds never damage what is published."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import Polygon

from tests.conftest import ORIGIN, write_small_region

CLI = [sys.executable, "-m", "services.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, check=False, timeout=300)


def _snapshot(root: Path) -> dict[str, str]:
    """Hash of catalog.json and of every file it lists."""
    catalog = json.loads((root / "catalog.json").read_text())
    out = {"catalog.json": hashlib.sha256((root / "catalog.json").read_bytes()).hexdigest()}
    for entry in catalog["layers"].values():
        for f in entry["files"]:
            out[f["path"]] = hashlib.sha256((root / f["path"]).read_bytes()).hexdigest()
            assert out[f["path"]] == f["sha256"], f"{f['path']} differs from its catalog checksum"
    return out


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-built region built once through the CLI (every layer its sources allow)."""
    config = write_small_region(tmp_path_factory.mktemp("published") / "region")
    done = _run("build", "--config", config)
    assert done.returncode == 0, done.stderr
    return config


@pytest.fixture
def published(published_once: Path, tmp_path: Path) -> Path:
    """A private copy (sources, config and catalog) of ``published_once``, for one test to break."""
    folder = tmp_path / "region"
    shutil.copytree(published_once.parent, folder)
    return folder / published_once.name


def _add_source(config: Path, line: str) -> None:
    config.write_text(config.read_text().replace("sources:\n", f"sources:\n  {line}\n"))


def test_truncated_zip_fails_cleanly(published: Path, shared_data: Path) -> None:
    root = published.parent / "catalog"
    before = _snapshot(root)
    truncated = published.parent / "bgt.zip"
    data = (shared_data / "bgt-otterlo" / "otterlo.zip").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    # BGT feeds landcover, so every layer must be rebuilt from the broken zip.
    published.write_text(
        published.read_text()
        .replace("  landcover: {path: landcover.gpkg, layer: landcover}\n", "")
        .replace("sources:\n", "sources:\n  bgt: {path: bgt.zip}\n")
    )
    done = _run("build", "--config", published)
    assert done.returncode == 1
    assert "bgt.zip" in done.stderr and "Traceback" not in done.stderr
    assert _snapshot(root) == before


def test_unrepairable_polygon_names_feature(published: Path) -> None:
    root = published.parent / "catalog"
    before = _snapshot(root)
    frame = gpd.read_file(published.parent / "landcover.gpkg")
    x0, y0 = ORIGIN
    # A ring that folds back on itself along one line: invalid, and no area to repair into.
    frame.loc[len(frame)] = [
        "bare",
        "test:bare",
        "broken-1",
        False,
        Polygon([(x0, y0), (x0 + 10, y0), (x0 + 5, y0), (x0, y0)]),
    ]
    frame.to_file(published.parent / "landcover.gpkg", layer="landcover", driver="GPKG")
    done = _run("build", "--config", published)
    assert done.returncode == 1, done.stdout
    assert "landcover.gpkg" in done.stderr and "broken-1" in done.stderr
    assert _snapshot(root) == before


def test_csv_without_coordinates(published: Path) -> None:
    (published.parent / "bomen.csv").write_text("id,kroondiameter\n1,5\n2,7\n")
    _add_source(
        published, "trees: {path: bomen.csv, columns: {crown_diameter_m: kroondiameter}, crs: 'EPSG:28992'}"
    )
    done = _run("check", "--config", published)
    assert done.returncode == 1
    assert "bomen.csv" in done.stderr and "no coordinates" in done.stderr


def test_raster_without_crs(published: Path) -> None:
    path = published.parent / "dsm.tif"
    profile = {
        "driver": "GTiff",
        "width": 4,
        "height": 4,
        "count": 1,
        "dtype": "float32",
        "transform": Affine(0.5, 0, ORIGIN[0], 0, -0.5, ORIGIN[1] + 2),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 4, 4), dtype="float32"))
    _add_source(published, "dsm: {path: dsm.tif}")
    done = _run("check", "--config", published)
    assert done.returncode == 1
    assert "dsm.tif" in done.stderr and "no CRS" in done.stderr


def test_config_typo_leaves_catalog(published: Path) -> None:
    root = published.parent / "catalog"
    before = _snapshot(root)
    published.write_text(published.read_text().replace("raster_resolution_m", "raster_resolutoin_m"))
    done = _run("build", "--config", published)
    assert done.returncode == 2
    assert "layers.landcover.raster_resolutoin_m: unknown parameter" in done.stderr
    assert _snapshot(root) == before


def test_kill_9_during_publish_keeps_previous_version(published: Path) -> None:
    root = published.parent / "catalog"
    before = _snapshot(root)
    staging = root / ".staging"
    killed_while_staging = False
    for _attempt in range(3):
        proc = subprocess.Popen(
            [*CLI, "build", "--force", "--config", str(published)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if staging.exists() and any(p.is_file() for p in staging.rglob("*")):
                os.kill(proc.pid, signal.SIGKILL)
                killed_while_staging = True
                break
            time.sleep(0.005)
        proc.wait()
        if killed_while_staging:
            break
    assert killed_while_staging, "the build finished before it could be killed while writing"
    # Readers follow catalog.json: it is unchanged and every file it lists is complete.
    assert _snapshot(root) == before
    # The next build cleans up and publishes.
    done = _run("build", "--force", "--config", published)
    assert done.returncode == 0, done.stderr
    assert not any(staging.iterdir())
    after = json.loads((root / "catalog.json").read_text())
    assert all(len(e["versions"]) == 2 for e in after["layers"].values())


def test_concurrent_build_is_refused(published: Path) -> None:
    from geo.errors import PublishError
    from layers.catalog import catalog_lock

    root = published.parent / "catalog"
    with catalog_lock(root), pytest.raises(PublishError, match="another build"), catalog_lock(root):
        pass
    assert zipfile  # imported for the truncated-zip test
