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
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError
from pyproj.exceptions import ProjError
from shapely.geometry import shape

from geo.crs import WGS84, in_area_of_use, positions_lonlat
from services.errors import PayloadTooLargeError, RequestInputError
from services.limits import RequestLimits

#: Square metres per square kilometre.
M2_PER_KM2 = 1e6


@lru_cache(maxsize=64)
def request_crs(name: str, value: str) -> tuple[CRS, Transformer, Transformer]:
    """The CRS a request parameter names, and its transformers to and from WGS84 longitude/latitude.

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
    return crs, Transformer.from_crs(crs, WGS84, always_xy=True), Transformer.from_crs(WGS84, crs, always_xy=True)


def check_positions(xy: np.ndarray, crs_param: str | None, what: str) -> None:
    """Positions (n, 2) in ``crs_param`` (None: WGS84 longitude, latitude) are finite and inside its area of use.

    The area of use is ``geo.crs.area_of_use_box`` (widened as for source files), tested on
    the positions transformed to longitude/latitude (``geo.crs.positions_lonlat``).

    Raises:
        RequestInputError: naming the first position that fails and why.
    """
    finite = np.isfinite(xy).all(axis=1)
    if not finite.all():
        x, y = xy[~finite][0]
        raise RequestInputError(f"{what} ({x}, {y}): not a finite number")
    crs = WGS84 if crs_param is None else request_crs("coord_crs", crs_param)[0]
    name = "WGS84 longitude/latitude (-180..180, -90..90)" if crs_param is None else crs.to_string()
    try:
        lon, lat, inside = positions_lonlat(xy, crs)
    except ProjError:
        raise RequestInputError(f"coord_crs={crs_param!r}: cannot be transformed to longitude/latitude") from None
    if crs_param is not None:
        inside &= in_area_of_use(lon, lat, crs)
    if not inside.all():
        x, y = xy[~inside][0]
        raise RequestInputError(f"{what} ({x:g}, {y:g}): outside the area of use of {name}")


def check_position(x: float, y: float, crs_param: str | None, what: str) -> None:
    """One position: see :func:`check_positions`."""
    check_positions(np.array([[x, y]], dtype=float), crs_param, what)


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
        check_positions(np.asarray(positions, dtype=float), coord_crs, f"{what}, coordinate")
        try:
            geom = shape(geometry)
        except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
            raise RequestInputError(f"{what}: not a valid polygon ({exc})") from None
        if geom.is_empty:
            raise RequestInputError(f"{what}: the polygon is empty")
        geometries.append(geom)
    if not geometries:
        return
    source = request_crs("coord_crs", coord_crs)[0] if coord_crs else WGS84
    area_m2 = _area_in(geometries, source, raster_crs)
    for i, area in enumerate(area_m2):
        if not area > 0:
            raise RequestInputError(f"feature {i}: the polygon has no area (all coordinates on one line or point)")
    if sum(area_m2) > limits.max_area_km2 * M2_PER_KM2:
        raise PayloadTooLargeError(
            f"body: the polygons cover {sum(area_m2) / M2_PER_KM2:.1f} km2 in all; at most {limits.max_area_km2:g}"
        )


def _area_in(geometries: list[shapely.Geometry], source_crs: CRS, target_crs: str) -> list[float]:
    """Areas (m2) of geometries given in ``source_crs``, measured in the projected ``target_crs``."""
    transformer = Transformer.from_crs(source_crs, target_crs, always_xy=True)
    projected = shapely.transform(np.asarray(geometries, dtype=object), lambda xy: _project(transformer, xy))
    return [float(a) for a in shapely.area(projected)]


def _project(transformer: Transformer, xy: np.ndarray) -> np.ndarray:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    out = np.column_stack([x, y])
    return np.where(np.isfinite(out), out, 0.0)
