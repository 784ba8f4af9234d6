"""Coordinate reference systems: the region CRS and checked reprojection."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from pyproj import CRS
from pyproj.exceptions import CRSError as _ProjCRSError

from geo.errors import ConfigError, CRSError

#: The Dutch national grid (Amersfoort / RD New), the CRS of every Dutch key register.
RD_NEW = CRS.from_epsg(28992)
#: Longitude/latitude used for catalog bounds and web clients.
WGS84 = CRS.from_epsg(4326)


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
    them is wrong and guessing would silently misplace every feature.

    Raises:
        CRSError: naming the file when the CRS is missing or contradictory.
    """
    file_crs = frame.crs
    if file_crs is None:
        if declared_crs is None:
            raise CRSError(
                path,
                'the file has no CRS; add `crs:` (for example "EPSG:28992") to this source in the config',
            )
        frame = frame.set_crs(declared_crs)
    elif declared_crs is not None and not CRS(file_crs).equals(declared_crs, ignore_axis_order=True):
        raise CRSError(
            path,
            f"the config says crs {declared_crs.to_string()} but the file says {CRS(file_crs).to_string()}",
        )
    if not CRS(frame.crs).equals(region_crs, ignore_axis_order=True):
        frame = frame.to_crs(region_crs)
    return frame
