"""The surface proxy (geo.surface_proxy): hand-built known answers, its wiring as a source, and its labels."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from shapely.geometry import Point, box

from geo.errors import ConfigError
from geo.grid import Grid
from geo.surface_proxy import (
    DEFAULT_BUILDING_HEIGHT_M,
    DEFAULT_TREE_HEIGHT_M,
    DEFAULT_WOOD_HEIGHT_M,
    PROXY_LABEL,
    SURFACE_PROXY_SOURCE,
    ProxyHeights,
    read_surface_proxy,
    surface_rasters,
)
from layers import catalog as cat
from layers.config import load_config, parse_config
from layers.engine import build
from layers.green_inputs import DEFAULT_CROWN_DIAMETER_PARAM
from layers.sources import SourceSet

X0, Y0 = 150_000.0, 420_000.0
CRS = "EPSG:28992"
RES = 0.5
CELL_M2 = RES * RES
HEIGHTS = ProxyHeights(crown_diameter_m=DEFAULT_CROWN_DIAMETER_PARAM.default)
_SCRIPT = Path(sys.executable).with_name("kaartlaag")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "services.cli"]


def grid(size_m: float = 100.0) -> Grid:
    return Grid.from_bounds((X0, Y0, X0 + size_m, Y0 + size_m), RES, CRS)  # type: ignore[arg-type]


def buildings(*rows: tuple[object, float | None]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"b{i}" for i in range(len(rows))],
                             "height_m": pd.array([r[1] for r in rows], dtype="Float64")},
                            geometry=[r[0] for r in rows], crs=CRS)


def trees(*rows: tuple[float, float, float | None, float | None]) -> gpd.GeoDataFrame:
    """Tree points ``(x, y, crown_diameter_m, height_m)`` (None: unknown)."""
    return gpd.GeoDataFrame({"id": [f"t{i}" for i in range(len(rows))],
                             "crown_diameter_m": pd.array([r[2] for r in rows], dtype="Float64"),
                             "height_m": pd.array([r[3] for r in rows], dtype="Float64")},
                            geometry=[Point(r[0], r[1]) for r in rows], crs=CRS)


def landcover(*rows: tuple[str, str, object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"class": [r[0] for r in rows], "source_class": [r[1] for r in rows],
                             "source_id": [f"lc{i}" for i in range(len(rows))]},
                            geometry=[r[2] for r in rows], crs=CRS)


def disc_cells(g: Grid, x: float, y: float, r: float) -> np.ndarray:
    """Brute force: cells whose centre lies within ``r`` of (x, y)."""
    xs = g.transform.c + (np.arange(g.width) + 0.5) * RES
    ys = g.transform.f - (np.arange(g.height) + 0.5) * RES
    return (xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2 <= r * r


def test_a_footprint_is_extruded_to_exactly_the_height() -> None:
    g = grid()
    house = box(X0 + 10, Y0 + 10, X0 + 30, Y0 + 20)  # 20 x 10 m = 200 m2 = 800 cells
    tower = box(X0 + 60, Y0 + 60, X0 + 70, Y0 + 70)
    dsm, dtm = surface_rasters(g, buildings=buildings((house, None), (tower, 31.5)), trees=None, landcover=None,
                               heights=HEIGHTS, coverage=None)
    band = dsm.band("dsm")
    assert np.count_nonzero(band == DEFAULT_BUILDING_HEIGHT_M) == 800
    assert np.count_nonzero(band == 31.5) == 400  # a height_m given is used
    assert np.count_nonzero(band == 0.0) == g.width * g.height - 1200
    # Another building height parameter moves every default block, not the given one.
    other, _ = surface_rasters(g, buildings=buildings((house, None), (tower, 31.5)), trees=None, landcover=None,
                               heights=ProxyHeights(crown_diameter_m=6.0, building_height_m=12.0), coverage=None)
    assert np.count_nonzero(other.band("dsm") == 12.0) == 800 and np.count_nonzero(other.band("dsm") == 31.5) == 400
    assert (dtm.band("dtm") == 0.0).all()


def test_a_tree_point_gives_a_disc_of_the_diameter_at_the_height() -> None:
    g = grid()
    dsm, _ = surface_rasters(g, buildings=None, trees=trees((X0 + 25.0, Y0 + 25.0, None, None),
                                                            (X0 + 70.0, Y0 + 70.0, 10.0, 14.0)),
                             landcover=None, heights=HEIGHTS, coverage=None)
    band = dsm.band("dsm")
    default = disc_cells(g, X0 + 25, Y0 + 25, DEFAULT_CROWN_DIAMETER_PARAM.default / 2)
    given = disc_cells(g, X0 + 70, Y0 + 70, 5.0)
    assert ((band == DEFAULT_TREE_HEIGHT_M) == default).all()
    assert ((band == 14.0) == given).all()
    # The discs have the area of the crowns (cell-centre rule): pi r^2 within a few cells.
    assert default.sum() * CELL_M2 == pytest.approx(math.pi * 3.0**2, abs=1.0)
    assert given.sum() * CELL_M2 == pytest.approx(math.pi * 5.0**2, abs=1.5)
    assert np.count_nonzero(band > 0) == default.sum() + given.sum()


def test_woods_at_the_canopy_height_other_green_stays_on_the_ground() -> None:
    g = grid()
    cover = landcover(
        ("green_trees", "begroeidterreindeel:loofbos", box(X0, Y0, X0 + 40, Y0 + 40)),
        ("green_trees", "begroeidterreindeel:naaldbos", box(X0 + 40, Y0, X0 + 60, Y0 + 40)),
        ("green_trees", "begroeidterreindeel:gemengd bos", box(X0 + 60, Y0, X0 + 80, Y0 + 40)),
        ("green_trees", "begroeidterreindeel:houtwal", box(X0, Y0 + 40, X0 + 20, Y0 + 60)),
        ("green_low", "begroeidterreindeel:groenvoorziening", box(X0, Y0 + 60, X0 + 100, Y0 + 100)),
    )
    dsm, dtm = surface_rasters(g, buildings=None, trees=None, landcover=cover, heights=HEIGHTS, coverage=None)
    band = dsm.band("dsm")
    assert np.count_nonzero(band == DEFAULT_WOOD_HEIGHT_M) * CELL_M2 == 80 * 40  # the three forest types
    assert np.count_nonzero(band > 0) * CELL_M2 == 80 * 40  # houtwal and the lawn stay on the ground
    wider = ProxyHeights(crown_diameter_m=6.0, wood_height_m=22.0,
                         wood_source_classes=("begroeidterreindeel:houtwal",))
    other, _ = surface_rasters(g, buildings=None, trees=None, landcover=cover, heights=wider, coverage=None)
    assert np.count_nonzero(other.band("dsm") == 22.0) * CELL_M2 == 20 * 20
    assert np.count_nonzero(other.band("dsm") > 0) * CELL_M2 == 20 * 20
    assert (dtm.band("dtm") == 0.0).all()


def test_highest_wins_and_outside_the_registers_is_nodata() -> None:
    g = grid()
    roof = box(X0 + 20, Y0 + 20, X0 + 40, Y0 + 40)
    dsm, dtm = surface_rasters(g, buildings=buildings((roof, None)), trees=trees((X0 + 40.0, Y0 + 30.0, 8.0, 12.0)),
                               landcover=None, heights=HEIGHTS, coverage=(X0, Y0, X0 + 50, Y0 + 100))
    band = dsm.band("dsm")
    # The crown over the roof stands above it (12 m over an 8 m roof); the roof elsewhere is 8 m.
    row, col = int((g.transform.f - (Y0 + 30.25)) / RES), int((X0 + 38.25 - g.transform.c) / RES)
    assert band[row, col] == 12.0
    assert band[int((g.transform.f - (Y0 + 25.25)) / RES), int((X0 + 22.25 - g.transform.c) / RES)] == 8.0
    # Cells whose centre is east of x0 + 50 are outside the registers: no data in both, as AHN outside its tiles.
    assert np.isnan(band[:, 100:]).all() and np.isnan(dtm.band("dtm")[:, 100:]).all()
    assert np.isfinite(band[:, :100]).all() and (dtm.band("dtm")[:, :100] == 0.0).all()


def test_the_adapter_labels_itself_and_counts_the_whole_sources() -> None:
    b = buildings((box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20), None), (box(X0 + 80, Y0 + 80, X0 + 90, Y0 + 90), 6.0))
    t = trees((X0 + 50.0, Y0 + 50.0, None, None))
    result = read_surface_proxy((X0, Y0, X0 + 30, Y0 + 30), crs=CRS, buildings=b, trees=t, landcover=None,
                                heights=HEIGHTS)
    counts = result.report.counts
    assert (counts["buildings"], counts["buildings_height_given"], counts["buildings_default_height"]) == (2, 1, 1)
    assert (counts["trees"], counts["trees_crown_given"], counts["trees_height_given"]) == (1, 0, 0)
    note = result.report.notes[0]
    assert note.startswith(PROXY_LABEL) and "not AHN" in note
    assert f"building footprints at {DEFAULT_BUILDING_HEIGHT_M:g} m" in note
    assert f"woods (loofbos, naaldbos, gemengd bos) at {DEFAULT_WOOD_HEIGHT_M:g} m" in note
    assert result.sources["dsm"].data.shape == (1, 60, 60)
    with pytest.raises(ValueError, match="needs buildings or land cover"):
        read_surface_proxy((X0, Y0, X0 + 30, Y0 + 30), crs=CRS, buildings=None, trees=t, landcover=None,
                           heights=HEIGHTS)
    with pytest.raises(ValueError, match="building_height_m"):
        ProxyHeights(crown_diameter_m=6.0, building_height_m=0.0)


# --- wiring: config, sources, check, build ---------------------------------------------------------------


def _region(folder: Path, extra: str = "", layers: str = "") -> Path:
    """A 120 x 120 m public lawn with a 30 x 30 m loofbos, one house, one street tree, two dwellings, one buurt."""
    folder.mkdir(parents=True, exist_ok=True)
    lawn = box(X0, Y0, X0 + 120, Y0 + 120).difference(box(X0 + 30, Y0 + 30, X0 + 60, Y0 + 60))
    lawn = lawn.difference(box(X0 + 80, Y0 + 80, X0 + 100, Y0 + 90))
    landcover(
        ("green_low", "begroeidterreindeel:groenvoorziening", lawn),
        ("green_trees", "begroeidterreindeel:loofbos", box(X0 + 30, Y0 + 30, X0 + 60, Y0 + 60)),
        ("building", "pand", box(X0 + 80, Y0 + 80, X0 + 100, Y0 + 90)),
    ).assign(public=pd.array([None, None, None], dtype="boolean")).to_file(folder / "landcover.gpkg")
    gpd.GeoDataFrame({"id": ["0000100000000001"], "status": ["Pand in gebruik"]},
                     geometry=[box(X0 + 80, Y0 + 80, X0 + 100, Y0 + 90)], crs=CRS).to_file(folder / "buildings.gpkg")
    trees((X0 + 10.0, Y0 + 100.0, None, None)).to_file(folder / "trees.gpkg")
    gpd.GeoDataFrame({"id": ["a1", "a2"], "building_id": ["0000100000000001"] * 2,
                      "use": ["woonfunctie"] * 2, "status": ["Verblijfsobject in gebruik"] * 2},
                     geometry=[Point(X0 + 90, Y0 + 85), Point(X0 + 85, Y0 + 85)], crs=CRS).to_file(
        folder / "addresses.gpkg")
    gpd.GeoDataFrame({"code": ["BU00000001"], "name": ["Proefbuurt"]}, geometry=[box(X0, Y0, X0 + 120, Y0 + 120)],
                     crs=CRS).to_file(folder / "buurten.gpkg")
    config = folder / "kaartlaag.yaml"
    config.write_text(
        f'region: {{name: Proef, crs: "{CRS}"}}\ncatalog: ./catalog\nsources:\n'
        "  landcover: {path: landcover.gpkg}\n  buildings: {path: buildings.gpkg}\n  trees: {path: trees.gpkg}\n"
        "  addresses: {path: addresses.gpkg}\n  neighbourhoods: {path: buurten.gpkg}\n"
        f"{extra}{layers}",
        encoding="utf-8",
    )
    return config


def test_the_proxy_provides_dsm_and_dtm_only_without_a_measured_surface(tmp_path: Path) -> None:
    base = {"region": {"name": "P"}, "sources": {"bgt": {"path": "bgt.zip"}}}
    cfg = parse_config({**base, "sources": {**base["sources"], "surface_proxy": {}}}, tmp_path)
    assert {n: cfg.source_providers()[n] for n in ("dsm", "dtm")} == {"dsm": "surface_proxy", "dtm": "surface_proxy"}
    assert cfg.sources.surface_proxy is not None
    assert cfg.sources.surface_proxy.heights() == HEIGHTS  # defaults: the shared crown diameter
    # A real AHN always wins, for both rasters.
    ahn = parse_config({**base, "sources": {**base["sources"], "surface_proxy": {}, "ahn": {"laz": ["a.laz"]}}},
                       tmp_path)
    assert {n: ahn.source_providers()[n] for n in ("dsm", "dtm")} == {"dsm": "ahn", "dtm": "ahn"}
    # An AHN DSM without a DTM is not completed with the proxy's flat terrain: the two never mix.
    dsm_only = parse_config({**base, "sources": {**base["sources"], "surface_proxy": {}, "ahn": {"dsm": "d.tif"}}},
                            tmp_path)
    assert dsm_only.source_providers().get("dsm") == "ahn" and "dtm" not in dsm_only.source_providers()
    file_dtm = parse_config({**base, "sources": {**base["sources"], "surface_proxy": {}, "dtm": {"path": "t.tif"}}},
                            tmp_path)
    assert "dsm" not in file_dtm.source_providers() and file_dtm.source_providers()["dtm"] == "dtm"
    # Without it configured nothing changes: a BGT-only region has no dsm.
    assert "dsm" not in parse_config(base, tmp_path).source_providers()


def test_bad_proxy_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\.surface_proxy\.building_heigth_m: unknown key"):
        parse_config({"region": {"name": "P"}, "sources": {"bgt": {"path": "b.zip"},
                                                           "surface_proxy": {"building_heigth_m": 9}}}, tmp_path)
    with pytest.raises(ConfigError, match=r"sources\.surface_proxy\.wood_height_m"):
        parse_config({"region": {"name": "P"}, "sources": {"bgt": {"path": "b.zip"},
                                                           "surface_proxy": {"wood_height_m": -1}}}, tmp_path)
    with pytest.raises(ConfigError, match="needs building footprints or land cover"):
        parse_config({"region": {"name": "P"}, "sources": {"trees": {"path": "t.csv"}, "surface_proxy": {}}},
                     tmp_path)


def test_windows_equal_the_whole_and_the_hash_follows_heights_and_inputs(tmp_path: Path) -> None:
    cfg = load_config(_region(tmp_path / "a", "  surface_proxy: {}\n"))
    sources = SourceSet(cfg)
    whole = sources.load("dsm")
    assert whole.bounds == (X0, Y0, X0 + 120, Y0 + 120) and whole.resolution == (RES, RES)
    assert np.nanmax(whole.data) == DEFAULT_WOOD_HEIGHT_M
    window = sources.load_window("dsm", (X0 + 20, Y0 + 20, X0 + 70, Y0 + 70))
    rows = slice(int((Y0 + 120 - (Y0 + 70)) / RES), int((Y0 + 120 - (Y0 + 20)) / RES))
    cols = slice(int(20 / RES), int(70 / RES))
    assert np.array_equal(window.data[0], whole.data[0][rows, cols])
    assert (sources.load_window("dtm", (X0 + 20, Y0 + 20, X0 + 70, Y0 + 70)).data == 0).all()
    assert [r.source for r in sources.reports].count(SURFACE_PROXY_SOURCE) == 1
    taller = SourceSet(load_config(_region(tmp_path / "b", "  surface_proxy: {building_height_m: 9}\n")))
    assert taller.digest("dsm") != sources.digest("dsm")
    moved = _region(tmp_path / "c", "  surface_proxy: {}\n")
    trees((X0 + 11.0, Y0 + 100.0, None, None)).to_file(moved.parent / "trees.gpkg")
    assert SourceSet(load_config(moved)).digest("dsm") != sources.digest("dsm")


def test_check_names_the_proxy(tmp_path: Path) -> None:
    config = _region(tmp_path, "  surface_proxy: {}\n")
    done = subprocess.run([*CLI, "check", "--config", str(config)], capture_output=True, text=True, check=False,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("dsm" in line and "surface_proxy" in line and "240 x 240 @ 0.5 m" in line for line in lines)
    assert any(line.startswith("surface_proxy: buildings: 1,") for line in lines)
    assert any(line.strip().startswith(PROXY_LABEL) for line in lines)


def test_check_says_the_proxy_is_not_used_beside_ahn(tmp_path: Path) -> None:
    config = _region(tmp_path, "  surface_proxy: {}\n  ahn: {laz: [none.laz]}\n")
    sources = SourceSet(load_config(config))
    assert sources.providers["dsm"] == "ahn"
    assert sources.reports[0].source == SURFACE_PROXY_SOURCE and "not used" in sources.reports[0].notes[0]


def test_cool_places_built_on_the_proxy_say_so(tmp_path: Path) -> None:
    """The wood is a cool place (the ground under its canopy is shaded); the build log names the proxy."""
    config = _region(tmp_path, "  surface_proxy: {}\n")
    summary = build(load_config(config), ["cool-places"], console=Console(quiet=True))
    assert summary.built == ["cool-places"]
    entry = cat.read_catalog(tmp_path / "catalog").layers["cool-places"]
    places = gpd.read_parquet(tmp_path / "catalog" / entry.file("cool-places", "vector").path)
    assert len(places) == 1
    wood = box(X0 + 30, Y0 + 30, X0 + 60, Y0 + 60)
    # The whole wood (900 m2) is shade, plus the shadow it casts onto the lawn towards the north-east.
    assert places.geometry.iloc[0].intersection(wood).area == pytest.approx(900.0, abs=1.0)
    assert places["area_m2"].iloc[0] > 900.0
    assert entry.metadata["view"]["kind"] == "person on the ground"
    log = {r["source"]: r for r in entry.build_log}
    assert log[SURFACE_PROXY_SOURCE]["notes"][0].startswith(PROXY_LABEL)
    assert set(entry.inputs) >= {"dsm", "dtm"}
    assert "surface_proxy" in entry.metadata["attribution"]
    assert entry.metadata["surface_proxy"][0].startswith(PROXY_LABEL)  # the layer's own metadata names the proxy


def test_the_canopy_layers_do_not_read_the_proxy_as_ahn_canopy() -> None:
    import shapely
    from affine import Affine
    from pyproj import CRS

    from geo.raster import Raster
    from layers.base import Extent, LayerInputs, RegionContext
    from layers.green_inputs import ahn_canopy

    flat = np.zeros((1, 4, 4), dtype=np.float32)
    tall = flat + 15.0
    rd = CRS.from_epsg(28992)
    transform = Affine(0.5, 0, 0, 0, -0.5, 2)

    def inputs(provider: str) -> LayerInputs:
        sources = {"dsm": Raster(tall, rd, transform), "dtm": Raster(flat, rd, transform)}
        area = shapely.box(0.0, 0.0, 2.0, 2.0)
        return LayerInputs(sources, {}, Extent(area.bounds, area), RegionContext("r", rd, area),
                           providers={"dsm": provider, "dtm": provider})

    notes: list[str] = []
    assert ahn_canopy(inputs(SURFACE_PROXY_SOURCE), 2.5, notes) is None
    assert "surface proxy" in notes[0]
    assert ahn_canopy(inputs("ahn"), 2.5, []) is not None  # the same surfaces from AHN are canopy
