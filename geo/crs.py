"""Coordinate reference systems: the region CRS and checked reprojection."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _ProjCRSError
from pyproj.exceptions import ProjError

from geo.errors import ConfigError, CRSError

#: The Dutch national grid (Amersfoort / RD New), the CRS of every Dutch key register.
RD_NEW = CRS.from_epsg(28992)
#: Longitude/latitude used for catalog bounds and web clients.
WGS84 = CRS.from_epsg(4326)
#: Degrees an area of use is widened by on each side before data counts as outside it.
#: Areas of use are coarse boxes around a territory, and synthetic or test data sits near
#: the RD origin (0, 0), about 2.8 degrees south of RD's box. A CRS mix-up lands much
#: further off: RD metres read as degrees are thousands of degrees out of range, RD metres
#: read as Web Mercator or UTM land near the equator (over 45 degrees south of the Netherlands).
AREA_OF_USE_MARGIN_DEG = 5.0
#: Points sampled along each edge when transforming data bounds to longitude/latitude.
_DENSIFY_POINTS = 21
#: Longitude and latitude limits (degrees) of valid geographic coordinates.
_LON_LIMIT_DEG = 180.0
_LAT_LIMIT_DEG = 90.0
#: Tolerances of a position's round trip through longitude/latitude (relative; absolute in CRS units).
ROUND_TRIP_RTOL = 1e-6
ROUND_TRIP_ATOL = 1e-3


def parse_crs(value: object, what: str = "crs") -> CRS:
    """Parse a user-given CRS (``"EPSG:28992"``, WKT, PROJ string) or raise ``ConfigError``."""
    try:
        return CRS.from_user_input(value)
    except (_ProjCRSError, TypeError, ValueError) as exc:
        raise ConfigError(f"{what}: not a valid CRS: {value!r} ({exc})") from None


def to_region_crs(
    frame: gpd.GeoDataFrame,
    region_crs: CRS,
    path: str | Path,
    declared_crs: CRS | None = None,
) -> gpd.GeoDataFrame:
    """Bring a frame read from ``path`` into the region CRS.

    A file with its own CRS is reprojected when it differs; a file without one
    is accepted only when the config declares its CRS (``declared_crs``).
    A declared CRS that contradicts the file's own is an error, since one of
    them is wrong and guessing would silently misplace every feature. So is a
    declared CRS that puts the features outside its area of use or the region
    CRS's (:func:`check_area_of_use`).

    Raises:
        CRSError: naming the file when the CRS is missing, contradictory or
            puts the data outside an area of use.
    """
    file_crs = frame.crs
    if file_crs is None:
        if declared_crs is None:
            raise CRSError(
                path,
                'the file has no CRS; add `crs:` (for example "EPSG:28992") to this source in the config',
            )
        check_area_of_use(frame.total_bounds, declared_crs, path, region_crs=region_crs)
        frame = frame.set_crs(declared_crs)
    elif declared_crs is not None and not CRS(file_crs).equals(declared_crs, ignore_axis_order=True):
        raise CRSError(
            path,
            f"the config says crs {declared_crs.to_string()} but the file says {CRS(file_crs).to_string()}",
        )
    if not CRS(frame.crs).equals(region_crs, ignore_axis_order=True):
        frame = frame.to_crs(region_crs)
    return frame


def _fmt(values: Sequence[float], digits: int = 1) -> str:
    """Bounds as plain numbers: ``(84808.3, 447412.8, 85072.3, 447641.3)``."""
    return "(" + ", ".join(f"{float(v):.{digits}f}" for v in values) + ")"


def _area_label(crs: CRS) -> str:
    area = crs.area_of_use
    if area is None:
        return "no area of use declared"
    name = area.name.split(" - ")[0].rstrip(".")
    return f"{name}, lon/lat {_fmt(area.bounds, 2)}"


def _valid_lonlat(lonlat: Sequence[float]) -> bool:
    west, south, east, north = lonlat
    finite = all(math.isfinite(v) for v in lonlat)
    lon_ok = -_LON_LIMIT_DEG <= west <= _LON_LIMIT_DEG and -_LON_LIMIT_DEG <= east <= _LON_LIMIT_DEG
    return finite and lon_ok and -_LAT_LIMIT_DEG <= south <= north <= _LAT_LIMIT_DEG


def area_of_use_box(crs: CRS) -> tuple[float, float, float, float] | None:
    """The area of use of ``crs`` (lon/lat degrees, west, south, east, north) widened by
    :data:`AREA_OF_USE_MARGIN_DEG`; None when the CRS declares none. An area crossing the
    antimeridian spans all longitudes."""
    area = crs.area_of_use
    if area is None:
        return None
    west, south, east, north = area.bounds
    m = AREA_OF_USE_MARGIN_DEG
    if east < west:  # crosses the antimeridian: latitude only
        west, east = -_LON_LIMIT_DEG - m, _LON_LIMIT_DEG + m
    return west - m, south - m, east + m, north + m


def _within(lonlat: Sequence[float], crs: CRS) -> bool:
    box = area_of_use_box(crs)
    if box is None:  # nothing declared: nothing to check against
        return True
    west, south, east, north = box
    return west <= lonlat[0] and south <= lonlat[1] and lonlat[2] <= east and lonlat[3] <= north


def check_area_of_use(
    bounds: Sequence[float],
    crs: CRS,
    path: str | Path,
    *,
    region_crs: CRS | None = None,
    what: str = "the declared crs",
) -> tuple[float, float, float, float] | None:
    """Refuse a CRS that puts data outside its own area of use or the region CRS's.

    Call it where a CRS from the config is applied to coordinates of a file
    that carries none: a wrong ``crs:`` (EPSG:4326 or EPSG:3857 declared on RD
    metres) otherwise passes silently and misplaces every feature. Areas of
    use (``pyproj.CRS.area_of_use``, longitude/latitude in degrees) are
    widened by :data:`AREA_OF_USE_MARGIN_DEG` on each side.

    Args:
        bounds: data extent (minx, miny, maxx, maxy) in ``crs`` units.
        crs: the CRS the coordinates are said to be in.
        path: the file, named in the error.
        region_crs: the region CRS; the data must lie in its area of use too.
        what: how the CRS is named in the error.

    Returns:
        The data extent in longitude/latitude (degrees, WGS 84), or None when
        ``bounds`` is empty (NaN, no features) and nothing was checked.

    Raises:
        CRSError: naming the file, the CRS, the data bounds and the area of use.
    """
    values = [float(v) for v in bounds]
    if not all(math.isfinite(v) for v in values):
        return None
    west, south, east, north = values
    name = crs.to_string()
    try:
        to_lonlat = Transformer.from_crs(crs, WGS84, always_xy=True)
        lonlat = tuple(to_lonlat.transform_bounds(west, south, east, north, densify_pts=_DENSIFY_POINTS))
    except ProjError:
        lonlat = (math.inf,) * 4
    if not _valid_lonlat(lonlat):
        raise CRSError(
            path,
            f"{what} {name} puts the data (bounds {_fmt(values)}) outside its area of use "
            f"({_area_label(crs)}): they are not valid coordinates in it; check `crs:` in the config",
        )
    if not _within(lonlat, crs):
        raise CRSError(
            path,
            f"{what} {name} puts the data (bounds {_fmt(values)}, lon/lat {_fmt(lonlat, 2)}) outside its "
            f"area of use ({_area_label(crs)}); check `crs:` in the config",
        )
    if region_crs is not None and not _within(lonlat, region_crs):
        raise CRSError(
            path,
            f"{what} {name} puts the data (bounds {_fmt(values)}, lon/lat {_fmt(lonlat, 2)}) outside the "
            f"area of use of the region crs {region_crs.to_string()} ({_area_label(region_crs)}); "
            "check `crs:` in the config",
        )
    return lonlat  # type: ignore[return-value]


@lru_cache(maxsize=32)
def lonlat_transformers(crs: CRS) -> tuple[Transformer, Transformer]:
    """Transformers from ``crs`` to WGS84 longitude/latitude and back (x, y order; longitude first).

    Raises:
        pyproj.exceptions.ProjError: PROJ cannot transform between them.
    """
    return Transformer.from_crs(crs, WGS84, always_xy=True), Transformer.from_crs(WGS84, crs, always_xy=True)


def positions_lonlat(xy: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitude, latitude (degrees) of positions ``xy`` (n, 2) in ``crs``, and whether each is a position at all.

    A position is one when it is finite, its longitude/latitude is valid, and it comes back where it was
    from longitude/latitude (PROJ clamps or wraps positions beyond a projection's domain: Web Mercator at
    -1e9 m gives latitude -90).

    Raises:
        pyproj.exceptions.ProjError: PROJ cannot transform ``crs`` to longitude/latitude.
    """
    to_lonlat, from_lonlat = lonlat_transformers(crs)
    with np.errstate(all="ignore"):
        lon, lat = (np.asarray(v, dtype=float) for v in to_lonlat.transform(xy[:, 0], xy[:, 1], errcheck=False))
        back = np.column_stack(from_lonlat.transform(lon, lat, errcheck=False))
    valid = np.isfinite(xy).all(axis=1) & np.isfinite(lon) & np.isfinite(lat)
    valid &= (np.abs(lon) <= _LON_LIMIT_DEG) & (np.abs(lat) <= _LAT_LIMIT_DEG)
    valid &= np.isclose(back, xy, rtol=ROUND_TRIP_RTOL, atol=ROUND_TRIP_ATOL).all(axis=1)
    return lon, lat, valid


def in_area_of_use(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    """Whether each longitude/latitude lies in the (widened) area of use of ``crs`` (all, when none is declared)."""
    box = area_of_use_box(crs)
    if box is None:
        return np.ones(np.shape(lon), dtype=bool)
    west, south, east, north = box
    return np.asarray((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
