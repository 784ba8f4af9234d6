"""QGIS opens the WMTS capabilities and draws the tiles at the right place (RD New and Web Mercator).

A real ``kaartlaag serve`` process serves the built test catalog on loopback; QGIS
(PyQGIS of the system Python, Debian's ``python3-qgis`` and ``qgis-providers``) adds
each raster layer through its ``wms`` provider, the way a GIS user pastes the
capabilities URL, and renders a map of a known RD New extent headless
(``tests/qgis_render.py``). Every pixel of the rendering is compared with the colour
the layer's default style gives the COG cell under the pixel centre (transparent
where the COG has no data or the map lies outside it). Pixels within one pixel of a
colour border (one COG cell, 1 m) are left out: QGIS resamples tiles of the nearest
zoom level (and, for Web Mercator, reprojects them), which may move a border by up
to one cell of that level; a tile drawn a tile off would fail everywhere else.

Skipped only when ``/usr/bin/python3`` cannot import ``qgis.core``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from styles.raster import RasterStyle
from tests.conftest import ORIGIN, SIZE_M
from tests.test_server_support import catalog_copy, decode_png, hex_rgb, running_server
from tiles.pmtiles import archive_info
from tiles.prerender import STYLE_KEY
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, WEB_MERCATOR_QUAD

SYSTEM_PYTHON = "/usr/bin/python3"
RENDER_SCRIPT = Path(__file__).with_name("qgis_render.py")
#: Seconds QGIS may take to start, fetch the tiles and render every map.
QGIS_TIMEOUT_S = 300
#: Colour difference (per 8-bit channel) allowed for QGIS's resampling of opaque pixels.
CHANNEL_TOLERANCE = 2
#: Alpha above which a pixel counts as drawn.
OPAQUE = 128
#: Distance (m) from a colour border within which pixels may differ: one cell of the COG. QGIS draws
#: the deepest level the capabilities list and resamples it (for Web Mercator also reprojects it),
#: which may move a border by up to one cell of that level (0.84 m in RD, 0.73 m in Web Mercator).
BORDER_M = 1.0
X0, Y0 = ORIGIN
#: Map views in EPSG:28992: (name, extent, metres per pixel). The whole layer with a 20 m margin at
#: 1 m per pixel (pre-rendered levels), and 60 x 60 m around the centre at 0.25 m (tiles rendered on demand).
MARGIN_M = 20.0
VIEWS = {
    "overview": ((X0 - MARGIN_M, Y0 - MARGIN_M, X0 + SIZE_M + MARGIN_M, Y0 + SIZE_M + MARGIN_M), 1.0),
    "detail": ((X0 + 70.0, Y0 + 70.0, X0 + 130.0, Y0 + 130.0), 0.25),
}
TILE_MATRIX_SETS = {NETHERLANDS_RD_NEW_QUAD: "EPSG:28992", WEB_MERCATOR_QUAD: "EPSG:3857"}
LAYERS = ("landcover", "hoogte")


def _qgis_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False, timeout=120)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _qgis_available(), reason=f"{SYSTEM_PYTHON} cannot import qgis.core (apt-get install python3-qgis)"
)


def _layer_files(catalog_dir: Path, layer: str) -> list[dict[str, Any]]:
    return list(json.loads((catalog_dir / "catalog.json").read_text())["layers"][layer]["files"])


def _style(catalog_dir: Path, layer: str) -> RasterStyle:
    archive = next(
        f["path"] for f in _layer_files(catalog_dir, layer) if f["name"].endswith(f".{NETHERLANDS_RD_NEW_QUAD}.pmtiles")
    )
    return RasterStyle.from_json(json.dumps(archive_info(catalog_dir / archive)["metadata"][STYLE_KEY]))


def expected_image(catalog_dir: Path, layer: str, extent: tuple[float, ...], res: float) -> np.ndarray:
    """RGBA image (rows, cols, 4) of the default style of the COG cell under each pixel centre."""
    cog = catalog_dir / next(f["path"] for f in _layer_files(catalog_dir, layer) if f["format"] == "cog")
    style = _style(catalog_dir, layer)
    xmin, ymin, xmax, ymax = extent
    cols, rows = round((xmax - xmin) / res), round((ymax - ymin) / res)
    xs = xmin + (np.arange(cols) + 0.5) * res
    ys = ymax - (np.arange(rows) + 0.5) * res
    with rasterio.open(cog) as ds:
        data = ds.read(1, masked=True)
        transform = ds.transform
    assert transform.b == transform.d == 0, "the test COGs are north-up"
    gx, gy = np.meshgrid(xs, ys)
    px, py = (gx - transform.c) / transform.a, (gy - transform.f) / transform.e
    c, r = np.floor(px).astype(int), np.floor(py).astype(int)
    inside = (c >= 0) & (c < data.shape[1]) & (r >= 0) & (r < data.shape[0])
    values = np.ma.masked_all((rows, cols), dtype="float64")
    values[inside] = data[r[inside], c[inside]]
    image = np.zeros((rows, cols, 4), dtype=np.uint8)
    valid = ~np.ma.getmaskarray(values) & np.isfinite(values.filled(np.nan))
    for cls in style.classes:
        if style.kind == "classified":
            hit = valid & (values.filled(np.nan) == cls.value)
        else:
            v = values.filled(np.nan)
            hit = valid & (v >= (-np.inf if cls.lower is None else cls.lower))
            hit &= v < (np.inf if cls.upper is None else cls.upper)
        image[hit] = (*hex_rgb(cls.colour), 255)
    return image


def border_mask(image: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` pixels of a place where the colour of ``image`` changes."""
    flat = image.astype(np.int64) @ np.array([1 << 24, 1 << 16, 1 << 8, 1], dtype=np.int64)
    size = 2 * radius + 1
    return np.asarray(ndimage.maximum_filter(flat, size=size) != ndimage.minimum_filter(flat, size=size))


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return catalog_copy(tmp_path_factory, "qgis")


@pytest.fixture(scope="module")
def server(catalog_dir: Path) -> Iterator[str]:
    with running_server(catalog_dir) as base:
        yield base


@pytest.fixture(scope="module")
def renders(server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every (layer, tile matrix set, view) rendered by one headless QGIS process: its report and PNG path."""
    work = tmp_path_factory.mktemp("qgis-run")
    home = work / "home"
    runtime = work / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    jobs = []
    for layer in LAYERS:
        for tms_id, crs in TILE_MATRIX_SETS.items():
            uri = (
                f"crs={crs}&format=image/png&layers={layer}&styles=default&tileMatrixSet={tms_id}"
                f"&url={server}/wmts/WMTSCapabilities.xml"
            )
            for view, (extent, res) in VIEWS.items():
                size = [round((extent[2] - extent[0]) / res), round((extent[3] - extent[1]) / res)]
                png = work / f"{layer}-{tms_id}-{view}.png"
                jobs.append(
                    {
                        "key": [layer, tms_id, view],
                        "uri": uri,
                        "crs": "EPSG:28992",
                        "extent": extent,
                        "size": size,
                        "png": str(png),
                    }
                )
    job_file = work / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # QGIS keeps its profile and network cache here
        "XDG_RUNTIME_DIR": str(runtime),
        "QT_QPA_PLATFORM": "offscreen",
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    done = subprocess.run(
        [SYSTEM_PYTHON, str(RENDER_SCRIPT), str(job_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=QGIS_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reports = json.loads(done.stdout.strip().splitlines()[-1])
    return {tuple(r["key"]): r for r in reports}  # type: ignore[misc]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("tms_id", list(TILE_MATRIX_SETS))
def test_qgis_adds_the_wmts_layer(renders: dict[tuple[str, str, str], dict[str, Any]], layer: str, tms_id: str) -> None:
    report = renders[(layer, tms_id, "overview")]
    assert report["valid"], report
    assert report["layer_crs"] == TILE_MATRIX_SETS[tms_id]
    if tms_id == NETHERLANDS_RD_NEW_QUAD:
        # The layer's extent as QGIS read it from the capabilities: the region, to the centimetre.
        assert report["layer_extent"] == pytest.approx([X0, Y0, X0 + SIZE_M, Y0 + SIZE_M], abs=0.01)
    assert report["render_errors"] == [] and report["saved"]


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("tms_id", list(TILE_MATRIX_SETS))
def test_qgis_draws_tiles_at_the_right_place(
    renders: dict[tuple[str, str, str], dict[str, Any]], catalog_dir: Path, layer: str, tms_id: str, view: str
) -> None:
    report = renders[(layer, tms_id, view)]
    assert report["valid"] and report["saved"], report
    got = decode_png(Path(report["png"]).read_bytes()).astype(int)
    extent, res = VIEWS[view]
    want = expected_image(catalog_dir, layer, extent, res).astype(int)
    assert got.shape == want.shape
    # The view holds data and (for the overview) the transparent margin around it.
    assert (want[..., 3] == 255).mean() > 0.5
    if view == "overview":
        assert (want[..., 3] == 0).mean() > 0.1
    check = ~border_mask(want, math.ceil(BORDER_M / res))
    drawn = got[..., 3] > OPAQUE
    assert np.array_equal(drawn[check], want[..., 3][check] == 255), "data drawn where there is none, or missing"
    both = check & drawn
    diff = np.abs(got[..., :3] - want[..., :3]).max(axis=-1)
    bad = both & (diff > CHANNEL_TOLERANCE)
    rows, cols = np.nonzero(bad)
    assert not bad.any(), f"{bad.sum()} pixels of the wrong colour, first at row/col {rows[:3]}, {cols[:3]}"
