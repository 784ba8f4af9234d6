"""What a planner sends as an assessment site, read into labelled polygons: GeoJSON, a GeoPackage, a zipped shapefile.

The readers check the form (GeoJSON nesting, numbers, closed rings; file type, layers, sidecar files,
CRS) and label each polygon with where it came from (``geometry.features[2], polygon 0``, ``file
'plan.gpkg', layer 'percelen', feature 3``); ``geo.site`` checks the geometry. Uploads are written only
into a private temporary folder under fixed names (``site.gpkg``, ``site.shp``); zip members with an
absolute path or ``..`` are ignored (zip slip) and unpack to at most :data:`MAX_UNZIPPED_RATIO` times
the upload limit. Every problem is a ``geo.errors.InputError`` (or ``InputTooLargeError``).
"""

from __future__ import annotations

import io
import math
import numbers
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError
from shapely.geometry import Polygon

from geo.errors import InputError, InputTooLargeError

#: CRS of GeoJSON coordinates when the request names none: the Dutch national grid (RD New).
DEFAULT_SITE_CRS = "EPSG:28992"
#: The forms of a CRS accepted: an authority code (``EPSG:28992``, ``OGC:CRS84``, ``EPSG:28992+5709``), an OGC
#: URN or URL, a PROJ string, WKT. A bare name (``"WGS 84"``) is not: PROJ searches its database by name for
#: half a second.
CRS_FORMS = re.compile(
    r"^(?:[A-Za-z]+:[A-Za-z0-9]+(?:\+[A-Za-z0-9:]+)?"
    r"|urn:ogc:def:crs:\S+|https?://www\.opengis\.net/def/crs/\S+|\+proj=.*|[A-Z_0-9]+\[.*\])$",
    re.DOTALL,
)
#: Longest CRS text (characters): WKT of a projected CRS is a few thousand.
MAX_CRS_CHARS = 20_000
#: Characters of a bad value repeated in a message, and the most zip members listed.
MAX_ECHO = 40
MAX_LISTED = 10
#: Members of a zip may unpack to this many times the upload limit in all (a zip bomb stops there).
MAX_UNZIPPED_RATIO = 20
#: The first bytes of every SQLite database, hence of every GeoPackage.
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Shapefile main header: file code 9994 (big-endian) at byte 0, shape type (little-endian) at byte 32.
SHP_HEADER_BYTES = 100
SHP_FILE_CODE = 9994
SHP_TYPE_OFFSET = 32
#: Shape types of polygon shapefiles (Polygon, PolygonZ, PolygonM), and the names of the others.
SHP_POLYGON_TYPES = frozenset({5, 15, 25})
SHP_TYPE_NAMES = {0: "no geometry", 1: "Point", 3: "LineString", 8: "MultiPoint", 31: "MultiPatch"}
#: Files of one shapefile that must be in the zip, and the optional ones that are read too.
SHP_REQUIRED = (".shp", ".shx", ".dbf")
SHP_OPTIONAL = (".prj", ".cpg")
#: Positions of a GeoJSON ring: at least 4 (a triangle and the first repeated as the last).
MIN_RING_POSITIONS = 4
#: A GeoJSON position holds x, y and optionally z (the height is dropped).
POSITION_SIZES = (2, 3)
#: GeoJSON geometry types that are not polygons (named in the error).
NOT_POLYGONS = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "GeometryCollection"})

Labelled = list[tuple[str, Polygon]]


@dataclass(frozen=True)
class SiteParts:
    """The polygons a reader found in what a planner sent, before ``geo.site`` checks them.

    Attributes:
        where: names the input in messages about the whole site (``geometry``, ``file 'plan.gpkg'``).
        polygons: (label, polygon in ``crs``) per polygon; a MultiPolygon gives one per part.
        crs: the CRS of the polygons.
        origin: ``"geojson"``, ``"gpkg"``, ``"shapefile"`` or ``"bag:<id>"``.
        warnings: Dutch notes for the report (the layer taken, features skipped).
    """

    where: str
    polygons: tuple[tuple[str, Polygon], ...]
    crs: CRS
    origin: str
    warnings: tuple[str, ...] = ()


# --- GeoJSON -------------------------------------------------------------------------------------


def parse_site_crs(value: Any, field: str) -> CRS:
    """A horizontal CRS PROJ knows, in one of the :data:`CRS_FORMS` (``"EPSG:28992"``, ``"EPSG:4326"``, WKT).

    Any CRS with horizontal axes is accepted, not only RD New and WGS84 (``EPSG:3857``, ``EPSG:25831``,
    RD + NAP ``EPSG:7415``): the site is transformed to the region CRS.

    Raises:
        InputError: naming ``field``, when PROJ does not know it or it has no horizontal axes.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{field}: expected a CRS such as 'EPSG:28992' or 'EPSG:4326', got {str(value)[:MAX_ECHO]!r}")
    text = value.strip()
    unknown = f"{field}: {text[:MAX_ECHO]!r} is not a coordinate reference system PROJ knows"
    if len(text) > MAX_CRS_CHARS or not CRS_FORMS.match(text):
        raise InputError(f"{unknown}; give a code such as 'EPSG:28992', a URN or URL of one, a PROJ string or WKT")
    try:
        crs = CRS.from_user_input(text)
    except (ProjCRSError, ValueError, TypeError):
        raise InputError(unknown) from None
    if not (crs.is_projected or crs.is_geographic):
        raise InputError(f"{field}: {text[:MAX_ECHO]!r} has no horizontal coordinates (x, y or longitude, latitude)")
    return crs


def legacy_crs(obj: Any) -> str | None:
    """The CRS name of a GeoJSON object's legacy (2008) ``crs`` member, as QGIS writes it; None without one."""
    member = obj.get("crs") if isinstance(obj, dict) else None
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str):
        raise InputError('geometry.crs: expected {"type": "name", "properties": {"name": "EPSG:28992"}}')
    return name


def parse_geojson_site(obj: Any, field: str, max_vertices: int) -> Labelled:
    """The polygons of a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection, labelled by where they are.

    Args:
        obj: the parsed JSON.
        field: name of the request field, the start of every label (``geometry``).
        max_vertices: most positions over all polygons.

    Raises:
        InputError: naming the JSON path (``geometry.features[1].geometry.coordinates[0][3]``) of
            malformed GeoJSON, a geometry that is not a polygon, an empty one, an open ring.
        InputTooLargeError: more than ``max_vertices`` positions.
    """
    counter = _Counter(max_vertices, field)
    kind = _type_of(obj, field)
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list | tuple):
            raise InputError(f"{field}: a FeatureCollection needs a 'features' list")
        if not features:
            raise InputError(f"{field}: the FeatureCollection has no features")
        out: Labelled = []
        for i, feature in enumerate(features):
            out += _feature(feature, f"{field}.features[{i}]", counter)
        return out
    if kind == "Feature":
        return _feature(obj, field, counter)
    return _geometry(obj, field, field, counter)


class _Counter:
    """Counts positions and refuses more than ``limit`` (InputTooLargeError naming ``field``)."""

    def __init__(self, limit: int, field: str) -> None:
        self.limit, self.field, self.count = limit, field, 0

    def add(self, n: int) -> None:
        self.count += n
        if self.count > self.limit:
            raise InputTooLargeError(f"{self.field}: more than {self.limit} positions")


def _type_of(obj: Any, path: str) -> str:
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a GeoJSON object with a 'type', got {_kind(obj)}")
    kind = obj.get("type")
    if not isinstance(kind, str | None):
        raise InputError(f"{path}: 'type' must be a string, got {_kind(kind)}")
    if kind is None:
        raise InputError(f"{path}: missing 'type' (Polygon, MultiPolygon, Feature or FeatureCollection)")
    if kind in NOT_POLYGONS:
        raise InputError(f"{path}: a {kind} is not a polygon; the site must be a Polygon or MultiPolygon")
    if kind not in ("Polygon", "MultiPolygon", "Feature", "FeatureCollection"):
        raise InputError(f"{path}: unknown GeoJSON type {_short(kind)}")
    return str(kind)


def _feature(feature: Any, path: str, counter: _Counter) -> Labelled:
    if _type_of(feature, path) != "Feature":
        raise InputError(f"{path}: expected a Feature, got a {feature['type']}")
    ident = feature.get("id")
    label = path if ident is None else f"{path} (id {_short(ident)})"
    if "geometry" not in feature:
        raise InputError(f"{label}: missing 'geometry'")
    geometry = feature["geometry"]
    if geometry is None:
        raise InputError(f"{label}: the feature has no geometry (null)")
    where = f"{path}.geometry"
    if _type_of(geometry, where) in ("Feature", "FeatureCollection"):
        raise InputError(f"{where}: expected a Polygon or MultiPolygon, got a {geometry['type']}")
    return _geometry(geometry, label, where, counter)


def _geometry(geometry: dict[str, Any], label: str, path: str, counter: _Counter) -> Labelled:
    kind = geometry["type"]
    if "coordinates" not in geometry:
        raise InputError(f"{path}: missing 'coordinates'")
    coords = geometry["coordinates"]
    where = f"{path}.coordinates"
    if not isinstance(coords, list | tuple):
        raise InputError(f"{where}: expected a list, got {_kind(coords)}")
    if not coords:
        raise InputError(f"{label}: the {kind} is empty (no coordinates)")
    if kind == "Polygon":
        return [(label, _polygon(coords, label, where, counter))]
    out: Labelled = []
    for i, rings in enumerate(coords):
        if not isinstance(rings, list | tuple):
            raise InputError(f"{where}[{i}]: expected a polygon (a list of rings), got {_kind(rings)}")
        if not rings:
            raise InputError(f"{label}, polygon {i}: the polygon is empty")
        out.append((f"{label}, polygon {i}", _polygon(rings, f"{label}, polygon {i}", f"{where}[{i}]", counter)))
    return out


def _polygon(rings: list[Any] | tuple[Any, ...], label: str, path: str, counter: _Counter) -> Polygon:
    arrays = []
    for i, ring in enumerate(rings):
        where = f"{path}[{i}]"
        if _is_position(ring):
            raise InputError(
                f"{where}: expected a ring (a list of positions), got a position; a level of nesting is missing"
            )
        if not isinstance(ring, list | tuple):
            raise InputError(f"{where}: expected a ring (a list of positions), got {_kind(ring)}")
        counter.add(len(ring))
        xy = np.array([_position(p, f"{where}[{j}]") for j, p in enumerate(ring)], dtype=float).reshape(-1, 2)
        if len(ring) < MIN_RING_POSITIONS:
            raise InputError(
                f"{label}: ring {i} has {len(ring)} position(s); a ring needs at least {MIN_RING_POSITIONS} "
                "(the first repeated as the last)"
            )
        if not np.array_equal(xy[0], xy[-1]):
            raise InputError(
                f"{label}: ring {i} is not closed: it starts at ({xy[0, 0]:.10g}, {xy[0, 1]:.10g}) "
                f"and ends at ({xy[-1, 0]:.10g}, {xy[-1, 1]:.10g})"
            )
        arrays.append(xy)
    return Polygon(arrays[0], arrays[1:])


def _is_position(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(_is_number(v) for v in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _position(value: Any, path: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) not in POSITION_SIZES:
        nested = isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple)
        hint = "; a level of nesting too many" if nested else ""
        raise InputError(f"{path}: expected a position [x, y] or [x, y, z], got {_short(value)}{hint}")
    if not all(_is_number(v) for v in value):
        raise InputError(f"{path}: a position holds numbers only, got {_short(value)}")
    try:
        floats = [float(v) for v in value]
    except OverflowError:
        floats = [math.inf]
    if not all(math.isfinite(v) for v in floats):
        raise InputError(f"{path}: not a finite number: {_short(value)}")
    return floats[0], floats[1]


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", tuple: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if _is_number(value) else type(value).__name__)


def _short(value: Any, limit: int = MAX_ECHO) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- Files ---------------------------------------------------------------------------------------


def read_site_file(data: bytes, filename: str, max_bytes: int) -> SiteParts:
    """The polygons of an uploaded GeoPackage (``.gpkg``) or zipped shapefile (``.zip``).

    Args:
        data: the file's bytes.
        filename: the uploaded file name; its extension picks the reader.
        max_bytes: largest file (bytes).

    Raises:
        InputError: an empty, malformed or unknown file; a zip without ``.shp`` (or its ``.shx``,
            ``.dbf``, ``.prj``); no polygon layer or shapefile; no CRS; a feature that is not a polygon.
        InputTooLargeError: more than ``max_bytes`` (or a zip unpacking to too much).
    """
    name = PurePosixPath(str(filename).replace("\\", "/")).name or "upload"
    what = f"file {name!r}"
    if len(data) > max_bytes:
        raise InputTooLargeError(f"{what}: {len(data)} bytes; at most {max_bytes}")
    if not data:
        raise InputError(f"{what}: the file is empty")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".shp":
        raise InputError(f"{what}: send a shapefile as a .zip with its .shx, .dbf and .prj")
    if suffix not in (".gpkg", ".zip"):
        raise InputError(
            f"{what}: unknown extension {suffix or '(none)'!r}; send a GeoPackage (.gpkg) or a zipped shapefile (.zip)"
        )
    with tempfile.TemporaryDirectory(prefix="kaartlaag-site-") as tmp:
        if suffix == ".gpkg":
            return _read_gpkg(data, what, name, Path(tmp))
        return _read_shapefile_zip(data, what, name, Path(tmp), max_bytes * MAX_UNZIPPED_RATIO)


def _read_gpkg(data: bytes, what: str, name: str, tmp: Path) -> SiteParts:
    if not data.startswith(SQLITE_MAGIC):
        raise InputError(f"{what}: not a GeoPackage (the file is not an SQLite database)")
    path = tmp / "site.gpkg"
    path.write_bytes(data)
    layers = _layers(path, what)
    polygon_layers = [str(n) for n, kind in layers if _is_polygon_type(kind)]
    if not polygon_layers:
        found = ", ".join(f"{n!r} ({kind or 'no geometry'})" for n, kind in layers) or "none"
        raise InputError(f"{what}: the GeoPackage has no polygon layer (layers: {found})")
    layer = polygon_layers[0]
    notes = []
    if len(layers) > 1:
        others = ", ".join(repr(str(n)) for n, _ in layers if str(n) != layer)
        notes.append(
            f"Het GeoPackage heeft {len(layers)} lagen; alleen de polygoonlaag '{layer}' is gebruikt (niet: {others})."
        )
    frame = _read_frame(path, f"{what}, layer {layer!r}", layer)
    if frame.crs is None:
        raise InputError(f"{what}, layer {layer!r}: the layer has no CRS (srs_id undefined)")
    return _upload(frame, f"{what}, layer {layer!r}", name, "gpkg", notes)


def _read_shapefile_zip(data: bytes, what: str, name: str, tmp: Path, max_unzipped: int) -> SiteParts:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise InputError(f"{what}: not a zip archive (or a damaged one)") from None
    with archive:
        members = {m.filename: m for m in archive.infolist() if not m.is_dir() and _safe_member(m.filename)}
        shapefiles = sorted(n for n in members if PurePosixPath(n).suffix.lower() == ".shp")
        if not shapefiles:
            found = ", ".join(n[:MAX_ECHO] for n in sorted(members)[:MAX_LISTED]) or "nothing"
            raise InputError(f"{what}: the zip holds no shapefile (.shp); found: {found}")
        budget = [max_unzipped]
        kinds = {n: _shape_type(_member_bytes(archive, members[n], what, budget), f"{what}, {n}") for n in shapefiles}
        polygonal = [n for n in shapefiles if kinds[n] in SHP_POLYGON_TYPES]
        if not polygonal:
            found = ", ".join(f"{n} ({SHP_TYPE_NAMES.get(kinds[n], f'type {kinds[n]}')})" for n in shapefiles)
            raise InputError(f"{what}: the zip holds no polygon shapefile ({found})")
        chosen = polygonal[0]
        notes = []
        if len(shapefiles) > 1:
            others = ", ".join(n for n in shapefiles if n != chosen)
            notes.append(f"De zip bevat {len(shapefiles)} shapefiles; alleen '{chosen}' is gebruikt (niet: {others}).")
        stem = _stem(chosen)
        by_suffix = {PurePosixPath(n).suffix.lower(): n for n in members if _stem(n) == stem}
        label, base = f"{what}, {chosen}", PurePosixPath(chosen).stem
        for suffix in SHP_REQUIRED:
            if suffix not in by_suffix:
                raise InputError(f"{label}: the zip lacks {base}{suffix}, part of every shapefile")
        if ".prj" not in by_suffix:
            raise InputError(
                f"{label}: the zip has no {base}.prj, so the shapefile's CRS is unknown; add the .prj file"
            )
        for suffix in (*SHP_REQUIRED, *SHP_OPTIONAL):
            if suffix in by_suffix:
                (tmp / f"site{suffix}").write_bytes(_member_bytes(archive, members[by_suffix[suffix]], what, budget))
    if _prj_crs((tmp / "site.prj").read_bytes()) is None:
        raise InputError(f"{label}: {base}.prj is not a CRS PROJ knows")
    frame = _read_frame(tmp / "site.shp", label, None)
    if frame.crs is None:
        raise InputError(f"{label}: {base}.prj is not a CRS PROJ knows")
    return _upload(frame, label, name, "shapefile", notes)


def _stem(member: str) -> str:
    """A member's path without its extension, lower case: the files of one shapefile share it."""
    return str(PurePosixPath(member.replace("\\", "/")).with_suffix("")).lower()


def _prj_crs(text: bytes) -> CRS | None:
    """The CRS of a ``.prj`` (WKT, also ESRI's), or None when PROJ cannot read it.

    Read as WKT only: ``CRS.from_user_input`` would search PROJ's database by name for any other
    text, half a second per upload.
    """
    try:
        return CRS.from_wkt(text.decode("utf-8", errors="replace").strip())
    except (ProjCRSError, ValueError, TypeError):
        return None


def _safe_member(member: str) -> bool:
    """A zip member inside the archive's own folder: no absolute path, no ``..``, no macOS resource fork."""
    text = member.replace("\\", "/")
    parts = PurePosixPath(text).parts
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or ".." in parts:
        return False
    return not (parts and (parts[0] == "__MACOSX" or parts[-1].startswith("._")))


def _member_bytes(archive: zipfile.ZipFile, member: zipfile.ZipInfo, what: str, budget: list[int]) -> bytes:
    """A member's bytes, refused (InputTooLargeError) once all members read so far pass ``budget[0]``."""
    try:
        with archive.open(member) as src:
            content = src.read(budget[0] + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise InputError(f"{what}: cannot unpack {member.filename} ({exc})") from None
    budget[0] -= len(content)
    if budget[0] < 0:
        raise InputTooLargeError(f"{what}: the zip unpacks to more than {MAX_UNZIPPED_RATIO} times the upload limit")
    return content


def _shape_type(header: bytes, what: str) -> int:
    if len(header) < SHP_HEADER_BYTES or struct.unpack(">i", header[:4])[0] != SHP_FILE_CODE:
        raise InputError(f"{what}: not a shapefile (no shapefile header)")
    return int(struct.unpack("<i", header[SHP_TYPE_OFFSET : SHP_TYPE_OFFSET + 4])[0])


def _is_polygon_type(kind: Any) -> bool:
    text = str(kind or "").lower()
    return "polygon" in text and "curve" not in text


def _layers(path: Path, what: str) -> list[tuple[str, str]]:
    layers = _gdal(lambda: pyogrio.list_layers(path), path, f"{what}: cannot read the file")
    return [(str(n), str(k) if k is not None else "") for n, k in layers]


def _read_frame(path: Path, what: str, layer: str | None) -> Any:
    read = partial(pyogrio.read_dataframe, path, layer=layer, columns=[], fid_as_index=True)
    return _gdal(read, path, f"{what}: cannot read the features")


def _gdal(call: Callable[[], Any], path: Path, failure: str) -> Any:
    """``call()`` (GDAL on uploaded bytes); any failure becomes an InputError ``failure (GDAL's words)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "non conformant file extension" and the like
            return call()
    except Exception as exc:  # GDAL on hostile bytes fails in many ways (pyogrio even raises
        # UnboundLocalError for a CRS it cannot export); all of them mean "cannot read".
        raise InputError(f"{failure} ({_first_line(exc, path)})") from None


def _first_line(exc: Exception, path: Path) -> str:
    """GDAL's message, first line, without the temporary folder it names."""
    text = str(exc).replace(str(path.parent) + "/", "").strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _upload(frame: Any, what: str, name: str, origin: str, notes: list[str]) -> SiteParts:
    """Label the polygons of ``frame`` (a GeoDataFrame, index = fid); features without geometry are skipped."""
    geoms = frame.geometry.values
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.all():
        raise InputError(f"{what}: no feature has a geometry" if len(geoms) else f"{what}: the layer has no features")
    if empty.any():
        notes.append(f"{int(empty.sum())} object(en) zonder geometrie in {name} zijn overgeslagen.")
    out = []
    for fid, geom in zip(frame.index, geoms, strict=True):
        if geom is None or geom.is_empty:
            continue
        label = f"{what}, feature {fid}"
        flat = shapely.force_2d(geom)
        if flat.geom_type == "Polygon":
            out.append((label, flat))
        elif flat.geom_type == "MultiPolygon":
            out += [(f"{label}, polygon {k}", part) for k, part in enumerate(flat.geoms) if not part.is_empty]
        else:
            raise InputError(f"{label}: a {flat.geom_type} is not a polygon")
    return SiteParts(f"file {name!r}", tuple(out), CRS(frame.crs), origin, tuple(notes))
