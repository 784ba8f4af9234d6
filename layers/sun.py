"""When and where the sun is taken for the shade layers: the reference day, the Kluck moment, the region's centre.

Shared by ``heat-stress`` (route shade at the moment, and the 12:00-18:00
afternoon mean as a second figure) and ``cool-places`` (shade at the
moment). Both layers declare the same :data:`SHADE_DATE` and
:data:`SHADE_HOUR` parameters, so one default holds for both: 15:00 Dutch
summer time (CEST, UTC+2) on 1 July. Where the moment comes from and where it
departs from the guideline is in docs/method-heat-stress.md ("The moment").

The sun is taken at the centre of the region boundary (or of the region's
bounds without one), so every window of a windowed build, and a permit site
inside the region, sees the same sun as the whole region.
"""

from __future__ import annotations

import functools
from datetime import date

from pyproj import CRS, Transformer

from geo.crs import WGS84
from geo.errors import ConfigError
from geo.solar import DUTCH_TIME_ZONE, SunPosition, local_times, sun_position
from layers.base import Param, RegionContext

#: The shade guideline the moment serves: 40 % shade on main walking and cycling routes and 30 % on the
#: walking areas of neighbourhoods "op het heetst van de dag" (at the hottest part of the day).
KLUCK_SHADE_GUIDELINE = (
    "Kluck, J., Klok, L., Solcerova, A., Kleerekoper, L., Wilschut, L., Jacobs, C., Loeve, R. (2020): De "
    "hittebestendige stad. Een koele kijk op de inrichting van de buitenruimte. Hogeschool van Amsterdam, "
    "Urban Technology; design guideline 'percentage schaduw op belangrijke loop- en fietsroutes en in buurten'"
)
#: Hour (Dutch civil time; CEST, UTC+2, on the reference day) at which route shade and cool places are measured.
#: Kluck et al. (2020) name "the hottest part of the day", not a clock time; 15:00 is this project's reading of it.
SHADE_MOMENT_HOUR = 15.0
#: The reference day of the shade (a clear midsummer day; the year moves the sun by less than 0.1 degree).
SHADE_REFERENCE_DAY = "2025-07-01"

SHADE_DATE = Param(
    "shade_date", SHADE_REFERENCE_DAY, "", "reference day of the shade (YYYY-MM-DD)",
    "a clear midsummer day, as the Klimaateffectatlas heat maps use a hot summer day; the year hardly "
    "matters (sun within 0.1 degree)",
)
SHADE_HOUR = Param(
    "shade_hour", SHADE_MOMENT_HOUR, "h",
    "moment of the shade on the reference day, Dutch civil time (summer time: CEST = UTC+2)",
    KLUCK_SHADE_GUIDELINE + ": shade 'at the hottest part of the day', read here as 15:00 CEST: mid-afternoon, "
    "near the daily maximum of the air temperature, with the sun still high (docs/method-heat-stress.md)",
    minimum=0.0, maximum=24.0,
)

#: Step passed to ``local_times`` for a single moment: with equal start and end it does not matter.
_ONE_MOMENT_STEP_MIN = 60.0


def config_date(value: str, where: str) -> date:
    """A date parameter (``shade_date``, ``weather_date``, a KNMI station-day's date) as a date.

    Raises:
        ConfigError: naming ``where`` (``layers.<id>.<parameter>``) when it is not ``YYYY-MM-DD``.
    """
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def region_centre_lat_lon(context: RegionContext) -> tuple[float, float]:
    """Latitude and longitude (degrees, WGS84) of the region's sun reference (the centre of its boundary's bounds)."""
    x, y = context.sun_reference
    lon, lat = _to_lonlat(context.crs.to_wkt()).transform(x, y)
    return float(lat), float(lon)


@functools.lru_cache(maxsize=8)
def _to_lonlat(crs_wkt: str) -> Transformer:
    """The transformer of a CRS to WGS84 lon/lat (made once: creating one costs tens of milliseconds)."""
    return Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)


def sun_at_moment(context: RegionContext, day: date, hour: float) -> tuple[SunPosition, float, float]:
    """The sun at ``hour`` (Dutch civil time) on ``day`` over the centre of the region (``geo.solar``, NOAA).

    Args:
        context: the region (its sun reference places the sun, the same for every extent of it).
        day: the reference day (``config_date`` of ``shade_date``).
        hour: hours after local midnight, Dutch civil time (15.0 is 15:00 CEST in summer).

    Returns:
        The apparent sun position (with its timezone-aware moment), and the latitude and longitude
        (degrees, WGS84) it was computed for.
    """
    lat, lon = region_centre_lat_lon(context)
    (moment,) = local_times(day, hour, hour, _ONE_MOMENT_STEP_MIN, DUTCH_TIME_ZONE)
    return sun_position(moment, lat, lon), lat, lon
