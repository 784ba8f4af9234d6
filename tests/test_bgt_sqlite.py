"""BGT as a database (geo.bgt_sqlite via geo.bgt.read_bgt): the real Delft SpatiaLite files and hand-built ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
import shapely
from pyproj import CRS
from rich.console import Console

from geo.bgt import read_bgt
from geo.bgt_mapping import attribute_key, classify
from geo.bgt_sqlite import ESSENTIAL_TYPES
from geo.errors import SourceError
from layers import catalog as cat
from layers.config import load_config
from layers.engine import build

DELFT = Path(__file__).resolve().parents[2] / "shared" / "data" / "bgt-delft"
#: Features per table in the Delft files (pyogrio read_info; the data README's counts hold).
DELFT_TABLES = {"begroeidterreindeel": 126, "onbegroeidterreindeel": 81, "pand": 160, "wegdeel": 151,
                "waterdeel": 3, "scheiding": 57, "overbruggingsdeel": 3, "kunstwerkdeel": 1}
#: Current ground-level land cover: every table above except scheiding, minus 8 wegdeel and
#: 3 overbruggingsdeel at relatievehoogteligging 1.
DELFT_LANDCOVER = 126 + 81 + 160 + (151 - 8) + 3 + 1
DELFT_CLASSES = {"building": 160, "road_paved": 142, "green_low": 98, "paved_other": 78, "green_shrub": 28,
                 "bare": 4, "water": 3, "road_unpaved": 1}
#: The README's extent of the Delft BGT (RD metres).
DELFT_EXTENT = (84_616, 447_422, 85_140, 447_750)
OGR_POINT, OGR_POLYGON = 1, 3


@pytest.fixture(scope="module")
def delft() -> Any:
    if not DELFT.is_dir():
        pytest.skip("../shared/data/bgt-delft is not present")
    return read_bgt(DELFT)


def test_delft_tables_hold_the_documented_counts() -> None:
    for obj_type, n in DELFT_TABLES.items():
        assert pyogrio.read_info(DELFT / f"bgt_{obj_type}.sqlite")["features"] == n, obj_type


def test_delft_landcover_buildings_and_trees(delft: Any) -> None:
    lc, buildings, trees = (delft.sources[k] for k in ("landcover", "buildings", "trees"))
    assert len(lc) == DELFT_LANDCOVER
    assert lc["class"].value_counts().to_dict() == DELFT_CLASSES
    assert lc.crs.equals(CRS.from_epsg(28992)) and buildings.crs.equals(CRS.from_epsg(28992))
    x0, y0, x1, y1 = lc.total_bounds
    assert (x0, y0) >= DELFT_EXTENT[:2] and (x1, y1) <= (DELFT_EXTENT[2] + 1, DELFT_EXTENT[3] + 1)
    # The erven and the IMGeo-plus shrubs came through the one mapping table.
    assert (lc["source_class"] == "onbegroeidterreindeel:erf").sum() == 42
    assert (lc["source_class"] == "begroeidterreindeel:groenvoorziening/heesters").sum() == 28
    assert lc["function"].value_counts()["voetpad"] == 73
    # The ground-level surfaces form a partition: no overlaps beyond digitising slivers.
    union = shapely.union_all(lc.geometry.values).area
    assert union == pytest.approx(lc.area.sum(), rel=1e-4)
    # BAG pand ids stored as integers get their leading zero back (16 digits, gemeente 0503).
    assert len(buildings) == DELFT_TABLES["pand"]
    assert buildings["id"].str.fullmatch(r"0503\d{12}").all()
    assert len(trees) == 0


def test_delft_report_names_what_is_missing_and_excluded(delft: Any) -> None:
    counts = delft.report.counts
    assert counts["level_excluded_wegdeel"] == 8 and counts["level_excluded_overbruggingsdeel"] == 3
    assert counts["ended_excluded"] == 0  # the README: no ended objects in the Delft BGT
    assert counts["object_types_missing"] == 2
    assert any("spoor, vegetatieobject" in n and "no BGT trees" in n for n in delft.report.notes)


def test_sqlite_columns_map_like_citygml_attributes() -> None:
    sqlite = {"bgt_fysiekvoorkomen": "erf", "plus_fysiekvoorkomen": "waardeOnbekend"}
    gml = {"bgt-fysiekVoorkomen": "erf", "plus-fysiekVoorkomen": "waardeOnbekend"}
    assert classify("onbegroeidterreindeel", {attribute_key(k): v for k, v in sqlite.items()}) == classify(
        "onbegroeidterreindeel", gml)
    road = {attribute_key("surfacematerial"): "transitie", attribute_key("plus_fysiekvoorkomenwegdeel"): "grind"}
    assert classify("wegdeel", road) == ("road_unpaved", "wegdeel:transitie/grind", True)


def test_a_list_and_a_geopackage_read_like_the_folder(delft: Any, tmp_path: Path) -> None:
    files = sorted(DELFT.glob("bgt_*.sqlite"))
    listed = read_bgt(files)
    assert len(listed.sources["landcover"]) == DELFT_LANDCOVER
    gpkg = tmp_path / "bgt.gpkg"
    for f in files:
        frame = pyogrio.read_dataframe(f)
        if len(frame):
            pyogrio.write_dataframe(frame, gpkg, layer=f.stem.removeprefix("bgt_"))
    from_gpkg = read_bgt(gpkg)
    got = from_gpkg.sources["landcover"]
    assert got["class"].value_counts().to_dict() == DELFT_CLASSES
    assert got.area.sum() == pytest.approx(delft.sources["landcover"].area.sum(), rel=1e-9)
    # Empty tables were not written: those object types are now missing, and named.
    assert any("ondersteunendwaterdeel" in n for n in from_gpkg.report.notes)


# --- hand-built databases ----------------------------------------------------------------------


def _write_table(path: Path, table: str, rows: list[dict[str, Any]], geometry: dict[str, int]) -> None:
    """A SQLite file in GDAL's (non-SpatiaLite) layout: WKB blobs registered in geometry_columns."""
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["lokaalid"]
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE geometry_columns (f_table_name VARCHAR, f_geometry_column VARCHAR, geometry_type INTEGER,"
            " coord_dimension INTEGER, srid INTEGER, geometry_format VARCHAR);"
            "CREATE TABLE spatial_ref_sys (srid INTEGER UNIQUE, auth_name TEXT, auth_srid TEXT, srtext TEXT);"
        )
        db.execute("INSERT INTO spatial_ref_sys VALUES (28992, 'EPSG', '28992', ?)",
                   (CRS.from_epsg(28992).to_wkt("WKT1_GDAL"),))
        for name, code in geometry.items():
            db.execute("INSERT INTO geometry_columns VALUES (?, ?, ?, 2, 28992, 'WKB')", (table, name, code))
        defs = ", ".join([f'"{g}" BLOB' for g in geometry] + [f'"{c}" VARCHAR' for c in columns if c not in geometry])
        db.execute(f'CREATE TABLE "{table}" (ogc_fid INTEGER PRIMARY KEY, {defs})')
        for r in rows:
            names = list(r)
            values = [shapely.to_wkb(v) if isinstance(v, shapely.Geometry) else v for v in r.values()]
            db.execute(f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})', values)


def _minimal_database(folder: Path, skip: tuple[str, ...] = ()) -> Path:
    """Essential types, one square each side by side; pand with a label point column before its footprint."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {"begroeidterreindeel": ("class", "groenvoorziening"), "onbegroeidterreindeel":
              ("bgt_fysiekvoorkomen", "erf"), "wegdeel": ("surfacematerial", "gesloten verharding"),
              "waterdeel": ("class", "waterloop")}
    for i, (obj_type, (column, value)) in enumerate(values.items()):
        if obj_type in skip:
            continue
        rows = [
            {"lokaalid": f"{obj_type}-1", column: value, "bgt_status": "bestaand", "relatievehoogteligging": "0",
             "GEOMETRY": shapely.box(i * 10, 0, i * 10 + 10, 10)},
            # history and plan: never land cover
            {"lokaalid": f"{obj_type}-old", column: value, "eindregistratie": "2019-01-01T00:00:00",
             "GEOMETRY": shapely.box(i * 10, 0, i * 10 + 10, 10)},
            {"lokaalid": f"{obj_type}-plan", column: value, "bgt_status": "plan",
             "GEOMETRY": shapely.box(i * 10, 0, i * 10 + 10, 10)},
        ]
        _write_table(folder / f"bgt_{obj_type}.sqlite", obj_type, rows, {"GEOMETRY": OGR_POLYGON})
    if "pand" not in skip:
        pand = [{"lokaalid": "pand-1", "identificatiebagpnd": "503100000000001", "bgt_status": "bestaand",
                 "plaatsingspunt": shapely.Point(45, 5), "geometrie2dgrondvlak": shapely.box(40, 0, 50, 10)},
                {"lokaalid": "pand-old", "terminationdate": "2020-02-02", "plaatsingspunt": shapely.Point(45, 5),
                 "geometrie2dgrondvlak": shapely.box(40, 0, 50, 10)}]
        _write_table(folder / "bgt_pand.sqlite", "buildingpart", pand,
                     {"plaatsingspunt": OGR_POINT, "geometrie2dgrondvlak": OGR_POLYGON})
    return folder


def test_ended_planned_and_the_footprint_of_several_geometry_columns(tmp_path: Path) -> None:
    result = read_bgt(_minimal_database(tmp_path / "db"))
    lc, buildings = result.sources["landcover"], result.sources["buildings"]
    assert sorted(lc["source_id"]) == sorted(["begroeidterreindeel-1", "onbegroeidterreindeel-1", "wegdeel-1",
                                              "waterdeel-1", "pand-1"])
    assert lc.set_index("source_id")["class"]["pand-1"] == "building"
    # The footprint, not the label point (which GDAL would read first), is the pand.
    assert buildings.geometry.iloc[0].equals(shapely.box(40, 0, 50, 10))
    assert buildings["id"].tolist() == ["0503100000000001"]
    counts = result.report.counts
    assert counts["ended_excluded"] == 5 and counts["plan_excluded"] == 4
    assert counts["geometry_columns_ignored"] == 1


def test_missing_essential_object_types_are_an_error(tmp_path: Path) -> None:
    folder = _minimal_database(tmp_path / "db", skip=("pand", "waterdeel"))
    with pytest.raises(SourceError, match=r"lacks object type.*waterdeel, pand") as err:
        read_bgt(folder)
    assert str(folder) in str(err.value)
    assert set(ESSENTIAL_TYPES) >= {"pand", "waterdeel"}


def test_a_file_gdal_cannot_open_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bgt_pand.sqlite"
    bad.write_bytes(b"not a database")
    with pytest.raises(SourceError, match=r"bgt_pand\.sqlite"):
        read_bgt(bad)


# --- the landcover layer built from the real Delft BGT ------------------------------------------


def test_landcover_layer_from_the_delft_database(delft: Any, tmp_path: Path) -> None:
    config = tmp_path / "kaartlaag.yaml"
    config.write_text(f'region: {{name: Delft, crs: "EPSG:28992"}}\ncatalog: ./catalog\n'
                      f"sources:\n  bgt: {{path: {DELFT}}}\n")
    summary = build(load_config(config), ["landcover"], console=Console(quiet=True))
    assert "landcover" in summary.built
    entry = cat.read_catalog(tmp_path / "catalog").layers["landcover"]
    published = gpd.read_parquet(tmp_path / "catalog" / entry.file("landcover", "vector").path)
    expected = delft.sources["landcover"]
    assert len(published) == DELFT_LANDCOVER
    got = published.assign(a=published.area).groupby("class")["a"].sum()
    want = expected.assign(a=expected.area).groupby("class")["a"].sum()
    assert got.to_dict() == pytest.approx(want.to_dict(), rel=1e-9)
    log = {r["source"]: r["counts"] for r in entry.build_log}
    assert log["bgt"]["object_types_missing"] == 2
