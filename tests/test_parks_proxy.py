"""Parks and public green without ownership data: geo.parks proxy and closing, geo.cbs_landuse, Otterlo."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import box

from geo.cbs_landuse import read_cbs_landuse
from geo.errors import SourceError
from geo.parks import derive_parks, public_mask
from geo.report import AdapterResult
from layers.config import parse_config
from layers.cool_places import PARAMS as COOL_PARAMS
from layers.sources import SourceSet
from layers.tree_rule_params import PARAMS as TREE_PARAMS
from tests.conftest import otterlo_copy

X0, Y0 = 150_000.0, 420_000.0
LAWN = "begroeidterreindeel:groenvoorziening"
PATH = "wegdeel:open verharding"
#: The closing (disc of radius 2 m) rounds the four inner corners of a square hole: 4 r^2 (1 - pi/4) m2 filled.
HOLE_CORNERS_M2 = 4 * 2.0**2 * (1 - math.pi / 4)


def frame(rows: list[tuple[str, str, shapely.Geometry]], public: object = None) -> gpd.GeoDataFrame:
    """Land cover rows ``(class, source_class, geometry)``, ``public`` the same for all (None = unknown)."""
    return gpd.GeoDataFrame(
        {"class": [r[0] for r in rows], "source_class": [r[1] for r in rows],
         "source_id": [f"lc{i}" for i in range(len(rows))], "public": pd.array([public] * len(rows), dtype="boolean")},
        geometry=[r[2] for r in rows], crs="EPSG:28992",
    )


def lawn_cut_by_path() -> gpd.GeoDataFrame:
    """A 100 x 60 m lawn (0.6 ha) cut across by a 3 m footpath: two halves of 2,850 m2, each below 0.5 ha."""
    return frame([
        ("green_low", LAWN, box(X0, Y0, X0 + 100, Y0 + 28.5)),
        ("road_paved", PATH, box(X0, Y0 + 28.5, X0 + 100, Y0 + 31.5)),
        ("green_low", LAWN, box(X0, Y0 + 31.5, X0 + 100, Y0 + 60)),
    ])


def test_a_lawn_cut_by_a_footpath_is_one_park_with_the_path() -> None:
    parks, counts = derive_parks(lawn_cut_by_path())
    assert len(parks) == 1
    # The park's area is the whole lawn including the path: 100 x 60 m.
    assert parks["area_m2"].iloc[0] == pytest.approx(6000.0, rel=1e-3)
    assert parks.geometry.iloc[0].covers(box(X0 + 1, Y0 + 28.5, X0 + 99, Y0 + 31.5))
    assert counts["green_polygons_public_by_proxy"] == 2
    # Without the closing (gap 0) or with a gap narrower than the path, the halves stay too small.
    assert len(derive_parks(lawn_cut_by_path(), merge_gap_m=0.0)[0]) == 0
    assert len(derive_parks(lawn_cut_by_path(), merge_gap_m=2.0)[0]) == 0


def test_unknown_means_excluded_brings_back_the_old_answer() -> None:
    parks, counts = derive_parks(lawn_cut_by_path(), public_unknown="exclude")
    assert len(parks) == 0 and counts["green_polygons_used"] == 0
    assert len(derive_parks(lawn_cut_by_path(), public_unknown="include")[0]) == 1
    # A known owner always decides: private green is no park under any rule.
    private = lawn_cut_by_path().assign(public=False)
    assert all(len(derive_parks(private, public_unknown=r)[0]) == 0 for r in ("proxy", "include"))


def test_an_erf_never_becomes_a_park() -> None:
    hectare = box(X0, Y0, X0 + 100, Y0 + 100)
    paved_erf = frame([("paved_other", "onbegroeidterreindeel:erf", hectare)])
    green_erf = frame([("green_low", "onbegroeidterreindeel:erf", hectare)])  # a garden mapped as green
    for rule in ("proxy", "exclude"):
        assert len(derive_parks(paved_erf, public_unknown=rule)[0]) == 0
        assert len(derive_parks(green_erf, public_unknown=rule)[0]) == 0
    # An erf enclosed by a park stays a hole: 120 x 120 m minus the 30 x 30 m erf.
    lawn = box(X0, Y0, X0 + 120, Y0 + 120).difference(box(X0 + 45, Y0 + 45, X0 + 75, Y0 + 75))
    enclave = frame([("green_low", LAWN, lawn), ("paved_other", "onbegroeidterreindeel:erf",
                                                 box(X0 + 45, Y0 + 45, X0 + 75, Y0 + 75))])
    parks, counts = derive_parks(enclave)
    assert parks["area_m2"].iloc[0] == pytest.approx(120 * 120 - 30 * 30 + HOLE_CORNERS_M2, abs=0.2)
    assert counts["park_holes_filled"] == 0


def test_agricultural_grass_never_becomes_a_park() -> None:
    hectare = box(X0, Y0, X0 + 100, Y0 + 100)
    farm = frame([("agriculture", "begroeidterreindeel:grasland agrarisch", hectare)])
    assert len(derive_parks(farm, public_unknown="include")[0]) == 0
    # Farmland in another class (a delivery that maps it as green) is still not public by the proxy.
    grass = frame([("green_low", "begroeidterreindeel:grasland agrarisch", hectare),
                   ("green_low", "begroeidterreindeel:bouwland", box(X0 + 100, Y0, X0 + 200, Y0 + 100))])
    mask, counts = public_mask(grass, "proxy")
    assert not mask.any() and counts["public_unknown"] == 2 and counts["public_by_proxy"] == 0
    assert len(derive_parks(grass)[0]) == 0


def test_a_pond_inside_a_park_is_park_and_a_building_is_not() -> None:
    pond, kiosk = box(X0 + 40, Y0 + 40, X0 + 60, Y0 + 60), box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20)
    lawn = box(X0, Y0, X0 + 100, Y0 + 100).difference(pond).difference(kiosk)
    lc = frame([("green_low", LAWN, lawn), ("water", "waterdeel:watervlakte", pond),
                ("building", "pand:*", kiosk)])
    parks, counts = derive_parks(lc)
    assert parks["area_m2"].iloc[0] == pytest.approx(100 * 100 - 10 * 10 + HOLE_CORNERS_M2, abs=0.2)
    assert counts["park_holes_filled"] == 1


def test_road_verges_are_no_park_green() -> None:
    verge = frame([("green_low", "ondersteunendwegdeel:groenvoorziening", box(X0, Y0, X0 + 100, Y0 + 100))])
    parks, counts = derive_parks(verge, public_unknown="include")
    assert len(parks) == 0 and counts["green_polygons_verge_excluded"] == 1


def test_parameters_default_to_the_proxy_and_a_4_m_gap() -> None:
    tree = {p.name: p for p in TREE_PARAMS}
    cool = {p.name: p for p in COOL_PARAMS}
    assert tree["park_public_unknown"].default == "proxy" and cool["public_unknown"].default == "proxy"
    assert set(tree["park_public_unknown"].choices) == {"proxy", "exclude", "include"}
    assert tree["park_merge_gap_m"].default == 4.0 and tree["park_merge_gap_m"].unit == "m"


# --- CBS Bestand Bodemgebruik -------------------------------------------------------------------


def bbg(path: Path, code_column: str = "BG2015", description: str | None = "Omschrijving") -> Path:
    codes = [40, 41, 43, 20, 60]
    names = ["Park en plantsoen", "Sportterrein", "Dagrecreatief terrein", "Woonterrein", "Bos"]
    data: dict[str, object] = {code_column: codes}
    if description:
        data[description] = names
    gpd.GeoDataFrame(data, geometry=[box(X0 + 100 * i, Y0, X0 + 100 * i + 90, Y0 + 90) for i in range(5)],
                     crs="EPSG:28992").to_file(path)
    return path


def test_cbs_landuse_reads_park_and_day_recreation(tmp_path: Path) -> None:
    result = read_cbs_landuse(bbg(tmp_path / "bbg2015.gpkg"))
    parks = result.sources["parks"]
    assert parks["name"].tolist() == ["Park en plantsoen", "Dagrecreatief terrein"]
    assert parks["id"].tolist() == ["bbg-1", "bbg-3"] and parks.crs.to_epsg() == 28992
    assert result.report.counts["not_park"] == 3
    woods = read_cbs_landuse(tmp_path / "bbg2015.gpkg", codes=[40, 60]).sources["parks"]
    assert woods["name"].tolist() == ["Park en plantsoen", "Bos"]


def test_cbs_landuse_shapefile_names_and_descriptions_only(tmp_path: Path) -> None:
    shp = bbg(tmp_path / "bbg.shp", code_column="bg2017", description="Omschrijvi")
    assert read_cbs_landuse(shp).sources["parks"]["name"].tolist() == ["Park en plantsoen", "Dagrecreatief terrein"]
    only_text = tmp_path / "text.gpkg"
    frame_ = pyogrio.read_dataframe(bbg(tmp_path / "tmp.gpkg")).drop(columns=["BG2015"])
    pyogrio.write_dataframe(frame_, only_text)
    assert len(read_cbs_landuse(only_text).sources["parks"]) == 2


def test_cbs_landuse_without_class_columns_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.gpkg"
    gpd.GeoDataFrame({"klasse": [40]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:28992").to_file(path)
    with pytest.raises(SourceError, match=r"no BBG class column.*klasse"):
        read_cbs_landuse(path)


def test_cbs_landuse_is_a_parks_source_in_the_config(tmp_path: Path) -> None:
    path = bbg(tmp_path / "bbg.gpkg")
    cfg = parse_config({"region": {"name": "T"}, "sources": {"cbs_landuse": {"path": str(path), "codes": [40]}}},
                       tmp_path)
    sources = SourceSet(cfg)
    assert sources.providers["parks"] == "cbs_landuse"
    assert sources.load("parks")["name"].tolist() == ["Park en plantsoen"]


# --- Otterlo from BGT alone -----------------------------------------------------------------------

#: Otterlo (BGT alone) parks measured with the defaults (proxy, 4 m gap, 0.5 ha); before the proxy: none.
OTTERLO_PARKS = 20
OTTERLO_PARK_AREA_M2 = 1_766_454
OTTERLO_PARKS_GAP_0 = 43


@pytest.fixture(scope="module")
def otterlo_landcover(otterlo_bgt_read: AdapterResult) -> gpd.GeoDataFrame:
    return otterlo_copy(otterlo_bgt_read, "landcover")


def test_otterlo_from_bgt_alone_has_parks(otterlo_landcover: gpd.GeoDataFrame) -> None:
    before, _ = derive_parks(otterlo_landcover, public_unknown="exclude", merge_gap_m=0.0)
    assert len(before) == 0
    parks, counts = derive_parks(otterlo_landcover)
    assert len(parks) == OTTERLO_PARKS
    assert parks["area_m2"].sum() == pytest.approx(OTTERLO_PARK_AREA_M2, rel=1e-3)
    assert (parks["area_m2"] >= 5000).all() and parks.geometry.is_valid.all()
    # Closing across the paths joins pieces: fewer, larger parks than with touching polygons only.
    assert len(derive_parks(otterlo_landcover, merge_gap_m=0.0)[0]) == OTTERLO_PARKS_GAP_0
    assert counts["park_area_added_m2"] > 0


def test_otterlo_from_bgt_alone_has_public_ground_for_cool_places(otterlo_landcover: gpd.GeoDataFrame) -> None:
    classes = next(p.default for p in COOL_PARAMS if p.name == "place_classes")
    in_class = otterlo_landcover["class"].isin(classes).to_numpy()
    before, _ = public_mask(otterlo_landcover, "exclude")
    after, _ = public_mask(otterlo_landcover, "proxy")
    assert not (before & in_class).any()
    erf = (otterlo_landcover["source_class"] == "onbegroeidterreindeel:erf").to_numpy()
    assert not (after & erf).any()
    area = otterlo_landcover.area.to_numpy()
    assert float(area[after & in_class].sum()) > 0.5 * float(area[in_class & ~erf].sum())
    assert np.isfinite(area).all()
