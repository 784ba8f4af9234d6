"""Where and when the sun is taken for the shade of a layer: the shade day and the region's centre.

Shared by ``heat-stress`` (13 moments in the afternoon) and ``cool-places``
(15:00). The sun is taken at the centre of the region boundary (or of the
region's bounds without one), so every window of a windowed build, and a
permit site inside the region, sees the same sun as the whole region.
"""

from __future__ import annotations

from datetime import date

from pyproj import Transformer

from geo.crs import WGS84
from geo.errors import ConfigError
from layers.base import Region


def shade_day(value: str, where: str) -> date:
    """The ``shade_date`` parameter as a date.

    Raises:
        ConfigError: naming ``where`` (``layers.<id>.shade_date``) when it is not ``YYYY-MM-DD``.
    """
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def region_centre_lat_lon(region: Region) -> tuple[float, float]:
    """Latitude and longitude (degrees, WGS84) of the centre of the region boundary's bounds."""
    minx, miny, maxx, maxy = region.boundary.bounds if region.boundary is not None else region.bounds
    lon, lat = Transformer.from_crs(region.crs, WGS84, always_xy=True).transform((minx + maxx) / 2, (miny + maxy) / 2)
    return float(lat), float(lon)
