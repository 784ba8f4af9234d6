"""Canonical sources from plain files (CSV with Dutch habits, GeoPackage without CRS)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from geo.crs import RD_NEW
from geo.errors import CRSError, SourceError
from geo.io import read_vector_source


def test_csv_keeps_ids_as_text_and_reads_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "bomen.csv"
    path.write_text("id;X;Y;kroondiameter\n0363100012345678;200010;450010;6,5\n0002;200020;450020;\n")
    trees = read_vector_source("trees", path, RD_NEW, columns={"crown_diameter_m": "kroondiameter"},
                               declared_crs=RD_NEW)
    assert trees["id"].tolist() == ["0363100012345678", "0002"]
    assert trees["crown_diameter_m"].iloc[0] == 6.5 and trees["crown_diameter_m"].isna().iloc[1]
    assert (trees.geometry.x.tolist(), trees.geometry.y.tolist()) == ([200010, 200020], [450010, 450020])


def test_csv_bad_number_names_the_tree(tmp_path: Path) -> None:
    path = tmp_path / "bomen.csv"
    path.write_text("id,x,y,crown_diameter_m\nA1,200010,450010,groot\n")
    with pytest.raises(SourceError, match=r"bomen.csv, feature A1: crown_diameter_m: 'groot' is not a number"):
        read_vector_source("trees", path, RD_NEW, declared_crs=RD_NEW)


def test_csv_in_wgs84_is_reprojected(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    # Amersfoort's Onze Lieve Vrouwetoren, the origin of RD (155000, 463000).
    path.write_text("id,type,lon,lat\n1,gp,5.38720621,52.15517440\n")
    frame = read_vector_source("amenities", path, RD_NEW, declared_crs=gpd.GeoSeries(crs=4326).crs)
    assert frame.geometry.x.iloc[0] == pytest.approx(155000, abs=0.5)
    assert frame.geometry.y.iloc[0] == pytest.approx(463000, abs=0.5)


def test_gpkg_without_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "streets.gpkg"
    gpd.GeoDataFrame({"id": ["s1"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=None).to_file(path)
    with pytest.raises(CRSError, match=r"streets\.gpkg: the file has no CRS"):
        read_vector_source("streets", path, RD_NEW)
    frame = read_vector_source("streets", path, RD_NEW, declared_crs=RD_NEW)
    assert frame.crs.to_epsg() == 28992


def test_wrong_geometry_type_names_feature(tmp_path: Path) -> None:
    path = tmp_path / "trees.gpkg"
    gpd.GeoDataFrame({"id": ["t9"]}, geometry=[box(0, 0, 1, 1)], crs=28992).to_file(path)
    with pytest.raises(SourceError, match=r"trees\.gpkg, feature t9: trees: expected Point geometries, found Polygon"):
        read_vector_source("trees", path, RD_NEW)
