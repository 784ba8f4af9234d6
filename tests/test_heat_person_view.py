"""heat-stress and cool-places seen by a person on the ground (with a DTM) versus the surface view (without)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rich.console import Console

from geo.ground_view import CROWN_TRANSMISSIVITY
from layers import catalog as cat
from layers.base import BuildContext
from layers.config import load_config
from layers.engine import build
from layers.heat_stress import SHADE_RASTERS
from layers.person_view import SURFACE_VIEW_NOTE
from tests.conftest import ORIGIN, SIZE_M, small_landcover

RES = 0.5
X0, Y0 = ORIGIN
#: A tree over the paved (north-east) quadrant, and the building quadrant (north-west) 12 m high.
TREE_XY = (X0 + 150.0, Y0 + 150.0)
CROWN_RADIUS_M = 5.0
CROWN_TOP_M = 10.0
ROOF_M = 12.0
NODATA = -9999.0


def _surfaces() -> tuple[np.ndarray, np.ndarray]:
    n = round(SIZE_M / RES)
    centres = (np.arange(n) + 0.5) * RES
    x = X0 + centres[None, :]
    y = Y0 + SIZE_M - centres[:, None]
    dsm = np.zeros((n, n), dtype=np.float32)
    dsm[(x < X0 + 100) & (y > Y0 + 100)] = ROOF_M
    dsm[(x - TREE_XY[0]) ** 2 + (y - TREE_XY[1]) ** 2 <= CROWN_RADIUS_M**2] = CROWN_TOP_M
    return dsm, np.zeros_like(dsm)


def _write(folder: Path, *, with_dtm: bool, dtm_res: float = RES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    small_landcover().to_file(folder / "landcover.gpkg", layer="landcover", driver="GPKG")
    dsm, dtm = _surfaces()
    transform = Affine(RES, 0, X0, 0, -RES, Y0 + SIZE_M)
    step = round(dtm_res / RES)
    for name, data, tf in (("dsm", dsm, transform),
                           ("dtm", dtm[::step, ::step], Affine(dtm_res, 0, X0, 0, -dtm_res, Y0 + SIZE_M))):
        with rasterio.open(folder / f"{name}.tif", "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                           count=1, dtype="float32", crs="EPSG:28992", transform=tf, nodata=NODATA) as ds:
            ds.write(data, 1)
    dtm_line = "  dtm: {path: dtm.tif}\n" if with_dtm else ""
    config = folder / "kaartlaag.yaml"
    config.write_text(textwrap.dedent(
        """\
        region: {name: Proefdorp, crs: "EPSG:28992"}
        catalog: ./catalog
        sources:
          landcover: {path: landcover.gpkg, layer: landcover}
          dsm: {path: dsm.tif}
        """
    ) + dtm_line)
    return config


def _built(config: Path, window_cells: int = 4096) -> tuple[dict[str, np.ndarray], dict[str, object], Affine]:
    build(load_config(config), ["heat-stress"], ctx=BuildContext(chunk_size=64, window_cells=window_cells),
          console=Console(quiet=True))
    root = load_config(config).catalog_dir
    entry = cat.read_catalog(root).layers["heat-stress"]
    bands = {}
    for name in ("uhi_max", *SHADE_RASTERS):
        with rasterio.open(root / entry.file(name, "raster").path) as ds:
            bands[name], transform = ds.read(1), ds.transform
    return bands, entry.metadata, transform


def _at(band: np.ndarray, transform: Affine, x: float, y: float) -> float:
    col, row = ~transform * (x, y)
    return float(band[int(row), int(col)])


@pytest.fixture(scope="module")
def person(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], dict[str, object], Affine]:
    return _built(_write(tmp_path_factory.mktemp("person"), with_dtm=True))


def test_the_ground_under_a_crown_is_shaded_and_roofs_have_no_street_value(
    person: tuple[dict[str, np.ndarray], dict[str, object], Affine], tmp_path: Path
) -> None:
    bands, meta, transform = person
    under = 100 * (1 - CROWN_TRANSMISSIVITY)
    assert _at(bands["shade_pct_1500"], transform, *TREE_XY) == pytest.approx(under)
    assert _at(bands["shade_pct_afternoon"], transform, *TREE_XY) == pytest.approx(under)
    open_street = (X0 + 180.0, Y0 + 110.0)
    assert _at(bands["shade_pct_1500"], transform, *open_street) == 0.0
    roof = (X0 + 50.0, Y0 + 150.0)
    for name in bands:
        assert np.isnan(_at(bands[name], transform, *roof)), name
    assert meta["view"]["kind"] == "person on the ground"  # type: ignore[index]
    assert meta["roof_cells"] == 100 * 100 and meta["canopy_cells"] > 0
    # The sky under the crown is closed by it: a higher heat island there than on the open street.
    assert _at(bands["uhi_max"], transform, *TREE_XY) > _at(bands["uhi_max"], transform, *open_street)

    surface, meta_s, transform_s = _built(_write(tmp_path / "surface", with_dtm=False))
    assert _at(surface["shade_pct_1500"], transform_s, *TREE_XY) == 0.0  # the sunlit crown top
    assert not np.isnan(_at(surface["shade_pct_1500"], transform_s, *roof))
    assert meta_s["view"] == "surface" and SURFACE_VIEW_NOTE in meta_s["notes"]  # type: ignore[operator]


def test_the_person_view_in_windows_equals_one_window(
    person: tuple[dict[str, np.ndarray], dict[str, object], Affine], tmp_path: Path
) -> None:
    one, _, _ = person
    many, meta, _ = _built(_write(tmp_path / "many", with_dtm=True), window_cells=48)
    assert meta["windows"] == 25
    for name in SHADE_RASTERS:
        assert np.array_equal(one[name], many[name], equal_nan=True), name
    # A building running up to the edge of the data: GDAL's warp used to carry its roof one cell beyond
    # the DSM in some windows (geo.heat.dsm_on_grid now blanks cells outside the source).
    assert np.nanmax(np.abs(one["uhi_max"] - many["uhi_max"])) < 1e-5


def test_a_dtm_on_another_grid_is_resampled_and_said_so(tmp_path: Path) -> None:
    from layers.person_view import DTM_RESAMPLED_NOTE

    bands, meta, transform = _built(_write(tmp_path / "coarse", with_dtm=True, dtm_res=1.0))
    assert DTM_RESAMPLED_NOTE in meta["notes"]  # type: ignore[operator]
    assert _at(bands["shade_pct_1500"], transform, *TREE_XY) == pytest.approx(100 * (1 - CROWN_TRANSMISSIVITY))
