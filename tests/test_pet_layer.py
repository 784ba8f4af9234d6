"""Layer ``pet`` on a hand-built scene: sun, a tree's shade and a building's shadow, roofs, the buurt table, windows."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS

from geo.errors import ConfigError, LayerError
from geo.pet import PET_CLASSES
from geo.raster import Raster
from layers.base import BuildContext, Extent, RegionContext
from layers.extent import MemoryInputs, run_in_memory, run_windows
from layers.pet import AFTERNOON, LAYER, MOMENT

RD = CRS.from_epsg(28992)
X0, Y0, N = 200_000.0, 450_000.0, 240
GROUND_M = 10.0
#: The building: x 100-140, y 100-120 (m from the scene's corner), 12 m high.
BUILDING = (100.0, 100.0, 140.0, 120.0)
BUILDING_HEIGHT_M = 12.0
#: A tree: crown radius 4 m at x 60, y 60, 10 m high, over the footpath (y 40-80).
TREE_XY, TREE_R, TREE_H = (60.0, 60.0), 4.0, 10.0
WINDOW = (X0 + 40, Y0 + 40, X0 + 200, Y0 + 200)


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def scene() -> dict:
    dtm = np.full((N, N), GROUND_M, np.float32)
    dsm = dtm.copy()
    bx0, by0, bx1, by1 = (int(v) for v in BUILDING)
    dsm[N - by1:N - by0, bx0:bx1] = GROUND_M + BUILDING_HEIGHT_M
    rows, cols = np.mgrid[:N, :N]
    crown = (rows + 0.5 - (N - TREE_XY[1])) ** 2 + (cols + 0.5 - TREE_XY[0]) ** 2 < TREE_R**2
    dsm[crown] = GROUND_M + TREE_H
    transform = Affine(1.0, 0, X0, 0, -1.0, Y0 + N)

    def raster(a: np.ndarray, name: str) -> Raster:
        return Raster(a[None], RD, transform, nodata=float("nan"), band_names=(name,), units=("m",))

    building = _box(*BUILDING)
    path = _box(0, 40, N, 80)
    green = _box(0, 0, N, N).difference(building).difference(path)
    landcover = gpd.GeoDataFrame(
        {"class": ["building", "road_paved", "green_low"], "function": [None, "voetpad", None],
         "source_class": ["pand", "wegdeel", "begroeidterreindeel"], "public": [False, True, True]},
        geometry=[building, path, green], crs=RD)
    buurten = gpd.GeoDataFrame({"code": ["BU01", "BU02"], "name": ["Zuid", "Noord"]},
                               geometry=[_box(0, 0, N, 90), _box(0, 90, N, N)], crs=RD)
    return {"dsm": raster(dsm, "dsm"), "dtm": raster(dtm, "dtm"), "landcover": landcover, "neighbourhoods": buurten}


@pytest.fixture(scope="module")
def whole() -> dict:
    sources = scene()
    out = run_in_memory(LAYER, sources, WINDOW, crs=RD, ctx=BuildContext(workers=1))
    return {"sources": sources, "out": out}


def _at(raster: Raster, x: float, y: float) -> float:
    row, col = ~raster.transform * (X0 + x, Y0 + y)
    return float(raster.data[0][int(col), int(row)])


def test_a_tree_cools_the_footpath_under_it_by_about_seven_degrees(whole: dict) -> None:
    """Under a 10 m crown (3 % of the sun through) PET at 15:00 is 5-10 degC below the same footpath in sun:
    the direct beam (about 700 W/m2) is gone and the crown hides part of the hot sky and ground."""
    moment = whole["out"].rasters[MOMENT]
    sun, shade = _at(moment, 170, 60), _at(moment, *TREE_XY)
    assert sun > 38.0
    assert 5.0 <= sun - shade <= 10.0


def test_the_shadow_of_a_building_cools_at_15h_and_roofs_have_no_value(whole: dict) -> None:
    """At 15:00 CEST the sun stands in the south-west (azimuth about 236 degrees, 50 degrees up): a 12 m
    building casts about 10 m of shadow to the north-east. Grass there is cooler than the same grass in sun
    on the building's south-east side."""
    moment = whole["out"].rasters[MOMENT]
    in_shadow = _at(moment, 143, 123)
    in_sun = _at(moment, 160, 90)
    assert in_sun - in_shadow >= 4.0
    assert math.isnan(_at(moment, 120, 110)) and math.isnan(_at(whole["out"].rasters[AFTERNOON], 120, 110))


def test_the_buurt_table_holds_mean_p95_and_class_shares_of_walking_space(whole: dict) -> None:
    out = whole["out"]
    table = out.vectors["neighbourhoods"].set_index("code")
    south = table.loc["BU01"]
    assert south["walk_cells"] == 160 * 40  # the footpath inside the window
    shares = [south[f"walk_pct_{c.key}"] for c in PET_CLASSES]
    assert sum(shares) == pytest.approx(100.0, abs=0.05)
    assert south["walk_pet_afternoon_p95"] >= south["walk_pet_afternoon_mean"]
    # The north buurt holds no footpath: no walking-space figures, but an outdoor mean.
    north = table.loc["BU02"]
    assert north["walk_cells"] == 0 and math.isnan(north["walk_pet_afternoon_mean"])
    assert north["pet_afternoon_mean"] > 30
    meta = out.metadata
    assert len(meta["afternoon"]) == 7 and meta["moment"].startswith("2015-07-01T15:00")
    assert set(meta["pet_tables"]) == set(meta["afternoon"])
    assert meta["clamped_cells"] == 0 and meta["roof_cells"] == 40 * 20


def test_two_windows_give_the_pixels_of_one_run(whole: dict) -> None:
    """Each window reads the shadow reach (80 m) around it, so a cut through the middle changes nothing
    beyond SOLWEIG's own edge effects (tolerance 0.05 degC)."""
    sources = whole["sources"]
    context = RegionContext("Proef", RD, shapely.box(*WINDOW))
    params = LAYER.resolve_params({}, "layers.pet")
    x_mid = WINDOW[0] + 80
    windows = [(WINDOW[0], WINDOW[1], x_mid, WINDOW[3]), (x_mid, WINDOW[1], WINDOW[2], WINDOW[3])]
    pieces: dict[int, np.ndarray] = {}
    run_windows(LAYER, params, MemoryInputs(sources, RD), Extent(WINDOW), context, windows, zones=None,
                dependencies={}, ctx=BuildContext(workers=1),
                on_window=lambda i, part: pieces.__setitem__(i, part.rasters[MOMENT].data[0]))
    got = np.hstack([pieces[0], pieces[1]])
    want = whole["out"].rasters[MOMENT].data[0]
    np.testing.assert_allclose(got, want, atol=0.05)


def test_bad_inputs_name_what_is_wrong() -> None:
    sources = scene()
    without = {k: v for k, v in sources.items() if k != "dtm"}
    with pytest.raises(LayerError, match="dtm"):
        run_in_memory(LAYER, without, WINDOW, crs=RD)
    with pytest.raises(ConfigError, match="knmi_hourly"):
        run_in_memory(LAYER, sources, WINDOW, crs=RD, params={"weather": {"station": 283, "date": "2015-07-01"}})
    with pytest.raises(ConfigError, match="moment_hour"):
        run_in_memory(LAYER, sources, WINDOW, crs=RD, params={"moment_hour": 9})


def test_on_a_dask_cluster_solweig_tiles_run_on_the_workers_and_give_the_local_pixels(
        whole: dict, dask_scheduler: str) -> None:
    """With ``--scheduler`` the window's SOLWEIG tiles (with their halo) are computed by the cluster's workers;
    the pixels equal the local one-tile run within 0.05 degC (SOLWEIG's own edge effects)."""
    from distributed import Client

    window = (X0 + 120, Y0 + 40, X0 + 200, Y0 + 120)
    ctx = BuildContext(workers=1, scheduler=dask_scheduler, chunk_size=120)
    with Client(dask_scheduler, timeout="30s") as client:
        remote = run_in_memory(LAYER, whole["sources"], window, crs=RD, ctx=ctx)
        tasks = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("tile_kernel" in name for name in tasks), tasks
    local = run_in_memory(LAYER, whole["sources"], window, crs=RD, ctx=BuildContext(workers=1))
    np.testing.assert_allclose(remote.rasters[MOMENT].data[0], local.rasters[MOMENT].data[0], atol=0.05)
