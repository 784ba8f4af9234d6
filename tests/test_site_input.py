"""The site input of POST /assess (geo.site, geo.site_files): known answers and every bad input.

Sites are hand-built in RD New around (200000, 450000); files are real GeoPackages
and zipped shapefiles written with geopandas into tmp_path.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from geo.crs import RD_NEW
from geo.errors import InputError, InputTooLargeError
from geo.site import SiteLimits, site_from_bag, site_from_file, site_from_geojson

X0, Y0 = 200_000.0, 450_000.0
SIDE_M = 100.0
BUFFER_M = 300.0
LIMITS = SiteLimits(max_area_m2=4_000_000, max_vertices=20_000, max_bytes=5_000_000, max_buffer_m=1000)
#: The region of the tests: 2 x 2 km with the square site in its lower-left quarter.
REGION = box(X0 - 500, Y0 - 500, X0 + 1500, Y0 + 1500)
REGION_NAME = "Proefstad"
#: shapely's buffer is polygonal: its round corners fall short of the circle.
BUFFER_RTOL = 0.005
CENTIMETRE = 0.01


def ring(*xy: tuple[float, float]) -> list[list[float]]:
    """A closed GeoJSON ring of offsets (m) from (X0, Y0)."""
    points = [[X0 + dx, Y0 + dy] for dx, dy in xy]
    return [*points, points[0]]


SQUARE = {"type": "Polygon", "coordinates": [ring((0, 0), (SIDE_M, 0), (SIDE_M, SIDE_M), (0, SIDE_M))]}
BOWTIE = {"type": "Polygon", "coordinates": [ring((0, 0), (10, 10), (10, 0), (0, 10))]}


def geojson_site(obj: Any, crs: str | None = None, buffer_m: Any = BUFFER_M, **kw: Any) -> Any:
    return site_from_geojson(obj, crs, RD_NEW, LIMITS, buffer_m, **kw)


# --- known answers -------------------------------------------------------------------------------


def test_square_site_area_and_buffer_ring() -> None:
    site = geojson_site(SQUARE)
    assert site.area_m2 == pytest.approx(SIDE_M**2)
    # The ring is the rounded square (side + 2 x buffer) minus the site: four quarter circles, four strips.
    expected_ring = math.pi * BUFFER_M**2 + 4 * SIDE_M * BUFFER_M
    assert site.buffer_area_m2 == pytest.approx(expected_ring, rel=BUFFER_RTOL)
    assert site.buffer.intersection(site.geometry).area == pytest.approx(0.0, abs=1e-6)
    assert site.buffer.union(site.geometry).area == pytest.approx(expected_ring + SIDE_M**2, rel=BUFFER_RTOL)
    assert site.buffer.bounds == pytest.approx((X0 - BUFFER_M, Y0 - BUFFER_M, X0 + 400, Y0 + 400))
    assert (site.origin, site.buffer_m, site.warnings) == ("geojson", BUFFER_M, ())
    assert site.crs.equals(RD_NEW)


def test_default_buffer_and_site_holes_belong_to_the_buffer() -> None:
    holed = {
        "type": "Polygon",
        "coordinates": [SQUARE["coordinates"][0], ring((40, 40), (60, 40), (60, 60), (40, 60))],
    }
    site = geojson_site(holed, buffer_m=None)
    assert site.buffer_m == LIMITS.default_buffer_m
    assert site.area_m2 == pytest.approx(SIDE_M**2 - 20**2)
    assert site.buffer.contains(Point(X0 + 50, Y0 + 50))


def test_wgs84_site_matches_pyproj_to_a_centimetre() -> None:
    lonlat = [(4.350, 52.000), (4.360, 52.000), (4.360, 52.005), (4.355, 52.008), (4.350, 52.005), (4.350, 52.000)]
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [lonlat]}}
    site = geojson_site({"type": "FeatureCollection", "features": [feature]}, "EPSG:4326")
    to_rd = Transformer.from_crs("EPSG:4326", "EPSG:28992", always_xy=True)
    x, y = to_rd.transform(*np.array(lonlat).T)
    expected = Polygon(np.column_stack([x, y]))
    assert abs(site.area_m2 - expected.area) < CENTIMETRE**2
    assert site.geometry.centroid.distance(expected.centroid) < CENTIMETRE
    assert 84_000 < site.geometry.centroid.x < 86_000  # Delft, in RD metres


def test_overlapping_features_are_united_and_another_proj_crs_is_accepted() -> None:
    second = {"type": "Polygon", "coordinates": [ring((50, 0), (150, 0), (150, SIDE_M), (50, SIDE_M))]}
    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": g, "properties": None} for g in (SQUARE, second)],
    }
    assert geojson_site(collection).area_m2 == pytest.approx(150 * SIDE_M)
    to_mercator = Transformer.from_crs("EPSG:28992", "EPSG:3857", always_xy=True)
    mercator = shapely.transform(
        shapely.geometry.shape(SQUARE), lambda xy: np.column_stack(to_mercator.transform(*xy.T))
    )
    site = geojson_site(shapely.geometry.mapping(mercator), "EPSG:3857")  # tuples, as shapely writes them
    assert site.area_m2 == pytest.approx(SIDE_M**2, rel=1e-6)


def test_legacy_crs_member_as_qgis_writes_it() -> None:
    lonlat = {"type": "Polygon", "coordinates": [[[4.35, 52.0], [4.36, 52.0], [4.36, 52.01], [4.35, 52.0]]]}
    crs84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    site = geojson_site(lonlat | {"crs": crs84})
    assert site.area_m2 == pytest.approx(geojson_site(lonlat, "EPSG:4326").area_m2)
    with pytest.raises(InputError, match="the GeoJSON says its crs is"):
        geojson_site(lonlat | {"crs": crs84}, "EPSG:28992")


def test_site_partly_outside_the_region_warns_in_dutch() -> None:
    # 12 m of the 100 m square west of the region's edge: 12 % outside.
    west = REGION.bounds[0] - 12
    partly = {
        "type": "Polygon",
        "coordinates": [[[west, Y0], [west + 100, Y0], [west + 100, Y0 + 100], [west, Y0 + 100], [west, Y0]]],
    }
    site = geojson_site(partly, region_boundary=REGION, region_name=REGION_NAME)
    assert site.warnings[0].startswith("Het plangebied ligt deels buiten de regio Proefstad (12 %)")
    assert "De omgeving (buffer van 300 m) ligt deels buiten de regio Proefstad" in site.warnings[1]
    inside = geojson_site(SQUARE, buffer_m=100, region_boundary=REGION, region_name=REGION_NAME)
    assert inside.warnings == ()


def test_site_outside_the_region_names_it() -> None:
    far = {"type": "Polygon", "coordinates": [ring((5000, 0), (5100, 0), (5100, 100), (5000, 100))]}
    with pytest.raises(InputError, match=r"outside the region Proefstad \(3500 m from its boundary\)"):
        geojson_site(far, region_boundary=REGION, region_name=REGION_NAME)


# --- bad GeoJSON ---------------------------------------------------------------------------------

HOLE_ACROSS = {
    "type": "Polygon",
    "coordinates": [ring((0, 0), (10, 0), (10, 10), (0, 10)), ring((5, 5), (15, 5), (15, 6), (5, 6))],
}
HOLE_OUTSIDE = {
    "type": "Polygon",
    "coordinates": [ring((0, 0), (10, 0), (10, 10), (0, 10)), ring((20, 20), (25, 20), (25, 25), (20, 25))],
}
HUNDRED_KM2 = {"type": "Polygon", "coordinates": [ring((0, 0), (10_000, 0), (10_000, 10_000), (0, 10_000))]}
MANY_VERTICES = {
    "type": "Polygon",
    "coordinates": [[list(p) for p in Point(X0, Y0).buffer(100, quad_segs=6000).exterior.coords]],
}
LINE = {"type": "LineString", "coordinates": [[X0, Y0], [X0 + 1, Y0 + 1]]}


@pytest.mark.parametrize(
    ("obj", "crs", "error", "message"),
    [
        (BOWTIE, None, InputError, r"self-intersection at \(200005, 450005\): ring 0 \(outer\) crosses itself"),
        (HOLE_ACROSS, None, InputError, r"\(200010, 450005\): ring 0 \(outer\) and ring 1 \(hole 1\) cross"),
        (HOLE_OUTSIDE, None, InputError, r"\(200020, 450020\): ring 1 \(hole 1\) lies outside the outer ring"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": SQUARE},
                    {"type": "Feature", "id": "b7", "geometry": BOWTIE},
                ],
            },
            None,
            InputError,
            r"^geometry\.features\[1\] \(id 'b7'\): self-intersection at \(200005, 450005\)",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"], BOWTIE["coordinates"]]},
            None,
            InputError,
            r"^geometry, polygon 1: self-intersection",
        ),
        (SQUARE, "EPSG:99999", InputError, r"^crs: 'EPSG:99999' is not a coordinate reference system PROJ knows"),
        (SQUARE, "not a crs", InputError, r"^crs: 'not a crs' is not a coordinate"),
        (SQUARE, "EPSG:5709", InputError, r"^crs: 'EPSG:5709' has no horizontal coordinates"),
        (
            SQUARE,
            "EPSG:4326",
            InputError,
            r"position \(200000, 450000\) lies outside the area of use of the site's crs EPSG:4326",
        ),
        (
            {"type": "Polygon", "coordinates": [[[151.2, -33.9], [151.3, -33.9], [151.3, -33.8], [151.2, -33.9]]]},
            "EPSG:4326",
            InputError,
            r"position \(151.2, -33.9\) lies outside the area of use of the region crs EPSG:28992",
        ),
        (
            {"type": "Polygon", "coordinates": [[[4.35, 52.0], [4.36, 52.0], [4.36, 52.01], [4.35, 52.0]]]},
            None,
            InputError,
            r'less than 1 m2; are these longitude/latitude\? then send "crs": "EPSG:4326"',
        ),
        (HUNDRED_KM2, None, InputTooLargeError, r"the site covers 100\.00 km2 \(100000000 m2\); at most 4 km2"),
        (MANY_VERTICES, None, InputTooLargeError, r"^geometry: more than 20000 positions"),
        ({"type": "Point", "coordinates": [X0, Y0]}, None, InputError, r"a Point is not a polygon"),
        (
            {"type": "Feature", "geometry": LINE},
            None,
            InputError,
            r"^geometry\.geometry: a LineString is not a polygon",
        ),
        ({"type": "Polygon", "coordinates": []}, None, InputError, r"the Polygon is empty"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, None, InputError, r"polygon 0: the polygon is empty"),
        ({"type": "Feature", "geometry": None}, None, InputError, r"the feature has no geometry"),
        ({"type": "FeatureCollection", "features": []}, None, InputError, r"the FeatureCollection has no features"),
        ({"coordinates": SQUARE["coordinates"]}, None, InputError, r"^geometry: missing 'type'"),
        ({"type": "Polygon"}, None, InputError, r"^geometry: missing 'coordinates'"),
        ({"type": "Polygonn", "coordinates": []}, None, InputError, r"unknown GeoJSON type 'Polygonn'"),
        ("POLYGON ((0 0, 1 0, 1 1, 0 0))", None, InputError, r"expected a GeoJSON object with a 'type', got a string"),
        (
            {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 1, "y"], [X0, Y0 + 1], [X0, Y0]]]},
            None,
            InputError,
            r"^geometry\.coordinates\[0\]\[1\]: a position holds numbers only",
        ),
        (
            {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 1, True], [X0, Y0 + 1], [X0, Y0]]]},
            None,
            InputError,
            r"position holds numbers only",
        ),
        (
            {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 1, math.nan], [X0, Y0 + 1], [X0, Y0]]]},
            None,
            InputError,
            r"not a finite number",
        ),
        (
            {"type": "Polygon", "coordinates": SQUARE["coordinates"][0]},
            None,
            InputError,
            r"^geometry\.coordinates\[0\]: expected a ring .* a level of nesting is missing",
        ),
        (
            {"type": "Polygon", "coordinates": [SQUARE["coordinates"]]},
            None,
            InputError,
            r"^geometry\.coordinates\[0\]\[0\]: expected a position .* a level of nesting too many",
        ),
        (
            {"type": "Polygon", "coordinates": [ring((0, 0), (10, 0), (10, 10))[:-1]]},
            None,
            InputError,
            r"ring 0 has 3 position\(s\); a ring needs at least 4",
        ),
        (
            {"type": "Polygon", "coordinates": [ring((0, 0), (10, 0), (10, 10), (0, 10))[:-1]]},
            None,
            InputError,
            r"ring 0 is not closed: it starts at \(200000, 450000\) and ends at \(200000, 450010\)",
        ),
        (
            {"type": "Polygon", "coordinates": [ring((0, 0), (10, 0), (20, 0))]},
            None,
            InputError,
            r"the polygon has no area \(all its positions lie on one line or point\)",
        ),
    ],
)
def test_bad_geojson(obj: Any, crs: str | None, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        geojson_site(obj, crs)
    if error is InputError:
        assert not isinstance(caught.value, InputTooLargeError)


@pytest.mark.parametrize(
    ("buffer_m", "error", "message"),
    [
        (-5, InputError, r"^buffer_m: must be more than 0 m, got -5"),
        (0, InputError, r"must be more than 0 m"),
        (5000, InputTooLargeError, r"^buffer_m: at most 1000 m, got 5000"),
        ("300", InputError, r"^buffer_m: expected a number of metres, got '300'"),
        (True, InputError, r"expected a number of metres"),
        (math.inf, InputError, r"expected a number of metres"),
    ],
)
def test_bad_buffer(buffer_m: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        geojson_site(SQUARE, buffer_m=buffer_m)


# --- files ---------------------------------------------------------------------------------------


def plan_frame(crs: str | None = "EPSG:28992") -> gpd.GeoDataFrame:
    """Two plots: the 100 m square and a MultiPolygon of two 10 m squares east of it (10200 m2 in all)."""
    east = MultiPolygon([box(X0 + 200, Y0, X0 + 210, Y0 + 10), box(X0 + 300, Y0, X0 + 310, Y0 + 10)])
    return gpd.GeoDataFrame({"naam": ["a", "b"]}, geometry=[box(X0, Y0, X0 + SIDE_M, Y0 + SIDE_M), east], crs=crs)


def zipped(folder: Path, members: dict[str, str] | None = None) -> bytes:
    """The files of ``folder`` zipped (under ``plan/``), plus ``members`` (name: text)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"plan/{path.name}")
        for name, text in (members or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


def shapefile(tmp_path: Path, frame: gpd.GeoDataFrame, stem: str = "percelen") -> Path:
    folder = tmp_path / f"shp_{stem}"
    folder.mkdir()
    frame.to_file(folder / f"{stem}.shp")
    return folder


def file_site(data: bytes, name: str, **kw: Any) -> Any:
    return site_from_file(data, name, RD_NEW, LIMITS, BUFFER_M, **kw)


def test_geopackage_site_is_the_union_of_its_polygons(tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    plan_frame().to_file(path, layer="percelen", driver="GPKG")
    site = file_site(path.read_bytes(), "C:\\Users\\planner\\plan.gpkg")
    assert site.area_m2 == pytest.approx(SIDE_M**2 + 2 * 10**2)
    assert isinstance(site.geometry, MultiPolygon) and len(site.geometry.geoms) == 3
    assert (site.origin, site.warnings) == ("gpkg", ())


def test_geopackage_in_wgs84_is_transformed(tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    plan_frame().to_crs("EPSG:4326").to_file(path, layer="percelen", driver="GPKG")
    assert file_site(path.read_bytes(), "plan.gpkg").area_m2 == pytest.approx(SIDE_M**2 + 200, rel=1e-6)


def test_geopackage_with_several_layers_takes_the_first_polygon_layer(tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs="EPSG:28992").to_file(path, layer="bomen", driver="GPKG")
    plan_frame().iloc[:1].to_file(path, layer="percelen", driver="GPKG")
    plan_frame().to_file(path, layer="zzz_later", driver="GPKG")
    site = file_site(path.read_bytes(), "plan.gpkg")
    assert site.area_m2 == pytest.approx(SIDE_M**2)
    assert site.warnings == (
        "Het GeoPackage heeft 3 lagen; alleen de polygoonlaag 'percelen' is gebruikt (niet: 'bomen', 'zzz_later').",
    )


def test_shapefile_zip_site(tmp_path: Path) -> None:
    folder = shapefile(tmp_path, plan_frame())
    # Zip slip: members outside the archive's folder are ignored, never written anywhere.
    data = zipped(folder, {"../../evil.shp": "x", "/etc/evil.prj": "x", "__MACOSX/plan/._percelen.shp": "x"})
    site = file_site(data, "plan.zip")
    assert site.area_m2 == pytest.approx(SIDE_M**2 + 200)
    assert (site.origin, site.warnings) == ("shapefile", ())
    assert not (tmp_path.parent / "evil.shp").exists()


def test_zip_with_several_shapefiles_takes_the_first_polygon_one(tmp_path: Path) -> None:
    folder = shapefile(tmp_path, plan_frame())
    gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs="EPSG:28992").to_file(folder / "a_bomen.shp")
    site = file_site(zipped(folder), "plan.zip")
    assert site.area_m2 == pytest.approx(SIDE_M**2 + 200)
    assert site.warnings == (
        "De zip bevat 2 shapefiles; alleen 'plan/percelen.shp' is gebruikt (niet: plan/a_bomen.shp).",
    )


def test_self_intersection_in_a_file_names_layer_feature_and_place(tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    frame = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 1, Y0 + 1), shapely.geometry.shape(BOWTIE)], crs="EPSG:28992")
    frame.to_file(path, layer="percelen", driver="GPKG")
    message = r"^file 'plan.gpkg', layer 'percelen', feature 2: self-intersection at \(200005, 450005\)"
    with pytest.raises(InputError, match=message):
        file_site(path.read_bytes(), "plan.gpkg")


def test_zip_without_prj(tmp_path: Path) -> None:
    folder = shapefile(tmp_path, plan_frame())
    (folder / "percelen.prj").unlink()
    with pytest.raises(
        InputError,
        match=r"^file 'plan.zip', plan/percelen.shp: the zip has no percelen.prj, so the shapefile's CRS is unknown",
    ):
        file_site(zipped(folder), "plan.zip")


def test_bad_files(tmp_path: Path) -> None:
    folder = shapefile(tmp_path, plan_frame())
    good_zip = zipped(folder)
    gpkg = tmp_path / "plan.gpkg"
    plan_frame().to_file(gpkg, layer="percelen", driver="GPKG")
    lines = tmp_path / "lines.gpkg"
    gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 1, Y0)])], crs="EPSG:28992").to_file(lines, layer="wegen")
    no_crs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        plan_frame(crs=None).to_file(no_crs, layer="percelen", driver="GPKG")
    points = shapefile(tmp_path, gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs="EPSG:28992"), "bomen")
    no_shx = tmp_path / "no_shx"
    no_shx.mkdir()
    for path in folder.iterdir():
        if path.suffix != ".shx":
            (no_shx / path.name).write_bytes(path.read_bytes())
    cases: list[tuple[bytes, str, type[Exception], str]] = [
        (b"", "plan.gpkg", InputError, r"^file 'plan.gpkg': the file is empty"),
        (b"x" * (LIMITS.max_bytes + 1), "plan.gpkg", InputTooLargeError, r"5000001 bytes; at most 5000000"),
        (b"<kml/>", "plan.kml", InputError, r"unknown extension '.kml'; send a GeoPackage \(.gpkg\) or a zipped"),
        (b"data", "plan", InputError, r"unknown extension '\(none\)'"),
        (b"data", "plan.shp", InputError, r"send a shapefile as a .zip with its .shx, .dbf and .prj"),
        (b"not a database at all", "plan.gpkg", InputError, r"not a GeoPackage \(the file is not an SQLite database\)"),
        (gpkg.read_bytes()[:2048], "plan.gpkg", InputError, r"^file 'plan.gpkg': cannot read"),
        (lines.read_bytes(), "lines.gpkg", InputError, r"has no polygon layer \(layers: 'wegen' \(LineString\)\)"),
        (no_crs.read_bytes(), "nocrs.gpkg", InputError, r"layer 'percelen': the layer has no CRS"),
        (b"PK\x03\x04 not really", "plan.zip", InputError, r"not a zip archive"),
        (
            _zip({"readme.txt": "hoi"}),
            "plan.zip",
            InputError,
            r"the zip holds no shapefile \(.shp\); found: readme.txt",
        ),
        (_zip({"../percelen.shp": good_zip[:200].decode("latin-1")}), "plan.zip", InputError, r"holds no shapefile"),
        (zipped(points), "bomen.zip", InputError, r"no polygon shapefile \(plan/bomen.shp \(Point\)\)"),
        (zipped(no_shx), "plan.zip", InputError, r"the zip lacks percelen.shx"),
        (
            _zip({"plan.shp": "garbage", "plan.shx": "", "plan.dbf": "", "plan.prj": ""}),
            "plan.zip",
            InputError,
            r"plan.shp: not a shapefile",
        ),
        (
            _with(folder, "percelen.prj", b"GEOGCS nonsense"),
            "plan.zip",
            InputError,
            r"plan/percelen.shp: percelen.prj is not a CRS PROJ knows",
        ),
        (
            _with(folder, "percelen.shp", (folder / "percelen.shp").read_bytes()[:120]),
            "plan.zip",
            InputError,
            r"percelen.shp: no feature has a geometry",
        ),
    ]
    for data, name, error, message in cases:
        with pytest.raises(error, match=message):
            file_site(data, name)


def _zip(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return out.getvalue()


def _with(folder: Path, name: str, content: bytes) -> bytes:
    """The zip of ``folder`` with one file replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.writestr(f"plan/{path.name}", content if path.name == name else path.read_bytes())
    return out.getvalue()


def test_zip_bomb_stops_at_the_unpacked_limit(tmp_path: Path) -> None:
    small = SiteLimits(max_area_m2=4e6, max_vertices=20_000, max_bytes=10_000, max_buffer_m=1000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("plan.shp", b"\0" * 1_000_000)
    assert len(out.getvalue()) < small.max_bytes
    with pytest.raises(InputTooLargeError, match=r"the zip unpacks to more than 20 times the upload limit"):
        site_from_file(out.getvalue(), "plan.zip", RD_NEW, small, BUFFER_M)


# --- BAG -----------------------------------------------------------------------------------------

PAND = "0503100000000001"
OTHER_PAND = "0503100000000002"
VBO = "0503010000000001"
ORPHAN_VBO = "0503010000000009"


def bag_frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 10 x 20 m pand and a 30 x 30 m one (canonical buildings), and two addresses in the first and a missing one."""
    buildings = gpd.GeoDataFrame(
        {"id": [PAND, OTHER_PAND], "status": ["Pand in gebruik"] * 2, "year": [1930, 2001], "height_m": [9.0, 12.0]},
        geometry=[box(X0, Y0, X0 + 10, Y0 + 20), box(X0 + 50, Y0, X0 + 80, Y0 + 30)],
        crs="EPSG:28992",
    )
    addresses = gpd.GeoDataFrame(
        {
            "id": [VBO, ORPHAN_VBO],
            "building_id": [PAND, "0503100000000404"],
            "use": ["woonfunctie"] * 2,
            "status": ["Verblijfsobject in gebruik"] * 2,
            "floor_area_m2": [80.0, 60.0],
        },
        geometry=[Point(X0 + 5, Y0 + 5), Point(X0 + 500, Y0 + 500)],
        crs="EPSG:28992",
    )
    return buildings, addresses


def test_bag_pand_and_address_give_the_footprint() -> None:
    buildings, addresses = bag_frames()
    pand = site_from_bag(PAND, buildings, addresses, LIMITS, 50)
    assert (pand.area_m2, pand.origin, pand.buffer_m) == (pytest.approx(200.0), f"bag:{PAND}", 50)
    assert pand.geometry.equals(box(X0, Y0, X0 + 10, Y0 + 20))
    address = site_from_bag(VBO, buildings, addresses, LIMITS, 50)
    assert address.geometry.equals(pand.geometry) and address.origin == f"bag:{VBO}"
    uri = site_from_bag(f"NL.IMBAG.Pand.{OTHER_PAND}", buildings, addresses, LIMITS)
    assert uri.area_m2 == pytest.approx(900.0) and uri.origin == f"bag:{OTHER_PAND}"
    assert uri.buffer_m == LIMITS.default_buffer_m


def test_bad_bag_ids() -> None:
    buildings, addresses = bag_frames()
    with pytest.raises(InputError, match=r"^bag_id: '0503100000099999' is neither a pand nor a verblijfsobject"):
        site_from_bag("0503100000099999", buildings, addresses, LIMITS)
    with pytest.raises(InputError, match=r"^bag_id: '0503010000000001' is neither a pand nor a verblijfsobject"):
        site_from_bag(VBO, buildings, None, LIMITS)  # a catalog that publishes no addresses
    with pytest.raises(InputError, match=r"lies in pand '0503100000000404', which the region lacks"):
        site_from_bag(ORPHAN_VBO, buildings, addresses, LIMITS)
    with pytest.raises(InputError, match=r"^bag_id: expected a BAG pand or verblijfsobject id"):
        site_from_bag(503100000000001, buildings, addresses, LIMITS)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"outside the region Proefstad"):
        far = box(X0 + 9000, Y0, X0 + 9100, Y0 + 100)
        site_from_bag(PAND, buildings, addresses, LIMITS, region_boundary=far, region_name=REGION_NAME)
    with pytest.raises(InputTooLargeError, match=r"^buffer_m: at most 1000 m"):
        site_from_bag(PAND, buildings, addresses, LIMITS, 1001)


# --- the one status table ------------------------------------------------------------------------


def test_the_one_status_table_answers_titiler_errors_as_titiler_did() -> None:
    from rio_tiler.errors import PointOutsideBounds
    from titiler.core.errors import DEFAULT_STATUS_CODES

    from services.errors import STATUS_CODES, status_for

    for cls, code in DEFAULT_STATUS_CODES.items():
        if code < 500:
            assert STATUS_CODES[cls] == code, cls
    assert STATUS_CODES[PointOutsideBounds] == 404
    assert status_for(InputTooLargeError("x")) == 413 and status_for(InputError("x")) == 400
    assert status_for(ValueError("not ours")) == 500


def test_the_handlers_answer_titiler_and_kaartlaag_errors_from_the_one_table() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from rio_tiler.errors import PointOutsideBounds, RioTilerError

    from services.errors import add_exception_handlers

    app = FastAPI()
    add_exception_handlers(app, retry_after_s=5)
    raised = {
        "point": PointOutsideBounds("point outside the raster"),
        "site": InputTooLargeError("geometry: too big"),
        "other": RioTilerError("not in the table"),
    }

    @app.get("/{name}")
    def fail(name: str) -> None:
        raise raised[name]

    client = TestClient(app, raise_server_exceptions=False)
    assert (client.get("/point").status_code, client.get("/point").json()) == (
        404,
        {"detail": "point outside the raster"},
    )
    assert (client.get("/site").status_code, client.get("/site").json()) == (413, {"detail": "geometry: too big"})
    assert client.get("/other").status_code == 500
