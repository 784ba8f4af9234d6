"""BGT as a database: SpatiaLite/SQLite files (one per object type) or a GeoPackage (one layer per type).

This is the form ``ogr2ogr`` writes from the PDOK IMGeo CityGML (``bgt_pand.sqlite``
with layer ``buildingpart`` ...) and the form of a municipal BGT database loaded
with NLExtract: one table per object type, the IMGeo attributes as columns in
lower case with ``_`` for ``-`` (``class``, ``function``, ``bgt_fysiekvoorkomen``,
``bgt_type``, ``bgt_status``, ``plus_status``, ``relatievehoogteligging``,
``eindregistratie``/``terminationdate``, ``identificatiebagpnd``). The columns are
translated to the CityGML attribute names (:func:`geo.bgt_mapping.attribute_key`)
and every object goes through the same rules as the GML reader (ended, planned,
not at ground level: :func:`geo.bgt_mapping.skip_reason`) and the same class
table; :func:`geo.bgt.read_bgt` dispatches here and builds the canonical frames.

* **Object type** of a table: the file name ``bgt_<type>.<ext>`` of a one-table
  file, else the table (layer) name: ``bgt_`` prefix and NLExtract's ``_2d...``
  suffix removed, CityGML class names (``plantcover``, ``trafficarea``, ...)
  translated by :data:`CITYGML_LAYER_TYPES`. Tables of other types are ignored
  (counted as ``layers_ignored``).
* **Several geometry columns** in one SQLite table (a pand's footprint and its
  label point, a road's crest line): the surface column is read for surface
  types and the point column for trees (:func:`_pick_geometry`); the others are
  counted as ``geometry_columns_ignored``. GeoPackage allows one per table.
* **Missing object types**: a database without one of :data:`ESSENTIAL_TYPES`
  (the surfaces the land-cover partition is made of) is a ``SourceError`` naming
  them; any other missing type the adapter reads (``spoor``, ``vegetatieobject``:
  then there are no BGT trees) is named in a note and counted as
  ``object_types_missing``. A table that is present but empty is not missing.

CRS: the table's declared CRS (EPSG:28992 for BGT); a table without one takes the
CRS of the rest of the delivery, as in the GML reader.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo import bgt_mapping as bm
from geo.errors import SourceError
from geo.report import SourceReport
from geo.vector import repair_polygons

#: File name endings read as a BGT database (SQLite/SpatiaLite, GeoPackage).
DATABASE_SUFFIXES: tuple[str, ...] = (".sqlite", ".sqlite3", ".db", ".spatialite", ".gpkg")
#: Object types without which the land cover is no partition of the ground: a database lacking one is an error.
ESSENTIAL_TYPES: tuple[str, ...] = ("begroeidterreindeel", "onbegroeidterreindeel", "wegdeel", "waterdeel", "pand")
#: Object types the adapter reads (surfaces, buildings, trees).
WANTED_TYPES: tuple[str, ...] = (*bm.LANDCOVER_TYPES, bm.TREE_TYPE)
#: Layer names ogr2ogr gives the IMGeo CityGML classes -> BGT object type.
CITYGML_LAYER_TYPES: dict[str, str] = {
    "plantcover": "begroeidterreindeel",
    "trafficarea": "wegdeel",
    "auxiliarytrafficarea": "ondersteunendwegdeel",
    "buildingpart": "pand",
    "building": "pand",
    "bridgeconstructionelement": "overbruggingsdeel",
    "tunnelpart": "tunneldeel",
    "waterbody": "waterdeel",
    "solitaryvegetationobject": "vegetatieobject",
    "railway": "spoor",
}
_FILE_RE = re.compile(r"^bgt_([a-z0-9]+)\.[a-z0-9]+$", re.IGNORECASE)
#: NLExtract table suffixes (``pand_2d``, ``wegdeel_2dactueelbestaand``) after the object type.
_LAYER_SUFFIX_RE = re.compile(r"_2d\w*$|_lod\d\w*$", re.IGNORECASE)
#: Geometry column names that hold secondary geometries (label points, crest lines).
_SECONDARY_RE = re.compile(r"kruinlijn|punt|positie|label|nummeraanduiding", re.IGNORECASE)
#: OGR/SpatiaLite geometry type codes (modulo the Z/M flags) by family.
_SURFACE_CODES = frozenset({3, 6})
_POINT_CODES = frozenset({1, 4})
_OGR_25D_FLAG = 0x80000000
_ISO_DIM_STEP = 1000


def is_database(path: str | Path | Sequence[str | Path]) -> bool:
    """True when ``path`` is a BGT database: such a file, a list of them, or a folder holding them."""
    if isinstance(path, (list, tuple)):
        return bool(path) and all(_is_db_file(Path(p)) for p in path)
    path = Path(path)  # type: ignore[arg-type]
    if path.is_dir():
        return any(_is_db_file(f) for f in path.iterdir()) and not any(path.glob("bgt_*.gml"))
    return _is_db_file(path)


def _is_db_file(path: Path) -> bool:
    return path.suffix.lower() in DATABASE_SUFFIXES and not path.is_dir()


def read_database(
    path: str | Path | Sequence[str | Path], report: SourceReport
) -> tuple[list[dict[str, Any]], Path]:
    """Read the current objects of a BGT database as feature records for :mod:`geo.bgt`.

    Args:
        path: a SpatiaLite/SQLite file or GeoPackage, a list of them, or a folder of them.
        report: counts (``read``, ``ended_excluded``, ``plan_excluded``, ``layers_ignored``,
            ``geometry_columns_ignored``, ``object_types_missing``, ...) and notes.

    Returns:
        ``(records, where)``: one dict per object kept (``obj_type``, ``source_id``, ``attrs``,
        ``kind``, ``geom``, ``srs``, ``label``) and the path to name in messages.

    Raises:
        SourceError: no database files, a file GDAL cannot open, a geometry that cannot be
            read or repaired (file and feature), or missing essential object types.
    """
    files, where = _files(path)
    tables: list[tuple[Path, str, str]] = []
    layers_of = {file: _layers(file) for file in files}
    for file in files:
        layers = layers_of[file]
        file_type = _FILE_RE.match(file.name)
        for layer in layers:
            obj_type = file_type.group(1).lower() if file_type and len(layers) == 1 else _layer_type(layer)
            if obj_type not in WANTED_TYPES:
                report.count("layers_ignored")
                continue
            tables.append((file, layer, obj_type))
    _check_types({t for _, _, t in tables}, where, report)
    records: list[dict[str, Any]] = []
    for file, layer, obj_type in tables:
        label = str(file) if len(layers_of[file]) == 1 else f"{file}!{layer}"
        records.extend(_read_table(file, layer, obj_type, label, report))
    return records, where


def _files(path: str | Path | Sequence[str | Path]) -> tuple[list[Path], Path]:
    if isinstance(path, (list, tuple)):
        files = [Path(p) for p in path]
        where = files[0].parent if files else Path(".")
    else:
        where = Path(path)  # type: ignore[arg-type]
        files = sorted(f for f in where.iterdir() if _is_db_file(f)) if where.is_dir() else [where]
    if not files:
        raise SourceError(where, f"no BGT database files ({', '.join(DATABASE_SUFFIXES)})")
    for f in files:
        if not f.is_file():
            raise SourceError(f, "no such file")
    return files, where


def _layers(file: Path) -> list[str]:
    try:
        return [str(name) for name, _ in pyogrio.list_layers(file)]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise SourceError(file, f"cannot open as a SQLite/SpatiaLite/GeoPackage database: {exc}") from None


def _layer_type(layer: str) -> str:
    name = _LAYER_SUFFIX_RE.sub("", layer.lower().removeprefix("bgt_"))
    return CITYGML_LAYER_TYPES.get(name, name)


def _check_types(present: set[str], where: Path, report: SourceReport) -> None:
    """Error for missing essential object types; note the other missing ones."""
    essential = [t for t in ESSENTIAL_TYPES if t not in present]
    if essential:
        raise SourceError(
            where,
            f"the BGT database lacks object type(s) {', '.join(essential)}: without them the land cover "
            f"is no partition of the ground (found: {', '.join(sorted(present)) or 'none'})",
        )
    other = [t for t in WANTED_TYPES if t not in present]
    if other:
        report.count("object_types_missing", len(other))
        trees = " (so no BGT trees)" if bm.TREE_TYPE in other else ""
        report.note(f"{where}: no table of object type(s) {', '.join(other)}{trees}")


def _geometry_columns(file: Path, table: str) -> list[tuple[str, int]]:
    """``(column, type code)`` of every geometry column of a SQLite table (OGR or SpatiaLite metadata)."""
    if file.suffix.lower() == ".gpkg":
        return []  # one geometry column per table by the GeoPackage standard
    try:
        with sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT f_geometry_column, geometry_type FROM geometry_columns WHERE lower(f_table_name) = ?",
                (table.lower(),),
            ).fetchall()
    except sqlite3.Error:
        return []
    return [(str(c), _base_code(t)) for c, t in rows]


def _base_code(code: Any) -> int:
    try:
        value = int(code)
    except (TypeError, ValueError):
        return 0
    if value & _OGR_25D_FLAG:
        value &= ~_OGR_25D_FLAG
    return value % _ISO_DIM_STEP


def _pick_geometry(columns: list[tuple[str, int]], obj_type: str) -> str:
    """The geometry column of the object: a surface (a point for trees), primary names first."""
    wanted = _POINT_CODES if obj_type == bm.TREE_TYPE else _SURFACE_CODES

    def rank(item: tuple[str, int]) -> tuple[int, int]:
        name, code = item
        family = 0 if code in wanted else (1 if code == 0 else 2)
        return family, int(bool(_SECONDARY_RE.search(name))) if obj_type != bm.TREE_TYPE else 0

    return min(columns, key=rank)[0]


def _read_frame(file: Path, layer: str, obj_type: str, report: SourceReport) -> gpd.GeoDataFrame:
    columns = _geometry_columns(file, layer)
    try:
        if len(columns) <= 1:
            return pyogrio.read_dataframe(file, layer=layer)
        chosen = _pick_geometry(columns, obj_type)
        others = {c.lower() for c, _ in columns} - {chosen.lower()}
        with sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True) as db:
            names = [r[1] for r in db.execute(f'PRAGMA table_info("{layer}")')]
        keep = ", ".join(f'"{n}"' for n in names if n.lower() not in others)
        report.count("geometry_columns_ignored", len(others))
        report.note(f"{file}: {layer} has {len(columns)} geometry columns; read {chosen}")
        return pyogrio.read_dataframe(file, sql=f'SELECT {keep} FROM "{layer}"')
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, sqlite3.Error) as exc:
        raise SourceError(file, f"cannot read table {layer}: {exc}") from None
    except shapely.errors.GEOSException as exc:
        raise SourceError(file, f"table {layer}: a geometry cannot be read (curved?): {exc}") from None


def _text(value: Any) -> str | None:
    """A column value as the text the GML would carry: None for nulls, integers without ``.0``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _read_table(file: Path, layer: str, obj_type: str, label: str, report: SourceReport) -> list[dict[str, Any]]:
    """Current objects of one table, with geometry, as feature records."""
    frame = _read_frame(file, layer, obj_type, report)
    srs = frame.crs.to_string() if frame.crs is not None else None
    names = [c for c in frame.columns if c != frame.geometry.name]
    keys = [bm.attribute_key(c) for c in names]
    values = {k: [_text(v) for v in frame[c].to_numpy(dtype=object)] for k, c in zip(keys, names, strict=True)
              if k not in ("geometry",)}
    geoms = shapely.force_2d(frame.geometry.values.to_numpy()) if len(frame) else np.empty(0, dtype=object)
    out: list[dict[str, Any]] = []
    for i in range(len(frame)):
        attrs = {k: col[i] for k, col in values.items()}
        source_id = attrs.get(bm.LOCAL_ID_ATTRIBUTE) or attrs.get("gml_id") or f"{layer} row {i + 1}"
        report.count("read")
        report.count(f"read_{obj_type}")
        reason = bm.skip_reason(obj_type, attrs)
        if reason in ("ended", "plan"):
            report.count(f"{reason}_excluded")
            report.count(f"{reason}_{obj_type}")
            continue
        if reason is not None:
            report.count(f"{reason}_excluded_{obj_type}" if reason == "level" else f"{reason}_{obj_type}")
            continue
        geom = geoms[i]
        if geom is None or geom.is_empty:
            report.count(f"no_geometry_{obj_type}")
            continue
        out.append({"obj_type": obj_type, "source_id": source_id, "attrs": attrs, "kind": _kind(geom),
                    "geom": geom, "srs": srs, "label": label})
    return _repair(out, label, report)


def _kind(geom: shapely.Geometry) -> str:
    family = geom.geom_type
    if family in ("Polygon", "MultiPolygon"):
        return "surface"
    if family in ("Point", "MultiPoint"):
        return "point"
    return "curve"


def _repair(records: list[dict[str, Any]], label: str, report: SourceReport) -> list[dict[str, Any]]:
    """Make this table's invalid polygons valid (counted as ``repaired``); unrepairable -> SourceError."""
    surfaces = [r for r in records if r["kind"] == "surface"]
    if surfaces:
        frame = gpd.GeoDataFrame({"source_id": [r["source_id"] for r in surfaces]},
                                 geometry=[r["geom"] for r in surfaces])
        fixed = repair_polygons(frame, report, label, id_column="source_id")
        for r, g in zip(surfaces, fixed.geometry.values, strict=True):
            r["geom"] = g
    return records
