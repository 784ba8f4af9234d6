"""Published inputs: the canonical sources of a build, read back from the catalog alone.

A hand-built 200 x 200 m region whose DSM cells are offset by a quarter metre
from the land cover (so the native grid is not the layers' grid) and hold known
values, published in blocks of 128 cells so windows cross block seams; plus the
1 km demo region (AHN adapter) and, when the samples are there, the real Delft
AHN3 point clouds.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from geopandas.testing import assert_geodataframe_equal
from rich.console import Console
from shapely.geometry import LineString, Point, box

import layers.published_inputs as pi
from geo.errors import NotFoundError, PublishError
from geo.raster import Raster
from layers import catalog as cat
from layers.config import load_config
from layers.published_inputs import INPUTS_ID, PublishedInputs, publish_inputs
from layers.sources import SourceSet
from tests.conftest import ORIGIN, SIZE_M, small_landcover, write_delft_config
from tiles.cog import validate_cog

RD = "EPSG:28992"
#: DSM/DTM cells: 0.5 m, edges a quarter metre off the land cover's, 402 x 402 cells.
RES = 0.5
RASTER_ORIGIN = (ORIGIN[0] - 0.25, ORIGIN[1] + SIZE_M + 0.25)
RASTER_CELLS = 402
#: The region (200 m) on those cells, snapped outward: 401 x 401 cells.
GRID_CELLS = 401
#: Block edge used when publishing the hand-built region (cells): 4 x 4 blocks, the last ones partial.
BLOCK = 128
DTM_M = 2.5
#: The DTM file holds only the western 200 columns (x < 200099.75): the blocks east of it are never read.
DTM_COLS = 200
#: File cell (row, col) holding the DSM's nodata value.
HOLE = (10, 20)
NODATA = -9999.0


def _dsm_value(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """The hand-built DSM: 1000 x row + col (m), exact in float32."""
    return (row * 1000 + col).astype(np.float32)


def _write_raster(path: Path, data: np.ndarray) -> None:
    transform = Affine(RES, 0.0, RASTER_ORIGIN[0], 0.0, -RES, RASTER_ORIGIN[1])
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="float32", crs=RD, transform=transform, nodata=NODATA) as ds:
        ds.write(data.astype(np.float32), 1)


def _trees_csv(n: int) -> str:
    rows = [f"t{i},{ORIGIN[0] + 20 + 40 * i},{ORIGIN[1] + 30 + 40 * i},{4 + i}" for i in range(n)]
    return "id,x,y,crown_diameter_m\n" + "\n".join(rows) + "\n"


def _write_region(folder: Path, keep_versions: int = 2) -> Path:
    """Sources of the hand-built region in ``folder``, its catalog beside it; returns the config path."""
    folder.mkdir(parents=True)
    x0, y0 = ORIGIN
    small_landcover().to_file(folder / "landcover.gpkg", layer="landcover", driver="GPKG")
    gpd.GeoDataFrame({"id": ["0000100000000001"], "status": ["Pand in gebruik"]},
                     geometry=[box(x0, y0 + 100, x0 + 100, y0 + SIZE_M)], crs=RD).to_file(folder / "buildings.gpkg")
    gpd.GeoDataFrame({"id": ["a1", "a2"], "building_id": ["0000100000000001", ""], "use": ["woonfunctie"] * 2,
                      "status": ["Verblijfsobject in gebruik"] * 2},
                     geometry=[Point(x0 + 50, y0 + 150), Point(x0 + 150, y0 + 50)], crs=RD).to_file(
        folder / "addresses.gpkg")
    gpd.GeoDataFrame({"id": ["s1", "s2"]}, geometry=[LineString([(x0, y0 + 100), (x0 + SIZE_M, y0 + 100)]),
                                                     LineString([(x0 + 100, y0), (x0 + 100, y0 + SIZE_M)])],
                     crs=RD).to_file(folder / "streets.gpkg")
    gpd.GeoDataFrame({"id": ["p1"]}, geometry=[box(x0, y0, x0 + 100, y0 + 100)], crs=RD).to_file(
        folder / "parks.gpkg")
    gpd.GeoDataFrame({"code": ["BU00000001"], "name": ["Proefbuurt"]}, geometry=[box(x0, y0, x0 + SIZE_M,
                                                                                       y0 + SIZE_M)],
                     crs=RD).to_file(folder / "buurten.gpkg")
    (folder / "trees.csv").write_text(_trees_csv(3))
    rows, cols = np.mgrid[0:RASTER_CELLS, 0:RASTER_CELLS]
    dsm = _dsm_value(rows, cols)
    dsm[HOLE] = NODATA
    _write_raster(folder / "dsm.tif", dsm)
    _write_raster(folder / "dtm.tif", np.full((RASTER_CELLS, DTM_COLS), DTM_M))
    config = folder / "kaartlaag.yaml"
    config.write_text(textwrap.dedent(
        f"""\
        region: {{name: Proefdorp, crs: "{RD}"}}
        catalog: ../catalog
        keep_versions: {keep_versions}
        sources:
          landcover: {{path: landcover.gpkg, layer: landcover}}
          buildings: {{path: buildings.gpkg}}
          addresses: {{path: addresses.gpkg}}
          trees: {{path: trees.csv, crs: "{RD}"}}
          streets: {{path: streets.gpkg}}
          parks: {{path: parks.gpkg}}
          neighbourhoods: {{path: buurten.gpkg}}
          dsm: {{path: dsm.tif}}
          dtm: {{path: dtm.tif}}
        layers:
          landcover: {{raster_resolution_m: 1.0}}
        """
    ))
    return config


def _publish(config: Path, block_cells: int = BLOCK) -> tuple[str, bool]:
    cfg = load_config(config)
    with cat.catalog_lock(cfg.catalog_dir):
        return publish_inputs(cfg, SourceSet(cfg), console=Console(quiet=True), block_cells=block_cells)


@pytest.fixture
def region(tmp_path: Path) -> Path:
    return _write_region(tmp_path / "region")


def _frame(inputs: PublishedInputs, name: str, bounds: tuple[float, float, float, float] | None = None
           ) -> gpd.GeoDataFrame:
    got = inputs.load(name, bounds)
    assert isinstance(got, gpd.GeoDataFrame)
    return got


def _raster(inputs: PublishedInputs, name: str, bounds: tuple[float, float, float, float] | None = None) -> Raster:
    got = inputs.load(name, bounds)
    assert isinstance(got, Raster)
    return got


def _assert_same_raster(got: Raster, want: Raster) -> None:
    assert got.crs == want.crs and got.data.dtype == want.data.dtype
    assert got.transform.almost_equals(want.transform) and got.data.shape == want.data.shape
    np.testing.assert_array_equal(got.data, want.data)  # NaN where NaN, every other cell exact


# -- the hand-built region: known answers --------------------------------------------------------------


def test_rasters_keep_their_own_cells_over_the_region(region: Path) -> None:
    version, published = _publish(region)
    assert published
    inputs = PublishedInputs(region.parent.parent / "catalog")
    assert inputs.version == version and inputs.name == "Proefdorp" and inputs.crs.to_epsg() == 28992
    dsm = _raster(inputs, "dsm")
    # The region (200000..200200, 450000..450200) on cells with edges at .25 m: 401 x 401 cells from 199999.75.
    assert dsm.data.shape == (1, GRID_CELLS, GRID_CELLS)
    assert dsm.transform.almost_equals(Affine(RES, 0.0, RASTER_ORIGIN[0], 0.0, -RES, RASTER_ORIGIN[1]))
    rows, cols = np.mgrid[0:GRID_CELLS, 0:GRID_CELLS]
    want = _dsm_value(rows, cols)
    want[HOLE] = np.nan
    np.testing.assert_array_equal(dsm.data[0], want)
    assert dsm.band_names == ("dsm",) and dsm.units == ("m",) and dsm.nodata is not None and np.isnan(dsm.nodata)
    dtm = _raster(inputs, "dtm").data[0]
    assert dtm.shape == (GRID_CELLS, GRID_CELLS) and np.all(dtm[:, :DTM_COLS] == np.float32(DTM_M))
    assert np.isnan(dtm[:, DTM_COLS:]).all()  # beyond the file: NaN, also in the blocks wholly east of it
    validate_cog(inputs.path("dsm"))  # raises unless rio-cogeo finds a valid COG


def test_raster_window_snaps_outward_and_is_nan_outside_the_extent(region: Path) -> None:
    _publish(region)
    inputs = PublishedInputs(region.parent.parent / "catalog")
    x0, y0 = ORIGIN
    # 10 m west of the region to 10 m into it; rows 180..200 of the grid (y 450100..450110 snapped outward).
    window = _raster(inputs, "dsm", (x0 - 10, y0 + 100, x0 + 10, y0 + 110))
    assert window.data.shape == (1, 21, 41)
    assert window.transform.almost_equals(Affine(RES, 0.0, RASTER_ORIGIN[0] - 10, 0.0, -RES, RASTER_ORIGIN[1] - 90))
    assert np.isnan(window.data[0, :, :20]).all()
    rows, cols = np.mgrid[180:201, 0:21]
    np.testing.assert_array_equal(window.data[0, :, 20:], _dsm_value(rows, cols))
    outside = _raster(inputs, "dtm", (x0 - 50, y0 - 50, x0 - 40, y0 - 40))
    assert outside.data.shape == (1, 21, 21) and np.isnan(outside.data).all()  # 10 m on cells off by .25 m


def test_window_equals_load_window_across_block_seams(region: Path) -> None:
    _publish(region)
    inputs = PublishedInputs(region.parent.parent / "catalog")
    sources = SourceSet(load_config(region))
    x0, y0 = ORIGIN
    # Crosses the seams of the 128-cell blocks at 64 m and 128 m from the grid's edges, on neither cell edges.
    bounds = (x0 + 31.3, y0 + 40.1, x0 + 150.7, y0 + 170.2)
    _assert_same_raster(_raster(inputs, "dsm", bounds), sources.load_window("dsm", bounds))
    west = (x0 + 31.3, y0 + 40.1, x0 + 90.7, y0 + 170.2)  # inside the DTM file
    _assert_same_raster(_raster(inputs, "dtm", west), sources.load_window("dtm", west))
    _assert_same_raster(_raster(inputs, "dsm", (x0 + 5, y0 + 190, x0 + 15, y0 + 199)),
                        sources.load_window("dsm", (x0 + 5, y0 + 190, x0 + 15, y0 + 199)))  # holds the hole


def test_vectors_equal_the_sources_whole_and_by_bbox(region: Path) -> None:
    _publish(region)
    inputs = PublishedInputs(region.parent.parent / "catalog")
    sources = SourceSet(load_config(region))
    vectors = {"landcover", "buildings", "trees", "addresses", "streets", "parks", "neighbourhoods"}
    assert inputs.available() == vectors | {"dsm", "dtm"}
    for name in vectors:
        want = sources.load(name)
        got = _frame(inputs, name)
        assert_geodataframe_equal(got, want, check_dtype=True, check_index_type=True)
        assert list(got.columns) == list(want.columns) and got.crs == want.crs
    # The buildings carry no height: the canonical optional column is all pd.NA, as SourceSet gives it.
    assert _frame(inputs, "buildings")["height_m"].map(lambda v: v is pd.NA).all()
    # Trees at (20, 30), (60, 70), (100, 110) m from the origin: a box around the second finds it alone,
    # labelled as in the whole source; a box touching the first's point finds it too (bbox meets bounds).
    x0, y0 = ORIGIN
    middle = _frame(inputs, "trees", (x0 + 50, y0 + 60, x0 + 70, y0 + 80))
    assert middle["id"].tolist() == ["t1"] and middle.index.tolist() == [1]
    assert _frame(inputs, "trees", (x0, y0, x0 + 20, y0 + 30))["id"].tolist() == ["t0"]
    # Land-cover quadrants are whole, not clipped: a 1 m box at the centre meets all four.
    centre = _frame(inputs, "landcover", (x0 + 99.5, y0 + 99.5, x0 + 100.5, y0 + 100.5))
    assert len(centre) == 4 and centre.area.tolist() == [100 * 100.0] * 4


def test_reader_needs_neither_raw_files_nor_config(region: Path, tmp_path: Path) -> None:
    _publish(region)
    sources = SourceSet(load_config(region))
    want = {name: sources.load(name) for name in ("buildings", "trees", "landcover")}
    want_dsm = sources.load_window("dsm", (ORIGIN[0], ORIGIN[1], ORIGIN[0] + 64, ORIGIN[1] + 64))
    boundary = shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + SIZE_M, ORIGIN[1] + SIZE_M)
    digests = {n: sources.digest(n) for n in sources.available()}
    shutil.move(region.parent, tmp_path / "elsewhere")  # every raw file and the config are gone
    assert not region.exists()
    inputs = PublishedInputs(tmp_path / "catalog")
    for name, frame in want.items():
        assert_geodataframe_equal(_frame(inputs, name), frame)
    _assert_same_raster(_raster(inputs, "dsm", (ORIGIN[0], ORIGIN[1], ORIGIN[0] + 64, ORIGIN[1] + 64)), want_dsm)
    assert inputs.boundary.equals(boundary) and inputs.bounds == boundary.bounds
    assert inputs.providers["dsm"] == "dsm" and inputs.providers["trees"] == "trees"
    assert inputs.digests == digests
    assert inputs.attribution["landcover"] == "landcover: Proefdorp"


def test_unchanged_sources_publish_nothing_and_a_change_keeps_versions(region: Path) -> None:
    root = region.parent.parent / "catalog"
    first, published = _publish(region)
    assert published
    assert _publish(region) == (first, False)
    (region.parent / "trees.csv").write_text(_trees_csv(4))
    second, published = _publish(region)
    assert published and second != first
    assert len(_frame(PublishedInputs(root), "trees")) == 4
    assert len(_frame(PublishedInputs(root, version=first), "trees")) == 3  # kept (keep_versions: 2)
    (region.parent / "trees.csv").write_text(_trees_csv(5))
    third, _ = _publish(region)
    entry = cat.read_catalog(root).inputs
    assert entry is not None and entry.version == third
    assert [v.version for v in entry.versions] == [second, third]
    assert not (root / INPUTS_ID / "versions" / first).exists()
    with pytest.raises(NotFoundError, match=first):
        PublishedInputs(root, version=first)
    assert len(_frame(PublishedInputs(root, version=second), "trees")) == 4
    # Only the trees changed: the other digests are the first version's.
    assert {n for n in entry.digests if entry.digests[n] != PublishedInputs(root, second).digests[n]} == {"trees"}


def test_failure_while_publishing_keeps_the_previous_version(region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = region.parent.parent / "catalog"
    first, _ = _publish(region)
    (region.parent / "trees.csv").write_text(_trees_csv(4))

    def broken(*args: object, **kwargs: object) -> Path:
        raise PublishError("disk full (test)")

    monkeypatch.setattr(pi, "write_cog_from_file", broken)
    with pytest.raises(PublishError, match="disk full"):
        _publish(region)
    entry = cat.read_catalog(root).inputs
    assert entry is not None and entry.version == first and len(entry.versions) == 1
    assert len(_frame(PublishedInputs(root), "trees")) == 3
    assert _raster(PublishedInputs(root), "dsm").data.shape == (1, GRID_CELLS, GRID_CELLS)
    assert list((root / cat.STAGING_DIR).iterdir()) == []
    assert [p.name for p in (root / INPUTS_ID / "versions").iterdir()] == [first]
    monkeypatch.undo()
    assert _publish(region)[1]  # and the next run publishes it


def test_catalog_entry_is_internal_and_lists_every_file(region: Path) -> None:
    _publish(region)
    root = region.parent.parent / "catalog"
    entry = cat.read_catalog(root).inputs
    assert entry is not None and entry.access == "internal" and entry.crs == RD
    by_output = {f.output: f for f in entry.files}
    assert set(by_output) == {"landcover", "buildings", "trees", "addresses", "streets", "parks", "neighbourhoods",
                              "dsm", "dtm", "region", "inputs"}
    assert {by_output[n].format for n in ("dsm", "dtm")} == {"cog"} and by_output["trees"].format == "parquet"
    for f in entry.files:
        path = root / f.path
        assert path.stat().st_size == f.bytes
        assert pi._file_entry(path, f.path.rsplit("/", 1)[0], f.output, f.kind).sha256 == f.sha256


def test_build_publishes_inputs_that_never_show_as_a_layer(region: Path) -> None:
    from layers.engine import build

    root = region.parent.parent / "catalog"
    summary = build(load_config(region), ["landcover"], console=Console(quiet=True))
    catalog = cat.read_catalog(root)
    assert set(catalog.layers) == {"landcover"} and INPUTS_ID not in catalog.layers
    assert catalog.inputs is not None and summary.inputs_version == catalog.inputs.version
    assert summary.inputs_published
    again = build(load_config(region), ["landcover"], console=Console(quiet=True))
    assert again.inputs_version == summary.inputs_version and not again.inputs_published
    # The engine's clean-up of unlisted layer folders leaves the inputs alone; only what the built layers
    # read is published (a landcover build never reads the trees, nor a corrupt point cloud).
    assert PublishedInputs(root).available() == {"landcover"}


def test_missing_inputs_and_sources_are_named(tmp_path: Path, region: Path) -> None:
    with pytest.raises(NotFoundError, match="no published inputs"):
        PublishedInputs(tmp_path / "nothing")
    _publish(region)
    inputs = PublishedInputs(region.parent.parent / "catalog")
    with pytest.raises(NotFoundError, match="no 'weather'; they have: addresses, buildings"):
        inputs.load("weather")
    with pytest.raises(NotFoundError, match="no published inputs version 'x'"):
        PublishedInputs(region.parent.parent / "catalog", version="x")


# -- the demo region: the AHN adapter and demo-sized vectors ------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_catalog: Path) -> Path:
    """The sources of the session's 1 km demo (``tests.demo_catalog``), copied, with inputs published afresh."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    shared_catalog = load_config(demo_catalog).catalog_dir.name
    shutil.copytree(demo_catalog.parent, folder, ignore=shutil.ignore_patterns(shared_catalog))
    config = folder / demo_catalog.name
    cfg = load_config(config)
    assert not cfg.catalog_dir.exists()
    with cat.catalog_lock(cfg.catalog_dir):
        publish_inputs(cfg, SourceSet(cfg), console=Console(quiet=True), block_cells=700)
    return config


def test_demo_inputs_equal_the_sources(demo: Path) -> None:
    cfg = load_config(demo)
    sources = SourceSet(cfg)
    inputs = PublishedInputs(cfg.catalog_dir)
    assert inputs.providers["dsm"] == inputs.providers["dtm"] == "ahn"
    assert inputs.bounds == (236_000.0, 441_000.0, 237_000.0, 442_000.0)  # the demo's boundary, RD m
    _assert_same_raster(_raster(inputs, "dsm"), sources.load("dsm"))  # 2000 x 2000 cells written in 700-cell blocks
    bounds = (236_333.3, 441_300.2, 236_420.9, 441_512.6)  # across the seam at 350 m
    for name in ("dsm", "dtm"):
        _assert_same_raster(_raster(inputs, name, bounds), sources.load_window(name, bounds))
    for name in ("landcover", "buildings", "trees", "addresses", "streets", "parks", "neighbourhoods"):
        assert_geodataframe_equal(_frame(inputs, name), sources.load(name))


# -- the real Delft AHN3 point clouds (LAZ mode: DSM, DTM and vegetation) -------------------------------


@pytest.mark.slow  # 12 to 35 s on this shared machine: gridding the point clouds
def test_delft_laz_inputs(tmp_path: Path, shared_data: Path) -> None:
    laz = [shared_data / "ahn3-delft" / f"ahn3_cropped_{i}.laz" for i in (1, 2)]
    if not all(p.exists() for p in laz):
        pytest.skip("the Delft AHN3 samples are not in ../shared/data")
    config = write_delft_config(tmp_path, shared_data)
    cfg = load_config(config)
    sources = SourceSet(cfg)
    with cat.catalog_lock(cfg.catalog_dir):
        publish_inputs(cfg, sources, console=Console(quiet=True))
    inputs = PublishedInputs(cfg.catalog_dir)
    assert {"dsm", "dtm", "vegetation", "landcover", "buildings"} <= inputs.available()
    assert inputs.providers["vegetation"] == "ahn" and inputs.providers["landcover"] == "bgt"
    # One block covers the region, so each published raster is the adapter's run over the published grid
    # (cut there to the point clouds' extent: NaN beyond it here); that run is still the one SourceSet keeps.
    grid = _raster(inputs, "dsm").bounds
    for name in ("dsm", "dtm", "vegetation"):
        got, want = _raster(inputs, name, inputs.bounds), sources.load_window(name, grid)
        assert got.resolution == want.resolution == (0.5, 0.5)
        col, row = (round(v) for v in ~got.transform * (want.transform.c, want.transform.f))
        inside = got.data[:, row : row + want.height, col : col + want.width]
        np.testing.assert_array_equal(inside, want.data)
        assert np.isnan(got.data).sum() - np.isnan(inside).sum() == got.data.size - inside.size
    assert_geodataframe_equal(_frame(inputs, "buildings"), sources.load("buildings"))
