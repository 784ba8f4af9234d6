"""BGT adapter: PDOK IMGeo 2.1 CityGML extracts -> landcover, buildings and trees.

Each ``bgt_<objecttype>.gml`` of the PDOK zip (or a folder) is streamed with
``lxml.etree.iterparse``, one ``cityObjectMember`` at a time. Objects with an end
of registration (``eindRegistratie``/``terminationDate``) are history and objects
with status ``plan`` are not built yet: both are skipped and counted. Landcover is
the ground-level (``relatieveHoogteligging`` 0) planar partition of the surface
types, classified by :mod:`geo.bgt_mapping`; buildings are ``pand`` footprints and
trees the ``vegetatieobject`` points of type ``boom``. Method and the full class
table: ``docs/bgt-mapping.md``.

Geometry (read by :mod:`geo.bgt_gml`): Polygon (with interiors), MultiSurface,
CompositeSurface and Surface/PolygonPatch (patches of one surface are dissolved),
Ring/Curve made of LineStringSegment, Arc, ArcString or Circle segments (densified
on their circle, chord error <= :data:`ARC_TOLERANCE_M`), posList with
srsDimension 2 or 3.
Rings that break GML's rules are counted and reported, never fixed silently:
an unclosed ring is closed (``rings_unclosed``), a degenerate ring (too few
positions for an area) is dropped (``rings_degenerate``), and an object left
without any polygon is skipped (``degenerate_skipped``). The first
:data:`MAX_FEATURE_NOTES` of each kind are noted with file, feature id and the
number of positions written in the file. A coordinate that is not a finite
number (``NaN``) is a ``SourceError`` naming file and feature.
CRS: each geometry's ``srsName``, else the file's boundedBy envelope; geometries
without either (PDOK's ``bgt_pand.gml``) take the single CRS the rest of the
delivery declares, and when it declares none that is a ``CRSError``.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

import geopandas as gpd
import pandas as pd
import shapely
from lxml import etree
from pyproj import CRS
from pyproj.exceptions import CRSError as _ProjCRSError

from geo import bgt_mapping as bm
from geo import bgt_sqlite
from geo.bgt_gml import ARC_TOLERANCE_M as ARC_TOLERANCE_M  # re-exported: docs/bgt-mapping.md names it here
from geo.bgt_gml import (
    GEOMETRIES,
    SURFACES,
    DegenerateSurfaceError,
    GmlGeometryError,
    RingIssue,
    local_name,
    read_geometry,
)
from geo.bgt_gml import MAX_ARC_SEGMENTS as MAX_ARC_SEGMENTS
from geo.canonical import validate_canonical
from geo.crs import RD_NEW, to_region_crs
from geo.errors import CRSError, SourceError
from geo.report import AdapterResult, SourceReport
from geo.vector import repair_polygons

#: Features noted by id per kind of ring problem; the rest are counted only.
MAX_FEATURE_NOTES = 10
_FILE_RE = re.compile(r"^bgt_([a-z0-9]+)\.gml$", re.IGNORECASE)
_WANTED = frozenset((*bm.LANDCOVER_TYPES, bm.BUILDING_TYPE, bm.TREE_TYPE))
_GML_ID = "{http://www.opengis.net/gml}id"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_COLUMNS = {"landcover": ["class", "source_class", "source_id", "function"], "buildings": ["id", "status", "bgt_id"],
            "trees": ["id"]}
_NULL_COLUMNS = {
    "landcover": {"public": "boolean"},
    "buildings": {"year": "Int64", "height_m": "Float64"},
    "trees": {"crown_diameter_m": "Float64", "height_m": "Float64", "species": "string"},
}


@dataclass
class _Feature:
    obj_type: str
    source_id: str
    attrs: dict[str, str | None]
    kind: str  # "surface", "point", "curve" or "none"
    geom: Any = None
    srs: str | None = None
    label: str = ""


def read_bgt(
    path: str | Path | Sequence[str | Path], region_crs: CRS = RD_NEW, report: SourceReport | None = None
) -> AdapterResult:
    """Read a PDOK BGT extract into the canonical landcover, buildings and trees sources.

    Args:
        path: zip of ``bgt_*.gml`` files (IMGeo 2.1 CityGML, as PDOK delivers
            it), a folder holding them, or one such file; or a BGT database:
            SpatiaLite/SQLite files (one per object type, as ogr2ogr or
            NLExtract write them), a GeoPackage, a folder or list of them
            (read by :mod:`geo.bgt_sqlite`).
        region_crs: CRS of the result (BGT itself is EPSG:28992, metres).
        report: report to add counts and notes to; a new one when None.

    Returns:
        ``AdapterResult`` with ``landcover`` (class, source_class, source_id,
        public = null), ``buildings`` (id, status, year/height_m null, bgt_id)
        and ``trees`` (id; crown size, height and species null), each validated
        with :func:`geo.canonical.validate_canonical` and in ``region_crs``.

    Raises:
        SourceError: unreadable/truncated zip, no ``bgt_*.gml`` files, malformed
            XML (file and line), a geometry that cannot be read (a non-finite
            coordinate, a posList that does not split into positions) or
            repaired (file and feature id).
        CRSError: geometries without a CRS in a delivery that declares none.
    """
    report = report if report is not None else SourceReport("bgt")
    database = bgt_sqlite.is_database(path)  # SpatiaLite/GeoPackage: same records, same mapping
    records, path = bgt_sqlite.read_database(path, report) if database else ([], Path(path))  # type: ignore[arg-type]
    features: list[_Feature] = [_Feature(**r) for r in records]
    with contextlib.ExitStack() as stack:
        for label, obj_type, opener in [] if database else _members(path, stack):
            if obj_type not in _WANTED:
                report.count("files_ignored")
                continue
            file_features = _read_member(opener, label, obj_type, report)
            features.extend(_repair(file_features, label, report))
    _resolve_crs(features, path, report)
    for key in ("rings_unclosed", "rings_degenerate", "degenerate_skipped"):
        if report.counts[key] > MAX_FEATURE_NOTES:
            report.note(f"{key}: {report.counts[key]} in all; only the first {MAX_FEATURE_NOTES} are noted by feature")
    sources = _assemble(features, region_crs, path, report)
    report.note(
        f"read {report.counts['read']} objects, kept {report.counts['kept']}; "
        f"{report.counts['ended_excluded']} ended and {report.counts['plan_excluded']} planned excluded"
    )
    return AdapterResult(sources=sources, report=report)


def _members(path: Path, stack: contextlib.ExitStack) -> Iterator[tuple[str, str, Callable[[], IO[bytes]]]]:
    """Yield ``(label, object type, opener)`` for every ``bgt_*.gml`` in a zip, folder or file."""
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.is_file() and _FILE_RE.match(f.name))
        if not files:
            raise SourceError(path, "the folder holds no bgt_*.gml files")
        for f in files:
            yield str(f), _object_type(f.name), _file_opener(f)
        return
    if not path.is_file():
        raise SourceError(path, "no such file or folder")
    if _FILE_RE.match(path.name):
        yield str(path), _object_type(path.name), _file_opener(path)
        return
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(path, f"not a readable zip archive (truncated or corrupt?): {exc}") from None
    names = sorted(n for n in archive.namelist() if _FILE_RE.match(PurePosixPath(n).name))
    if not names:
        raise SourceError(path, "the zip holds no bgt_*.gml files")
    for name in names:
        yield f"{path}!{name}", _object_type(PurePosixPath(name).name), partial(archive.open, name)


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


def _object_type(file_name: str) -> str:
    match = _FILE_RE.match(file_name)
    assert match is not None  # callers filtered on the same pattern
    return match.group(1).lower()


def _read_member(
    opener: Callable[[], IO[bytes]], label: str, obj_type: str, report: SourceReport
) -> list[_Feature]:
    """Stream one gml file and return its current objects with parsed geometry."""
    out: list[_Feature] = []
    file_srs: str | None = None
    try:
        with opener() as stream:
            events = etree.iterparse(stream, events=("end",), tag=("{*}cityObjectMember", "{*}Envelope"))
            for _, elem in events:
                if elem.tag.endswith("Envelope"):
                    if not any(a.tag.endswith("cityObjectMember") for a in elem.iterancestors()):
                        file_srs = elem.get("srsName") or file_srs
                    continue
                feature = _read_feature(elem, label, obj_type, file_srs, report)
                if feature is not None:
                    out.append(feature)
                elem.clear()
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno is not None else "?"
        raise SourceError(label, f"malformed XML at line {line}: {exc.msg}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise SourceError(label, f"cannot read the file (truncated or corrupt?): {exc}") from None
    return out


def _read_feature(
    member: etree._Element, label: str, obj_type: str, file_srs: str | None, report: SourceReport
) -> _Feature | None:
    """One ``cityObjectMember`` -> a current object with geometry, or None when skipped."""
    obj = next((c for c in member if isinstance(c.tag, str)), None)
    if obj is None:
        return None
    attrs: dict[str, str | None] = {}
    geometry_props: list[tuple[str, etree._Element]] = []
    for child in obj:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        first = next((c for c in child if isinstance(c.tag, str)), None)
        if first is None:
            attrs[name] = None if child.get(_XSI_NIL) == "true" else (child.text or "").strip() or None
        elif local_name(first.tag) in GEOMETRIES:
            geometry_props.append((name, first))
    lokaal = obj.find(".//{*}lokaalID")
    source_id = (lokaal.text or "").strip() if lokaal is not None else ""
    source_id = source_id or obj.get(_GML_ID) or f"{obj_type} member at line {member.sourceline}"
    report.count("read")
    report.count(f"read_{obj_type}")
    if bm.is_ended(attrs):
        report.count("ended_excluded")
        report.count(f"ended_{obj_type}")
        return None
    if bm.is_plan(attrs):
        report.count("plan_excluded")
        report.count(f"plan_{obj_type}")
        return None
    feature = _Feature(obj_type, source_id, attrs, "none", label=label)
    if obj_type == bm.TREE_TYPE and not bm.is_tree(attrs):
        report.count(f"not_tree_{obj_type}")
        return None
    if obj_type not in (bm.BUILDING_TYPE, bm.TREE_TYPE) and bm.level(attrs) != bm.GROUND_LEVEL:
        report.count(f"level_excluded_{obj_type}")
        return None
    # Crest lines (kruinlijn) are secondary geometries; the object's own geometry comes first otherwise.
    props = [g for n, g in geometry_props if not n.startswith("kruinlijn")]
    chosen = next((g for g in props if local_name(g.tag) in SURFACES), props[0] if props else None)
    if chosen is None:
        report.count(f"no_geometry_{obj_type}")
        return None
    feature.srs = chosen.get("srsName") or next(
        (e.get("srsName") for e in chosen.iter() if e.get("srsName")), None
    ) or file_srs
    issues: list[RingIssue] = []
    try:
        feature.kind, feature.geom = read_geometry(chosen, issues)
    except DegenerateSurfaceError as exc:
        _report_rings(exc.issues, label, obj_type, source_id, report, skipped=True)
        return None
    except (GmlGeometryError, ValueError, shapely.errors.GEOSException) as exc:
        raise SourceError(label, f"cannot read gml:{local_name(chosen.tag)}: {exc}", feature=source_id) from None
    _report_rings(issues, label, obj_type, source_id, report, skipped=False)
    return feature


def _report_rings(
    issues: list[RingIssue], label: str, obj_type: str, source_id: str, report: SourceReport, *, skipped: bool
) -> None:
    """Count unclosed and degenerate rings (and a skipped object); note the first few by feature id."""
    if not issues:
        return
    noted = False
    for kind in ("unclosed", "degenerate"):
        n = sum(i.kind == kind for i in issues)
        report.count(f"rings_{kind}", n)
        report.count(f"rings_{kind}_{obj_type}", n)
        noted = noted or (n > 0 and report.counts[f"rings_{kind}"] - n < MAX_FEATURE_NOTES)
    if skipped:
        report.count("degenerate_skipped")
        report.count(f"degenerate_skipped_{obj_type}")
        outcome = "; no polygon with an area is left, so the object is skipped"
    elif any(i.kind == "degenerate" for i in issues):
        outcome = "; the degenerate ring is dropped, the rest of the object kept"
    else:
        outcome = ""
    if noted:
        report.note(f"{label}, feature {source_id}: {'; '.join(i.describe() for i in issues)}{outcome}")


# --- repair, CRS and output -------------------------------------------------------------------


def _repair(features: list[_Feature], label: str, report: SourceReport) -> list[_Feature]:
    """Repair this file's invalid polygons (counted as ``repaired``); unrepairable -> SourceError."""
    surfaces = [f for f in features if f.kind == "surface"]
    if surfaces:
        frame = gpd.GeoDataFrame(
            {"source_id": [f.source_id for f in surfaces]}, geometry=[f.geom for f in surfaces]
        )
        before = report.counts["repaired"]
        fixed = repair_polygons(frame, report, label, id_column="source_id")
        if report.counts["repaired"] > before:
            report.note(f"{label}: {report.counts['repaired'] - before} invalid polygon(s) repaired")
            for f, g in zip(surfaces, fixed.geometry.values, strict=True):
                f.geom = g
    return features


def _resolve_crs(features: list[_Feature], path: Path, report: SourceReport) -> None:
    """Give geometries without ``srsName`` the one CRS the rest of the delivery declares."""
    declared = {f.srs for f in features if f.srs is not None}
    missing = [f for f in features if f.srs is None]
    if not missing:
        return
    crs_set = {_parse_srs(s, path).to_wkt() for s in declared}
    if len(crs_set) != 1:
        why = "no file of the delivery declares one" if not crs_set else "the delivery declares several"
        raise CRSError(missing[0].label, f"geometries without srsName and {why}; cannot tell their CRS")
    srs = next(iter(declared))
    for f in missing:
        f.srs = srs
    report.count("crs_inherited", len(missing))
    for label in sorted({f.label for f in missing}):
        report.note(f"{label}: declares no srsName; took the delivery's {srs}")


def _parse_srs(srs_name: str, where: object) -> CRS:
    try:
        return CRS.from_user_input(srs_name)
    except _ProjCRSError as exc:
        raise CRSError(where, f"unknown srsName {srs_name!r}: {exc}") from None


def _to_region(rows: pd.DataFrame, region_crs: CRS, path: Path) -> gpd.GeoDataFrame:
    """Put rows (with ``_srs``/``_label`` helper columns) into the region CRS, per declared CRS."""
    parts = []
    for (srs, label), group in rows.groupby(["_srs", "_label"], sort=False):
        crs = _parse_srs(str(srs), label)
        geoms = group["geometry"].to_numpy()
        # URN/URL srsNames use the CRS's own axis order (EPSG:4326 is lat, lon); GeoPandas wants x, y.
        if str(srs).lower().startswith(("urn:", "http")) and crs.axis_info[0].direction in ("north", "south"):
            geoms = shapely.transform(geoms, lambda xy: xy[:, ::-1])
        frame = gpd.GeoDataFrame(group.drop(columns=["_srs", "_label", "geometry"]), geometry=geoms, crs=crs)
        parts.append(to_region_crs(frame, region_crs, label))
    if not parts:
        empty = rows.drop(columns=["_srs", "_label", "geometry"])
        return gpd.GeoDataFrame(empty, geometry=[], crs=region_crs)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=region_crs)


def _assemble(features: list[_Feature], region_crs: CRS, path: Path, report: SourceReport) -> dict[str, Any]:
    landcover: list[dict[str, Any]] = []
    buildings: list[dict[str, Any]] = []
    trees: list[dict[str, Any]] = []
    unmapped: dict[str, set[str]] = {}
    for f in features:
        helper = {"geometry": f.geom, "_srs": f.srs, "_label": f.label}
        kept = False
        if f.obj_type in bm.LANDCOVER_TYPES and bm.level(f.attrs) != bm.GROUND_LEVEL:
            report.count(f"level_excluded_{f.obj_type}")  # only pand gets here: it is still a building
        elif f.obj_type in bm.LANDCOVER_TYPES:
            if f.kind == "surface":
                cls, source_class, mapped = bm.classify(f.obj_type, f.attrs)
                if not mapped:
                    report.count(f"unmapped_{f.obj_type}")
                    unmapped.setdefault(f.obj_type, set()).add(source_class)
                landcover.append({"class": cls, "source_class": source_class, "source_id": f.source_id,
                                  "function": bm.road_function(f.obj_type, f.attrs)} | helper)
                kept = True
            else:
                report.count(f"not_polygon_{f.obj_type}")
        if f.obj_type == bm.BUILDING_TYPE and f.kind == "surface":
            building_id, status, placeholder = bm.building_id_status(f.attrs, f.source_id)
            report.count("bag_id_placeholder", placeholder)
            buildings.append({"id": building_id, "status": status, "bgt_id": f.source_id, **helper})
            kept = True
        if f.obj_type == bm.TREE_TYPE:
            if f.kind == "point":
                trees.append({"id": f.source_id, **helper})
                kept = True
            else:
                report.count(f"not_point_{f.obj_type}")
        if kept:
            report.count("kept")
            report.count(f"kept_{f.obj_type}")
    shared = pd.Series([b["id"] for b in buildings], dtype=object).duplicated(keep=False).sum()
    if shared:
        report.count("buildings_shared_id", int(shared))
        report.note(f"{int(shared)} pand footprints share their BAG pand id with another pand (kept apart)")
    for obj_type, values in sorted(unmapped.items()):
        report.note(f"{obj_type}: unmapped value(s) {', '.join(sorted(values))} got the type default")
    sources: dict[str, Any] = {}
    for name, rows in (("landcover", landcover), ("buildings", buildings), ("trees", trees)):
        table = pd.DataFrame(rows, columns=[*_COLUMNS[name], "geometry", "_srs", "_label"])
        frame = _to_region(table, region_crs, path)
        for col, dtype in _NULL_COLUMNS[name].items():  # BGT does not carry these: typed nulls
            frame[col] = pd.array([pd.NA] * len(frame), dtype=dtype)
        sources[name] = validate_canonical(name, frame, path)
    return sources
