"""BAG adapter: buildings (panden) and addresses (verblijfsobjecten).

Reads the Dutch Basisregistratie Adressen en Gebouwen (Kadaster) in either of
its two common forms and returns the canonical ``buildings`` and ``addresses``:

- a BAG 2.0 Extract (XML file, zip, nested zips or an unpacked folder), via
  :mod:`geo.bag_xml`, keeping per object the voorkomen current at the extract date;
- the PDOK BAG GeoPackage ("bag-light": layers ``pand`` and ``verblijfsobject``),
  which holds current objects only.

The format is recognised from the file's first bytes, not its name. See
``docs/adapters-bag-cbs.md`` for the field mapping and the counts reported.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as _ProjCRSError

from geo.bag_xml import WANTED_TYPES, BagName, BagObject, BagXmlReader
from geo.canonical import ADDRESS_PARTS, validate_canonical
from geo.crs import RD_NEW, to_region_crs
from geo.errors import CRSError, SourceError
from geo.report import AdapterResult, SourceReport
from geo.vector import repair_polygons

#: Length of a BAG object identificatie (municipality code, type code, serial number).
BAG_ID_DIGITS = 16
#: oorspronkelijkBouwjaar values that municipalities use for "unknown"; kept as given, counted.
YEAR_PLACEHOLDERS = (1005, 9999)
#: Default layer names of the PDOK BAG GeoPackage.
GPKG_LAYER_BUILDINGS = "pand"
GPKG_LAYER_ADDRESSES = "verblijfsobject"
#: GeoPackage column -> canonical column; the second tuple lists columns that may be absent.
GPKG_BUILDING_COLUMNS = {"identificatie": "id", "status": "status", "bouwjaar": "year"}
GPKG_BUILDING_OPTIONAL = ("bouwjaar",)
GPKG_ADDRESS_COLUMNS = {
    "identificatie": "id",
    "pand_identificatie": "building_id",
    "gebruiksdoel": "use",
    "status": "status",
    "oppervlakte": "floor_area_m2",
    # The main address (PDOK's verblijfsobject layer carries it; older extracts may not).
    "postcode": "postcode",
    "huisnummer": "house_number",
    "huisletter": "house_letter",
    "toevoeging": "house_number_addition",
    "openbare_ruimte_naam": "street",
}
GPKG_ADDRESS_OPTIONAL = ("oppervlakte", "postcode", "huisnummer", "huisletter", "toevoeging", "openbare_ruimte_naam")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_AREAL_TYPES = [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON]
_BUILDING_ORDER = ["id", "status", "year", "height_m"]
_ADDRESS_ORDER = ["id", "building_id", "use", "status", "floor_area_m2", *ADDRESS_PARTS]


def read_bag(
    path: str | Path,
    region_crs: CRS = RD_NEW,
    report: SourceReport | None = None,
    layer_buildings: str | None = None,
    layer_addresses: str | None = None,
    declared_crs: CRS | None = None,
) -> AdapterResult:
    """Read BAG panden and verblijfsobjecten into canonical ``buildings`` and ``addresses``.

    Args:
        path: a BAG 2.0 Extract (``.xml``, ``.zip`` with XML or nested zips, or a
            folder of them) or a PDOK BAG GeoPackage.
        region_crs: CRS of the output (metres); BAG itself is EPSG:28992 (RD New).
        report: report to add counts to; a new one is made when None.
        layer_buildings: GeoPackage layer with panden (default ``pand``).
        layer_addresses: GeoPackage layer with verblijfsobjecten (default ``verblijfsobject``).
        declared_crs: CRS from the config, for a GeoPackage without one or BAG XML
            without ``srsName``; contradicting the file's own CRS is an error.

    Returns:
        ``AdapterResult`` with ``buildings`` (Polygon: id, status, year, height_m
        null) when the input has panden and ``addresses`` (Point: id, building_id,
        use, status, floor_area_m2 in m², and the main address: postcode, house_number,
        house_letter, house_number_addition, street; null where the delivery lacks the
        nummeraanduiding or openbare ruimte) when it has verblijfsobjecten. Rows are
        sorted by id; every status is kept (layers filter on it) and counted.

    Raises:
        SourceError: naming the file (``outer.zip!inner.zip!file.xml`` inside zips),
            the feature and the problem: corrupt zip, malformed XML (with line),
            missing layer or column, no BAG objects at all.
        CRSError: missing or contradictory CRS.
    """
    path = Path(path)
    report = report if report is not None else SourceReport(f"BAG {path.name}")
    if not path.exists():
        raise SourceError(path, "file or folder not found")
    # BAG 2.0 prescribes RD New, so XML without srsName is RD by definition of the format;
    # a GeoPackage without CRS needs `crs:` in the config.
    format_crs: CRS | None = None
    if _is_geopackage(path):
        frames = _read_gpkg(path, report, layer_buildings, layer_addresses)
    else:
        format_crs = RD_NEW
        if layer_buildings or layer_addresses:
            raise SourceError(path, "layer names apply to a BAG GeoPackage; this is a BAG 2.0 Extract (XML)")
        frames = _read_xml(path, report)
    crs = declared_crs or format_crs
    sources = {name: _finish(frame, name, path, region_crs, report, crs) for name, frame in frames.items()}
    report.count("kept", sum(len(f) for f in sources.values()))
    return AdapterResult(sources=sources, report=report)


def _is_geopackage(path: Path) -> bool:
    if path.is_dir():
        return False
    with path.open("rb") as fh:
        return fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


# -- BAG 2.0 Extract XML ----------------------------------------------------------------------------


def _read_xml(path: Path, report: SourceReport) -> dict[str, gpd.GeoDataFrame]:
    reader = BagXmlReader(report)
    superseded_before = report.counts["superseded"]
    reader.read(path)
    if reader.xml_files == 0:
        raise SourceError(path, "no XML files found (expected a BAG 2.0 Extract)")
    ended = sum(len(reader.seen[k] - reader.current[k].keys()) for k in WANTED_TYPES)
    if ended:
        report.count("ended_excluded", ended)
        report.note(f"excluded {ended} object(s) without a voorkomen current at the extract date")
    panden, vbos = reader.current["PND"], reader.current["VBO"]
    if not panden and not vbos and not any(reader.seen.values()):
        raise SourceError(path, "no Pand or Verblijfsobject elements found (is this a BAG 2.0 Extract?)")
    objs = [*panden.values(), *vbos.values()]
    for obj in objs:
        if obj.geometry is None:
            raise SourceError(obj.where, f"{obj.kind} without geometry", feature=obj.id)
    crs = _xml_crs(objs, path, report)
    dropped = report.counts["superseded"] - superseded_before
    report.note(
        f"BAG 2.0 Extract: {len(panden)} current pand(en), {len(vbos)} current verblijfsobject(en) "
        f"from {reader.xml_files} XML file(s); {dropped} older voorkomen(s) dropped"
    )
    frames: dict[str, gpd.GeoDataFrame] = {}
    if reader.seen["PND"]:
        frames["buildings"] = _buildings_from_xml(list(panden.values()), crs)
    if reader.seen["VBO"]:
        frames["addresses"] = _addresses_from_xml(list(vbos.values()), crs, report, reader.names)
    return frames


def _xml_crs(objs: list[BagObject], path: Path, report: SourceReport) -> CRS | None:
    """The one CRS named by the geometries' ``srsName``; None when none is named."""
    names = Counter(o.srs for o in objs)
    missing = names.pop(None, 0)
    crs_list: list[CRS] = []
    for name in names:
        try:
            crs = CRS.from_user_input(name)
        except _ProjCRSError:
            raise CRSError(path, f"unknown srsName {name!r} in the BAG geometries") from None
        if not any(crs.equals(c, ignore_axis_order=True) for c in crs_list):
            crs_list.append(crs)
    if len(crs_list) > 1:
        raise CRSError(path, f"geometries use different CRSs: {', '.join(sorted(map(str, names)))}")
    if missing and crs_list:
        raise CRSError(path, f"{missing} geometries have no srsName while others say {next(iter(names))}")
    if missing:
        report.note("BAG geometries carry no srsName: using the configured crs, else EPSG:28992 (BAG 2.0)")
    return crs_list[0] if crs_list else None


def _buildings_from_xml(objs: list[BagObject], crs: CRS | None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": pd.Series([o.id for o in objs], dtype=object),
            "status": pd.Series([o.status for o in objs], dtype=object),
            "year": pd.array([o.year for o in objs], dtype="Int64"),
        },
        geometry=[o.geometry for o in objs],
        crs=crs,
    )


def _addresses_from_xml(
    objs: list[BagObject], crs: CRS | None, report: SourceReport, names: dict[str, dict[str, BagName]]
) -> gpd.GeoDataFrame:
    multi = sum(len(o.pand_refs) > 1 for o in objs)
    if multi:
        report.count("multiple_buildings", multi)
        report.note(f"{multi} verblijfsobject(en) lie in several panden; building_id is the first")
    geoms = [o.geometry for o in objs]
    numbers, streets = names["NUM"], names["OPR"]
    mains = [numbers.get(o.main_address) if o.main_address else None for o in objs]
    if numbers:
        lacking = sum(m is None for m in mains)
        if lacking:
            report.count("address_without_nummeraanduiding", lacking)
            report.note(f"{lacking} verblijfsobject(en) without a current hoofdadres in the delivery: no postcode")
    street = [streets.get(m.street_ref) if m is not None and m.street_ref else None for m in mains]
    return gpd.GeoDataFrame(
        {
            "id": pd.Series([o.id for o in objs], dtype=object),
            "building_id": pd.Series([o.pand_refs[0] if o.pand_refs else None for o in objs], dtype=object),
            "use": pd.Series([_join_uses(o.uses) for o in objs], dtype=object),
            "status": pd.Series([o.status for o in objs], dtype=object),
            "floor_area_m2": np.array([np.nan if o.area is None else o.area for o in objs], dtype=float),
            "postcode": pd.Series([m.postcode if m else None for m in mains], dtype=object),
            "house_number": pd.array([m.house_number if m else None for m in mains], dtype="Int64"),
            "house_letter": pd.Series([m.house_letter if m else None for m in mains], dtype=object),
            "house_number_addition": pd.Series([m.addition if m else None for m in mains], dtype=object),
            "street": pd.Series([r.name if r else None for r in street], dtype=object),
        },
        geometry=geoms,
        crs=crs,
    )


def _join_uses(uses: list[str] | str | None) -> str | None:
    """Gebruiksdoelen as one sorted, comma-separated string (stable across XML and GeoPackage)."""
    if uses is None or (not isinstance(uses, str | list) and pd.isna(uses)):
        return None
    parts = uses.split(",") if isinstance(uses, str) else uses
    clean = sorted({p.strip() for p in parts if p and p.strip()})
    return ",".join(clean) if clean else None


# -- PDOK BAG GeoPackage ----------------------------------------------------------------------------


def _read_gpkg(
    path: Path, report: SourceReport, layer_buildings: str | None, layer_addresses: str | None
) -> dict[str, gpd.GeoDataFrame]:
    try:
        layers = {str(name): str(kind) for name, kind in pyogrio.list_layers(path)}
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise SourceError(path, f"cannot open the GeoPackage: {exc}") from None
    for given in (layer_buildings, layer_addresses):
        if given is not None and given not in layers:
            raise SourceError(path, f"no layer {given!r}; layers: {', '.join(sorted(layers)) or 'none'}")
    name_b = layer_buildings or GPKG_LAYER_BUILDINGS
    name_a = layer_addresses or GPKG_LAYER_ADDRESSES
    if name_b not in layers and name_a not in layers:
        raise SourceError(
            path,
            f"no layer {name_b!r} or {name_a!r} (expected the PDOK BAG GeoPackage); "
            f"layers: {', '.join(sorted(layers)) or 'none'}",
        )
    frames: dict[str, gpd.GeoDataFrame] = {}
    if name_b in layers:
        raw = _read_layer(path, name_b, GPKG_BUILDING_COLUMNS, GPKG_BUILDING_OPTIONAL)
        raw["year"] = _numbers(raw["year"], f"{path}!{name_b}", "bouwjaar").round().astype("Int64")
        frames["buildings"] = _dedupe(raw, report, "buildings")
    if name_a in layers:
        raw = _read_layer(path, name_a, GPKG_ADDRESS_COLUMNS, GPKG_ADDRESS_OPTIONAL)
        raw["building_id"] = raw["building_id"].map(_first_ref, na_action="ignore")
        raw["building_id"] = _ids(raw["building_id"], path, allow_null=True)
        raw["use"] = pd.Series([_join_uses(u) for u in raw["use"]], index=raw.index, dtype=object)
        raw["floor_area_m2"] = _numbers(raw["floor_area_m2"], f"{path}!{name_a}", "oppervlakte")
        raw["house_number"] = _numbers(raw["house_number"], f"{path}!{name_a}", "huisnummer").round().astype("Int64")
        for column in ("postcode", "house_letter", "house_number_addition", "street"):
            raw[column] = raw[column].astype(object).where(raw[column].notna(), None)
        frames["addresses"] = _dedupe(raw, report, "addresses")
    return frames


def _read_layer(
    path: Path, layer: str, mapping: dict[str, str], optional: tuple[str, ...]
) -> gpd.GeoDataFrame:
    fields = [str(f) for f in pyogrio.read_info(path, layer=layer)["fields"]]
    by_lower = {f.lower(): f for f in fields}
    missing = [c for c in mapping if c not in by_lower and c not in optional]
    if missing:
        present_text = ", ".join(fields) or "none"
        lacking = ", ".join(missing)
        raise SourceError(path, f"layer {layer!r} lacks column(s) {lacking}; present: {present_text}")
    present = [by_lower[c] for c in mapping if c in by_lower]
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, columns=present)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise SourceError(f"{path}!{layer}", f"cannot read the layer: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise SourceError(f"{path}!{layer}", "the layer has no geometry column")
    frame = frame.rename(columns={by_lower[c]: mapping[c] for c in mapping if c in by_lower})
    for column in (mapping[c] for c in mapping if c not in by_lower):
        frame[column] = None
    frame["id"] = _ids(frame["id"], f"{path}!{layer}", allow_null=False)
    frame["status"] = frame["status"].astype(object).where(frame["status"].notna(), None)
    frame[frame.geometry.name] = shapely.force_2d(frame.geometry.values)
    return frame


def _ids(values: pd.Series, where: object, allow_null: bool) -> pd.Series:
    """BAG identificaties as 16-digit strings (integer columns lose the leading zero)."""
    nulls = values.isna()
    if nulls.any() and not allow_null:
        first = f"row {int(np.argmax(nulls.to_numpy())) + 1}"
        raise SourceError(where, f"{int(nulls.sum())} row(s) without identificatie", feature=first)
    out = values.astype(object).where(~nulls, None)
    if pd.api.types.is_numeric_dtype(values):
        out = out.map(lambda v: str(int(v)).zfill(BAG_ID_DIGITS), na_action="ignore")
    return out.map(lambda v: str(v).strip(), na_action="ignore").astype(object)


def _numbers(values: pd.Series, where: str, column: str) -> pd.Series:
    try:
        return pd.to_numeric(values.astype(object)).astype(float)
    except (ValueError, TypeError):
        raise SourceError(where, f"column {column} holds values that are not numbers") from None


def _first_ref(value: object) -> object:
    """First pand of a ``pand_identificatie`` that lists several (comma-separated)."""
    return value.split(",")[0].strip() if isinstance(value, str) else value


def _dedupe(frame: gpd.GeoDataFrame, report: SourceReport, name: str) -> gpd.GeoDataFrame:
    dup = frame["id"].duplicated()
    if dup.any():
        report.count(f"{name}_duplicate_rows", int(dup.sum()))
        report.note(f"{name}: {int(dup.sum())} repeated identificatie row(s) dropped (first kept)")
        frame = frame.loc[~dup]
    return frame


# -- common finishing -------------------------------------------------------------------------------


def _finish(
    frame: gpd.GeoDataFrame,
    name: str,
    path: Path,
    region_crs: CRS,
    report: SourceReport,
    declared_crs: CRS | None,
) -> gpd.GeoDataFrame:
    """CRS, geometry repair or points, status counts, column order and schema check."""
    frame = to_region_crs(frame, region_crs, path, declared_crs)
    if name == "buildings":
        frame = repair_polygons(frame, report, path, id_column="id")
        years = frame["year"]
        placeholders = int(years.isin(YEAR_PLACEHOLDERS).fillna(False).sum())
        if placeholders:
            report.count("year_placeholder", placeholders)
        frame["height_m"] = np.full(len(frame), np.nan)
        order = _BUILDING_ORDER
    else:
        frame = _points(frame, report)
        order = _ADDRESS_ORDER
    for status, n in frame["status"].value_counts(dropna=False).items():
        report.count(f"{name}_status:{status}", int(n))
    report.count(f"kept_{name}", len(frame))
    frame = frame[[*order, frame.geometry.name]].sort_values("id", kind="stable").reset_index(drop=True)
    return validate_canonical(name, frame, path)


def _points(frame: gpd.GeoDataFrame, report: SourceReport) -> gpd.GeoDataFrame:
    """Address points; a verblijfsobject given only as a polygon gets its centroid."""
    geoms = frame.geometry.values
    areal = np.isin(shapely.get_type_id(geoms), _AREAL_TYPES)
    if areal.any():
        report.count("point_from_polygon", int(areal.sum()))
        frame = frame.copy()
        out = np.asarray(geoms).copy()
        out[areal] = shapely.centroid(np.asarray(geoms)[areal])
        frame[frame.geometry.name] = gpd.GeoSeries(out, index=frame.index, crs=frame.crs)
    return frame
