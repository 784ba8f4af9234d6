"""heat-stress in windows: the same raster and tables as one run, walking areas split into route kinds."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.features import rasterize
from rich.console import Console
from shapely.geometry import box

from geo.grid import Grid
from layers import catalog as cat
from layers import heat_stats as hs
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from layers.heat_inputs import UHI_BLOCK_RASTER
from layers.heat_stress import LAYER, SHADE_RASTERS, route_kinds, route_raster
from layers.sources import SourceSet
from layers.windowed import windows
from tests.test_heat_stress import X0, Y0, _write_region

UHI_TOLERANCE_K = 1e-5  # F_veg's FFT sums differ in the last bits with the array size


def _published(config: Path) -> tuple[np.ndarray, gpd.GeoDataFrame, dict[str, object]]:
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["heat-stress"]
    bands = []
    for output in ("uhi_max", *SHADE_RASTERS):
        with rasterio.open(root / entry.file(output, "raster").path) as ds:
            bands.append(ds.read(1))
    data = np.stack(bands)
    table = gpd.read_parquet(root / entry.file("neighbourhoods", "vector").path)
    with rasterio.open(root / entry.file(UHI_BLOCK_RASTER, "raster").path) as ds:
        metadata = {**entry.metadata, UHI_BLOCK_RASTER: ds.read(1)}
    return data, table, metadata


def test_a_build_in_many_windows_equals_a_build_in_one(tmp_path: Path, heat_region: tuple[Path, list[str]]) -> None:
    # One window: the session's build of the region (64-cell chunks; the default window holds the whole region).
    one, many = heat_region[0], _write_region(tmp_path / "many")
    quiet = Console(quiet=True)
    # 48-cell windows: 5 x 5 windows over the 200 m region, with edges that cut the block and the courtyard.
    build(load_config(many), ["heat-stress"], ctx=BuildContext(chunk_size=64, window_cells=48), console=quiet)
    a, table_a, meta_a = _published(one)
    b, table_b, meta_b = _published(many)
    assert meta_a["windows"] == 1 and meta_b["windows"] == 25
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(a[1:], b[1:], equal_nan=True)  # both shade figures: pixel-identical
    assert np.nanmax(np.abs(a[0] - b[0])) < UHI_TOLERANCE_K
    numeric = table_a.select_dtypes("number").columns
    assert np.allclose(table_a[numeric].to_numpy(float), table_b[numeric].to_numpy(float), equal_nan=True, atol=0.011)
    assert table_a.columns.tolist() == table_b.columns.tolist()
    assert table_a["meets_shade_neighbourhood"].equals(table_b["meets_shade_neighbourhood"])
    for key in ("uhi_max_mean_k", "uhi_max_p95_k", "shade_mean_pct_1500", "shade_mean_pct_afternoon", "nodata_cells"):
        assert meta_a[key] == pytest.approx(meta_b[key], abs=0.011), key
    # 40-cell windows cut every 100 m cell: its sums and counts are added up in finish.
    blocks_a, blocks_b = meta_a[UHI_BLOCK_RASTER], meta_b[UHI_BLOCK_RASTER]
    assert blocks_a.shape == (2, 2) and np.isnan(blocks_a[0, 0])  # type: ignore[union-attr]
    assert np.allclose(blocks_a, blocks_b, rtol=0, atol=UHI_TOLERANCE_K, equal_nan=True)  # type: ignore[arg-type]


def test_a_window_reads_only_its_part_of_the_dsm(tmp_path: Path) -> None:
    sources = SourceSet(load_config(_write_region(tmp_path / "r")))
    part = sources.load_window("dsm", (X0 + 10.2, Y0 + 20.0, X0 + 30.0, Y0 + 25.1))
    # Whole 0.5 m cells covering the bounds: x 10.0..30.0, y 20.0..25.5.
    assert part.data.shape == (1, 11, 40)
    assert part.bounds == pytest.approx((X0 + 10.0, Y0 + 20.0, X0 + 30.0, Y0 + 25.5))


def test_walking_areas_are_split_into_main_routes_and_neighbourhood_streets() -> None:
    rows = [  # (class, function, public, geometry)
        ("road_paved", "rijbaan regionale weg", True, box(0, 0, 100, 7)),   # 0 through road: no walking space
        ("road_paved", "voetpad", True, box(0, 7, 100, 9)),                 # 1 pavement beside it
        ("road_paved", "voetpad", True, box(0, 60, 100, 62)),               # 2 pavement 53 m away
        ("road_paved", "fietspad", True, box(0, 80, 100, 83)),              # 3 cycle path: main route
        ("paved_other", None, True, box(110, 0, 150, 40)),                  # 4 square, no function
        ("paved_other", None, False, box(160, 0, 180, 20)),                 # 5 private yard: no
        ("road_paved", "parkeervlak", True, box(0, 40, 100, 45)),           # 6 parking bays: no
        ("green_low", None, True, box(0, 90, 100, 99)),                     # 7 grass: no
        ("road_paved", "woonerf", True, box(180, 30, 200, 100)),            # 8 home zone
        ("road_paved", "rijbaan lokale weg", True, box(110, 50, 150, 56)),  # 9 local carriageway: no
        ("road_unpaved", "voetpad", True, box(110, 56, 150, 58)),           # 10 unpaved footpath beside it
    ]
    frame = gpd.GeoDataFrame(
        {"class": [r[0] for r in rows], "function": [r[1] for r in rows], "public": [r[2] for r in rows],
         "source_class": "test"},
        geometry=[r[3] for r in rows], crs="EPSG:28992",
    )
    params = LAYER.resolve_params({}, "layers.heat-stress")
    main, street, none = hs.ROUTE_KINDS.index("main_route"), hs.ROUTE_KINDS.index("neighbourhood"), -1
    kinds, through = route_kinds(frame, params)
    assert kinds.tolist() == [none, street, street, main, street, none, none, none, street, none, street]
    assert through.tolist() == [True] + [False] * 10
    # Without a function column (a land-cover source other than BGT) the class alone decides.
    assert route_kinds(frame.drop(columns="function"), params)[0].tolist() == [
        street, street, street, street, street, none, street, none, street, street, street
    ]
    # Per cell (1 m): neighbourhood space within 15 m of a through-road cell turns main.
    grid = Grid.from_bounds((0.0, 0.0, 200.0, 100.0), 1.0, frame.crs)
    polygon = rasterize(((g, i + 1) for i, g in enumerate(frame.geometry)), out_shape=grid.shape,
                        transform=grid.transform, dtype="int32")
    route = route_raster(frame, polygon, 1.0, params)

    def at(x: float, y: float) -> int:
        return int(route[grid.height - 1 - math.floor(y), math.floor(x)])

    assert at(50.5, 8.5) == main                      # the pavement beside the road
    assert at(50.5, 60.5) == street                   # the pavement far from it
    # The square east of the road: 14 m and 16 m between cell centres from the road's last cells (x 99.5).
    assert at(113.5, 3.5) == main and at(115.5, 3.5) == street
    assert at(50.5, 81.5) == main and at(50.5, 3.5) == none and at(190.5, 50.5) == street


def test_histogram_percentile_is_within_half_a_bin_of_numpy() -> None:
    rng = np.random.default_rng(7)
    values = rng.gamma(4.0, 0.6, 50_001)
    hist = np.bincount(np.floor(values / hs.UHI_BIN_K).astype(int))
    for q in (5, 50, 95, 99):
        assert hs.hist_percentile(hist, q) == pytest.approx(np.percentile(values, q), abs=hs.UHI_BIN_K / 2 + 1e-12)
    assert np.isnan(hs.hist_percentile(np.zeros(3, dtype=int), 95))


@pytest.mark.parametrize(("size", "cells", "expected"), [
    ((1001, 1000), 1000, 1),   # a 1-cell rest is shared out, not a window of its own
    ((2001, 3000), 1000, 6),   # 2 x 3
    ((200, 200), 48, 25),      # 5 windows of 40 cells a side
])
def test_windows_tile_the_grid_exactly(size: tuple[int, int], cells: int, expected: int) -> None:
    height, width = size
    grid = Grid.from_bounds((0.0, 0.0, float(width), float(height)), 1.0, "EPSG:28992")
    covered = np.zeros(grid.shape, dtype=np.int8)
    found = list(windows(grid, cells))
    for row, col, wgrid in found:
        rows, cols = grid.slices_of(wgrid)
        assert (rows.start, cols.start) == (row, col)
        covered[rows, cols] += 1
        assert max(wgrid.shape) <= cells * 9 // 8 + 1
    assert len(found) == expected and (covered == 1).all()
