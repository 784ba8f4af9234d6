"""The site of a permit-site assessment: a polygon from GeoJSON, an uploaded file or a BAG id, checked.

A planner sends a site as GeoJSON (a Polygon, a MultiPolygon, a Feature or a
FeatureCollection of polygon features), as a GeoPackage or zipped shapefile
(``geo.site_files``), or as a BAG pand or verblijfsobject id. Every route ends in
the same checks and yields one :class:`Site` in the region CRS: the union of
the polygons, and the ring of surroundings ``buffer_m`` metres around it.

Every problem is a ``geo.errors.InputError`` (HTTP 400) or, past a size limit,
an ``InputTooLargeError`` (413), whose message names the field, feature or file
and the problem (for a self-intersection: where, and which rings). No shapely,
pyproj or pyogrio exception escapes. Warnings (Dutch, for the report) say what
was accepted but deserves attention, such as a site partly outside the region.

Pure: no HTTP, no files outside a private temporary folder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.crs import in_area_of_use, positions_lonlat
from geo.errors import ConfigError, InputError, InputTooLargeError
from geo.site_files import (
    DEFAULT_SITE_CRS,
    MAX_ECHO,
    SiteParts,
    legacy_crs,
    parse_geojson_site,
    parse_site_crs,
    read_site_file,
)

#: Segments per quarter circle of the buffer's round corners: the ring's area is within 0.2 % of the exact one.
BUFFER_QUAD_SEGMENTS = 16
#: Smallest site (m2); smaller ones are usually longitude/latitude sent without ``"crs": "EPSG:4326"``.
MIN_SITE_AREA_M2 = 1.0
#: Share of the site (or buffer) outside the region below which it counts as inside (rounding at the edge).
OUTSIDE_SHARE_TOLERANCE = 1e-6
#: Square metres per square kilometre, and per cent per share.
M2_PER_KM2 = 1e6
PERCENT = 100.0
#: Distance (relative to the polygon's size) within which a ring counts as passing an invalid spot.
RING_TOLERANCE = 1e-7
#: A BAG id with its URI prefix, as the PDOK services write it (``NL.IMBAG.Pand.0503100000012345``).
BAG_URI = re.compile(r"^NL\.IMBAG\.(?:Pand|Verblijfsobject)\.(\d+)$", re.IGNORECASE)
#: Longest ``bag_id`` (characters): 16 digits with the longest URI prefix, ``NL.IMBAG.Verblijfsobject.``.
MAX_BAG_ID_CHARS = 64
#: Where GEOS reports an invalid spot: ``Self-intersection[5 5]``.
_REASON = re.compile(r"^(?P<what>[^\[]+)\[(?P<x>\S+) (?P<y>\S+)\]")


@dataclass(frozen=True)
class SiteLimits:
    """Size bounds of an assessment site.

    Attributes:
        max_area_m2: largest site area (m2, in the region CRS).
        max_vertices: most positions over all polygons of the site.
        max_bytes: largest uploaded file (bytes); a zip's members may unpack to
            ``geo.site_files.MAX_UNZIPPED_RATIO`` times this.
        max_buffer_m: widest buffer (m).
        default_buffer_m: buffer (m) when the request gives none.
    """

    max_area_m2: float
    max_vertices: int
    max_bytes: int
    max_buffer_m: float
    default_buffer_m: float = 300.0


@dataclass(frozen=True)
class Site:
    """A checked assessment site.

    Attributes:
        geometry: the site (Polygon or MultiPolygon, region CRS, metres), the union of the polygons sent.
        buffer: the surroundings: ``geometry.buffer(buffer_m)`` minus the site (region CRS). Round
            corners have :data:`BUFFER_QUAD_SEGMENTS` segments per quarter circle. Holes of the site
            belong to the buffer.
        buffer_m: width of the buffer (m).
        crs: the region CRS (projected, metres).
        origin: ``"geojson"``, ``"gpkg"``, ``"shapefile"`` or ``"bag:<id>"``.
        warnings: what was accepted but deserves attention, in Dutch (for the report).
    """

    geometry: Polygon | MultiPolygon
    buffer: BaseGeometry
    buffer_m: float
    crs: CRS
    origin: str
    warnings: tuple[str, ...] = ()

    @property
    def area_m2(self) -> float:
        """Area of the site (m2, region CRS)."""
        return float(self.geometry.area)

    @property
    def buffer_area_m2(self) -> float:
        """Area of the buffer ring (m2, region CRS), the site excluded."""
        return float(self.buffer.area)


def site_from_geojson(
    obj: Any,
    crs: str | None,
    region_crs: CRS,
    limits: SiteLimits,
    buffer_m: float | None = None,
    *,
    region_boundary: BaseGeometry | None = None,
    region_name: str = "",
) -> Site:
    """The site of the ``geometry`` field of an assessment request.

    Args:
        obj: the parsed JSON of ``geometry``: a GeoJSON Polygon, MultiPolygon, Feature or
            FeatureCollection of polygon features. Polygons of several features, and the parts of a
            MultiPolygon, may overlap: the site is their union. Rings must be closed.
        crs: the request's ``crs`` (``"EPSG:28992"``, ``"EPSG:4326"``, or any other horizontal CRS PROJ
            knows, such as ``"EPSG:3857"``, as an authority code, URN, PROJ string or WKT: see
            ``geo.site_files.parse_site_crs``); None: the GeoJSON's legacy ``crs`` member if it has one,
            else ``DEFAULT_SITE_CRS`` (RD New). Geographic coordinates are longitude, latitude (RFC 7946).
        region_crs: the region CRS (projected, metres).
        limits: size bounds.
        buffer_m: width of the surroundings (m); None: ``limits.default_buffer_m``.
        region_boundary: the region's polygon (region CRS); None: not checked.
        region_name: the region's name, used in messages.

    Raises:
        InputError: malformed GeoJSON, not a polygon, an empty or invalid polygon (naming where), an
            unknown CRS, positions outside the CRS's area of use, a site outside the region, a bad buffer.
        InputTooLargeError: more positions, more area or a wider buffer than ``limits`` allow.
    """
    width = check_buffer_m(buffer_m, limits)
    declared = legacy_crs(obj)
    if crs is None and declared is not None:
        source = parse_site_crs(declared, "geometry.crs")
    else:
        source = parse_site_crs(DEFAULT_SITE_CRS if crs is None else crs, "crs")
        if declared is not None and not parse_site_crs(declared, "geometry.crs").equals(source, ignore_axis_order=True):
            raise InputError(f"crs: {str(crs)[:MAX_ECHO]!r}, but the GeoJSON says its crs is {declared[:MAX_ECHO]!r}")
    polygons = tuple(parse_geojson_site(obj, "geometry", limits.max_vertices))
    read = SiteParts("geometry", polygons, source, "geojson")
    return build_site(read, region_crs, limits, width, region_boundary=region_boundary, region_name=region_name)


def site_from_file(
    data: bytes,
    filename: str,
    region_crs: CRS,
    limits: SiteLimits,
    buffer_m: float | None = None,
    *,
    region_boundary: BaseGeometry | None = None,
    region_name: str = "",
) -> Site:
    """The site in an uploaded GeoPackage (``.gpkg``) or zipped shapefile (``.zip``), in the file's own CRS.

    The site is the union of the polygons of the first polygon layer (a warning names it when the
    file has several layers or shapefiles); features without geometry are skipped with a warning.
    See ``geo.site_files.read_site_file`` for what is refused.

    Args:
        data: the file's bytes.
        filename: the uploaded file's name (its extension picks the reader; named in messages).
        region_crs, limits, buffer_m, region_boundary, region_name: as for :func:`site_from_geojson`.

    Raises:
        InputError: an empty, malformed or unknown file, a zip without ``.shp`` or ``.prj``, no polygon
            layer, a file without CRS, and every geometry problem of :func:`site_from_geojson`.
        InputTooLargeError: more bytes, positions or area than ``limits`` allow.
    """
    width = check_buffer_m(buffer_m, limits)
    read = read_site_file(data, filename, limits.max_bytes)
    check_vertices((p for _, p in read.polygons), limits, read.where)
    return build_site(read, region_crs, limits, width, region_boundary=region_boundary, region_name=region_name)


def site_from_bag(
    bag_id: str,
    buildings: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame | None,
    limits: SiteLimits,
    buffer_m: float | None = None,
    *,
    region_boundary: BaseGeometry | None = None,
    region_name: str = "",
) -> Site:
    """The footprint of a BAG pand, or of the pand a verblijfsobject (address) lies in.

    Args:
        bag_id: a pand or verblijfsobject identificatie (16 digits), optionally with its URI prefix
            (``NL.IMBAG.Pand.``, ``NL.IMBAG.Verblijfsobject.``).
        buildings: canonical ``buildings`` (``id``, footprints in the region CRS).
        addresses: canonical ``addresses`` (``id``, ``building_id``); None: only pand ids are known.
        limits, buffer_m, region_boundary, region_name: as for :func:`site_from_geojson`.

    Raises:
        InputError: an id that is neither a pand nor an address of the data, an address without pand.
    """
    width = check_buffer_m(buffer_m, limits)
    if not isinstance(bag_id, str) or not bag_id.strip() or len(bag_id.strip()) > MAX_BAG_ID_CHARS:
        raise InputError(
            f"bag_id: expected a BAG pand or verblijfsobject id (a string of 16 digits), got {str(bag_id)[:MAX_ECHO]!r}"
        )
    wanted = bag_id.strip()
    match = BAG_URI.match(wanted)
    key = match.group(1) if match else wanted
    if buildings.crs is None:
        raise ConfigError("buildings: the frame has no CRS; canonical sources are in the region CRS")
    ids = buildings["id"].astype(str)
    rows = buildings[ids == key]
    origin, what = f"bag:{key}", f"bag_id {wanted!r}"
    if rows.empty:
        hits = addresses[addresses["id"].astype(str) == key] if addresses is not None else None
        if hits is None or hits.empty:
            raise InputError(f"bag_id: {wanted!r} is neither a pand nor a verblijfsobject (address) of the region")
        pand = hits["building_id"].iloc[0]
        if pd.isna(pand):
            raise InputError(f"bag_id: the verblijfsobject {wanted!r} lies in no pand")
        rows = buildings[ids == str(pand)]
        if rows.empty:
            raise InputError(f"bag_id: the verblijfsobject {wanted!r} lies in pand {pand!r}, which the region lacks")
        what = f"bag_id {wanted!r} (pand {pand})"
    footprint = shapely.union_all(shapely.make_valid(np.asarray(rows.geometry.values, dtype=object)))
    polygons = polygonal_parts(footprint)
    if not polygons:
        raise InputError(f"bag_id: the footprint of {what} has no area")
    parts = tuple((f"{what}, polygon {i}", p) for i, p in enumerate(polygons))
    check_vertices(polygons, limits, what)
    read = SiteParts("bag_id", parts, CRS(buildings.crs), origin)
    return build_site(read, read.crs, limits, width, region_boundary=region_boundary, region_name=region_name)


def check_buffer_m(value: Any, limits: SiteLimits) -> float:
    """The buffer width (m): a number more than 0 and at most ``limits.max_buffer_m``; None: the default.

    Raises:
        InputError: not a number, not finite, or not positive.
        InputTooLargeError: wider than ``limits.max_buffer_m``.
    """
    if value is None:
        return float(limits.default_buffer_m)
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # a 400-digit integer
        number = math.nan
    if not math.isfinite(number):
        raise InputError(f"buffer_m: expected a number of metres, got {str(value)[:MAX_ECHO]!r}")
    value = number
    if value <= 0:
        raise InputError(f"buffer_m: must be more than 0 m, got {value:g}")
    if value > limits.max_buffer_m:
        raise InputTooLargeError(f"buffer_m: at most {limits.max_buffer_m:g} m, got {value:g}")
    return float(value)


def check_vertices(polygons: Iterable[BaseGeometry], limits: SiteLimits, what: str) -> None:
    """Refuse more positions over all ``polygons`` than ``limits.max_vertices`` (InputTooLargeError)."""
    count = int(sum(shapely.get_num_coordinates(p) for p in polygons))
    if count > limits.max_vertices:
        raise InputTooLargeError(f"{what}: {count} positions; at most {limits.max_vertices}")


def polygonal_parts(geom: BaseGeometry | None) -> list[Polygon]:
    """The non-empty polygons of a geometry (collections flattened; points and lines dropped)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [p for g in getattr(geom, "geoms", ()) for p in polygonal_parts(g)]


def build_site(
    read: SiteParts,
    region_crs: CRS,
    limits: SiteLimits,
    buffer_m: float,
    *,
    region_boundary: BaseGeometry | None = None,
    region_name: str = "",
) -> Site:
    """Check the labelled polygons a reader found and make the site in the region CRS.

    Each polygon must have an area and be valid (in its own coordinates); every position must lie in
    the area of use of the source and region CRS; the union must cover :data:`MIN_SITE_AREA_M2` to
    ``limits.max_area_m2`` and meet the region boundary.

    Args:
        read: what a reader of ``geo.site_files`` found (polygons, their CRS, origin, warnings).
        region_crs: the region CRS (projected, metres).
        limits: size bounds.
        buffer_m: checked buffer width (m).
        region_boundary: the region's polygon (region CRS); None: not checked.
        region_name: the region's name, used in messages.
    """
    parts, source_crs, where = list(read.polygons), read.crs, read.where
    if not (region_crs.is_projected and region_crs.axis_info[0].unit_name == "metre"):
        raise ConfigError(f"region crs {region_crs.to_string()}: a site needs a projected CRS in metres")
    if not parts:
        raise InputError(f"{where}: the site has no polygon")
    if not (source_crs.is_projected or source_crs.is_geographic):
        raise InputError(f"{where}: the crs {source_crs.to_string()} has no horizontal coordinates")
    for label, polygon in parts:
        check_polygon(label, polygon)
    xy = np.concatenate([shapely.get_coordinates(p) for _, p in parts])
    check_area_of_use(xy, source_crs, region_crs, where)
    polygons = [p for _, p in parts]
    if not region_crs.equals(source_crs, ignore_axis_order=True):
        polygons = _transform(polygons, source_crs, region_crs, where)
    site = _union(polygons, where)
    area = float(site.area)
    if area < MIN_SITE_AREA_M2:
        raise InputError(
            f"{where}: the site covers {area:.3g} m2 in the region crs, less than {MIN_SITE_AREA_M2:g} m2; "
            f'are these longitude/latitude? then send "crs": "EPSG:4326" (the crs used: {source_crs.to_string()})'
        )
    if area > limits.max_area_m2:
        raise InputTooLargeError(
            f"{where}: the site covers {area / M2_PER_KM2:.2f} km2 ({area:.0f} m2); "
            f"at most {limits.max_area_m2 / M2_PER_KM2:g} km2"
        )
    ring = site.buffer(buffer_m, quad_segs=BUFFER_QUAD_SEGMENTS).difference(site)
    notes = list(read.warnings)
    if region_boundary is not None:
        notes += _region_warnings(site, ring, buffer_m, region_boundary, region_name, where)
    return Site(site, ring, buffer_m, region_crs, read.origin, tuple(notes))


def check_polygon(label: str, polygon: Polygon) -> None:
    """A polygon with an area that GEOS calls valid; else an InputError saying what is wrong, where, in which ring."""
    if polygon.is_empty:
        raise InputError(f"{label}: the polygon is empty")
    if not polygon.convex_hull.area > 0:
        raise InputError(f"{label}: the polygon has no area (all its positions lie on one line or point)")
    reason = shapely.is_valid_reason(polygon)
    if reason == "Valid Geometry":
        return
    found = _REASON.match(reason or "")
    if found is None:
        raise InputError(f"{label}: not a valid polygon ({reason})")
    what = found.group("what").strip()
    try:
        x, y = float(found.group("x")), float(found.group("y"))
    except ValueError:
        raise InputError(f"{label}: not a valid polygon ({reason})") from None
    rings = _rings_at(polygon, x, y)
    names = " and ".join(rings) if rings else "a ring"
    explain = {
        "Self-intersection": f"{names} {'cross each other' if len(rings) > 1 else 'crosses itself'}",
        "Ring Self-intersection": f"{names} touches itself",
        "Hole lies outside shell": f"{names} lies outside the outer ring",
        "Interior is disconnected": f"the interior is cut in pieces where {names} meet",
        "Nested holes": f"{names} lies inside another hole",
    }.get(what, names)
    raise InputError(f"{label}: {what.lower()} at ({x:.10g}, {y:.10g}): {explain}")


def _rings_at(polygon: Polygon, x: float, y: float) -> list[str]:
    """Names of the rings passing within :data:`RING_TOLERANCE` of (x, y): ``ring 0 (outer)``, ``ring 2 (hole 2)``."""
    minx, miny, maxx, maxy = polygon.bounds
    tolerance = RING_TOLERANCE * max(maxx - minx, maxy - miny, abs(x), abs(y), 1.0)
    point = shapely.Point(x, y)
    rings = [polygon.exterior, *polygon.interiors]
    return [
        f"ring {i} ({'outer' if i == 0 else f'hole {i}'})"
        for i, ring in enumerate(rings)
        if ring.distance(point) <= tolerance
    ]


def check_area_of_use(xy: np.ndarray, crs: CRS, region_crs: CRS, where: str) -> None:
    """Positions (n, 2) in ``crs`` are finite and inside the area of use of ``crs`` and of ``region_crs``.

    Positions are tested transformed to longitude/latitude (``geo.crs.positions_lonlat``), against
    ``geo.crs.area_of_use_box`` (areas widened as for source files).

    Raises:
        InputError: naming the first position that fails, the CRS and its area of use.
    """
    try:
        lon, lat, valid = positions_lonlat(xy, crs)
    except ProjError:
        raise InputError(f"{where}: the crs {crs.to_string()} cannot be transformed to longitude/latitude") from None
    for whose, area_crs in (("the site's crs", crs), ("the region crs", region_crs)):
        inside = valid & in_area_of_use(lon, lat, area_crs)
        if not inside.all():
            x, y = xy[~inside][0]
            area = area_crs.area_of_use
            label = f" ({area.name.split(' - ')[0].rstrip('.')})" if area is not None else ""
            raise InputError(
                f"{where}: position ({x:.10g}, {y:.10g}) lies outside the area of use of {whose} "
                f"{area_crs.to_string()}{label}; check the crs"
            )


@lru_cache(maxsize=32)
def _transformers(source: CRS, target: CRS) -> tuple[Transformer, Transformer]:
    """Transformers from ``source`` to ``target`` and back (x, y order; longitude first)."""
    return (
        Transformer.from_crs(source, target, always_xy=True),
        Transformer.from_crs(target, source, always_xy=True),
    )


def _transform(polygons: list[Polygon], source: CRS, target: CRS, where: str) -> list[Polygon]:
    try:
        forward = _transformers(source, target)[0]
    except ProjError:
        raise InputError(f"{where}: cannot transform {source.to_string()} to {target.to_string()}") from None

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = forward.transform(xy[:, 0], xy[:, 1], errcheck=False)
        return np.column_stack([x, y])

    with np.errstate(all="ignore"):
        out = [shapely.transform(p, project) for p in polygons]
    if not all(np.isfinite(shapely.get_coordinates(p)).all() for p in out):
        raise InputError(f"{where}: some positions cannot be transformed to the region crs {target.to_string()}")
    return out


def _union(polygons: list[Polygon], where: str) -> Polygon | MultiPolygon:
    """The union of valid polygons; one made invalid by the transformation is repaired (make_valid)."""
    fixed = [p if p.is_valid else shapely.make_valid(p) for p in polygons]
    parts = polygonal_parts(shapely.union_all(np.asarray(fixed, dtype=object)))
    if not parts:
        raise InputError(f"{where}: the site has no area")
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _region_warnings(
    site: BaseGeometry, ring: BaseGeometry, buffer_m: float, boundary: BaseGeometry, name: str, where: str
) -> list[str]:
    """Warnings (Dutch) for a site or buffer partly outside the region; an InputError for a site outside it."""
    region = boundary if boundary.is_valid else shapely.make_valid(boundary)
    label = f"de regio {name}" if name else "de regio"
    if not site.intersects(region):
        region_label = f"the region {name}" if name else "the region"
        raise InputError(
            f"{where}: the site lies outside {region_label} ({site.distance(region):.0f} m from its boundary)"
        )
    notes = []
    outside = float(site.difference(region).area) / float(site.area)
    if outside > OUTSIDE_SHARE_TOLERANCE:
        notes.append(f"Het plangebied ligt deels buiten {label} ({_pct(outside)}); daar ontbreken gegevens.")
    if ring.area > 0:
        ring_outside = float(ring.difference(region).area) / float(ring.area)
        if ring_outside > OUTSIDE_SHARE_TOLERANCE:
            notes.append(
                f"De omgeving (buffer van {buffer_m:g} m) ligt deels buiten {label} ({_pct(ring_outside)}); "
                "daar ontbreken gegevens."
            )
    return notes


def _pct(share: float) -> str:
    """A share as a Dutch percentage: ``12 %``, ``minder dan 1 %``."""
    value = share * PERCENT
    return "minder dan 1 %" if value < 1 else f"{value:.0f} %"
