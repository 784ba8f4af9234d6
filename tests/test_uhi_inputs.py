"""heat-stress inputs of uhi_max (issue 10, item 6): canopy in F_veg, the 100 m map, the KNMI station-day."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rich.console import Console

from geo.errors import ConfigError, SourceError
from geo.grid import Grid
from geo.uhi import CP_AIR_J_KG_K, REFERENCE_HOT_DAY, RHO_AIR_KG_M3
from layers import catalog as cat
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from layers.heat_inputs import UHI_BLOCK_RASTER, block_partial, block_raster, vegetated_share
from styles.raster import registered_style
from tests.test_heat_person_view import RES, TREE_XY, X0, Y0, _surfaces, _write
from tests.test_heat_stress import _write_region
from tests.test_knmi import write_knmi

#: The four 100 x 100 m quadrants of the hand-built region, all within 500 m of every cell.
MAPPED_M2 = 40_000.0
OPEN_STREET = (X0 + 180.5, Y0 + 110.5)  # paved quadrant, far from the tree and the block
OPEN_WATER = (X0 + 170.5, Y0 + 20.5)


def _weather_term(g_w_m2: float, dtr_k: float, wind_m_s: float) -> float:
    return float((g_w_m2 / (RHO_AIR_KG_M3 * CP_AIR_J_KG_K) * dtr_k**3 / wind_m_s) ** 0.25)


def _build(config: Path, window_cells: int = 4096) -> tuple[dict[str, np.ndarray], dict[str, Affine], dict]:
    build(load_config(config), ["heat-stress"], ctx=BuildContext(chunk_size=64, window_cells=window_cells),
          console=Console(quiet=True))
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["heat-stress"]
    bands, transforms = {}, {}
    for name in ("uhi_max", UHI_BLOCK_RASTER):
        with rasterio.open(root / entry.file(name, "raster").path) as ds:
            bands[name], transforms[name] = ds.read(1), ds.transform
    return bands, transforms, entry.metadata


def _at(band: np.ndarray, transform: Affine, x: float, y: float) -> float:
    col, row = ~transform * (x, y)
    return float(band[int(row), int(col)])


def _crown_cells_on_the_output_grid() -> int:
    """1 m cells holding a crown cell of the 0.5 m DSM (the DSM is coarsened by its highest value), off the roofs."""
    dsm, dtm = _surfaces()
    factor = round(1.0 / RES)
    high = (dsm - dtm) >= REFERENCE_CANOPY_M
    blocks = high.reshape(high.shape[0] // factor, factor, high.shape[1] // factor, factor).any(axis=(1, 3))
    blocks[:100, :100] = False  # the building quadrant (north-west): roofs, masked from the canopy
    return int(blocks.sum())


REFERENCE_CANOPY_M = 2.5  # geo.canopy.CANOPY_MIN_HEIGHT_M, the default of canopy_min_height_m


def test_a_crown_over_paving_raises_f_veg_by_its_area(tmp_path: Path) -> None:
    with_canopy = _write(tmp_path / "canopy", with_dtm=True)
    without = _write(tmp_path / "landcover_only", with_dtm=True)
    without.write_text(without.read_text() + "layers:\n  heat-stress: {f_veg_canopy: false}\n")
    a, ta, meta_a = _build(with_canopy)
    b, tb, meta_b = _build(without)
    crown = _crown_cells_on_the_output_grid()
    assert 70 < crown < 110  # a 10 m crown: 78.5 m2, plus the cells its edge touches
    assert meta_a["f_veg"]["canopy_m2"] == crown
    assert meta_a["f_veg"]["canopy_over_other_land_cover_m2"] == crown  # all of it over the paved quadrant
    assert meta_b["f_veg"]["canopy"].startswith("none") and "f_veg_canopy is off" in meta_b["f_veg"]["canopy"]
    # Same person view (SVF) in both; F_veg rises from 1/4 to (10 000 + crown) / 40 000 everywhere.
    term = _weather_term(REFERENCE_HOT_DAY.global_radiation_w_m2, REFERENCE_HOT_DAY.dtr_k, REFERENCE_HOT_DAY.wind_m_s)
    drop = _at(b["uhi_max"], tb["uhi_max"], *OPEN_STREET) - _at(a["uhi_max"], ta["uhi_max"], *OPEN_STREET)
    assert drop == pytest.approx(crown / MAPPED_M2 * term, rel=1e-4)
    assert np.nanmax(np.abs((b["uhi_max"] - a["uhi_max"]) - crown / MAPPED_M2 * term)) < 1e-4
    assert _at(a["uhi_max"], ta["uhi_max"], *TREE_XY) > _at(a["uhi_max"], ta["uhi_max"], *OPEN_STREET)


def test_canopy_only_upgrades_mapped_cells() -> None:
    polygon = np.array([[0, 1, 2], [0, 1, 2]])
    green = np.array([False, True])  # polygon 1 grey, polygon 2 green
    canopy = np.array([[1.0, 1.0, 0.0], [np.nan, np.nan, np.nan]], dtype=np.float32)
    share = vegetated_share(polygon, green, canopy)
    expected = np.array([[np.nan, 1.0, 1.0], [np.nan, 0.0, 1.0]])
    assert np.array_equal(share, expected, equal_nan=True)
    assert np.array_equal(vegetated_share(polygon, green, None), [[np.nan, 0, 1], [np.nan, 0, 1]], equal_nan=True)


def test_the_100m_map_is_the_street_mean_per_whole_100m_cell_whatever_the_windows() -> None:
    # A 1 m grid whose origin is not on the 100 m lattice: blocks are cut by the grid edges.
    grid = Grid.from_bounds((1030.0, 2070.0, 1290.0, 2240.0), 1.0, "EPSG:28992")
    rng = np.random.default_rng(3)
    values = rng.uniform(0.0, 5.0, grid.shape).astype(np.float32)
    values[:10, :10] = np.nan
    street = rng.random(grid.shape) > 0.2
    one = block_raster([block_partial(values, street, grid)], grid)
    assert one.transform.c == 1000.0 and one.transform.f == 2300.0 and one.data.shape == (1, 3, 3)
    # Block (1100..1200, 2100..2200): rows y 2200 - 2100 of the grid, cols x 1100 - 1200.
    rows, cols = slice(2240 - 2200, 2240 - 2100), slice(1100 - 1030, 1200 - 1030)
    v, s = values[rows, cols], street[rows, cols]
    assert one.data[0, 1, 1] == pytest.approx(float(np.nanmean(np.where(s, v, np.nan))), rel=1e-6)
    # The same grid in six uneven windows.
    parts = []
    for r0, r1 in ((0, 37), (37, 170)):
        for c0, c1 in ((0, 81), (81, 199), (199, 260)):
            sub = Grid(grid.crs, grid.window_transform(r0, c0), c1 - c0, r1 - r0)
            parts.append(block_partial(values[r0:r1, c0:c1], street[r0:r1, c0:c1], sub))
    many = block_raster(parts, grid)
    assert np.allclose(one.data, many.data, rtol=1e-12, equal_nan=True)
    # No street cell in a block: NaN.
    none = block_raster([block_partial(values, np.zeros_like(street), grid)], grid)
    assert np.isnan(none.data).all()


def test_the_100m_map_of_the_hand_built_region(tmp_path: Path) -> None:
    bands, transforms, meta = _build(_write_region(tmp_path / "region"))
    uhi, blocks = bands["uhi_max"], bands[UHI_BLOCK_RASTER]
    assert transforms[UHI_BLOCK_RASTER] == Affine(100.0, 0.0, X0, 0.0, -100.0, Y0 + 200.0)
    assert blocks.shape == (2, 2)
    assert math.isnan(blocks[0, 0])  # the building quadrant: roofs only
    assert blocks[0, 1] == pytest.approx(float(np.nanmean(uhi[:100, 100:])), rel=1e-5)
    assert blocks[1, 0] == pytest.approx(float(np.nanmean(uhi[100:, :100])), rel=1e-5)
    assert blocks[1, 1] == pytest.approx(float(np.nanmean(uhi[100:, 100:])), rel=1e-5)  # around the hole
    summary = meta[UHI_BLOCK_RASTER]
    assert summary["blocks"] == 3 and summary["mean_k"] == pytest.approx(float(np.nanmean(blocks)), abs=1e-3)
    assert meta["weather"]["source"] == REFERENCE_HOT_DAY.name and "not a measured" in meta["weather"]["basis"]
    assert meta["f_veg"]["canopy"].startswith("none") and "no dtm" in meta["f_veg"]["canopy"]
    style, base = registered_style("heat-stress", UHI_BLOCK_RASTER), registered_style("heat-stress", "uhi_max")
    assert style is not None and base is not None
    assert [(c.lower, c.upper, c.colour) for c in style.classes] == [(c.lower, c.upper, c.colour)
                                                                     for c in base.classes]


def _with_knmi(folder: Path, weather: str, knmi: bool = True) -> Path:
    config = _write_region(folder)
    write_knmi(folder)
    text = config.read_text()
    if knmi:
        text += "  knmi: {path: etmgeg_283.txt}\n"
    config.write_text(text + f"layers:\n  heat-stress: {{weather: {weather}}}\n")
    return config


def test_a_knmi_station_day_sets_the_weather_term(tmp_path: Path) -> None:
    bands, transforms, meta = _build(_with_knmi(tmp_path / "r", "{station: 283, date: 2019-07-25}"))
    # Hupsel 2019-07-25 in the hand-written file: Q 2700 J/cm2 -> 312.5 W/m2, TX - TN 19.8 K, FG 2.1 m/s.
    term = _weather_term(312.5, 19.8, 2.1)
    assert meta["weather_term_k"] == pytest.approx(term, abs=1e-4)
    assert _at(bands["uhi_max"], transforms["uhi_max"], *OPEN_WATER) == pytest.approx(0.75 * term, rel=1e-5)
    assert meta["weather"]["source"].startswith("KNMI station 283, 2019-07-25")
    assert meta["weather"]["file"] == "etmgeg_283.txt" and meta["weather"]["dtr_k"] == pytest.approx(19.8)


def test_bad_station_days_are_clear_errors(tmp_path: Path) -> None:
    quiet = Console(quiet=True)
    with pytest.raises(SourceError, match=r"etmgeg_283\.txt: station 240 on 2019-07-25: station 240 is not in"):
        build(load_config(_with_knmi(tmp_path / "a", "{station: 240, date: 2019-07-25}")), ["heat-stress"],
              console=quiet)
    with pytest.raises(SourceError, match=r"etmgeg_283\.txt: station 283 on 2018-07-25: the date is not in"):
        build(load_config(_with_knmi(tmp_path / "b", "{station: 283, date: 2018-07-25}")), ["heat-stress"],
              console=quiet)
    with pytest.raises(ConfigError, match=r"heat-stress\.weather: a KNMI station-day needs .*sources\.knmi"):
        build(load_config(_with_knmi(tmp_path / "c", "{station: 283, date: 2019-07-25}", knmi=False)),
              ["heat-stress"], console=quiet)
    with pytest.raises(ConfigError, match=r"heat-stress\.weather\.date: required key is missing"):
        build(load_config(_with_knmi(tmp_path / "d", "{station: 283}")), ["heat-stress"], console=quiet)
