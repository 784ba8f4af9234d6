"""Tests of the CBS buurten adapter (geo.cbs) on hand-built GeoPackages."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS

from geo.cbs import read_cbs
from geo.crs import RD_NEW
from geo.errors import CRSError, SourceError

SIDE = 500.0  # metres; three buurten in a row along x near Doesburg
ORIGIN = (206_000.0, 447_000.0)


def _squares() -> list[shapely.Polygon]:
    x0, y0 = ORIGIN
    return [shapely.box(x0 + i * SIDE, y0, x0 + (i + 1) * SIDE, y0 + SIDE) for i in range(3)]


def _buurten(path: Path, code: str = "buurtcode", name: str = "buurtnaam", water: str | None = "water",
             crs: CRS | str | None = RD_NEW, layer: str = "buurten") -> Path:
    data = {code: ["BU02210000", "BU02210001", "BU02210009"], name: ["Binnenstad", "Beinum", "IJssel"]}
    if water:
        data[water] = ["NEE", "NEE", "JA"]  # the third polygon is river only
    frame = gpd.GeoDataFrame(data, geometry=_squares(), crs=RD_NEW)
    if crs is None:
        frame = frame.set_crs(None, allow_override=True)
    elif not CRS(crs).equals(RD_NEW):
        frame = frame.to_crs(crs)
    frame.to_file(path, layer=layer, engine="pyogrio")
    return path


def test_recent_columns_and_water_excluded(tmp_path):
    result = read_cbs(_buurten(tmp_path / "wijkenbuurten_2023.gpkg"))
    n = result.sources["neighbourhoods"]
    assert list(n.columns) == ["code", "name", "geometry", "municipality_code", "municipality_name"]
    assert list(n["code"]) == ["BU02210000", "BU02210001"]
    assert list(n["name"]) == ["Binnenstad", "Beinum"]
    assert n.crs.equals(RD_NEW)
    assert n.geometry.area.tolist() == pytest.approx([SIDE * SIDE] * 2)
    assert result.report.counts["water_excluded"] == 1
    assert result.report.counts["read"] == 3
    assert result.report.counts["kept"] == 2


def test_shapefile_era_columns_in_other_layer(tmp_path):
    path = _buurten(tmp_path / "buurt_2017.gpkg", code="BU_CODE", name="BU_NAAM", water="WATER",
                    layer="buurt_2017_v3")
    # a second, non-buurt layer must not confuse the choice
    gpd.GeoDataFrame({"GM_CODE": ["GM0221"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=RD_NEW).to_file(
        path, layer="gemeente_2017_v3", engine="pyogrio")
    n = read_cbs(path).sources["neighbourhoods"]
    assert list(n["code"]) == ["BU02210000", "BU02210001"]
    assert list(n["name"]) == ["Binnenstad", "Beinum"]


def test_reprojects_from_file_crs(tmp_path):
    path = _buurten(tmp_path / "wgs84.gpkg", crs="EPSG:4326", water=None)
    n = read_cbs(path).sources["neighbourhoods"]
    assert n.crs.equals(RD_NEW)
    assert len(n) == 3  # no water column: nothing excluded
    for got, expected in zip(n.geometry, _squares(), strict=True):
        assert got.equals_exact(expected, tolerance=1e-3)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_without_crs_needs_declared_crs(tmp_path):
    path = _buurten(tmp_path / "nocrs.gpkg", crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.gpkg: the file has no CRS"):
        read_cbs(path)
    n = read_cbs(path, declared_crs=RD_NEW).sources["neighbourhoods"]
    assert n.crs.equals(RD_NEW)
    x0, y0 = ORIGIN
    assert n.total_bounds.tolist() == pytest.approx([x0, y0, x0 + 2 * SIDE, y0 + SIDE])


def test_declared_crs_contradicting_file_is_an_error(tmp_path):
    with pytest.raises(CRSError, match="config says"):
        read_cbs(_buurten(tmp_path / "b.gpkg"), declared_crs=CRS.from_epsg(4326))


def test_layer_choice(tmp_path):
    path = _buurten(tmp_path / "two.gpkg", layer="cbs_buurten_2019")
    _buurten(path, layer="buurten_oud")
    with pytest.raises(SourceError, match=r"several buurt layers \(cbs_buurten_2019, buurten_oud\)"):
        read_cbs(path)
    assert len(read_cbs(path, layer="buurten_oud").sources["neighbourhoods"]) == 2
    with pytest.raises(SourceError, match="no layer 'wijken'"):
        read_cbs(path, layer="wijken")
    only_wijken = _buurten(tmp_path / "w.gpkg", layer="wijken")
    with pytest.raises(SourceError, match="no polygon layer named like 'buurt'"):
        read_cbs(only_wijken)


def test_invalid_polygon_repaired(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    path = tmp_path / "bad.gpkg"
    gpd.GeoDataFrame({"buurtcode": ["BU1"], "buurtnaam": ["X"]}, geometry=[bowtie], crs=RD_NEW).to_file(
        path, layer="buurten", engine="pyogrio")
    result = read_cbs(path)
    geom = result.sources["neighbourhoods"].geometry.iloc[0]
    assert geom.is_valid
    assert geom.area == pytest.approx(50.0)
    assert result.report.counts["repaired"] == 1


def test_missing_columns_and_codes(tmp_path):
    path = _buurten(tmp_path / "cols.gpkg", code="code", name="naam")
    with pytest.raises(SourceError, match=r"cols\.gpkg!buurten: no buurt code/name columns"):
        read_cbs(path)
    nulls = tmp_path / "null.gpkg"
    gpd.GeoDataFrame({"buurtcode": ["BU1", None], "buurtnaam": ["A", "B"]},
                     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=RD_NEW).to_file(
        nulls, layer="buurten", engine="pyogrio")
    with pytest.raises(SourceError, match="row 2: 1 buurt"):
        read_cbs(nulls)
    with pytest.raises(SourceError, match="cannot open"):
        read_cbs(_not_vector(tmp_path / "x.gpkg"))


def _not_vector(path: Path) -> Path:
    path.write_text("not a geopackage")
    return path
