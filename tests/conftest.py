"""Shared fixtures: the real samples in ../shared/data and a small hand-built region."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pytest
from shapely.geometry import box

if TYPE_CHECKING:
    from geo.report import AdapterResult

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
#: The real BGT extract of Otterlo (PDOK, 2020-08), read by several modules.
OTTERLO_BGT = SHARED_DATA / "bgt-otterlo" / "otterlo.zip"

#: Hand-built region: 200 x 200 m at RD (200000, 450000), four land-cover quadrants.
ORIGIN = (200_000.0, 450_000.0)
SIZE_M = 200.0


def small_landcover() -> gpd.GeoDataFrame:
    """Four 100 x 100 m quadrants (building, road_paved, green_low, water), a planar partition."""
    x0, y0 = ORIGIN
    half = SIZE_M / 2
    rows = [
        ("building", box(x0, y0 + half, x0 + half, y0 + SIZE_M)),
        ("road_paved", box(x0 + half, y0 + half, x0 + SIZE_M, y0 + SIZE_M)),
        ("green_low", box(x0, y0, x0 + half, y0 + half)),
        ("water", box(x0 + half, y0, x0 + SIZE_M, y0 + half)),
    ]
    return gpd.GeoDataFrame(
        {
            "class": [r[0] for r in rows],
            "source_class": [f"test:{r[0]}" for r in rows],
            "source_id": [f"lc{i}" for i in range(len(rows))],
            "public": [False, True, True, True],
        },
        geometry=[r[1] for r in rows],
        crs="EPSG:28992",
    )


def write_small_region(folder: Path) -> Path:
    """Write the hand-built region's sources and config into ``folder``; return the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    small_landcover().to_file(folder / "landcover.gpkg", layer="landcover", driver="GPKG")
    x0, y0 = ORIGIN
    buildings = gpd.GeoDataFrame(
        {"id": ["0000100000000001"], "status": ["Pand in gebruik"], "year": [1930]},
        geometry=[box(x0, y0 + SIZE_M / 2, x0 + SIZE_M / 2, y0 + SIZE_M)],
        crs="EPSG:28992",
    )
    buildings.to_file(folder / "buildings.gpkg", driver="GPKG")
    config = folder / "kaartlaag.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            region: {name: Proefdorp, crs: "EPSG:28992"}
            catalog: ./catalog
            sources:
              landcover: {path: landcover.gpkg, layer: landcover}
              buildings: {path: buildings.gpkg}
            layers:
              landcover: {raster_resolution_m: 1.0}
            """
        )
    )
    return config


@pytest.fixture
def small_region(tmp_path: Path) -> Path:
    """Config path of a fresh hand-built region in tmp_path."""
    return write_small_region(tmp_path / "region")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real registry samples (read-only)."""
    assert SHARED_DATA.exists(), f"expected the shared samples at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def otterlo_bgt_read() -> AdapterResult:
    """The Otterlo BGT read once per session with ``geo.bgt.read_bgt`` (RD New; about 4 s a read).

    Shared by the modules that only need the adapter's answer; take copies (``otterlo_bgt``) when a
    test might change a frame. ``tests/test_bgt.py`` reads it itself, because it times the read.
    """
    from geo.bgt import read_bgt

    if not OTTERLO_BGT.is_file():
        pytest.skip(f"{OTTERLO_BGT} is not present")
    return read_bgt(OTTERLO_BGT)


def otterlo_copy(result: AdapterResult, source: str) -> gpd.GeoDataFrame:
    """A private copy of one source (``landcover``, ``buildings``, ``trees``) of the Otterlo BGT read."""
    return result.sources[source].copy()


def write_delft_config(folder: Path, shared_data: Path, extra_sources: str = "") -> Path:
    """A region config of the real Delft samples (BGT database + both AHN3 LAZ tiles) in ``folder``.

    Args:
        extra_sources: more ``sources:`` lines, each indented by two spaces (e.g. hand-made buurten).
    """
    laz = [shared_data / "ahn3-delft" / f"ahn3_cropped_{i}.laz" for i in (1, 2)]
    config = folder / "kaartlaag.yaml"
    config.write_text(
        'region: {name: Delft, crs: "EPSG:28992"}\n'
        "catalog: ./catalog\n"
        "sources:\n"
        f"  bgt: {{path: {shared_data / 'bgt-delft'}}}\n"
        f'  ahn: {{laz: [{laz[0]}, {laz[1]}], crs: "EPSG:28992"}}\n' + extra_sources
    )
    return config


#: The part of the Delft AHN3 tiles the Delft BGT database maps (TU campus; x 84,808-85,072, y 447,422-447,641, RD m).
DELFT_CAMPUS = (84_808.0, 447_422.0, 85_072.0, 447_641.0)
#: Four dwellings on the campus (made up: the sample has no BAG), RD m.
DELFT_HOMES = [(84_850.0, 447_450.0), (84_950.0, 447_520.0), (85_040.0, 447_600.0), (84_900.0, 447_620.0)]
#: The layers of the session's Delft catalog.
DELFT_LAYERS = ["landcover", "green-paved", "heat-stress", "cool-places", "pet"]


@pytest.fixture(scope="session")
def delft_catalog(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """Catalog of ``DELFT_LAYERS`` built once per session on the real Delft samples (BGT database, both
    AHN3 LAZ tiles), one buurt over ``DELFT_CAMPUS`` and the dwellings ``DELFT_HOMES``. Tests only read it."""
    from rich.console import Console
    from shapely.geometry import Point

    from layers.config import load_config
    from layers.engine import build

    folder = tmp_path_factory.mktemp("delft")
    gpd.GeoDataFrame({"code": ["BU05030000"], "name": ["TU-wijk (proef)"]}, geometry=[box(*DELFT_CAMPUS)],
                     crs="EPSG:28992").to_file(folder / "buurt.gpkg", driver="GPKG")
    gpd.GeoDataFrame(
        {"id": [f"050301000000000{i}" for i in range(len(DELFT_HOMES))], "building_id": "", "use": "woonfunctie",
         "status": "Verblijfsobject in gebruik"},
        geometry=[Point(xy) for xy in DELFT_HOMES], crs="EPSG:28992",
    ).to_file(folder / "adressen.gpkg", driver="GPKG")
    config = write_delft_config(folder, shared_data, "  neighbourhoods: {path: buurt.gpkg}\n"
                                                      "  addresses: {path: adressen.gpkg}\n")
    summary = build(load_config(config), DELFT_LAYERS, console=Console(quiet=True))
    assert sorted(summary.built) == sorted(DELFT_LAYERS)
    return config.parent / "catalog"


#: Two municipalities on the hand-built region: GM0001 holds the west half and the south-east strip,
#: GM0002 the north-east block (see ``write_two_municipality_region``).
TWO_MUNICIPALITIES = {"GM0001": "Aalst", "GM0002": "Bosch"}


def two_municipality_buurten() -> gpd.GeoDataFrame:
    """Three buurten over the four quadrants of ``small_landcover``, in two municipalities.

    ``BU00010001`` West (x0..x0+100, the building and the green quadrant, 20,000 m2, GM0001),
    ``BU00010002`` Zuidoost (x0+100..x0+200, y0..y0+50, water, 5,000 m2, GM0001) and
    ``BU00020001`` Noordoost (x0+100..x0+200, y0+50..y0+200: 10,000 m2 road and 5,000 m2 water, GM0002).
    """
    x0, y0 = ORIGIN
    rows = [
        ("BU00010001", "West", "GM0001", box(x0, y0, x0 + 100, y0 + 200)),
        ("BU00010002", "Zuidoost", "GM0001", box(x0 + 100, y0, x0 + 200, y0 + 50)),
        ("BU00020001", "Noordoost", "GM0002", box(x0 + 100, y0 + 50, x0 + 200, y0 + 200)),
    ]
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows], "municipality_code": [r[2] for r in rows],
         "municipality_name": [TWO_MUNICIPALITIES[r[2]] for r in rows]},
        geometry=[r[3] for r in rows], crs="EPSG:28992",
    )


def write_two_municipality_region(folder: Path) -> Path:
    """The hand-built region with the buurten of ``two_municipality_buurten`` and ``region.municipalities``."""
    config = write_small_region(folder)
    two_municipality_buurten().to_file(folder / "buurten.gpkg", layer="buurten", driver="GPKG")
    text = config.read_text().replace(
        'region: {name: Proefdorp, crs: "EPSG:28992"}',
        'region: {name: Proefdorp, crs: "EPSG:28992", municipalities: [GM0001, GM0002]}',
    ).replace("sources:\n", "sources:\n  neighbourhoods: {path: buurten.gpkg, layer: buurten}\n")
    config.write_text(text)
    return config


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of the two-municipality region built twice (green-paved): the second time with the
    green quadrant (x0..x0+100, y0..y0+100, in buurt West) turned into paved_other by hand."""
    import io

    from rich.console import Console

    from layers.config import load_config
    from layers.engine import build

    folder = tmp_path_factory.mktemp("versions") / "region"
    config = write_two_municipality_region(folder)
    quiet = Console(file=io.StringIO())
    build(load_config(config), ["green-paved"], console=quiet)
    changed = small_landcover()
    changed.loc[changed["class"] == "green_low", "class"] = "paved_other"
    changed.to_file(folder / "landcover.gpkg", layer="landcover", driver="GPKG")
    build(load_config(config), ["green-paved"], console=quiet)
    return config


#: How the hand-built heat-stress region is built locally: two worker threads, 64-cell chunks (one window).
HEAT_REGION_CTX = {"workers": 2, "chunk_size": 64}


@pytest.fixture(scope="session")
def heat_region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The hand-built heat-stress region of ``tests.test_heat_stress`` built once, locally (``HEAT_REGION_CTX``).

    Returns its config path and the layers the build reported built. Read by the hand-built heat
    test, the dask-cluster identity and the one-window side of the windowed build; tests only read it.
    """
    from rich.console import Console

    from layers.base import BuildContext
    from layers.config import load_config
    from layers.engine import build
    from tests.test_heat_stress import _write_region

    config = _write_region(tmp_path_factory.mktemp("heat") / "region")
    summary = build(load_config(config), ["heat-stress"], ctx=BuildContext(**HEAT_REGION_CTX),
                    console=Console(quiet=True))
    return config, list(summary.built)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Workers of the session's Dask cluster (one thread each).
DASK_WORKERS = 2


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a real Dask cluster on loopback (``dask scheduler`` and two ``dask worker`` processes).

    Started once per session for the tests that compare a build on a cluster with a local one
    (a start costs several seconds); the builds only submit work to it, so sharing it is safe.
    """
    import subprocess
    import sys

    from distributed import Client

    dask = Path(sys.executable).parent / "dask"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # type: ignore[call-overload]
    try:
        local = tmp_path_factory.mktemp("dask")
        for _ in range(DASK_WORKERS):
            procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--local-directory", str(local)], **quiet))  # type: ignore[call-overload]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(DASK_WORKERS, timeout=60)
        yield address
        with Client(address, timeout="30s") as client:
            client.shutdown()  # scheduler and workers close at once (SIGTERM alone: about 8 s of graceful closing)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of the 1 km demo built once per session for the assessment and map tests (``tests.demo_catalog``)."""
    from tests.demo_catalog import build_demo_catalog

    return build_demo_catalog(tmp_path_factory.mktemp("demo-catalog"))
