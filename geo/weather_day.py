"""The hourly weather of a reference day, the forcing of ``pet`` (SOLWEIG Tmrt and PET).

A :class:`ReferenceDay` is the hours of one day, each with air temperature,
relative humidity, 10 m wind speed and global radiation, and the source they
come from. It comes either from the layer's parameter set
(:data:`REFERENCE_DAY`, the default) or from a KNMI station-day of hourly data
(``geo.knmi_hourly``; Hupsel, station 283, is the Achterhoek's station).

Times are the instants the values hold for, in Dutch civil time (CEST on a summer
day). KNMI hourly values (``HH`` = the hour ending at HH UT) are taken at the
middle of their hour.

Default day (:data:`REFERENCE_DAY`): the standard PET heat map
(Koopmans et al. 2020; Klimaateffectatlas) takes 1 July 2015, the 1-in-1000
heat day of April-September 2004-2018, at De Bilt, where KNMI measured a maximum
of 33.1 degC. The hourly values below are this project's clear-sky rendering of
such a day, **not** the KNMI record: air temperature rising from 19 degC at 07:00
to 33 degC at 16:00 CEST, relative humidity falling from 70 % to 32 %, a light
wind of 2.5 m/s at 10 m, and the global radiation of a clear sky at 52 degN on
1 July (about 860 W/m2 at solar noon). Give the KNMI hourly file of the real day
(``sources.knmi_hourly`` with ``layers.pet.weather: {station: 260, date: 2015-07-01}``)
to reproduce the national map's forcing exactly; docs/method-pet.md says so.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geo.errors import ConfigError
from geo.solar import DUTCH_TIME_ZONE

#: Source line of the default reference day.
REFERENCE_DAY_SOURCE = (
    "kaartlaag reference hot day: a clear-sky rendering of 1 July 2015 (the 1-in-1000 heat day of the standard "
    "PET map, Koopmans et al. 2020; KNMI De Bilt maximum 33.1 degC); hourly values are not the KNMI record"
)
#: Reference of the standard PET heat map the day serves.
KOOPMANS_2020 = (
    "Koopmans, S., Heusinkveld, B.G., Steeneveld, G.J. (2020): A standardized Physical Equivalent Temperature "
    "urban heat map at 1-m spatial resolution to facilitate climate stress tests in the Netherlands. Building "
    "and Environment 181:106984, doi:10.1016/j.buildenv.2020.106984"
)

#: Lowest and highest plausible values per field, for clear errors on bad input.
_LIMITS: dict[str, tuple[float, float]] = {
    "ta_c": (-40.0, 50.0), "rh_pct": (0.0, 100.0), "wind_m_s": (0.0, 40.0), "global_w_m2": (0.0, 1400.0),
}


@dataclass(frozen=True)
class WeatherHour:
    """The weather at one instant.

    Attributes:
        when: the instant (timezone-aware).
        ta_c: air temperature at 1.5 m (degC).
        rh_pct: relative humidity (%).
        wind_m_s: wind speed at 10 m (m/s).
        global_w_m2: global radiation on a horizontal surface (W/m2).
    """

    when: datetime
    ta_c: float
    rh_pct: float
    wind_m_s: float
    global_w_m2: float

    def check(self, where: str) -> None:
        """Raise ConfigError naming ``where`` and the field when a value is out of its plausible range."""
        for name, (low, high) in _LIMITS.items():
            value = float(getattr(self, name))
            if not low <= value <= high:
                raise ConfigError(f"{where} {self.when.isoformat()}: {name} = {value:g} is outside [{low:g}, "
                                  f"{high:g}]")


@dataclass(frozen=True)
class ReferenceDay:
    """The hours of one reference day and where they come from.

    Attributes:
        day: the date.
        hours: the hours in time order.
        source: where the values come from (for the metadata).
        station: the KNMI station number, or None for the parameter set.
    """

    day: date
    hours: tuple[WeatherHour, ...]
    source: str
    station: int | None = None

    def at(self, when: datetime) -> WeatherHour:
        """The weather at ``when``: linear between the two nearest hours.

        Raises:
            ConfigError: ``when`` is outside the day's hours.
        """
        hours = self.hours
        if not hours or when < hours[0].when or when > hours[-1].when:
            span = f"{hours[0].when.isoformat()} to {hours[-1].when.isoformat()}" if hours else "no hours"
            raise ConfigError(f"weather of {self.day.isoformat()}: no value at {when.isoformat()} (it holds {span})")
        for before, after in itertools.pairwise(hours):
            if before.when <= when <= after.when:
                span_s = (after.when - before.when).total_seconds()
                w = 0.0 if span_s == 0 else (when - before.when).total_seconds() / span_s
                return WeatherHour(
                    when=when,
                    **{name: (1 - w) * getattr(before, name) + w * getattr(after, name) for name in _LIMITS},
                )
        return hours[-1]

    def describe(self) -> dict[str, Any]:
        """For the layer metadata: the source and every hour's values."""
        return {
            "source": self.source,
            "date": self.day.isoformat(),
            "station": self.station,
            "hours": [{"time": h.when.isoformat(), "ta_c": round(h.ta_c, 2), "rh_pct": round(h.rh_pct, 1),
                       "wind_10m_m_s": round(h.wind_m_s, 2), "global_w_m2": round(h.global_w_m2, 1)}
                      for h in self.hours],
        }


#: The default day, hour (CEST) -> (air temperature degC, relative humidity %, 10 m wind m/s, global W/m2).
#: See the module docstring for what it is and is not.
REFERENCE_HOURS: dict[int, tuple[float, float, float, float]] = {
    7: (19.0, 70.0, 2.5, 225.0),
    8: (21.0, 63.0, 2.5, 385.0),
    9: (23.5, 56.0, 2.5, 535.0),
    10: (25.5, 50.0, 2.5, 665.0),
    11: (27.5, 45.0, 2.5, 765.0),
    12: (29.0, 41.0, 2.5, 830.0),
    13: (30.5, 38.0, 2.5, 860.0),
    14: (31.7, 35.0, 2.5, 850.0),
    15: (32.5, 33.0, 2.5, 800.0),
    16: (33.0, 32.0, 2.5, 715.0),
    17: (32.6, 33.0, 2.5, 600.0),
    18: (31.6, 35.0, 2.5, 460.0),
    19: (30.0, 39.0, 2.5, 310.0),
}
#: Date of the default day.
REFERENCE_DATE = date(2015, 7, 1)


def reference_day(
    day: date = REFERENCE_DATE, hours: dict[int, tuple[float, float, float, float]] | None = None,
    source: str = REFERENCE_DAY_SOURCE,
    where: str = "weather_hours",
) -> ReferenceDay:
    """A reference day from a table of hours (CEST) -> (ta degC, rh %, wind m/s at 10 m, global W/m2).

    Args:
        day: the date the hours are on.
        hours: the table; :data:`REFERENCE_HOURS` by default.
        source: where the values come from.
        where: the parameter the table was given as, for messages (``layers.pet.weather_hours``).

    Raises:
        ConfigError: an hour outside 0-23 or a value out of its plausible range, naming the hour and field.
    """
    table = REFERENCE_HOURS if hours is None else hours
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(DUTCH_TIME_ZONE))
    out = []
    for hour in sorted(table, key=int):
        if not 0 <= int(hour) <= 23:
            raise ConfigError(f"{where}: hour {hour} is outside 0-23")
        ta, rh, wind, glob = (float(v) for v in table[hour])
        item = WeatherHour(start + timedelta(hours=int(hour)), ta, rh, wind, glob)
        item.check(where)
        out.append(item)
    return ReferenceDay(day=day, hours=tuple(out), source=source)
