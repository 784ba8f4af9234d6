"""Checks of coordinates and geometry bodies of TiTiler requests, before PROJ or GDAL see them.

A point or polygon must have finite coordinates inside the area of use of its
``coord_crs`` (WGS84 longitude and latitude by default): PROJ answers
coordinates far outside with errors or infinities. A statistics POST holds at
most ``max_features`` features and ``max_vertices`` positions, every polygon
non-empty with a positive area, and at most ``max_area_km2`` in all, measured in
the layer's CRS (``services.limits``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError
from shapely.geometry import shape

from services.errors import PayloadTooLargeError, RequestInputError
from services.limits import RequestLimits

#: Valid WGS84 coordinates (degrees): the default CRS of coordinates in TiTiler requests.
MAX_LONGITUDE = 180.0
MAX_LATITUDE = 90.0
WGS84 = "EPSG:4326"
#: Square metres per square kilometre.
M2_PER_KM2 = 1e6
#: Fraction by which the bounds of a CRS's area of use are widened before coordinates are tested
#: against them (areas of use are drawn tightly around the land they cover).
AREA_OF_USE_MARGIN = 0.1


@lru_cache(maxsize=64)
def crs_bounds(name: str, value: str) -> tuple[str, tuple[float, float, float, float]]:
    """The normalised name of a CRS and its area of use in its own coordinates (widened by a margin).

    Raises:
        RequestInputError: PROJ does not know the CRS.
    """
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        crs = CRS.from_user_input(text)
    except (ProjCRSError, ValueError, TypeError):
        raise RequestInputError(f"{name}={value!r}: not a coordinate reference system PROJ knows") from None
    area = crs.area_of_use
    west, south, east, north = area.bounds if area else (-MAX_LONGITUDE, -MAX_LATITUDE, MAX_LONGITUDE, MAX_LATITUDE)
    dx, dy = (east - west) * AREA_OF_USE_MARGIN, (north - south) * AREA_OF_USE_MARGIN
    west, south = max(west - dx, -MAX_LONGITUDE), max(south - dy, -MAX_LATITUDE)
    east, north = min(east + dx, MAX_LONGITUDE), min(north + dy, MAX_LATITUDE)
    if crs.is_geographic:
        return crs.to_string(), (west, south, east, north)
    to_crs = Transformer.from_crs(WGS84, crs, always_xy=True)
    bounds = to_crs.transform_bounds(west, south, east, north)
    if not all(math.isfinite(b) for b in bounds):
        raise RequestInputError(f"{name}={value!r}: its area of use cannot be expressed in its own coordinates")
    return crs.to_string(), bounds


def check_position(x: float, y: float, crs_param: str | None, what: str) -> None:
    """A position in ``crs_param`` (None: WGS84 longitude, latitude) is finite and inside the CRS's area of use."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise RequestInputError(f"{what} ({x}, {y}): not a finite number")
    if crs_param is None:
        if not (-MAX_LONGITUDE <= x <= MAX_LONGITUDE and -MAX_LATITUDE <= y <= MAX_LATITUDE):
            raise RequestInputError(f"{what} ({x}, {y}): outside -180..180, -90..90 degrees")
        return
    name, (west, south, east, north) = crs_bounds("coord_crs", crs_param)
    if not (west <= x <= east and south <= y <= north):
        raise RequestInputError(
            f"{what} ({x:g}, {y:g}): outside the area of use of {name} "
            f"({west:.6g}..{east:.6g}, {south:.6g}..{north:.6g})"
        )


def _features(data: Any) -> list[Any]:
    """The features of a GeoJSON Feature or FeatureCollection (anything else: an error naming it)."""
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise RequestInputError("body: a FeatureCollection needs a 'features' list")
        return features
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    raise RequestInputError("body: expected a GeoJSON Feature or FeatureCollection")


def _positions(node: Any) -> Iterator[tuple[float, float]]:
    """Every (x, y) position in GeoJSON coordinates (any nesting); non-numbers are skipped."""
    if isinstance(node, list):
        if len(node) >= 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in node[:2]):
            yield float(node[0]), float(node[1])
        else:
            for item in node:
                yield from _positions(item)


def check_geojson(body: bytes, coord_crs: str | None, raster_crs: str, limits: RequestLimits) -> None:
    """Check the GeoJSON body of a statistics POST against ``limits``.

    Args:
        body: the raw request body (JSON).
        coord_crs: the ``coord_crs`` query value (None: WGS84 longitude, latitude).
        raster_crs: CRS of the raster the statistics are computed on (areas are measured in it).
        limits: the server's request limits.

    Raises:
        RequestInputError: malformed GeoJSON, an empty polygon, a polygon without area,
            coordinates that are not finite or lie outside the CRS's area of use (400).
        PayloadTooLargeError: more features, positions or area than allowed, or a larger body (413).
    """
    if len(body) > limits.max_body_bytes:
        raise PayloadTooLargeError(f"body: at most {limits.max_body_bytes} bytes")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return  # FastAPI's validation answers malformed JSON with 422
    features = _features(data)
    if len(features) > limits.max_features:
        raise PayloadTooLargeError(f"body: at most {limits.max_features} features, got {len(features)}")
    total_positions = 0
    geometries = []
    for i, feature in enumerate(features):
        what = f"feature {i}"
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise RequestInputError(f"{what}: the geometry must be a Polygon or MultiPolygon")
        positions = list(_positions(geometry.get("coordinates")))
        total_positions += len(positions)
        if total_positions > limits.max_vertices:
            raise PayloadTooLargeError(f"body: at most {limits.max_vertices} positions over all features")
        if not positions:
            raise RequestInputError(f"{what}: the polygon is empty")
        for x, y in positions:
            check_position(x, y, coord_crs, f"{what}, coordinate")
        try:
            geom = shape(geometry)
        except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
            raise RequestInputError(f"{what}: not a valid polygon ({exc})") from None
        if geom.is_empty:
            raise RequestInputError(f"{what}: the polygon is empty")
        geometries.append(geom)
    if not geometries:
        return
    area_m2 = _area_in(geometries, coord_crs or WGS84, raster_crs)
    for i, area in enumerate(area_m2):
        if not area > 0:
            raise RequestInputError(f"feature {i}: the polygon has no area (all coordinates on one line or point)")
    if sum(area_m2) > limits.max_area_km2 * M2_PER_KM2:
        raise PayloadTooLargeError(
            f"body: the polygons cover {sum(area_m2) / M2_PER_KM2:.1f} km2 in all; at most {limits.max_area_km2:g}"
        )


def _area_in(geometries: list[shapely.Geometry], source_crs: str, target_crs: str) -> list[float]:
    """Areas (m2) of geometries given in ``source_crs``, measured in the projected ``target_crs``."""
    transformer = Transformer.from_crs(CRS.from_user_input(source_crs.strip("[]")), target_crs, always_xy=True)
    projected = shapely.transform(np.asarray(geometries, dtype=object), lambda xy: _project(transformer, xy))
    return [float(a) for a in shapely.area(projected)]


def _project(transformer: Transformer, xy: np.ndarray) -> np.ndarray:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    out = np.column_stack([x, y])
    return np.where(np.isfinite(out), out, 0.0)
