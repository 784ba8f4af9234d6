"""Layer heat-stress on a hand-built region, built through the engine."""

from __future__ import annotations

import contextlib
import hashlib
import math
import textwrap
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from rasterio.io import MemoryFile
from rich.console import Console
from shapely.geometry import box

from geo.errors import ConfigError, CRSError
from geo.heat import focal_fraction
from geo.uhi import CP_AIR_J_KG_K, RHO_AIR_KG_M3
from layers import catalog as cat
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from layers.heat_stress import SHADE_RASTERS
from tests.conftest import HEAT_REGION_CTX, ORIGIN, SIZE_M, small_landcover

DSM_RES = 0.5
TOWER_M = 30.0
NODATA = -9999.0
X0, Y0 = ORIGIN


def _dsm() -> np.ndarray:
    """Flat ground at 0 m NAP with a 30 m block around a 4 x 4 m courtyard, and a 5 x 5 m nodata hole."""
    n = round(SIZE_M / DSM_RES)
    dsm = np.zeros((n, n), dtype=np.float32)

    def cells(x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
        rows = slice(round((Y0 + SIZE_M - y1) / DSM_RES), round((Y0 + SIZE_M - y0) / DSM_RES))
        return rows, slice(round((x0 - X0) / DSM_RES), round((x1 - X0) / DSM_RES))

    dsm[cells(X0 + 20, X0 + 60, Y0 + 120, Y0 + 160)] = TOWER_M
    dsm[cells(X0 + 38, X0 + 42, Y0 + 138, Y0 + 142)] = 0.0  # the courtyard
    dsm[cells(X0 + 150, X0 + 155, Y0 + 60, Y0 + 65)] = NODATA
    return dsm


def _write_region(folder: Path, crs: str = "EPSG:28992") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    small_landcover().to_file(folder / "landcover.gpkg", layer="landcover", driver="GPKG")
    half = SIZE_M / 2
    gpd.GeoDataFrame(
        {"code": ["BU01", "BU02"], "name": ["West", "Oost"]},
        geometry=[box(X0, Y0, X0 + half, Y0 + SIZE_M), box(X0 + half, Y0, X0 + SIZE_M, Y0 + SIZE_M)],
        crs="EPSG:28992",
    ).to_file(folder / "buurten.gpkg", driver="GPKG")
    dsm = _dsm()
    transform = Affine(DSM_RES, 0, X0, 0, -DSM_RES, Y0 + SIZE_M)
    with rasterio.open(folder / "dsm.tif", "w", driver="GTiff", width=dsm.shape[1], height=dsm.shape[0], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=NODATA) as ds:
        ds.write(dsm, 1)
    config = folder / "kaartlaag.yaml"
    config.write_text(textwrap.dedent(
        """\
        region: {name: Proefdorp, crs: "EPSG:28992"}
        catalog: ./catalog
        sources:
          landcover: {path: landcover.gpkg, layer: landcover}
          neighbourhoods: {path: buurten.gpkg}
          dsm: {path: dsm.tif}
        """
    ))
    return config


@contextlib.contextmanager
def _both(uhi: Path, shade: Path) -> Iterator[rasterio.DatasetReader]:
    """The two single-band COGs as one two-band dataset (a GDAL VRT), for pixel look-ups by band."""
    with rasterio.open(uhi) as a, rasterio.open(shade) as b:
        assert a.transform == b.transform and a.shape == b.shape
        with MemoryFile() as mem:
            with mem.open(driver="GTiff", width=a.width, height=a.height, count=2, dtype="float32", crs=a.crs,
                          transform=a.transform, nodata=float("nan")) as out:
                out.write(a.read(1), 1)
                out.write(b.read(1), 2)
                out.descriptions = ("uhi_max", "shade_pct_1500")
                out.units = (a.units[0], b.units[0])
            with mem.open() as ds:
                yield ds


def _pixel(ds: rasterio.DatasetReader, band: int, x: float, y: float) -> float:
    row, col = ds.index(x, y)
    return float(ds.read(band)[row, col])


def test_heat_stress_on_a_hand_built_region(heat_region: tuple[Path, list[str]]) -> None:
    config, built = heat_region  # built with HEAT_REGION_CTX: two worker threads, 64-cell chunks
    assert built == ["heat-stress"]
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["heat-stress"]
    shades = {}
    for name in SHADE_RASTERS:
        with rasterio.open(root / entry.file(name, "raster").path) as ds:
            assert ds.res == (1.0, 1.0) and ds.count == 1 and ds.descriptions == (name,) and ds.units == ("%",)
            shades[name] = ds.read(1)
    moment, afternoon = (shades[name] for name in SHADE_RASTERS)
    # At one moment a cell is in a cast shadow or not.
    assert set(np.unique(moment[np.isfinite(moment)])) <= {0.0, 100.0}
    # Every raster has its fixed-class default style, so it is pre-rendered for the tile server.
    assert {f.output for f in entry.files if f.format == "pmtiles" and f.kind == "raster"} == {
        "uhi_max", "uhi_max_100m", *SHADE_RASTERS
    }
    with _both(root / entry.file("uhi_max", "raster").path, root / entry.file("shade_pct_1500", "raster").path) as ds:
        assert ds.res == (1.0, 1.0) and ds.count == 2 and ds.descriptions == ("uhi_max", "shade_pct_1500")
        assert ds.units == ("K", "%")
        # Open water far (> 100 m) from the block: SVF 1, and F_veg 0.25 everywhere (one green quadrant of four,
        # all inside 500 m), so uhi_max = (2 - 1 - 0.25) * (S * DTR^3 / U)^(1/4) with the default weather.
        s = 300.0 / (RHO_AIR_KG_M3 * CP_AIR_J_KG_K)
        expected = 0.75 * (s * 12.0**3 / 2.5) ** 0.25
        assert _pixel(ds, 1, X0 + 170.5, Y0 + 20.5) == pytest.approx(expected, rel=1e-5)  # 2.71 K
        assert _pixel(ds, 2, X0 + 170.5, Y0 + 20.5) == 0.0
        # The 4 m courtyard inside the 30 m block is in shade at 15:00 and all afternoon, and sees little sky.
        assert _pixel(ds, 2, X0 + 40.5, Y0 + 140.5) == 100.0
        row, col = ds.index(X0 + 40.5, Y0 + 140.5)
        assert afternoon[row, col] == 100.0 and afternoon[ds.index(X0 + 170.5, Y0 + 20.5)] == 0.0
        assert _pixel(ds, 1, X0 + 40.5, Y0 + 140.5) > expected + 1.0
        # The nodata hole stays a 5 x 5 m hole.
        uhi = ds.read(1)
        assert int(np.isnan(uhi).sum()) == 25 and math.isnan(_pixel(ds, 1, X0 + 152.5, Y0 + 62.5))
    meta = entry.metadata
    assert meta["formula"].startswith("uhi_max = (2 - SVF - F_veg)") and "Theeuwes" in meta["reference"]
    assert meta["shade_moment"] == "2025-07-01T15:00:00+02:00"
    assert len(meta["shade_afternoon_times"]) == 13 and meta["shade_afternoon_times"][0].endswith("T12:00:00+02:00")
    assert meta["nodata_cells"] == 25

    table = gpd.read_parquet(root / entry.file("neighbourhoods", "vector").path).set_index("code")
    west, east = table.loc["BU01"], table.loc["BU02"]
    assert west["uhi_max_p95_k"] >= west["uhi_max_mean_k"] > east["uhi_max_mean_k"]
    assert east["uhi_max_mean_k"] == pytest.approx(np.nanmean(uhi[:, 100:]), abs=0.01)
    # Walking areas: only the public road quadrant (north-east), 100 x 100 m.
    assert west["walk_area_m2"] == 0.0 and math.isnan(west["walk_shade_pct_1500"])
    assert pd.isna(west["meets_shade_neighbourhood"])  # no walking area: neither met nor missed
    assert east["walk_area_m2"] == 10_000.0
    assert east["walk_shade_pct_1500"] == pytest.approx(float(moment[:100, 100:].mean()), abs=0.01)
    assert east["walk_shade_pct_afternoon"] == pytest.approx(float(afternoon[:100, 100:].mean()), abs=0.01)
    assert east["neighbourhood_shade_pct_1500"] == east["walk_shade_pct_1500"]  # all of it neighbourhood space
    # At 15:00 (sun 57 deg high in the SSW) the 30 m block's shadow reaches 30 / tan 57 * sin 36 = 11 m east of
    # it, short of the road quadrant 40 m away; the low evening sun from the west does reach it.
    assert east["walk_shade_pct_1500"] == 0.0 and not east["meets_shade_neighbourhood"]
    assert 0.0 < east["walk_shade_pct_afternoon"] < 30.0


def test_focal_fraction_is_the_mapped_share_within_the_disc() -> None:
    share = np.zeros((200, 300))
    share[:, :150] = 1.0
    share[:10, :] = np.nan  # unmapped strip: neither green nor grey
    frac = focal_fraction(share, 1.0, radius_m=1000.0, cell_m=10.0)
    assert np.allclose(frac, 0.5, atol=1e-9)  # the disc covers everything: half of the mapped cells
    local = focal_fraction(share, 1.0, radius_m=20.0, cell_m=10.0)
    assert local[100, 5] == pytest.approx(1.0) and local[100, 295] == pytest.approx(0.0, abs=1e-9)
    assert 0.2 < local[100, 150] < 0.8


def test_dsm_in_another_crs_is_refused(tmp_path: Path) -> None:
    config = _write_region(tmp_path / "region", crs="EPSG:3035")
    with pytest.raises(CRSError, match=r"dsm\.tif"):
        build(load_config(config), ["heat-stress"], console=Console(quiet=True))


def _pixels(config: Path) -> bytes:
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["heat-stress"]
    digest = hashlib.sha256()
    for output in ("uhi_max", *SHADE_RASTERS):
        with rasterio.open(root / entry.file(output, "raster").path) as ds:
            digest.update(ds.read().tobytes())
    return digest.digest()


def test_build_on_a_dask_cluster_is_pixel_identical_to_a_local_build(
    tmp_path: Path, dask_scheduler: str, heat_region: tuple[Path, list[str]]
) -> None:
    local_cfg, remote_cfg = heat_region[0], _write_region(tmp_path / "remote")
    # Small chunks so the kernels really run in pieces with halos on both workers (as the local build).
    build(load_config(remote_cfg), ["heat-stress"],
          ctx=BuildContext(**HEAT_REGION_CTX, scheduler=dask_scheduler), console=Console(quiet=True))
    assert _pixels(local_cfg) == _pixels(remote_cfg)


def test_bad_shade_date_is_a_config_error_naming_the_parameter(tmp_path: Path) -> None:
    config = _write_region(tmp_path / "region")
    text = config.read_text() + "layers:\n  heat-stress: {shade_date: 1-7-2025}\n"
    config.write_text(text)
    with pytest.raises(ConfigError, match=r"heat-stress\.shade_date"):
        build(load_config(config), ["heat-stress"], console=Console(quiet=True))
